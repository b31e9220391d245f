//! The three trackers built on the firewall view (docs/events-and-mail.md,
//! "Firewall view events"): the disagreement episode, the not-honoured
//! check after an accepted push, and the SNMP unusable streak. Pure, with
//! time passed in; the daemon feeds them and mails what they return.

use std::time::Duration;

use tokio::time::Instant;

use super::members::Carrying;
use crate::firewall::decide::Want;

/// What failoverd believes about one group, for the disagreement check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    /// failoverd's expected active member; `None`: it expects no member to
    /// carry the group (it deactivated the group).
    pub active: Option<String>,
    /// Members failoverd sees up, and down (unknown ones in neither).
    pub up: Vec<String>,
    pub down: Vec<String>,
}

/// How firewall and failoverd disagree, in words.
pub fn disagreement(carrying: &Carrying, e: &Expected) -> Option<String> {
    match carrying {
        Carrying::Unknown => None,
        Carrying::Member(c) if e.down.contains(c) => {
            Some(format!("the firewall still carries {c}, whose targets fail"))
        }
        Carrying::Member(c) => match &e.active {
            Some(a) if a != c => Some(format!("the firewall carries {c}; failoverd expects {a}")),
            Some(_) => None,
            None => Some(format!(
                "the firewall carries {c}; failoverd expects the group deactivated"
            )),
        },
        Carrying::Nobody => {
            e.up.first()
                .map(|u| format!("the firewall carries no member while {u} is up"))
        }
    }
}

/// What the disagreement tracker says after one judged walk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Episode {
    /// Disagreeing for `disagree_after`: reported once per episode.
    Began { detail: String, lasted: Duration },
    /// Agreeing again after a reported episode.
    Ended { lasted: Duration },
}

/// One group's disagreement episode. Only walks that read the table and
/// a group whose expectation is known are judged; time without either
/// counts neither way (the clock pauses, it does not reset).
#[derive(Clone, Debug, Default)]
pub struct Disagreement {
    /// Disagreeing time seen so far in this run of disagreeing walks.
    counted: Duration,
    /// The last judged walk, if it disagreed and nothing unjudged came
    /// after it.
    last: Option<Instant>,
    /// The current run's first disagreeing walk.
    since: Option<Instant>,
    /// An episode was reported and has not ended.
    reported: bool,
}

impl Disagreement {
    /// A judged walk at `now`: `detail` is the disagreement, if any.
    pub fn judged(&mut self, detail: Option<String>, now: Instant, disagree_after: Duration) -> Option<Episode> {
        match detail {
            None => {
                let lasted = self.since.map(|s| now.saturating_duration_since(s)).unwrap_or_default();
                let was = self.reported;
                *self = Disagreement::default();
                was.then_some(Episode::Ended { lasted })
            }
            Some(detail) => {
                if let Some(last) = self.last {
                    self.counted += now.saturating_duration_since(last);
                }
                self.since.get_or_insert(now);
                self.last = Some(now);
                if !self.reported && self.counted >= disagree_after {
                    self.reported = true;
                    return Some(Episode::Began {
                        detail,
                        lasted: self.counted,
                    });
                }
                None
            }
        }
    }

    /// A walk that could not judge (SNMP failed, or no expectation): the
    /// time until the next judged walk is not counted.
    pub fn unjudged(&mut self) {
        self.last = None;
    }

    pub fn reported(&self) -> bool {
        self.reported
    }
}

/// A push whose effect is awaited in the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pending {
    pub want: Want,
    pub at: Instant,
}

/// The outcome of a not-honoured check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The table shows the push's effect.
    Honoured,
    /// `verify_within` passed and the table does not show it: reported
    /// once, never re-sent on this ground.
    NotHonoured { want: Want, waited: Duration },
}

/// The not-honoured check of one group: after Active, some member must be
/// activated; after DeActive, none may be (docs/events-and-mail.md).
#[derive(Clone, Debug, Default)]
pub struct Verify {
    pending: Option<Pending>,
    /// The last push found not honoured, until the next accepted push.
    pub not_honoured: Option<Pending>,
}

impl Verify {
    /// The firewall accepted `want` at `now`; an earlier wait is replaced.
    pub fn push_accepted(&mut self, want: Want, now: Instant) {
        self.pending = Some(Pending { want, at: now });
        self.not_honoured = None;
    }

    /// A walk read the table at `now`; `any_activated` is whether some
    /// member of the group is activated in it. Walks that failed are not
    /// passed here: an unread table proves nothing either way.
    pub fn walked(&mut self, any_activated: bool, now: Instant, verify_within: Duration) -> Option<Verdict> {
        let p = self.pending?;
        let shown = match p.want {
            Want::Active => any_activated,
            Want::DeActive => !any_activated,
        };
        if shown {
            self.pending = None;
            return Some(Verdict::Honoured);
        }
        let waited = now.saturating_duration_since(p.at);
        if waited >= verify_within {
            self.pending = None;
            self.not_honoured = Some(p);
            return Some(Verdict::NotHonoured { want: p.want, waited });
        }
        None
    }

    pub fn pending(&self) -> Option<Pending> {
        self.pending
    }
}

/// The SNMP unusable streak: one event when walks start failing, one when
/// a walk reads the table again.
#[derive(Clone, Debug, Default)]
pub struct Streak {
    /// The first failed walk of the current streak.
    since: Option<Instant>,
}

/// What the streak tracker says about one walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreakChange {
    /// The first failure of a streak.
    Unusable,
    /// The first success after a streak that lasted this long.
    UsableAgain { after: Duration },
}

impl Streak {
    pub fn walked(&mut self, ok: bool, now: Instant) -> Option<StreakChange> {
        match (ok, self.since) {
            (false, None) => {
                self.since = Some(now);
                Some(StreakChange::Unusable)
            }
            (false, Some(_)) => None,
            (true, Some(s)) => {
                self.since = None;
                Some(StreakChange::UsableAgain {
                    after: now.saturating_duration_since(s),
                })
            }
            (true, None) => None,
        }
    }

    pub fn failing_since(&self) -> Option<Instant> {
        self.since
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn exp(active: Option<&str>, up: &[&str], down: &[&str]) -> Expected {
        Expected {
            active: active.map(str::to_owned),
            up: up.iter().map(|s| s.to_string()).collect(),
            down: down.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn member(m: &str) -> Carrying {
        Carrying::Member(m.into())
    }

    #[test]
    fn the_three_disagreements_of_the_contract() {
        let cases: Vec<(Carrying, Expected, Option<&str>)> = vec![
            // Agreement.
            (member("A"), exp(Some("A"), &["A"], &[]), None),
            (Carrying::Nobody, exp(None, &[], &["A", "B"]), None),
            (Carrying::Nobody, exp(Some("A"), &[], &["A"]), None),
            // Another member than the expected one.
            (
                member("B"),
                exp(Some("A"), &["A", "B"], &[]),
                Some("the firewall carries B; failoverd expects A"),
            ),
            // None while a member is up.
            (
                Carrying::Nobody,
                exp(Some("A"), &["A"], &[]),
                Some("the firewall carries no member while A is up"),
            ),
            // A member failoverd sees down, even if it is the expected one.
            (
                member("A"),
                exp(Some("A"), &["B"], &["A"]),
                Some("the firewall still carries A, whose targets fail"),
            ),
            // A member while failoverd deactivated the group.
            (
                member("A"),
                exp(None, &[], &[]),
                Some("the firewall carries A; failoverd expects the group deactivated"),
            ),
            // An unread table never disagrees.
            (Carrying::Unknown, exp(Some("A"), &["A"], &[]), None),
        ];
        for (c, e, want) in cases {
            assert_eq!(disagreement(&c, &e).as_deref(), want, "{c:?} {e:?}");
        }
    }

    /// Steps: (second, Some(disagreeing) / None = unjudged walk) and the
    /// episode expected after it.
    fn run(steps: &[(u64, Option<bool>)], after: Duration) -> Vec<(u64, Episode)> {
        let t0 = Instant::now();
        let mut d = Disagreement::default();
        let mut out = Vec::new();
        for &(t, step) in steps {
            let now = t0 + Duration::from_secs(t);
            match step {
                None => d.unjudged(),
                Some(dis) => {
                    if let Some(e) = d.judged(dis.then(|| "x".to_owned()), now, after) {
                        out.push((t, e));
                    }
                }
            }
        }
        out
    }

    #[test]
    fn one_event_per_episode_and_one_when_agreeing_again() {
        let began = |s: u64| Episode::Began {
            detail: "x".into(),
            lasted: Duration::from_secs(s),
        };
        let ended = |s: u64| Episode::Ended {
            lasted: Duration::from_secs(s),
        };
        type Case = (&'static str, Vec<(u64, Option<bool>)>, Vec<(u64, Episode)>);
        let cases: Vec<Case> = vec![
            (
                "shorter than disagree_after: nothing",
                vec![(0, Some(true)), (110, Some(true)), (120, Some(false))],
                vec![],
            ),
            (
                "long enough: once, and once when agreeing",
                vec![
                    (0, Some(true)),
                    (60, Some(true)),
                    (120, Some(true)),
                    (130, Some(true)),
                    (200, Some(true)),
                    (210, Some(false)),
                ],
                vec![(120, began(120)), (210, ended(210))],
            ),
            (
                "agreeing again ends nothing unreported, and the next episode starts afresh",
                vec![
                    (0, Some(true)),
                    (100, Some(true)),
                    (110, Some(false)),
                    (120, Some(true)),
                    (230, Some(true)),
                    (240, Some(true)),
                ],
                vec![(240, began(120))],
            ),
            (
                "an unread table pauses the clock: the gap is not counted",
                vec![
                    (0, Some(true)),
                    (60, Some(true)),
                    (70, None),
                    (500, Some(true)),
                    (550, Some(true)),
                    (560, Some(true)),
                ],
                vec![(560, began(120))],
            ),
            (
                "an unread table after a reported episode ends nothing",
                vec![
                    (0, Some(true)),
                    (120, Some(true)),
                    (130, None),
                    (900, None),
                    (910, Some(true)),
                    (920, Some(false)),
                ],
                vec![(120, began(120)), (920, ended(920))],
            ),
            (
                "two episodes: four events",
                vec![
                    (0, Some(true)),
                    (120, Some(true)),
                    (130, Some(false)),
                    (200, Some(true)),
                    (320, Some(true)),
                    (330, Some(false)),
                ],
                vec![
                    (120, began(120)),
                    (130, ended(130)),
                    (320, began(120)),
                    (330, ended(130)),
                ],
            ),
        ];
        for (name, steps, want) in cases {
            assert_eq!(run(&steps, 120 * S), want, "{name}");
        }
    }

    #[test]
    fn not_honoured_after_verify_within_reported_once() {
        use Want::*;
        // (push, steps of (second, any member activated), verdicts expected)
        type Case = (&'static str, Want, Vec<(u64, bool)>, Vec<(u64, Verdict)>);
        let nh = |w: Want, s: u64| Verdict::NotHonoured {
            want: w,
            waited: Duration::from_secs(s),
        };
        let cases: Vec<Case> = vec![
            (
                "Active shown at once",
                Active,
                vec![(10, true), (70, false)],
                vec![(10, Verdict::Honoured)],
            ),
            (
                "Active shown late but in time",
                Active,
                vec![(10, false), (50, true)],
                vec![(50, Verdict::Honoured)],
            ),
            (
                "Active never shown",
                Active,
                vec![(10, false), (50, false), (60, false), (70, false), (130, false)],
                vec![(60, nh(Active, 60))],
            ),
            (
                "DeActive with a member still activated",
                DeActive,
                vec![(10, true), (65, true), (80, true)],
                vec![(65, nh(DeActive, 65))],
            ),
            (
                "DeActive shown",
                DeActive,
                vec![(10, true), (20, false), (90, true)],
                vec![(20, Verdict::Honoured)],
            ),
            (
                "SNMP down for the whole window, then shown",
                Active,
                vec![(200, true)],
                vec![(200, Verdict::Honoured)],
            ),
            (
                "SNMP down for the whole window, then not shown",
                DeActive,
                vec![(200, true)],
                vec![(200, nh(DeActive, 200))],
            ),
        ];
        for (name, want, steps, expected) in cases {
            let t0 = Instant::now();
            let mut v = Verify::default();
            v.push_accepted(want, t0);
            let mut got = Vec::new();
            for (t, act) in steps {
                if let Some(x) = v.walked(act, t0 + Duration::from_secs(t), 60 * S) {
                    got.push((t, x));
                }
            }
            assert_eq!(got, expected, "{name}");
            let reported = expected.iter().any(|(_, x)| matches!(x, Verdict::NotHonoured { .. }));
            assert_eq!(v.not_honoured.is_some(), reported, "{name}");
            assert!(v.pending().is_none(), "{name}: a decided push is not awaited any more");
        }
        // A new push replaces the wait and clears the last verdict.
        let t0 = Instant::now();
        let mut v = Verify::default();
        v.push_accepted(Active, t0);
        assert_eq!(v.walked(false, t0 + 60 * S, 60 * S), Some(nh(Active, 60)));
        v.push_accepted(DeActive, t0 + 61 * S);
        assert!(v.not_honoured.is_none());
        assert_eq!(v.walked(false, t0 + 70 * S, 60 * S), Some(Verdict::Honoured));
        // No push: nothing to check.
        assert_eq!(Verify::default().walked(true, t0, 60 * S), None);
    }

    #[test]
    fn one_event_per_failure_streak() {
        let t0 = Instant::now();
        let mut s = Streak::default();
        let steps = [
            (0, true, None),
            (10, false, Some(StreakChange::Unusable)),
            (20, false, None),
            (30, false, None),
            (40, true, Some(StreakChange::UsableAgain { after: 30 * S })),
            (50, true, None),
            (60, false, Some(StreakChange::Unusable)),
            (70, true, Some(StreakChange::UsableAgain { after: 10 * S })),
        ];
        for (t, ok, want) in steps {
            assert_eq!(s.walked(ok, t0 + Duration::from_secs(t)), want, "at {t}");
        }
        // The first walk failing starts a streak too.
        let mut s = Streak::default();
        assert_eq!(s.walked(false, t0), Some(StreakChange::Unusable));
        assert_eq!(s.failing_since(), Some(t0));
    }
}
