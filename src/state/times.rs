//! Saved times checked at load (docs/state-file.md, "Times at load"): a
//! time that records a past moment but lies more than a day ahead (the
//! clock was stepped back, or the file was edited) is dropped with a
//! warning; a deadline far beyond anything failoverd sets (a hold, the
//! next restart) is shortened to that bound, also warned. Nothing here
//! can overflow: every sum is checked.

#![deny(clippy::arithmetic_side_effects)]

use std::time::{Duration, SystemTime};

use super::StateFile;

/// How far ahead of now a past moment may lie (clock jitter, a small step).
pub const AHEAD: Duration = Duration::from_secs(24 * 3600);

/// The longest hold failoverd places (`hold --for` is bounded at a year,
/// and the "state lost" hold is a year).
pub const YEAR: Duration = crate::time::MAX_DURATION;

/// The latest deadline kept at load: a year and a day from now.
pub fn latest_deadline(now: SystemTime) -> SystemTime {
    add(now, YEAR.saturating_add(AHEAD))
}

/// `t + d`, or the latest time the platform holds near that.
pub fn add(t: SystemTime, d: Duration) -> SystemTime {
    t.checked_add(d).unwrap_or_else(|| {
        // Far beyond any real date: about 292 billion years is the limit
        // on Linux; a century past `t` is as good for every use here.
        t.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)).unwrap_or(t)
    })
}

/// Drops or shortens times in `s` as the module says; one warning each.
pub fn check(s: &mut StateFile, now: SystemTime) -> Vec<String> {
    let ahead = add(now, AHEAD);
    let latest = latest_deadline(now);
    let mut notes = Vec::new();
    let past = |notes: &mut Vec<String>, what: &str, group: &str, t: &mut Option<SystemTime>| {
        if t.is_some_and(|t| t > ahead) {
            *t = None;
            notes.push(format!(
                "{group}: the saved {what} lies more than a day in the future (was the clock stepped back?): dropped"
            ));
        }
    };
    for (name, g) in &mut s.groups {
        past(&mut notes, "time of its last state change", name, &mut g.since);
        past(&mut notes, "time of failoverd's DeActive", name, &mut g.deactivated_at);
        past(&mut notes, "time it was last seen up", name, &mut g.last_up);
        let before = g.deactives.len();
        g.deactives.retain(|t| *t <= ahead);
        if g.deactives.len() != before {
            notes.push(format!(
                "{name}: {} saved DeActive time(s) lie more than a day in the future (was the clock stepped back?): dropped",
                before.saturating_sub(g.deactives.len())
            ));
        }
        if g.next_restart.is_some_and(|t| t > latest) {
            g.next_restart = Some(latest);
            notes.push(format!(
                "{name}: the saved next restart lies beyond a year and a day: shortened to that"
            ));
        }
        if let Some(h) = g.hold.as_mut().filter(|h| h.until > latest) {
            h.until = latest;
            notes.push(format!(
                "{name}: the saved hold ends beyond a year and a day from now: kept, shortened to end then"
            ));
        }
        if g.restart_backoff_secs.is_some_and(|s| s > YEAR.as_secs()) {
            g.restart_backoff_secs = Some(YEAR.as_secs());
        }
    }
    for (url, fw) in &mut s.firewalls {
        let before = fw.set_at.len();
        fw.set_at.retain(|_, t| *t <= ahead);
        if fw.set_at.len() != before {
            notes.push(format!(
                "{url}: a saved time a belief was set lies more than a day in the future (was the clock stepped back?): dropped"
            ));
        }
    }
    notes
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use crate::state::{GroupState, Hold};

    const DAY: u64 = 24 * 3600;

    #[test]
    fn past_moments_ahead_are_dropped_and_far_deadlines_shortened() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let at = |secs: i64| {
            if secs >= 0 {
                now + Duration::from_secs(secs.unsigned_abs())
            } else {
                now - Duration::from_secs(secs.unsigned_abs())
            }
        };
        let far = SystemTime::UNIX_EPOCH + Duration::from_secs(253_402_300_800 * 4);
        let mut s = StateFile::default();
        s.groups.insert(
            "G".into(),
            Box::new(GroupState {
                since: Some(at(2 * DAY as i64)),
                deactivated_at: Some(at(-60)),
                last_up: Some(far),
                deactives: vec![at(-10), at(3 * DAY as i64), at(DAY as i64 - 1)],
                next_restart: Some(far),
                restart_backoff_secs: Some(u64::MAX),
                hold: Some(Hold {
                    until: far,
                    reason: "x".into(),
                }),
                ..GroupState::default()
            }),
        );
        s.groups.insert(
            "H".into(),
            Box::new(GroupState {
                hold: Some(Hold {
                    until: at(300 * DAY as i64),
                    reason: "long maintenance".into(),
                }),
                ..GroupState::default()
            }),
        );
        let notes = check(&mut s, now);
        let g = &s.groups["G"];
        assert_eq!(g.since, None);
        assert_eq!(g.deactivated_at, Some(at(-60)), "a past moment in the past stays");
        assert_eq!(g.last_up, None);
        assert_eq!(g.deactives, [at(-10), at(DAY as i64 - 1)]);
        assert_eq!(g.next_restart, Some(latest_deadline(now)));
        assert_eq!(g.hold.as_ref().unwrap().until, latest_deadline(now), "kept, shortened");
        assert_eq!(g.restart_backoff_secs, Some(YEAR.as_secs()));
        assert_eq!(
            s.groups["H"].hold.as_ref().unwrap().until,
            at(300 * DAY as i64),
            "a long hold is legitimate"
        );
        assert_eq!(notes.len(), 5, "{notes:#?}");
        assert!(notes.iter().all(|n| n.starts_with("G: ")), "{notes:#?}");
    }

    #[test]
    fn sums_never_overflow() {
        let far = SystemTime::UNIX_EPOCH + Duration::from_secs(i64::MAX as u64 / 2);
        assert!(add(far, Duration::MAX) >= far);
        assert!(latest_deadline(far) >= far);
    }
}
