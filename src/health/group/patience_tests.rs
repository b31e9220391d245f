//! Table tests of the patience rule (contract §5): a member still unknown
//! `fall × interval + timeout` after its checks began no longer holds the
//! expected-active choice back; it is passed over as not up, never counted
//! down, and follows the normal rules once it has a verdict. Time is
//! explicit: each step is "at this moment, the members are in these states".

use std::time::Duration;

use tokio::time::Instant;

use super::super::target::State::{self, Down, Unknown, Up};
use super::{Event, EventKind, GroupHealth, Persisted};

const PATIENCE: Duration = Duration::from_millis(3500);

/// Member states from a script: `U` up, `D` down, `?` unknown.
fn states(script: &str) -> Vec<(State, String)> {
    let state = |c| match c {
        'U' => Up,
        'D' => Down,
        '?' => Unknown,
        _ => panic!("bad state {c}"),
    };
    script
        .chars()
        .enumerate()
        .map(|(i, c)| (state(c), format!("why m{i}")))
        .collect()
}

fn summary(e: &Event) -> String {
    let at = |i: Option<usize>| i.map_or("-".to_owned(), |i| i.to_string());
    let text = match e.kind {
        EventKind::Failover | EventKind::Failback => format!("{:?}({}->{})", e.kind, at(e.from), at(e.to)),
        _ => format!("{:?}({})", e.kind, at(e.member)),
    };
    if e.while_stopped { text + "*" } else { text }
}

/// A group of `n` members whose checks all began at `t0`.
fn group(n: usize, failback: bool, expected: Option<usize>, t0: Instant) -> GroupHealth {
    let names = (0..n).map(|i| format!("m{i}")).collect();
    let persisted = expected.map(|e| Persisted {
        group: Up,
        members: vec![Unknown; n],
        expected_active: Some(e),
    });
    let mut g = GroupHealth::new(names, failback, persisted);
    g.set_patience(vec![PATIENCE; n]);
    for i in 0..n {
        g.checks_began(i, t0);
    }
    g
}

/// Runs `(ms after t0, states)` steps as the engine does (tick, then
/// update); returns the events and the expected active member.
fn run(g: &mut GroupHealth, t0: Instant, steps: &[(u64, &str)]) -> (Vec<String>, Option<usize>) {
    let mut events = Vec::new();
    for (ms, script) in steps {
        g.tick(t0 + Duration::from_millis(*ms));
        events.extend(g.update(&states(script)).iter().map(summary));
    }
    (events, g.expected_active())
}

#[test]
fn patience_table() {
    // (failback, persisted expected, steps, events, expected active, group state)
    type Case = (
        bool,
        Option<usize>,
        &'static [(u64, &'static str)],
        &'static [&'static str],
        Option<usize>,
        State,
    );
    let cases: [Case; 9] = [
        // The first member never gets a verdict: waited for, then passed over.
        (true, None, &[(1000, "?U"), (3499, "?U")], &[], None, Up),
        (true, None, &[(1000, "?U"), (3500, "?U")], &[], Some(1), Up),
        (false, None, &[(1000, "?U"), (9000, "?U")], &[], Some(1), Up),
        // It comes up later: failback with automatic failback...
        (
            true,
            None,
            &[(1000, "?U"), (4000, "?U"), (6000, "UU")],
            &["Failback(1->0)"],
            Some(0),
            Up,
        ),
        // ...and no change without it.
        (false, None, &[(4000, "?U"), (6000, "UU")], &[], Some(1), Up),
        // Passed over is not down: no member or group down, group unknown.
        (true, None, &[(4000, "?D"), (5000, "?D")], &[], None, Unknown),
        // Persisted choice of the unknown member: a failover once it is overdue.
        (
            false,
            Some(0),
            &[(1000, "?U"), (3600, "?U")],
            &["Failover(0->1)*"],
            Some(1),
            Up,
        ),
        // Three members: the overdue first and the down second are skipped.
        (true, None, &[(4000, "?DU")], &[], Some(2), Up),
        // A down member is skipped at once; back up, it is a normal failback.
        (
            true,
            None,
            &[(1000, "DU"), (4000, "UU")],
            &["MemberUp(0)", "Failback(1->0)"],
            Some(0),
            Up,
        ),
    ];
    let t0 = Instant::now();
    for (i, (failback, expected, steps, events, active, state)) in cases.into_iter().enumerate() {
        let n = steps[0].1.len();
        let mut g = group(n, failback, expected, t0);
        let (got, got_active) = run(&mut g, t0, steps);
        assert_eq!(got, events, "case {i}: events");
        assert_eq!(got_active, active, "case {i}: expected active");
        assert_eq!(g.state(), state, "case {i}: group state");
    }
}

#[test]
fn tick_asks_for_a_new_choice_once_and_only_for_unknown_members() {
    let t0 = Instant::now();
    let mut g = group(2, true, None, t0);
    g.update(&states("?U"));
    assert!(!g.tick(t0 + Duration::from_millis(3499)), "before its patience");
    assert!(g.tick(t0 + PATIENCE), "patience ran out");
    assert!(!g.tick(t0 + PATIENCE * 2), "only once");
    assert!(g.passed_over(0));
    assert!(!g.passed_over(1));
    let mut g = group(2, true, None, t0);
    g.update(&states("DU"));
    assert!(!g.tick(t0 + PATIENCE), "a member with a verdict needs no new choice");
}

#[test]
fn patience_counts_from_the_members_own_first_check() {
    let t0 = Instant::now();
    let mut g = group(2, true, None, t0);
    let mut late = GroupHealth::new(vec!["m0".into(), "m1".into()], true, None);
    late.set_patience(vec![PATIENCE; 2]);
    late.checks_began(1, t0);
    late.checks_began(0, t0 + Duration::from_secs(2));
    late.checks_began(0, t0); // only the first call counts
    late.update(&states("?U"));
    assert!(!late.tick(t0 + PATIENCE), "m0's checks began 2s later");
    assert!(late.tick(t0 + PATIENCE + Duration::from_secs(2)));
    // Without patience (or before any check), unknown waits forever.
    let mut never = GroupHealth::new(vec!["m0".into(), "m1".into()], true, None);
    never.checks_began(0, t0);
    never.update(&states("?U"));
    assert!(!never.tick(t0 + Duration::from_secs(3600)));
    assert_eq!(never.update(&states("?U")), vec![]);
    assert_eq!(never.expected_active(), None);
    g.update(&states("?U"));
    assert_eq!(g.expected_active(), None);
}

#[test]
fn a_failover_from_an_overdue_member_says_so() {
    let t0 = Instant::now();
    let mut g = group(2, false, Some(0), t0);
    g.update(&states("?U"));
    g.tick(t0 + PATIENCE);
    let events = g.update(&states("?U"));
    assert_eq!(events.len(), 1);
    assert_eq!(
        g.describe(&events[0]),
        "failover 'm0' -> 'm1' (changed while failoverd was stopped): member 'm0' still unknown \
         3500ms after its checks began: why m0; next member up is 'm1'"
    );
}
