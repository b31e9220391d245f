//! A target's reason as shown (status, page, member events): a fixed text,
//! or for a state that came from a run rule, the live run counts rendered
//! when displayed, so a check only bumps a counter (docs/health.md); and the
//! human forms of the figures in reasons.

use std::fmt::Write as _;
use std::time::Duration;

use super::{State, TargetHealth};

/// A target's reason, rendered when displayed (see
/// [`TargetHealth::last_reason`]); borrowed, so building one costs nothing.
#[derive(Clone, Copy, Debug)]
pub enum Reason<'a> {
    /// A fixed text.
    Text(&'a str),
    /// The live runs of a target whose state came from a run rule.
    Live(&'a TargetHealth),
}

impl<'a> From<&'a str> for Reason<'a> {
    fn from(text: &'a str) -> Self {
        Reason::Text(text)
    }
}

impl std::fmt::Display for Reason<'_> {
    /// Up: "17 good checks in a row" (plus the quality figures of the
    /// verdict); while failed checks that have not reached `fall` follow:
    /// "2 failed checks in a row (fall 3)". Down: "5 failed checks in
    /// a row: why"; while good checks follow: "1 good checks in a row
    /// (rise 3)". After a late tick forgot the runs: "no checks since a
    /// late tick".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = match self {
            Reason::Text(text) => return f.write_str(text),
            Reason::Live(t) => t,
        };
        let (good, failed, text) = (t.good_run, t.fail_run, &*t.reason);
        match (t.state, good > 0, failed > 0) {
            (State::Up, true, _) => write!(f, "{good} good checks in a row{text}"),
            (State::Up, _, true) => write!(f, "{failed} failed checks in a row (fall {})", t.rules.fall()),
            (_, _, true) => write!(f, "{failed} failed checks in a row: {text}"),
            (_, true, _) => write!(f, "{good} good checks in a row (rise {})", t.rules.rise()),
            _ => f.write_str("no checks since a late tick"),
        }
    }
}

impl PartialEq<&str> for Reason<'_> {
    fn eq(&self, other: &&str) -> bool {
        match self {
            Reason::Text(text) => text == other,
            Reason::Live(_) => {
                let mut rest = Matcher(Some(other));
                let _ = write!(rest, "{self}");
                rest.0 == Some("")
            }
        }
    }
}

/// Compares text as it is written, without building it: holds what is
/// still to match, `None` after a mismatch.
struct Matcher<'a>(Option<&'a str>);

impl std::fmt::Write for Matcher<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0 = self.0.and_then(|rest| rest.strip_prefix(s));
        Ok(())
    }
}

/// Human form of a fraction as a percentage with at most one decimal:
/// 0.4 -> "40%", 0.125 -> "12.5%".
pub fn format_percent(fraction: f64) -> String {
    let tenths = (fraction * 1000.0).round();
    if tenths % 10.0 == 0.0 {
        format!("{:.0}%", tenths / 10.0)
    } else {
        format!("{:.1}%", tenths / 10.0)
    }
}

/// Human form of a duration: whole seconds as "1s", otherwise milliseconds
/// ("612ms", "2.5ms"), and microseconds below one millisecond ("850µs").
pub fn format_duration(d: Duration) -> String {
    let us = d.as_micros();
    if us >= 1_000_000 && us.is_multiple_of(1_000_000) {
        format!("{}s", us / 1_000_000)
    } else if us.is_multiple_of(1000) {
        format!("{}ms", us / 1000)
    } else if us >= 10_000 {
        format!("{}ms", (us + 500) / 1000)
    } else if us >= 1000 {
        format!("{:.1}ms", us as f64 / 1000.0)
    } else {
        format!("{us}µs")
    }
}
