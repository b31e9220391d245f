//! The event history (contract section 18, docs/history.md): every event
//! the daemon records, kept for 30 days in `history.jsonl` in the state
//! directory, bounded in bytes. This module owns the file's format (one
//! JSON object per line, versioned), the bound, reading it back (skipping
//! what is damaged) and its rewrites; [`writer`] appends from the daemon
//! without ever blocking its loop, and [`report`] computes the shadow
//! report from records alone.

pub mod names;
pub mod recent;
pub mod report;
pub mod report_text;
pub mod seed;
pub mod store;
pub mod writer;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::mail::event::Event;

/// The file, in the state directory.
pub const FILE: &str = "history.jsonl";
/// The version every line carries (`"v"`); lines of another are set aside.
pub const VERSION: u32 = 1;
/// How long records are kept.
pub const KEEP: Duration = Duration::from_secs(30 * 24 * 3600);
/// The bound on the file: beyond it the oldest records are dropped (the
/// file is rewritten down to [`COMPACT_TO`]).
pub const MAX_BYTES: u64 = 32 * 1024 * 1024;
/// What a compaction leaves at most.
pub const COMPACT_TO: u64 = MAX_BYTES / 4 * 3;
/// A file larger than this is not read at all: it is set aside.
pub const HUGE_BYTES: u64 = MAX_BYTES * 2;
/// A line longer than this is damaged.
pub const MAX_LINE: usize = 64 * 1024;

/// Records the history task writes itself (not mail events).
pub const STARTED: &str = "DaemonStarted";
pub const STOPPED: &str = "DaemonStopped";
pub const CRASHED: &str = "DaemonEndedUnseen";

/// One line of the file: the journal's fields (EVENT, GROUP, MEMBER, the
/// time and the text) and what the shadow report needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub v: u32,
    /// Milliseconds since the epoch (the clock when it was recorded).
    pub t: u64,
    /// The same time in RFC 3339, for a person reading the file.
    pub time: String,
    #[serde(rename = "EVENT")]
    pub event: String,
    #[serde(rename = "GROUP", default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(rename = "MEMBER", default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub while_stopped: bool,
}

/// Milliseconds since the epoch; 0 before it (a clock set to 1970 or
/// earlier never panics).
pub fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// RFC 3339 of a record's milliseconds (whole seconds).
pub fn format_millis(t: u64) -> String {
    crate::time::rfc3339_secs(t / 1000)
}

impl Record {
    /// A record of `event` with text `text` at `at`.
    pub fn new(event: &str, text: impl Into<String>, at: SystemTime) -> Record {
        let t = millis(at);
        Record {
            v: VERSION,
            t,
            time: format_millis(t),
            event: event.to_owned(),
            group: None,
            member: None,
            text: text.into(),
            from: None,
            to: None,
            expected: None,
            push: None,
            answer: None,
            while_stopped: false,
        }
    }

    /// The record of a daemon event.
    pub fn of_event(e: &Event) -> Record {
        let mut r = Record::new(e.kind.name(), e.reason.clone(), e.at);
        r.group.clone_from(&e.group);
        r.member = e.member.clone().or_else(|| e.to.clone());
        r.from.clone_from(&e.from);
        r.to.clone_from(&e.to);
        r.expected.clone_from(&e.expected_active);
        r.push.clone_from(&e.push);
        r.answer.clone_from(&e.answer);
        r.while_stopped = e.while_stopped;
        r
    }

    /// The line written to the file, newline included.
    pub fn line(&self) -> String {
        // A struct of strings and numbers always serializes.
        let mut s = serde_json::to_string(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests;
