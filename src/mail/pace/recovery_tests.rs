//! The recovery exception of `max_per_hour` (contract section 7), with time
//! passed in as seconds after a base instant.

use std::time::{Duration, Instant, SystemTime};

use super::*;
use crate::mail::event::{DaemonKind as D, Event, Kind};

fn ev(kind: Kind, group: &str, secs: u64) -> Event {
    Event::new(kind, "r", SystemTime::UNIX_EPOCH + Duration::from_secs(secs)).with_group(group)
}

/// Each output as `batch GroupDown,GroupUp` or `digest A: MemberDown`.
fn kinds(out: &[Outgoing]) -> Vec<String> {
    let names = |es: &[Event]| es.iter().map(|e| e.kind.name()).collect::<Vec<_>>().join(",");
    out.iter()
        .map(|o| match o {
            Outgoing::Batch(es) => format!("batch {}", names(es)),
            Outgoing::Digest { key, events } => format!("digest {}: {}", key.label(), names(events)),
        })
        .collect()
}

/// Pushes `(second, kind, group)` in order and polls after each; returns
/// what each poll handed out, as `"second: output"`.
fn play(coalesce: u64, max: u32, steps: &[(u64, Option<Kind>, &str)]) -> Vec<String> {
    let base = Instant::now();
    let at = |s: u64| base + Duration::from_secs(s);
    let mut p = Pacer::new(Duration::from_secs(coalesce), max);
    let mut seen = Vec::new();
    for (secs, kind, group) in steps {
        if let Some(k) = kind {
            p.push(ev(*k, group, *secs), at(*secs));
        }
        seen.extend(kinds(&p.poll(at(*secs))).into_iter().map(|o| format!("{secs}: {o}")));
    }
    seen
}

#[test]
fn a_recovery_beyond_the_limit_goes_with_the_next_coalesced_mail() {
    let seen = play(
        10,
        1,
        &[
            (0, Some(Kind::GroupDown), "A"),
            (10, None, ""),
            (20, Some(Kind::MemberUp), "A"),
            (30, Some(Kind::MemberDown), "A"),
            (40, None, ""),
            (50, Some(Kind::GroupUp), "A"),
            (59, None, ""),
            (60, None, ""),
            (3600, None, ""),
        ],
    );
    assert_eq!(
        seen,
        [
            "10: batch GroupDown",
            // Within the coalesce window of the recovery, with what the
            // group had held back before it, in order; no digest later.
            "60: batch MemberUp,MemberDown,GroupUp",
        ]
    );
}

#[test]
fn a_recovery_of_an_episode_never_mailed_waits_for_the_digest() {
    let seen = play(
        0,
        1,
        &[
            (0, Some(Kind::MemberDown), "A"),
            (10, Some(Kind::GroupDown), "A"),
            (20, Some(Kind::GroupUp), "A"),
            (3600, None, ""),
        ],
    );
    assert_eq!(seen, ["0: batch MemberDown", "3600: digest A: GroupDown,GroupUp"]);
}

#[test]
fn an_episode_opened_in_a_digest_ends_in_the_next_batch() {
    let seen = play(
        0,
        1,
        &[
            (0, Some(Kind::MemberDown), "A"),
            (10, Some(Kind::GroupDown), "A"),
            (3600, None, ""),
            (3700, Some(Kind::GroupUp), "A"),
        ],
    );
    assert_eq!(
        seen,
        [
            "0: batch MemberDown",
            "3600: digest A: GroupDown",
            "3700: batch GroupUp"
        ]
    );
}

#[test]
fn each_episode_kind_has_its_recovery_let_through() {
    // Each recovery kind is counted on its own key: it is over its limit
    // when it went out once in the last hour; the episode's opener goes
    // out again after the hour.
    for (down, up, group) in [
        (Kind::GroupDown, Kind::GroupUp, "A"),
        (Kind::Daemon(D::ApiUnusable), Kind::Daemon(D::ApiUsable), ""),
        (Kind::Daemon(D::SnmpUnusable), Kind::Daemon(D::SnmpUsable), ""),
        (Kind::Daemon(D::FirewallDisagrees), Kind::Daemon(D::FirewallAgrees), "A"),
    ] {
        let seen = play(
            0,
            1,
            &[
                (0, Some(down), group),
                (1, Some(up), group),
                (3600, Some(down), group),
                (3600, Some(up), group),
            ],
        );
        let (d, u) = (down.name(), up.name());
        let want = if down == Kind::GroupDown {
            // One key for the whole group: the second down is held, so
            // its recovery is held with it.
            vec!["0: batch GroupDown".to_owned(), "1: batch GroupUp".to_owned()]
        } else {
            vec![
                format!("0: batch {d}"),
                format!("1: batch {u}"),
                format!("3600: batch {d}"),
                format!("3600: batch {u}"),
            ]
        };
        assert_eq!(seen, want, "{d} then {u}");
    }
}

#[test]
fn other_kinds_are_not_recoveries() {
    let seen = play(
        0,
        1,
        &[
            (0, Some(Kind::Daemon(D::PushRefused)), "A"),
            (1, Some(Kind::Daemon(D::PushRecovered)), "A"),
            (2, Some(Kind::Daemon(D::PushRefused)), "A"),
            (3, Some(Kind::Daemon(D::PushRecovered)), "A"),
        ],
    );
    assert_eq!(seen, ["0: batch PushRefused", "1: batch PushRecovered"]);
}
