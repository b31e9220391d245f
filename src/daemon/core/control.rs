//! The core's answers to `failoverd hold`, `release`, `push`, `status` and
//! `/metrics`; and the holds themselves (docs/safety.md: a hold never
//! shortens; its end disarms the group).
#![deny(clippy::arithmetic_side_effects)] // time sums saturate (docs/safety.md)

use std::time::Duration;

use super::{Core, Effect, Manual, ReplyTo};
use crate::control::{Reply, Request};
use crate::daemon::persist::Clocks;
use crate::firewall::api::Answer;
use crate::firewall::decide::Want;
use crate::firewall::slot::Class;
use crate::state::{Belief, Hold};

impl Core {
    /// A control request; the reply comes as an [`Effect::Reply`] to `to`
    /// (for a manual push, once the firewall answered). `spool_depth`: the
    /// mails the outbox holds, for /metrics.
    pub fn control(&mut self, req: Request, to: ReplyTo, clocks: Clocks, spool_depth: usize) -> Vec<Effect> {
        if let Some(e) = too_long(&req) {
            self.effects.push(Effect::Reply {
                to,
                reply: Reply::err(e),
            });
            return self.take();
        }
        let reply = match req {
            Request::Metrics => Reply::ok(serde_json::Value::String(self.metrics(spool_depth))),
            Request::Page => Reply::ok(serde_json::Value::String(crate::page::render(&self.page(clocks)))),
            Request::Status => match serde_json::to_value(self.status(clocks)) {
                Ok(v) => Reply::ok(v),
                Err(e) => Reply::err(format!("cannot serialise the status: {e}")),
            },
            Request::Hold {
                groups,
                for_secs,
                reason,
            } => match self.named(&groups) {
                Err(e) => Reply::err(e),
                Ok(idx) => {
                    let mut deactivated = Vec::new();
                    for i in idx {
                        let name = self.plan.groups[i].name().to_string();
                        self.hold_group(&name, Duration::from_secs(for_secs), &reason, clocks);
                        if self.pushes.groups[i].slot.belief == Belief::DeActive {
                            deactivated.push(name);
                        }
                    }
                    Reply::ok(serde_json::json!({"deactivated": deactivated}))
                }
            },
            Request::Release { groups } => match self.named(&groups) {
                Err(e) => Reply::err(e),
                Ok(idx) => {
                    for i in idx {
                        self.end_hold(i, clocks, "release", "hold released");
                    }
                    Reply::ok(serde_json::Value::Null)
                }
            },
            Request::Sync { group, changed_only } => match &group {
                Some(g) if self.named(std::slice::from_ref(g)).is_err() => Reply::err(format!("unknown group {g}")),
                _ if !self.may_sync() => Reply::err(
                    "this host is standby: it sends the firewall nothing; run failoverd sync on the active host",
                ),
                _ => {
                    self.effects.push(Effect::Sync {
                        to,
                        group,
                        changed_only,
                    });
                    return self.take();
                }
            },
            Request::Push { group, want, hold_secs } => match self.named(std::slice::from_ref(&group)) {
                Err(e) => Reply::err(e),
                Ok(_) if self.dry() => Reply::err("daemon in dry run"),
                Ok(_) => {
                    let hold = Duration::from_secs(hold_secs);
                    let m = Manual { want, hold, to };
                    if self.pair.role() == crate::ha::RoleKind::Standby {
                        self.manual_on_standby(&group, m);
                    } else {
                        self.manual.insert(group, m);
                    }
                    return self.take();
                }
            },
        };
        self.effects.push(Effect::Reply { to, reply });
        self.take()
    }

    /// Indices of the groups named (every group for none).
    fn named(&self, groups: &[String]) -> Result<Vec<usize>, String> {
        if groups.is_empty() {
            return Ok((0..self.plan.groups.len()).collect());
        }
        groups
            .iter()
            .map(|g| {
                self.index
                    .get(g.as_str())
                    .copied()
                    .ok_or(format!("unknown group {g:?}"))
            })
            .collect()
    }

    /// Holds `name` for `dur` from now; never shortens a hold in place, and
    /// one it does not lengthen keeps its reason. The hold in force after.
    pub(super) fn hold_group(&mut self, name: &str, dur: Duration, reason: &str, clocks: Clocks) -> Hold {
        let until = crate::time::wall_add(clocks.wall, dur);
        let gs = self.state.groups.entry(self.name_key(name)).or_default();
        let placed = gs.hold_until(until, reason);
        let hold = gs.hold.clone().unwrap_or(Hold {
            until,
            reason: reason.to_string(),
        });
        if placed {
            tracing::info!(GROUP = %name, EVENT = "hold", "held for {}: {reason}", humantime::format_duration(dur));
            self.dirty = true;
        } else {
            tracing::info!(
                GROUP = %name,
                EVENT = "hold_kept",
                "already held until {} ({}): the hold stays as it is",
                humantime::format_rfc3339_seconds(hold.until),
                hold.reason
            );
        }
        hold
    }

    /// The firewall's answer to a manual push: its hold is placed when the
    /// firewall accepted the push or its outcome is unknown, never when it
    /// refused it (docs/safety.md, Holds); then the command's reply.
    pub(super) fn manual_answered(&mut self, group: &str, m: Manual, answer: &Answer, clocks: Clocks) {
        let holds = matches!(answer.class, Class::Accepted | Class::Unknown(_));
        let hold = holds.then(|| {
            let before = self.state.groups.get(group).and_then(|g| g.hold.clone());
            let h = self.hold_group(group, m.hold, &format!("manual push of {}", m.want), clocks);
            let placed = before.as_ref() != Some(&h);
            serde_json::json!({"until": unix(h.until), "reason": h.reason, "placed": placed})
        });
        if !holds {
            tracing::info!(GROUP = %group, EVENT = "hold_not_placed", "the firewall did not take the manual push of {}: no hold placed", m.want);
        }
        let accepted = answer.class == Class::Accepted;
        let body = serde_json::json!({"accepted": accepted, "answer": answer.text, "hold": hold});
        let reply = Reply::ok(body);
        self.effects.push(Effect::Reply { to: m.to, reply });
    }

    /// A hold withholds `want`, a push failoverd wants: logged once per
    /// hold and push (the status shows it while it lasts).
    pub(super) fn withheld(&self, group: &str, want: Want) {
        let own = self.state.groups.get(group).and_then(|g| g.hold.as_ref());
        let why = match own {
            Some(h) => format!(
                "the hold ({}) ends {}",
                h.reason,
                humantime::format_rfc3339_seconds(h.until)
            ),
            None => "the peer's hold binds this host too".to_string(),
        };
        tracing::warn!(GROUP = %group, EVENT = "hold_withheld", WANT = %want, "{group} held: {want} withheld; {why} (failoverd release {group} lets it go)");
    }

    /// Ends group `i`'s hold (if any): the group is disarmed until seen up.
    fn end_hold(&mut self, i: usize, clocks: Clocks, event: &str, what: &str) {
        let name = self.plan.groups[i].shared_name();
        if let Some(gs) = self.state.groups.get_mut(&name) {
            gs.hold = None;
        }
        self.pushes.disarm(i, clocks.mono);
        tracing::info!(GROUP = %name, EVENT = event, "{what}; the group is disarmed until seen up");
        self.dirty = true;
    }

    /// Holds whose time is up end, each disarming its group.
    pub(super) fn end_holds(&mut self, clocks: Clocks) {
        // Every tick: a walk over the saved groups without a lookup by
        // name; only a hold that ends looks its group up.
        let ended: Vec<usize> = self
            .state
            .groups
            .iter()
            .filter(|(_, gs)| gs.hold.as_ref().is_some_and(|h| h.until <= clocks.wall))
            .filter_map(|(name, _)| self.index.get(name).copied())
            .collect();
        for i in ended {
            self.end_hold(i, clocks, "hold_ended", "hold ended");
        }
    }

    fn metrics(&self, spool_depth: usize) -> String {
        use super::api_health::ApiState;
        let api_up = match self.api.state() {
            ApiState::Usable => 1,
            ApiState::Unusable(_) => 0,
            ApiState::Unknown => -1,
        };
        let extra = crate::daemon::metrics::Extra {
            api_up,
            api_last_success: self.api.last_success().map(crate::time::unix_secs),
            config_ok: self.config.rejected.is_none(),
            config_success: crate::time::unix_secs(self.config.last_success),
            pushes: &self.push_counts,
            guard_tripped: self.pushes.guard_tripped(),
            spool_depth,
            ha_active: self
                .pair
                .paired()
                .then(|| self.pair.role() == crate::ha::RoleKind::Active),
            snmp: self.view.as_ref().map(|v| crate::daemon::metrics::Snmp {
                usable: v.last_error().is_none(),
                disagrees: self
                    .plan
                    .groups
                    .iter()
                    .map(|g| (g.name(), v.disagreeing(g.name())))
                    .collect(),
            }),
            page: self.plan.settings.metrics,
            definitions: self
                .plan
                .groups
                .iter()
                .filter_map(|g| Some((g.name(), self.definitions.verdict(g.name())?.in_step())))
                .collect(),
        };
        crate::daemon::metrics::render(&self.engine, &extra)
    }

    /// The status `/status` serves and `failoverd status` reads.
    pub fn status(&self, clocks: Clocks) -> crate::view::Status {
        let state_file = crate::state::StateDir::new(&self.plan.settings.state_dir).file();
        let problems = self.problems(&state_file);
        super::status::build(self, &problems, clocks)
    }
}

/// Why a hold or push request asks for a hold longer than any command
/// line may (docs/safety.md, "Durations and time"): a local user can write
/// the socket's JSON without the CLI's check.
fn too_long(req: &Request) -> Option<String> {
    let (key, secs) = match req {
        Request::Hold { for_secs, .. } => ("for_secs", *for_secs),
        Request::Push { hold_secs, .. } => ("hold_secs", *hold_secs),
        _ => return None,
    };
    let max = crate::time::MAX_DURATION;
    (secs > max.as_secs()).then(|| {
        format!(
            "{key} = {secs} is longer than the longest hold, {} ({} s)",
            humantime::format_duration(max),
            max.as_secs()
        )
    })
}

/// Unix seconds of `t` (0 before the epoch).
fn unix(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
