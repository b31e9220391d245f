//! The status page `GET /` serves with `[http]` (docs/status-page.md): one
//! server-rendered HTML document for a person, with inline CSS and inline
//! SVG charts, no script and no external resource, refreshing itself,
//! read-only. Pure: [`render`] turns a hand-buildable [`Page`] into text.
//! Every name and reason from the settings or the firewall goes through
//! [`Esc`].

mod chart;
mod html;

pub use html::render;

use std::fmt;

use crate::view;

/// Seconds between two chart points. 20 s: 180 points an hour draw a
/// small chart as finely as 360 did, and the history of each target takes
/// half the memory (540 bytes of 3-byte points; 2.6 MiB at 5,000 targets).
pub const STEP_SECS: u64 = 20;
/// Points per chart: one hour.
pub const POINTS: usize = 180;
/// Points the "loss over the window" figure sums: the last 5 minutes.
pub const WINDOW_POINTS: usize = 15;
/// Seconds between two loads of the page (meta refresh).
pub const REFRESH_SECS: u64 = 10;

/// What the page shows.
#[derive(Clone, Debug, Default)]
pub struct Page {
    pub status: view::Status,
    /// Each target's last hour, `[group][member][target]` in the order of
    /// `status` (a missing entry draws an empty chart).
    pub charts: Vec<Vec<Vec<Chart>>>,
    /// The last 24 hours of events, oldest first.
    pub events: Vec<Event>,
    /// The shadow report's lines (history/recent.rs): this run's last 7
    /// days.
    pub shadow: Vec<String>,
    /// Unix seconds.
    pub now: u64,
}

/// One target's last hour: [`POINTS`] points [`STEP_SECS`] apart, oldest
/// first, the last one the step that holds `now`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Chart {
    pub points: Vec<Point>,
}

/// One step of a chart: its good and failed checks, and the mean RTT of
/// the good ones. No check at all: a gap.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Point {
    pub good: u16,
    pub lost: u16,
    /// Mean RTT of the good checks, in µs.
    pub rtt_us: u32,
}

impl Point {
    pub fn checks(&self) -> u32 {
        u32::from(self.good) + u32::from(self.lost)
    }
}

impl Chart {
    /// Loss over the last [`WINDOW_POINTS`] points that hold a check, as a
    /// fraction; `None` without any check.
    pub fn window_loss(&self) -> Option<f64> {
        let recent = &self.points[self.points.len().saturating_sub(WINDOW_POINTS)..];
        let (lost, all) = recent
            .iter()
            .fold((0u32, 0u32), |(l, a), p| (l + u32::from(p.lost), a + p.checks()));
        (all > 0).then(|| f64::from(lost) / f64::from(all))
    }
}

/// One event of the last 24 hours.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Event {
    /// Unix seconds.
    pub at: u64,
    pub group: String,
    /// "member down", "failover", ...
    pub kind: String,
    /// Whether it is bad news (shown red).
    pub bad: bool,
    pub text: String,
}

/// `Display` of a string with `& < > " '` escaped, for HTML text and
/// attribute values alike.
pub struct Esc<'a>(pub &'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..i])?;
            f.write_str(match rest.as_bytes()[i] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[i + 1..];
        }
        f.write_str(rest)
    }
}

/// The `Content-Security-Policy` the page is served with: nothing from
/// anywhere, but the page's one `<style>` element, named by its hash (so
/// not even an injected style attribute would apply); no script, no
/// frame, no form target, no base URL.
pub fn csp() -> String {
    use ring::digest::{SHA256, digest};
    let hash = base64(digest(&SHA256, html::CSS.as_bytes()).as_ref());
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = c
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= c.len() {
                out.push(char::from(A[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
