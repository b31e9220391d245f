//! Each field changed alone, both spellings, the firewall's defaults, a
//! group missing or added on the firewall, a name differing in case, and
//! replies that cannot be compared.

use super::*;
use crate::config::groups::MemberRef;
use crate::firewall::read;

fn def(name: &str, members: &[&str], mail: bool, failback: bool, conditions: Vec<Condition>) -> GroupDef {
    GroupDef {
        name: name.into(),
        name_pos: 0,
        index: 1,
        members: (1..)
            .zip(members)
            .map(|(index, m)| MemberRef {
                name: (*m).into(),
                pos: 0,
                index,
            })
            .collect(),
        mail,
        failback,
        conditions,
        intent: None,
        named: true,
    }
}

fn hq() -> GroupDef {
    def(
        "HQ",
        &["A", "B"],
        true,
        true,
        vec![Condition::Ping, Condition::Tcp(443)],
    )
}

const OK: &str = "<Login><status>Authentication Successful</status></Login>";

/// The firewall's groups from a Get reply of these `<GroupDetail>`s.
fn fw(details: &[String]) -> Vec<FwGroup> {
    let inner: String = details
        .iter()
        .map(|d| format!("<VPNFailoverGroup>{d}</VPNFailoverGroup>"))
        .collect();
    read::groups(&format!("<Response>{OK}{inner}</Response>")).unwrap()
}

fn detail(name: &str, members: &str, mail: &str, failback: &str, conditions: &str) -> String {
    let members: String = members
        .split(',')
        .map(|m| format!("<Connection>{m}</Connection>"))
        .collect();
    format!(
        "<GroupDetail><Name>{name}</Name><MemberConnections>{members}</MemberConnections>{mail}{failback}{conditions}</GroupDetail>"
    )
}

const MAIL19: &str = "<MailNotification>Enable</MailNotification>";
const FB19: &str = "<AutomaticFailback>Enable</AutomaticFailback>";
const COND19: &str = "<FailoverCondition><FailoverIF><Protocol>PING</Protocol><Port></Port></FailoverIF><FailoverIF><Protocol>TCP</Protocol><Port>443</Port></FailoverIF></FailoverCondition>";
const COND17: &str = "<FailoverCondition><FailoverIF><Protocol>ping</Protocol></FailoverIF><FailoverIF><Protocol>tcp</Protocol><Port>443</Port></FailoverIF></FailoverCondition>";

fn verdict(details: &[String]) -> Verdict {
    let c = compare([&hq()], &fw(details)).unwrap();
    c.groups[0].1.clone()
}

fn changed(fields: &Verdict) -> Vec<&'static str> {
    match fields {
        Verdict::Differs(f) => f.iter().map(|f| f.name).collect(),
        _ => Vec::new(),
    }
}

#[test]
fn in_step_in_both_spellings_and_with_the_firewalls_defaults() {
    assert_eq!(verdict(&[detail("HQ", "A,B", MAIL19, FB19, COND19)]), Verdict::InStep);
    // 2017 spelling: y, ping/tcp, no AutomaticFailback (Enable).
    let old = detail("HQ", "A,B", "<MailNotification>y</MailNotification>", "", COND17);
    assert_eq!(verdict(&[old]), Verdict::InStep);
    // Mixed case, an empty protocol (no-op), a port on PING (ignored).
    let odd = "<FailoverCondition><FailoverIF><Protocol>Ping</Protocol><Port>7</Port></FailoverIF><FailoverIF><Protocol></Protocol></FailoverIF><FailoverIF><Protocol>tcp</Protocol><Port>443</Port></FailoverIF></FailoverCondition>";
    let mixed = detail("HQ", "A,B", "<MailNotification>ENABLE</MailNotification>", "", odd);
    assert_eq!(verdict(&[mixed]), Verdict::InStep);
    // No conditions at all: one PING, as in a file.
    let plain = def("P", &["C"], false, true, vec![Condition::Ping]);
    let bare = fw(&[detail("P", "C", "", "", "")]);
    assert_eq!(compare([&plain], &bare).unwrap().groups[0].1, Verdict::InStep);
}

#[test]
fn each_field_changed_alone_is_named_both_ways() {
    let cases = [
        (detail("HQ", "B,A", MAIL19, FB19, COND19), "members", "A, B", "B, A"),
        (
            detail("HQ", "A,B", "<MailNotification>n</MailNotification>", FB19, COND19),
            "mail notification",
            "Enable",
            "Disable",
        ),
        (
            detail(
                "HQ",
                "A,B",
                MAIL19,
                "<AutomaticFailback>Disable</AutomaticFailback>",
                COND19,
            ),
            "automatic failback",
            "Enable",
            "Disable",
        ),
        (
            detail("HQ", "A,B", MAIL19, FB19, &COND19.replace("443", "444")),
            "conditions",
            "PING, TCP 443",
            "PING, TCP 444",
        ),
    ];
    for (d, field, file, firewall) in cases {
        let v = verdict(&[d]);
        let Verdict::Differs(f) = &v else { panic!("{v:?}") };
        assert_eq!(f.len(), 1, "{v:?}");
        assert_eq!(
            (f[0].name, f[0].file.as_str(), f[0].firewall.as_str()),
            (field, file, firewall)
        );
        assert!(
            v.describe()
                .starts_with(&format!("differs: {field}: file {file}, firewall {firewall}"))
        );
        assert!(v.sendable());
    }
}

#[test]
fn missing_and_unknown_groups() {
    let other = detail("Branch", "C", MAIL19, FB19, COND19);
    let c = compare([&hq()], &fw(&[other])).unwrap();
    assert_eq!(c.groups, [("HQ".to_string(), Verdict::Missing)]);
    assert_eq!(c.unknown, ["Branch"]);
    assert!(c.groups[0].1.sendable());
    assert_eq!(c.groups[0].1.describe(), "missing on the firewall");
    // An empty list: every group missing.
    let none = compare([&hq()], &[]).unwrap();
    assert_eq!(none.groups[0].1, Verdict::Missing);
}

#[test]
fn a_name_differing_only_in_case_is_a_difference_no_sync_puts_right() {
    let v = verdict(&[detail("hq", "A,B", MAIL19, FB19, COND19)]);
    assert_eq!(changed(&v), ["name"]);
    assert!(!v.sendable());
    // The exact name wins; the other spelling is a group no file defines.
    let c = compare(
        [&hq()],
        &fw(&[
            detail("hq", "A,B", MAIL19, FB19, COND19),
            detail("HQ", "A,B", MAIL19, FB19, COND19),
        ]),
    )
    .unwrap();
    assert_eq!(c.groups[0].1, Verdict::InStep);
    assert_eq!(c.unknown, ["hq"]);
}

#[test]
fn a_name_twice_cannot_be_compared() {
    let d = detail("HQ", "A,B", MAIL19, FB19, COND19);
    let err = compare([&hq()], &fw(&[d.clone(), d])).unwrap_err();
    assert!(err.contains("HQ more than once"), "{err}");
}

#[test]
fn unknown_fields_are_ignored_missing_ones_unreadable() {
    let extra =
        detail("HQ", "A,B", MAIL19, FB19, COND19).replace("</GroupDetail>", "<Colour>red</Colour></GroupDetail>");
    assert_eq!(verdict(&[extra]), Verdict::InStep);
    let no_members = format!(
        "<Response>{OK}<VPNFailoverGroup><GroupDetail><Name>HQ</Name></GroupDetail></VPNFailoverGroup></Response>"
    );
    assert!(matches!(read::groups(&no_members), Err(read::ReadError::Unreadable(_))));
    let bad_flag = detail("HQ", "A,B", "<MailNotification>maybe</MailNotification>", FB19, COND19);
    let body = format!("<Response>{OK}<VPNFailoverGroup>{bad_flag}</VPNFailoverGroup></Response>");
    assert!(matches!(read::groups(&body), Err(read::ReadError::Unreadable(_))));
}
