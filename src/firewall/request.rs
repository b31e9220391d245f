//! Builds the XML documents failoverd sends to the firewall's API and the
//! urlencoded form body that carries them. Pure functions over plain values
//! (no configuration types), so every document can be pinned by golden tests.
//!
//! Every text value, username and password included, is XML-escaped: a raw
//! `<` or `&` in a password makes the firewall answer 529 (a real bug in
//! Sophos's own SDK). The form body percent-encodes every byte outside the
//! unreserved set: a raw `&` would end the `reqxml` field early.

use crate::config::secret::Secret;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Which edition's value spellings to send (`[firewall] spelling`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spelling {
    /// 19.0 and later: `Enable`/`Disable`, `PING`/`TCP`, `AutomaticFailback` sent.
    Sfos19,
    /// The 2017 seed document: `y`/`n`, `ping`/`tcp`, no `AutomaticFailback`.
    Sfos17,
}

/// The state a push asks the firewall to put a group in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Active,
    DeActive,
}

impl Action {
    /// The element name the API uses for this action.
    pub fn element(self) -> &'static str {
        match self {
            Action::Active => "Active",
            Action::DeActive => "DeActive",
        }
    }
}

/// The `operation` attribute of a definition `<Set>` (sync).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Add,
    Update,
}

impl Operation {
    /// The attribute value the API expects.
    pub fn attribute(self) -> &'static str {
        match self {
            Operation::Add => "add",
            Operation::Update => "update",
        }
    }
}

/// The credentials sent in every request (the API is stateless).
#[derive(Debug, Clone, Copy)]
pub struct Login<'a> {
    pub username: &'a str,
    pub password: &'a Secret,
}

/// One failover group's definition, as the firewall's `GroupDetail` holds it.
#[derive(Debug, Clone, Copy)]
pub struct GroupDetail<'a> {
    pub name: &'a str,
    /// Member connections in failover order; the first is the primary.
    pub members: &'a [String],
    pub mail: bool,
    /// The effective value (absent in the definition file means enabled).
    pub failback: bool,
    /// Failover conditions in order, duplicates kept.
    pub conditions: &'a [Condition],
}

/// One `FailoverIF` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Ping,
    Tcp(u16),
}

/// An Active or DeActive push: `<Set operation="update">` holding one
/// `VPNFailoverGroup` with the action; `full` (push_form = "full") adds the
/// group's `GroupDetail` before the action.
pub fn push(
    login: &Login<'_>,
    api_version: Option<&str>,
    group: &GroupDetail<'_>,
    action: Action,
    full: bool,
    spelling: Spelling,
) -> String {
    let mut xml = open(login, api_version);
    xml.push_str("<Set operation=\"update\"><VPNFailoverGroup>");
    if full {
        detail(&mut xml, group, spelling);
    }
    let tag = action.element();
    xml.push_str(&format!("<{tag}><Name>{}</Name></{tag}>", escape(group.name)));
    xml.push_str("</VPNFailoverGroup></Set></Request>");
    xml
}

/// A definition write (sync): the `GroupDetail` only, never Active/DeActive,
/// so a sync can never switch a group on or off.
pub fn set(
    login: &Login<'_>,
    api_version: Option<&str>,
    group: &GroupDetail<'_>,
    operation: Operation,
    spelling: Spelling,
) -> String {
    let mut xml = open(login, api_version);
    xml.push_str(&format!(
        "<Set operation=\"{}\"><VPNFailoverGroup>",
        operation.attribute()
    ));
    detail(&mut xml, group, spelling);
    xml.push_str("</VPNFailoverGroup></Set></Request>");
    xml
}

/// The read-only Get of every failover group (`check --online`, `check_every`).
pub fn get(login: &Login<'_>, api_version: Option<&str>) -> String {
    get_of(login, api_version, Entity::VPNFailoverGroup)
}

/// The entities failoverd reads, and only reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(clippy::upper_case_acronyms)]
pub enum Entity {
    VPNFailoverGroup,
    VPNIPSecConnection,
}

impl Entity {
    /// The element name, as the API spells it.
    pub fn name(self) -> &'static str {
        match self {
            Entity::VPNFailoverGroup => "VPNFailoverGroup",
            Entity::VPNIPSecConnection => "VPNIPSecConnection",
        }
    }
}

/// The read-only Get of every record of `entity`.
pub fn get_of(login: &Login<'_>, api_version: Option<&str>, entity: Entity) -> String {
    let mut xml = open(login, api_version);
    let name = entity.name();
    xml.push_str(&format!("<Get><{name}></{name}></Get></Request>"));
    xml
}

/// Bytes left as they are in the form body: RFC 3986 unreserved characters.
/// Everything else, `&`, `=`, `+`, `%`, space and non-ASCII included, is
/// percent-encoded, which every form decoder reads back unchanged.
const FORM: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The `application/x-www-form-urlencoded` body carrying `xml` as `reqxml`.
pub fn form_body(xml: &str) -> String {
    format!("reqxml={}", utf8_percent_encode(xml, FORM))
}

/// Escapes the five XML special characters, for text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}

/// `<Request>` and `<Login>`: the part every document shares.
fn open(login: &Login<'_>, api_version: Option<&str>) -> String {
    let mut xml = match api_version {
        Some(v) => format!("<Request APIVersion=\"{}\">", escape(v)),
        None => String::from("<Request>"),
    };
    xml.push_str(&format!(
        "<Login><Username>{}</Username><Password>{}</Password></Login>",
        escape(login.username),
        escape(login.password.expose())
    ));
    xml
}

/// Appends `<GroupDetail>` in the chosen spelling. An empty condition list
/// leaves `FailoverCondition` out (the main crate always supplies one).
fn detail(xml: &mut String, group: &GroupDetail<'_>, spelling: Spelling) {
    xml.push_str(&format!(
        "<GroupDetail><Name>{}</Name><MemberConnections>",
        escape(group.name)
    ));
    for member in group.members {
        xml.push_str(&format!("<Connection>{}</Connection>", escape(member)));
    }
    xml.push_str("</MemberConnections>");
    xml.push_str(&format!(
        "<MailNotification>{}</MailNotification>",
        flag(group.mail, spelling)
    ));
    if spelling == Spelling::Sfos19 {
        xml.push_str(&format!(
            "<AutomaticFailback>{}</AutomaticFailback>",
            flag(group.failback, spelling)
        ));
    }
    if !group.conditions.is_empty() {
        xml.push_str("<FailoverCondition>");
        for condition in group.conditions {
            failover_if(xml, *condition, spelling);
        }
        xml.push_str("</FailoverCondition>");
    }
    xml.push_str("</GroupDetail>");
}

/// One `<FailoverIF>`; a PING entry carries an empty `<Port>`.
fn failover_if(xml: &mut String, condition: Condition, spelling: Spelling) {
    let (ping, tcp) = match spelling {
        Spelling::Sfos19 => ("PING", "TCP"),
        Spelling::Sfos17 => ("ping", "tcp"),
    };
    let (protocol, port) = match condition {
        Condition::Ping => (ping, String::new()),
        Condition::Tcp(port) => (tcp, port.to_string()),
    };
    xml.push_str(&format!(
        "<FailoverIF><Protocol>{protocol}</Protocol><Port>{port}</Port></FailoverIF>"
    ));
}

/// A yes/no value in the chosen spelling.
fn flag(on: bool, spelling: Spelling) -> &'static str {
    match (spelling, on) {
        (Spelling::Sfos19, true) => "Enable",
        (Spelling::Sfos19, false) => "Disable",
        (Spelling::Sfos17, true) => "y",
        (Spelling::Sfos17, false) => "n",
    }
}

#[cfg(test)]
mod tests;
