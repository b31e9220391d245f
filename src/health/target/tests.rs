//! Table tests of the per-target state machine: runs, errors, quality rules
//! with their dead band, the unstable limit, reasons, reloads and gaps.

use std::time::Duration;

use super::super::outcome::Outcome;
use super::{NO_VERDICT, Quality, State, TargetHealth, TargetRules, format_duration, format_percent};

const NO_REPLY: &str = "no reply within 1s";

/// Parses a check script: `G` good (10ms), `G<ms>` good with that RTT,
/// `F` failed (no reply), `E` local error; `X*n` repeats a token.
fn script(text: &str) -> Vec<Outcome> {
    let mut out = Vec::new();
    for token in text.split_whitespace() {
        let (tok, n) = match token.split_once('*') {
            Some((tok, n)) => (tok, n.parse::<usize>().expect("repeat count")),
            None => (token, 1),
        };
        let outcome = match tok.split_at(1) {
            ("G", "") => Outcome::good(Duration::from_millis(10)),
            ("G", ms) => Outcome::good(Duration::from_millis(ms.parse().expect("rtt ms"))),
            ("F", "") => Outcome::failed(NO_REPLY),
            ("E", "") => Outcome::error("socket: permission denied"),
            _ => panic!("bad token {token}"),
        };
        out.extend(std::iter::repeat_n(outcome, n));
    }
    out
}

/// Feeds a script; returns the (1-based check number, new state) transitions.
fn run(health: &mut TargetHealth, checks: &str) -> Vec<(usize, State)> {
    let mut changes = Vec::new();
    for (i, outcome) in script(checks).iter().enumerate() {
        if let Some(v) = health.observe(outcome) {
            assert_eq!(v.state, health.state(), "verdict matches state");
            assert_eq!(v.reason, health.last_reason().to_string(), "verdict matches reason");
            changes.push((i + 1, v.state));
        }
    }
    changes
}

fn runs(fall: u32, rise: u32) -> TargetRules {
    TargetRules {
        fall,
        rise,
        quality: None,
    }
}

fn with_loss(fall: u32, rise: u32, window: u32, down: f64, up: f64) -> TargetRules {
    let quality = Quality {
        window,
        loss: Some((down, up)),
        rtt: None,
    };
    TargetRules {
        quality: Some(quality),
        ..runs(fall, rise)
    }
}

fn with_rtt(fall: u32, rise: u32, window: u32, down_ms: u64, up_ms: u64) -> TargetRules {
    let ms = Duration::from_millis;
    let quality = Quality {
        window,
        loss: None,
        rtt: Some((ms(down_ms), ms(up_ms))),
    };
    TargetRules {
        quality: Some(quality),
        ..runs(fall, rise)
    }
}

use State::{Down, Up};

/// (name, rules, check script, expected transitions)
type Case = (&'static str, TargetRules, String, Vec<(usize, State)>);

#[test]
fn transitions_table() {
    let scattered = "G G F G G F G G F G";
    let cases: Vec<Case> = vec![
        ("fall=3 hysteresis", runs(3, 2), "F F G F F F".into(), vec![(6, Down)]),
        ("rise=3 from unknown", runs(3, 3), "G G G".into(), vec![(3, Up)]),
        (
            "up then down",
            runs(3, 2),
            "G G F F G F F F".into(),
            vec![(2, Up), (8, Down)],
        ),
        (
            "down then up",
            runs(3, 2),
            "F F F G F G G".into(),
            vec![(3, Down), (7, Up)],
        ),
        (
            "no change is no verdict",
            runs(1, 1),
            "G G G F F G".into(),
            vec![(1, Up), (4, Down), (6, Up)],
        ),
        (
            "error does not break good run",
            runs(3, 3),
            "G G E G".into(),
            vec![(4, Up)],
        ),
        (
            "error does not break failed run",
            runs(3, 3),
            "F E F E E F".into(),
            vec![(6, Down)],
        ),
        ("errors alone never decide", runs(1, 1), "E*50".into(), vec![]),
        (
            "loss dead band 40%/10%",
            with_loss(100, 1, 10, 0.4, 0.1),
            "G*6 F*4 G*10 F*4".into(),
            vec![(10, Down), (20, Up), (24, Down)],
        ),
        (
            "3 of 10 scattered: fall=3 never trips",
            runs(3, 2),
            [scattered; 3].join(" "),
            vec![(2, Up)],
        ),
        (
            "3 of 10 scattered: loss 25% trips on full window",
            with_loss(3, 2, 10, 0.25, 0.1),
            [scattered; 3].join(" "),
            vec![(10, Down)],
        ),
        (
            "3 of 10 scattered after clean start: loss 25% trips",
            with_loss(3, 2, 10, 0.25, 0.1),
            format!("G*10 {scattered} {scattered}"),
            vec![(10, Up), (19, Down)],
        ),
        (
            "rtt 500/200 with dead band",
            with_rtt(3, 2, 4, 500, 200),
            "G100*4 G900*2 G100*4".into(),
            vec![(4, Up), (6, Down), (10, Up)],
        ),
        (
            "rtt down from unknown",
            with_rtt(3, 2, 4, 500, 200),
            "G900*4".into(),
            vec![(4, Down)],
        ),
        (
            "quality: no up before full window",
            with_loss(3, 2, 5, 0.5, 0.2),
            "G*4".into(),
            vec![],
        ),
        (
            "quality: up at full window",
            with_loss(3, 2, 5, 0.5, 0.2),
            "G*5".into(),
            vec![(5, Up)],
        ),
        (
            "fall still works before full window",
            with_loss(2, 2, 10, 0.5, 0.2),
            "F F".into(),
            vec![(2, Down)],
        ),
        (
            "unstable after 2*max(fall,rise)",
            runs(3, 3),
            "G G F G G F".into(),
            vec![(6, Down)],
        ),
        (
            "unstable ignores errors",
            runs(3, 3),
            "G E G F E G G E F".into(),
            vec![(9, Down)],
        ),
        (
            "unstable limit uses window",
            with_loss(2, 2, 4, 0.6, 0.3),
            "G F G F G F G F".into(),
            vec![(8, Down)],
        ),
    ];
    for (name, rules, checks, expected) in cases {
        let mut health = TargetHealth::new(rules);
        assert_eq!(run(&mut health, &checks), expected, "case: {name}");
    }
}

#[test]
fn quality_without_rules_is_no_quality() {
    let rules = TargetRules {
        quality: Some(Quality {
            window: 10,
            loss: None,
            rtt: None,
        }),
        ..runs(3, 2)
    };
    let mut health = TargetHealth::new(rules);
    assert_eq!(run(&mut health, "G G"), vec![(2, Up)]);
}

#[test]
fn reasons_table() {
    let both = TargetRules {
        quality: Some(Quality {
            window: 10,
            loss: Some((0.4, 0.1)),
            rtt: Some((Duration::from_millis(500), Duration::from_millis(200))),
        }),
        ..runs(3, 2)
    };
    let cases = [
        (runs(3, 2), "F F F", "3 failed checks in a row: no reply within 1s"),
        (runs(3, 2), "G G", "2 good checks in a row"),
        (
            with_loss(100, 1, 10, 0.4, 0.1),
            "G*6 F*4",
            "loss 40% over 10 checks >= 40%",
        ),
        (
            with_rtt(3, 2, 4, 500, 200),
            "G612*4",
            "mean RTT 612ms over 4 checks >= 500ms",
        ),
        (runs(3, 3), "G G F G G F", "unstable: 2 of 6 checks failed"),
        (
            with_loss(2, 2, 4, 0.6, 0.3),
            "G F G F G F G F",
            "unstable: 4 of 8 checks failed",
        ),
        (
            both,
            "G*10",
            "10 good checks in a row, loss 0% over 10 checks < 10%, \
             mean RTT 10ms over 10 checks < 200ms",
        ),
        (runs(3, 2), "E E G", NO_VERDICT),
    ];
    for (rules, checks, reason) in cases {
        let mut health = TargetHealth::new(rules);
        run(&mut health, checks);
        assert_eq!(health.last_reason(), reason, "checks: {checks}");
    }
}

#[test]
fn set_rules_shrinks_window_and_keeps_state() {
    let mut health = TargetHealth::new(with_loss(100, 1, 10, 0.4, 0.1));
    assert_eq!(run(&mut health, "G*6 F*4"), vec![(10, Down)]);
    // The newest 4 samples (all failed) survive; sums must follow.
    health.set_rules(with_loss(100, 1, 4, 0.4, 0.1));
    assert_eq!(health.state(), Down);
    assert_eq!(run(&mut health, "G*4"), vec![(4, Up)]);
    assert_eq!(
        health.last_reason(),
        "4 good checks in a row, loss 0% over 4 checks < 10%"
    );
}

#[test]
fn set_rules_dropping_quality_allows_rise_alone() {
    let mut health = TargetHealth::new(with_loss(100, 1, 10, 0.4, 0.1));
    run(&mut health, "G*6 F*4");
    health.set_rules(runs(100, 1));
    assert_eq!(run(&mut health, "G"), vec![(1, Up)]);
}

#[test]
fn set_rules_growing_window_needs_it_full_again() {
    let mut health = TargetHealth::new(with_loss(3, 1, 4, 0.5, 0.3));
    assert_eq!(run(&mut health, "G*4"), vec![(4, Up)]);
    health.set_rules(with_loss(3, 1, 8, 0.5, 0.3));
    // 4 kept + 3 failed = 7 samples: not full, so no loss verdict yet...
    assert_eq!(run(&mut health, "F F"), vec![]);
    // ...but the run rule still applies.
    assert_eq!(run(&mut health, "F"), vec![(1, Down)]);
}

#[test]
fn set_rules_lower_fall_applies_from_next_check() {
    let mut health = TargetHealth::new(runs(5, 2));
    assert_eq!(run(&mut health, "F F F"), vec![]);
    health.set_rules(runs(3, 2));
    assert_eq!(health.state(), State::Unknown, "reload alone decides nothing");
    assert_eq!(run(&mut health, "F"), vec![(1, Down)]);
    assert_eq!(health.last_reason(), "4 failed checks in a row: no reply within 1s");
}

#[test]
fn discard_recent_forgets_runs_keeps_state() {
    let mut health = TargetHealth::new(runs(3, 2));
    assert_eq!(run(&mut health, "G G F F"), vec![(2, Up)]);
    health.discard_recent();
    assert_eq!(health.state(), Up);
    assert_eq!(run(&mut health, "F F"), vec![], "run restarted after the gap");
    assert_eq!(run(&mut health, "F"), vec![(1, Down)]);
}

#[test]
fn reset_returns_to_unknown() {
    let mut health = TargetHealth::new(runs(3, 2));
    run(&mut health, "G G");
    health.reset();
    assert_eq!(health.state(), State::Unknown);
    assert_eq!(health.last_reason(), NO_VERDICT);
    assert_eq!(run(&mut health, "G G"), vec![(2, Up)]);
}

#[test]
fn huge_rtt_saturates_without_panic() {
    let mut health = TargetHealth::new(with_rtt(3, 1, 2, 500, 200));
    let huge = Outcome::good(Duration::from_secs(u64::MAX));
    assert_eq!(health.observe(&huge), None);
    let verdict = health.observe(&huge).map(|v| v.state);
    assert_eq!(verdict, Some(Down));
}

#[test]
fn zero_rules_are_clamped() {
    let rules = TargetRules {
        quality: Some(Quality {
            window: 0,
            loss: Some((0.5, 0.2)),
            rtt: None,
        }),
        ..runs(0, 0)
    };
    let mut health = TargetHealth::new(rules);
    assert_eq!(run(&mut health, "G F"), vec![(1, Up), (2, Down)]);
}

#[test]
fn format_table() {
    let ms = Duration::from_millis;
    let durations = [
        (Duration::from_secs(1), "1s"),
        (ms(612), "612ms"),
        (ms(1500), "1500ms"),
        (Duration::from_micros(611_600), "612ms"),
        (Duration::from_micros(2500), "2.5ms"),
        (Duration::from_micros(850), "850µs"),
    ];
    for (d, text) in durations {
        assert_eq!(format_duration(d), text);
    }
    let percents = [
        (0.4, "40%"),
        (0.125, "12.5%"),
        (0.0, "0%"),
        (1.0, "100%"),
        (1.0 / 3.0, "33.3%"),
    ];
    for (f, text) in percents {
        assert_eq!(format_percent(f), text);
    }
}

#[test]
fn memory_per_target_is_small() {
    let health = TargetHealth::new(with_loss(3, 2, 20, 0.4, 0.1));
    let window = health.window.as_deref().expect("a window with quality rules");
    let heap = std::mem::size_of_val(window) + window.samples.capacity() * std::mem::size_of::<u32>();
    let total = std::mem::size_of::<TargetHealth>() + heap;
    assert!(total <= 320, "{total} bytes per target");
}

#[test]
fn a_fresh_target_without_quality_rules_holds_nothing_on_the_heap() {
    let mut health = TargetHealth::new(runs(3, 2));
    assert!(health.window.is_none(), "no window without quality rules");
    assert!(
        matches!(health.reason, std::borrow::Cow::Borrowed(_)),
        "the fixed text is borrowed"
    );
    assert_eq!(health.last_reason(), NO_VERDICT);
    // Quality rules added by a reload bring a window, and removing them
    // drops it; the judgement follows.
    health.set_rules(with_loss(3, 2, 4, 0.5, 0.25));
    assert_eq!(health.window.as_ref().map(|w| w.cap), Some(4));
    for _ in 0..2 {
        health.observe(&Outcome::good(Duration::from_millis(1)));
    }
    assert_eq!(health.state(), State::Unknown, "rise 2 met, window not full");
    health.set_rules(runs(3, 2));
    assert!(health.window.is_none());
    health.observe(&Outcome::good(Duration::from_millis(1)));
    assert_eq!(health.state(), State::Up, "no quality rule left: the run decides");
}
