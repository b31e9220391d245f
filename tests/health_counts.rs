//! Issue #26, numbers that mislead and a choice that waited forever: the
//! engine fed explicit observation times. A target's reason counts its whole
//! run ("17 good checks in a row"), and a member whose checks all end in a
//! local error (no verdict ever) stops holding the expected-active choice
//! back `fall × interval + timeout` after its checks began.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{BASE_GROUP, BASE_SETTINGS, Case};
use failoverd::engine::{Engine, Output};
use failoverd::health::outcome::Outcome;
use failoverd::health::target::State;
use failoverd::probe::Protocol;
use failoverd::probe::schedule::{Observation, Report};
use tokio::time::Instant;

fn engine(settings: &str) -> Engine {
    let case = Case::new(settings, &[("g.xml", BASE_GROUP)]);
    let loaded = failoverd::config::load(&case.settings_path()).unwrap();
    Engine::new(&loaded.plan.expect("valid"), &BTreeMap::new())
}

fn stream_of(e: &Engine, target: &str) -> usize {
    e.streams()
        .iter()
        .position(|k| k.target.to_string() == target && k.protocol == Protocol::Icmp)
        .unwrap()
}

/// Feeds one check of `target` at `at`; returns the events' texts.
fn feed(e: &mut Engine, target: &str, outcome: &Outcome, at: Instant) -> Vec<String> {
    let obs = Observation {
        stream: stream_of(e, target),
        at,
        report: Report::Check {
            outcome: outcome.clone(),
            addr: None,
        },
    };
    e.observe(&obs)
        .into_iter()
        .filter_map(|o| match o {
            Output::Event(ev) => Some(format!("{:?} {}", ev.kind, ev.text)),
            _ => None,
        })
        .collect()
}

fn good() -> Outcome {
    Outcome::good(Duration::from_millis(2))
}

fn local_error() -> Outcome {
    Outcome::error("bind 203.0.113.9: cannot assign requested address")
}

fn reason(e: &Engine, member: &str) -> String {
    let members = e.members("G");
    let m = members.iter().find(|m| m.name == member).unwrap();
    m.targets[0].reason.clone()
}

#[test]
fn status_reason_counts_the_whole_run() {
    let mut e = engine(BASE_SETTINGS);
    let t0 = Instant::now();
    let lost = Outcome::failed("no reply within 1s");
    for k in 1..=17u32 {
        feed(&mut e, "192.0.2.1", &good(), t0 + Duration::from_secs(k.into()));
        feed(&mut e, "192.0.2.2", &lost, t0 + Duration::from_secs(k.into()));
    }
    assert_eq!(reason(&e, "A"), "17 good checks in a row");
    assert_eq!(reason(&e, "B"), "17 failed checks in a row: no reply within 1s");
}

#[test]
fn a_member_that_never_gets_a_verdict_is_passed_over_after_its_patience() {
    // Defaults: interval 1s, timeout 1s, fall 3: patience 4s from A's
    // first check. A's checks are all local errors, so A stays unknown.
    let mut e = engine(BASE_SETTINGS);
    let t0 = Instant::now();
    let mut chosen_at = None;
    for tenth in 1..=100u64 {
        let at = t0 + Duration::from_millis(tenth * 100);
        if tenth % 10 == 0 {
            let events = feed(&mut e, "192.0.2.1", &local_error(), at);
            assert_eq!(events, Vec::<String>::new(), "initial choice is no event; A never down");
            feed(&mut e, "192.0.2.2", &good(), at);
        }
        let (state, active) = e.group_state("G").unwrap();
        if tenth >= 30 {
            assert_eq!(state, State::Up, "B up after 3 checks");
        }
        if active.is_some() && chosen_at.is_none() {
            assert_eq!(active.as_deref(), Some("B"));
            chosen_at = Some(tenth * 100);
        }
    }
    // A's first check at 1s + patience 4s = 5s: chosen on the checks at 5s.
    assert_eq!(chosen_at, Some(5000), "chosen within fall × interval + timeout");
    let members = e.members("G");
    assert_eq!(members[0].state, State::Unknown, "A passed over, never counted down");
    assert_eq!(e.tally().down, 0);
    // A comes up later: automatic failback (the default) goes back to it.
    let mut log = Vec::new();
    for k in 1..=3u64 {
        log.extend(feed(&mut e, "192.0.2.1", &good(), t0 + Duration::from_secs(10 + k)));
    }
    // (A's first verdict is silent: leaving unknown is no event.)
    assert_eq!(
        log,
        ["Failback failback 'B' -> 'A': member 'A' is up and comes before 'B' in failover order (automatic failback)"]
    );
}

#[test]
fn patience_follows_the_members_own_timing() {
    // A checks every 2s with fall 2 and timeout 500ms: 4.5s of patience.
    let settings = BASE_SETTINGS.replace(
        "targets = [\"192.0.2.1\"]",
        "targets = [\"192.0.2.1\"]\ninterval = \"2s\"\ntimeout = \"500ms\"\nfall = 2",
    );
    let mut e = engine(&settings);
    let t0 = Instant::now();
    for k in 1..=4u64 {
        feed(&mut e, "192.0.2.2", &good(), t0 + Duration::from_secs(k));
    }
    feed(&mut e, "192.0.2.1", &local_error(), t0 + Duration::from_secs(1));
    feed(&mut e, "192.0.2.2", &good(), t0 + Duration::from_millis(5400));
    assert_eq!(e.group_state("G").unwrap().1, None, "4.4s after A's first check");
    feed(&mut e, "192.0.2.2", &good(), t0 + Duration::from_millis(5500));
    assert_eq!(e.group_state("G").unwrap().1.as_deref(), Some("B"), "4.5s after it");
}

mod daemonutil;

/// Polls `failoverd status` until `done` holds for its output (bounded).
fn status_until(config: &std::path::Path, limit: Duration, done: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let (code, out, err) = daemonutil::cli(&["status"], config);
        if code == 0 && done(&out) {
            return out;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "status never matched: {code} {out}{err}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The largest N in "N good checks in a row" of a status text.
fn good_run(status: &str) -> u32 {
    status
        .match_indices(" good checks in a row")
        .filter_map(|(i, _)| status[..i].rsplit(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .max()
        .unwrap_or(0)
}

#[test]
fn status_of_the_real_daemon_shows_the_live_count() {
    let (_rt, emu) = daemonutil::emulator();
    let a = daemonutil::listen("127.0.0.1", 0);
    let port = a.local_addr().unwrap().port();
    let b = daemonutil::listen("127.0.0.2", port);
    let d = daemonutil::Daemon::start(&daemonutil::settings(&emu, port, "underlay", ""), port);
    let config = d.dir.path().join("failoverd.toml");
    // rise 2 at 200ms: the old reason stayed "2 good checks in a row".
    let out = status_until(&config, Duration::from_secs(15), |s| good_run(s) >= 8);
    assert!(good_run(&out) >= 8, "{out}");
    let (code, _, _, _) = d.stop();
    assert_eq!(code, 0);
    drop((a, b));
}

#[test]
fn a_member_whose_checks_all_fail_locally_does_not_block_the_choice() {
    let (_rt, emu) = daemonutil::emulator();
    let a = daemonutil::listen("127.0.0.1", 0);
    let port = a.local_addr().unwrap().port();
    let b = daemonutil::listen("127.0.0.2", port);
    // 203.0.113.9 (TEST-NET-3) is on no interface of this host: binding
    // it fails, so every check of A is an error and A never gets a verdict.
    let settings = daemonutil::settings(&emu, port, "underlay", "").replace(
        "targets = [\"127.0.0.1\"]",
        "targets = [\"127.0.0.1\"]\nsource = \"203.0.113.9\"",
    );
    let d = daemonutil::Daemon::start(&settings, port);
    let config = d.dir.path().join("failoverd.toml");
    let started = std::time::Instant::now();
    // Patience: fall 3 × 200ms + 200ms = 800ms after A's first check.
    let out = status_until(&config, Duration::from_secs(10), |s| s.contains("expected active B"));
    let took = started.elapsed();
    assert!(out.contains("member A: unknown"), "A is passed over, not down: {out}");
    assert!(!d.log_text().contains("member 'A' down"), "{}", d.log_text());
    assert!(took < Duration::from_secs(5), "chosen after {took:?}");
    let (code, _, _, _) = d.stop();
    assert_eq!(code, 0);
    drop((a, b));
}

#[test]
fn a_reload_keeps_when_the_checks_began() {
    let mut old = engine(BASE_SETTINGS);
    let t0 = Instant::now();
    for k in 1..=3u64 {
        feed(&mut old, "192.0.2.1", &local_error(), t0 + Duration::from_secs(k));
        feed(&mut old, "192.0.2.2", &good(), t0 + Duration::from_secs(k));
    }
    assert_eq!(old.group_state("G").unwrap().1, None, "3s: A still has patience");
    // The same settings reloaded: the group's state (and A's start) is kept,
    // so A is passed over 4s after its first check, not 4s after the reload.
    let mut new = engine(BASE_SETTINGS);
    new.adopt(&old);
    feed(&mut new, "192.0.2.2", &good(), t0 + Duration::from_secs(4));
    assert_eq!(new.group_state("G").unwrap().1, None, "4s: patience not yet out");
    feed(&mut new, "192.0.2.2", &good(), t0 + Duration::from_secs(5));
    assert_eq!(new.group_state("G").unwrap().1.as_deref(), Some("B"), "5s");
}
