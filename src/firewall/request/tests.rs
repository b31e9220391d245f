//! Golden-document tests for the request builder, and the password round
//! trip through escaping, form encoding, form decoding and XML parsing.

use super::*;
use quick_xml::Reader;
use quick_xml::events::Event;

const LOGIN: &str = "<Login><Username>api</Username><Password>pw</Password></Login>";

fn members() -> Vec<String> {
    vec!["HQ_Primary".to_string(), "HQ_Backup".to_string()]
}

const CONDITIONS: [Condition; 2] = [Condition::Ping, Condition::Tcp(443)];

fn group<'a>(members: &'a [String], mail: bool, failback: bool) -> GroupDetail<'a> {
    GroupDetail {
        name: "HQ_VPN",
        members,
        mail,
        failback,
        conditions: &CONDITIONS,
    }
}

const DETAIL19: &str = "<GroupDetail><Name>HQ_VPN</Name><MemberConnections>\
<Connection>HQ_Primary</Connection><Connection>HQ_Backup</Connection></MemberConnections>\
<MailNotification>Enable</MailNotification><AutomaticFailback>Disable</AutomaticFailback>\
<FailoverCondition><FailoverIF><Protocol>PING</Protocol><Port></Port></FailoverIF>\
<FailoverIF><Protocol>TCP</Protocol><Port>443</Port></FailoverIF></FailoverCondition></GroupDetail>";

const DETAIL17: &str = "<GroupDetail><Name>HQ_VPN</Name><MemberConnections>\
<Connection>HQ_Primary</Connection><Connection>HQ_Backup</Connection></MemberConnections>\
<MailNotification>y</MailNotification>\
<FailoverCondition><FailoverIF><Protocol>ping</Protocol><Port></Port></FailoverIF>\
<FailoverIF><Protocol>tcp</Protocol><Port>443</Port></FailoverIF></FailoverCondition></GroupDetail>";

#[test]
fn push_documents() {
    let pw = Secret::new("pw");
    let login = Login {
        username: "api",
        password: &pw,
    };
    let m = members();
    let g = group(&m, true, false);
    let cases: [(Option<&str>, Action, bool, Spelling, String); 6] = [
        (
            None,
            Action::Active,
            false,
            Spelling::Sfos19,
            format!(
                "<Request>{LOGIN}<Set operation=\"update\"><VPNFailoverGroup><Active><Name>HQ_VPN</Name></Active></VPNFailoverGroup></Set></Request>"
            ),
        ),
        (
            None,
            Action::DeActive,
            false,
            Spelling::Sfos17,
            format!(
                "<Request>{LOGIN}<Set operation=\"update\"><VPNFailoverGroup><DeActive><Name>HQ_VPN</Name></DeActive></VPNFailoverGroup></Set></Request>"
            ),
        ),
        (
            Some("1905.1"),
            Action::Active,
            false,
            Spelling::Sfos19,
            format!(
                "<Request APIVersion=\"1905.1\">{LOGIN}<Set operation=\"update\"><VPNFailoverGroup><Active><Name>HQ_VPN</Name></Active></VPNFailoverGroup></Set></Request>"
            ),
        ),
        (
            None,
            Action::DeActive,
            true,
            Spelling::Sfos19,
            format!(
                "<Request>{LOGIN}<Set operation=\"update\"><VPNFailoverGroup>{DETAIL19}<DeActive><Name>HQ_VPN</Name></DeActive></VPNFailoverGroup></Set></Request>"
            ),
        ),
        (
            None,
            Action::Active,
            true,
            Spelling::Sfos17,
            format!(
                "<Request>{LOGIN}<Set operation=\"update\"><VPNFailoverGroup>{DETAIL17}<Active><Name>HQ_VPN</Name></Active></VPNFailoverGroup></Set></Request>"
            ),
        ),
        (
            Some("2000.1"),
            Action::DeActive,
            false,
            Spelling::Sfos17,
            format!(
                "<Request APIVersion=\"2000.1\">{LOGIN}<Set operation=\"update\"><VPNFailoverGroup><DeActive><Name>HQ_VPN</Name></DeActive></VPNFailoverGroup></Set></Request>"
            ),
        ),
    ];
    for (version, action, full, spelling, want) in cases {
        assert_eq!(
            push(&login, version, &g, action, full, spelling),
            want,
            "{action:?} {full} {spelling:?}"
        );
    }
}

#[test]
fn set_documents() {
    let pw = Secret::new("pw");
    let login = Login {
        username: "api",
        password: &pw,
    };
    let m = members();
    let g = group(&m, true, false);
    let cases = [
        (
            Operation::Add,
            Spelling::Sfos19,
            format!(
                "<Request>{LOGIN}<Set operation=\"add\"><VPNFailoverGroup>{DETAIL19}</VPNFailoverGroup></Set></Request>"
            ),
        ),
        (
            Operation::Update,
            Spelling::Sfos19,
            format!(
                "<Request>{LOGIN}<Set operation=\"update\"><VPNFailoverGroup>{DETAIL19}</VPNFailoverGroup></Set></Request>"
            ),
        ),
        (
            Operation::Add,
            Spelling::Sfos17,
            format!(
                "<Request>{LOGIN}<Set operation=\"add\"><VPNFailoverGroup>{DETAIL17}</VPNFailoverGroup></Set></Request>"
            ),
        ),
        (
            Operation::Update,
            Spelling::Sfos17,
            format!(
                "<Request>{LOGIN}<Set operation=\"update\"><VPNFailoverGroup>{DETAIL17}</VPNFailoverGroup></Set></Request>"
            ),
        ),
    ];
    for (op, spelling, want) in cases {
        let doc = set(&login, None, &g, op, spelling);
        assert_eq!(doc, want, "{op:?} {spelling:?}");
        assert!(!doc.contains("<Active>") && !doc.contains("<DeActive>"));
    }
}

#[test]
fn flags_follow_spelling_and_failback_is_always_sent_in_sfos19() {
    let pw = Secret::new("pw");
    let login = Login {
        username: "api",
        password: &pw,
    };
    let m = members();
    let cases = [
        (
            false,
            true,
            Spelling::Sfos19,
            "<MailNotification>Disable</MailNotification><AutomaticFailback>Enable</AutomaticFailback>",
        ),
        (
            true,
            true,
            Spelling::Sfos19,
            "<MailNotification>Enable</MailNotification><AutomaticFailback>Enable</AutomaticFailback>",
        ),
        (
            false,
            true,
            Spelling::Sfos17,
            "<MailNotification>n</MailNotification><FailoverCondition>",
        ),
        (
            false,
            false,
            Spelling::Sfos17,
            "<MailNotification>n</MailNotification><FailoverCondition>",
        ),
    ];
    for (mail, failback, spelling, want) in cases {
        let doc = set(&login, None, &group(&m, mail, failback), Operation::Add, spelling);
        assert!(doc.contains(want), "{doc}");
        assert_eq!(doc.contains("AutomaticFailback"), spelling == Spelling::Sfos19);
    }
}

#[test]
fn ping_only_and_duplicate_conditions_are_kept() {
    let pw = Secret::new("pw");
    let login = Login {
        username: "api",
        password: &pw,
    };
    let m = members();
    let conditions = [Condition::Ping, Condition::Ping, Condition::Tcp(65535)];
    let g = GroupDetail {
        conditions: &conditions,
        ..group(&m, false, true)
    };
    let doc = set(&login, None, &g, Operation::Add, Spelling::Sfos19);
    let ping = "<FailoverIF><Protocol>PING</Protocol><Port></Port></FailoverIF>";
    let want = format!(
        "<FailoverCondition>{ping}{ping}<FailoverIF><Protocol>TCP</Protocol><Port>65535</Port></FailoverIF></FailoverCondition>"
    );
    assert!(doc.contains(&want), "{doc}");
}

#[test]
fn get_document() {
    let pw = Secret::new("pw");
    let login = Login {
        username: "api",
        password: &pw,
    };
    assert_eq!(
        get(&login, None),
        format!("<Request>{LOGIN}<Get><VPNFailoverGroup></VPNFailoverGroup></Get></Request>")
    );
    assert_eq!(
        get(&login, Some("1905.1")),
        format!("<Request APIVersion=\"1905.1\">{LOGIN}<Get><VPNFailoverGroup></VPNFailoverGroup></Get></Request>")
    );
}

#[test]
fn every_value_is_escaped() {
    let pw = Secret::new("a<b>&\"'");
    let login = Login {
        username: "u&<",
        password: &pw,
    };
    let m = vec!["C<1>".to_string()];
    let g = GroupDetail {
        name: "G'\"",
        ..group(&m, false, false)
    };
    let doc = push(&login, Some("1\"&"), &g, Action::Active, true, Spelling::Sfos19);
    assert!(doc.starts_with("<Request APIVersion=\"1&quot;&amp;\"><Login><Username>u&amp;&lt;</Username><Password>a&lt;b&gt;&amp;&quot;&apos;</Password>"), "{doc}");
    assert!(doc.contains("<Connection>C&lt;1&gt;</Connection>"));
    assert!(doc.contains("<Active><Name>G&apos;&quot;</Name></Active>"));
    assert_eq!(escape("plain text 123"), "plain text 123");
}

#[test]
fn form_body_encodes_every_special_byte() {
    let cases = [
        ("a&b", "reqxml=a%26b"),
        ("a=b", "reqxml=a%3Db"),
        ("a+b", "reqxml=a%2Bb"),
        ("100%", "reqxml=100%25"),
        ("a b", "reqxml=a%20b"),
        ("<x y=\"1\">", "reqxml=%3Cx%20y%3D%221%22%3E"),
        ("é#?/;", "reqxml=%C3%A9%23%3F%2F%3B"),
        ("Az09-._~", "reqxml=Az09-._~"),
        ("\r\n", "reqxml=%0D%0A"),
    ];
    for (xml, want) in cases {
        assert_eq!(form_body(xml), want);
    }
}

/// Decodes a form body the way a server does (`+` is a space) and returns
/// the `reqxml` value.
fn decode_form(body: &str) -> String {
    let value = body.strip_prefix("reqxml=").expect("reqxml field");
    assert!(
        !value.contains('&') && !value.contains('+'),
        "unencoded separator in {value}"
    );
    percent_encoding::percent_decode_str(value)
        .decode_utf8()
        .expect("utf-8")
        .into_owned()
}

/// The unescaped text of the first `<Password>` in `xml`.
fn password_of(xml: &str) -> String {
    let mut reader = Reader::from_str(xml);
    let (mut inside, mut text) = (false, String::new());
    loop {
        match reader.read_event().expect("well-formed") {
            Event::Start(s) if s.name().as_ref() == "Password" => inside = true,
            Event::End(e) if e.name().as_ref() == "Password" => return text,
            Event::Text(t) if inside => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if inside => {
                let name = r.into_inner();
                let c = quick_xml::escape::resolve_predefined_entity(&name).expect("predefined");
                text.push_str(c);
            }
            Event::Eof => panic!("no Password"),
            _ => {}
        }
    }
}

#[test]
fn hostile_password_round_trips() {
    for raw in [
        "< > & \" '",
        "&amp;",
        "p&amp;w<ord>\"'=+% x",
        "&lt;&#38;",
        "]]>",
        "ünïcödé",
    ] {
        let pw = Secret::new(raw);
        let login = Login {
            username: "api",
            password: &pw,
        };
        let xml = get(&login, None);
        let body = form_body(&xml);
        let decoded = decode_form(&body);
        assert_eq!(decoded, xml);
        assert_eq!(password_of(&decoded), raw);
    }
}
