//! Every Get reply shape the firewall is known or reported to send, and
//! replies that cannot be read, each refused with the element path.

use super::*;

const OK: &str = "<Login><status>Authentication Successful</status></Login>";

fn reply(inner: &str) -> String {
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response APIVersion=\"1905.1\">{inner}</Response>")
}

const G19: &str = "<GroupDetail><Name>HQ</Name><MemberConnections><Connection>A</Connection><Connection>B</Connection></MemberConnections><MailNotification>Enable</MailNotification><AutomaticFailback>Disable</AutomaticFailback><FailoverCondition><FailoverIF><Protocol>PING</Protocol><Port></Port></FailoverIF><FailoverIF><Protocol>TCP</Protocol><Port>443</Port></FailoverIF></FailoverCondition></GroupDetail>";
const G17: &str = "<GroupDetail><Name>Branch</Name><MemberConnections><Connection>C</Connection></MemberConnections><MailNotification>y</MailNotification><FailoverCondition><FailoverIF><Protocol>ping</Protocol></FailoverIF></FailoverCondition></GroupDetail>";

fn names(body: &str) -> Vec<String> {
    groups(body).unwrap().into_iter().map(|g| g.name).collect()
}

#[test]
fn every_group_shape() {
    let per_record = reply(&format!(
        "{OK}<VPNFailoverGroup transactionid=\"\">{G19}</VPNFailoverGroup><VPNFailoverGroup>{G17}</VPNFailoverGroup>"
    ));
    let one_entity = reply(&format!("{OK}<VPNFailoverGroup>{G19}{G17}</VPNFailoverGroup>"));
    let bare = reply(&format!("{OK}{G19}{G17}"));
    let flat = reply(&format!(
        "{OK}<VPNFailoverGroup>{}</VPNFailoverGroup>",
        G17.replace("GroupDetail>", "X>").replace("<X>", "").replace("</X>", "")
    ));
    for body in [&per_record, &one_entity, &bare] {
        assert_eq!(names(body), ["HQ", "Branch"], "{body}");
    }
    assert_eq!(names(&flat), ["Branch"]);
    let all = groups(&per_record).unwrap();
    assert_eq!(all[0].members, ["A", "B"]);
    assert_eq!(all[0].failback.as_deref(), Some("Disable"));
    assert_eq!(all[0].written(), Some(Written::Sfos19));
    assert_eq!(all[1].failback, None);
    assert_eq!(all[1].written(), Some(Written::Sfos17));
    assert_eq!(
        all[1].conditions,
        Some(vec![FwCondition {
            protocol: Some("ping".into()),
            port: None
        }])
    );
}

#[test]
fn empty_at_either_depth() {
    let cases = [
        format!("{OK}<VPNFailoverGroup transactionid=\"\"><Status>No. of records Zero.</Status></VPNFailoverGroup>"),
        format!(
            "{OK}<VPNFailoverGroup><GroupDetail><Status>No. of records Zero.</Status></GroupDetail></VPNFailoverGroup>"
        ),
        format!("{OK}<GroupDetail><Status>no. of  records zero</Status></GroupDetail>"),
        format!("{OK}<Status>No. of records Zero.</Status>"),
    ];
    for inner in cases {
        assert_eq!(groups(&reply(&inner)), Ok(vec![]), "{inner}");
    }
    let deep = reply(&format!(
        "{OK}<VPNIPSecConnection><Configuration><Status>No. of records Zero.</Status></Configuration></VPNIPSecConnection>"
    ));
    assert_eq!(connections(&deep), Ok(vec![]));
}

#[test]
fn refusals_and_unreadable_replies_say_where() {
    let refused = [
        reply("<Login><status>Authentication Failure</status></Login>"),
        reply("<Status code=\"534\">API operations are not allowed from the requester IP address</Status>"),
        reply(&format!(
            "{OK}<VPNFailoverGroup><Status code=\"599\">no privilege</Status></VPNFailoverGroup>"
        )),
    ];
    for body in refused {
        assert!(matches!(groups(&body), Err(ReadError::Refused(_))), "{body}");
    }
    let cases = [
        (reply(OK), "Response: expected <VPNFailoverGroup> records"),
        (
            reply(&format!(
                "{OK}<VPNFailoverGroup><Status>Transaction fail</Status></VPNFailoverGroup>"
            )),
            "Response/VPNFailoverGroup[1]: expected a record",
        ),
        (
            reply(&format!(
                "{OK}<VPNFailoverGroup>{G17}{}</VPNFailoverGroup>",
                G19.replace("Enable", "Yes")
            )),
            "Response/VPNFailoverGroup[1]/GroupDetail[2][HQ]/MailNotification: \"Yes\": expected one of y, n, Enable, Disable",
        ),
        (
            reply(&format!("{OK}{}", G19.replace("443", "0"))),
            "Response/GroupDetail[1][HQ]/FailoverCondition/FailoverIF[2]/Port: \"0\"",
        ),
        (
            reply(&format!("{OK}{}", G19.replace(">HQ<", ">../etc<"))),
            "Response/GroupDetail[1]/Name: \"../etc\" is not a group name",
        ),
        (
            reply(&format!("{OK}{}", G17.replace("<Connection>C</Connection>", ""))),
            "MemberConnections: expected one or more",
        ),
        ("<Response><Login>".to_string(), "ends early"),
    ];
    for (body, want) in cases {
        match groups(&body) {
            Err(ReadError::Unreadable(t)) => assert!(t.contains(want), "{t}\nwanted {want}"),
            other => panic!("{body}: {other:?}"),
        }
    }
}

#[test]
fn connections_without_their_secrets() {
    let c = "<Configuration><Name>A &amp; B</Name><ConnectionType>SiteToSite</ConnectionType><PresharedKey>HASHED-KEY</PresharedKey>\
             <AliasLocalWANPort>PortB</AliasLocalWANPort><RemoteHost>203.0.113.10</RemoteHost><LocalSubnet>10.0.0.0/24</LocalSubnet>\
             <LocalSubnet>10.0.1.0/24</LocalSubnet><RemoteNetwork><Network>10.1.0.0/24</Network><Network>10.2.0.0/24</Network></RemoteNetwork>\
             <Status>Active</Status></Configuration>";
    let got = connections(&reply(&format!("{OK}<VPNIPSecConnection>{c}</VPNIPSecConnection>"))).unwrap();
    assert_eq!(
        got,
        vec![FwConnection {
            name: "A & B".into(),
            connection_type: "SiteToSite".into(),
            remote_host: "203.0.113.10".into(),
            local_wan_port: "PortB".into(),
            local_subnets: vec!["10.0.0.0/24".into(), "10.0.1.0/24".into()],
            remote_networks: vec!["10.1.0.0/24".into(), "10.2.0.0/24".into()],
        }]
    );
    assert!(!format!("{got:?}").contains("HASHED-KEY"));
    let bare = connections(&reply(&format!("{OK}{c}{c}"))).unwrap();
    assert_eq!(bare.len(), 2);
}
