//! The emulated firewall's answers: one request document in, one reply
//! document out, and the group store changed as docs/firewall-api.md describes
//! (source check, login, request-level errors, Set add/update, Active and
//! DeActive, Get, Remove). No I/O here; the server feeds it and applies the
//! transport faults.

use crate::config::Spellings;
use crate::config::{EmulatorConfig, Fault, Texts};
use crate::group::{self, Definition};
use crate::ipsec::{self, IpsecConnection};
use crate::xml::{self, Element, escape};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// One group on the emulated firewall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub definition: Definition,
    pub active: bool,
}

/// Everything the emulated firewall keeps, by group name.
#[derive(Debug, Clone, Default)]
pub struct State {
    pub groups: BTreeMap<String, Group>,
    /// IPsec connections, only ever read (Get VPNIPSecConnection).
    pub connections: BTreeMap<String, IpsecConnection>,
    /// The tunnel table served over SNMP, when an agent is attached:
    /// accepted pushes change its rows.
    pub tunnels: Option<std::sync::Arc<crate::tunnels::Tunnels>>,
    /// Raw `<GroupDetail>` records added to every Get of the groups, as
    /// written (test setup: a duplicate, an unknown or a missing field).
    pub extra_records: Vec<String>,
}

/// What a request asked for, per group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    Add,
    Update,
    /// `<Set>` without `operation`: add, then update.
    AddOrUpdate,
    Active,
    DeActive,
    Get,
    Remove,
}

/// One parsed action and its outcome (`code` is `None` for a Get).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupAction {
    /// The group's name; empty for a Get of every group.
    pub group: String,
    pub action: ActionKind,
    pub code: Option<u32>,
    /// Why the action was refused; empty when it was not.
    pub note: String,
}

/// What the request handler needs besides the document.
pub struct Context<'a> {
    pub config: &'a EmulatorConfig,
    pub faults: &'a [Fault],
    pub texts: Texts,
    pub peer: IpAddr,
}

/// The reply body and the actions it answered.
#[derive(Debug, Clone)]
pub struct Answer {
    pub body: String,
    pub actions: Vec<GroupAction>,
}

const FILE_INVALID: &str = "Input request file is Invalid";
const MODULE_INVALID: &str = "Input request module is Invalid";

/// Answers one request document.
pub fn handle(document: &str, ctx: &Context<'_>, state: &mut State) -> Answer {
    if let Some(refusal) = gate(ctx) {
        return refusal;
    }
    let request = match xml::parse(document) {
        Ok(root) if root.name == "Request" => root,
        _ => return request_error(529, FILE_INVALID),
    };
    if ctx.config.require_api_version && request.attribute("APIVersion").is_none() {
        return request_error(529, "There is no API Version");
    }
    let operations: Vec<&Element> = request.children.iter().filter(|c| c.name != "Login").collect();
    let known = |op: &&Element| {
        let entity = |e: &Element| e.name == "VPNFailoverGroup" || (op.name == "Get" && e.name == "VPNIPSecConnection");
        matches!(op.name.as_str(), "Set" | "Get" | "Remove") && op.children.iter().all(entity)
    };
    if !operations.iter().all(known) {
        return request_error(529, MODULE_INVALID);
    }
    if !login_ok(&request, ctx) {
        let body = wrap("<Login><status>Authentication Failure</status></Login>");
        return Answer {
            body,
            actions: Vec::new(),
        };
    }
    let mut inner = String::from("<Login><status>Authentication Successful</status></Login>");
    let mut actions = Vec::new();
    for op in operations {
        for entity in &op.children {
            inner.push_str(&operation(op, entity, ctx, state, &mut actions));
        }
    }
    Answer {
        body: wrap(&inner),
        actions,
    }
}

/// The request-level refusals that come before parsing: 534 and 532.
fn gate(ctx: &Context<'_>) -> Option<Answer> {
    let allowed = ctx.config.allowed.as_ref().is_none_or(|list| list.contains(&ctx.peer));
    if ctx.faults.contains(&Fault::DenyAll) || !allowed {
        return Some(request_error(
            534,
            "API operations are not allowed from the requester IP address",
        ));
    }
    if ctx.faults.contains(&Fault::ApiDisabled) {
        return Some(request_error(532, "API access is disabled"));
    }
    None
}

fn login_ok(request: &Element, ctx: &Context<'_>) -> bool {
    let Some(login) = request.child("Login") else {
        return false;
    };
    let username = login.child("Username").map(|u| u.text.as_str());
    let password = login.child("Password").map(|p| p.text.as_str());
    !ctx.faults.contains(&Fault::LoginFailure)
        && username.map(str::trim) == Some(ctx.config.username.as_str())
        && password == Some(ctx.config.password.as_str())
}

fn operation(
    op: &Element,
    entity: &Element,
    ctx: &Context<'_>,
    state: &mut State,
    actions: &mut Vec<GroupAction>,
) -> String {
    match op.name.as_str() {
        "Get" => {
            actions.push(GroupAction {
                group: String::new(),
                action: ActionKind::Get,
                code: None,
                note: entity.name.clone(),
            });
            if entity.name == "VPNIPSecConnection" {
                let records = state.connections.values().map(ipsec::render).collect();
                get_reply(ctx, "VPNIPSecConnection", "Configuration", records)
            } else {
                get(ctx, state)
            }
        }
        "Remove" => {
            let name = entity.child_text("Name").unwrap_or_default().to_string();
            if ctx.faults.contains(&Fault::RemoveSilent) && !state.groups.contains_key(&name) {
                actions.push(GroupAction {
                    group: name,
                    action: ActionKind::Remove,
                    code: Some(200),
                    note: "no status".to_string(),
                });
                return String::new();
            }
            let code = forced_code(ctx).unwrap_or_else(|| if state.groups.remove(&name).is_some() { 200 } else { 500 });
            actions.push(GroupAction {
                group: name.clone(),
                action: ActionKind::Remove,
                code: Some(code),
                note: String::new(),
            });
            entity_status(ctx, code, &status_text(ctx.texts, code, ActionKind::Remove, &name))
        }
        _ => set::set(op.attribute("operation"), entity, ctx, state, actions),
    }
}

/// Every group, or the codeless "No. of records Zero." when there is none,
/// in the spelling the firmware takes unless a Get fault chooses another.
fn get(ctx: &Context<'_>, state: &State) -> String {
    let spellings = |i: usize| {
        let old = ctx.faults.contains(&Fault::GetSfos17) || (ctx.faults.contains(&Fault::GetMixed) && i % 2 == 1);
        if old { Spellings::Sfos17 } else { ctx.config.spellings }
    };
    let mut records: Vec<String> = state
        .groups
        .values()
        .enumerate()
        .map(|(i, g)| group::render(&g.definition, spellings(i)))
        .collect();
    records.extend(state.extra_records.iter().cloned());
    get_reply(ctx, "VPNFailoverGroup", "GroupDetail", records)
}

/// A Get reply in the shape the Get faults choose: one entity element per
/// record (default), all in one (`GetOneEntity`) or none (`GetBare`); the
/// empty reply's codeless status under the entity or its detail element.
fn get_reply(ctx: &Context<'_>, entity: &str, detail: &str, records: Vec<String>) -> String {
    let open = format!("<{entity} transactionid=\"\">");
    let close = format!("</{entity}>");
    if records.is_empty() {
        let status = "<Status>No. of records Zero.</Status>";
        return if ctx.faults.contains(&Fault::GetBare) {
            format!("<{detail}>{status}</{detail}>")
        } else if ctx.faults.contains(&Fault::GetDeepEmpty) {
            format!("{open}<{detail}>{status}</{detail}>{close}")
        } else {
            format!("{open}{status}{close}")
        };
    }
    if ctx.faults.contains(&Fault::GetBare) {
        records.concat()
    } else if ctx.faults.contains(&Fault::GetOneEntity) {
        format!("{open}{}{close}", records.concat())
    } else {
        records.iter().map(|r| format!("{open}{r}{close}")).collect()
    }
}

/// The status code that the EntityCode and NoPrivilege faults force on
/// every write; nothing is applied then.
fn forced_code(ctx: &Context<'_>) -> Option<u32> {
    ctx.faults.iter().find_map(|f| match f {
        Fault::EntityCode(code) => Some(*code),
        Fault::NoPrivilege => Some(599),
        Fault::InvalidParams => Some(501),
        _ => None,
    })
}

/// The status texts: the seed document's, or the generic success text.
fn status_text(texts: Texts, code: u32, kind: ActionKind, name: &str) -> String {
    match (code, kind) {
        (200..=299, _) if texts == Texts::Generic => "Configuration applied successfully.".to_string(),
        (200..=299, ActionKind::Add) => {
            format!("Failover group \"{name}\" has been created successfully")
        }
        (200..=299, ActionKind::Remove) => {
            format!("Failover group \"{name}\" has been deleted successfully")
        }
        (200..=299, _) => format!("Failover group \"{name}\" has been updated successfully"),
        (500, ActionKind::Add) => format!("Connection group \"{name}\" could not be created"),
        (500, ActionKind::Remove) => format!("Connection group \"{name}\" could not be deleted"),
        (500, _) => format!("Connection group \"{name}\" could not be updated"),
        (502, _) => format!(
            "Connection group could not be created. Connection group with the same name as \"{name}\" \
             already exists. Choose a different name"
        ),
        (599, _) => "Operation not permitted: missing privilege.".to_string(),
        (501, _) => "Configuration parameters validation failed.".to_string(),
        _ => "Operation failed.".to_string(),
    }
}

fn entity_status(ctx: &Context<'_>, code: u32, text: &str) -> String {
    entity_status_of(ctx, code, text, None)
}

/// The status element of one write entity, in the shape the faults choose;
/// `action` is the entity's Active or DeActive, if any.
fn entity_status_of(ctx: &Context<'_>, code: u32, text: &str, action: Option<ActionKind>) -> String {
    let wrapper = if ctx.faults.contains(&Fault::WriteAction) {
        match action {
            Some(ActionKind::Active) => "Active",
            Some(ActionKind::DeActive) => "DeActive",
            _ => "GroupDetail",
        }
    } else if ctx.faults.contains(&Fault::WriteConfiguration) {
        "Configuration"
    } else if ctx.faults.contains(&Fault::AltWrapper) {
        "GroupDetail"
    } else {
        "VPNFailoverGroup"
    };
    let params = if code == 501 && ctx.faults.contains(&Fault::InvalidParams) {
        "<InvalidParams><Params>/VPNFailoverGroup/GroupDetail/MailNotification</Params></InvalidParams>"
    } else {
        ""
    };
    let open = if wrapper == "VPNFailoverGroup" || wrapper == "GroupDetail" {
        format!("<{wrapper} transactionid=\"\">")
    } else {
        format!("<{wrapper}>")
    };
    format!(
        "{open}<Status code=\"{code}\">{}</Status>{params}</{wrapper}>",
        escape(text)
    )
}

fn request_error(code: u32, text: &str) -> Answer {
    let body = wrap(&format!("<Status code=\"{code}\">{}</Status>", escape(text)));
    Answer {
        body,
        actions: Vec::new(),
    }
}

fn wrap(inner: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response APIVersion=\"1905.1\" \
         IPS_CAT_VER=\"1\">{inner}</Response>\n"
    )
}

/// The group names a request mentions (for the in-flight count); a
/// document that does not parse mentions none.
pub fn group_names(document: &str) -> Vec<String> {
    let Ok(request) = xml::parse(document) else {
        return Vec::new();
    };
    let mut names: Vec<String> = Vec::new();
    for entity in request.children.iter().flat_map(|op| op.children.iter()) {
        let candidates = [
            entity.child("GroupDetail").and_then(|d| d.child_text("Name")),
            entity.child("Active").and_then(|a| a.child_text("Name")),
            entity.child("DeActive").and_then(|d| d.child_text("Name")),
            entity.child_text("Name"),
        ];
        for name in candidates.into_iter().flatten() {
            if !name.is_empty() && !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
        }
    }
    names
}

mod set;

#[cfg(test)]
mod tests;
