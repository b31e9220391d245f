//! Reads the firewall's XML replies and sorts them into the answer classes
//! the push loop branches on (docs/firewall-api.md, Answer classes). Pure functions, so every
//! reply shape in docs/firewall-api.md is pinned by table tests.
//!
//! The parser is deliberately lenient about shape (the status may sit under
//! `<VPNFailoverGroup>` or `<GroupDetail>`) and strict about safety: no
//! DOCTYPE, no entity but the five predefined ones and character references,
//! at most 1 MiB and 32 levels of nesting, so a hostile or broken reply costs
//! bounded memory and never panics. Verdicts are decided by status codes,
//! never by texts: texts vary by firmware.

use quick_xml::Reader;
use quick_xml::XmlVersion;
use quick_xml::events::{BytesRef, BytesStart, Event};

/// Largest reply body accepted, in bytes.
pub const MAX_BODY: usize = 1 << 20;
/// Deepest element nesting accepted.
pub const MAX_DEPTH: usize = 32;

/// What a reply said, in the parts failoverd looks at.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reply {
    /// `<Login><status>`: `None` when the reply has no `<Login>` (request-level errors).
    pub login: Option<LoginStatus>,
    /// A `<Status>` directly under `<Response>`: a request-level error.
    pub request_status: Option<Status>,
    /// Every element under `<Response>` (other than `<Login>`) carrying a `<Status>`.
    pub entities: Vec<EntityStatus>,
    /// Names of the VPNFailoverGroup records of a Get reply.
    pub records: Vec<String>,
}

impl Reply {
    /// Of `groups`, those a Get reply lists no record of; none when the
    /// reply lists no record at all (a firewall that answers a Get without
    /// its records tells nothing about which exist).
    pub fn missing<'a>(&self, groups: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
        if self.records.is_empty() {
            return Vec::new();
        }
        groups
            .into_iter()
            .filter(|g| !self.records.iter().any(|r| r == g))
            .collect()
    }
}

/// The login outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginStatus {
    /// "Authentication Successful".
    Ok,
    /// Anything else, with the text the firewall gave.
    Failed(String),
}

/// One `<Status code="...">text</Status>`; a missing or non-numeric code is `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub code: Option<u32>,
    pub text: String,
}

/// A status and the element under `<Response>` that carried it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityStatus {
    pub element: String,
    pub status: Status,
}

/// The answer class of a reply (docs/firewall-api.md, Answer classes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Entity code 2xx: the belief may be updated.
    Accepted { code: u32, text: String },
    /// Entity code >= 300, or a status without a code.
    Refused { code: Option<u32>, text: String },
    /// The API refuses us as a client: the whole client pauses; `fix` says
    /// what the admin must do.
    Configuration { fix: String },
    /// The reply could not be read; retried like a connection error.
    Transient { why: String },
}

/// Parses and classifies a reply body in one step; an unreadable body is
/// `Transient`.
pub fn judge(body: &str) -> Verdict {
    match parse(body) {
        Ok(reply) => classify(&reply),
        Err(why) => Verdict::Transient { why },
    }
}

/// Parses a reply body. Errors say why the body is not a usable reply.
pub fn parse(body: &str) -> Result<Reply, String> {
    if body.len() > MAX_BODY {
        return Err(format!(
            "reply of {} bytes is over the {MAX_BODY}-byte limit",
            body.len()
        ));
    }
    let mut reader = Reader::from_str(body);
    let mut walk = Walk::default();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("reply is not well-formed XML: {e}"))?;
        match event {
            Event::Start(start) => walk.open(&start)?,
            Event::Empty(start) => {
                walk.open(&start)?;
                walk.close()?;
            }
            Event::End(_) => walk.close()?,
            Event::Text(text) => walk.text(&text.xml10_content())?,
            Event::CData(data) => walk.text(&data.xml10_content())?,
            Event::GeneralRef(reference) => walk.text(&entity(&reference)?)?,
            Event::DocType(_) => return Err("reply has a DOCTYPE; refused".to_string()),
            Event::Eof => return walk.finish(),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
}

/// Resolves a reference: the five predefined entities and character
/// references only; anything else is refused, never expanded.
fn entity(reference: &BytesRef<'_>) -> Result<String, String> {
    if let Some(c) = reference
        .resolve_char_ref()
        .map_err(|e| format!("bad character reference in reply: {e}"))?
    {
        return Ok(c.to_string());
    }
    let name = reference.xml10_content();
    quick_xml::escape::resolve_predefined_entity(&name)
        .map(str::to_string)
        .ok_or_else(|| format!("reply uses the undeclared entity &{name};"))
}

/// An open element and, for `<Status>`, its code.
#[derive(Debug)]
struct Frame {
    name: String,
    code: Option<u32>,
}

/// The walk through a reply's events: the open elements and the text of the
/// innermost one.
#[derive(Debug, Default)]
struct Walk {
    stack: Vec<Frame>,
    text: String,
    root_seen: bool,
    login_status: Option<LoginStatus>,
    /// `<InvalidParams><Params>` paths seen in the element under
    /// `<Response>` being read, attached to its status when it closes.
    params: Vec<String>,
    reply: Reply,
}

impl Walk {
    fn open(&mut self, start: &BytesStart<'_>) -> Result<(), String> {
        let name = start.local_name().as_ref().to_string();
        if self.stack.len() >= MAX_DEPTH {
            return Err(format!("reply nests deeper than {MAX_DEPTH} elements"));
        }
        if self.stack.is_empty() {
            if self.root_seen {
                return Err("reply has content after </Response>".to_string());
            }
            if name != "Response" {
                return Err(format!("not a firewall reply: root <{name}>, not <Response>"));
            }
            self.root_seen = true;
        }
        let code = if name == "Status" { code(start) } else { None };
        self.stack.push(Frame { name, code });
        self.text.clear();
        Ok(())
    }

    fn text(&mut self, text: &str) -> Result<(), String> {
        if self.stack.is_empty() && !text.trim().is_empty() {
            return Err("reply has text outside <Response>".to_string());
        }
        self.text.push_str(text);
        Ok(())
    }

    fn close(&mut self) -> Result<(), String> {
        let path: Vec<&str> = self.stack.iter().map(|f| f.name.as_str()).collect();
        let text = self.text.trim().to_string();
        match path.as_slice() {
            ["Response", "Login", s] if s.eq_ignore_ascii_case("status") => {
                self.login_status = Some(login_status(&text));
            }
            ["Response", "Login"] => {
                let status = self.login_status.take();
                let missing = || LoginStatus::Failed("no login status".to_string());
                self.reply.login = Some(status.unwrap_or_else(missing));
            }
            ["Response", "Status"] if self.reply.request_status.is_none() => {
                let code = self.stack[1].code;
                self.reply.request_status = Some(Status { code, text });
            }
            ["Response", element, "Status"] => {
                let element = element.to_string();
                let status = Status {
                    code: self.stack[2].code,
                    text,
                };
                self.reply.entities.push(EntityStatus { element, status });
            }
            // An empty Get's codeless status, one level deeper, under the
            // entity's detail element (live firmware).
            ["Response", element, "GroupDetail" | "Configuration", "Status"] => {
                let element = element.to_string();
                let status = Status {
                    code: self.stack[3].code,
                    text,
                };
                self.reply.entities.push(EntityStatus { element, status });
            }
            ["Response", "VPNFailoverGroup", "Name"]
            | ["Response", "VPNFailoverGroup", "GroupDetail", "Name"]
            | ["Response", "GroupDetail", "Name"] => {
                self.reply.records.push(text);
            }
            // 501's path of the offending field, beside or inside its Status.
            [.., "InvalidParams", "Params"] if path.len() <= 5 && !text.is_empty() => {
                self.params.push(text);
            }
            ["Response", element] if !matches!(*element, "Login" | "InvalidParams") && !self.params.is_empty() => {
                let params = std::mem::take(&mut self.params).join(", ");
                let element = element.to_string();
                let target = match self.reply.entities.iter_mut().rev().find(|e| e.element == element) {
                    Some(e) => &mut e.status,
                    None => {
                        self.reply.entities.push(EntityStatus {
                            element,
                            status: Status {
                                code: None,
                                text: String::new(),
                            },
                        });
                        &mut self.reply.entities.last_mut().expect("just pushed").status
                    }
                };
                target.text = with_params(&target.text, &params);
            }
            _ => {}
        }
        self.stack.pop();
        self.text.clear();
        Ok(())
    }

    fn finish(mut self) -> Result<Reply, String> {
        if let Some(open) = self.stack.last() {
            return Err(format!("reply ends early: <{}> is not closed", open.name));
        }
        if !self.root_seen {
            return Err("reply holds no XML element".to_string());
        }
        // Paths directly under <Response>: the request-level status's.
        if !self.params.is_empty() {
            let params = self.params.join(", ");
            if let Some(s) = self.reply.request_status.as_mut() {
                s.text = with_params(&s.text, &params);
            }
        }
        Ok(self.reply)
    }
}

/// A status text with the offending fields' paths the firewall named.
fn with_params(text: &str, params: &str) -> String {
    if text.is_empty() {
        format!("invalid parameter: {params}")
    } else {
        format!("{text} (invalid parameter: {params})")
    }
}

/// The numeric `code` attribute of a `<Status>`, if it has a usable one.
fn code(start: &BytesStart<'_>) -> Option<u32> {
    let attribute = start.try_get_attribute("code").ok().flatten()?;
    let value = attribute.normalized_value(XmlVersion::Implicit1_0).ok()?;
    value.trim().parse().ok()
}

fn login_status(text: &str) -> LoginStatus {
    if text.eq_ignore_ascii_case("Authentication Successful") {
        LoginStatus::Ok
    } else {
        LoginStatus::Failed(text.to_string())
    }
}

/// The answer class of a write reply (push or sync).
pub fn classify(reply: &Reply) -> Verdict {
    if let Some(LoginStatus::Failed(text)) = &reply.login {
        return Verdict::Configuration {
            fix: format!(
                "the firewall refused the login ({text:?}): check [firewall] username and the \
                 password (repeated failures can lock the account for minutes)"
            ),
        };
    }
    let statuses = reply
        .request_status
        .iter()
        .chain(reply.entities.iter().map(|e| &e.status));
    if let Some(fix) = statuses.clone().find_map(configuration_fix) {
        return Verdict::Configuration { fix };
    }
    if let Some(status) = &reply.request_status {
        return refused_or_accepted(status);
    }
    let refused = reply.entities.iter().find(|e| !is_success(e.status.code));
    match (refused, reply.entities.first()) {
        (Some(entity), _) => refused_or_accepted(&entity.status),
        (None, Some(entity)) => refused_or_accepted(&entity.status),
        (None, None) => Verdict::Refused {
            code: None,
            text: "the reply carried no status for the request (unexpected reply shape)".to_string(),
        },
    }
}

/// Whether a Get reply counts as accepted: records, or a codeless
/// "No. of records Zero." (an empty list), after a successful login.
/// Call `classify` first for the configuration class and its fix.
pub fn get_accepted(reply: &Reply) -> bool {
    if reply.login != Some(LoginStatus::Ok) {
        return false;
    }
    if reply.request_status.as_ref().is_some_and(|s| s.code.is_some()) {
        return false;
    }
    let mut statuses = reply
        .request_status
        .iter()
        .chain(reply.entities.iter().map(|e| &e.status));
    !reply.records.is_empty() || statuses.any(|s| s.code.is_none() && no_records(&s.text))
}

/// The empty-list text, read leniently (case, spacing, final period).
fn no_records(text: &str) -> bool {
    let words: Vec<String> = text
        .trim_end_matches('.')
        .split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    words == ["no.", "of", "records", "zero"]
}

fn is_success(code: Option<u32>) -> bool {
    code.is_some_and(|c| (200..300).contains(&c))
}

fn refused_or_accepted(status: &Status) -> Verdict {
    match status.code {
        Some(code) if is_success(Some(code)) => Verdict::Accepted {
            code,
            text: status.text.clone(),
        },
        code => Verdict::Refused {
            code,
            text: status.text.clone(),
        },
    }
}

/// The admin's fix for codes that mean the API refuses us as a client.
fn configuration_fix(status: &Status) -> Option<String> {
    let text = &status.text;
    let fix = match status.code? {
        529 => format!(
            "529: the request was not understood ({text:?}): check [firewall] api_version and \
             spelling against the firmware"
        ),
        532 => format!(
            "API access is not enabled (532, {text:?}): switch on the API in the firewall's \
             admin console (Backup & firmware > API)"
        ),
        534 => format!(
            "API operations are not allowed from this host's address (534, {text:?}): add it \
             to the API's allowed addresses"
        ),
        599 => format!(
            "599: missing privilege ({text:?}): give the API account's profile write access \
             to VPN"
        ),
        _ => return None,
    };
    Some(fix)
}

#[cfg(test)]
mod tests;
