//! Table tests of condition quorum, member all/any, and the reports that
//! name the failing condition and target with the target's reason.

use super::super::target::State::{self, Down, Unknown, Up};
use super::{ConditionReport, MemberReport, TargetStatus, condition_state, member_state};

#[test]
fn condition_quorum_table() {
    let cases: [(&[State], usize, State); 11] = [
        (&[Up, Up, Up], 2, Up),
        (&[Up, Up, Down], 2, Up),           // one down: holds
        (&[Up, Down, Down], 2, Down),       // two down: fails
        (&[Up, Down, Unknown], 2, Unknown), // could still go either way
        (&[Unknown, Unknown, Unknown], 2, Unknown),
        (&[Down, Unknown, Unknown], 2, Unknown),
        (&[Down, Down, Unknown], 2, Down), // only one can still be up
        (&[Up, Up, Down], 3, Down),        // 3 of 3 with one down
        (&[Up], 1, Up),
        (&[], 1, Down),
        (&[Down, Down], 0, Up), // quorum 0 always holds
    ];
    for (targets, quorum, expected) in cases {
        assert_eq!(
            condition_state(targets, quorum),
            expected,
            "{targets:?} quorum {quorum}"
        );
    }
}

#[test]
fn member_all_any_table() {
    let cases: [(&[State], State); 7] = [
        (&[Up, Up], Up),
        (&[Up, Down], Down),
        (&[Up, Unknown], Unknown),
        (&[Down, Unknown], Down), // any failing condition decides
        (&[Unknown, Unknown], Unknown),
        (&[Up], Up),
        (&[], Up),
    ];
    for (conditions, expected) in cases {
        assert_eq!(member_state(conditions), expected, "{conditions:?}");
    }
}

fn status<'a>(name: &'a str, state: State, reason: &'a str) -> TargetStatus<'a> {
    TargetStatus {
        name,
        state,
        reason: reason.into(),
    }
}

const FALL: &str = "3 failed checks in a row: no reply within 1s";
const LOSS: &str = "loss 40% over 20 checks >= 40%";

#[test]
fn condition_report_names_down_targets_with_reasons() {
    let targets = [
        status("10.0.0.1", Down, FALL),
        status("10.0.0.2", Up, "3 good checks in a row"),
        status("10.0.0.3", Down, LOSS),
    ];
    let report = ConditionReport::evaluate("peer", 2, &targets);
    assert_eq!(report.state, Down);
    assert_eq!((report.up, report.down, report.total), (1, 2, 3));
    assert_eq!(report.down_targets, ["10.0.0.1", "10.0.0.3"]);
    assert_eq!(
        report.reason,
        "condition 'peer' fails: 2 of 3 targets down, quorum 2 \
         [target '10.0.0.1': 3 failed checks in a row: no reply within 1s; \
         target '10.0.0.3': loss 40% over 20 checks >= 40%]"
    );
}

#[test]
fn condition_report_texts_for_up_and_unknown() {
    let up = ConditionReport::evaluate("dns", 1, &[status("a", Up, ""), status("b", Down, FALL)]);
    assert_eq!(up.reason, "condition 'dns' holds: 1 of 2 targets up, quorum 1");
    assert_eq!(up.down_targets, ["b"], "down targets listed even when holding");
    let unknown = ConditionReport::evaluate("dns", 2, &[status("a", Up, ""), status("b", Unknown, "")]);
    assert_eq!(unknown.state, Unknown);
    assert_eq!(
        unknown.reason,
        "condition 'dns' unknown: 1 of 2 targets up, 0 down, quorum 2"
    );
}

#[test]
fn member_report_picks_deciding_conditions() {
    let up = ConditionReport::evaluate("wan", 1, &[status("gw", Up, "")]);
    let down = ConditionReport::evaluate("peer", 1, &[status("10.0.0.1", Down, FALL)]);
    let unknown = ConditionReport::evaluate("dns", 1, &[status("ns", Unknown, "")]);

    let report = MemberReport::evaluate(&[up.clone(), down.clone(), unknown.clone()]);
    assert_eq!(report.state, Down);
    assert_eq!(report.deciding, ["peer"]);
    assert_eq!(
        report.reason,
        "condition 'peer' fails: 1 of 1 targets down, quorum 1 \
         [target '10.0.0.1': 3 failed checks in a row: no reply within 1s]"
    );

    let report = MemberReport::evaluate(&[up.clone(), unknown]);
    assert_eq!((report.state, report.deciding), (Unknown, vec!["dns".to_owned()]));

    let report = MemberReport::evaluate(std::slice::from_ref(&up));
    assert_eq!((report.state, report.reason), (Up, up.reason));

    let report = MemberReport::evaluate(&[]);
    assert_eq!((report.state, report.reason.as_str()), (Up, "no conditions"));
}
