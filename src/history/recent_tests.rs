//! The page's compact records give the report `failoverd report` gives
//! for the same records, byte for byte.

use std::time::{Duration, UNIX_EPOCH};

use super::*;
use crate::history::report::{Input, report};
use crate::mail::event::{DaemonKind as D, Event, Kind};

const S: u64 = 1000;
/// 2026-12-01.
const NOW: u64 = 1_796_083_200 * S;

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// A push decided, as daemon/core/pushing.rs words it (or not).
fn push(t: u64, g: &str, want: &str, m: Option<&str>, text: &str) -> Event {
    let e = Event::new(Kind::Daemon(D::PushDecided), text, at(t))
        .with_group(g)
        .with_push(&format!("{want} {g}"), "sent");
    match m {
        Some(m) => e.with_expected(m).with_member(m),
        None => e,
    }
}

fn change(kind: Kind, t: u64, g: &str, from: &str, to: &str) -> Event {
    Event::new(kind, format!("{g}: {from} -> {to} at {t}"), at(t))
        .with_group(g)
        .with_change(from, to)
}

/// Switches, decisions in every wording, disagreements and troubles of two
/// groups (one not configured), some before the period.
fn events() -> Vec<Event> {
    let h = 3600 * S;
    let t0 = NOW - 8 * 24 * h;
    vec![
        change(Kind::Daemon(D::FirewallSwitched), t0, "G", "B", "A"),
        change(Kind::Daemon(D::FirewallSwitched), NOW - 50 * h, "G", "A", "A"),
        push(
            NOW - 49 * h,
            "G",
            "Active",
            Some("B"),
            "failoverd pushes Active G (expected active: B)",
        ),
        change(Kind::Failover, NOW - 48 * h, "G", "A", "B"),
        change(Kind::Daemon(D::FirewallSwitched), NOW - 47 * h, "G", "A", "B"),
        push(NOW - 40 * h, "G", "DeActive", None, "failoverd pushes DeActive G"),
        push(
            NOW - 39 * h,
            "H",
            "Active",
            Some("X"),
            "dry run: failoverd would push Active H (expected active: X)",
        ),
        push(
            NOW - 38 * h,
            "H",
            "DeActive",
            None,
            "dry run: failoverd would push DeActive H",
        ),
        push(NOW - 37 * h, "H", "Active", Some("Y"), "a text of its own"),
        Event::new(Kind::Daemon(D::FirewallDisagrees), "disagree", at(NOW - 30 * h)).with_group("G"),
        Event::new(Kind::Daemon(D::FirewallAgrees), "agree", at(NOW - 29 * h)).with_group("G"),
        change(Kind::Failback, NOW - 20 * h, "G", "B", "A"),
        change(Kind::Daemon(D::FirewallSwitched), NOW - 10 * h, "G", "B", "C"),
        Event::new(Kind::Daemon(D::GuardTrip), "withheld", at(NOW - 5 * h)).with_group("G"),
        Event::new(Kind::Daemon(D::ApiUnusable), "api down", at(NOW - 4 * h)),
        Event::new(Kind::Daemon(D::FirewallDisagrees), "again", at(NOW - h)).with_group("G"),
        Event::new(Kind::MemberDown, "not read by the report", at(NOW - h)).with_group("G"),
    ]
}

fn file_report(records: &[Record], snmp: bool) -> String {
    let input = Input {
        records,
        cx: &(),
        since: NOW - 7 * 24 * 3600 * S,
        until: NOW,
        snmp,
        disagree_after: if snmp { Duration::from_secs(120) } else { Duration::ZERO },
        groups: vec!["G".into()],
        only: None,
    };
    report_text::text(&report(&input))
}

fn page_report(recent: &Recent, snmp: bool) -> String {
    let after = snmp.then_some(Duration::from_secs(120));
    report_text::text(&recent.report(at(NOW), after, vec!["G".into()]))
}

#[test]
fn the_pages_section_is_the_reports_text_for_the_same_records() {
    let events = events();
    let mut records: Vec<Record> = events.iter().map(Record::of_event).collect();
    // A time as a person edited it in the file is printed as it is.
    records.push(Record::new("ApiUsable", "api back", at(NOW - 1800 * S)));
    records.last_mut().unwrap().time = "edited".into();
    let mut noted = Recent::default();
    for e in &events {
        noted.note(e);
    }
    let mut seeded = Recent::default();
    seeded.seed(&records, at(NOW));
    for snmp in [true, false] {
        let want = file_report(&records, snmp);
        assert!(want.contains("edited  ApiUsable: api back"), "{want}");
        assert!(want.contains("would push DeActive H"), "{want}");
        assert_eq!(page_report(&seeded, snmp), want);
        // Noted live: the same but for the edited record.
        assert_eq!(
            page_report(&noted, snmp),
            file_report(&records[..records.len() - 1], snmp)
        );
    }
}

#[test]
fn a_push_in_the_daemons_wording_keeps_no_text() {
    let mut recent = Recent::default();
    recent.note(&push(
        NOW,
        "G",
        "Active",
        Some("B"),
        "failoverd pushes Active G (expected active: B)",
    ));
    recent.note(&push(
        NOW,
        "G",
        "Active",
        Some("B"),
        "failoverd pushes Active G (expected active: C)",
    ));
    assert_eq!(recent.records[0].text, NONE);
    assert_ne!(recent.records[1].text, NONE);
    // G, B and the second text.
    assert_eq!(recent.names.len(), 3);
}

#[test]
fn the_push_wording_is_recognised_exactly() {
    for dry in [false, true] {
        for (deactive, m) in [(false, Some("B")), (true, None), (false, None), (true, Some("B"))] {
            let text = push_text(dry, deactive, "G", m);
            assert!(is_push_text(&text, dry, deactive, "G", m), "{text}");
            assert!(!is_push_text(&text, !dry, deactive, "G", m), "{text}");
            assert!(!is_push_text(&text, dry, !deactive, "G", m), "{text}");
            assert!(!is_push_text(&text, dry, deactive, "H", m), "{text}");
            assert!(!is_push_text(&format!("{text}."), dry, deactive, "G", m), "{text}");
            assert!(!is_push_text(&text, dry, deactive, "G", Some("C")), "{text}");
        }
    }
}
