//! `failoverd sync`'s work, the same whether the command runs it or a
//! running daemon does for it (docs/definitions.md): with
//! `--changed-only`, one Get of the firewall's definitions, compared with
//! the files ([`compare`](super::compare)), and exactly the groups that
//! differ now sent; without it, every chosen group sent. Each is sent as
//! Add, then Update where the answer is 502. A Get that fails or a reply
//! that cannot be compared sends nothing: it is never taken as "differs".

use serde::{Deserialize, Serialize};

use super::api::Api;
use super::compare::{self, Verdict};
use super::request::Operation;
use super::slot::Class;
use crate::config::groups::GroupDef;

/// One group's line: `G: unchanged`, `G: added: 200 ...`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub group: String,
    /// Accepted or unchanged.
    pub ok: bool,
    pub text: String,
}

/// What a sync did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub lines: Vec<Line>,
    /// For stderr: what differed, before it was sent.
    pub notes: Vec<String>,
    /// Why nothing was sent (the Get failed, or its reply cannot be
    /// compared).
    pub failed: Option<String>,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.failed.is_none() && self.lines.iter().all(|l| l.ok)
    }

    /// The lines on `out`; what differed and why nothing was sent on
    /// `err`. Returns [`ok`](Self::ok).
    pub fn print(&self, out: &mut dyn std::io::Write, err: &mut dyn std::io::Write) -> bool {
        for note in &self.notes {
            let _ = writeln!(err, "{note}");
        }
        for l in &self.lines {
            let _ = writeln!(out, "{}: {}", l.group, l.text);
        }
        if let Some(why) = &self.failed {
            let _ = writeln!(err, "failoverd: {why}");
        }
        self.ok()
    }
}

/// What to do with one chosen group.
enum Step {
    Send,
    Unchanged,
    Skip(String),
}

/// The steps for `chosen`: all sent, or (`changed_only`) those that
/// differ now; `Err` when no comparison could be made.
async fn steps(
    api: &Api,
    chosen: &[&GroupDef],
    changed_only: bool,
    notes: &mut Vec<String>,
) -> Result<Vec<Step>, String> {
    if !changed_only {
        return Ok(chosen.iter().map(|_| Step::Send).collect());
    }
    let fw = match api.get_groups().await {
        Ok((_, Ok(fw))) => fw,
        Ok((_, Err(e))) => return Err(format!("{e}: nothing sent")),
        Err(a) => return Err(format!("the Get was not accepted: {}: nothing sent", a.text)),
    };
    let c = compare::compare(chosen.iter().copied(), &fw).map_err(|e| format!("{e}: nothing sent"))?;
    Ok(c.groups
        .into_iter()
        .map(|(g, v)| match v {
            Verdict::InStep => Step::Unchanged,
            v if v.sendable() => {
                notes.push(format!("{g}: {}", v.describe()));
                Step::Send
            }
            v => Step::Skip(format!(
                "not sent: {}: rename the group in its file or on the firewall, so both spell it alike",
                v.describe()
            )),
        })
        .collect())
}

/// Sends `group`'s definition: Add, then Update on 502.
async fn send(api: &Api, group: &str, dry: bool) -> Line {
    if dry {
        return Line {
            group: group.into(),
            ok: true,
            text: "dry run: would send its definition (Add, then Update if it exists)".into(),
        };
    }
    let (op, answer) = api.define(group).await;
    let verb = if op == Operation::Update { "updated" } else { "added" };
    let ok = answer.class == Class::Accepted;
    let text = if ok {
        format!("{verb}: {}", answer.text)
    } else {
        format!("not accepted: {}", answer.text)
    };
    Line {
        group: group.into(),
        ok,
        text,
    }
}

/// Runs a sync of `defs` (only `only`, when given).
pub async fn run(api: &Api, defs: &[GroupDef], only: Option<&str>, changed_only: bool, dry: bool) -> Outcome {
    let chosen: Vec<&GroupDef> = defs.iter().filter(|g| only.is_none_or(|o| o == g.name)).collect();
    let mut out = Outcome::default();
    let steps = match steps(api, &chosen, changed_only, &mut out.notes).await {
        Ok(s) => s,
        Err(why) => {
            out.failed = Some(why);
            return out;
        }
    };
    for (g, step) in chosen.iter().zip(steps) {
        let line = match step {
            Step::Unchanged => Line {
                group: g.name.clone(),
                ok: true,
                text: "unchanged".into(),
            },
            Step::Skip(why) => Line {
                group: g.name.clone(),
                ok: false,
                text: why,
            },
            Step::Send => send(api, &g.name, dry).await,
        };
        out.lines.push(line);
    }
    out
}
