//! The shadow report (contract section 18, docs/history.md), computed from
//! history records alone, with no I/O: per group, each change of the
//! firewall's carrying member (FirewallSwitched, read over SNMP) beside the
//! decision failoverd made or would have made in dry run (Failover,
//! Failback, PushDecided), and the time between them; decisions the
//! firewall did not follow; switches failoverd never decided; the time
//! they disagreed; and failoverd's own troubles in the period.
//!
//! Matching: a switch to member M pairs with failoverd's latest decision
//! for M since the switch before it, else with its first decision for M
//! before the next switch. A decision not paired is "not followed" unless
//! the firewall already carried its member when it was made.

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;

use super::Record;

/// What the report reads of a record: the history file's [`Record`], or
/// the page's compact one (history/recent.rs), whose strings are held in a
/// table apart (`Ctx`).
pub trait Rec {
    type Ctx: ?Sized;
    fn t(&self) -> u64;
    fn event(&self) -> &str;
    fn group<'a>(&'a self, cx: &'a Self::Ctx) -> Option<&'a str>;
    /// `to` (of a switch, a failover, a failback).
    fn to<'a>(&'a self, cx: &'a Self::Ctx) -> Option<&'a str>;
    /// `expected` (of a push decided).
    fn expected<'a>(&'a self, cx: &'a Self::Ctx) -> Option<&'a str>;
    /// Whether it decided a DeActive push.
    fn deactive(&self, cx: &Self::Ctx) -> bool;
    fn text(&self, cx: &Self::Ctx) -> String;
    /// The record, for the report's troubles.
    fn record(&self, cx: &Self::Ctx) -> Record;
}

impl Rec for Record {
    type Ctx = ();
    fn t(&self) -> u64 {
        self.t
    }
    fn event(&self) -> &str {
        &self.event
    }
    fn group<'a>(&'a self, (): &'a ()) -> Option<&'a str> {
        self.group.as_deref()
    }
    fn to<'a>(&'a self, (): &'a ()) -> Option<&'a str> {
        self.to.as_deref()
    }
    fn expected<'a>(&'a self, (): &'a ()) -> Option<&'a str> {
        self.expected.as_deref()
    }
    fn deactive(&self, (): &()) -> bool {
        self.push.as_deref().is_some_and(|p| p.starts_with("DeActive"))
    }
    fn text(&self, (): &()) -> String {
        self.text.clone()
    }
    fn record(&self, (): &()) -> Record {
        self.clone()
    }
}

/// What the report is computed over.
pub struct Input<'a, R: Rec = Record> {
    /// The history, in the file's order.
    pub records: &'a [R],
    /// Where `records` hold their strings.
    pub cx: &'a R::Ctx,
    /// The period, in milliseconds since the epoch.
    pub since: u64,
    pub until: u64,
    /// Whether `[snmp]` is set (else the firewall's side is unknown).
    pub snmp: bool,
    /// `[snmp] disagree_after`: a disagreement is recorded this long into
    /// its episode.
    pub disagree_after: Duration,
    /// The groups, in the settings' order (more are added from records).
    pub groups: Vec<String>,
    /// Only this group (`--group`).
    pub only: Option<String>,
}

/// One change or decision, at a time in milliseconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Point {
    pub t: u64,
    /// The member (`None`: no member, a DeActive).
    pub member: Option<String>,
    pub text: String,
}

/// A switch of the firewall and the decision paired with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Switch {
    pub switched: Point,
    pub decided: Option<Point>,
    /// How much earlier failoverd decided (negative: later), in ms.
    pub lead_ms: Option<i64>,
}

/// One group's part.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GroupReport {
    pub group: String,
    pub switches: Vec<Switch>,
    /// Decisions the firewall did not follow.
    pub not_followed: Vec<Point>,
    /// Every decision in the period.
    pub decisions: Vec<Point>,
    /// Time firewall and failoverd disagreed in the period, in ms.
    pub disagreed_ms: u64,
    pub disagreements: usize,
}

/// The whole report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    pub since: u64,
    pub until: u64,
    pub snmp: bool,
    pub groups: Vec<GroupReport>,
    /// failoverd's own troubles (and restarts) in the period.
    pub troubles: Vec<Record>,
}

/// The kinds that tell of failoverd's own troubles, restarts included.
pub const TROUBLES: [&str; 17] = [
    "GuardTrip",
    "GuardTripEnded",
    "ApiUnusable",
    "ApiUsable",
    "SnmpUnusable",
    "SnmpUsable",
    "StateDirFailure",
    "StateLost",
    "PushRefused",
    "PushNotHonoured",
    "IcmpFailure",
    "ReloadRejected",
    "BecameActive",
    "BecameStandby",
    super::STARTED,
    super::STOPPED,
    super::CRASHED,
];

/// Computes the report.
pub fn report<R: Rec>(input: &Input<'_, R>) -> Report {
    // Each group's records, in one pass (not one pass per group).
    let mut by_group: HashMap<&str, Vec<&R>> = input.groups.iter().map(|g| (g.as_str(), Vec::new())).collect();
    let mut names: Vec<&str> = input.groups.iter().map(String::as_str).collect();
    for r in input.records {
        if let Some(g) = r.group(input.cx) {
            by_group
                .entry(g)
                .or_insert_with(|| {
                    names.push(g);
                    Vec::new()
                })
                .push(r);
        }
    }
    names.retain(|g| input.only.as_deref().is_none_or(|o| o == *g));
    let groups = names
        .iter()
        .map(|g| group(input, g, by_group.get(g).map_or(&[][..], Vec::as_slice)))
        .collect();
    let troubles = input
        .records
        .iter()
        .filter(|r| within(input, *r) && TROUBLES.contains(&r.event()))
        .filter(|r| input.only.is_none() || r.group(input.cx).is_none() || r.group(input.cx) == input.only.as_deref())
        .map(|r| r.record(input.cx))
        .collect();
    Report {
        since: input.since,
        until: input.until,
        snmp: input.snmp,
        groups,
        troubles,
    }
}

fn within<R: Rec>(input: &Input<'_, R>, r: &R) -> bool {
    r.t() >= input.since && r.t() <= input.until
}

fn point<R: Rec>(input: &Input<'_, R>, r: &R, member: Option<&str>) -> Point {
    Point {
        t: r.t(),
        member: member.map(str::to_owned),
        text: r.text(input.cx),
    }
}

/// The firewall's carrying member as read: every FirewallSwitched record
/// (in the period or before it, for the state at its start), and which of
/// them are switches (the member differs from the one read before).
fn firewall<R: Rec>(input: &Input<'_, R>, records: &[&R]) -> (Vec<Point>, Vec<Point>) {
    let mut reads: Vec<Point> = Vec::new();
    let mut switches = Vec::new();
    for r in records {
        if r.event() != "FirewallSwitched" || r.t() > input.until {
            continue;
        }
        let p = point(input, *r, r.to(input.cx));
        let changed = reads.last().is_some_and(|last| last.member != p.member);
        if changed && r.t() >= input.since {
            switches.push(p.clone());
        }
        reads.push(p);
    }
    (reads, switches)
}

/// failoverd's decisions for `g` in the period, a repeat of the decision
/// before it left out. `Some(None)`: a DeActive (no member).
fn decisions<R: Rec>(input: &Input<'_, R>, records: &[&R]) -> Vec<Point> {
    let mut out: Vec<Point> = Vec::new();
    for r in records {
        let member = match r.event() {
            "Failover" | "Failback" => r.to(input.cx),
            "PushDecided" if r.deactive(input.cx) => None,
            "PushDecided" => match r.expected(input.cx) {
                Some(m) => Some(m),
                None => continue,
            },
            _ => continue,
        };
        if !within(input, *r) || out.last().is_some_and(|d| d.member.as_deref() == member) {
            continue;
        }
        out.push(point(input, *r, member));
    }
    out
}

/// The member the firewall carried at `t` (`None`: not read yet); `reads`
/// sorted by time.
fn carried_at(reads: &[Point], t: u64) -> Option<&Option<String>> {
    let n = reads.partition_point(|p| p.t <= t);
    n.checked_sub(1).map(|i| &reads[i].member)
}

/// The decision a switch pairs with: among `order` (decision indices
/// sorted by time, `times` their times), the latest unused one for its
/// member in `(lo, at]`, else the first in `(at, hi)`.
fn pair(
    decisions: &[Point],
    order: &[usize],
    times: &[u64],
    used: &[bool],
    s: &Point,
    lo: Option<u64>,
    hi: u64,
) -> Option<usize> {
    let fits = |i: &usize| !used[*i] && decisions[*i].member == s.member;
    let a = lo.map_or(0, |lo| times.partition_point(|&t| t <= lo));
    let b = times.partition_point(|&t| t <= s.t);
    let c = times.partition_point(|&t| t < hi);
    let before = order[a..b.max(a)].iter().rev().copied().find(fits);
    before.or_else(|| order[b..c.max(b)].iter().copied().find(fits))
}

fn group<R: Rec>(input: &Input<'_, R>, g: &str, records: &[&R]) -> GroupReport {
    let mut decisions = decisions(input, records);
    let mut out = GroupReport {
        group: g.to_owned(),
        ..GroupReport::default()
    };
    (out.disagreed_ms, out.disagreements) = disagreed(input, records);
    decisions.shrink_to_fit();
    if input.snmp {
        switches(input, records, &decisions, &mut out);
    }
    // Moved, not copied: a page render builds this report each time.
    out.decisions = decisions;
    out
}

/// `out`'s switches, each with the decision it pairs with, and the
/// decisions the firewall did not follow.
fn switches<R: Rec>(input: &Input<'_, R>, records: &[&R], decisions: &[Point], out: &mut GroupReport) {
    let (mut reads, switches) = firewall(input, records);
    // By time (stable: a clock stepped back keeps the file's order among
    // equal times), so that each lookup is a binary search.
    reads.sort_by_key(|p| p.t);
    let mut order: Vec<usize> = (0..decisions.len()).collect();
    order.sort_by_key(|&i| decisions[i].t);
    let times: Vec<u64> = order.iter().map(|&i| decisions[i].t).collect();
    let mut used = vec![false; decisions.len()];
    for (k, s) in switches.iter().enumerate() {
        let lo = k.checked_sub(1).map(|p| switches[p].t);
        let hi = switches.get(k + 1).map_or(u64::MAX, |n| n.t);
        let chosen = pair(decisions, &order, &times, &used, s, lo, hi);
        if let Some(i) = chosen {
            used[i] = true;
        }
        let decided = chosen.map(|i| decisions[i].clone());
        let lead_ms = decided.as_ref().map(|d| signed(s.t) - signed(d.t));
        out.switches.push(Switch {
            switched: s.clone(),
            decided,
            lead_ms,
        });
    }
    for (i, d) in decisions.iter().enumerate() {
        let next = decisions.get(i + 1).map_or(u64::MAX, |n| n.t);
        if !used[i] && !followed(&reads, d, next) {
            out.not_followed.push(d.clone());
        }
    }
}

/// Whether the firewall carried `d`'s member when it was made, or read
/// so at any time before the next decision (`next`): a decision made
/// before the table was first read, for what it carried anyway, is no
/// decision it failed to follow. `reads` sorted by time.
fn followed(reads: &[Point], d: &Point, next: u64) -> bool {
    if carried_at(reads, d.t) == Some(&d.member) {
        return true;
    }
    let from = reads.partition_point(|p| p.t <= d.t);
    reads[from..]
        .iter()
        .take_while(|p| p.t < next)
        .any(|p| p.member == d.member)
}

fn signed(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

/// The time `g`'s disagreement episodes covered within the period: each
/// from its FirewallDisagrees record less `disagree_after` (when it
/// began) to its FirewallAgrees record, or the period's end.
fn disagreed<R: Rec>(input: &Input<'_, R>, records: &[&R]) -> (u64, usize) {
    let after = u64::try_from(input.disagree_after.as_millis()).unwrap_or(u64::MAX);
    let mut total: u64 = 0;
    let mut count = 0;
    let mut open: Option<u64> = None;
    let close = |from: u64, to: u64, total: &mut u64| {
        let (a, b) = (from.max(input.since), to.min(input.until));
        *total = total.saturating_add(b.saturating_sub(a));
    };
    for r in records {
        let t = r.t();
        match r.event() {
            "FirewallDisagrees" if open.is_none() && t <= input.until => {
                open = Some(t.saturating_sub(after));
            }
            // A stop ends what the daemon could see of an episode.
            "FirewallAgrees" | super::STOPPED | super::STARTED => {
                if let Some(from) = open.take() {
                    if t >= input.since {
                        count += 1;
                    }
                    close(from, t, &mut total);
                }
            }
            _ => {}
        }
    }
    if let Some(from) = open {
        count += 1;
        close(from, input.until, &mut total);
    }
    (total, count)
}
