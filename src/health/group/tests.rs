//! Table tests of group state, the expected active member (failback on and
//! off, wrap-round), event kinds and order, silent leaving of unknown, and
//! events for changes while failoverd was stopped.

use super::super::target::State::{self, Down, Unknown, Up};
use super::{Event, EventKind, GroupHealth, Persisted, group_state};

/// Member states from a script: `U` up, `D` down, `?` unknown.
fn states(script: &str) -> Vec<(State, String)> {
    script
        .chars()
        .enumerate()
        .map(|(i, c)| {
            let state = match c {
                'U' => Up,
                'D' => Down,
                '?' => Unknown,
                _ => panic!("bad state {c}"),
            };
            (state, format!("why m{i}"))
        })
        .collect()
}

/// Compact event form: "MemberDown(0)", "Failover(0->1)", "GroupUp";
/// a trailing `*` marks `while_stopped`.
fn summary(e: &Event) -> String {
    let at = |i: Option<usize>| i.map_or("-".to_owned(), |i| i.to_string());
    let mut text = match e.kind {
        EventKind::MemberDown | EventKind::MemberUp => format!("{:?}({})", e.kind, at(e.member)),
        EventKind::Failover | EventKind::Failback => {
            format!("{:?}({}->{})", e.kind, at(e.from), at(e.to))
        }
        EventKind::GroupDown | EventKind::GroupUp => format!("{:?}", e.kind),
    };
    if e.while_stopped {
        text.push('*');
    }
    text
}

fn group(n: usize, failback: bool, persisted: Option<Persisted>) -> GroupHealth {
    let names = (0..n).map(|i| format!("m{i}")).collect();
    GroupHealth::new(names, failback, persisted)
}

fn persisted(group: State, members: &[State], expected: Option<usize>) -> Option<Persisted> {
    Some(Persisted {
        group,
        members: members.to_vec(),
        expected_active: expected,
    })
}

#[test]
fn group_state_table() {
    let cases: [(&[State], State); 7] = [
        (&[Up, Down], Up),
        (&[Down, Up], Up),
        (&[Up, Unknown], Up),
        (&[Down, Down], Down),
        (&[Down, Unknown], Unknown),
        (&[Unknown, Unknown], Unknown),
        (&[], Down),
    ];
    for (members, expected) in cases {
        assert_eq!(group_state(members), expected, "{members:?}");
    }
}

#[test]
fn expected_active_table() {
    type Steps = &'static [(&'static str, Option<usize>)];
    let cases: [(&str, bool, Option<usize>, Steps); 12] = [
        (
            "failback: unknown ahead holds the start choice",
            true,
            None,
            &[("?U", None), ("UU", Some(0))],
        ),
        (
            "no failback: unknown ahead holds the start choice",
            false,
            None,
            &[("?U", None), ("DU", Some(1))],
        ),
        (
            "no failback: unknown current is kept",
            false,
            None,
            &[("UU", Some(0)), ("?U", Some(0)), ("DU", Some(1))],
        ),
        (
            "no failback: unknown next holds",
            false,
            None,
            &[("UUU", Some(0)), ("D?U", Some(0)), ("DDU", Some(2))],
        ),
        (
            "failback: first up at start",
            true,
            None,
            &[("??", None), ("DUU", Some(1)), ("UUU", Some(0))],
        ),
        (
            "failback: always first up",
            true,
            None,
            &[("DUU", Some(1)), ("DDU", Some(2)), ("DUU", Some(1)), ("UDU", Some(0))],
        ),
        (
            "failback: none up keeps it",
            true,
            None,
            &[("UU", Some(0)), ("DD", Some(0)), ("D?", Some(0))],
        ),
        (
            "no failback: start picks first up",
            false,
            None,
            &[("DUU", Some(1)), ("UUU", Some(1))],
        ),
        (
            "no failback: stays, moves on, wraps",
            false,
            None,
            &[
                ("UUU", Some(0)),
                ("DUU", Some(1)),
                ("UUU", Some(1)),
                ("UDU", Some(2)),
                ("UDD", Some(0)),
            ],
        ),
        (
            "no failback: wrap to non-first",
            false,
            None,
            &[("DDDU", Some(3)), ("DUDD", Some(1))],
        ),
        (
            "no failback: persisted current kept while up",
            false,
            Some(1),
            &[("UU", Some(1))],
        ),
        (
            "failback: persisted current replaced by first up",
            true,
            Some(1),
            &[("??", Some(1)), ("UU", Some(0))],
        ),
    ];
    for (name, failback, expected_before, steps) in cases {
        let n = steps[0].0.len();
        let persisted = expected_before.map(|e| Persisted {
            expected_active: Some(e),
            ..Persisted::default()
        });
        let mut g = group(n, failback, persisted);
        for (step, (script, expected)) in steps.iter().enumerate() {
            g.update(&states(script));
            assert_eq!(g.expected_active(), *expected, "{name}: step {step} {script}");
        }
    }
}

#[test]
fn events_table() {
    type Steps = &'static [(&'static str, &'static [&'static str])];
    let both = [true, false];
    let cases: [(&str, &[bool], Option<Persisted>, Steps); 14] = [
        ("silent start up", &both, None, &[("UU", &[])]),
        ("silent start down", &both, None, &[("DD", &[])]),
        (
            "silent start via unknown",
            &both,
            None,
            &[("??", &[]), ("?U", &[]), ("UU", &[])],
        ),
        (
            "failover after its member down; group down after its member down",
            &both,
            None,
            &[
                ("UU", &[]),
                ("DU", &["MemberDown(0)", "Failover(0->1)"]),
                ("DD", &["MemberDown(1)", "GroupDown"]),
            ],
        ),
        (
            "member up, failback, group up in one update",
            &both,
            None,
            &[
                ("DU", &[]),
                ("DD", &["MemberDown(1)", "GroupDown"]),
                ("UD", &["MemberUp(0)", "Failback(1->0)", "GroupUp"]),
            ],
        ),
        (
            "restart: unknown member ahead causes no spurious failover",
            &both,
            persisted(Up, &[Up, Up], Some(0)),
            &[("?U", &[]), ("UU", &[])],
        ),
        (
            "all kinds in order",
            &[true],
            None,
            &[
                ("DD", &[]),
                ("DU", &["MemberUp(1)", "GroupUp"]),
                ("UU", &["MemberUp(0)", "Failback(1->0)"]),
                ("DD", &["MemberDown(0)", "MemberDown(1)", "GroupDown"]),
                ("DU", &["MemberUp(1)", "Failover(0->1)", "GroupUp"]),
            ],
        ),
        (
            "no failback: member back up is no failback",
            &[false],
            None,
            &[
                ("UU", &[]),
                ("DU", &["MemberDown(0)", "Failover(0->1)"]),
                ("UU", &["MemberUp(0)"]),
            ],
        ),
        (
            "two members swap in one update",
            &both,
            None,
            &[
                ("UDD", &[]),
                ("DUD", &["MemberDown(0)", "MemberUp(1)", "Failover(0->1)"]),
            ],
        ),
        (
            "through unknown: same verdict silent, other verdict an event",
            &both,
            None,
            &[
                ("UU", &[]),
                ("?U", &[]),
                ("UU", &[]),
                ("?U", &[]),
                ("DU", &["MemberDown(0)", "Failover(0->1)"]),
            ],
        ),
        (
            "persisted equal: silent",
            &both,
            persisted(Up, &[Up, Down], Some(0)),
            &[("UD", &[])],
        ),
        (
            "persisted differs: flagged once",
            &both,
            persisted(Up, &[Up], Some(0)),
            &[
                ("D", &["MemberDown(0)*", "GroupDown*"]),
                ("U", &["MemberUp(0)", "GroupUp"]),
            ],
        ),
        (
            "persisted: failover while stopped",
            &both,
            persisted(Up, &[Up, Up], Some(0)),
            &[
                ("DU", &["MemberDown(0)*", "Failover(0->1)*"]),
                ("DD", &["MemberDown(1)", "GroupDown"]),
            ],
        ),
        (
            "persisted: flag waits for the first verdict",
            &[false],
            persisted(Down, &[Down, Down], Some(0)),
            &[
                ("??", &[]),
                ("U?", &["MemberUp(0)*", "GroupUp*"]),
                ("UU", &["MemberUp(1)*"]),
            ],
        ),
    ];
    for (name, modes, persisted, steps) in cases {
        for &failback in modes {
            let mut g = group(steps[0].0.len(), failback, persisted.clone());
            for (step, (script, expected)) in steps.iter().enumerate() {
                let events: Vec<String> = g.update(&states(script)).iter().map(summary).collect();
                assert_eq!(events, *expected, "{name} (failback {failback}): step {step} {script}");
            }
        }
    }
}

#[test]
fn event_reasons_and_description() {
    let mut g = GroupHealth::new(
        vec!["hq".into(), "dc2".into()],
        false,
        persisted(Up, &[Up, Up], Some(0)),
    );
    let events = g.update(&states("DU"));
    assert_eq!(events[0].reason, "why m0", "member event carries the member reason");
    assert_eq!(
        g.describe(&events[0]),
        "member 'hq' down (changed while failoverd was stopped): why m0"
    );
    assert_eq!(events[1].reason, "member 'hq' down: why m0; next member up is 'dc2'");
    let events = g.update(&states("DD"));
    assert_eq!(events[1].reason, "all 2 members down: 'hq': why m0; 'dc2': why m1");
    assert_eq!(
        g.describe(&events[1]),
        "group down: all 2 members down: 'hq': why m0; 'dc2': why m1"
    );
}

#[test]
fn failback_reason_names_the_preferred_member() {
    let mut g = GroupHealth::new(vec!["hq".into(), "dc2".into()], true, None);
    g.update(&states("DU"));
    let events = g.update(&states("UU"));
    assert_eq!(events[1].kind, EventKind::Failback);
    assert_eq!(
        events[1].reason,
        "member 'hq' is up and comes before 'dc2' in failover order (automatic failback)"
    );
    assert_eq!(
        g.describe(&events[1]),
        format!("failback 'dc2' -> 'hq': {}", events[1].reason)
    );
}

/// Both members went down, then the first came back while the current
/// one stayed down: the failback's reason is the member that came back
/// (with its own reason), not the failure of the one left behind.
#[test]
fn a_failback_after_both_were_down_names_the_member_that_came_back() {
    let mut g = GroupHealth::new(vec!["hq".into(), "dc2".into()], true, None);
    g.update(&states("DU"));
    g.update(&states("DD"));
    let events = g.update(&states("UD"));
    let back = events.iter().find(|e| e.kind == EventKind::Failback).unwrap();
    assert_eq!(back.reason, "member 'hq' is up: why m0; 'dc2' is down");
}

#[test]
fn persisted_round_trip_and_bad_input() {
    let mut g = group(3, false, None);
    g.update(&states("DU?"));
    let saved = g.persisted();
    assert_eq!(
        saved,
        Persisted {
            group: Up,
            members: vec![Down, Up, Unknown],
            expected_active: Some(1)
        }
    );
    let mut restarted = group(3, false, Some(saved));
    assert_eq!(restarted.expected_active(), Some(1), "reported before any verdict");
    assert!(restarted.update(&states("DU?")).is_empty());

    // Out-of-range expected member and extra persisted entries are ignored;
    // a short update counts missing members as unknown.
    let mut g = group(2, true, persisted(Up, &[Up, Up, Up], Some(7)));
    assert_eq!(g.expected_active(), None);
    assert!(g.update(&states("U")).is_empty());
    assert_eq!((g.state(), g.member_states()), (Up, vec![Up, Unknown]));
}

#[test]
fn member_names_of_any_length_are_kept_in_failover_order() {
    // Each must come back whole, whichever constructor copied it.
    let names = ["HQ_Primary", "", "dc2", "Branch-Backup_Link"];
    let mut g = GroupHealth::new(names.map(String::from).to_vec(), true, None);
    assert_eq!(g.names().collect::<Vec<_>>(), names);
    for (i, name) in names.iter().enumerate() {
        assert_eq!(g.name(i), *name);
    }
    assert_eq!(g.name(4), "?");
    let borrowed = GroupHealth::with_names(names.iter().copied(), true, None);
    assert_eq!(borrowed.names().collect::<Vec<_>>(), names);
    g.update(&states("UDDD"));
    let events = g.update(&states("DDUD"));
    let texts: Vec<String> = events.iter().map(|e| g.describe(e)).collect();
    assert_eq!(texts[0], "member 'HQ_Primary' down: why m0");
    assert_eq!(texts[1], "member 'dc2' up: why m2");
    assert_eq!(
        texts[2],
        "failover 'HQ_Primary' -> 'dc2': member 'HQ_Primary' down: why m0; next member up is 'dc2'"
    );
}

#[test]
fn shared_names_are_kept_and_a_reload_keeps_the_new_copies() {
    use std::sync::Arc;
    let copies = |n: [&str; 2]| n.map(Arc::<str>::from);
    let (old, new) = (copies(["A", "B"]), copies(["A", "B"]));
    let same = |g: &GroupHealth, n: &[Arc<str>; 2]| g.names().zip(n).all(|(a, b)| a.as_ptr() == b.as_ptr());
    let mut before = GroupHealth::with_shared(old.iter().cloned(), true, None);
    assert!(same(&before, &old), "the given copies, not new ones");
    before.update(&states("UD"));
    let mut after = GroupHealth::with_shared(new.iter().cloned(), true, None);
    after.take_state(&before);
    assert_eq!(after.state(), before.state());
    assert!(same(&after, &new), "the state taken, the names the new plan's");
    drop(before);
    assert_eq!(Arc::strong_count(&old[0]), 1, "the old copies are no longer held");
}
