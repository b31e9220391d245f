//! What the status page's shadow report holds in memory (issue #30,
//! history/recent.rs): a week of flapping filling it to its bound of
//! 20,000 records, measured with a counting allocator. Each record was a
//! full history record (time and text strings, 5 or 6 allocations, about
//! 600 B); now 32 B with the strings held once.

mod countalloc;

use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, UNIX_EPOCH};

use countalloc::{COUNT, LIVE, PEAK};
use failoverd::history::Record;
use failoverd::history::recent::{MAX, Recent};
use failoverd::history::report::{Input, report};
use failoverd::mail::event::{DaemonKind as D, Event, Kind};

/// 2026-12-01.
const NOW: u64 = 1_796_083_200_000;

/// One flap of group `g`, the daemon's wording: failover, push, switch,
/// disagreement, failback, push, switch.
fn flap(g: &str, t: u64) -> Vec<Event> {
    let at = |dt: u64| UNIX_EPOCH + Duration::from_millis(t + dt);
    let pushed = |dt: u64, m: &str| {
        let text = format!("failoverd pushes Active {g} (expected active: {m})");
        Event::new(Kind::Daemon(D::PushDecided), text, at(dt))
            .with_group(g)
            .with_push(&format!("Active {g}"), "sent")
            .with_expected(m)
            .with_member(m)
    };
    let change = |k: Kind, dt: u64, from: &str, to: &str| {
        Event::new(k, format!("{g}: '{from}' -> '{to}'"), at(dt))
            .with_group(g)
            .with_change(from, to)
    };
    vec![
        change(Kind::Failover, 0, "A", "B"),
        pushed(1, "B"),
        change(Kind::Daemon(D::FirewallSwitched), 2000, "A", "B"),
        Event::new(Kind::Daemon(D::FirewallDisagrees), "the firewall carries A", at(3000)).with_group(g),
        Event::new(Kind::Daemon(D::FirewallAgrees), "agreed", at(4000)).with_group(g),
        change(Kind::Failback, 60_000, "B", "A"),
        pushed(60_001, "A"),
        change(Kind::Daemon(D::FirewallSwitched), 62_000, "B", "A"),
    ]
}

/// A week of flapping of 8 groups, more than the bound holds.
fn week() -> impl Iterator<Item = Event> {
    let n = (MAX / 8 + 100) as u64;
    let step = 6 * 24 * 3600 * 1000 / n;
    (0..n).flat_map(move |i| flap(&format!("group-{}", i % 8), NOW - 6 * 24 * 3600 * 1000 + i * step))
}

fn live() -> (isize, isize) {
    (LIVE.load(Relaxed), COUNT.load(Relaxed))
}

#[test]
fn a_full_week_holds_under_64_bytes_a_record() {
    let (b0, c0) = live();
    let mut recent = Recent::default();
    for e in week() {
        recent.note(&e);
    }
    let (b1, c1) = live();
    assert_eq!(recent.len(), MAX);
    let per = (b1 - b0) as f64 / MAX as f64;
    // What it held before: each record in full, in a ring buffer.
    let mut old: VecDeque<Record> = VecDeque::new();
    for e in week() {
        old.push_back(Record::of_event(&e));
        while old.len() > MAX {
            old.pop_front();
        }
    }
    let (b2, c2) = live();
    // A render read in place (it copied every record before).
    let now = UNIX_EPOCH + Duration::from_millis(NOW);
    PEAK.store(0, Relaxed);
    let base = LIVE.load(Relaxed).max(0) as usize;
    let shadow = recent.report(now, Some(Duration::from_secs(120)), vec![]);
    let render = PEAK.load(Relaxed).saturating_sub(base);
    assert_eq!(shadow.groups.len(), 8);
    drop(shadow);
    PEAK.store(0, Relaxed);
    let base = LIVE.load(Relaxed).max(0) as usize;
    let copy: Vec<Record> = old.iter().cloned().collect();
    let input = Input {
        records: &copy,
        cx: &(),
        since: NOW - 7 * 24 * 3600 * 1000,
        until: NOW,
        snmp: true,
        disagree_after: Duration::from_secs(120),
        groups: vec![],
        only: None,
    };
    let was = report(&input);
    let render_was = PEAK.load(Relaxed).saturating_sub(base);
    assert_eq!(was.groups.len(), 8);
    eprintln!(
        "held: {:.1} B in {:.2} allocations a record (was {:.1} B in {:.2}); a render peaks at {render} B (was {render_was} B)",
        per,
        (c1 - c0) as f64 / MAX as f64,
        (b2 - b1) as f64 / MAX as f64,
        (c2 - c1) as f64 / MAX as f64,
    );
    assert!(per < 64.0, "{per} B a record");
}
