//! `failoverd sync`'s work, the same whether the command runs it or a
//! running daemon does for it (docs/definitions.md): with
//! `--changed-only`, one Get of the firewall's definitions, compared with
//! the files ([`compare`](super::compare)), and exactly the groups that
//! differ now sent; without it, every chosen group sent. Each is sent as
//! Add, then Update where the answer is 502. A Get that fails or a reply
//! that cannot be compared sends nothing: it is never taken as "differs".

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

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

/// A request slot granted by the daemon (its `max_in_flight`, beside its
/// pushes): held while one request is out; dropping it, answered or
/// abandoned (a task aborted), gives the slot back.
pub struct Permit(Option<Box<dyn FnOnce() + Send>>);

impl Permit {
    pub fn new(release: impl FnOnce() + Send + 'static) -> Permit {
        Permit(Some(Box::new(release)))
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(release) = self.0.take() {
            release();
        }
    }
}

/// A request for a slot: the group it is for ("" for the Get), and where
/// the permit goes.
pub type SlotRequest = (String, oneshot::Sender<Permit>);

/// Where a sync run by the daemon asks for a slot before each request;
/// the command runs without one.
#[derive(Clone)]
pub struct Gate(mpsc::UnboundedSender<SlotRequest>);

impl Gate {
    pub fn new() -> (Gate, mpsc::UnboundedReceiver<SlotRequest>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Gate(tx), rx)
    }

    /// Waits for a slot for `group`; `None` when no one grants any more.
    pub async fn acquire(&self, group: &str) -> Option<Permit> {
        let (tx, rx) = oneshot::channel();
        self.0.send((group.to_string(), tx)).ok()?;
        rx.await.ok()
    }
}

/// A slot from `gate`, if any: `Err` when it will never come.
async fn slot(gate: Option<&Gate>, group: &str) -> Result<Option<Permit>, ()> {
    match gate {
        None => Ok(None),
        Some(g) => g.acquire(group).await.map(Some).ok_or(()),
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
    gate: Option<&Gate>,
    notes: &mut Vec<String>,
) -> Result<Vec<Step>, String> {
    if !changed_only {
        return Ok(chosen.iter().map(|_| Step::Send).collect());
    }
    let stopping = || "the daemon is stopping: nothing sent".to_string();
    let permit = slot(gate, "").await.map_err(|()| stopping())?;
    let got = api.get_groups().await;
    drop(permit);
    let fw = match got {
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
async fn send(api: &Api, group: &str, dry: bool, gate: Option<&Gate>) -> Line {
    if dry {
        return Line {
            group: group.into(),
            ok: true,
            text: "dry run: would send its definition (Add, then Update if it exists)".into(),
        };
    }
    let Ok(_permit) = slot(gate, group).await else {
        return Line {
            group: group.into(),
            ok: false,
            text: "not sent: the daemon is stopping".into(),
        };
    };
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

/// What a sync is asked to do.
#[derive(Clone, Copy)]
pub struct Ask<'a> {
    pub only: Option<&'a str>,
    pub changed_only: bool,
    pub dry: bool,
}

/// Runs a sync of `defs`; with `gate`, each request waits for a slot.
pub async fn run(api: &Api, defs: &[GroupDef], ask: Ask<'_>, gate: Option<&Gate>) -> Outcome {
    let Ask {
        only,
        changed_only,
        dry,
    } = ask;
    let chosen: Vec<&GroupDef> = defs.iter().filter(|g| only.is_none_or(|o| o == &*g.name)).collect();
    let mut out = Outcome::default();
    let steps = match steps(api, &chosen, changed_only, gate, &mut out.notes).await {
        Ok(s) => s,
        Err(why) => {
            out.failed = Some(why);
            return out;
        }
    };
    for (g, step) in chosen.iter().zip(steps) {
        let line = match step {
            Step::Unchanged => Line {
                group: g.name.to_string(),
                ok: true,
                text: "unchanged".into(),
            },
            Step::Skip(why) => Line {
                group: g.name.to_string(),
                ok: false,
                text: why,
            },
            Step::Send => send(api, &g.name, dry, gate).await,
        };
        out.lines.push(line);
    }
    out
}
