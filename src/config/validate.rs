//! Cross-checks between the settings and the group files: unique group
//! names, members that exist and belong to one group, unused connections,
//! members probed identically; and what each group is (intent, underlay,
//! tunnel), which decides what failoverd may do to it.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::Hash;
use std::path::Path;
use std::sync::Arc;

use super::diag::{Diagnostics, Source};
use super::groups::{GroupDef, Intent, MemberRef};
use super::names::Name;
use super::settings::{Connection, Settings, Via};

/// What failoverd may push for a group (docs/safety.md, Kinds of group).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupKind {
    /// `<Active>`/`<DeActive>` in the file: that state only.
    Intent(Intent),
    /// Every member `via = "underlay"`.
    Underlay,
    /// Any member `via = "tunnel"`.
    Tunnel,
}

/// A group, validated against the settings.
#[derive(Clone, Debug)]
pub struct Group {
    pub def: GroupDef,
    /// One copy per group file, shared by its groups.
    pub file: Arc<Path>,
    pub kind: GroupKind,
    /// Two members probed identically (their names), if any: an underlay
    /// group with such members is never deactivated, only mailed about.
    /// Boxed: rare, and 8 bytes instead of 48 in every group.
    pub identical: Option<Box<(String, String)>>,
}

/// `defs`: each group file's text and the groups read from it, moved into
/// the groups returned (not copied).
pub fn cross_check(
    settings_src: &Source,
    settings: &Settings,
    defs: Vec<(Source, Vec<GroupDef>)>,
    d: &mut Diagnostics,
) -> Vec<Group> {
    let mut names: BTreeMap<String, (usize, usize, String)> = BTreeMap::new();
    let mut member_of: BTreeMap<Name, Name> = BTreeMap::new();
    // Exactly the groups read: no doubling while it fills.
    let mut groups = Vec::with_capacity(defs.iter().map(|(_, l)| l.len()).sum());
    let (sources, lists): (Vec<Source>, Vec<Vec<GroupDef>>) = defs.into_iter().unzip();
    for (fi, list) in lists.into_iter().enumerate() {
        let src = &sources[fi];
        let file: Arc<Path> = Arc::from(src.path.as_path());
        for mut def in list {
            share_member_names(&mut def, settings);
            let lower = def.name.to_ascii_lowercase();
            if !def.named {
                members(src, &def, settings, &mut member_of, d);
                continue;
            }
            if let Some((first_fi, pos, first)) = names.get(&lower) {
                let first_src = &sources[*first_fi];
                let (line, col) = first_src.line_col(*pos);
                let msg = format!(
                    "group name {} is already used by {first} at {}:{line}:{col} (names are compared without case): rename one",
                    def.name,
                    first_src.path.display()
                );
                d.error(src, def.name_pos, &format!("{}/Name", def.path()), msg);
                continue;
            }
            names.insert(lower, (fi, def.name_pos, def.name.to_string()));
            members(src, &def, settings, &mut member_of, d);
            let identical = identical_members(src, &def, settings, d).map(Box::new);
            groups.push(Group {
                kind: kind(&def, settings),
                def,
                file: file.clone(),
                identical,
            });
        }
    }
    if groups.is_empty() && !d.has_errors() {
        d.error(
            settings_src,
            0,
            "groups",
            "no group is defined in the group files: add a <VPNFailoverGroup>",
        );
    }
    for (name, c) in &settings.connections {
        if !member_of.contains_key(name) {
            let msg = format!("connection {name} is not a member of any group; it is not probed");
            d.warn(settings_src, c.pos, &format!("connections.{name}"), msg);
        }
    }
    // Kept for the daemon's life: no spare capacity.
    groups.shrink_to_fit();
    groups
}

fn members(
    src: &Source,
    def: &GroupDef,
    settings: &Settings,
    member_of: &mut BTreeMap<Name, Name>,
    d: &mut Diagnostics,
) {
    for m in &def.members {
        let path = || m.path(def);
        if !settings.connections.contains_key(&m.name) {
            let known: Vec<&str> = settings.connections.keys().collect();
            let msg = format!(
                "connection {}{} has no settings: add [connections.{}] with targets = [...] to {}",
                m.name,
                super::diag::hint(&m.name, &known),
                m.name,
                settings.file.display()
            );
            d.error(src, m.pos, &path(), msg);
        }
        if let Some(other) = member_of.get(&m.name) {
            if other != &def.name {
                let msg = format!(
                    "connection {} is already a member of group {other}: a connection belongs to at most one group",
                    m.name
                );
                d.error(src, m.pos, &path(), msg);
            }
            continue;
        }
        member_of.insert(m.name.clone(), def.name.clone());
    }
}

/// Members name their connection with the connection's own copy of the
/// name: one copy per connection in the plan (and in every table that
/// clones it), not one more per group file's mention.
fn share_member_names(def: &mut GroupDef, settings: &Settings) {
    for m in &mut def.members {
        if let Some(c) = settings.connections.get(&m.name) {
            m.name = c.name.clone();
        }
    }
}

fn kind(def: &GroupDef, settings: &Settings) -> GroupKind {
    if let Some(i) = def.intent {
        return GroupKind::Intent(i);
    }
    let tunnel = def
        .members
        .iter()
        .any(|m| settings.connections.get(&m.name).is_none_or(|c| c.via == Via::Tunnel));
    if tunnel { GroupKind::Tunnel } else { GroupKind::Underlay }
}

/// What makes two members' check streams the same.
fn probe_key(c: &Connection) -> impl Hash + Eq + '_ {
    let mut targets: Vec<_> = c.targets.iter().collect();
    targets.sort();
    (
        targets,
        c.source,
        c.interface.as_deref(),
        c.family,
        c.timing.interval,
        c.timing.timeout,
    )
}

fn identical_members(
    src: &Source,
    def: &GroupDef,
    settings: &Settings,
    d: &mut Diagnostics,
) -> Option<(String, String)> {
    // Each member's key once, looked up: linear in members (comparing every
    // pair was quadratic in a group of thousands).
    let mut first_with: HashMap<_, &MemberRef> = HashMap::new();
    for m in &def.members {
        let Some(c) = settings.connections.get(&m.name) else {
            continue;
        };
        let first = match first_with.entry(probe_key(c)) {
            Entry::Occupied(e) => *e.get(),
            Entry::Vacant(e) => {
                e.insert(m);
                continue;
            }
        };
        let underlay = c.via == Via::Underlay && def.intent.is_none();
        let consequence = if underlay {
            "so failoverd will never deactivate this group, only mail about it"
        } else {
            "so their health is judged as one (fine for a tunnel group probing a host behind whichever tunnel is up)"
        };
        let msg = format!(
            "members {} and {} are probed identically (same targets, source, interface and timing): failoverd cannot tell them apart, {consequence}; to tell them apart give each a target only reachable through it, or set source or interface",
            first.name, m.name
        );
        d.warn(src, m.pos, &m.path(def), msg);
        return Some((first.name.to_string(), m.name.to_string()));
    }
    None
}
