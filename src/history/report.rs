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

use std::time::Duration;

use serde::Serialize;

use super::Record;

/// What the report is computed over.
pub struct Input<'a> {
    /// The history, in the file's order.
    pub records: &'a [Record],
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
pub fn report(input: &Input<'_>) -> Report {
    let mut names = input.groups.clone();
    for r in input.records {
        if let Some(g) = &r.group
            && !names.contains(g)
        {
            names.push(g.clone());
        }
    }
    names.retain(|g| input.only.as_ref().is_none_or(|o| o == g));
    let groups = names.iter().map(|g| group(input, g)).collect();
    let troubles = input
        .records
        .iter()
        .filter(|r| within(input, r) && TROUBLES.contains(&r.event.as_str()))
        .filter(|r| input.only.is_none() || r.group.is_none() || r.group == input.only)
        .cloned()
        .collect();
    Report {
        since: input.since,
        until: input.until,
        snmp: input.snmp,
        groups,
        troubles,
    }
}

fn within(input: &Input<'_>, r: &Record) -> bool {
    r.t >= input.since && r.t <= input.until
}

fn point(r: &Record, member: Option<String>) -> Point {
    Point {
        t: r.t,
        member,
        text: r.text.clone(),
    }
}

/// The firewall's carrying member as read: every FirewallSwitched record
/// (in the period or before it, for the state at its start), and which of
/// them are switches (the member differs from the one read before).
fn firewall(input: &Input<'_>, g: &str) -> (Vec<Point>, Vec<Point>) {
    let mut reads: Vec<Point> = Vec::new();
    let mut switches = Vec::new();
    for r in input.records.iter().filter(|r| r.group.as_deref() == Some(g)) {
        if r.event != "FirewallSwitched" || r.t > input.until {
            continue;
        }
        let p = point(r, r.to.clone());
        let changed = reads.last().is_some_and(|last| last.member != p.member);
        if changed && r.t >= input.since {
            switches.push(p.clone());
        }
        reads.push(p);
    }
    (reads, switches)
}

/// failoverd's decisions for `g` in the period, a repeat of the decision
/// before it left out. `Some(None)`: a DeActive (no member).
fn decisions(input: &Input<'_>, g: &str) -> Vec<Point> {
    let mut out: Vec<Point> = Vec::new();
    for r in input.records.iter().filter(|r| r.group.as_deref() == Some(g)) {
        let member = match r.event.as_str() {
            "Failover" | "Failback" => r.to.clone(),
            "PushDecided" if r.push.as_deref().is_some_and(|p| p.starts_with("DeActive")) => None,
            "PushDecided" => match &r.expected {
                Some(m) => Some(m.clone()),
                None => continue,
            },
            _ => continue,
        };
        if !within(input, r) || out.last().is_some_and(|d| d.member == member) {
            continue;
        }
        out.push(point(r, member));
    }
    out
}

/// The member the firewall carried at `t` (`None`: not read yet).
fn carried_at(reads: &[Point], t: u64) -> Option<&Option<String>> {
    reads.iter().rev().find(|p| p.t <= t).map(|p| &p.member)
}

fn group(input: &Input<'_>, g: &str) -> GroupReport {
    let decisions = decisions(input, g);
    let mut out = GroupReport {
        group: g.to_owned(),
        decisions: decisions.clone(),
        ..GroupReport::default()
    };
    (out.disagreed_ms, out.disagreements) = disagreed(input, g);
    if !input.snmp {
        return out;
    }
    let (reads, switches) = firewall(input, g);
    let mut used = vec![false; decisions.len()];
    for (k, s) in switches.iter().enumerate() {
        let lo = k.checked_sub(1).map_or(0, |p| switches[p].t);
        let hi = switches.get(k + 1).map_or(u64::MAX, |n| n.t);
        let fits = |i: &usize| !used[*i] && decisions[*i].member == s.member;
        let before = (0..decisions.len())
            .filter(|i| decisions[*i].t <= s.t && (k == 0 || decisions[*i].t > lo))
            .rfind(fits);
        let after = || {
            (0..decisions.len())
                .filter(|i| decisions[*i].t > s.t && decisions[*i].t < hi)
                .find(fits)
        };
        let chosen = before.or_else(after);
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
    out
}

/// Whether the firewall carried `d`'s member when it was made, or read
/// so at any time before the next decision (`next`): a decision made
/// before the table was first read, for what it carried anyway, is no
/// decision it failed to follow.
fn followed(reads: &[Point], d: &Point, next: u64) -> bool {
    carried_at(reads, d.t) == Some(&d.member) || reads.iter().any(|p| p.t > d.t && p.t < next && p.member == d.member)
}

fn signed(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

/// The time `g`'s disagreement episodes covered within the period: each
/// from its FirewallDisagrees record less `disagree_after` (when it
/// began) to its FirewallAgrees record, or the period's end.
fn disagreed(input: &Input<'_>, g: &str) -> (u64, usize) {
    let after = u64::try_from(input.disagree_after.as_millis()).unwrap_or(u64::MAX);
    let mut total: u64 = 0;
    let mut count = 0;
    let mut open: Option<u64> = None;
    let close = |from: u64, to: u64, total: &mut u64| {
        let (a, b) = (from.max(input.since), to.min(input.until));
        *total = total.saturating_add(b.saturating_sub(a));
    };
    for r in input.records.iter().filter(|r| r.group.as_deref() == Some(g)) {
        match r.event.as_str() {
            "FirewallDisagrees" if open.is_none() && r.t <= input.until => {
                open = Some(r.t.saturating_sub(after));
            }
            // A stop ends what the daemon could see of an episode.
            "FirewallAgrees" | super::STOPPED | super::STARTED => {
                if let Some(from) = open.take() {
                    if r.t >= input.since {
                        count += 1;
                    }
                    close(from, r.t, &mut total);
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
