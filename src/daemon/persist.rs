//! Between the live state (monotonic instants) and `state.json` (wall-clock
//! times): last health states, holds, damping histories, restart backoffs
//! and reactivate deadlines survive a restart; beliefs are kept per
//! firewall URL.
//!
//! Saved times may be anything (a damaged or edited file, a clock stepped
//! back): every conversion here saturates, and clippy's
//! `arithmetic_side_effects` is denied so that none can come back unseen.
#![deny(clippy::arithmetic_side_effects)]

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::firewall::decide::{Policy, Restart};
use crate::health::group::Persisted;
use crate::health::target::State;
use crate::state::{GroupState, StateDir, Word, times};

/// A pair of "now"s to convert between the clocks.
#[derive(Clone, Copy, Debug)]
pub struct Clocks {
    pub mono: Instant,
    pub wall: SystemTime,
}

impl Clocks {
    pub fn now() -> Clocks {
        Clocks {
            mono: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    /// The wall-clock time of instant `t`; saturates (never panics).
    pub fn to_wall(&self, t: Instant) -> SystemTime {
        if t <= self.mono {
            crate::time::wall_sub(self.wall, self.mono.saturating_duration_since(t))
        } else {
            crate::time::wall_add(self.wall, t.saturating_duration_since(self.mono))
        }
    }

    /// The instant of wall-clock time `w`; saturates (never panics): a
    /// time before the monotonic clock's start is its start, one absurdly
    /// far ahead is a year and a day ahead (the longest any deadline is).
    pub fn to_mono(&self, w: SystemTime) -> Instant {
        match self.wall.duration_since(w) {
            Ok(ago) => self.mono.checked_sub(ago).unwrap_or(self.mono),
            Err(e) => {
                let ahead = e.duration().min(times::YEAR.saturating_add(times::AHEAD));
                self.mono.checked_add(ahead).unwrap_or(self.mono)
            }
        }
    }
}

/// How long a failed write of `state.json` waits before the next try
/// (the daemon runs on in memory meanwhile).
pub const SAVE_RETRY: Duration = Duration::from_secs(60);

/// When to write `state.json`: as soon as something changed while writes
/// succeed; after a failed write, not again before [`SAVE_RETRY`] passed,
/// however often the state changes (or the loop ticks) in between.
#[derive(Clone, Copy, Debug, Default)]
pub struct Saving {
    retry_at: Option<Instant>,
}

impl Saving {
    /// Whether a write is due now, with the state `dirty` or not.
    pub fn due(&self, dirty: bool, now: Instant) -> bool {
        dirty && self.retry_at.is_none_or(|t| now >= t)
    }

    /// The outcome of a write at `now`.
    pub fn wrote(&mut self, ok: bool, now: Instant) {
        self.retry_at = (!ok).then(|| now.checked_add(SAVE_RETRY).unwrap_or(now));
    }

    /// Whether the last write succeeded.
    pub fn ok(&self) -> bool {
        self.retry_at.is_none()
    }
}

/// Loads `state.json` at the daemon's start, lock held (docs/state-file.md):
/// damage set aside, the previous good state used, or every group held
/// when neither can be used; each finding logged. `None`: do not start
/// (an entry that is not a file, or damage that cannot be set aside).
pub fn load_at_start(dir: &StateDir, plan: &crate::config::Plan) -> Option<crate::state::StateFile> {
    let groups: Vec<&str> = plan.groups.iter().map(|g| g.name()).collect();
    match dir.recover(&groups, SystemTime::now()) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                tracing::warn!(dir = %dir.path.display(), "{w}");
            }
            Some(loaded.state)
        }
        Err(e) => {
            tracing::error!(dir = %dir.path.display(), "cannot use the state directory: {e}");
            None
        }
    }
}

/// A health state as the state file spells it (unknown: absent).
pub fn word(s: State) -> Option<Word> {
    match s {
        State::Up => Some(Word::Up),
        State::Down => Some(Word::Down),
        State::Unknown => None,
    }
}

/// `w` made to spell `s` (a save rewrites only the words that changed).
pub fn set_word(w: &mut Option<Word>, s: State) {
    let new = word(s);
    if *w != new {
        *w = new;
    }
}

fn state(w: &Option<Word>) -> State {
    match w {
        Some(Word::Up) => State::Up,
        Some(Word::Down) => State::Down,
        _ => State::Unknown,
    }
}

/// The health part of a group's saved state.
pub fn persisted(g: &GroupState) -> Persisted {
    Persisted {
        group: state(&g.group),
        members: g.members.iter().map(state).collect(),
        expected_active: g.expected_active,
    }
}

/// Saves health and rule memory into `g`.
pub fn save(g: &mut GroupState, health: &Persisted, policy: &Policy, clocks: &Clocks) {
    // In place: a save (up to every tick) rewrites only the words that
    // changed, instead of allocating every group's words and list anew.
    set_word(&mut g.group, health.group);
    g.members.resize(health.members.len(), None);
    for (w, s) in g.members.iter_mut().zip(&health.members) {
        set_word(w, *s);
    }
    g.expected_active = health.expected_active;
    g.deactives = policy.deactives.iter().map(|t| clocks.to_wall(*t)).collect();
    g.restart_backoff_secs = Some(policy.restart_backoff.as_secs());
    g.next_restart = policy.next_restart.map(|t| clocks.to_wall(t));
    g.restart_active_pending = policy.restart != Restart::Idle;
    g.deactivated_at = policy.deactivated_at.map(|t| clocks.to_wall(t));
    g.last_up = policy.last_up.map(|t| clocks.to_wall(t));
}

/// Restores rule memory from `g` into a fresh policy.
pub fn restore(g: &GroupState, policy: &mut Policy, clocks: &Clocks) {
    policy.deactives = g.deactives.iter().map(|w| clocks.to_mono(*w)).collect();
    if let Some(s) = g.restart_backoff_secs {
        // A damaged or hand-edited file may hold any number: a year at most.
        let saved = Duration::from_secs(s).min(crate::time::MAX_DURATION);
        policy.restart_backoff = saved.max(policy.timing.restart_backoff);
    }
    policy.next_restart = g.next_restart.map(|w| clocks.to_mono(w));
    if g.restart_active_pending {
        // After a crash in the middle of a restart, its Active is sent at start.
        policy.restart = Restart::Reactivating;
    }
    policy.deactivated_at = g.deactivated_at.map(|w| clocks.to_mono(w));
    policy.last_up = g.last_up.map(|w| clocks.to_mono(w));
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use crate::firewall::decide::{Kind, Timing};

    /// The rules' timing the tests use.
    fn timing() -> Timing {
        Timing {
            restart_after: Duration::from_secs(120),
            restart_backoff: Duration::from_secs(300),
            flap_limit: 3,
            flap_window: Duration::from_secs(1800),
            flap_hold: Duration::from_secs(600),
            reactivate_after: Duration::from_secs(1800),
        }
    }

    #[test]
    fn absurd_saved_times_never_panic_and_stay_within_a_year_and_a_day() {
        let t = timing();
        let c = Clocks::now();
        let far = SystemTime::UNIX_EPOCH + Duration::from_secs(1 << 50);
        let bound = times::YEAR + times::AHEAD;
        assert!(c.to_mono(far) <= c.mono + bound);
        assert!(c.to_mono(SystemTime::UNIX_EPOCH) <= c.mono);
        let g = GroupState {
            next_restart: Some(far),
            deactivated_at: Some(far),
            last_up: Some(SystemTime::UNIX_EPOCH),
            deactives: vec![far, SystemTime::UNIX_EPOCH],
            restart_backoff_secs: Some(u64::MAX),
            ..GroupState::default()
        };
        let mut p = Policy::new(Kind::Tunnel, t);
        restore(&g, &mut p, &c);
        assert_eq!(p.restart_backoff, times::YEAR);
        for later in [0, 1, 3600, 400 * 24 * 3600] {
            let _ = p.decide(c.mono + Duration::from_secs(later), true, false);
        }
        let mut back = GroupState::default();
        let health = persisted(&g);
        save(&mut back, &health, &p, &c);
        assert!(back.next_restart.unwrap() <= times::add(c.wall, bound + Duration::from_secs(1)));
        assert!(c.to_wall(c.mono + Duration::from_secs(1 << 40)) > c.wall);
    }

    #[test]
    fn a_save_spells_health_as_word_does_whatever_was_there() {
        for (before, s, after) in [
            (None, State::Up, Some("up")),
            (Some("up"), State::Down, Some("down")),
            (Some("down"), State::Down, Some("down")),
            (Some("up"), State::Unknown, None),
            (Some("unknown"), State::Unknown, None),
            (Some("odd"), State::Up, Some("up")),
            (None, State::Unknown, None),
        ] {
            let mut w = before.map(Word::from);
            set_word(&mut w, s);
            assert_eq!(w, word(s), "{before:?} {s:?}");
            assert_eq!(w.as_ref().map(Word::as_str), after);
        }
        // Members follow the health's count, shorter or longer.
        let mut g = GroupState {
            members: vec![Some("up".into()), Some("down".into()), None],
            ..GroupState::default()
        };
        let t = Policy::new(Kind::Tunnel, timing());
        for members in [
            vec![State::Down, State::Unknown],
            vec![State::Up, State::Up, State::Down],
        ] {
            let health = Persisted {
                group: State::Up,
                members: members.clone(),
                expected_active: None,
            };
            save(&mut g, &health, &t, &Clocks::now());
            let want: Vec<Option<Word>> = members.iter().map(|s| word(*s)).collect();
            assert_eq!(g.members, want);
            assert_eq!(g.group, Some(Word::Up));
        }
    }

    #[test]
    fn saved_health_words_come_back_as_the_health_they_spelled() {
        let mut v = serde_json::to_value(GroupState::default()).unwrap();
        v["group"] = "up".into();
        v["members"] = serde_json::json!(["up", "down", null, "odd"]);
        let g: GroupState = serde_json::from_value(v.clone()).unwrap();
        let p = persisted(&g);
        assert_eq!(p.group, State::Up);
        assert_eq!(p.members, [State::Up, State::Down, State::Unknown, State::Unknown]);
        assert_eq!(serde_json::to_value(&g).unwrap(), v, "read back as written");
    }

    #[test]
    fn rule_memory_survives_a_restart() {
        let t = timing();
        let c = Clocks::now();
        let mut p = Policy::new(Kind::Tunnel, t);
        p.restart = Restart::DeActivating;
        p.restart_backoff = Duration::from_secs(600);
        p.next_restart = Some(c.mono + Duration::from_secs(100));
        p.deactivated_at = Some(c.mono.checked_sub(Duration::from_secs(50)).unwrap_or(c.mono));
        let health = Persisted {
            group: State::Down,
            members: vec![State::Down, State::Unknown],
            expected_active: Some(1),
        };
        let mut g = GroupState::default();
        save(&mut g, &health, &p, &c);
        assert_eq!(persisted(&g), health);
        let mut q = Policy::new(Kind::Tunnel, t);
        restore(&g, &mut q, &c);
        assert_eq!(
            q.restart,
            Restart::Reactivating,
            "a pending restart ends in Active after a crash"
        );
        assert_eq!(q.restart_backoff, Duration::from_secs(600));
        let drift = |a: Option<Instant>, b: Option<Instant>| a.unwrap().max(b.unwrap()) - a.unwrap().min(b.unwrap());
        assert!(drift(q.next_restart, p.next_restart) < Duration::from_millis(1));
        assert!(drift(q.deactivated_at, p.deactivated_at) < Duration::from_millis(1));
    }

    #[test]
    fn a_failed_write_is_tried_again_after_a_minute_not_on_every_tick() {
        let t0 = Instant::now();
        let s = |secs: u64| t0 + Duration::from_secs(secs);
        let mut w = Saving::default();
        assert!(w.ok());
        assert!(!w.due(false, t0), "nothing changed: nothing to write");
        assert!(w.due(true, t0));
        w.wrote(false, t0);
        assert!(!w.ok());
        // (dirty, at second, due?)
        let table = [
            (true, 0, false),
            (true, 1, false),
            (true, 59, false),
            (false, 60, false),
            (true, 60, true),
        ];
        for (dirty, at, due) in table {
            assert_eq!(w.due(dirty, s(at)), due, "dirty {dirty} at {at}s");
        }
        w.wrote(false, s(60));
        assert!(!w.due(true, s(119)), "a second failure waits another minute");
        assert!(w.due(true, s(120)));
        w.wrote(true, s(120));
        assert!(w.ok());
        assert!(w.due(true, s(120)), "once writes work, every change is written at once");
    }
}
