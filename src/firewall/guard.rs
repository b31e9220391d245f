//! The guard: telling remote failures from the monitoring host's own
//! (docs/safety.md, The guard). While it holds, no DeActive is sent: an anchor
//! failed (or could not be checked) within `settle`, an anchor has not
//! finished a check sent after the group went down, or, with 3 or more
//! groups, more than `max_groups_down` of them went down within `window`.
//! A trip begins when the guard withholds a wanted DeActive and ends when
//! it no longer holds; its end disarms every group.
#![deny(clippy::arithmetic_side_effects)] // time sums saturate (docs/safety.md)

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use crate::engine::AnchorStatus;
use crate::health::outcome::Outcome;

/// Why the guard holds, for logs, status and the trip's mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    AnchorBad { anchor: String, ago: Duration },
    AnchorNotChecked { anchor: String },
    ManyGroupsDown { down: usize, of: usize, within: Duration },
}

impl Reason {
    /// Whether withholding a DeActive for this reason is a guard trip. An
    /// anchor that has simply not finished its next check yet is a wait of
    /// at most one interval, not a sign of our own fault: were it a trip,
    /// its end would disarm the very group that went down, and no underlay
    /// group could ever be deactivated.
    pub fn trips(&self) -> bool {
        !matches!(self, Reason::AnchorNotChecked { .. })
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::AnchorBad { anchor, ago } => {
                write!(
                    f,
                    "anchor {anchor} failed {}s ago (settle time not over)",
                    ago.as_secs()
                )
            }
            Reason::AnchorNotChecked { anchor } => {
                write!(f, "anchor {anchor} has not finished a check since the group went down")
            }
            Reason::ManyGroupsDown { down, of, within } => {
                write!(
                    f,
                    "{down} of {of} groups went down within {}s: taken as our own fault",
                    within.as_secs()
                )
            }
        }
    }
}

/// The guard's settings and memory.
#[derive(Clone, Debug)]
pub struct Guard {
    /// Effective settle time: never less than the longest
    /// `fall × interval + timeout` of any connection.
    pub settle: Duration,
    pub max_groups_down: f64,
    pub window: Duration,
    pub groups: usize,
    /// Group-downs within `window`: (group index, when). One group going
    /// down twice in the window is still one group.
    downs: VecDeque<(usize, Instant)>,
    /// A trip is under way.
    pub tripped: bool,
}

impl Guard {
    pub fn new(settle: Duration, max_groups_down: f64, window: Duration, groups: usize) -> Guard {
        Guard {
            settle,
            max_groups_down,
            window,
            groups,
            downs: VecDeque::new(),
            tripped: false,
        }
    }

    /// Group `group` (its index in the plan) went down at `at`.
    pub fn group_down(&mut self, group: usize, at: Instant) {
        self.downs.push_back((group, at));
    }

    /// Whether an anchor failed (or could not be checked) within `settle`.
    pub fn anchors_unsettled(&self, anchors: &[AnchorStatus], now: Instant) -> bool {
        anchors.iter().any(|a| {
            a.last_bad
                .is_some_and(|b| now.saturating_duration_since(b) < self.settle)
        })
    }

    /// Whether the guard holds for a group down since `down_since`.
    pub fn holds(&mut self, anchors: &[AnchorStatus], down_since: Instant, now: Instant) -> Option<Reason> {
        for a in anchors {
            let name = format!("{} {}", a.key.protocol, a.key.target);
            if let Some(bad) = a.last_bad {
                let ago = now.saturating_duration_since(bad);
                if ago < self.settle {
                    return Some(Reason::AnchorBad { anchor: name, ago });
                }
            }
            match &a.last {
                Some((Outcome::Good { .. }, at)) if *at > down_since => {}
                _ => return Some(Reason::AnchorNotChecked { anchor: name }),
            }
        }
        while self
            .downs
            .front()
            .is_some_and(|(_, t)| now.saturating_duration_since(*t) > self.window)
        {
            self.downs.pop_front();
        }
        let mut distinct: Vec<usize> = self.downs.iter().map(|(g, _)| *g).collect();
        distinct.sort_unstable();
        distinct.dedup();
        let down = distinct.len();
        if self.groups >= 3 && down as f64 > self.max_groups_down * self.groups as f64 {
            return Some(Reason::ManyGroupsDown {
                down,
                of: self.groups,
                within: self.window,
            });
        }
        None
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use crate::config::settings::{Family, Target};
    use crate::probe::{Protocol, StreamKey};

    const S: Duration = Duration::from_secs(1);

    fn anchor(last: Option<(Outcome, Instant)>, last_bad: Option<Instant>) -> AnchorStatus {
        let key = StreamKey {
            protocol: Protocol::Icmp,
            target: Target::Ip("192.0.2.254".parse().unwrap()),
            family: Family::Any,
            source: None,
            interface: None,
            interval: S,
            timeout: S,
        };
        AnchorStatus { key, last, last_bad }
    }

    fn good() -> Outcome {
        Outcome::Good {
            rtt: Duration::from_millis(1),
        }
    }

    #[test]
    fn anchors_must_be_good_settled_and_checked_after_the_group_went_down() {
        let t0 = Instant::now();
        let mut g = Guard::new(10 * S, 0.5, 30 * S, 1);
        let down = t0 + 20 * S;
        // Checked before the group went down only: not enough.
        let a = anchor(Some((good(), t0 + 19 * S)), None);
        assert!(matches!(
            g.holds(&[a], down, t0 + 21 * S),
            Some(Reason::AnchorNotChecked { .. })
        ));
        let a = anchor(Some((good(), t0 + 21 * S)), None);
        assert_eq!(g.holds(&[a], down, t0 + 21 * S), None);
        // Failed 5 s ago: within settle.
        let a = anchor(Some((good(), t0 + 22 * S)), Some(t0 + 17 * S));
        let r = g.holds(&[a], down, t0 + 22 * S).unwrap();
        assert_eq!(
            r.to_string(),
            "anchor PING 192.0.2.254 failed 5s ago (settle time not over)"
        );
        let a = anchor(Some((good(), t0 + 28 * S)), Some(t0 + 17 * S));
        assert_eq!(g.holds(&[a], down, t0 + 28 * S), None, "11 s after: settled");
        let error = Outcome::Error {
            reason: "no local route".into(),
        };
        let a = anchor(Some((error, t0 + 40 * S)), Some(t0 + 40 * S));
        assert!(
            g.holds(&[a], down, t0 + 40 * S).is_some(),
            "an anchor that cannot be checked holds too"
        );
    }

    #[test]
    fn many_groups_down_at_once_is_our_own_fault() {
        let t0 = Instant::now();
        let mut g = Guard::new(10 * S, 0.5, 30 * S, 4);
        g.group_down(0, t0);
        g.group_down(1, t0 + S);
        assert_eq!(g.holds(&[], t0, t0 + 2 * S), None, "2 of 4 is not more than 50 %");
        g.group_down(1, t0 + S + S / 2);
        g.group_down(0, t0 + S + S / 2);
        assert_eq!(
            g.holds(&[], t0, t0 + 2 * S),
            None,
            "two groups going down twice each are still 2 of 4, never \"4 of 4\""
        );
        g.group_down(2, t0 + 2 * S);
        let r = g.holds(&[], t0, t0 + 3 * S).unwrap();
        assert_eq!(
            r.to_string(),
            "3 of 4 groups went down within 30s: taken as our own fault"
        );
        assert_eq!(g.holds(&[], t0, t0 + 40 * S), None, "outside the window");
        let mut two = Guard::new(10 * S, 0.5, 30 * S, 2);
        two.group_down(0, t0);
        two.group_down(1, t0);
        assert_eq!(two.holds(&[], t0, t0), None, "the rule needs 3 or more groups");
    }
}
