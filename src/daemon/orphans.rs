//! Groups a reload dropped in the middle of a tunnel restart. Their Active
//! is still sent, whatever happens, through the sender of the settings they
//! came from: after the request still in flight is answered, and again 5 s
//! after every answer but an acceptance. Each request counts against
//! `max_in_flight` like any other. Synchronous, with time passed in; the
//! daemon does the sending.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

/// How long an orphan's refused (or failed) Active waits before the next try.
pub const RETRY: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// A request is out: the one from before the reload (`active` false),
    /// or the orphan's own Active.
    InFlight { active: bool },
    /// The Active goes at or after this time, when a request is free.
    Due(Instant),
}

struct Orphan<S> {
    sender: S,
    step: Step,
}

/// Every orphan, by group name; `S` is the sender of its old settings.
pub struct Orphans<S> {
    groups: BTreeMap<String, Orphan<S>>,
}

impl<S> Default for Orphans<S> {
    fn default() -> Self {
        Orphans {
            groups: BTreeMap::new(),
        }
    }
}

impl<S: Clone> Orphans<S> {
    /// `group` left the settings during a restart; `in_flight`: a request
    /// for it is still out (and counted).
    pub fn dropped(&mut self, group: &str, sender: S, in_flight: bool, now: Instant) {
        let step = if in_flight {
            Step::InFlight { active: false }
        } else {
            Step::Due(now)
        };
        self.groups.insert(group.to_string(), Orphan { sender, step });
    }

    /// Requests of orphans that are out now.
    pub fn in_flight(&self) -> usize {
        self.groups
            .values()
            .filter(|o| matches!(o.step, Step::InFlight { .. }))
            .count()
    }

    /// The answer to an orphan's request; false when `group` is no orphan
    /// or has nothing in flight (the answer is none of its business).
    pub fn answered(&mut self, group: &str, accepted: bool, now: Instant) -> bool {
        let Some(o) = self.groups.get_mut(group) else {
            return false;
        };
        match o.step {
            Step::InFlight { active: true } if accepted => {
                self.groups.remove(group);
            }
            Step::InFlight { active: true } => o.step = Step::Due(now + RETRY),
            Step::InFlight { active: false } => o.step = Step::Due(now),
            Step::Due(_) => return false,
        }
        true
    }

    /// Whether `group` is an orphan.
    pub fn is_orphan(&self, group: &str) -> bool {
        self.groups.contains_key(group)
    }

    /// The senders orphans still need.
    pub fn senders(&self) -> Vec<S> {
        self.groups.values().map(|o| o.sender.clone()).collect()
    }

    /// The Actives to send now, at most `free` of them, each marked in
    /// flight; with the sender to use.
    pub fn due(&mut self, now: Instant, free: usize) -> Vec<(String, S)> {
        let mut out = Vec::new();
        for (name, o) in &mut self.groups {
            if out.len() >= free {
                break;
            }
            if matches!(o.step, Step::Due(t) if t <= now) {
                o.step = Step::InFlight { active: true };
                out.push((name.clone(), o.sender.clone()));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One step of a table: what happens, and which orphans' Actives go
    /// out right after it (with `free` requests available).
    enum Do {
        Drop(&'static str, bool),
        Answer(&'static str, bool),
        After(u64),
    }

    #[test]
    fn orphans_table() {
        use Do::*;
        type Case = (&'static str, usize, &'static [(Do, &'static [&'static str])]);
        let cases: &[Case] = &[
            (
                "nothing in flight: the Active goes at once, and once",
                2,
                &[(Drop("a", false), &["a"]), (After(1), &[]), (Answer("a", true), &[])],
            ),
            (
                "the old request is answered first, then the Active goes",
                2,
                &[
                    (Drop("a", true), &[]),
                    (Answer("a", true), &["a"]),
                    (Answer("a", true), &[]),
                ],
            ),
            (
                "a refused Active is tried again 5 s later, not sooner",
                2,
                &[
                    (Drop("a", false), &["a"]),
                    (Answer("a", false), &[]),
                    (After(4), &[]),
                    (After(1), &["a"]),
                    (Answer("a", true), &[]),
                    (After(60), &[]),
                ],
            ),
            (
                "max_in_flight holds orphans back like any push",
                1,
                &[
                    (Drop("a", false), &["a"]),
                    (Drop("b", false), &[]),
                    (After(10), &[]),
                    (Answer("a", true), &["b"]),
                ],
            ),
            (
                "an answer for a group that is no orphan is not taken",
                2,
                &[(Answer("x", true), &[])],
            ),
        ];
        for (name, max, steps) in cases {
            let mut o: Orphans<()> = Orphans::default();
            let mut now = Instant::now();
            for (i, (step, sent)) in steps.iter().enumerate() {
                match step {
                    Drop(g, in_flight) => o.dropped(g, (), *in_flight, now),
                    Answer(g, accepted) => {
                        let mine = o.answered(g, *accepted, now);
                        assert_eq!(mine, *g != "x", "{name}: step {i}: whose answer");
                    }
                    After(s) => now += Duration::from_secs(*s),
                }
                let got: Vec<String> = o
                    .due(now, max.saturating_sub(o.in_flight()))
                    .into_iter()
                    .map(|(g, ())| g)
                    .collect();
                assert_eq!(got, *sent, "{name}: step {i}");
                assert!(o.in_flight() <= *max, "{name}: step {i}: over max_in_flight");
            }
        }
    }
}
