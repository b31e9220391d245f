//! The history's pure parts: parsing damaged files, the bound, and the
//! shadow report as a table of scenarios.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::report::{Input, report};
use super::store::{bounded, parse};
use super::*;

const S: u64 = 1000;
/// A fixed "now" far from the epoch: 2026-12-01.
const NOW: u64 = 1_796_083_200 * S;

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

fn rec(t: u64, event: &str, group: &str) -> Record {
    let mut r = Record::new(event, format!("{event} at {t}"), at(t));
    if !group.is_empty() {
        r.group = Some(group.to_owned());
    }
    r
}

/// FirewallSwitched to `to` ("" = no member).
fn fw(t: u64, to: &str) -> Record {
    let mut r = rec(t, "FirewallSwitched", "G");
    r.to = (!to.is_empty()).then(|| to.to_owned());
    r
}

fn failover(t: u64, to: &str) -> Record {
    let mut r = rec(t, "Failover", "G");
    r.to = Some(to.to_owned());
    r
}

fn push(t: u64, push: &str, expected: &str) -> Record {
    let mut r = rec(t, "PushDecided", "G");
    r.push = Some(format!("{push} G"));
    r.expected = (!expected.is_empty()).then(|| expected.to_owned());
    r
}

fn input(records: &[Record], snmp: bool) -> Input<'_> {
    Input {
        records,
        cx: &(),
        since: NOW - 7 * 24 * 3600 * S,
        until: NOW,
        snmp,
        disagree_after: Duration::from_secs(120),
        groups: vec!["G".into()],
        only: None,
    }
}

#[test]
fn a_good_file_reads_back_and_damage_is_counted_not_fatal() {
    let a = rec(NOW, "Failover", "G");
    let good = a.line();
    let other = good.replace("\"v\":1", "\"v\":9");
    let cases: Vec<(String, usize, usize, usize, bool)> = vec![
        // bytes, good, bad, other version, truncated
        (good.clone(), 1, 0, 0, false),
        (format!("{good}not json\n{good}"), 2, 1, 0, false),
        (format!("{good}{}", &good[..10]), 1, 0, 0, true),
        (format!("{other}{good}"), 1, 0, 1, false),
        (format!("{}\n{good}", "x".repeat(MAX_LINE + 1)), 1, 1, 0, false),
        ("\n\n".to_owned(), 0, 0, 0, false),
        (String::new(), 0, 0, 0, false),
    ];
    for (bytes, n, bad, other, truncated) in cases {
        let l = parse(bytes.as_bytes());
        assert_eq!(
            (l.records.len(), l.bad, l.other_version, l.truncated),
            (n, bad, other, truncated),
            "{bytes:.80}"
        );
    }
    assert!(parse(b"\xff\xfe\n").bad == 1, "not UTF-8 is a bad line");
}

#[test]
fn the_bound_drops_what_is_older_than_30_days_then_the_oldest() {
    let old = rec(NOW - KEEP.as_millis() as u64 - S, "GroupDown", "G");
    let mid = rec(NOW - 10 * S, "GroupUp", "G");
    let new = rec(NOW, "GroupDown", "G");
    let kept = bounded(vec![old, mid.clone(), new.clone()], at(NOW), u64::MAX);
    assert_eq!(kept, vec![mid.clone(), new.clone()]);
    let one = new.line().len() as u64;
    assert_eq!(bounded(vec![mid, new.clone()], at(NOW), one), vec![new]);
    // A record from ahead of now (the clock stepped back) is kept.
    let ahead = rec(NOW + 3600 * S, "GroupUp", "G");
    assert_eq!(bounded(vec![ahead.clone()], at(NOW), u64::MAX), vec![ahead]);
}

#[test]
fn records_of_every_kind_round_trip() {
    let e = crate::mail::event::Event::new(crate::mail::event::Kind::Failover, "A down", at(NOW))
        .with_group("G")
        .with_change("A", "B")
        .with_expected("B");
    let r = Record::of_event(&e);
    assert_eq!(
        (r.event.as_str(), r.member.as_deref(), r.to.as_deref()),
        ("Failover", Some("B"), Some("B"))
    );
    let back = parse(r.line().as_bytes());
    assert_eq!(back.records, vec![r]);
    // Before the epoch: time 0, never a panic.
    assert_eq!(Record::new("X", "", UNIX_EPOCH - Duration::from_secs(5)).t, 0);
}

/// (name, records, snmp, expected text lines that must appear)
fn scenarios() -> Vec<(&'static str, Vec<Record>, bool, Vec<&'static str>)> {
    let t0 = NOW - 3600 * S;
    vec![
        (
            "failoverd ahead of the firewall by 56 s",
            vec![fw(t0, "A"), failover(t0 + 10 * S, "B"), fw(t0 + 66 * S, "B")],
            true,
            vec![
                "failoverd decided at",
                "56 s earlier",
                "0 switch(es) failoverd never decided",
            ],
        ),
        (
            "failoverd later than the firewall",
            vec![fw(t0, "A"), fw(t0 + 10 * S, "B"), failover(t0 + 13 * S, "B")],
            true,
            vec!["3 s later"],
        ),
        (
            "a switch the firewall made alone",
            vec![fw(t0, "A"), fw(t0 + 10 * S, "B")],
            true,
            vec![
                "failoverd never decided this switch",
                "1 switch(es) failoverd never decided",
            ],
        ),
        (
            "a decision never followed",
            vec![fw(t0, "A"), failover(t0 + 10 * S, "B")],
            true,
            vec![
                "failoverd decided B at",
                "the firewall did not follow",
                "the firewall did not switch members",
            ],
        ),
        (
            "a DeActive followed by no member carried",
            vec![fw(t0, "A"), push(t0 + 5 * S, "DeActive", ""), fw(t0 + 7 * S, "")],
            true,
            vec!["firewall switched to no member at", "2 s earlier"],
        ),
        (
            "an Active of what the firewall carries already is no unfollowed decision",
            vec![fw(t0, "A"), push(t0 + 5 * S, "Active", "A")],
            true,
            vec!["the firewall did not switch members", "1 decision(s) of failoverd"],
        ),
        (
            "without snmp only decisions",
            vec![failover(t0, "B"), push(t0 + S, "DeActive", "")],
            false,
            vec!["The firewall's side is unknown", "decisions (2):"],
        ),
        (
            "troubles and restarts",
            vec![
                rec(t0, STOPPED, ""),
                rec(t0 + S, STARTED, ""),
                rec(t0 + 2 * S, "GuardTrip", "G"),
            ],
            true,
            vec![
                "troubles and restarts (3):",
                "DaemonStopped",
                "DaemonStarted",
                "GuardTrip G",
            ],
        ),
        (
            "disagreement counted from disagree_after before its record",
            vec![
                rec(t0, "FirewallDisagrees", "G"),
                rec(t0 + 60 * S, "FirewallAgrees", "G"),
            ],
            true,
            vec!["disagreed for 3m (1 episode(s))"],
        ),
        (
            "a clock stepped back: records out of order do not panic",
            vec![fw(t0 + 100 * S, "A"), failover(t0 + 50 * S, "B"), fw(t0 + 20 * S, "B")],
            true,
            vec!["G:"],
        ),
        (
            "records before the period only give the state at its start",
            vec![fw(NOW - 8 * 24 * 3600 * S, "A"), fw(t0, "A")],
            true,
            vec!["the firewall did not switch members"],
        ),
    ]
}

#[test]
fn the_shadow_report_scenarios() {
    for (name, records, snmp, want) in scenarios() {
        let r = report(&input(&records, snmp));
        let text = report_text::text(&r);
        for w in want {
            assert!(text.contains(w), "{name}: no {w:?} in\n{text}");
        }
    }
}

#[test]
fn the_lead_is_exact_in_milliseconds() {
    let t0 = NOW - 3600 * S;
    let records = vec![fw(t0, "A"), failover(t0 + 1234, "B"), fw(t0 + 4500, "B")];
    let r = report(&input(&records, true));
    assert_eq!(r.groups[0].switches[0].lead_ms, Some(3266));
    assert!(r.groups[0].not_followed.is_empty());
}

#[test]
fn the_pages_memory_keeps_what_the_report_reads_bounded() {
    use super::recent::{MAX, Recent};
    use crate::mail::event::{DaemonKind, Event, Kind};
    let mut recent = Recent::default();
    let mut seed: Vec<Record> = (0..MAX as u64 + 10).map(|i| fw(NOW - 3600 * S + i, "A")).collect();
    seed.push(rec(NOW - 8 * 24 * 3600 * S, "FirewallSwitched", "G")); // older than 7 days
    seed.push(rec(NOW - S, "MemberUp", "G")); // not read by the report
    recent.seed(&seed, at(NOW));
    recent.note(&Event::new(Kind::Daemon(DaemonKind::GuardTrip), "withheld", at(NOW)));
    recent.note(&Event::new(Kind::MemberDown, "not kept", at(NOW)));
    // The bound holds, the newest kept: the guard trip is among them.
    let dbg = format!("{recent:?}");
    assert!(dbg.contains("withheld") && !dbg.contains("not kept") && !dbg.contains("MemberUp"));
    assert_eq!(recent.len(), MAX);
}

#[test]
fn at_the_bound_a_new_record_moves_no_whole_list() {
    use super::recent::{MAX, Recent};
    use crate::mail::event::{DaemonKind, Event, Kind};
    let mut recent = Recent::default();
    let t0 = NOW - 3600 * S;
    for i in 0..MAX as u64 + 5000 {
        recent.note(&Event::new(Kind::Daemon(DaemonKind::GuardTrip), "trip", at(t0 + i)));
    }
    // Exactly the bound is kept; the room of the dropped comes back in
    // batches, so the list holds at most a batch more than the bound.
    assert_eq!(recent.len(), MAX);
    assert!(recent.held() < MAX + 1024, "{} held", recent.held());
    assert!(
        recent.held() > MAX,
        "dropped records are given back in batches, not one by one"
    );
}
