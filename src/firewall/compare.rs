//! Comparing each group file's definition with the one the firewall holds
//! (contract section 17, docs/definitions.md): member order, mail
//! notification, automatic failback and failover conditions, whatever
//! spelling either side uses.
//!
//! Both sides are first brought to one meaning, as failoverd reads a group
//! file: `y`/`Enable` and `n`/`Disable` are the same, `ping`/`PING` and
//! `tcp`/`TCP` too; a condition with an empty protocol does nothing; a
//! port on a PING condition is ignored; no condition left means one PING;
//! an absent `AutomaticFailback` is Enable and an absent
//! `MailNotification` is off (the file's defaults, and what the firewall
//! fills in). Only then are they compared, so a difference here is one
//! the firewall would act on.
//!
//! Groups are matched by exact name. A firewall group whose name differs
//! from a file's only in case is not the same group: it is reported as a
//! difference of the name, which no automatic sync puts right (the admin
//! chooses which spelling stays). A reply holding the same name twice
//! cannot be compared at all: it is an error, never "differs".

use super::read::{FwCondition, FwGroup};
use crate::config::groups::{Condition, GroupDef};

/// One field both ways.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub file: String,
    pub firewall: String,
}

/// How one file group stands against the firewall.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    InStep,
    /// No group of that name on the firewall.
    Missing,
    /// Each field that differs, both ways.
    Differs(Vec<Field>),
}

impl Verdict {
    pub fn in_step(&self) -> bool {
        *self == Verdict::InStep
    }

    /// Whether sending the file's definition may put it right: not when
    /// only the case of the name differs (that is the admin's choice).
    pub fn sendable(&self) -> bool {
        match self {
            Verdict::InStep => false,
            Verdict::Missing => true,
            Verdict::Differs(fields) => !fields.iter().any(|f| f.name == "name"),
        }
    }

    /// The words after the group's name: "in step", "missing on the
    /// firewall" or "differs: FIELD: file X, firewall Y; ...".
    pub fn describe(&self) -> String {
        match self {
            Verdict::InStep => "in step".into(),
            Verdict::Missing => "missing on the firewall".into(),
            Verdict::Differs(fields) => {
                let parts: Vec<String> = fields
                    .iter()
                    .map(|f| format!("{}: file {}, firewall {}", f.name, f.file, f.firewall))
                    .collect();
                format!("differs: {}", parts.join("; "))
            }
        }
    }
}

/// Every file group's verdict, in the files' order, and the firewall's
/// groups that no file defines.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Comparison {
    pub groups: Vec<(String, Verdict)>,
    pub unknown: Vec<String>,
}

/// A definition in one meaning, for comparing.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Meaning {
    members: Vec<String>,
    mail: bool,
    failback: bool,
    conditions: Vec<Condition>,
}

fn of_file(g: &GroupDef) -> Meaning {
    Meaning {
        members: g.members.iter().map(|m| m.name.to_string()).collect(),
        mail: g.mail,
        failback: g.failback,
        conditions: g.conditions.clone(),
    }
}

/// `y`, `Enable` (any case): on.
fn on(value: Option<&str>, default: bool) -> bool {
    match value {
        None => default,
        Some(v) => v.eq_ignore_ascii_case("y") || v.eq_ignore_ascii_case("enable"),
    }
}

fn condition(c: &FwCondition) -> Option<Condition> {
    let p = c.protocol.as_deref().unwrap_or_default();
    if p.eq_ignore_ascii_case("ping") {
        Some(Condition::Ping)
    } else if p.eq_ignore_ascii_case("tcp") {
        // The reader refuses TCP without a valid port.
        c.port.as_deref().and_then(|n| n.parse().ok()).map(Condition::Tcp)
    } else {
        None
    }
}

fn of_firewall(g: &FwGroup) -> Meaning {
    let mut conditions: Vec<Condition> = g.conditions.iter().flatten().filter_map(condition).collect();
    if conditions.is_empty() {
        conditions.push(Condition::Ping);
    }
    Meaning {
        members: g.members.clone(),
        mail: on(g.mail.as_deref(), false),
        failback: on(g.failback.as_deref(), true),
        conditions,
    }
}

fn enabled(on: bool) -> String {
    if on { "Enable".into() } else { "Disable".into() }
}

fn conditions(list: &[Condition]) -> String {
    let words: Vec<String> = list
        .iter()
        .map(|c| match c {
            Condition::Ping => "PING".to_string(),
            Condition::Tcp(p) => format!("TCP {p}"),
        })
        .collect();
    words.join(", ")
}

fn fields(file: &Meaning, fw: &Meaning) -> Vec<Field> {
    let mut out = Vec::new();
    let mut field = |name, a: String, b: String| {
        if a != b {
            out.push(Field {
                name,
                file: a,
                firewall: b,
            });
        }
    };
    field("members", file.members.join(", "), fw.members.join(", "));
    field("mail notification", enabled(file.mail), enabled(fw.mail));
    field("automatic failback", enabled(file.failback), enabled(fw.failback));
    field("conditions", conditions(&file.conditions), conditions(&fw.conditions));
    out
}

/// Why a reply's groups cannot be compared.
pub fn duplicates(fw: &[FwGroup]) -> Option<String> {
    let mut seen = std::collections::BTreeSet::new();
    let twice: Vec<&str> = fw
        .iter()
        .filter(|g| !seen.insert(g.name.as_str()))
        .map(|g| g.name.as_str())
        .collect();
    (!twice.is_empty()).then(|| {
        format!(
            "the firewall's reply holds group {} more than once: it cannot be compared",
            twice.join(", ")
        )
    })
}

/// Compares `files` with the firewall's groups `fw`; an error when the
/// reply holds a name twice.
pub fn compare<'a>(files: impl IntoIterator<Item = &'a GroupDef>, fw: &[FwGroup]) -> Result<Comparison, String> {
    if let Some(why) = duplicates(fw) {
        return Err(why);
    }
    let mut matched = std::collections::BTreeSet::new();
    let mut groups = Vec::new();
    for def in files {
        let exact = fw.iter().find(|g| *g.name == *def.name);
        let found = exact.or_else(|| fw.iter().find(|g| g.name.eq_ignore_ascii_case(&def.name)));
        let verdict = match found {
            None => Verdict::Missing,
            Some(g) => {
                matched.insert(g.name.as_str());
                let mut diff = fields(&of_file(def), &of_firewall(g));
                if *g.name != *def.name {
                    diff.insert(
                        0,
                        Field {
                            name: "name",
                            file: def.name.to_string(),
                            firewall: g.name.clone(),
                        },
                    );
                }
                if diff.is_empty() {
                    Verdict::InStep
                } else {
                    Verdict::Differs(diff)
                }
            }
        };
        groups.push((def.name.to_string(), verdict));
    }
    let unknown = fw
        .iter()
        .filter(|g| !matched.contains(g.name.as_str()))
        .map(|g| g.name.clone())
        .collect();
    Ok(Comparison { groups, unknown })
}

#[cfg(test)]
mod tests;
