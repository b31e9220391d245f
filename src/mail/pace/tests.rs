//! Pacing tables, with time passed in as seconds after a base instant.

use std::time::{Duration, Instant, SystemTime};

use super::*;
use crate::mail::event::{DaemonKind as D, Event, Kind};

struct Clock(Instant);

impl Clock {
    fn at(&self, secs: u64) -> Instant {
        self.0 + Duration::from_secs(secs)
    }
}

fn ev(kind: Kind, group: &str) -> Event {
    Event::new(kind, "r", SystemTime::UNIX_EPOCH).with_group(group)
}

fn groups(out: &[Outgoing]) -> Vec<String> {
    out.iter()
        .map(|o| match o {
            Outgoing::Batch(es) => {
                let names: Vec<&str> = es.iter().map(|e| e.group.as_deref().unwrap_or("-")).collect();
                format!("batch {}", names.join(","))
            }
            Outgoing::Digest { key, events } => format!("digest {} x{}", key.label(), events.len()),
        })
        .collect()
}

const M: u64 = 60;

#[test]
fn events_within_the_window_of_the_first_share_one_mail() {
    let c = Clock(Instant::now());
    let mut p = Pacer::new(Duration::from_secs(10), 6);
    assert_eq!(p.next_due(), None);
    p.push(ev(Kind::MemberDown, "A"), c.at(0));
    p.push(ev(Kind::Failover, "A"), c.at(3));
    p.push(ev(Kind::GroupDown, "B"), c.at(9));
    assert_eq!(p.next_due(), Some(c.at(10)));
    assert!(p.poll(c.at(9)).is_empty());
    assert_eq!(groups(&p.poll(c.at(10))), ["batch A,A,B"]);
    p.push(ev(Kind::MemberUp, "A"), c.at(11));
    assert_eq!(p.next_due(), Some(c.at(21)), "a new window starts with the next event");
    assert_eq!(groups(&p.poll(c.at(21))), ["batch A"]);
}

#[test]
fn zero_coalesce_sends_at_once() {
    let c = Clock(Instant::now());
    let mut p = Pacer::new(Duration::ZERO, 6);
    p.push(ev(Kind::MemberDown, "A"), c.at(5));
    assert_eq!(p.next_due(), Some(c.at(5)));
    assert_eq!(groups(&p.poll(c.at(5))), ["batch A"]);
}

/// (second, group or "" for a poll only, expected output of the poll).
type Step = (u64, &'static str, &'static [&'static str]);

fn run(max: u32, steps: &[Step]) {
    let c = Clock(Instant::now());
    let mut p = Pacer::new(Duration::ZERO, max);
    for (i, (secs, group, want)) in steps.iter().enumerate() {
        if !group.is_empty() {
            for g in group.split(',') {
                p.push(ev(Kind::MemberDown, g), c.at(*secs));
            }
        }
        assert_eq!(groups(&p.poll(c.at(*secs))), *want, "step {i} at {secs}s");
    }
}

#[test]
fn beyond_max_per_hour_events_fold_into_an_hourly_digest() {
    run(
        2,
        &[
            (0, "A", &["batch A"]),
            (M, "A", &["batch A"]),
            (2 * M, "A", &[]),
            (3 * M, "A", &[]),
            (3 * M, "B", &["batch B"]),
            (60 * M - 1, "", &[]),
            (60 * M, "", &["digest A x2"]),
            // The 1-minute mail and the digest fill the hour again.
            (60 * M + 30, "A", &[]),
            // Room again at 61m, but a digest waits: order is kept.
            (62 * M, "A", &[]),
            (120 * M - 1, "", &[]),
            (120 * M, "", &["digest A x2"]),
            // Calm: one mail in the last hour, below the limit.
            (130 * M, "A", &["batch A"]),
        ],
    );
}

#[test]
fn a_mixed_batch_holds_back_only_the_group_over_its_limit() {
    run(
        1,
        &[
            (0, "A", &["batch A"]),
            (10, "A,B,A", &["batch B"]),
            (3600, "", &["digest A x2"]),
        ],
    );
}

#[test]
fn the_sliding_hour_frees_one_mail_at_a_time() {
    run(
        2,
        &[
            (0, "A", &["batch A"]),
            (30 * M, "A", &["batch A"]),
            (60 * M, "A", &["batch A"]),
            (61 * M, "A", &[]),
            (90 * M, "", &["digest A x1"]),
        ],
    );
}

#[test]
fn daemon_events_count_per_kind() {
    let c = Clock(Instant::now());
    let mut p = Pacer::new(Duration::ZERO, 1);
    assert!(p.push(ev(Kind::Daemon(D::PushRefused), "A"), c.at(0)));
    p.push(ev(Kind::Daemon(D::GuardTrip), "A"), c.at(0));
    let out = p.poll(c.at(0));
    assert_eq!(groups(&out), ["batch A,A"]);
    let Outgoing::Batch(events) = &out[0] else { panic!() };
    assert_eq!(events[0].kind, Kind::Daemon(D::PushRefused));
    assert_eq!(events[1].kind, Kind::Daemon(D::GuardTrip));
    assert!(p.push(ev(Kind::Daemon(D::PushRefused), "B"), c.at(10)));
    p.push(ev(Kind::Daemon(D::GuardTrip), "B"), c.at(10));
    p.push(ev(Kind::Daemon(D::IcmpFailure), "B"), c.at(10));
    assert_eq!(groups(&p.poll(c.at(10))), ["batch B"], "another kind still goes");
    assert_eq!(
        groups(&p.poll(c.at(3600))),
        [
            "digest failoverd's \"push refused\" events x1",
            "digest failoverd's \"guard trip\" events x1"
        ]
    );
    assert_eq!(p.next_due(), None);
}

#[test]
fn push_trouble_is_one_event_per_failure_streak() {
    let table: &[(Kind, &str, bool)] = &[
        (Kind::Daemon(D::PushRecovered), "A", false),
        (Kind::Daemon(D::PushRefused), "A", true),
        (Kind::Daemon(D::PushRefused), "A", false),
        (Kind::Daemon(D::PushRefused), "B", true),
        (Kind::Daemon(D::PushRecovered), "A", true),
        (Kind::Daemon(D::PushRecovered), "A", false),
        (Kind::Daemon(D::PushRefused), "A", true),
        (Kind::Daemon(D::ApiUnusable), "A", true),
        (Kind::Daemon(D::ApiUnusable), "B", false),
        (Kind::Daemon(D::ApiUsable), "", true),
        (Kind::Daemon(D::ApiUsable), "", false),
        (Kind::Daemon(D::GuardTrip), "A", true),
        (Kind::Daemon(D::GuardTrip), "A", true),
        (Kind::GroupDown, "A", true),
        (Kind::GroupDown, "A", true),
    ];
    let mut s = Streaks::default();
    for (i, (kind, group, want)) in table.iter().enumerate() {
        assert_eq!(s.admit(&ev(*kind, group)), *want, "row {i}: {kind:?} {group}");
    }
    let mut p = Pacer::new(Duration::ZERO, 6);
    let now = Instant::now();
    assert!(p.push(ev(Kind::Daemon(D::ApiUnusable), ""), now));
    assert!(!p.push(ev(Kind::Daemon(D::ApiUnusable), ""), now));
    assert_eq!(p.poll(now).len(), 1);
}

#[test]
fn flush_hands_out_everything_held() {
    let c = Clock(Instant::now());
    let mut p = Pacer::new(Duration::from_secs(10), 1);
    p.push(ev(Kind::MemberDown, "A"), c.at(0));
    assert_eq!(groups(&p.poll(c.at(10))), ["batch A"]);
    p.push(ev(Kind::MemberUp, "A"), c.at(11));
    assert!(p.poll(c.at(21)).is_empty());
    p.push(ev(Kind::MemberUp, "B"), c.at(22));
    assert_eq!(groups(&p.flush()), ["digest A x1", "batch B"]);
    assert_eq!(p.next_due(), None);
}
