//! What `failoverd status` shows, built from the daemon's live state as
//! JSON: groups, expected active member, member states, each target's last
//! result, the belief and last push with its answer, holds, guard, problems.
#![deny(clippy::arithmetic_side_effects)] // time sums saturate (docs/safety.md)

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::Core;
use crate::daemon::persist::Clocks;
use crate::engine::Engine;
use crate::firewall::view::{MemberView, View as FirewallView};
use crate::health::outcome::Outcome;
use crate::health::target::{State, format_duration};
use crate::view;

fn secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn check(o: &Option<(Outcome, Instant)>, clocks: &Clocks) -> Option<view::Check> {
    let (o, at) = o.as_ref()?;
    let at = secs(clocks.to_wall(*at));
    Some(match o {
        Outcome::Good { rtt } => view::Check {
            result: "good".into(),
            rtt: Some(format_duration(*rtt)),
            reason: None,
            at,
        },
        Outcome::Failed { reason } => view::Check {
            result: "failed".into(),
            rtt: None,
            reason: Some(reason.clone()),
            at,
        },
        Outcome::Error { reason } => view::Check {
            result: "error".into(),
            rtt: None,
            reason: Some(reason.clone()),
            at,
        },
    })
}

/// A member's connection as the tunnel table shows it, with how long ago.
fn seen(v: &MemberView, clocks: &Clocks) -> String {
    let read = match v {
        MemberView::Seen { read_at, .. } | MemberView::NotInTable { read_at } => *read_at,
        MemberView::Unknown { .. } => return v.to_string(),
    };
    let ago = clocks.mono.saturating_duration_since(read);
    format!("{v}, read {} ago", whole_secs(ago))
}

fn members(engine: &Engine, group: &str, fw: Option<&FirewallView>, clocks: &Clocks) -> Vec<view::Member> {
    let gv = fw.and_then(|v| v.group(group));
    engine
        .members(group)
        .iter()
        .map(|m| view::Member {
            firewall: gv.and_then(|g| g.member(&m.name)).map(|v| seen(v, clocks)),
            firewall_note: fw
                .filter(|_| m.state == State::Down)
                .and_then(|v| v.down_reason(group, &m.name))
                .map(str::to_string),
            name: m.name.clone(),
            passed_over: m.passed_over.map(|p| {
                format!(
                    "no verdict within its patience ({}: fall × interval + timeout): passed over like a down member when the expected active member is chosen",
                    whole_secs(p)
                )
            }),
            state: m.state.to_string(),
            targets: m
                .targets
                .iter()
                .map(|t| view::Target {
                    condition: t.condition.clone(),
                    target: t.target.clone(),
                    state: t.state.to_string(),
                    reason: t.reason.clone(),
                    last: check(&t.last, clocks),
                })
                .collect(),
        })
        .collect()
}

/// The whole status.
pub fn build(core: &Core, problems: &[String], clocks: Clocks) -> view::Status {
    let (plan, engine, pushes, state) = (core.plan(), core.engine(), core.pushes(), core.state());
    let url = plan.settings.firewall.url.as_str();
    let tunnels = core.firewall_view();
    let ha = pair(&core.pair, plan.settings.ha.as_ref(), clocks.wall);
    let fw = state.firewalls.get(url);
    let groups = plan
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let (st, active) = engine.group_state(g.name()).unwrap_or((State::Unknown, None));
            let gp = &pushes.groups[i];
            let gs = state.groups.get(g.name());
            view::Group {
                name: g.name().to_string(),
                kind: gp.policy.kind.to_string(),
                state: st.to_string(),
                since: gs.and_then(|s| s.since).map(secs),
                expected_active: active,
                carrying: tunnels
                    .and_then(|v| v.group(g.name()))
                    .map(|gv| gv.carrying.to_string()),
                armed: gp.policy.armed,
                members: members(engine, g.name(), tunnels, &clocks),
                belief: gp.slot.belief.to_string(),
                last_set_by_failoverd: fw.and_then(|f| f.set_at.get(g.name())).map(|t| secs(*t)),
                last_push: gp.slot.last.as_ref().map(|(w, c)| view::LastPush {
                    push: w.to_string(),
                    answer: c.to_string(),
                }),
                refused: gp.slot.refused.is_some(),
                hold: gs.and_then(|s| s.hold.as_ref()).map(|h| view::Hold {
                    until: secs(h.until),
                    reason: h.reason.clone(),
                }),
                withheld: gp.withheld.map(|w| w.to_string()),
                flap_damping: gp.policy.flap_hold(clocks.mono).map(|h| view::FlapDamping {
                    deactives: h.deactives,
                    hold: whole_secs(h.hold),
                    active_in: whole_secs(h.remaining),
                    active_in_secs: h.remaining.as_secs_f64().ceil() as u64,
                }),
                definition: definition(core.definitions(), g.name()),
                firewall: tunnels.map(|v| view::FirewallGroup {
                    carrying: v.group(g.name()).map_or("unknown".into(), |gv| gv.carrying.to_string()),
                    disagrees: v.disagreeing(g.name()),
                    not_honoured: v.not_honoured(g.name()).map(|p| {
                        format!(
                            "{} {}, accepted {} ago",
                            p.want,
                            g.name(),
                            whole_secs(clocks.mono.saturating_duration_since(p.at))
                        )
                    }),
                }),
            }
        })
        .collect();
    view::Status {
        groups,
        guard_tripped: pushes.guard_tripped(),
        api_paused: pushes.paused().map(str::to_string),
        problems: problems.to_vec(),
        firewall: url.to_string(),
        ha_role: ha.as_ref().map(|p| match p.since {
            Some(t) => format!("this host is {} since {}", p.role, crate::time::rfc3339_secs(t)),
            None => format!("this host is {}", p.role),
        }),
        ha,
        snmp: tunnels.map(|v| view::Snmp {
            usable: v.last_error().is_none(),
            last_read: v.last_read().map(|t| secs(clocks.to_wall(t))),
            error: v.last_error().map(|e| e.to_string()),
        }),
        api: api_view(core.api_health()),
        definitions_problem: core.definitions().problem().map(str::to_string),
    }
}

/// "differs: ...; sync = true sent it at T (answer)", for status.
fn definition(d: &super::definitions::Definitions, group: &str) -> Option<String> {
    let words = d.verdict(group)?.describe();
    Some(match d.sent(group) {
        None => words,
        Some((at, answer)) => format!(
            "{words}; sync = true sent the file's definition at {} ({})",
            crate::time::rfc3339_secs(secs(at)),
            answer.unwrap_or("no answer yet")
        ),
    })
}

fn api_view(h: &super::api_health::ApiHealth) -> view::Api {
    use super::api_health::ApiState;
    let (state, problem) = match h.state() {
        ApiState::Unknown => ("unknown", None),
        ApiState::Usable => ("usable", None),
        ApiState::Unusable(why) => ("unusable", Some(why)),
    };
    view::Api {
        state: state.to_string(),
        last_success: h.last_success().map(secs),
        problem,
    }
}

/// A duration for a person, to the second, rounded up ("4m 16s").
pub(crate) fn whole_secs(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs_f64().ceil() as u64)).to_string()
}

/// The pair's part of the status: role, since when, the peer's holds.
pub fn pair(
    pair: &crate::ha::pair::Pair,
    ha: Option<&crate::config::settings::Ha>,
    now: SystemTime,
) -> Option<view::Pair> {
    let ha = ha.filter(|_| pair.paired())?;
    let since = pair.since();
    Some(view::Pair {
        role: pair.role().to_string(),
        since: (since > SystemTime::UNIX_EPOCH).then(|| secs(since)),
        address: ha.address.to_string(),
        peer: ha.peer.clone(),
        peer_error: pair.peer_error().map(ToString::to_string),
        peer_holds: pair
            .peer_holds(now)
            .map(|h| view::PeerHold {
                group: h.group.clone(),
                until: secs(h.until),
                reason: h.reason.clone(),
            })
            .collect(),
    })
}
