//! Group definitions: the firewall's own `VPNFailoverGroup` XML, read into
//! [`GroupDef`]s with every rule of docs/settings.md, Group files, checked and
//! every problem located.
//!
//! Paths in messages start at the group (`VPNFailoverGroup[HQ_VPN]`) and
//! leave out `GroupDetail`, so they read like
//! `VPNFailoverGroup[HQ_VPN]/FailoverCondition/FailoverIF[2]/Port`.

use std::collections::HashMap;

use super::diag::{Diagnostics, Source, hint};
use super::names::{self, Name};
use super::xml::{self, Element};

/// A failover condition: what to probe each target of each member with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Condition {
    Ping,
    Tcp(u16),
}

/// The admin's explicit wish for a group (`<Active>` or `<DeActive>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intent {
    Active,
    DeActive,
}

/// A member connection as named in the file, with its position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberRef {
    /// The connection's own copy once cross-checked ([`super::validate`]).
    pub name: Name,
    pub pos: usize,
    /// Its place among the `<Connection>` elements, from 1: the `i` of
    /// [`MemberRef::path`] (only messages need the path, so it is not kept
    /// as text).
    pub index: u32,
}

impl MemberRef {
    /// `VPNFailoverGroup[G]/MemberConnections/Connection[i]`, for messages.
    pub fn path(&self, group: &GroupDef) -> String {
        format!("{}/MemberConnections/Connection[{}]", group.path(), self.index)
    }
}

/// One `VPNFailoverGroup`, as defined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupDef {
    pub name: Name,
    /// Offset of `<Name>`'s text, for cross-file messages.
    pub name_pos: usize,
    /// Its place among the file's groups, from 1: [`GroupDef::path`] names
    /// a group by it when the name is missing.
    pub index: u32,
    /// Exactly as many as listed (no spare capacity).
    pub members: Vec<MemberRef>,
    pub mail: bool,
    pub failback: bool,
    /// Never empty: a group without any effective condition gets one PING.
    pub conditions: Vec<Condition>,
    pub intent: Option<Intent>,
    /// False when the name was missing or invalid (already reported): the
    /// group is still cross-checked, so its members are not reported as
    /// unused, but it never reaches a plan.
    pub named: bool,
}

impl GroupDef {
    /// `VPNFailoverGroup[G]`, for messages: by its place in the file when
    /// the name is missing, escaped when the name holds a line break or
    /// reordering character (never printed raw).
    pub fn path(&self) -> String {
        group_path(&self.name, self.index)
    }
}

fn group_path(name: &str, index: u32) -> String {
    if name.is_empty() {
        format!("VPNFailoverGroup[{index}]")
    } else if names::problem(name).is_some() {
        format!("VPNFailoverGroup[{}]", names::shown(name))
    } else {
        format!("VPNFailoverGroup[{name}]")
    }
}

/// Reads one group file's text. Problems go into `diags`; the groups that
/// could be read (even with errors) are returned for cross-checks.
pub fn read(src: &Source, diags: &mut Diagnostics) -> Vec<GroupDef> {
    let root = match xml::parse(&src.text) {
        Ok(root) => root,
        Err(e) => {
            diags.error(src, e.pos, "(document)", e.message);
            return Vec::new();
        }
    };
    let mut groups = Vec::new();
    let mut r = Reader { src, diags, index: 0 };
    match root.name.as_str() {
        "VPNFailoverGroup" => groups.extend(r.group(&root)),
        "VPNFailoverGroups" => r.list(&root, &mut groups),
        "Request" => r.request(&root, &mut groups),
        other => {
            let h = hint(other, &["VPNFailoverGroup", "VPNFailoverGroups", "Request"]);
            r.diags.error(
                src,
                root.pos,
                other,
                format!("unexpected root element <{other}>{h}; a group file holds <VPNFailoverGroup>, <VPNFailoverGroups> or <Request>"),
            );
        }
    }
    if groups.is_empty() && !r.diags.has_errors() {
        r.warn(root.pos, &root.name, "no <VPNFailoverGroup> in this file");
    }
    groups
}

struct Reader<'a> {
    src: &'a Source,
    diags: &'a mut Diagnostics,
    /// Groups seen so far in this file, for `VPNFailoverGroup[N]` paths.
    index: u32,
}

const GROUP_CHILDREN: &[&str] = &["GroupDetail", "Active", "DeActive"];
const DETAIL_CHILDREN: &[&str] = &[
    "Name",
    "MemberConnections",
    "MailNotification",
    "AutomaticFailback",
    "FailoverCondition",
];

impl Reader<'_> {
    fn error(&mut self, pos: usize, path: &str, msg: impl Into<String>) {
        self.diags.error(self.src, pos, path, msg);
    }

    fn warn(&mut self, pos: usize, path: &str, msg: impl Into<String>) {
        self.diags.warn(self.src, pos, path, msg);
    }

    /// Reports attributes other than `allowed` and `transactionid`.
    fn attrs(&mut self, el: &Element, path: &str, allowed: &[&str]) {
        for a in &el.attrs {
            if a.name == "transactionid" || allowed.contains(&a.name.as_str()) {
                continue;
            }
            let mut known = vec!["transactionid"];
            known.extend_from_slice(allowed);
            let h = hint(&a.name, &known);
            self.error(a.pos, path, format!("unknown attribute {}{h} on <{}>", a.name, el.name));
        }
    }

    /// Reports text inside an element that should only hold elements.
    fn no_text(&mut self, el: &Element, path: &str) {
        if let Some(p) = el.text_pos {
            self.error(
                p,
                path,
                format!("unexpected text in <{}>; it holds elements only", el.name),
            );
        }
    }

    /// Reports children not in `allowed`, and children that appear more
    /// than once when listed in `single`.
    fn children(&mut self, el: &Element, path: &str, allowed: &[&str], single: &[&str]) {
        self.no_text(el, path);
        let mut seen: Vec<&str> = Vec::new();
        for c in &el.children {
            if !allowed.contains(&c.name.as_str()) {
                let h = hint(&c.name, allowed);
                self.error(
                    c.pos,
                    &format!("{path}/{}", c.name),
                    format!("unknown element <{}>{h} in <{}>", c.name, el.name),
                );
            } else if single.contains(&c.name.as_str()) && seen.contains(&c.name.as_str()) {
                self.error(
                    c.pos,
                    &format!("{path}/{}", c.name),
                    format!("<{}> appears more than once in <{}>; keep one", c.name, el.name),
                );
            }
            seen.push(&c.name);
        }
    }

    fn list(&mut self, root: &Element, out: &mut Vec<GroupDef>) {
        self.attrs(root, "VPNFailoverGroups", &[]);
        self.children(root, "VPNFailoverGroups", &["VPNFailoverGroup"], &[]);
        for c in root.children.iter().filter(|c| c.name == "VPNFailoverGroup") {
            out.extend(self.group(c));
        }
    }

    fn request(&mut self, root: &Element, out: &mut Vec<GroupDef>) {
        self.attrs(root, "Request", &["APIVersion"]);
        self.children(root, "Request", &["Login", "Set"], &["Login"]);
        if let Some(login) = root.children.iter().find(|c| c.name == "Login") {
            self.warn(
                login.pos,
                "Request/Login",
                "<Login> holds the API password in this file; failoverd ignores it (the password comes from the settings): remove <Login> from the file",
            );
        }
        for (i, set) in root.children.iter().filter(|c| c.name == "Set").enumerate() {
            let path = format!("Request/Set[{}]", i + 1);
            self.attrs(set, &path, &["operation"]);
            self.children(set, &path, &["VPNFailoverGroup"], &[]);
            for c in set.children.iter().filter(|c| c.name == "VPNFailoverGroup") {
                out.extend(self.group(c));
            }
        }
    }

    fn group(&mut self, el: &Element) -> Option<GroupDef> {
        self.index += 1;
        let detail = el.children.iter().find(|c| c.name == "GroupDetail");
        let name_el = detail.and_then(|d| d.children.iter().find(|c| c.name == "Name"));
        let name = name_el.map(|n| n.trimmed().to_string()).unwrap_or_default();
        let path = group_path(&name, self.index);
        self.attrs(el, &path, &[]);
        self.children(el, &path, GROUP_CHILDREN, GROUP_CHILDREN);
        let Some(detail) = detail else {
            self.error(
                el.pos,
                &path,
                "missing <GroupDetail>: a group needs <GroupDetail> with <Name> and <MemberConnections>",
            );
            return None;
        };
        self.attrs(detail, &path, &[]);
        self.children(detail, &path, DETAIL_CHILDREN, DETAIL_CHILDREN);
        let name_ok = self.name(name_el, detail, &path);
        let members = self.members(detail, &path);
        let mail = self.flag(detail, &path, "MailNotification", false);
        let failback = self.flag(detail, &path, "AutomaticFailback", true);
        let conditions = self.conditions(detail, &path);
        let intent = self.intent(el, &path, &name);
        Some(GroupDef {
            name: name.into(),
            name_pos: name_ok.unwrap_or(detail.pos),
            index: self.index,
            members,
            mail,
            failback,
            conditions,
            intent,
            named: name_ok.is_some(),
        })
    }

    /// Checks `<Name>`; returns the offset of its text when valid.
    fn name(&mut self, el: Option<&Element>, detail: &Element, path: &str) -> Option<usize> {
        let Some(el) = el else {
            self.error(
                detail.pos,
                &format!("{path}/Name"),
                "missing <Name> in <GroupDetail>: every group needs a name",
            );
            return None;
        };
        self.leaf(el, &format!("{path}/Name"));
        let name = el.trimmed();
        if name.is_empty() {
            self.error(
                el.pos,
                &format!("{path}/Name"),
                "empty <Name>: every group needs a name",
            );
            return None;
        }
        if !valid_name(name) {
            self.error(
                el.value_pos(),
                &format!("{path}/Name"),
                format!(
                    "invalid group name {}: it must start with a letter and hold only letters, digits and _",
                    names::shown(name)
                ),
            );
            return None;
        }
        if let Some(p) = names::problem(name) {
            let msg = format!("group name {} {p}", names::shown(name));
            self.error(el.value_pos(), &format!("{path}/Name"), msg);
            return None;
        }
        Some(el.value_pos())
    }

    /// Reports attributes and children of an element that holds only text.
    fn leaf(&mut self, el: &Element, path: &str) {
        self.attrs(el, path, &[]);
        for c in &el.children {
            self.error(
                c.pos,
                &format!("{path}/{}", c.name),
                format!("unexpected element <{}> in <{}>; it holds text only", c.name, el.name),
            );
        }
    }

    fn members(&mut self, detail: &Element, path: &str) -> Vec<MemberRef> {
        let Some(mc) = detail.children.iter().find(|c| c.name == "MemberConnections") else {
            self.error(
                detail.pos,
                &format!("{path}/MemberConnections"),
                "missing <MemberConnections>: list the group's connections, primary first",
            );
            return Vec::new();
        };
        let mpath = format!("{path}/MemberConnections");
        self.attrs(mc, &mpath, &[]);
        self.children(mc, &mpath, &["Connection"], &[]);
        let mut out: Vec<MemberRef> = Vec::new();
        // Name -> index in `out`: a lookup per member keeps a group of
        // 200,000 members linear (a scan of `out` made it quadratic).
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, c) in (1..).zip(mc.children.iter().filter(|c| c.name == "Connection")) {
            let cpath = format!("{mpath}/Connection[{i}]");
            self.leaf(c, &cpath);
            let name = c.trimmed();
            if name.is_empty() {
                self.error(c.pos, &cpath, "empty <Connection>: name an IPsec connection");
                continue;
            }
            if let Some(p) = names::problem(name) {
                let msg = format!("connection name {} {p}", names::shown(name));
                self.error(c.value_pos(), &cpath, msg);
                continue;
            }
            if let Some(first) = seen.get(name).map(|at| &out[*at]) {
                let msg = format!(
                    "connection {name} is listed twice in this group (first as Connection[{}]); list each member once",
                    first.index
                );
                self.error(c.value_pos(), &cpath, msg);
                continue;
            }
            seen.insert(name.to_string(), out.len());
            out.push(MemberRef {
                name: name.into(),
                pos: c.value_pos(),
                index: i,
            });
        }
        if out.is_empty() && !mc.children.iter().any(|c| c.name == "Connection") {
            self.error(
                mc.pos,
                &mpath,
                "no <Connection> in <MemberConnections>: a group needs at least one member",
            );
        }
        // Kept for the daemon's life: a group of 2 grew to 4 slots.
        out.shrink_to_fit();
        out
    }

    /// Reads `MailNotification` or `AutomaticFailback`.
    fn flag(&mut self, detail: &Element, path: &str, what: &str, default: bool) -> bool {
        let Some(el) = detail.children.iter().find(|c| c.name == what) else {
            return default;
        };
        let fpath = format!("{path}/{what}");
        self.leaf(el, &fpath);
        let v = el.trimmed().to_ascii_lowercase();
        let mail = what == "MailNotification";
        match v.as_str() {
            "enable" => true,
            "disable" => false,
            "y" if mail => true,
            "n" if mail => false,
            _ => {
                let allowed = if mail {
                    "Enable or Disable (or y / n)"
                } else {
                    "Enable or Disable"
                };
                self.error(
                    el.value_pos(),
                    &fpath,
                    format!("invalid {what} {:?}: use {allowed}", el.trimmed()),
                );
                default
            }
        }
    }

    fn conditions(&mut self, detail: &Element, path: &str) -> Vec<Condition> {
        let mut out = Vec::new();
        if let Some(fc) = detail.children.iter().find(|c| c.name == "FailoverCondition") {
            let cpath = format!("{path}/FailoverCondition");
            self.attrs(fc, &cpath, &[]);
            self.children(fc, &cpath, &["FailoverIF"], &[]);
            for (i, f) in fc.children.iter().filter(|c| c.name == "FailoverIF").enumerate() {
                let fpath = format!("{cpath}/FailoverIF[{}]", i + 1);
                if let Some(c) = self.failover_if(f, &fpath) {
                    out.push(c);
                }
            }
        }
        if out.is_empty() {
            out.push(Condition::Ping);
        }
        out.shrink_to_fit();
        out
    }

    fn failover_if(&mut self, f: &Element, path: &str) -> Option<Condition> {
        self.attrs(f, path, &[]);
        self.children(f, path, &["Protocol", "Port"], &["Protocol", "Port"]);
        let proto_el = f.children.iter().find(|c| c.name == "Protocol");
        let port_el = f.children.iter().find(|c| c.name == "Port");
        let proto = match proto_el {
            Some(p) => {
                self.leaf(p, &format!("{path}/Protocol"));
                p.trimmed().to_ascii_lowercase()
            }
            None => {
                self.warn(f.pos, &format!("{path}/Protocol"), "<FailoverIF> without <Protocol> is read as an empty protocol and ignored; add <Protocol>PING</Protocol> or <Protocol>TCP</Protocol>");
                String::new()
            }
        };
        let port = port_el.and_then(|p| self.port(p, &format!("{path}/Port")));
        match proto.as_str() {
            "" => None,
            "ping" => {
                if let (Some(p), Some(_)) = (port_el, port) {
                    self.warn(
                        p.pos,
                        &format!("{path}/Port"),
                        "a port on a PING condition is ignored; remove it, or use TCP",
                    );
                }
                Some(Condition::Ping)
            }
            "tcp" => match (port_el, port) {
                (_, Some(n)) => Some(Condition::Tcp(n)),
                (Some(p), None) if !p.trimmed().is_empty() => None,
                _ => {
                    let at = port_el.map_or(f.pos, |p| p.pos);
                    self.error(
                        at,
                        &format!("{path}/Port"),
                        "TCP needs a port: add <Port>N</Port> with N from 1 to 65535",
                    );
                    None
                }
            },
            _ => {
                let p = proto_el.map_or(f.pos, Element::value_pos);
                let h = hint(&proto, &["ping", "tcp"]);
                self.error(
                    p,
                    &format!("{path}/Protocol"),
                    format!(
                        "unknown protocol {:?}{h}: use PING, TCP or leave it empty",
                        proto_el.map_or("", |e| e.trimmed())
                    ),
                );
                None
            }
        }
    }

    /// Reads a `<Port>`: empty means no port.
    fn port(&mut self, el: &Element, path: &str) -> Option<u16> {
        self.leaf(el, path);
        let v = el.trimmed();
        if v.is_empty() {
            return None;
        }
        match v.parse::<u32>() {
            Ok(n) if (1..=65535).contains(&n) => u16::try_from(n).ok(),
            Ok(_) => {
                self.error(
                    el.value_pos(),
                    path,
                    format!("port {v} is out of range: use 1 to 65535"),
                );
                None
            }
            Err(_) => {
                self.error(
                    el.value_pos(),
                    path,
                    format!("port {v:?} is not a number: use 1 to 65535"),
                );
                None
            }
        }
    }

    fn intent(&mut self, el: &Element, path: &str, name: &str) -> Option<Intent> {
        let active = el.children.iter().find(|c| c.name == "Active");
        let deactive = el.children.iter().find(|c| c.name == "DeActive");
        if let (Some(_), Some(d)) = (active, deactive) {
            self.error(
                d.pos,
                &format!("{path}/DeActive"),
                "both <Active> and <DeActive> are given: choose one",
            );
            return None;
        }
        let (el, intent) = match (active, deactive) {
            (Some(a), _) => (a, Intent::Active),
            (_, Some(d)) => (d, Intent::DeActive),
            _ => return None,
        };
        let ipath = format!("{path}/{}", el.name);
        self.attrs(el, &ipath, &[]);
        self.children(el, &ipath, &["Name"], &["Name"]);
        let Some(n) = el.children.iter().find(|c| c.name == "Name") else {
            self.error(
                el.pos,
                &format!("{ipath}/Name"),
                format!("<{}> needs <Name>{name}</Name>", el.name),
            );
            return None;
        };
        self.leaf(n, &format!("{ipath}/Name"));
        if n.trimmed() != name {
            self.error(
                n.value_pos(),
                &format!("{ipath}/Name"),
                format!(
                    "<{}> names {}, not this group ({}); it can only name its own group",
                    el.name,
                    names::shown(n.trimmed()),
                    names::shown(name)
                ),
            );
            return None;
        }
        Some(intent)
    }
}

/// `^[A-Za-z][A-Za-z0-9_]*$`.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic()) && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
