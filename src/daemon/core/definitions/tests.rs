//! The episode: two Gets in a row, once, its end; `sync = true` sending
//! instead; a Get that could not compare advancing nothing.

use super::*;
use crate::firewall::compare::Field;
use std::time::Duration;

fn t(s: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + s)
}

fn differs() -> Verdict {
    Verdict::Differs(vec![Field {
        name: "members",
        file: "A, B".into(),
        firewall: "B, A".into(),
    }])
}

fn of(v: Verdict) -> Compared {
    Ok(Comparison {
        groups: vec![("HQ".into(), v)],
        unknown: Vec::new(),
    })
}

fn names(steps: &[Step]) -> Vec<String> {
    steps
        .iter()
        .map(|s| match s {
            Step::Event(e) => e.kind.name().to_string(),
            Step::Send(g) => format!("send {g}"),
        })
        .collect()
}

#[test]
fn two_gets_in_a_row_then_once_then_its_end() {
    let mut d = Definitions::default();
    assert!(
        d.compared(of(differs()), false, t(0)).is_empty(),
        "one Get is not enough"
    );
    let steps = d.compared(of(differs()), false, t(10));
    assert_eq!(names(&steps), ["DefinitionDiffers"]);
    let Step::Event(e) = &steps[0] else { unreachable!() };
    assert_eq!(e.group.as_deref(), Some("HQ"));
    assert!(e.reason.contains("members: file A, B, firewall B, A"), "{}", e.reason);
    assert!(e.reason.contains("failoverd sync --group HQ"), "{}", e.reason);
    assert!(e.reason.contains("failoverd import --group HQ --force"), "{}", e.reason);
    assert!(d.compared(of(differs()), false, t(20)).is_empty(), "once per episode");
    assert!(
        d.compared(of(Verdict::Missing), false, t(30)).is_empty(),
        "still the episode"
    );
    assert_eq!(
        names(&d.compared(of(Verdict::InStep), false, t(40))),
        ["DefinitionInStep"]
    );
    assert!(d.compared(of(Verdict::InStep), false, t(50)).is_empty(), "ended once");
    assert_eq!(d.verdict("HQ"), Some(&Verdict::InStep));
}

#[test]
fn a_get_that_could_not_compare_advances_nothing() {
    let mut d = Definitions::default();
    assert!(d.compared(of(differs()), false, t(0)).is_empty());
    assert!(d.compared(Err("unreadable".into()), false, t(10)).is_empty());
    assert_eq!(d.problem(), Some("unreadable"));
    assert_eq!(d.verdict("HQ"), Some(&differs()), "the last verdict stays");
    // In step between two differing Gets: the streak starts again.
    assert!(d.compared(of(Verdict::InStep), false, t(20)).is_empty());
    assert!(d.compared(of(differs()), false, t(30)).is_empty());
    assert_eq!(d.problem(), None);
    assert_eq!(names(&d.compared(of(differs()), false, t(40))), ["DefinitionDiffers"]);
}

#[test]
fn sync_true_sends_instead_and_mails_only_if_it_still_differs() {
    let mut d = Definitions::default();
    assert!(d.compared(of(differs()), true, t(0)).is_empty());
    assert_eq!(names(&d.compared(of(differs()), true, t(10))), ["send HQ"]);
    d.accepted("HQ", "200 updated".into());
    assert_eq!(d.sent("HQ"), Some((t(10), Some("200 updated"))));
    assert!(
        d.compared(of(differs()), true, t(20)).is_empty(),
        "sent once per streak"
    );
    let steps = d.compared(of(differs()), true, t(30));
    assert_eq!(names(&steps), ["DefinitionDiffers"], "still different two Gets after");
    let Step::Event(e) = &steps[0] else { unreachable!() };
    assert!(e.reason.contains("after sync = true sent"), "{}", e.reason);
    assert_eq!(
        names(&d.compared(of(Verdict::InStep), true, t(40))),
        ["DefinitionInStep"]
    );
    // Put right by the send: no mail at all.
    assert!(d.compared(of(Verdict::Missing), true, t(50)).is_empty());
    assert_eq!(names(&d.compared(of(Verdict::Missing), true, t(60))), ["send HQ"]);
    assert!(d.compared(of(Verdict::InStep), true, t(70)).is_empty());
    assert_eq!(d.sent("HQ"), None);
}

#[test]
fn a_name_differing_in_case_is_never_sent() {
    let mut d = Definitions::default();
    let case = Verdict::Differs(vec![Field {
        name: "name",
        file: "HQ".into(),
        firewall: "hq".into(),
    }]);
    assert!(d.compared(of(case.clone()), true, t(0)).is_empty());
    let steps = d.compared(of(case), true, t(10));
    assert_eq!(names(&steps), ["DefinitionDiffers"]);
    let Step::Event(e) = &steps[0] else { unreachable!() };
    assert!(e.reason.contains("rename the group"), "{}", e.reason);
}

#[test]
fn a_reload_starts_every_streak_again_and_forgets_groups_gone() {
    let mut d = Definitions::default();
    assert!(d.compared(of(differs()), false, t(0)).is_empty());
    d.reloaded(&["HQ"], true);
    assert!(
        d.compared(of(differs()), false, t(10)).is_empty(),
        "the streak began again"
    );
    d.reloaded(&["Other"], true);
    assert_eq!(d.verdict("HQ"), None);
}
