//! The push loop's bookkeeping: each group's rules and slot, the guard and
//! the client-wide pause, turned into "send this now" and, after each
//! answer, into daemon events. The sending itself is async and lives in
//! the daemon; everything here is synchronous with time passed in.

use std::time::Duration;

use tokio::time::Instant;

use crate::config::{GroupKind, Plan};
use crate::engine::AnchorStatus;
use crate::firewall::decide::{FlapHold, Kind, Policy, Timing, Want};
use crate::firewall::guard::{Guard, Reason};
use crate::firewall::slot::{Class, Effect, Pause, Slot};
use crate::health::target::State;
use crate::state::Belief;

mod withheld;

/// Something the daemon must log and mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// failoverd decided a DeActive itself (every one is a daemon event).
    DeactiveDecided {
        group: String,
        restart: bool,
    },
    GuardTrip {
        group: String,
        reason: String,
    },
    GuardTripEnded,
    Refused {
        group: String,
        want: Want,
        answer: String,
    },
    Recovered {
        group: String,
    },
    ApiUnusable {
        reason: String,
    },
    ApiUsable,
    /// An up group's Active is held back by flap damping (logged once per
    /// episode, and shown in status; not mailed).
    FlapDamped {
        group: String,
        hold: FlapHold,
    },
    /// A hold withholds a push failoverd wants (logged once per hold and
    /// wanted state; shown in status; not mailed).
    HoldWithholds {
        group: String,
        want: Want,
    },
}

/// One group's push state.
pub struct GroupPush {
    /// The plan's copy.
    pub name: crate::config::names::Name,
    pub policy: Policy,
    pub slot: Slot,
    pub down_since: Option<Instant>,
    /// A flap damping episode is under way and has been logged.
    pub damping_noted: bool,
    /// The push a hold withholds now (none while not held).
    pub withheld: Option<Want>,
    /// The withheld pushes already logged during the current hold.
    pub withheld_noted: Vec<Want>,
}

/// Every group's pushes to one firewall.
pub struct Pushes {
    pub groups: Vec<GroupPush>,
    pub guard: Guard,
    pub pause: Pause,
    pub max_in_flight: usize,
    pub config_retry: Duration,
    in_flight: usize,
    /// When `false` (SIGTERM), no new push starts, except nothing.
    pub open: bool,
}

pub fn timing(plan: &Plan) -> Timing {
    let f = &plan.settings.firewall;
    Timing {
        restart_after: f.restart_after,
        restart_backoff: f.restart_backoff,
        flap_limit: f.flap_limit,
        flap_window: f.flap_window,
        flap_hold: f.flap_hold,
        reactivate_after: f.reactivate_after,
    }
}

pub fn kind(g: &crate::config::Group) -> Kind {
    match (&g.kind, g.intent()) {
        (_, Some(crate::config::groups::Intent::Active)) => Kind::Intent(Want::Active),
        (_, Some(crate::config::groups::Intent::DeActive)) => Kind::Intent(Want::DeActive),
        (GroupKind::Underlay, None) => Kind::Underlay {
            identical: g.identical.is_some(),
        },
        _ => Kind::Tunnel,
    }
}

/// The guard's effective settle time: never less than the longest
/// `fall × interval + timeout` of any connection.
pub fn settle(plan: &Plan) -> Duration {
    let longest = plan
        .settings
        .connections
        .values()
        .map(|c| c.timing.interval * c.timing.fall + c.timing.timeout)
        .max()
        .unwrap_or_default();
    plan.settings.guard.settle.max(longest)
}

impl Pushes {
    /// `beliefs` by group name (from state.json for this firewall URL).
    pub fn new(plan: &Plan, belief: impl Fn(&str) -> Belief) -> Pushes {
        let t = std::sync::Arc::new(timing(plan));
        let groups = plan
            .groups
            .iter()
            .map(|g| GroupPush {
                name: g.shared_name(),
                policy: Policy::new(kind(g), std::sync::Arc::clone(&t)),
                slot: Slot::new(belief(g.name())),
                down_since: None,
                damping_noted: false,
                withheld: None,
                withheld_noted: Vec::new(),
            })
            .collect();
        let gs = &plan.settings.guard;
        Pushes {
            groups,
            guard: Guard::new(settle(plan), gs.max_groups_down, gs.window, plan.groups.len()),
            pause: Pause::default(),
            max_in_flight: plan.settings.firewall.max_in_flight as usize,
            config_retry: plan.settings.firewall.config_retry,
            in_flight: 0,
            open: true,
        }
    }

    /// Group `i`'s health as the engine sees it now.
    pub fn health(&mut self, i: usize, state: State, now: Instant) {
        let g = &mut self.groups[i];
        if state == State::Down && g.policy.health != State::Down {
            g.down_since = Some(now);
            self.guard.group_down(i, now);
        }
        if state != State::Down {
            g.down_since = None;
        }
        g.policy.on_health(state, now);
    }

    /// Every group loses its arming (a late tick, a guard trip's end).
    pub fn disarm_all(&mut self, now: Instant) {
        for g in &mut self.groups {
            g.policy.disarm(now);
        }
    }

    /// Groups that are up and had a good check sent after their disarm
    /// are armed again; `good_sent_after(i)` is the engine's answer.
    /// Returns the groups armed now.
    pub fn rearm(&mut self, good_sent_after: impl Fn(usize) -> Option<Instant>) -> Vec<usize> {
        let mut armed = Vec::new();
        for (i, g) in self.groups.iter_mut().enumerate() {
            if !g.policy.armed
                && let Some(t) = good_sent_after(i)
            {
                g.policy.seen_good(t);
                if g.policy.armed {
                    armed.push(i);
                }
            }
        }
        armed
    }

    /// Group `i` loses its arming (a hold ended or was released).
    pub fn disarm(&mut self, i: usize, now: Instant) {
        if let Some(g) = self.groups.get_mut(i) {
            g.policy.disarm(now);
        }
    }

    /// SIGTERM: no new push starts but those that must (a restart's Active).
    pub fn close(&mut self) {
        self.open = false;
    }

    /// Whether the guard holds DeActives back now.
    pub fn guard_tripped(&self) -> bool {
        self.guard.tripped
    }

    /// Why the client is paused (the API refuses us), if it is.
    pub fn paused(&self) -> Option<&str> {
        self.pause.reason.as_deref()
    }

    /// What a reload keeps of `old` (the running settings' pushes): each
    /// group that stays keeps its rule memory (with the new kind and
    /// timing), its down time and, when the firewall URL is the same, its
    /// slot (belief, backoff, the request in flight); groups in `disarm`
    /// lose their arming; the guard's trip carries on. `extra_in_flight`:
    /// requests out for no group of the new settings (orphans).
    pub fn carry_over(
        &mut self,
        old: &Pushes,
        url_same: bool,
        disarm: &[String],
        extra_in_flight: usize,
        now: Instant,
    ) {
        let mut in_flight = 0;
        // By name, looked up: a reload of thousands of groups stays linear
        // (a scan per group took 355 ms for 4,000 in a debug build, on the
        // loop that probes).
        let by_name: std::collections::HashMap<&str, _> = old.groups.iter().map(|o| (&*o.name, o)).collect();
        let disarm: std::collections::HashSet<&str> = disarm.iter().map(String::as_str).collect();
        for new in &mut self.groups {
            let Some(old) = by_name.get(&*new.name) else {
                continue;
            };
            let (kind, timing) = (new.policy.kind, std::sync::Arc::clone(&new.policy.timing));
            new.policy = old.policy.clone();
            new.policy.kind = kind;
            new.policy.timing = timing;
            new.down_since = old.down_since;
            if url_same {
                new.slot = old.slot.clone();
            }
            new.slot.clear_refused();
            in_flight += usize::from(old.slot.in_flight.is_some());
            if disarm.contains(&*new.name) {
                new.policy.disarm(now);
            }
        }
        self.guard.tripped = old.guard.tripped;
        self.in_flight = in_flight + extra_in_flight;
    }

    /// Groups of these settings whose restart is under way, by name, with
    /// whether a request for them is out.
    pub fn restarting(&self) -> impl Iterator<Item = (&str, bool)> {
        self.groups
            .iter()
            .filter(|g| g.policy.restart != crate::firewall::decide::Restart::Idle)
            .map(|g| (&*g.name, g.slot.in_flight.is_some()))
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Requests that may start now within `max_in_flight`.
    pub fn free(&self) -> usize {
        self.max_in_flight.saturating_sub(self.in_flight)
    }

    /// A request for no group of these settings (an orphaned restart's
    /// Active) started: it counts against `max_in_flight` too.
    pub fn started_elsewhere(&mut self) {
        self.in_flight += 1;
    }

    /// Such a request was answered.
    pub fn answered_elsewhere(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    /// What to send now, each marked as started; and what to report.
    /// `held[i]`: an admin's hold is on group `i`. `gate(group, want)` is
    /// asked before each attempt (retries included) once everything else
    /// allows it: false (a standby) leaves the group as it is, not started.
    pub fn due(
        &mut self,
        anchors: &[AnchorStatus],
        held: &[bool],
        now: Instant,
        mut gate: impl FnMut(&str, Want) -> bool,
    ) -> (Vec<(usize, Want)>, Vec<Note>) {
        let mut notes = Vec::new();
        let reasons: Vec<Option<Reason>> = (0..self.groups.len())
            .map(|i| self.guard_for(i, anchors, now))
            .collect();
        let tripping = self.guard.anchors_unsettled(anchors, now) || reasons.iter().flatten().any(Reason::trips);
        if self.guard.tripped && !tripping {
            // The trip is over: every group is disarmed before anything is
            // decided, so no DeActive slips out at its end.
            self.guard.tripped = false;
            self.disarm_all(now);
            notes.push(Note::GuardTripEnded);
        }
        let mut sends = Vec::new();
        for (i, reason) in reasons.iter().enumerate() {
            let g = &mut self.groups[i];
            g.policy.tick(now);
            let is_held = held.get(i).copied().unwrap_or(false);
            let d = g.policy.decide(now, reason.is_some(), is_held);
            if d.withheld.is_some()
                && !self.guard.tripped
                && let Some(r) = reason.as_ref().filter(|r| r.trips())
            {
                self.guard.tripped = true;
                notes.push(Note::GuardTrip {
                    group: g.name.to_string(),
                    reason: r.to_string(),
                });
            }
            if let Some(n) = g.note_withheld(now, is_held, d.want.is_some(), reason.is_some()) {
                notes.push(n);
            }
            match g.policy.flap_hold(now) {
                Some(hold) if d.want.is_none() && !is_held && !g.damping_noted => {
                    g.damping_noted = true;
                    notes.push(Note::FlapDamped {
                        group: g.name.to_string(),
                        hold,
                    });
                }
                None => g.damping_noted = false,
                _ => {}
            }
            let Some(want) = d.want else { continue };
            if g.slot.belief.is(want) {
                // Already in place: a restart's step is complete.
                g.policy.on_answer(want, true);
                continue;
            }
            let undoes = want == Want::Active && g.policy.deactivated_at.is_some();
            if (!self.open && !d.must_send)
                || self.in_flight >= self.max_in_flight
                || !g.slot.should_send(want, now, undoes, self.config_retry)
                || !self.pause.allows(now, self.config_retry)
                || !gate(&g.name, want)
            {
                continue;
            }
            g.policy.on_sending(want, now);
            g.slot.start(want);
            self.in_flight += 1;
            if want == Want::DeActive && !matches!(g.policy.kind, Kind::Intent(_)) {
                let restart = matches!(g.policy.kind, Kind::Tunnel);
                notes.push(Note::DeactiveDecided {
                    group: g.name.to_string(),
                    restart,
                });
            }
            sends.push((i, want));
        }
        (sends, notes)
    }

    fn guard_for(&mut self, i: usize, anchors: &[AnchorStatus], now: Instant) -> Option<Reason> {
        let since = self.groups[i].down_since?;
        self.guard.holds(anchors, since, now)
    }

    /// A manual push (`failoverd push` through the daemon): sent next for
    /// its group, even while the client is paused; false while a request
    /// for the group is in flight.
    pub fn start_manual(&mut self, i: usize, want: Want) -> bool {
        let g = &mut self.groups[i];
        if g.slot.in_flight.is_some() {
            return false;
        }
        g.slot.clear_refused();
        g.slot.start(want);
        self.in_flight += 1;
        true
    }

    /// The answer to group `i`'s request.
    pub fn finish(&mut self, i: usize, class: Class, now: Instant, jitter: f64) -> Vec<Note> {
        let mut notes = Vec::new();
        self.in_flight = self.in_flight.saturating_sub(1);
        let g = &mut self.groups[i];
        let want = g.slot.in_flight;
        match &class {
            Class::Configuration(reason) => {
                if self.pause.configuration(reason, now, self.config_retry) {
                    notes.push(Note::ApiUnusable { reason: reason.clone() });
                }
            }
            _ => {
                if self.pause.answered() {
                    notes.push(Note::ApiUsable);
                }
            }
        }
        if let Some(w) = want {
            g.policy.on_answer(w, class == Class::Accepted);
        }
        match g.slot.finish(class, now, jitter) {
            Effect::BecameRefused(answer) => notes.push(Note::Refused {
                group: g.name.to_string(),
                want: want.unwrap_or(Want::Active),
                answer,
            }),
            Effect::Recovered => notes.push(Note::Recovered {
                group: g.name.to_string(),
            }),
            Effect::None => {}
        }
        notes
    }
}
