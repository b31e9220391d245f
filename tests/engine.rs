//! The engine fed observation sequences: streams shared between readers,
//! events in cause-then-effect order, gaps discarding runs, and restarts
//! reporting what changed while failoverd was stopped.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{BASE_GROUP, BASE_SETTINGS, Case};
use failoverd::engine::{Engine, Output};
use failoverd::health::group::Persisted;
use failoverd::health::outcome::Outcome;
use failoverd::health::target::State;
use failoverd::probe::Protocol;
use failoverd::probe::schedule::{Observation, Report};
use tokio::time::Instant;

fn plan(settings: &str, group: &str) -> failoverd::config::Plan {
    let case = Case::new(settings, &[("g.xml", group)]);
    let loaded = failoverd::config::load(&case.settings_path()).unwrap();
    loaded.plan.expect("valid")
}

fn stream_of(e: &Engine, target: &str) -> usize {
    e.streams()
        .iter()
        .position(|k| k.target.to_string() == target && k.protocol == Protocol::Icmp)
        .unwrap()
}

struct Feed {
    engine: Engine,
    t: Instant,
    log: Vec<String>,
    /// Group state changes, silent ones included.
    states: Vec<String>,
}

impl Feed {
    fn new(engine: Engine) -> Self {
        Feed {
            engine,
            t: Instant::now(),
            log: Vec::new(),
            states: Vec::new(),
        }
    }

    fn send(&mut self, target: &str, outcome: Outcome, times: usize) {
        let stream = stream_of(&self.engine, target);
        for _ in 0..times {
            self.t += Duration::from_secs(1);
            let obs = Observation {
                stream,
                at: self.t,
                report: Report::Check {
                    outcome: outcome.clone(),
                    addr: None,
                },
            };
            for o in self.engine.observe(&obs) {
                match o {
                    Output::Event(e) => self.log.push(format!("{:?} {}", e.kind, e.text)),
                    Output::Gap { .. } => self.log.push("gap".into()),
                    Output::GroupState { group, state } => self.states.push(format!("{group} {state:?}")),
                }
            }
        }
    }

    fn gap(&mut self, target: &str) {
        let stream = stream_of(&self.engine, target);
        let obs = Observation {
            stream,
            at: self.t,
            report: Report::Gap {
                late_by: Duration::from_secs(60),
            },
        };
        for o in self.engine.observe(&obs) {
            match o {
                Output::Event(e) => self.log.push(format!("{:?}", e.kind)),
                Output::Gap { late_by, .. } => self.log.push(format!("gap {}s", late_by.as_secs())),
                Output::GroupState { group, state } => self.states.push(format!("{group} {state:?}")),
            }
        }
    }

    fn take(&mut self) -> Vec<String> {
        std::mem::take(&mut self.log)
    }
}

fn good() -> Outcome {
    Outcome::Good {
        rtt: Duration::from_millis(2),
    }
}

fn lost() -> Outcome {
    Outcome::Failed {
        reason: "no reply within 1s".into(),
    }
}

#[test]
fn a_whole_failover_cycle_yields_events_in_order() {
    let mut f = Feed::new(Engine::new(&plan(BASE_SETTINGS, BASE_GROUP), &BTreeMap::new()));
    f.send("192.0.2.1", good(), 3);
    f.send("192.0.2.2", good(), 3);
    assert_eq!(f.take(), Vec::<String>::new(), "leaving unknown is not an event");
    assert_eq!(f.states, ["0 Up"], "but the push side is told");
    assert_eq!(f.engine.group_state("G"), Some((State::Up, Some("A".into()))));

    f.send("192.0.2.1", lost(), 3);
    assert_eq!(
        f.take(),
        [
            "MemberDown member 'A' down: condition 'PING' fails: 1 of 1 targets down, quorum 1 [target '192.0.2.1': 3 failed checks in a row: no reply within 1s]",
            "Failover failover 'A' -> 'B': member 'A' down: condition 'PING' fails: 1 of 1 targets down, quorum 1 [target '192.0.2.1': 3 failed checks in a row: no reply within 1s]; next member up is 'B'",
        ]
    );
    f.send("192.0.2.2", lost(), 3);
    let log = f.take();
    assert_eq!(log.len(), 2, "{log:#?}");
    assert!(log[0].starts_with("MemberDown member 'B' down"), "{log:#?}");
    assert!(
        log[1].starts_with("GroupDown group down: all 2 members down"),
        "{log:#?}"
    );
    assert_eq!(f.engine.group_state("G"), Some((State::Down, Some("B".into()))));

    f.send("192.0.2.1", good(), 3);
    let kinds: Vec<String> = f
        .take()
        .iter()
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect();
    assert_eq!(kinds, ["MemberUp", "Failback", "GroupUp"]);
    assert_eq!(f.states, ["0 Up", "0 Down", "0 Up"]);
    assert_eq!(f.engine.group_state("G"), Some((State::Up, Some("A".into()))));
}

#[test]
fn identical_checks_share_one_stream_and_anchors_are_streams() {
    let same = BASE_SETTINGS.replace("[\"192.0.2.2\"]", "[\"192.0.2.1\"]");
    let e = Engine::new(&plan(&same, BASE_GROUP), &BTreeMap::new());
    let keys = e.streams();
    // One ICMP stream read by both members, and the API host's TCP anchor.
    assert_eq!(keys.len(), 2, "{keys:#?}");
    assert_eq!(e.readers(stream_of(&e, "192.0.2.1")), 2);
    assert_eq!(e.anchors().len(), 1);
    assert_eq!(e.anchors()[0].key.protocol, Protocol::Tcp(4444));
    assert_eq!(e.anchors()[0].key.target.to_string(), "192.0.2.254");
    // A different interval is a different stream.
    let paced = same.replacen("via = \"underlay\"\n", "via = \"underlay\"\ninterval = \"2s\"\n", 1);
    let e = Engine::new(&plan(&paced, BASE_GROUP), &BTreeMap::new());
    assert_eq!(e.streams().len(), 3);
    // In dry run the API host is no anchor; [guard] anchors are ICMP streams.
    let dry = format!("{BASE_SETTINGS}dry_run = true\n[guard]\nanchors = [\"192.0.2.9\"]\n");
    let e = Engine::new(&plan(&dry, BASE_GROUP), &BTreeMap::new());
    let anchors: Vec<String> = e
        .anchors()
        .iter()
        .map(|a| format!("{} {}", a.key.protocol, a.key.target))
        .collect();
    assert_eq!(anchors, ["PING 192.0.2.9"]);
}

#[test]
fn a_gap_discards_the_run_that_straddles_it() {
    let mut f = Feed::new(Engine::new(&plan(BASE_SETTINGS, BASE_GROUP), &BTreeMap::new()));
    f.send("192.0.2.1", good(), 3);
    f.send("192.0.2.2", good(), 3);
    f.send("192.0.2.1", lost(), 2);
    f.gap("192.0.2.1");
    assert_eq!(f.take(), ["gap 60s"]);
    f.send("192.0.2.1", lost(), 2);
    assert_eq!(f.take(), Vec::<String>::new(), "2 + 2 across a gap is not 3 in a row");
    f.send("192.0.2.1", lost(), 1);
    assert_eq!(f.take().len(), 2, "member down and failover");
}

#[test]
fn errors_count_neither_way() {
    let mut f = Feed::new(Engine::new(&plan(BASE_SETTINGS, BASE_GROUP), &BTreeMap::new()));
    f.send("192.0.2.1", good(), 3);
    f.send("192.0.2.2", good(), 3);
    let local = Outcome::Error {
        reason: "no local route to 192.0.2.1".into(),
    };
    f.send("192.0.2.1", local.clone(), 50);
    assert_eq!(f.take(), Vec::<String>::new());
    assert_eq!(f.engine.group_state("G"), Some((State::Up, Some("A".into()))));
}

#[test]
fn a_restart_reports_what_changed_while_stopped() {
    let mut before = BTreeMap::new();
    before.insert(
        "G".to_string(),
        Persisted {
            group: State::Up,
            members: vec![State::Up, State::Up],
            expected_active: Some(0),
        },
    );
    let mut f = Feed::new(Engine::new(&plan(BASE_SETTINGS, BASE_GROUP), &before));
    f.send("192.0.2.2", good(), 3);
    assert_eq!(f.take(), Vec::<String>::new(), "B up as before: silent");
    f.send("192.0.2.1", lost(), 3);
    let log = f.take();
    assert!(
        log[0].starts_with("MemberDown member 'A' down (changed while failoverd was stopped)"),
        "{log:#?}"
    );
    assert!(log[1].starts_with("Failover failover 'A' -> 'B'"), "{log:#?}");
    let saved = f.engine.persisted();
    assert_eq!(
        saved["G"],
        Persisted {
            group: State::Up,
            members: vec![State::Down, State::Up],
            expected_active: Some(1)
        }
    );
}

#[test]
fn a_reload_keeps_the_health_of_unchanged_streams() {
    let mut f = Feed::new(Engine::new(&plan(BASE_SETTINGS, BASE_GROUP), &BTreeMap::new()));
    f.send("192.0.2.1", good(), 3);
    f.send("192.0.2.2", good(), 3);
    assert_eq!(f.engine.group_state("G"), Some((State::Up, Some("A".into()))));
    // B's rise changes; its stream does not.
    let changed = BASE_SETTINGS.replacen(
        "via = \"underlay\"\n\n[firewall]",
        "via = \"underlay\"\nrise = 5\n\n[firewall]",
        1,
    );
    assert_ne!(changed, BASE_SETTINGS);
    let mut next = Engine::new(&plan(&changed, BASE_GROUP), &f.engine.persisted());
    next.adopt(&f.engine);
    assert_eq!(
        next.group_state("G"),
        Some((State::Up, Some("A".into()))),
        "group state kept"
    );
    let states: Vec<State> = next.members("G").iter().map(|m| m.state).collect();
    assert_eq!(states, [State::Up, State::Up], "members kept");
    // A changed target starts afresh.
    let moved = BASE_SETTINGS.replace("[\"192.0.2.2\"]", "[\"192.0.2.3\"]");
    let mut other = Engine::new(&plan(&moved, BASE_GROUP), &f.engine.persisted());
    other.adopt(&f.engine);
    let b = &other.members("G")[1];
    assert_eq!(b.targets[0].state, State::Unknown);
}

#[test]
fn the_tally_follows_every_group_state_change() {
    use failoverd::engine::Tally;
    let tally = |up, down, unknown| Tally { up, down, unknown };
    let mut f = Feed::new(Engine::new(&plan(BASE_SETTINGS, BASE_GROUP), &BTreeMap::new()));
    assert_eq!(f.engine.tally(), tally(0, 0, 1));
    f.send("192.0.2.1", good(), 3);
    assert_eq!(f.engine.tally(), tally(1, 0, 0));
    f.send("192.0.2.1", lost(), 3);
    f.send("192.0.2.2", lost(), 3);
    assert_eq!(f.engine.tally(), tally(0, 1, 0));
    f.send("192.0.2.2", good(), 3);
    assert_eq!(f.engine.tally(), tally(1, 0, 0));
    assert_eq!(f.engine.tally().total(), 1);
}
