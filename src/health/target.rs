//! Per-target health state machine: turns the stream of check outcomes of one
//! target (as seen by one reader) into up/down verdicts, using the fall/rise
//! run rules, the optional quality rules (loss, mean RTT) over a sliding
//! window, and the "unstable" limit for targets that never settle.
//!
//! Pure and O(1) per check: the window is a fixed-size ring of 4-byte samples
//! with running sums, because a daemon may hold 10,000 of these.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use super::outcome::Outcome;

mod reason;
pub use reason::{Reason, format_duration, format_percent};

/// Quality rules judged over the last `window` good-or-failed checks.
#[derive(Clone, Debug, PartialEq)]
pub struct Quality {
    /// Number of good-or-failed checks the rules are judged over.
    pub window: u32,
    /// Loss fractions (0..=1) as `(down, up)`: down at `>= down`, up needs `< up`.
    pub loss: Option<(f64, f64)>,
    /// Mean RTT of the good checks as `(down, up)`: down at `>= down`, up needs `< up`.
    pub rtt: Option<(Duration, Duration)>,
}

impl Quality {
    /// A `Quality` with neither rule set imposes nothing, not even waiting
    /// for a full window.
    fn has_rules(&self) -> bool {
        self.loss.is_some() || self.rtt.is_some()
    }
}

/// The rules one target is judged by.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetRules {
    /// Failed checks in a row that make the target down.
    pub fall: u32,
    /// Good checks in a row needed (with the quality rules) to make it up.
    pub rise: u32,
    /// Optional quality rules.
    pub quality: Option<Quality>,
}

impl TargetRules {
    /// The quality rules in force, if any.
    fn active_quality(&self) -> Option<&Quality> {
        self.quality.as_ref().filter(|q| q.has_rules())
    }

    // Zero values are rejected by config validation; clamping to 1 keeps the
    // machine meaningful (and panic-free) even if one slips through.
    fn fall(&self) -> u32 {
        self.fall.max(1)
    }

    fn rise(&self) -> u32 {
        self.rise.max(1)
    }

    /// Window size in checks; 0 when no quality rule is set (nothing stored).
    fn window(&self) -> u32 {
        self.active_quality().map_or(0, |q| q.window.max(1))
    }

    /// Good-or-failed checks after which a still-unknown target is declared
    /// down as unstable: `2 × max(fall, rise, window)`.
    fn unstable_limit(&self) -> u32 {
        self.fall().max(self.rise()).max(self.window()).saturating_mul(2)
    }
}

/// Health state of a target, condition, member or group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum State {
    /// No verdict yet.
    #[default]
    Unknown,
    Up,
    Down,
}

impl State {
    /// The word status, the state file and mails use: "up", "down", "unknown".
    pub fn word(self) -> &'static str {
        match self {
            State::Up => "up",
            State::Down => "down",
            State::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.word())
    }
}

/// A state change with the human reason (and figures) that caused it.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub state: State,
    pub reason: String,
}

/// Reason reported while a target has no verdict.
pub const NO_VERDICT: &str = "no verdict yet";

/// Sample value meaning "failed check"; RTTs saturate just below it.
const FAILED: u32 = u32::MAX;

/// Sliding window of the last `cap` good-or-failed checks, with running sums
/// so loss and mean RTT are O(1). One sample is RTT in µs or [`FAILED`].
#[derive(Clone, Debug, Default)]
struct Window {
    samples: VecDeque<u32>,
    cap: usize,
    failed: u32,
    rtt_sum_us: u64,
}

/// The window of a target without quality rules: nothing stored.
static NO_WINDOW: Window = Window {
    samples: VecDeque::new(),
    cap: 0,
    failed: 0,
    rtt_sum_us: 0,
};

impl Window {
    fn new(cap: u32) -> Self {
        let cap = cap as usize;
        Window {
            samples: VecDeque::with_capacity(cap),
            cap,
            ..Window::default()
        }
    }

    fn push(&mut self, sample: u32) {
        if self.cap == 0 {
            return;
        }
        if self.samples.len() == self.cap {
            self.pop_oldest();
        }
        self.samples.push_back(sample);
        self.account(sample, true);
    }

    fn pop_oldest(&mut self) {
        if let Some(old) = self.samples.pop_front() {
            self.account(old, false);
        }
    }

    fn account(&mut self, sample: u32, add: bool) {
        match (sample == FAILED, add) {
            (true, true) => self.failed += 1,
            (true, false) => self.failed -= 1,
            (false, true) => self.rtt_sum_us += u64::from(sample),
            (false, false) => self.rtt_sum_us -= u64::from(sample),
        }
    }

    /// Keeps the newest samples that fit a new size.
    fn resize(&mut self, cap: u32) {
        let cap = cap as usize;
        while self.samples.len() > cap {
            self.pop_oldest();
        }
        self.cap = cap;
        if self.samples.capacity() > cap {
            self.samples.shrink_to(cap);
        } else {
            self.samples.reserve_exact(cap - self.samples.len());
        }
    }

    fn is_full(&self) -> bool {
        self.cap > 0 && self.samples.len() == self.cap
    }

    fn len(&self) -> usize {
        self.samples.len()
    }

    fn loss(&self) -> f64 {
        f64::from(self.failed) / self.samples.len().max(1) as f64
    }

    /// Mean RTT of the good samples; `None` if there are none.
    fn mean_rtt(&self) -> Option<Duration> {
        let good = (self.samples.len() as u64).checked_sub(u64::from(self.failed))?;
        let mean = self.rtt_sum_us.checked_div(good)?;
        Some(Duration::from_micros(mean))
    }
}

/// What the shown reason is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Basis {
    /// `reason` is the whole text (no verdict yet, quality, unstable).
    Fixed,
    /// The state came from a run rule: the reason shows the live runs, with
    /// `reason` as the suffix of an up verdict (its quality figures).
    Runs,
}

/// Health of one target as seen by one reader.
#[derive(Clone, Debug)]
pub struct TargetHealth {
    /// Shared by every target of the connections with the same timing
    /// (issue #30: one copy, not one per target).
    rules: Arc<TargetRules>,
    state: State,
    /// The whole reason, or with [`Basis::Runs`]: the quality figures of
    /// an up verdict, or why the newest failed check of a down target
    /// failed (a reused buffer: no allocation per check once big enough).
    /// Borrowed for the fixed texts: a fresh target allocates nothing.
    reason: Cow<'static, str>,
    basis: Basis,
    good_run: u32,
    fail_run: u32,
    /// Only with quality rules: a target without holds a null pointer, not
    /// an empty window's 56 bytes (issue #30).
    window: Option<Box<Window>>,
    /// Good-or-failed checks seen while unknown (for the unstable limit).
    unsettled: u32,
    /// Failed checks among `unsettled`.
    unsettled_failed: u32,
}

impl TargetHealth {
    /// A fresh target in state unknown. Pass an `Arc` to share the rules
    /// among many targets.
    pub fn new(rules: impl Into<Arc<TargetRules>>) -> Self {
        let rules = rules.into();
        let window = match rules.window() {
            0 => None,
            cap => Some(Box::new(Window::new(cap))),
        };
        TargetHealth {
            rules,
            state: State::Unknown,
            reason: Cow::Borrowed(NO_VERDICT),
            basis: Basis::Fixed,
            good_run: 0,
            fail_run: 0,
            window,
            unsettled: 0,
            unsettled_failed: 0,
        }
    }

    /// Feeds one check; returns the verdict only when the state changes.
    /// Errors are ignored entirely: they neither break nor extend a run and
    /// are not part of the window or the unstable count.
    pub fn observe(&mut self, outcome: &Outcome) -> Option<Verdict> {
        let failure = match outcome {
            Outcome::Error { .. } => return None,
            Outcome::Good { rtt } => {
                self.good_run = self.good_run.saturating_add(1);
                self.fail_run = 0;
                let us = u32::try_from(rtt.as_micros()).unwrap_or(FAILED - 1);
                self.push(us.min(FAILED - 1));
                None
            }
            Outcome::Failed { reason } => {
                self.fail_run = self.fail_run.saturating_add(1);
                self.good_run = 0;
                self.push(FAILED);
                if self.state == State::Down && self.basis == Basis::Runs {
                    match &mut self.reason {
                        Cow::Owned(text) => text.clone_from(reason),
                        text => *text = Cow::Owned(reason.clone()),
                    }
                }
                Some(reason.as_str())
            }
        };
        if self.state == State::Unknown {
            self.unsettled = self.unsettled.saturating_add(1);
            self.unsettled_failed = self.unsettled_failed.saturating_add(u32::from(failure.is_some()));
        }
        let (state, basis, text) = self.judge(failure)?;
        self.state = state;
        self.basis = basis;
        self.reason = Cow::Owned(text);
        Some(Verdict {
            state,
            reason: self.last_reason().to_string(),
        })
    }

    /// Current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Why the target is in its current state, rendered when shown: a run
    /// verdict shows the live run counts ("17 good checks in a row" after
    /// 17 checks, not the `rise` that made it up), so nothing is formatted
    /// per check.
    pub fn last_reason(&self) -> Reason<'_> {
        match self.basis {
            Basis::Fixed => Reason::Text(&self.reason),
            Basis::Runs => Reason::Live(self),
        }
    }

    /// The rules in force.
    pub fn rules(&self) -> &TargetRules {
        &self.rules
    }

    /// The rules in force, shared (cloning it copies a pointer).
    pub fn shared_rules(&self) -> &Arc<TargetRules> {
        &self.rules
    }

    /// Reload with new rules. State, runs and the unstable count are kept
    /// (they do not depend on the thresholds); the window keeps its newest
    /// samples that fit the new size, or is dropped if no quality rule is
    /// left. The new rules take effect from the next check: a reload alone
    /// never produces a verdict.
    pub fn set_rules(&mut self, rules: impl Into<Arc<TargetRules>>) {
        let rules = rules.into();
        match (&mut self.window, rules.window()) {
            (window, 0) => *window = None,
            (Some(window), cap) => window.resize(cap),
            (window @ None, cap) => *window = Some(Box::new(Window::new(cap))),
        }
        self.rules = rules;
    }

    /// Adds a sample to the window, if there is one.
    fn push(&mut self, sample: u32) {
        if let Some(window) = &mut self.window {
            window.push(sample);
        }
    }

    /// The window (an empty one without quality rules).
    fn window(&self) -> &Window {
        self.window.as_deref().unwrap_or(&NO_WINDOW)
    }

    /// After a late tick: forget the in-progress runs (the checks before the
    /// gap must not combine with those after it) but keep the state, the
    /// window (quality over the last N checks is still true) and the
    /// unstable count.
    pub fn discard_recent(&mut self) {
        self.good_run = 0;
        self.fail_run = 0;
    }

    /// Back to unknown with no history (e.g. the target was re-created).
    pub fn reset(&mut self) {
        *self = TargetHealth::new(Arc::clone(&self.rules));
    }

    /// The new state after a check, if it changes, with what its reason
    /// is made of.
    fn judge(&self, failure: Option<&str>) -> Option<(State, Basis, String)> {
        if self.state != State::Down {
            if let Some(why) = failure
                && self.fail_run >= self.rules.fall()
            {
                return Some((State::Down, Basis::Runs, why.to_owned()));
            }
            if let Some(reason) = self.quality_down_reason() {
                return Some((State::Down, Basis::Fixed, reason));
            }
        }
        if self.state != State::Up
            && let Some(suffix) = self.up_suffix()
        {
            return Some((State::Up, Basis::Runs, suffix));
        }
        if self.state == State::Unknown && self.unsettled >= self.rules.unstable_limit() {
            let reason = format!(
                "unstable: {} of {} checks failed",
                self.unsettled_failed, self.unsettled
            );
            return Some((State::Down, Basis::Fixed, reason));
        }
        None
    }

    /// Why the quality rules make the target down now, if they do.
    fn quality_down_reason(&self) -> Option<String> {
        let quality = self.rules.active_quality()?;
        if !self.window().is_full() {
            return None;
        }
        let n = self.window().len();
        if let Some((down, _)) = quality.loss
            && self.window().loss() >= down
        {
            let loss = format_percent(self.window().loss());
            let limit = format_percent(down);
            return Some(format!("loss {loss} over {n} checks >= {limit}"));
        }
        if let Some((down, _)) = quality.rtt
            && let Some(mean) = self.window().mean_rtt()
            && mean >= down
        {
            let (mean, limit) = (format_duration(mean), format_duration(down));
            return Some(format!("mean RTT {mean} over {n} checks >= {limit}"));
        }
        None
    }

    /// Whether the target should be up now (the rise rule and every
    /// configured quality rule on a full window), as the suffix of its
    /// reason: the quality figures ("" without quality rules).
    fn up_suffix(&self) -> Option<String> {
        if self.good_run < self.rules.rise() {
            return None;
        }
        let mut reason = String::new();
        let Some(quality) = self.rules.active_quality() else {
            return Some(reason);
        };
        if !self.window().is_full() {
            return None;
        }
        let n = self.window().len();
        if let Some((_, up)) = quality.loss {
            let loss = self.window().loss();
            if loss >= up {
                return None;
            }
            let (loss, limit) = (format_percent(loss), format_percent(up));
            let _ = write!(reason, ", loss {loss} over {n} checks < {limit}");
        }
        if let Some((_, up)) = quality.rtt {
            let mean = self.window().mean_rtt().filter(|mean| *mean < up)?;
            let (mean, limit) = (format_duration(mean), format_duration(up));
            let _ = write!(reason, ", mean RTT {mean} over {n} checks < {limit}");
        }
        Some(reason)
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod live_tests;
