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
    records: VecDeque<Kept>,
}

/// What the report reads of one record, and no more: at thousands of
/// groups the start alone records thousands of decisions, and a whole
/// [`Record`] is 256 bytes and up to ten allocations. The kind is one of
/// the report's own names; `time` is `t` written out (as
/// [`Record::new`] writes it), made again when the report is drawn.
#[derive(Debug)]
struct Kept {
    t: u64,
    event: &'static str,
    group: Option<Box<str>>,
    member: Option<Box<str>>,
    text: Box<str>,
    to: Option<Box<str>>,
    expected: Option<Box<str>>,
    push: Option<Box<str>>,
}

fn boxed(s: Option<&String>) -> Option<Box<str>> {
    s.map(|s| s.as_str().into())
}

impl Kept {
    fn of_event(e: &Event, event: &'static str) -> Kept {
        Kept {
            t: millis(e.at),
            event,
            group: boxed(e.group.as_ref()),
            member: boxed(e.member.as_ref().or(e.to.as_ref())),
            text: e.reason.as_str().into(),
            to: boxed(e.to.as_ref()),
            expected: boxed(e.expected_active.as_ref()),
            push: boxed(e.push.as_ref()),
        }
    }

    fn of(r: &Record, event: &'static str) -> Kept {
        Kept {
            t: r.t,
            event,
            group: boxed(r.group.as_ref()),
            member: boxed(r.member.as_ref()),
            text: r.text.as_str().into(),
            to: boxed(r.to.as_ref()),
            expected: boxed(r.expected.as_ref()),
            push: boxed(r.push.as_ref()),
        }
    }

    fn record(&self) -> Record {
        let own = |s: &Option<Box<str>>| s.as_deref().map(str::to_owned);
        let mut r = Record::new(self.event, &*self.text, std::time::UNIX_EPOCH);
        r.t = self.t;
        r.time = super::format_millis(self.t);
        r.group = own(&self.group);
        r.member = own(&self.member);
        r.to = own(&self.to);
        r.expected = own(&self.expected);
        r.push = own(&self.push);
        r
    }
}

/// The report's name for records of kind `name`, when it reads them.
fn wanted(name: &str) -> Option<&'static str> {
    const READ: [&str; 6] = [
        "FirewallSwitched",
        "PushDecided",
        "Failover",
        "Failback",
        "FirewallDisagrees",
        "FirewallAgrees",
    ];
    READ.iter().chain(TROUBLES.iter()).copied().find(|n| *n == name)
}

impl Recent {
    /// Keeps `e` if the report reads it; drops what is beyond the bound.
    pub fn note(&mut self, e: &Event) {
        let Some(event) = wanted(e.kind.name()) else {
            return;
        };
        self.records.push_back(Kept::of_event(e, event));
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
        let kept = records
            .iter()
            .filter(|r| r.t >= cutoff)
            .filter_map(|r| wanted(&r.event).map(|event| Kept::of(r, event)));
        self.records.extend(kept);
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

    /// The kept records as the report reads them.
    pub(super) fn records(&self) -> Vec<Record> {
        self.records.iter().map(Kept::record).collect()
    }

    /// The report's lines over the last 7 days at `now`.
    pub fn lines(&self, plan: &crate::config::Plan, now: SystemTime) -> Vec<String> {
        let records = self.records();
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
