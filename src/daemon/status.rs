//! What `failoverd status` shows, built from the daemon's live state as
//! JSON: groups, expected active member, member states, each target's last
//! result, the belief and last push with its answer, holds, guard, problems.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use tokio::time::Instant;

use super::persist::Clocks;
use super::pushes::Pushes;
use crate::config::Plan;
use crate::engine::Engine;
use crate::health::outcome::Outcome;
use crate::health::target::{State, format_duration};
use crate::state::StateFile;

fn word(s: State) -> &'static str {
    match s {
        State::Up => "up",
        State::Down => "down",
        State::Unknown => "unknown",
    }
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn outcome(o: &Option<(Outcome, Instant)>, clocks: &Clocks) -> Value {
    match o {
        None => Value::Null,
        Some((Outcome::Good { rtt }, at)) => {
            json!({"result": "good", "rtt": format_duration(*rtt), "at": secs(clocks.to_wall(*at))})
        }
        Some((Outcome::Failed { reason }, at)) => {
            json!({"result": "failed", "reason": reason, "at": secs(clocks.to_wall(*at))})
        }
        Some((Outcome::Error { reason }, at)) => {
            json!({"result": "error", "reason": reason, "at": secs(clocks.to_wall(*at))})
        }
    }
}

/// The whole status.
pub fn build(
    plan: &Plan,
    engine: &Engine,
    pushes: &Pushes,
    state: &StateFile,
    url: &str,
    problems: &[String],
) -> Value {
    let clocks = Clocks::now();
    let fw = state.firewalls.get(url);
    let groups: Vec<Value> = plan
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let (st, active) = engine.group_state(g.name()).unwrap_or((State::Unknown, None));
            let members: Vec<Value> = engine
                .members(g.name())
                .iter()
                .map(|m| {
                    let targets: Vec<Value> = m
                        .targets
                        .iter()
                        .map(|t| json!({"condition": t.condition, "target": t.target, "state": word(t.state), "reason": t.reason, "last": outcome(&t.last, &clocks)}))
                        .collect();
                    json!({"name": m.name, "state": word(m.state), "targets": targets})
                })
                .collect();
            let gp = &pushes.groups[i];
            let gs = state.groups.get(g.name());
            json!({
                "name": g.name(),
                "kind": gp.policy.kind.to_string(),
                "state": word(st),
                "since": gs.and_then(|s| s.since).map(secs),
                "expected_active": active,
                "armed": gp.policy.armed,
                "members": members,
                "belief": gp.slot.belief.to_string(),
                "last_set_by_failoverd": fw.and_then(|f| f.set_at.get(g.name())).map(|t| secs(*t)),
                "last_push": gp.slot.last.as_ref().map(|(w, c)| json!({"push": w.to_string(), "answer": c.to_string()})),
                "refused": gp.slot.refused.is_some(),
                "hold": gs.and_then(|s| s.hold.as_ref()).map(|h| json!({"until": secs(h.until), "reason": h.reason})),
                "flap_damping": gp.policy.flap_hold(clocks.mono).map(|h| json!({
                    "deactives": h.deactives,
                    "hold": whole_secs(h.hold),
                    "active_in": whole_secs(h.remaining),
                    "active_in_secs": h.remaining.as_secs_f64().ceil() as u64,
                })),
            })
        })
        .collect();
    json!({
        "groups": groups,
        "guard_tripped": pushes.guard.tripped,
        "api_paused": pushes.pause.reason,
        "problems": problems,
        "firewall": url,
    })
}

/// A duration for a person, to the second, rounded up ("4m 16s").
pub(super) fn whole_secs(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs_f64().ceil() as u64)).to_string()
}
