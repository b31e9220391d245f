//! One group's push slot (docs/safety.md, Beliefs and retries): at most
//! one request in flight, the belief, and what each answer class does to
//! the next attempt. Pure, time passed in; the async push loop drives it.
//!
//! | class | next |
//! |---|---|
//! | transient | retry 1 s doubling to 60 s, jitter |
//! | unknown outcome | as transient; belief unknown |
//! | configuration | the whole client pauses (handled by [`Pause`]) |
//! | refused | 3 tries with backoff, then *refused* until the wanted state changes, a reload or a manual push; an Active undoing failoverd's DeActive retried every `config_retry` |
//! | accepted | belief updated |

use std::time::Duration;

use tokio::time::Instant;

use super::decide::{Belief, Want};

const FIRST_RETRY: Duration = Duration::from_secs(1);
const MAX_RETRY: Duration = Duration::from_secs(60);
const REFUSED_TRIES: u32 = 3;

/// An answer, classified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Class {
    Accepted,
    Refused(String),
    Configuration(String),
    Transient(String),
    Unknown(String),
}

impl Class {
    /// The class's name, as `/metrics` labels pushes (`class="refused"`).
    pub fn label(&self) -> &'static str {
        match self {
            Class::Accepted => "accepted",
            Class::Refused(_) => "refused",
            Class::Configuration(_) => "configuration",
            Class::Transient(_) => "transient",
            Class::Unknown(_) => "unknown",
        }
    }
}

impl std::fmt::Display for Class {
    /// The label, then the firewall's answer when there is one.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Class::Accepted => f.write_str("accepted"),
            Class::Refused(d) | Class::Configuration(d) | Class::Transient(d) | Class::Unknown(d) => {
                write!(f, "{}: {d}", self.label())
            }
        }
    }
}

/// What the loop must report after an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    None,
    /// The group became refused (a daemon event).
    BecameRefused(String),
    /// A failure streak ended with an acceptance (a daemon event).
    Recovered,
}

/// One group's push state.
#[derive(Clone, Debug)]
pub struct Slot {
    pub belief: Belief,
    pub in_flight: Option<Want>,
    retry_at: Option<Instant>,
    backoff: Duration,
    /// The wanted state whose failures set `retry_at` and `backoff`: the
    /// backoff belongs to it alone, so a new wanted state goes at once.
    retry_for: Option<Want>,
    refused_tries: u32,
    /// Refused after three tries: not retried for this wanted state.
    pub refused: Option<Want>,
    /// While refused: when an Active undoing failoverd's DeActive may be
    /// tried again.
    next_undo: Option<Instant>,
    failing: bool,
    /// The last answer, for status.
    pub last: Option<(Want, Class)>,
}

impl Slot {
    pub fn new(belief: Belief) -> Slot {
        Slot {
            belief,
            in_flight: None,
            retry_at: None,
            backoff: FIRST_RETRY,
            retry_for: None,
            refused_tries: 0,
            refused: None,
            next_undo: None,
            failing: false,
            last: None,
        }
    }

    /// Whether `want` should be sent now. `undoes_own_deactive` lets a
    /// refused Active that undoes failoverd's DeActive be retried every
    /// `config_retry`.
    pub fn should_send(&mut self, want: Want, now: Instant, undoes_own_deactive: bool, config_retry: Duration) -> bool {
        if self.in_flight.is_some() || self.belief.is(want) {
            return false;
        }
        if self.retry_for.is_some_and(|w| w != want) {
            // (safety) A change of the wanted state starts its retries
            // afresh: the backoff a DeActive met never delays the Active
            // that may undo it, nor the reverse.
            self.reset_backoff();
        }
        if let Some(r) = self.refused {
            if r != want {
                self.clear_refused();
            } else if !(undoes_own_deactive && self.next_undo.is_none_or(|t| now >= t)) {
                return false;
            } else {
                self.next_undo = Some(crate::time::mono_add(now, config_retry));
                return true;
            }
        }
        self.retry_at.is_none_or(|t| now >= t)
    }

    /// A reload or a manual push: a refused group is tried again.
    pub fn clear_refused(&mut self) {
        self.refused = None;
        self.next_undo = None;
        self.refused_tries = 0;
        self.reset_backoff();
    }

    fn reset_backoff(&mut self) {
        self.retry_at = None;
        self.backoff = FIRST_RETRY;
        self.retry_for = None;
    }

    /// The request for `want` is about to go out (the belief has been
    /// written as unknown).
    pub fn start(&mut self, want: Want) {
        if self.last.as_ref().is_some_and(|(w, _)| *w != want) {
            // Refusals count per wanted state.
            self.refused_tries = 0;
        }
        self.in_flight = Some(want);
        self.belief = Belief::Unknown;
    }

    /// The answer to the request in flight; `jitter` is a fraction 0..1.
    pub fn finish(&mut self, class: Class, now: Instant, jitter: f64) -> Effect {
        let Some(want) = self.in_flight.take() else {
            return Effect::None;
        };
        self.last = Some((want, class.clone()));
        match class {
            Class::Accepted => {
                self.belief = Belief::of(want);
                let was_failing = std::mem::replace(&mut self.failing, false);
                self.clear_refused();
                if was_failing { Effect::Recovered } else { Effect::None }
            }
            Class::Transient(_) | Class::Unknown(_) | Class::Configuration(_) => {
                self.failing = true;
                self.retry_later(want, now, jitter);
                Effect::None
            }
            Class::Refused(text) => {
                self.failing = true;
                self.refused_tries += 1;
                self.retry_later(want, now, jitter);
                if self.refused_tries >= REFUSED_TRIES && self.refused.is_none() {
                    self.refused = Some(want);
                    return Effect::BecameRefused(text);
                }
                Effect::None
            }
        }
    }

    fn retry_later(&mut self, want: Want, now: Instant, jitter: f64) {
        if self.retry_for != Some(want) {
            self.backoff = FIRST_RETRY;
            self.retry_for = Some(want);
        }
        let wait = self.backoff.mul_f64(1.0 + 0.2 * jitter.clamp(0.0, 1.0));
        self.retry_at = Some(now + wait);
        self.backoff = (self.backoff * 2).min(MAX_RETRY);
    }
}

/// The whole client's pause while the API refuses us for configuration
/// reasons (login, 529, 532, 534, 599, pin): one request per
/// `config_retry`, so a wrong password cannot lock the API account.
#[derive(Clone, Debug, Default)]
pub struct Pause {
    pub until: Option<Instant>,
    pub reason: Option<String>,
}

impl Pause {
    /// Whether a request may go out now; while paused, one per period.
    pub fn allows(&mut self, now: Instant, config_retry: Duration) -> bool {
        match self.until {
            Some(t) if now < t => false,
            Some(_) => {
                self.until = Some(crate::time::mono_add(now, config_retry));
                true
            }
            None => true,
        }
    }

    /// A configuration-class answer: pause; returns true when this starts a
    /// pause (one daemon event per streak).
    pub fn configuration(&mut self, reason: &str, now: Instant, config_retry: Duration) -> bool {
        let started = self.until.is_none();
        self.until = Some(crate::time::mono_add(now, config_retry));
        self.reason = Some(reason.to_string());
        started
    }

    /// Any answer that is not configuration-class ends the pause; returns
    /// true when a pause ended (the API is usable again).
    pub fn answered(&mut self) -> bool {
        self.reason = None;
        self.until.take().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn one_in_flight_and_nothing_sent_that_the_belief_already_holds() {
        let t = Instant::now();
        let mut s = Slot::new(Belief::Active);
        assert!(!s.should_send(Want::Active, t, false, 600 * S));
        assert!(s.should_send(Want::DeActive, t, false, 600 * S));
        s.start(Want::DeActive);
        assert_eq!(s.belief, Belief::Unknown);
        assert!(!s.should_send(Want::DeActive, t, false, 600 * S), "in flight");
        assert!(!s.should_send(Want::Active, t, false, 600 * S), "in flight");
        assert_eq!(s.finish(Class::Accepted, t, 0.0), Effect::None);
        assert_eq!(s.belief, Belief::DeActive);
    }

    #[test]
    fn transient_and_unknown_back_off_from_1s_to_60s() {
        let t = Instant::now();
        let mut s = Slot::new(Belief::Active);
        let mut waits = Vec::new();
        let mut now = t;
        for i in 0..8 {
            assert!(s.should_send(Want::DeActive, now, false, 600 * S), "try {i}");
            s.start(Want::DeActive);
            let class = if i % 2 == 0 {
                Class::Transient("connect".into())
            } else {
                Class::Unknown("timeout".into())
            };
            s.finish(class, now, 0.0);
            assert_eq!(s.belief, Belief::Unknown);
            let next = s.retry_at.unwrap();
            assert!(!s.should_send(Want::DeActive, next - Duration::from_millis(1), false, 600 * S));
            waits.push((next - now).as_secs());
            now = next;
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
        s.start(Want::DeActive);
        assert_eq!(s.finish(Class::Accepted, now, 0.0), Effect::Recovered);
    }

    #[test]
    fn a_new_wanted_state_is_not_delayed_by_the_backoff_of_the_old_one() {
        let mut now = Instant::now();
        let mut s = Slot::new(Belief::Active);
        // A DeActive meets five 503s: its backoff reaches 32 s.
        for _ in 0..5 {
            assert!(s.should_send(Want::DeActive, now, false, 600 * S));
            s.start(Want::DeActive);
            s.finish(Class::Transient("HTTP 503".into()), now, 0.0);
            now = s.retry_at.unwrap();
        }
        s.start(Want::DeActive);
        s.finish(Class::Unknown("timeout".into()), now, 0.0);
        assert_eq!(s.retry_at.unwrap() - now, 32 * S);
        assert_eq!(s.belief, Belief::Unknown, "the DeActive may have been applied");
        // The group is up again: its Active goes at once, not 32 s later.
        assert!(s.should_send(Want::Active, now, false, 600 * S));
        s.start(Want::Active);
        s.finish(Class::Transient("HTTP 503".into()), now, 0.0);
        assert_eq!(s.retry_at.unwrap() - now, S, "the Active's own backoff starts at 1 s");
        // And back again: the DeActive does not inherit the Active's backoff either.
        assert!(s.should_send(Want::DeActive, now, false, 600 * S));
        s.start(Want::DeActive);
        s.finish(Class::Transient("HTTP 503".into()), now, 0.0);
        assert_eq!(s.retry_at.unwrap() - now, S);
    }

    #[test]
    fn three_refusals_make_the_group_refused_until_the_wanted_state_changes() {
        let mut now = Instant::now();
        let mut s = Slot::new(Belief::Active);
        let mut effects = Vec::new();
        for _ in 0..3 {
            assert!(s.should_send(Want::DeActive, now, false, 600 * S));
            s.start(Want::DeActive);
            effects.push(s.finish(Class::Refused("500".into()), now, 0.0));
            now = s.retry_at.unwrap();
        }
        assert_eq!(effects[2], Effect::BecameRefused("500".into()));
        assert!(
            !s.should_send(Want::DeActive, now + 3600 * S, false, 600 * S),
            "refused: not retried"
        );
        assert!(
            s.should_send(Want::Active, now, false, 600 * S),
            "a new wanted state is tried"
        );
    }

    #[test]
    fn a_refused_active_that_undoes_our_deactive_is_retried_every_config_retry() {
        let mut now = Instant::now();
        let mut s = Slot::new(Belief::DeActive);
        for _ in 0..3 {
            assert!(s.should_send(Want::Active, now, true, 600 * S));
            s.start(Want::Active);
            s.finish(Class::Refused("500".into()), now, 0.0);
            now = s.retry_at.unwrap();
        }
        assert!(
            !s.should_send(Want::Active, now + 3600 * S, false, 600 * S),
            "refused, not undoing: never"
        );
        assert!(s.should_send(Want::Active, now, true, 600 * S));
        s.start(Want::Active);
        s.finish(Class::Refused("500".into()), now, 0.0);
        assert!(!s.should_send(Want::Active, now + 599 * S, true, 600 * S));
        assert!(s.should_send(Want::Active, now + 600 * S, true, 600 * S));
    }

    #[test]
    fn a_configuration_pause_lets_one_request_through_per_period() {
        let t = Instant::now();
        let mut p = Pause::default();
        assert!(p.allows(t, 600 * S));
        assert!(p.configuration("login failed", t, 600 * S), "a pause starts");
        assert!(!p.configuration("login failed", t, 600 * S), "same streak");
        assert!(!p.allows(t + 599 * S, 600 * S));
        assert!(p.allows(t + 600 * S, 600 * S));
        assert!(!p.allows(t + 601 * S, 600 * S), "one per period");
        assert!(p.answered(), "usable again");
        assert!(p.allows(t + 602 * S, 600 * S));
    }
}
