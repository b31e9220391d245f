//! The daemon's own short memory of the records the shadow report needs
//! (switches, decisions, disagreements, troubles), for the status page's
//! "Shadow report" section: bounded in count and age, in memory only, fed
//! by the core as it records events (no I/O). It covers what this run
//! recorded; `failoverd report` reads the whole history file.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use super::report::{Input, TROUBLES, report};
use super::{Record, millis, report_text};
use crate::mail::event::Event;

/// The page's period.
pub const PERIOD: Duration = Duration::from_secs(7 * 24 * 3600);
/// At most this many records are kept.
pub const MAX: usize = 20_000;

/// The records, oldest first.
#[derive(Debug, Default)]
pub struct Recent {
    records: VecDeque<Record>,
}

/// Whether the report reads records of kind `name`.
fn wanted(name: &str) -> bool {
    matches!(
        name,
        "FirewallSwitched" | "PushDecided" | "Failover" | "Failback" | "FirewallDisagrees" | "FirewallAgrees"
    ) || TROUBLES.contains(&name)
}

impl Recent {
    /// Keeps `e` if the report reads it; drops what is beyond the bound.
    pub fn note(&mut self, e: &Event) {
        if !wanted(e.kind.name()) {
            return;
        }
        self.records.push_back(Record::of_event(e));
        let cutoff = millis(crate::time::wall_sub(e.at, PERIOD));
        while self.records.len() > MAX || self.records.front().is_some_and(|r| r.t < cutoff) {
            self.records.pop_front();
        }
    }

    /// Seeds this run's memory from the history file's `records` (oldest
    /// first): those the report reads, within the bound at `now`
    /// (history/seed.rs, at the daemon's start).
    pub fn seed(&mut self, records: &[Record], now: SystemTime) {
        let cutoff = millis(crate::time::wall_sub(now, PERIOD));
        let kept = records.iter().filter(|r| r.t >= cutoff && wanted(&r.event));
        self.records.extend(kept.cloned());
        while self.records.len() > MAX {
            self.records.pop_front();
        }
    }

    /// How many records are kept.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The report's lines over the last 7 days at `now`.
    pub fn lines(&self, plan: &crate::config::Plan, now: SystemTime) -> Vec<String> {
        let records: Vec<Record> = self.records.iter().cloned().collect();
        let snmp = plan.settings.snmp.as_ref();
        let input = Input {
            records: &records,
            since: millis(crate::time::wall_sub(now, PERIOD)),
            until: millis(now),
            snmp: snmp.is_some(),
            disagree_after: snmp.map_or(Duration::ZERO, |s| s.disagree_after),
            groups: plan.groups.iter().map(|g| g.name().to_owned()).collect(),
            only: None,
        };
        report_text::text(&report(&input)).lines().map(str::to_owned).collect()
    }
}
