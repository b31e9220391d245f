//! The push a hold withholds, per group (docs/safety.md, Holds): what the
//! group's rules would want if it were not held, kept for status, and a
//! note the first time a hold withholds a given push.

use tokio::time::Instant;

use super::{GroupPush, Note};

impl GroupPush {
    /// Updates the push a hold withholds (`sending`: a push that goes out
    /// even while held, a restart's Active, is under way); a note the first
    /// time a hold withholds a given push. A push in place is not withheld.
    pub(super) fn note_withheld(&mut self, now: Instant, held: bool, sending: bool, guard: bool) -> Option<Note> {
        if !held {
            self.withheld_noted.clear();
        }
        if !held || sending {
            self.withheld = None;
            return None;
        }
        let belief = self.slot.belief;
        self.withheld = self.policy.would_want(now, guard).filter(|w| !belief.is(*w));
        let want = self.withheld.filter(|w| !self.withheld_noted.contains(w))?;
        self.withheld_noted.push(want);
        Some(Note::HoldWithholds {
            group: self.name.to_string(),
            want,
        })
    }
}
