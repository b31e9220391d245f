//! What failoverd wants the firewall to hold for one group
//! (docs/safety.md): the safety rules, pure, with time passed in.
//!
//! - Intent groups: the intent, always (holds aside).
//! - Underlay groups: Active while up; DeActive while down only when
//!   *armed* (seen up since start, since a definition change, a guard trip
//!   or a hold ended), never with identically probed members; flap damping;
//!   Active again `reactivate_after` a DeActive failoverd sent.
//! - Tunnel groups: Active at all times, except a *restart* (DeActive, then
//!   Active whatever happens) of an armed group down for `restart_after`,
//!   at most every `restart_backoff`, doubling up to 1 h.
//!
//! The guard is decided elsewhere and passed in: while it holds, no
//! DeActive is wanted.
#![deny(clippy::arithmetic_side_effects)] // time sums saturate (docs/safety.md)

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::health::target::State;

/// A state failoverd can push.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Want {
    Active,
    DeActive,
}

/// What the firewall last accepted from failoverd for a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Belief {
    Active,
    DeActive,
    /// A push was under way when the outcome became unknown.
    Unknown,
}

impl Belief {
    pub fn of(w: Want) -> Belief {
        match w {
            Want::Active => Belief::Active,
            Want::DeActive => Belief::DeActive,
        }
    }

    pub fn is(self, w: Want) -> bool {
        self == Belief::of(w)
    }
}

impl std::fmt::Display for Want {
    /// The firewall's own spelling: `Active`, `DeActive`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Want::Active => "Active",
            Want::DeActive => "DeActive",
        })
    }
}

impl std::fmt::Display for Belief {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Belief::Active => Want::Active.fmt(f),
            Belief::DeActive => Want::DeActive.fmt(f),
            Belief::Unknown => f.write_str("Unknown"),
        }
    }
}

impl std::fmt::Display for Kind {
    /// For a person: `underlay`, `underlay (identical members)`, `tunnel`,
    /// `intent Active`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Kind::Underlay { identical: false } => f.write_str("underlay"),
            Kind::Underlay { identical: true } => f.write_str("underlay (identical members)"),
            Kind::Tunnel => f.write_str("tunnel"),
            Kind::Intent(w) => write!(f, "intent {w}"),
        }
    }
}

/// What the rules may do to a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Underlay { identical: bool },
    Tunnel,
    Intent(Want),
}

/// The `[firewall]` timings the rules use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    pub restart_after: Duration,
    pub restart_backoff: Duration,
    pub flap_limit: u32,
    pub flap_window: Duration,
    pub flap_hold: Duration,
    pub reactivate_after: Duration,
}

const MAX_RESTART_BACKOFF: Duration = Duration::from_secs(3600);
const MAX_FLAP_HOLD: Duration = Duration::from_secs(7200);

/// Where a tunnel group's restart stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restart {
    Idle,
    /// The DeActive of a restart is wanted.
    DeActivating,
    /// The Active that completes a restart: sent whatever happens next
    /// (holds, reloads, flap damping, late ticks do not stop it).
    Reactivating,
}

/// Why no DeActive is wanted although the rules would want one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Withheld {
    Guard,
}

/// The decision: what to push, if anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub want: Option<Want>,
    /// A DeActive the rules want, held back by the guard (a guard trip).
    pub withheld: Option<Withheld>,
    /// The Active that completes a restart (sent even while held).
    pub must_send: bool,
}

/// Flap damping holding an up group's Active back: after how many
/// DeActives, for how long in all, and how long it still has to run if the
/// group stays up. Shown in status and logged once per episode, so that an
/// up group left deactivated is never unexplained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlapHold {
    pub deactives: u32,
    pub hold: Duration,
    pub remaining: Duration,
}

/// The rules' memory of one group.
#[derive(Clone, Debug)]
pub struct Policy {
    pub kind: Kind,
    /// One copy shared by every group's policy (issue #30: 80 B a group).
    pub timing: Arc<Timing>,
    pub armed: bool,
    pub health: State,
    /// When `health` last changed.
    pub health_since: Option<Instant>,
    pub restart: Restart,
    pub next_restart: Option<Instant>,
    pub restart_backoff: Duration,
    /// DeActives failoverd decided for an underlay group, for damping.
    pub deactives: VecDeque<Instant>,
    /// When failoverd last sent a DeActive of its own that still stands.
    pub deactivated_at: Option<Instant>,
    /// The last time any member was up.
    pub last_up: Option<Instant>,
    /// When the group was last disarmed: "seen up" again needs a good
    /// check sent after this.
    pub disarmed_at: Option<Instant>,
}

impl Policy {
    /// `timing` is a [`Timing`] or an `Arc` of one to share.
    pub fn new(kind: Kind, timing: impl Into<Arc<Timing>>) -> Policy {
        let timing = timing.into();
        Policy {
            kind,
            restart_backoff: timing.restart_backoff,
            timing,
            armed: false,
            health: State::Unknown,
            health_since: None,
            restart: Restart::Idle,
            next_restart: None,
            deactives: VecDeque::new(),
            deactivated_at: None,
            last_up: None,
            disarmed_at: None,
        }
    }

    /// The group's health changed (or was confirmed) at `now`.
    pub fn on_health(&mut self, health: State, now: Instant) {
        if health != self.health {
            self.health = health;
            self.health_since = Some(now);
        }
        if health == State::Up {
            self.armed = true;
            self.last_up = Some(now);
        }
    }

    /// Time passes: resets the restart backoff once up long enough, and
    /// notes that members are still up.
    pub fn tick(&mut self, now: Instant) {
        if self.health == State::Up {
            self.last_up = Some(now);
            if self.up_for(now) >= self.timing.restart_backoff {
                self.restart_backoff = self.timing.restart_backoff;
            }
        }
        let window = self.timing.flap_window;
        while self
            .deactives
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) > window)
        {
            self.deactives.pop_front();
        }
    }

    /// A guard trip ended, a late tick, a hold ended, a definition changed.
    pub fn disarm(&mut self, now: Instant) {
        self.armed = false;
        self.disarmed_at = Some(now);
    }

    /// A good check of the group's targets was sent after `sent_after`:
    /// a group that is up when such a check arrives after its disarm has
    /// been seen up, and is armed again (docs/safety.md, Arming).
    /// A group that stays up through a hold, a guard trip or a pause has no
    /// health change to arm it, so this is what arms it.
    pub fn seen_good(&mut self, sent_after: Instant) {
        if !self.armed && self.health == State::Up && self.disarmed_at.is_none_or(|d| sent_after > d) {
            self.armed = true;
        }
    }

    fn up_for(&self, now: Instant) -> Duration {
        match (self.health, self.health_since) {
            (State::Up, Some(t)) => now.saturating_duration_since(t),
            _ => Duration::ZERO,
        }
    }

    fn down_for(&self, now: Instant) -> Duration {
        match (self.health, self.health_since) {
            (State::Down, Some(t)) => now.saturating_duration_since(t),
            _ => Duration::ZERO,
        }
    }

    /// What to push now; `guard` says whether the guard holds, `held`
    /// whether an admin's hold is on the group (its one owner is the
    /// daemon core's hold table: docs/safety.md).
    pub fn decide(&mut self, now: Instant, guard: bool, held: bool) -> Decision {
        let none = Decision {
            want: None,
            withheld: None,
            must_send: false,
        };
        if self.restart == Restart::Reactivating {
            return Decision {
                want: Some(Want::Active),
                withheld: None,
                must_send: true,
            };
        }
        if held {
            if self.restart == Restart::DeActivating {
                // The restart's DeActive can no longer be sent: its Active
                // still goes out, and the hold takes effect after it.
                self.restart = Restart::Reactivating;
                return Decision {
                    want: Some(Want::Active),
                    withheld: None,
                    must_send: true,
                };
            }
            return none;
        }
        match self.kind {
            Kind::Intent(w) => Decision { want: Some(w), ..none },
            Kind::Tunnel => self.decide_tunnel(now, guard),
            Kind::Underlay { identical } => self.decide_underlay(now, guard, identical),
        }
    }

    /// What [`Policy::decide`] would want now if the group were not held,
    /// without changing this policy (a restart's step stays where it is):
    /// the push a hold withholds (docs/safety.md, Holds).
    pub fn would_want(&self, now: Instant, guard: bool) -> Option<Want> {
        self.clone().decide(now, guard, false).want
    }

    fn decide_tunnel(&mut self, now: Instant, guard: bool) -> Decision {
        let active = Decision {
            want: Some(Want::Active),
            withheld: None,
            must_send: false,
        };
        if self.restart == Restart::DeActivating && self.health != State::Down {
            // Up again (or unknown): the DeActive can no longer be sent.
            self.restart = Restart::Reactivating;
            return Decision {
                must_send: true,
                ..active
            };
        }
        let due = self.armed
            && self.health == State::Down
            && self.down_for(now) >= self.timing.restart_after
            && self.next_restart.is_none_or(|t| now >= t);
        if self.restart == Restart::Idle && !due {
            return active;
        }
        if guard {
            if self.restart == Restart::DeActivating {
                self.restart = Restart::Reactivating;
                return Decision {
                    withheld: Some(Withheld::Guard),
                    must_send: true,
                    ..active
                };
            }
            return Decision {
                withheld: Some(Withheld::Guard),
                ..active
            };
        }
        self.restart = Restart::DeActivating;
        Decision {
            want: Some(Want::DeActive),
            withheld: None,
            must_send: false,
        }
    }

    fn decide_underlay(&mut self, now: Instant, guard: bool, identical: bool) -> Decision {
        let none = Decision {
            want: None,
            withheld: None,
            must_send: false,
        };
        if let Some(at) = self.deactivated_at {
            let since = self.last_up.map_or(at, |u| u.max(at));
            if now.saturating_duration_since(since) >= self.timing.reactivate_after {
                return Decision {
                    want: Some(Want::Active),
                    ..none
                };
            }
        }
        match self.health {
            State::Up if self.damped(now) => none,
            State::Up => Decision {
                want: Some(Want::Active),
                ..none
            },
            State::Down if !self.armed || identical => none,
            State::Down if guard => Decision {
                withheld: Some(Withheld::Guard),
                ..none
            },
            State::Down => Decision {
                want: Some(Want::DeActive),
                ..none
            },
            State::Unknown => none,
        }
    }

    /// Flap damping: after `flap_limit` DeActives in the window, Active
    /// waits until up for `flap_hold`, doubling with each further one.
    fn damped(&self, now: Instant) -> bool {
        self.flap_hold(now).is_some()
    }

    /// The flap damping hold on this group's Active, while the group is up
    /// and the hold has not run out.
    pub fn flap_hold(&self, now: Instant) -> Option<FlapHold> {
        let n = self.deactives.len() as u32;
        if n < self.timing.flap_limit || self.deactivated_at.is_none() || self.health != State::Up {
            return None;
        }
        let factor = 2u32.saturating_pow(n.saturating_sub(self.timing.flap_limit));
        let most = MAX_FLAP_HOLD.max(self.timing.flap_hold);
        let hold = self.timing.flap_hold.saturating_mul(factor).min(most);
        let up = self.up_for(now);
        (up < hold).then(|| FlapHold {
            deactives: n,
            hold,
            remaining: hold.saturating_sub(up),
        })
    }

    /// A push of `want` is about to be sent at `now` (decided by failoverd,
    /// not a manual push).
    pub fn on_sending(&mut self, want: Want, now: Instant) {
        match (self.kind, want) {
            (Kind::Tunnel, Want::DeActive) if self.restart == Restart::DeActivating => {
                self.next_restart = Some(crate::time::mono_add(now, self.restart_backoff));
                // Doubling up to an hour, never below the setting (which
                // may be longer than an hour).
                let most = MAX_RESTART_BACKOFF.max(self.timing.restart_backoff);
                self.restart_backoff = self.restart_backoff.saturating_mul(2).min(most);
            }
            (Kind::Underlay { .. }, Want::DeActive) => {
                // A retry of the same DeActive (no Active accepted since)
                // is not another one for flap damping: a flaky firewall
                // must not hold the group off for flap_hold.
                if self.deactivated_at.is_none() {
                    self.deactives.push_back(now);
                }
                self.deactivated_at = Some(now);
            }
            (Kind::Underlay { .. }, Want::Active) if self.deactivated_at.is_some() && self.health != State::Up => {
                // reactivate_after: not armed until seen up again.
                self.disarm(now);
            }
            _ => {}
        }
    }

    /// The firewall's answer to a push of `want`: `accepted`, or any other
    /// outcome (refused, unknown, given up).
    pub fn on_answer(&mut self, want: Want, accepted: bool) {
        match (self.restart, want) {
            // Accepted or not, the restart's DeActive is over: Active next.
            (Restart::DeActivating, Want::DeActive) => self.restart = Restart::Reactivating,
            (Restart::Reactivating, Want::Active) if accepted => self.restart = Restart::Idle,
            _ => {}
        }
        if want == Want::Active && accepted {
            self.deactivated_at = None;
        }
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests;
