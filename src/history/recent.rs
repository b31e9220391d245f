//! The daemon's own short memory of the records the shadow report needs
//! (switches, decisions, disagreements, troubles), for the status page's
//! "Shadow report" section: bounded in count and age, in memory only, fed
//! by the core as it records events (no I/O). It covers what this run
//! recorded; `failoverd report` reads the whole history file.
//!
//! Each record is kept as the report reads it (issue #30): 32 B with its
//! strings in a table apart (history/names.rs), the text of a push decided
//! not at all when it is the daemon's own wording, rebuilt when read.

use std::time::{Duration, SystemTime};

use super::names::{NONE, Names, Shared};
use super::report::{Input, Rec, Report, TROUBLES, report};
use super::{Record, format_millis, millis, report_text};
use crate::mail::event::Event;

/// The page's period.
pub const PERIOD: Duration = Duration::from_secs(7 * 24 * 3600);
/// At most this many records are kept.
pub const MAX: usize = 20_000;
/// Dropped records whose room is given back at once (at most 32 KB).
const GONE: usize = 1024;

/// The kinds the report reads besides [`TROUBLES`].
const KINDS: [&str; 6] = [
    "FirewallSwitched",
    "PushDecided",
    "Failover",
    "Failback",
    "FirewallDisagrees",
    "FirewallAgrees",
];
const PUSH_DECIDED: u8 = 1;

/// Flags: a DeActive push; the text is the push's own wording; in dry run.
const DEACTIVE: u8 = 1;
const PUSH_TEXT: u8 = 2;
const DRY: u8 = 4;

/// The kind's number, if the report reads records of kind `name`.
fn kind_of(name: &str) -> Option<u8> {
    let i = KINDS.iter().chain(TROUBLES.iter()).position(|k| *k == name)?;
    u8::try_from(i).ok()
}

fn kind_name(k: u8) -> &'static str {
    KINDS
        .iter()
        .chain(TROUBLES.iter())
        .nth(usize::from(k))
        .copied()
        .unwrap_or("")
}

/// The text the daemon gives a push decided (daemon/core/pushing.rs).
fn push_text(dry: bool, deactive: bool, group: &str, expected: Option<&str>) -> String {
    let w = if deactive { "DeActive" } else { "Active" };
    let head = if dry {
        "dry run: failoverd would push"
    } else {
        "failoverd pushes"
    };
    match expected {
        Some(m) => format!("{head} {w} {group} (expected active: {m})"),
        None => format!("{head} {w} {group}"),
    }
}

/// Whether `text` is [`push_text`]'s wording (compared in place, with no
/// copy: the start decides a push for every group at once).
fn is_push_text(text: &str, dry: bool, deactive: bool, group: &str, expected: Option<&str>) -> bool {
    let w = if deactive { "DeActive " } else { "Active " };
    let head = if dry {
        "dry run: failoverd would push "
    } else {
        "failoverd pushes "
    };
    let rest = text.strip_prefix(head).and_then(|t| t.strip_prefix(w));
    let rest = rest.and_then(|t| t.strip_prefix(group));
    match (rest, expected) {
        (Some(r), Some(m)) => r.strip_prefix(" (expected active: ").and_then(|r| r.strip_suffix(')')) == Some(m),
        (Some(r), None) => r.is_empty(),
        (None, _) => false,
    }
}

/// One record as the report reads it; strings are ids into [`Names`].
#[derive(Clone, Copy, Debug)]
pub struct Kept {
    t: u64,
    group: u32,
    /// `expected` of a push decided, else `to`.
    member: u32,
    /// [`NONE`]: the push's own wording ([`PUSH_TEXT`]).
    text: u32,
    /// The RFC 3339 time as read from the file; [`NONE`]: that of `t`.
    time: u32,
    kind: u8,
    flags: u8,
}

/// A record's fields the report reads.
struct Fields<'a> {
    t: u64,
    kind: u8,
    group: Option<&'a str>,
    to: Option<&'a str>,
    expected: Option<&'a str>,
    push: Option<&'a str>,
    text: &'a str,
    time: Option<&'a str>,
}

impl Rec for Kept {
    type Ctx = Names;
    fn t(&self) -> u64 {
        self.t
    }
    fn event(&self) -> &str {
        kind_name(self.kind)
    }
    fn group<'a>(&'a self, cx: &'a Names) -> Option<&'a str> {
        cx.get(self.group)
    }
    fn to<'a>(&'a self, cx: &'a Names) -> Option<&'a str> {
        cx.get(self.member).filter(|_| self.kind != PUSH_DECIDED)
    }
    fn expected<'a>(&'a self, cx: &'a Names) -> Option<&'a str> {
        cx.get(self.member).filter(|_| self.kind == PUSH_DECIDED)
    }
    fn deactive(&self, _: &Names) -> bool {
        self.flags & DEACTIVE != 0
    }
    fn text(&self, cx: &Names) -> String {
        if self.flags & PUSH_TEXT == 0 {
            return cx.get(self.text).unwrap_or_default().to_owned();
        }
        let group = cx.get(self.group).unwrap_or_default();
        push_text(self.flags & DRY != 0, self.deactive(cx), group, self.expected(cx))
    }
    /// The fields the report's text prints of a trouble (time, event,
    /// group, text) and those it reads.
    fn record(&self, cx: &Names) -> Record {
        let mut r = Record::new(self.event(), self.text(cx), SystemTime::UNIX_EPOCH);
        r.t = self.t;
        r.time = cx.get(self.time).map_or_else(|| format_millis(self.t), str::to_owned);
        r.group = cx.get(self.group).map(str::to_owned);
        r.to = self.to(cx).map(str::to_owned);
        r.expected = self.expected(cx).map(str::to_owned);
        r
    }
}

/// The records, oldest first, and their strings.
#[derive(Debug, Default)]
pub struct Recent {
    /// Oldest first; the first `gone` are dropped already (see
    /// [`Recent::drop_oldest`]).
    records: Vec<Kept>,
    gone: usize,
    names: Names,
    /// Records dropped since the strings were last swept.
    dropped: usize,
}

impl Recent {
    /// Keeps `e` if the report reads it; drops what is beyond the bound.
    pub fn note(&mut self, e: &Event) {
        self.note_shared(e, &|_| None);
    }

    /// [`Recent::note`], holding group and member names as `shared`'s
    /// copies (the plan's) where it has them.
    pub fn note_shared(&mut self, e: &Event, shared: Shared<'_>) {
        let Some(kind) = kind_of(e.kind.name()) else {
            return;
        };
        let cutoff = millis(crate::time::wall_sub(e.at, PERIOD));
        // Room for one more, then the record (as `Record::of_event`).
        let n = self.live().len();
        let old = self
            .live()
            .iter()
            .enumerate()
            .take_while(|(i, r)| n - i >= MAX || r.t < cutoff);
        let old = old.count();
        self.drop_oldest(old);
        if self.records.len() == self.records.capacity() {
            // Up to the bound and a batch of dropped records.
            let n = self.records.len();
            self.records.reserve_exact(n.max(8).min(MAX + GONE - n));
        }
        let f = Fields {
            t: millis(e.at),
            kind,
            group: e.group.as_deref(),
            to: e.to.as_deref(),
            expected: e.expected_active.as_deref(),
            push: e.push.as_deref(),
            text: &e.reason,
            time: None,
        };
        let k = self.kept(&f, shared);
        self.records.push(k);
    }

    /// Group and member names held as `shared`'s copies where it has them
    /// (after [`Recent::seed`], which reads them from the history file).
    pub fn share_names(&mut self, shared: Shared<'_>) {
        self.names.share(shared);
    }

    /// Seeds this run's memory from the history file's `records` (oldest
    /// first): those the report reads, within the bound at `now`
    /// (history/seed.rs, at the daemon's start).
    pub fn seed(&mut self, records: &[Record], now: SystemTime) {
        let cutoff = millis(crate::time::wall_sub(now, PERIOD));
        let kept = || {
            records
                .iter()
                .filter(move |r| r.t >= cutoff && kind_of(&r.event).is_some())
        };
        let n = kept().count();
        // Beyond the bound, the oldest go: those kept before these first.
        let over = (self.live().len() + n).saturating_sub(MAX);
        let before = over.min(self.live().len());
        self.drop_oldest(before);
        self.compact();
        let skip = over - before;
        self.records.reserve_exact(n - skip);
        for r in kept().skip(skip) {
            let time = format_millis(r.t);
            let f = Fields {
                t: r.t,
                kind: kind_of(&r.event).unwrap_or_default(),
                group: r.group.as_deref(),
                to: r.to.as_deref(),
                expected: r.expected.as_deref(),
                push: r.push.as_deref(),
                text: &r.text,
                time: (r.time != time).then_some(r.time.as_str()),
            };
            let k = self.kept(&f, &|_| None);
            self.records.push(k);
        }
    }

    /// The compact form of `f`, its strings held.
    fn kept(&mut self, f: &Fields<'_>, shared: Shared<'_>) -> Kept {
        let pushed = f.kind == PUSH_DECIDED;
        let deactive = pushed && f.push.is_some_and(|p| p.starts_with("DeActive"));
        let member = if pushed { f.expected } else { f.to };
        let dry = f.text.starts_with("dry run:");
        let own = pushed && f.group.is_some_and(|g| is_push_text(f.text, dry, deactive, g, member));
        let flags = u8::from(deactive) * DEACTIVE + u8::from(own) * PUSH_TEXT + u8::from(dry) * DRY;
        Kept {
            t: f.t,
            group: self.names.opt_shared(f.group, shared),
            member: self.names.opt_shared(member, shared),
            text: if own { NONE } else { self.names.id(f.text) },
            time: self.names.opt(f.time),
            kind: f.kind,
            flags,
        }
    }

    /// The records kept, oldest first.
    fn live(&self) -> &[Kept] {
        &self.records[self.gone..]
    }

    /// Gives back the room of the dropped records.
    fn compact(&mut self) {
        self.records.drain(..self.gone);
        self.gone = 0;
    }

    /// Drops the `n` oldest records; now and then frees the strings no
    /// record names any more. At the bound every new record drops one: the
    /// room of the dropped is given back in batches ([`GONE`]), so a new
    /// record costs no move of the whole list (20,000 records, 640 KB).
    fn drop_oldest(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        self.gone += n;
        if self.gone >= GONE {
            self.compact();
        }
        self.dropped += n;
        if self.dropped > self.live().len() / 2 + 64 {
            let live = self.records[self.gone..].iter();
            let live = live.flat_map(|k| [k.group, k.member, k.text, k.time]);
            self.names.sweep(live);
            self.dropped = 0;
        }
    }

    /// How many records the list holds, the dropped ones not yet given
    /// back included.
    #[cfg(test)]
    pub fn held(&self) -> usize {
        self.records.len()
    }

    /// How many records are kept.
    pub fn len(&self) -> usize {
        self.live().len()
    }

    pub fn is_empty(&self) -> bool {
        self.live().is_empty()
    }

    /// The report's lines over the last 7 days at `now`.
    pub fn lines(&self, plan: &crate::config::Plan, now: SystemTime) -> Vec<String> {
        let snmp = plan.settings.snmp.as_ref();
        let after = snmp.map(|s| s.disagree_after);
        let groups = plan.groups.iter().map(|g| g.name().to_owned()).collect();
        report_text::text(&self.report(now, after, groups))
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The report over the last 7 days at `now`, read in place (no copy
    /// of the records); `disagree_after`: `None` without `[snmp]`.
    pub fn report(&self, now: SystemTime, disagree_after: Option<Duration>, groups: Vec<String>) -> Report {
        report(&Input {
            records: self.live(),
            cx: &self.names,
            since: millis(crate::time::wall_sub(now, PERIOD)),
            until: millis(now),
            snmp: disagree_after.is_some(),
            disagree_after: disagree_after.unwrap_or(Duration::ZERO),
            groups,
            only: None,
        })
    }
}

#[cfg(test)]
#[path = "recent_tests.rs"]
mod tests;
