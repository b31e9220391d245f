//! The plugin's judgement, line and perfdata, from made-up statuses.

use super::*;
use crate::view::{Check, FirewallGroup, Hold, Member, Snmp, Target};

fn member(name: &str, state: &str, rtt: Option<&str>) -> Member {
    Member {
        name: name.into(),
        state: state.into(),
        targets: vec![Target {
            condition: "PING".into(),
            target: "192.0.2.1".into(),
            state: state.into(),
            reason: String::new(),
            last: Some(Check {
                result: if rtt.is_some() { "good" } else { "failed" }.into(),
                rtt: rtt.map(str::to_string),
                reason: None,
                at: 1,
            }),
        }],
        ..Member::default()
    }
}

fn group(name: &str, state: &str, members: Vec<Member>) -> Group {
    Group {
        name: name.into(),
        state: state.into(),
        expected_active: members.first().map(|m| m.name.clone()),
        members,
        ..Group::default()
    }
}

fn status(groups: Vec<Group>) -> Status {
    Status {
        groups,
        api: crate::view::Api {
            state: "usable".into(),
            ..Default::default()
        },
        ..Status::default()
    }
}

fn judged(s: &Status, only: &[&str]) -> Verdict {
    let only: Vec<String> = only.iter().map(|g| g.to_string()).collect();
    judge(s, &only)
}

fn up_group(name: &str) -> Group {
    group(
        name,
        "up",
        vec![member("A", "up", Some("2.5ms")), member("B", "up", Some("850µs"))],
    )
}

#[test]
fn all_up_is_ok_with_perfdata_per_group_and_member() {
    let v = judged(&status(vec![up_group("HQ")]), &[]);
    assert_eq!(v.level, Level::Ok);
    assert_eq!(
        v.line,
        "FAILOVERD OK - 1 group up: HQ | 'HQ'=1;;;0;1 'HQ/A'=1;;;0;1 'HQ/B'=1;;;0;1 'HQ_rtt'=0.002500s;;;0\n"
    );
}

#[test]
fn a_member_down_is_warning_and_names_it() {
    let g = group(
        "HQ",
        "up",
        vec![member("A", "up", Some("12ms")), member("B", "down", None)],
    );
    let v = judged(&status(vec![g, up_group("BR")]), &[]);
    assert_eq!(v.level, Level::Warning);
    assert!(
        v.line.starts_with("FAILOVERD WARNING - HQ: member B down | "),
        "{}",
        v.line
    );
    assert!(v.line.contains("'HQ/B'=0;;;0;1"), "{}", v.line);
    assert!(v.line.contains("'HQ_rtt'=0.012000s;;;0"), "{}", v.line);
}

#[test]
fn a_group_down_is_critical_and_comes_first() {
    let down = group("BR", "down", vec![member("A", "down", None), member("B", "down", None)]);
    let mut held = up_group("HQ");
    held.hold = Some(Hold {
        until: 9,
        reason: "maintenance".into(),
    });
    let v = judged(&status(vec![held, down]), &[]);
    assert_eq!(v.level, Level::Critical);
    assert!(
        v.line
            .starts_with("FAILOVERD CRITICAL - BR down; HQ held (maintenance) | "),
        "{}",
        v.line
    );
    // No RTT when the carrying member has no good check.
    assert!(!v.line.contains("BR_rtt"), "{}", v.line);
}

#[test]
fn each_warning_cause_is_a_warning() {
    type Change = Box<dyn Fn(&mut Status)>;
    let cases: Vec<(&str, Change)> = vec![
        ("refused", Box::new(|s| s.groups[0].refused = true)),
        (
            "disagrees",
            Box::new(|s| {
                s.groups[0].firewall = Some(FirewallGroup {
                    carrying: "B".into(),
                    disagrees: true,
                    not_honoured: None,
                })
            }),
        ),
        ("API", Box::new(|s| s.api.state = "unusable".into())),
        ("refuses us", Box::new(|s| s.api_paused = Some("login refused".into()))),
        (
            "SNMP",
            Box::new(|s| {
                s.snmp = Some(Snmp {
                    usable: false,
                    last_read: None,
                    error: Some("timeout".into()),
                })
            }),
        ),
        ("guard", Box::new(|s| s.guard_tripped = true)),
        ("problem x", Box::new(|s| s.problems.push("problem x".into()))),
        ("not judged", Box::new(|s| s.groups[0].state = "unknown".into())),
    ];
    for (want, change) in cases {
        let mut s = status(vec![up_group("HQ")]);
        change(&mut s);
        let v = judged(&s, &[]);
        assert_eq!(v.level, Level::Warning, "{want}: {}", v.line);
        assert!(v.line.contains(want), "{want}: {}", v.line);
    }
}

#[test]
fn a_definition_that_is_not_in_step_is_a_warning_naming_the_fix() {
    for (definition, want) in [
        (
            "differs: failback: file on, firewall off",
            "HQ: its definition differs (failoverd sync --group HQ)",
        ),
        (
            "missing on the firewall",
            "HQ: its definition missing on the firewall (failoverd sync --group HQ)",
        ),
    ] {
        let mut s = status(vec![up_group("HQ")]);
        s.groups[0].definition = Some(definition.into());
        let v = judged(&s, &[]);
        assert_eq!(v.level, Level::Warning, "{definition}: {}", v.line);
        assert!(v.line.contains(want), "{}", v.line);
    }
    let mut s = status(vec![up_group("HQ")]);
    s.groups[0].definition = Some("in step".into());
    assert_eq!(judged(&s, &[]).level, Level::Ok);
}

#[test]
fn group_restricts_and_an_unknown_group_is_unknown_with_a_hint() {
    let down = group("BR", "down", vec![member("A", "down", None)]);
    let s = status(vec![up_group("HQ_VPN"), down]);
    let v = judged(&s, &["HQ_VPN"]);
    assert_eq!(v.level, Level::Ok, "{}", v.line);
    assert!(!v.line.contains("BR"), "{}", v.line);
    let v = judged(&s, &["HQ_VNP"]);
    assert_eq!(v.level, Level::Unknown);
    assert!(v.line.contains("did you mean HQ_VPN?"), "{}", v.line);
    assert!(!v.line.contains('|'), "no perfdata on UNKNOWN: {}", v.line);
}

#[test]
fn labels_are_quoted_and_text_stays_one_line() {
    assert_eq!(label("HQ VPN"), "'HQ VPN'");
    assert_eq!(label("it's=x"), "'it_s_x'");
    let mut s = status(vec![up_group("HQ")]);
    s.problems.push("a | b\nc".into());
    let v = judged(&s, &[]);
    assert_eq!(v.line.matches('|').count(), 1, "{}", v.line);
    assert_eq!(v.line.matches('\n').count(), 1, "{}", v.line);
}

#[test]
fn rtts_in_the_daemons_forms() {
    let near = |s: &str, want: f64| (rtt_secs(s).unwrap() - want).abs() < 1e-12;
    assert!(near("1s", 1.0));
    assert!(near("612ms", 0.612));
    assert!(near("850µs", 0.00085));
    assert!(near("2.5ms", 0.0025));
    assert_eq!(rtt_secs("fast"), None);
    assert_eq!(rtt_secs("-1ms"), None);
}

#[test]
fn only_status_check_usage_errors_become_unknown() {
    use clap::Parser;
    let run = |line: &str| {
        let args: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        let e = crate::cli::Cli::try_parse_from(&args).unwrap_err();
        usage_error(&args, &e).map(|v| v.level)
    };
    assert_eq!(run("failoverd -c x status --check --bogus"), Some(Level::Unknown));
    assert_eq!(run("failoverd status --check --json"), Some(Level::Unknown));
    // A group named "status" in another command keeps clap's exit 2.
    assert_eq!(run("failoverd hold status --check"), None);
    assert_eq!(run("failoverd status --json --bogus"), None);
    assert_eq!(run("failoverd status --check --help"), None);
}
