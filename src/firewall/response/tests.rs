//! Table tests for reply parsing and classification: every reply shape in
//! docs/firewall-api.md, and hostile or broken bodies refused without panic.

use super::*;

const HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
const OK_LOGIN: &str = "<Login><status>Authentication Successful</status></Login>";

fn reply(inner: &str) -> String {
    format!("{HEAD}<Response APIVersion=\"1905.1\" IPS_CAT_VER=\"1\">\n  {inner}\n</Response>\n")
}

fn status(code: Option<u32>, text: &str) -> Status {
    Status {
        code,
        text: text.to_string(),
    }
}

fn entity(element: &str, code: Option<u32>, text: &str) -> EntityStatus {
    EntityStatus {
        element: element.to_string(),
        status: status(code, text),
    }
}

#[test]
fn parses_every_documented_shape() {
    let cases: Vec<(String, Reply)> = vec![
        (
            reply(&format!(
                "{OK_LOGIN}<VPNFailoverGroup transactionid=\"\"><Status code=\"200\">Configuration applied successfully.</Status></VPNFailoverGroup>"
            )),
            Reply {
                login: Some(LoginStatus::Ok),
                entities: vec![entity(
                    "VPNFailoverGroup",
                    Some(200),
                    "Configuration applied successfully.",
                )],
                ..Reply::default()
            },
        ),
        (
            reply("<Login><status>Authentication Failure</status></Login>"),
            Reply {
                login: Some(LoginStatus::Failed("Authentication Failure".into())),
                ..Reply::default()
            },
        ),
        (
            reply("<Status code=\"529\">Input request file is Invalid</Status>"),
            Reply {
                request_status: Some(status(Some(529), "Input request file is Invalid")),
                ..Reply::default()
            },
        ),
        (
            reply("<Status code=\"532\">API access is not enabled</Status>"),
            Reply {
                request_status: Some(status(Some(532), "API access is not enabled")),
                ..Reply::default()
            },
        ),
        (
            reply("<Status code=\"534\">API operations are not allowed from the requester IP address</Status>"),
            Reply {
                request_status: Some(status(
                    Some(534),
                    "API operations are not allowed from the requester IP address",
                )),
                ..Reply::default()
            },
        ),
        (
            reply(&format!(
                "{OK_LOGIN}<GroupDetail transactionid=\"\"><Status code=\"200\">Failover group \"HQ\" has been updated successfully</Status></GroupDetail>"
            )),
            Reply {
                login: Some(LoginStatus::Ok),
                entities: vec![entity(
                    "GroupDetail",
                    Some(200),
                    "Failover group \"HQ\" has been updated successfully",
                )],
                ..Reply::default()
            },
        ),
        (
            reply(&format!(
                "{OK_LOGIN}<VPNFailoverGroup><Status>Transaction fail</Status></VPNFailoverGroup>"
            )),
            Reply {
                login: Some(LoginStatus::Ok),
                entities: vec![entity("VPNFailoverGroup", None, "Transaction fail")],
                ..Reply::default()
            },
        ),
        (
            reply(&format!(
                "{OK_LOGIN}<VPNFailoverGroup transactionid=\"\"><Status>No. of records Zero.</Status></VPNFailoverGroup>"
            )),
            Reply {
                login: Some(LoginStatus::Ok),
                entities: vec![entity("VPNFailoverGroup", None, "No. of records Zero.")],
                ..Reply::default()
            },
        ),
        (
            reply(&format!(
                "{OK_LOGIN}<VPNFailoverGroup transactionid=\"\"><GroupDetail><Name>HQ_VPN</Name><MemberConnections><Connection>A</Connection></MemberConnections></GroupDetail></VPNFailoverGroup><VPNFailoverGroup transactionid=\"\"><Name>Branch_2</Name></VPNFailoverGroup>"
            )),
            Reply {
                login: Some(LoginStatus::Ok),
                records: vec!["HQ_VPN".into(), "Branch_2".into()],
                ..Reply::default()
            },
        ),
        (
            reply(&format!(
                "{OK_LOGIN}<VPNFailoverGroup><Status code=\" 502 \">Connection group with the same name as &quot;X&quot; already exists &#38; more</Status></VPNFailoverGroup>"
            )),
            Reply {
                login: Some(LoginStatus::Ok),
                entities: vec![entity(
                    "VPNFailoverGroup",
                    Some(502),
                    "Connection group with the same name as \"X\" already exists & more",
                )],
                ..Reply::default()
            },
        ),
        (
            reply(&format!(
                "{OK_LOGIN}<VPNFailoverGroup><Status code=\"2OO\"><![CDATA[odd <code>]]></Status></VPNFailoverGroup>"
            )),
            Reply {
                login: Some(LoginStatus::Ok),
                entities: vec![entity("VPNFailoverGroup", None, "odd <code>")],
                ..Reply::default()
            },
        ),
        (
            reply("<Login/>"),
            Reply {
                login: Some(LoginStatus::Failed("no login status".into())),
                ..Reply::default()
            },
        ),
        ("<Response/>".to_string(), Reply::default()),
    ];
    for (body, want) in cases {
        assert_eq!(parse(&body).as_ref(), Ok(&want), "{body}");
    }
}

#[test]
fn classifies_by_code() {
    let accepted = |code: u32, text: &str| Verdict::Accepted {
        code,
        text: text.into(),
    };
    let refused = |code: Option<u32>, text: &str| Verdict::Refused {
        code,
        text: text.into(),
    };
    let cases: Vec<(String, Verdict)> = vec![
        (
            reply(&format!(
                "{OK_LOGIN}<VPNFailoverGroup><Status code=\"200\">Configuration applied successfully.</Status></VPNFailoverGroup>"
            )),
            accepted(200, "Configuration applied successfully."),
        ),
        (
            reply(&format!(
                "{OK_LOGIN}<GroupDetail><Status code=\"202\">whatever text</Status></GroupDetail>"
            )),
            accepted(202, "whatever text"),
        ),
        (
            reply(&format!(
                "{OK_LOGIN}<VPNFailoverGroup><Status code=\"500\">Failover group \"X\" has been updated successfully</Status></VPNFailoverGroup>"
            )),
            refused(Some(500), "Failover group \"X\" has been updated successfully"),
        ),
        (
            reply(&format!(
                "{OK_LOGIN}<VPNFailoverGroup><Status code=\"502\">exists</Status></VPNFailoverGroup>"
            )),
            refused(Some(502), "exists"),
        ),
        (
            reply(&format!(
                "{OK_LOGIN}<VPNFailoverGroup><Status code=\"300\">x</Status></VPNFailoverGroup>"
            )),
            refused(Some(300), "x"),
        ),
        (
            reply(&format!(
                "{OK_LOGIN}<VPNFailoverGroup><Status>Configuration applied successfully.</Status></VPNFailoverGroup>"
            )),
            refused(None, "Configuration applied successfully."),
        ),
        (
            reply(&format!(
                "{OK_LOGIN}<VPNFailoverGroup><Status code=\"200\">a</Status></VPNFailoverGroup><VPNFailoverGroup><Status code=\"510\">b</Status></VPNFailoverGroup>"
            )),
            refused(Some(510), "b"),
        ),
        (
            reply(&format!("{OK_LOGIN}<Status code=\"500\">request-level</Status>")),
            refused(Some(500), "request-level"),
        ),
    ];
    for (body, want) in cases {
        assert_eq!(judge(&body), want, "{body}");
    }
}

#[test]
fn configuration_answers_name_the_fix() {
    let cases = [
        (
            reply("<Login><status>Authentication Failure</status></Login>"),
            "check [firewall] username and the password",
        ),
        (
            reply("<Status code=\"529\">Input request file is Invalid</Status>"),
            "529: the request was not understood",
        ),
        (
            reply("<Status code=\"529\">Input request module is Invalid</Status>"),
            "529: the request was not understood",
        ),
        (
            reply("<Status code=\"532\">x</Status>"),
            "API access is not enabled (532",
        ),
        (
            reply("<Status code=\"534\">x</Status>"),
            "add it to the API's allowed addresses",
        ),
        (
            reply(&format!(
                "{OK_LOGIN}<VPNFailoverGroup><Status code=\"599\">x</Status></VPNFailoverGroup>"
            )),
            "write access to VPN",
        ),
        (reply("<Status code=\"599\">x</Status>"), "599: missing privilege"),
    ];
    for (body, want) in cases {
        match judge(&body) {
            Verdict::Configuration { fix } => assert!(fix.contains(want), "{fix}"),
            other => panic!("{body}: {other:?}"),
        }
    }
}

#[test]
fn a_successful_login_without_any_status_is_refused() {
    match judge(&reply(OK_LOGIN)) {
        Verdict::Refused { code: None, text } => assert!(text.contains("unexpected reply shape")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn get_acceptance() {
    let cases = [
        (
            reply(&format!(
                "{OK_LOGIN}<VPNFailoverGroup transactionid=\"\"><Status>No. of records Zero.</Status></VPNFailoverGroup>"
            )),
            true,
        ),
        (
            reply(&format!(
                "{OK_LOGIN}<VPNFailoverGroup><Status>no. of  records zero</Status></VPNFailoverGroup>"
            )),
            true,
        ),
        (
            reply(&format!(
                "{OK_LOGIN}<VPNFailoverGroup><GroupDetail><Name>A</Name></GroupDetail></VPNFailoverGroup>"
            )),
            true,
        ),
        (
            reply(&format!(
                "{OK_LOGIN}<VPNFailoverGroup><Name>A</Name></VPNFailoverGroup>"
            )),
            true,
        ),
        (
            reply(&format!(
                "{OK_LOGIN}<VPNFailoverGroup><Status>Transaction fail</Status></VPNFailoverGroup>"
            )),
            false,
        ),
        (
            reply(&format!(
                "{OK_LOGIN}<VPNFailoverGroup><Status code=\"500\">No. of records Zero.</Status></VPNFailoverGroup>"
            )),
            false,
        ),
        (reply("<Login><status>Authentication Failure</status></Login>"), false),
        (reply("<Status code=\"534\">x</Status>"), false),
        (reply(OK_LOGIN), false),
    ];
    for (body, want) in cases {
        assert_eq!(get_accepted(&parse(&body).unwrap()), want, "{body}");
    }
}

#[test]
fn broken_and_hostile_bodies_are_refused() {
    let deep = format!("<Response>{}{}</Response>", "<a>".repeat(40), "</a>".repeat(40));
    let bomb = "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;\">]><Response><Login><status>&b;</status></Login></Response>";
    let huge = format!("<Response>{}</Response>", " ".repeat(MAX_BODY));
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "no XML element"),
        ("   \n".into(), "no XML element"),
        (
            "<html><body>502 Bad Gateway</body></html>".into(),
            "not a firewall reply",
        ),
        ("Internal Server Error".into(), "outside <Response>"),
        (
            format!("{HEAD}<Response>{OK_LOGIN}<VPNFailoverGroup><Status code=\"200\">ok"),
            "ends early",
        ),
        (reply(OK_LOGIN)[..60].to_string(), "not well-formed"),
        (
            "<Response><Login><status>x</Login></Response>".into(),
            "not well-formed",
        ),
        (
            "<Response><Status code=\"200\">&nbsp;</Status></Response>".into(),
            "undeclared entity",
        ),
        ("<Response></Response><Response></Response>".into(), "after </Response>"),
        (bomb.into(), "DOCTYPE"),
        (deep, "deeper than 32"),
        (huge, "limit"),
        (
            "<Response><Status>&#0;</Status></Response>".into(),
            "character reference",
        ),
    ];
    for (body, want) in cases {
        let err = parse(&body).expect_err(&body[..body.len().min(80)]);
        assert!(err.contains(want), "{err} (wanted {want})");
        assert!(matches!(judge(&body), Verdict::Transient { .. }));
    }
}

#[test]
fn nesting_at_the_limit_is_accepted() {
    let inner = MAX_DEPTH - 1;
    let body = format!("<Response>{}{}</Response>", "<a>".repeat(inner), "</a>".repeat(inner));
    assert!(parse(&body).is_ok());
}

/// The shapes live firmware is reported to answer (docs/firewall-api.md,
/// "What live firmware is reported to answer"): each write shape judged
/// by its code, the deeper empty Get accepted, a 501's path kept.
#[test]
fn live_firmware_shapes() {
    let accepted = |code: u32, text: &str| Verdict::Accepted {
        code,
        text: text.to_string(),
    };
    let writes = [
        (
            format!("{OK_LOGIN}<Configuration><Status code=\"200\">Configuration applied successfully.</Status></Configuration>"),
            accepted(200, "Configuration applied successfully."),
        ),
        (
            format!("{OK_LOGIN}<Active><Status code=\"200\">Configuration applied successfully.</Status></Active>"),
            accepted(200, "Configuration applied successfully."),
        ),
        (
            format!("{OK_LOGIN}<DeActive><Status code=\"200\">Configuration applied successfully.</Status></DeActive>"),
            accepted(200, "Configuration applied successfully."),
        ),
        (
            format!("{OK_LOGIN}<GroupDetail><Status code=\"500\">Connection group \"HQ\" could not be updated</Status></GroupDetail>"),
            Verdict::Refused {
                code: Some(500),
                text: "Connection group \"HQ\" could not be updated".into(),
            },
        ),
        (
            format!(
                "{OK_LOGIN}<VPNFailoverGroup transactionid=\"\"><Status code=\"501\">Configuration parameters validation failed.</Status><InvalidParams><Params>/VPNFailoverGroup/GroupDetail/MailNotification</Params></InvalidParams></VPNFailoverGroup>"
            ),
            Verdict::Refused {
                code: Some(501),
                text: "Configuration parameters validation failed. (invalid parameter: /VPNFailoverGroup/GroupDetail/MailNotification)".into(),
            },
        ),
        (
            // The path before the status, and two of them.
            format!(
                "{OK_LOGIN}<Configuration><InvalidParams><Params>/A/B</Params><Params>/A/C</Params></InvalidParams><Status code=\"501\">Configuration parameters validation failed.</Status></Configuration>"
            ),
            Verdict::Refused {
                code: Some(501),
                text: "Configuration parameters validation failed. (invalid parameter: /A/B, /A/C)".into(),
            },
        ),
        (
            // A Remove of what does not exist: 200, no entity, no status.
            OK_LOGIN.to_string(),
            Verdict::Refused {
                code: None,
                text: "the reply carried no status for the request (unexpected reply shape)".into(),
            },
        ),
    ];
    for (inner, want) in writes {
        assert_eq!(judge(&reply(&inner)), want, "{inner}");
    }
    let gets = [
        (
            format!(
                "{OK_LOGIN}<VPNFailoverGroup transactionid=\"\"><GroupDetail><Status>No. of records Zero.</Status></GroupDetail></VPNFailoverGroup>"
            ),
            true,
            0,
        ),
        (
            format!(
                "{OK_LOGIN}<VPNIPSecConnection transactionid=\"\"><Configuration><Status>No. of records Zero.</Status></Configuration></VPNIPSecConnection>"
            ),
            true,
            0,
        ),
        (
            format!("{OK_LOGIN}<GroupDetail><Status>No. of records Zero.</Status></GroupDetail>"),
            true,
            0,
        ),
        (
            format!("{OK_LOGIN}<GroupDetail><Name>HQ</Name></GroupDetail><GroupDetail><Name>B</Name></GroupDetail>"),
            true,
            2,
        ),
        (
            format!(
                "{OK_LOGIN}<VPNFailoverGroup><GroupDetail><Status code=\"500\">No. of records Zero.</Status></GroupDetail></VPNFailoverGroup>"
            ),
            false,
            0,
        ),
    ];
    for (inner, ok, records) in gets {
        let r = parse(&reply(&inner)).unwrap();
        assert_eq!((get_accepted(&r), r.records.len()), (ok, records), "{inner}");
    }
}
