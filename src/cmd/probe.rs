//! `failoverd probe`: one raw check of every target of every member (no
//! fall/rise), as a table a person reads: group, member, condition, target,
//! result, RTT or reason.
//!
//! Exit: 0 all good; 1 any check failed; else 4 any check could not be made
//! here (a local fault); 2 configuration.

use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::config::settings::Target;
use crate::config::{self, Plan};
use crate::health::outcome::Outcome;
use crate::health::target::format_duration;
use crate::probe::resolve::{Lookup, lookup};
use crate::probe::{Check, Prober, Protocol, StreamKey};

use super::exit;

/// Exit code: some check could not be made here.
pub const LOCAL_FAULT: i32 = 4;

/// One row of the table.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub group: String,
    pub member: String,
    pub condition: String,
    pub target: String,
    /// The address probed (a name's resolved address).
    pub address: Option<IpAddr>,
    pub outcome: Outcome,
}

/// Loads the settings and probes; returns the exit code.
pub fn run(path: &Path, group: Option<&str>, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let plan = match load(path, err) {
        Some(p) => p,
        None => return exit::CONFIG,
    };
    if let Some(g) = group
        && !plan.groups.iter().any(|x| x.name() == g)
    {
        let known: Vec<&str> = plan.groups.iter().map(|x| x.name()).collect();
        let _ = writeln!(err, "failoverd: unknown group {g:?}; groups: {}", known.join(", "));
        return exit::CONFIG;
    }
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(err, "failoverd: cannot start the runtime: {e}");
            return exit::FAILED;
        }
    };
    let rows = rt.block_on(probe_all(&plan, group));
    print_table(&rows, out);
    code(&rows)
}

/// Loads the plan, printing diagnostics; `None` when it is not usable.
pub fn load(path: &Path, err: &mut dyn Write) -> Option<Plan> {
    let loaded = match config::load(path) {
        Ok(l) => l,
        Err(e) => {
            let _ = writeln!(err, "failoverd: {e}");
            return None;
        }
    };
    for d in loaded.diagnostics.sorted() {
        let _ = writeln!(err, "{d}");
    }
    if loaded.plan.is_none() {
        let _ = writeln!(
            err,
            "failoverd: the settings are invalid; run failoverd check for details"
        );
    }
    loaded.plan
}

/// The exit code for a set of results.
pub fn code(rows: &[Row]) -> i32 {
    if rows.iter().any(|r| matches!(r.outcome, Outcome::Failed { .. })) {
        exit::FAILED
    } else if rows.iter().any(|r| matches!(r.outcome, Outcome::Error { .. })) {
        LOCAL_FAULT
    } else {
        exit::OK
    }
}

/// Checks every target of every member of every group (or of `only`) once,
/// all at the same time.
pub async fn probe_all(plan: &Plan, only: Option<&str>) -> Vec<Row> {
    let prober = Arc::new(Prober::new());
    let mut tasks = tokio::task::JoinSet::new();
    let mut rows = Vec::new();
    for g in plan.groups.iter().filter(|g| only.is_none_or(|o| o == g.name())) {
        for m in &g.def.members {
            let Some(c) = plan.settings.connections.get(&m.name) else {
                continue;
            };
            for cond in &g.def.conditions {
                for t in &c.targets {
                    let key = StreamKey::new(Protocol::of(*cond), t, c);
                    let index = rows.len();
                    rows.push(Row {
                        group: g.name().to_string(),
                        member: m.name.to_string(),
                        condition: key.protocol.to_string(),
                        target: t.to_string(),
                        address: None,
                        outcome: Outcome::Error {
                            reason: "not checked".into(),
                        },
                    });
                    let prober = prober.clone();
                    tasks.spawn(async move { (index, once(&*prober, &key).await) });
                }
            }
        }
    }
    while let Some(done) = tasks.join_next().await {
        if let Ok((i, (outcome, addr))) = done {
            rows[i].address = addr;
            rows[i].outcome = outcome;
        }
    }
    rows
}

/// One check of `key`, resolving a name first.
pub async fn once<C: Check>(checker: &C, key: &StreamKey) -> (Outcome, Option<IpAddr>) {
    let addr = match &key.target {
        Target::Ip(ip) => *ip,
        Target::Name(n) => match lookup(n, key.family, Duration::from_secs(5)).await {
            Lookup::Found(a) => a[0],
            Lookup::NotFound(reason) => return (Outcome::Failed { reason }, None),
            Lookup::Failed(reason) => return (Outcome::Error { reason }, None),
        },
    };
    let mut state = checker.state(key);
    (checker.check(key, addr, &mut state).await, Some(addr))
}

fn print_table(rows: &[Row], out: &mut dyn Write) {
    let header = ["GROUP", "MEMBER", "CONDITION", "TARGET", "RESULT", "RTT OR REASON"];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            let (result, detail) = match &r.outcome {
                Outcome::Good { rtt } => ("good", format_duration(*rtt)),
                Outcome::Failed { reason } => ("FAILED", reason.clone()),
                Outcome::Error { reason } => ("ERROR", format!("local fault: {reason}")),
            };
            let target = match r.address {
                Some(a) if r.target.parse::<IpAddr>().is_err() => format!("{} ({a})", r.target),
                _ => r.target.clone(),
            };
            [
                r.group.clone(),
                r.member.clone(),
                r.condition.clone(),
                target,
                result.into(),
                detail,
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for c in &cells {
        for (w, cell) in widths.iter_mut().zip(c.iter()).take(5) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |c: [&str; 6]| {
        let mut s = String::new();
        for (i, cell) in c.iter().enumerate() {
            if i < 5 {
                s.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            } else {
                s.push_str(cell);
            }
        }
        s
    };
    let _ = writeln!(out, "{}", line(header));
    for c in &cells {
        let _ = writeln!(out, "{}", line([&c[0], &c[1], &c[2], &c[3], &c[4], &c[5]]));
    }
}
