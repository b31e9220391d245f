//! The shown reason follows the live runs: "17 good checks in a row" after
//! 17 checks (it used to stay at the `rise` that made the target up), and
//! the same for failed checks while down (issue #26).

use std::time::Duration;

use super::super::outcome::Outcome;
use super::{NO_VERDICT, Quality, TargetHealth, TargetRules};

fn feed(health: &mut TargetHealth, script: &str) {
    for token in script.chars().filter(|c| !c.is_whitespace()) {
        let outcome = match token {
            'G' => Outcome::good(Duration::from_millis(10)),
            'F' => Outcome::failed("no reply within 1s"),
            'R' => Outcome::failed("connection refused"),
            'E' => Outcome::error("bind: cannot assign requested address"),
            _ => panic!("bad token {token}"),
        };
        health.observe(&outcome);
    }
}

fn runs(fall: u32, rise: u32) -> TargetRules {
    TargetRules {
        fall,
        rise,
        quality: None,
    }
}

#[test]
fn reason_counts_every_check_of_the_run() {
    // (checks so far, reason shown after them), fall 3, rise 2.
    let cases = [
        ("", NO_VERDICT),
        ("G", NO_VERDICT),
        ("GG", "2 good checks in a row"),
        ("GGGGGGGGGGGGGGGGG", "17 good checks in a row"),
        ("GGGGE", "4 good checks in a row"),
        ("GGGGF", "1 failed checks in a row (fall 3)"),
        ("GGGGFFG", "1 good checks in a row"),
        ("FFF", "3 failed checks in a row: no reply within 1s"),
        ("FFFFFFFFFF", "10 failed checks in a row: no reply within 1s"),
        ("FFFFR", "5 failed checks in a row: connection refused"),
        ("FFFRG", "1 good checks in a row (rise 2)"),
        ("FFFGFE", "1 failed checks in a row: no reply within 1s"),
        ("GGFFF", "3 failed checks in a row: no reply within 1s"),
    ];
    for (script, reason) in cases {
        let mut health = TargetHealth::new(runs(3, 2));
        feed(&mut health, script);
        assert_eq!(health.last_reason().to_string(), reason, "checks: {script:?}");
    }
}

#[test]
fn quality_figures_stay_those_of_the_verdict() {
    let quality = Quality {
        window: 4,
        loss: Some((0.5, 0.3)),
        rtt: None,
    };
    let rules = TargetRules {
        fall: 3,
        rise: 2,
        quality: Some(quality),
    };
    let mut health = TargetHealth::new(rules);
    feed(&mut health, "GGGG");
    assert_eq!(
        health.last_reason().to_string(),
        "4 good checks in a row, loss 0% over 4 checks < 30%"
    );
    feed(&mut health, "GGGGG");
    assert_eq!(
        health.last_reason().to_string(),
        "9 good checks in a row, loss 0% over 4 checks < 30%"
    );
    // A quality verdict is a fixed text: it has no run to count.
    feed(&mut health, "FF");
    assert_eq!(health.last_reason().to_string(), "loss 50% over 4 checks >= 50%");
    feed(&mut health, "FF");
    assert_eq!(health.last_reason().to_string(), "loss 50% over 4 checks >= 50%");
}

#[test]
fn a_late_tick_leaves_no_run_to_count() {
    let mut health = TargetHealth::new(runs(3, 2));
    feed(&mut health, "GGG");
    health.discard_recent();
    assert_eq!(health.last_reason().to_string(), "no checks since a late tick");
    feed(&mut health, "G");
    assert_eq!(health.last_reason().to_string(), "1 good checks in a row");
}
