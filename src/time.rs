//! Time arithmetic that cannot panic, and the bounds of every duration a
//! person or a file can give (docs/safety.md, "Durations and time").
//!
//! `Instant + Duration`, `SystemTime ± Duration` and chrono's conversion
//! of a `SystemTime` panic when the result leaves their range. A duration
//! from the settings or the command line is bounded when it is read (see
//! [`MAX_DURATION`]), but a saved file, a control request or a clock step
//! can still carry an absurd time: every such sum goes through here and
//! saturates, and every display of a time shows something instead of
//! panicking. This module (and the modules that declare it) is linted with
//! `clippy::arithmetic_side_effects`.
#![deny(clippy::arithmetic_side_effects)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The longest duration any setting or command-line option accepts: one
/// year as humantime counts it (365.25 days, so `"1y"` and `"365d"` are
/// both accepted). A hold, a backoff or a window longer than that is a
/// typing mistake, never a plan.
pub const MAX_DURATION: Duration = Duration::from_secs(31_557_600);

/// How far a sum that would overflow lands instead: far enough to never
/// come (a century), near enough for every clock type to hold it.
pub const FAR: Duration = Duration::from_secs(3_155_760_000);

/// The last second RFC 3339 can write (9999-12-31T23:59:59Z).
const LAST_RFC3339_SECS: u64 = 253_402_300_799;

/// `t + d` on tokio's monotonic clock, saturating at `t + FAR` (or `t`
/// itself if even that cannot be represented).
pub fn mono_add(t: tokio::time::Instant, d: Duration) -> tokio::time::Instant {
    t.checked_add(d).or_else(|| t.checked_add(FAR)).unwrap_or(t)
}

/// `t - d` on tokio's monotonic clock, saturating at `t` when the clock
/// cannot go back that far (shortly after boot).
pub fn mono_sub(t: tokio::time::Instant, d: Duration) -> tokio::time::Instant {
    t.checked_sub(d).unwrap_or(t)
}

/// `t + d` on the wall clock, saturating at `t + FAR` (or `t`).
pub fn wall_add(t: SystemTime, d: Duration) -> SystemTime {
    t.checked_add(d).or_else(|| t.checked_add(FAR)).unwrap_or(t)
}

/// `t - d` on the wall clock, saturating at the Unix epoch (or `t`).
pub fn wall_sub(t: SystemTime, d: Duration) -> SystemTime {
    t.checked_sub(d).unwrap_or(if t > UNIX_EPOCH { UNIX_EPOCH } else { t })
}

/// Whole seconds since the Unix epoch; 0 before it.
pub fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The wall-clock time `secs` seconds after the epoch; a count the clock
/// cannot hold becomes the first second of year 10000.
pub fn from_unix_secs(secs: u64) -> SystemTime {
    let year_10000 = Duration::from_secs(LAST_RFC3339_SECS.saturating_add(1));
    UNIX_EPOCH
        .checked_add(Duration::from_secs(secs))
        .unwrap_or_else(|| wall_add(UNIX_EPOCH, year_10000))
}

/// `2026-12-02T02:31:07Z` for a time RFC 3339 can write; beyond year
/// 9999 `after 9999-12-31T23:59:59Z`, before 1970 `before 1970`. Never
/// panics (humantime's formatter does on both).
pub fn rfc3339(t: SystemTime) -> String {
    match t.duration_since(UNIX_EPOCH) {
        Err(_) => "before 1970-01-01T00:00:00Z".to_string(),
        Ok(d) => rfc3339_secs(d.as_secs()),
    }
}

/// [`rfc3339`] of whole seconds since the epoch.
pub fn rfc3339_secs(secs: u64) -> String {
    if secs > LAST_RFC3339_SECS {
        return "after 9999-12-31T23:59:59Z".to_string();
    }
    let t = UNIX_EPOCH.checked_add(Duration::from_secs(secs)).unwrap_or(UNIX_EPOCH);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// `t` as chrono's UTC time, or `None` where chrono cannot hold it (its
/// own `From<SystemTime>` panics there).
pub fn to_chrono(t: SystemTime) -> Option<chrono::DateTime<chrono::Utc>> {
    let (secs, nanos) = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (i64::try_from(d.as_secs()).ok()?, d.subsec_nanos()),
        Err(e) => {
            let d = e.duration();
            let secs = i64::try_from(d.as_secs()).ok()?;
            // 1.25 s before the epoch is -2 s + 0.75 s.
            match d.subsec_nanos() {
                0 => (secs.checked_neg()?, 0),
                n => (secs.checked_neg()?.checked_sub(1)?, 1_000_000_000u32.checked_sub(n)?),
            }
        }
    };
    chrono::DateTime::from_timestamp(secs, nanos)
}

/// Whether `d` is within the settings' and options' bound.
pub fn bounded(d: Duration) -> bool {
    d <= MAX_DURATION
}

/// A duration for the command line: a humantime string of at most
/// [`MAX_DURATION`]; clap shows the error with the option's name.
pub fn parse_cli_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim()).map_err(|e| format!("{e}: write it like \"30m\", \"4h\" or \"2d\""))?;
    if bounded(d) {
        Ok(d)
    } else {
        Err(format!(
            "{s:?} is too long: use at most {}",
            humantime::format_duration(MAX_DURATION)
        ))
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests;
