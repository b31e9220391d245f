//! VPNFailoverGroup definitions as the emulated firewall keeps them: read
//! from a `<GroupDetail>` with the seed document's constraints and the
//! configured spellings, and written back out for a Get.

use crate::config::Spellings;
use crate::xml::{Element, escape};

/// A probe protocol of one `FailoverIF`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Ping,
    Tcp,
    /// An empty `<Protocol>`: the entry does nothing.
    Empty,
}

/// One failover group's definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    pub name: String,
    /// Member connections in order; the first is the primary.
    pub members: Vec<String>,
    pub mail: bool,
    /// `None` when the request left `AutomaticFailback` out.
    pub failback: Option<bool>,
    /// `(protocol, port)` per `FailoverIF`, duplicates kept.
    pub conditions: Vec<(Protocol, Option<u16>)>,
}

const FIELDS: [&str; 5] = [
    "Name",
    "MemberConnections",
    "MailNotification",
    "AutomaticFailback",
    "FailoverCondition",
];

/// Reads and validates a `<GroupDetail>`; the error says what is invalid.
pub fn parse(detail: &Element, spellings: Spellings) -> Result<Definition, String> {
    if let Some(unknown) = detail.children.iter().find(|c| !FIELDS.contains(&c.name.as_str())) {
        return Err(format!("unknown field <{}>", unknown.name));
    }
    let name = detail.child_text("Name").unwrap_or_default().to_string();
    if !valid_name(&name) {
        return Err(format!("invalid name {name:?}"));
    }
    let members = members(detail)?;
    let mail = match detail.child_text("MailNotification") {
        None => false,
        Some(value) => flag(value, spellings).ok_or(format!("MailNotification {value:?}"))?,
    };
    let failback = failback(detail, spellings)?;
    let conditions = match detail.child("FailoverCondition") {
        None => Vec::new(),
        Some(c) => c
            .children_named("FailoverIF")
            .map(|f| condition(f, spellings))
            .collect::<Result<_, _>>()?,
    };
    Ok(Definition {
        name,
        members,
        mail,
        failback,
        conditions,
    })
}

/// The member connections: one or more, none empty.
fn members(detail: &Element) -> Result<Vec<String>, String> {
    let list = detail.child("MemberConnections");
    let members: Vec<String> = list
        .iter()
        .flat_map(|m| m.children_named("Connection"))
        .map(|c| c.text.trim().to_string())
        .collect();
    if members.is_empty() || members.iter().any(String::is_empty) {
        return Err("at least one non-empty <Connection> is needed".to_string());
    }
    Ok(members)
}

/// `AutomaticFailback`: 19.0 and later only.
fn failback(detail: &Element, spellings: Spellings) -> Result<Option<bool>, String> {
    match detail.child_text("AutomaticFailback") {
        None => Ok(None),
        Some(_) if spellings == Spellings::Sfos17 => Err("AutomaticFailback is unknown to this firmware".to_string()),
        Some(value) => flag(value, Spellings::Sfos19)
            .map(Some)
            .ok_or(format!("AutomaticFailback {value:?}")),
    }
}

/// Whether `name` fits `^[A-Za-z][A-Za-z0-9_]*$`.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic()) && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A yes/no value in the accepted spellings.
fn flag(value: &str, spellings: Spellings) -> Option<bool> {
    let old = match value {
        "y" => Some(true),
        "n" => Some(false),
        _ => None,
    };
    let new = match value {
        "Enable" => Some(true),
        "Disable" => Some(false),
        _ => None,
    };
    match spellings {
        Spellings::Sfos17 => old,
        Spellings::Sfos19 => new,
        Spellings::Either => old.or(new),
    }
}

fn condition(entry: &Element, spellings: Spellings) -> Result<(Protocol, Option<u16>), String> {
    let text = entry.child_text("Protocol").unwrap_or_default();
    let protocol = match (text, spellings) {
        ("", _) => Protocol::Empty,
        ("ping", Spellings::Sfos17 | Spellings::Either) => Protocol::Ping,
        ("tcp", Spellings::Sfos17 | Spellings::Either) => Protocol::Tcp,
        ("PING", Spellings::Sfos19 | Spellings::Either) => Protocol::Ping,
        ("TCP", Spellings::Sfos19 | Spellings::Either) => Protocol::Tcp,
        _ => return Err(format!("Protocol {text:?}")),
    };
    let port = match entry.child_text("Port").unwrap_or_default() {
        "" => None,
        text => match text.parse::<u16>() {
            Ok(port) if port > 0 => Some(port),
            _ => return Err(format!("Port {text:?}")),
        },
    };
    if protocol == Protocol::Tcp && port.is_none() {
        return Err("TCP needs a port".to_string());
    }
    Ok((protocol, port))
}

/// The `<GroupDetail>` of a Get reply, in the firmware's spelling
/// (19.0 unless the emulator takes only the 2017 spelling).
pub fn render(def: &Definition, spellings: Spellings) -> String {
    let old = spellings == Spellings::Sfos17;
    let yes_no = |on: bool| match (old, on) {
        (true, true) => "y",
        (true, false) => "n",
        (false, true) => "Enable",
        (false, false) => "Disable",
    };
    let mut xml = format!("<GroupDetail><Name>{}</Name><MemberConnections>", escape(&def.name));
    for member in &def.members {
        xml.push_str(&format!("<Connection>{}</Connection>", escape(member)));
    }
    xml.push_str(&format!(
        "</MemberConnections><MailNotification>{}</MailNotification>",
        yes_no(def.mail)
    ));
    if !old {
        let failback = yes_no(def.failback.unwrap_or(true));
        xml.push_str(&format!("<AutomaticFailback>{failback}</AutomaticFailback>"));
    }
    xml.push_str("<FailoverCondition>");
    for (protocol, port) in &def.conditions {
        let protocol = match (protocol, old) {
            (Protocol::Ping, true) => "ping",
            (Protocol::Tcp, true) => "tcp",
            (Protocol::Ping, false) => "PING",
            (Protocol::Tcp, false) => "TCP",
            (Protocol::Empty, _) => "",
        };
        let port = port.map(|p| p.to_string()).unwrap_or_default();
        xml.push_str(&format!(
            "<FailoverIF><Protocol>{protocol}</Protocol><Port>{port}</Port></FailoverIF>"
        ));
    }
    xml.push_str("</FailoverCondition></GroupDetail>");
    xml
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml;

    fn detail(mail: &str, extra: &str, conditions: &str) -> Element {
        let doc = format!(
            "<GroupDetail><Name>HQ_VPN</Name><MemberConnections><Connection>A</Connection>\
             </MemberConnections><MailNotification>{mail}</MailNotification>{extra}\
             <FailoverCondition>{conditions}</FailoverCondition></GroupDetail>"
        );
        xml::parse(&doc).unwrap()
    }

    #[test]
    fn spellings_are_checked() {
        let ping19 = "<FailoverIF><Protocol>PING</Protocol><Port></Port></FailoverIF>";
        let tcp17 = "<FailoverIF><Protocol>tcp</Protocol><Port>443</Port></FailoverIF>";
        let failback = "<AutomaticFailback>Enable</AutomaticFailback>";
        let cases = [
            ("Enable", failback, ping19, Spellings::Sfos19, true),
            ("Enable", failback, ping19, Spellings::Either, true),
            ("Enable", "", ping19, Spellings::Sfos17, false),
            ("y", "", tcp17, Spellings::Sfos17, true),
            ("y", "", tcp17, Spellings::Sfos19, false),
            ("y", failback, tcp17, Spellings::Sfos17, false),
            ("y", "", ping19, Spellings::Sfos17, false),
            ("yes", "", "", Spellings::Either, false),
        ];
        for (mail, extra, conditions, spellings, ok) in cases {
            let result = parse(&detail(mail, extra, conditions), spellings);
            assert_eq!(
                result.is_ok(),
                ok,
                "{mail} {extra} {conditions} {spellings:?}: {result:?}"
            );
        }
    }

    #[test]
    fn seed_constraints() {
        let bad = [
            "<FailoverIF><Protocol>TCP</Protocol><Port></Port></FailoverIF>",
            "<FailoverIF><Protocol>TCP</Protocol><Port>0</Port></FailoverIF>",
            "<FailoverIF><Protocol>TCP</Protocol><Port>65536</Port></FailoverIF>",
            "<FailoverIF><Protocol>UDP</Protocol><Port>53</Port></FailoverIF>",
        ];
        for conditions in bad {
            assert!(
                parse(&detail("Enable", "", conditions), Spellings::Either).is_err(),
                "{conditions}"
            );
        }
        for name in ["", "1abc", "a-b", "a b", "_a"] {
            assert!(!valid_name(name), "{name}");
        }
        assert!(valid_name("HQ_VPN_2"));
        let no_members = xml::parse("<GroupDetail><Name>A</Name></GroupDetail>").unwrap();
        assert!(parse(&no_members, Spellings::Either).is_err());
        let unknown = xml::parse("<GroupDetail><Name>A</Name><Colour/></GroupDetail>").unwrap();
        assert!(parse(&unknown, Spellings::Either).unwrap_err().contains("Colour"));
    }

    #[test]
    fn renders_what_it_read() {
        let conditions = "<FailoverIF><Protocol>PING</Protocol><Port></Port></FailoverIF><FailoverIF><Protocol>TCP</Protocol><Port>443</Port></FailoverIF>";
        let def = parse(&detail("Disable", "", conditions), Spellings::Either).unwrap();
        let again = parse(
            &xml::parse(&render(&def, Spellings::Either)).unwrap(),
            Spellings::Either,
        )
        .unwrap();
        assert_eq!(
            again,
            Definition {
                failback: Some(true),
                ..def.clone()
            }
        );
        let old = render(&def, Spellings::Sfos17);
        assert!(old.contains("<MailNotification>n</MailNotification>") && old.contains("<Protocol>tcp</Protocol>"));
        assert!(!old.contains("AutomaticFailback"));
    }
}
