//! Hints said once per mail. While the firewall's tunnel table cannot be
//! read, every member of every group shows "unknown: REASON" in its
//! firewall view, and REASON (the cause and its fix, a paragraph) is the
//! same for all of them: eight members gave eight copies in one mail.
//! [`Notes`] lists each such text once at the end of the mail and puts
//! "see note N" in its place, keeping each member's own line.

use std::fmt::Write as _;

use crate::mail::event::Event;

/// What a member's firewall view says before the reason it is unknown
/// (`MemberView::Unknown`'s display).
const UNKNOWN: &str = " unknown: ";

/// Shorter texts are left where they are: a note would not save anything.
const MIN_LEN: usize = 20;

/// The texts a mail says once, in order of first appearance.
#[derive(Debug, Default)]
pub struct Notes {
    texts: Vec<String>,
}

impl Notes {
    /// The reasons in `events`' firewall views that the mail would show
    /// more than once (in firewall views and reasons together).
    pub fn of(events: &[Event]) -> Notes {
        let mut texts: Vec<String> = Vec::new();
        let views = events.iter().filter_map(|e| e.firewall.as_deref());
        for r in views.flat_map(unknown_reasons) {
            if r.len() >= MIN_LEN && !texts.contains(&r) {
                texts.push(r);
            }
        }
        let shown = |t: &str| -> usize {
            let all = events
                .iter()
                .flat_map(|e| [Some(e.reason.as_str()), e.firewall.as_deref()]);
            all.flatten().map(|f| f.matches(t).count()).sum()
        };
        texts.retain(|t| shown(t) > 1);
        Notes { texts }
    }

    /// `text` with each noted text replaced by "see note N".
    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (i, t) in self.texts.iter().enumerate() {
            out = out.replace(t.as_str(), &format!("see note {}", i + 1));
        }
        out
    }

    /// The notes, numbered, for the end of the body; empty without any.
    /// Indented like an event's fields, so that no note reads as an
    /// event's headline (filters and tests take unindented lines as such).
    pub fn section(&self) -> String {
        let mut out = String::new();
        if !self.texts.is_empty() {
            out.push('\n');
        }
        for (i, t) in self.texts.iter().enumerate() {
            let _ = writeln!(out, "   Note {}: {t}", i + 1);
        }
        out
    }
}

/// The reasons in a firewall view such as `carries unknown; A unknown: R;
/// B unknown: R`: each runs to the `; ` before the next member's name, or
/// to the end. A reason may itself hold `; `, a member name does not.
fn unknown_reasons(view: &str) -> Vec<String> {
    let parts: Vec<&str> = view.split(UNKNOWN).collect();
    let last = parts.len().saturating_sub(1);
    (parts.iter().enumerate().skip(1))
        .map(|(i, p)| match p.rsplit_once("; ") {
            Some((r, _)) if i < last => r.to_owned(),
            _ => (*p).to_owned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_read_back_even_with_their_own_semicolons() {
        let r = "cannot resolve fw: no such host; fix [snmp] address or the resolver";
        let view = format!("carries unknown; A unknown: {r}; B_2 unknown: {r}");
        assert_eq!(unknown_reasons(&view), [r, r]);
        assert!(unknown_reasons("carries A; A active, activated; B inactive, not activated").is_empty());
    }
}
