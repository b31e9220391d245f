//! Lenient reading of the records of a Get reply: the failover groups
//! (`VPNFailoverGroup`) and the IPsec connections (`VPNIPSecConnection`)
//! that `failoverd import` turns into group files and connection tables.
//!
//! The reply is first read by the push loop's own parser
//! ([`response::parse`], with its size and depth limits and its refusal of
//! DOCTYPEs and entities), so the login, request-level and entity codes
//! are judged exactly as for a push. Only then is it read as a tree, and
//! every shape `docs/import.md` lists is taken: one record or many,
//! one entity element per record or all in one, records without the outer
//! entity element, both spellings, `AutomaticFailback` present or absent,
//! and the codeless "No. of records Zero." at either depth. What cannot be
//! read is an error naming the element path in the reply and what was
//! expected there. Secrets in a reply (preshared keys) are never read out
//! of the tree: no type here has a field for them.

use super::request::Entity;
use super::response::{self, LoginStatus, Verdict};
use crate::config::xml::{self, Element};

/// Why a reply gave no records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// The firewall refused the request (login, 534, 599, a code): the
    /// text says what and, where known, the fix.
    Refused(String),
    /// The reply cannot be read: the text names the element path.
    Unreadable(String),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Refused(t) => write!(f, "the firewall refused the Get: {t}"),
            ReadError::Unreadable(t) => write!(f, "the firewall's reply cannot be read: {t}"),
        }
    }
}

/// A failover group as the firewall holds it, values in the firewall's
/// own spelling (trimmed), so a file written from it says what the
/// firewall says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FwGroup {
    pub name: String,
    pub members: Vec<String>,
    /// `y`/`n` or `Enable`/`Disable`; `None` when the reply has none.
    pub mail: Option<String>,
    /// `Enable`/`Disable`; `None` when absent (2017 firmware).
    pub failback: Option<String>,
    /// `None`: the reply has no `<FailoverCondition>`.
    pub conditions: Option<Vec<FwCondition>>,
    /// Where it stood in the reply, for messages.
    pub path: String,
}

/// One `FailoverIF`: its `Protocol` and `Port` texts, `None` when absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FwCondition {
    pub protocol: Option<String>,
    pub port: Option<String>,
}

/// Which spelling a record was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// `y`/`n`, `ping`/`tcp`, no `AutomaticFailback`.
    Sfos17,
    /// `Enable`/`Disable`, `PING`/`TCP`.
    Sfos19,
}

impl FwGroup {
    /// The spelling the firewall used for this group, if its values show
    /// one (an empty group of conditions without mail flag shows none).
    pub fn written(&self) -> Option<Written> {
        if self.failback.is_some() {
            return Some(Written::Sfos19);
        }
        let mail = self.mail.as_deref().map(|m| {
            if m.eq_ignore_ascii_case("y") || m.eq_ignore_ascii_case("n") {
                Written::Sfos17
            } else {
                Written::Sfos19
            }
        });
        let protocol = self.conditions.iter().flatten().find_map(|c| {
            let p = c.protocol.as_deref().filter(|p| !p.is_empty())?;
            Some(if p.chars().all(|c| c.is_ascii_lowercase()) {
                Written::Sfos17
            } else {
                Written::Sfos19
            })
        });
        mail.or(protocol)
    }
}

/// An IPsec connection, in the parts a connection table needs. There is
/// deliberately no field for the preshared key or any other secret.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FwConnection {
    pub name: String,
    pub connection_type: String,
    /// The peer's gateway (`RemoteHost`).
    pub remote_host: String,
    /// `AliasLocalWANPort`, else `LocalWANPort`.
    pub local_wan_port: String,
    pub local_subnets: Vec<String>,
    pub remote_networks: Vec<String>,
}

/// The failover groups of a `Get VPNFailoverGroup` reply.
pub fn groups(body: &str) -> Result<Vec<FwGroup>, ReadError> {
    let root = accepted(body)?;
    records(&root, Entity::VPNFailoverGroup, "GroupDetail")?
        .iter()
        .map(|(e, path)| group(e, path))
        .collect()
}

/// The IPsec connections of a `Get VPNIPSecConnection` reply.
pub fn connections(body: &str) -> Result<Vec<FwConnection>, ReadError> {
    let root = accepted(body)?;
    records(&root, Entity::VPNIPSecConnection, "Configuration")?
        .iter()
        .map(|(e, path)| connection(e, path))
        .collect()
}

/// Judges the reply as the push loop does, then reads it as a tree.
fn accepted(body: &str) -> Result<Element, ReadError> {
    let reply = response::parse(body).map_err(ReadError::Unreadable)?;
    let verdict = response::classify(&reply);
    if let Verdict::Configuration { fix } = verdict {
        return Err(ReadError::Refused(fix));
    }
    match &reply.login {
        Some(LoginStatus::Ok) => {}
        Some(LoginStatus::Failed(t)) => return Err(ReadError::Refused(format!("login failed: {t:?}"))),
        None => {
            let what = match &reply.request_status {
                Some(s) => format!("{} {}", s.code.map(|c| c.to_string()).unwrap_or_default(), s.text),
                None => "no <Login> status in the reply".to_string(),
            };
            return Err(ReadError::Refused(what.trim().to_string()));
        }
    }
    let coded = reply
        .request_status
        .iter()
        .chain(reply.entities.iter().map(|e| &e.status));
    if let Some(s) = coded.clone().find(|s| s.code.is_some_and(|c| !(200..300).contains(&c))) {
        return Err(ReadError::Refused(format!("{} {}", s.code.unwrap_or_default(), s.text)));
    }
    xml::parse(body).map_err(|e| ReadError::Unreadable(format!("at byte {}: {}", e.pos, e.message)))
}

/// Every record element of `entity` under `<Response>`, with its path.
fn records<'a>(root: &'a Element, entity: Entity, detail: &str) -> Result<Vec<(&'a Element, String)>, ReadError> {
    let entity = entity.name();
    let mut found = Vec::new();
    let mut empty = false;
    // By name, looked up: a reply of many distinct element names stays
    // linear (a scan per child was quadratic).
    let mut counts: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut index = |name: &'a str| {
        let slot = counts.entry(name).or_insert(0);
        *slot += 1;
        *slot
    };
    for child in &root.children {
        let path = format!("Response/{}[{}]", child.name, index(&child.name));
        if child.name == detail {
            match as_record(child, &path)? {
                Some(r) => found.push((r, path)),
                None => empty = true,
            }
        } else if child.name == entity {
            let mut inner = 0;
            for d in child.children.iter().filter(|d| d.name == detail) {
                inner += 1;
                let p = format!("{path}/{detail}[{inner}]");
                match as_record(d, &p)? {
                    Some(r) => found.push((r, p)),
                    None => empty = true,
                }
            }
            if inner == 0 {
                match as_record(child, &path)? {
                    Some(r) => found.push((r, path)),
                    None => empty = true,
                }
            }
        } else if child.name == "Status" {
            empty |= no_records(child);
        }
    }
    if found.is_empty() && !empty {
        let seen: Vec<String> = root.children.iter().map(|c| format!("<{}>", c.name)).collect();
        return Err(ReadError::Unreadable(format!(
            "Response: expected <{entity}> records (or <{detail}> ones) or the codeless \"No. of records Zero.\" \
             status; found {}",
            if seen.is_empty() {
                "nothing".to_string()
            } else {
                seen.join(", ")
            }
        )));
    }
    Ok(found)
}

/// A record element, or `None` for a codeless "no records" status in its
/// place; anything else is an error at `path`.
fn as_record<'a>(e: &'a Element, path: &str) -> Result<Option<&'a Element>, ReadError> {
    if e.children.iter().any(|c| c.name == "Name") {
        return Ok(Some(e));
    }
    if e.children.iter().any(|c| c.name == "Status" && no_records(c)) {
        return Ok(None);
    }
    Err(ReadError::Unreadable(format!(
        "{path}: expected a record with <Name>, or the codeless \"No. of records Zero.\" status"
    )))
}

/// The codeless empty-list status, read leniently (case, spacing, period).
fn no_records(status: &Element) -> bool {
    let coded = status.attrs.iter().any(|a| a.name == "code");
    let words: Vec<String> = status
        .trimmed()
        .trim_end_matches('.')
        .split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    !coded && words == ["no.", "of", "records", "zero"]
}

/// A value for a message: quoted, control characters escaped, at most 64
/// characters.
pub fn quote(text: &str) -> String {
    let short: String = text.chars().take(64).collect();
    let tail = if text.chars().count() > 64 { "..." } else { "" };
    format!("{short:?}{tail}")
}

fn unreadable(path: &str, field: &str, what: impl std::fmt::Display) -> ReadError {
    ReadError::Unreadable(format!("{path}/{field}: {what}"))
}

fn group(e: &Element, path: &str) -> Result<FwGroup, ReadError> {
    let name = text(e, "Name").unwrap_or_default();
    if !valid_name(&name) {
        return Err(unreadable(
            path,
            "Name",
            format_args!(
                "{} is not a group name failoverd can use: expected a letter, then letters, digits and _",
                quote(&name)
            ),
        ));
    }
    let path = format!("{path}[{name}]");
    let members: Vec<String> = e
        .children
        .iter()
        .filter(|c| c.name == "MemberConnections")
        .flat_map(|m| m.children.iter().filter(|c| c.name == "Connection"))
        .map(|c| c.trimmed().to_string())
        .collect();
    if members.is_empty() || members.iter().any(String::is_empty) {
        return Err(unreadable(
            &path,
            "MemberConnections",
            "expected one or more non-empty <Connection>",
        ));
    }
    let mail = flag(e, &path, "MailNotification", &["y", "n", "Enable", "Disable"])?;
    let failback = flag(e, &path, "AutomaticFailback", &["Enable", "Disable"])?;
    let conditions = match e.children.iter().find(|c| c.name == "FailoverCondition") {
        None => None,
        Some(fc) => Some(
            fc.children
                .iter()
                .filter(|c| c.name == "FailoverIF")
                .enumerate()
                .map(|(i, f)| condition(f, &format!("{path}/FailoverCondition/FailoverIF[{}]", i + 1)))
                .collect::<Result<_, _>>()?,
        ),
    };
    Ok(FwGroup {
        name,
        members,
        mail,
        failback,
        conditions,
        path,
    })
}

fn flag(e: &Element, path: &str, field: &str, spellings: &[&str]) -> Result<Option<String>, ReadError> {
    let Some(value) = text(e, field) else {
        return Ok(None);
    };
    if spellings.iter().any(|s| s.eq_ignore_ascii_case(&value)) {
        return Ok(Some(value));
    }
    Err(unreadable(
        path,
        field,
        format_args!("{}: expected one of {}", quote(&value), spellings.join(", ")),
    ))
}

fn condition(f: &Element, path: &str) -> Result<FwCondition, ReadError> {
    let protocol = text(f, "Protocol");
    let port = text(f, "Port");
    let p = protocol.as_deref().unwrap_or_default();
    if !["", "ping", "tcp"].iter().any(|s| s.eq_ignore_ascii_case(p)) {
        return Err(unreadable(
            path,
            "Protocol",
            format_args!("{}: expected PING, TCP or empty", quote(p)),
        ));
    }
    let number = port.as_deref().unwrap_or_default();
    let valid = number.parse::<u16>().is_ok_and(|n| n > 0);
    if !number.is_empty() && !valid {
        return Err(unreadable(
            path,
            "Port",
            format_args!("{}: expected a port 1..65535", quote(number)),
        ));
    }
    if p.eq_ignore_ascii_case("tcp") && !valid {
        return Err(unreadable(path, "Port", "expected a port 1..65535 for TCP"));
    }
    Ok(FwCondition { protocol, port })
}

fn connection(e: &Element, path: &str) -> Result<FwConnection, ReadError> {
    let name = text(e, "Name").unwrap_or_default();
    if name.is_empty() || name.chars().any(char::is_control) {
        return Err(unreadable(
            path,
            "Name",
            format_args!("{}: expected the connection's name", quote(&name)),
        ));
    }
    let list = |field: &str| -> Vec<String> {
        e.children
            .iter()
            .filter(|c| c.name == field)
            .map(|c| c.trimmed().to_string())
            .filter(|t| !t.is_empty())
            .collect()
    };
    let remote_networks = e
        .children
        .iter()
        .filter(|c| c.name == "RemoteNetwork")
        .flat_map(|r| {
            let nested: Vec<String> = r
                .children
                .iter()
                .filter(|c| c.name == "Network")
                .map(|c| c.trimmed().to_string())
                .collect();
            if nested.is_empty() && !r.trimmed().is_empty() {
                vec![r.trimmed().to_string()]
            } else {
                nested
            }
        })
        .filter(|t| !t.is_empty())
        .collect();
    Ok(FwConnection {
        connection_type: text(e, "ConnectionType").unwrap_or_default(),
        remote_host: text(e, "RemoteHost").unwrap_or_default(),
        local_wan_port: text(e, "AliasLocalWANPort")
            .filter(|t| !t.is_empty())
            .or_else(|| text(e, "LocalWANPort"))
            .unwrap_or_default(),
        local_subnets: list("LocalSubnet"),
        remote_networks,
        name,
    })
}

/// The trimmed text of the first child named `field`.
fn text(e: &Element, field: &str) -> Option<String> {
    e.children
        .iter()
        .find(|c| c.name == field)
        .map(|c| c.trimmed().to_string())
}

/// `^[A-Za-z][A-Za-z0-9_]*$`: the firewall's own rule, and what makes the
/// name safe as a file name.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic()) && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests;
