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

    /// Like `send`, to stream `stream`.
    fn send_on(&mut self, stream: usize, outcome: Outcome, times: usize) {
        for _ in 0..times {
            self.t += Duration::from_secs(1);
            let report = Report::Check {
                outcome: outcome.clone(),
                addr: None,
            };
            let obs = Observation {
                stream,
                at: self.t,
                report,
            };
            for o in self.engine.observe(&obs) {
                if let Output::Event(e) = o {
                    self.log.push(format!("{:?} {}", e.kind, e.text));
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

/// A stream a reload keeps keeps its one key: the new engine takes the
/// old engine's copy, which the stream's running probe task holds
/// (`Streams::apply` clones it), and frees its own. A changed stream's key
/// is new. Issue #30: a second copy per kept stream after every reload.
#[test]
fn a_reload_that_keeps_a_stream_keeps_its_one_key() {
    let old = Engine::new(&plan(BASE_SETTINGS, BASE_GROUP), &BTreeMap::new());
    let moved = BASE_SETTINGS.replace("[\"192.0.2.2\"]", "[\"192.0.2.3\"]");
    let mut next = Engine::new(&plan(&moved, BASE_GROUP), &old.persisted());
    let fresh: Vec<_> = next.stream_keys().cloned().collect();
    next.adopt(&old);
    let (a_old, a_new) = (stream_of(&old, "192.0.2.1"), stream_of(&next, "192.0.2.1"));
    let olds: Vec<_> = old.stream_keys().collect();
    let news: Vec<_> = next.stream_keys().collect();
    assert!(
        std::sync::Arc::ptr_eq(olds[a_old], news[a_new]),
        "kept stream shares the old key"
    );
    assert!(
        !std::sync::Arc::ptr_eq(&fresh[a_new], news[a_new]),
        "the new engine's own copy is dropped"
    );
    let b_new = stream_of(&next, "192.0.2.3");
    assert!(
        olds.iter().all(|k| !std::sync::Arc::ptr_eq(k, news[b_new])),
        "a changed stream has a key of its own"
    );
    assert_eq!(news[b_new].target.to_string(), "192.0.2.3");
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

/// Two conditions over two targets (an address and a name), in a second
/// group: the engine keeps no text copy of member or target names (issue
/// #30), so status, /metrics and the member reasons take them from the
/// group machine and the streams' keys.
const TWO_BY_TWO: &str = "<VPNFailoverGroup><GroupDetail><Name>H</Name><MemberConnections><Connection>C</Connection>\
<Connection>D</Connection></MemberConnections><FailoverCondition><FailoverIF><Protocol>PING</Protocol></FailoverIF>\
<FailoverIF><Protocol>TCP</Protocol><Port>443</Port></FailoverIF></FailoverCondition></GroupDetail></VPNFailoverGroup>";

fn two_by_two() -> Engine {
    let settings = format!(
        "{BASE_SETTINGS}\n[connections.C]\ntargets = [\"192.0.2.5\"]\nvia = \"underlay\"\n\n\
         [connections.D]\ntargets = [\"192.0.2.6\", \"gw.example.net\"]\nvia = \"underlay\"\n"
    );
    let case = Case::new(&settings, &[("g.xml", BASE_GROUP), ("g2.xml", TWO_BY_TWO)]);
    let loaded = failoverd::config::load(&case.settings_path()).unwrap();
    let errors: Vec<String> = loaded.diagnostics.errors().map(|d| d.to_string()).collect();
    let plan = loaded.plan.unwrap_or_else(|| panic!("{errors:#?}"));
    Engine::new(&plan, &BTreeMap::new())
}

#[test]
fn status_and_metrics_name_every_member_condition_and_target_in_order() {
    let e = two_by_two();
    let view: Vec<(String, Vec<String>)> = e
        .members("H")
        .iter()
        .map(|m| {
            let targets = m
                .targets
                .iter()
                .map(|t| format!("{} {}", t.condition, t.target))
                .collect();
            (m.name.clone(), targets)
        })
        .collect();
    let d = [
        "PING 192.0.2.6",
        "PING gw.example.net",
        "TCP/443 192.0.2.6",
        "TCP/443 gw.example.net",
    ];
    let c = ["PING 192.0.2.5", "TCP/443 192.0.2.5"];
    assert_eq!(
        view,
        [
            ("C".to_string(), c.map(String::from).to_vec()),
            ("D".to_string(), d.map(String::from).to_vec())
        ]
    );
    let of_h: Vec<String> = e
        .target_states()
        .filter(|t| t.group == "H")
        .map(|t| format!("{} {} {}", t.member, t.condition, t.target))
        .collect();
    assert_eq!(of_h[..2], c.map(|t| format!("C {t}")));
    assert_eq!(of_h[2..], d.map(|t| format!("D {t}")));
    let members: Vec<String> = e.member_states().map(|(g, m, _)| format!("{g}/{m}")).collect();
    assert_eq!(members, ["G/A", "G/B", "H/C", "H/D"]);
    // Each target's stream, in the same order.
    let keys = e.streams();
    let streams: Vec<Vec<String>> = e
        .member_streams("H")
        .iter()
        .map(|ids| {
            ids.iter()
                .map(|id| format!("{} {}", keys[*id].protocol, keys[*id].target))
                .collect()
        })
        .collect();
    assert_eq!(streams, [c.to_vec(), d.to_vec()]);
    let shape = e.shape();
    assert_eq!((shape.groups, shape.members, shape.targets), (2, 4, 2 + 2 + 4));
    for (g, member) in [("G", "A"), ("H", "D")] {
        assert_eq!(e.group_state(g), Some((State::Unknown, None)), "{g} found by name");
        assert!(e.members(g).iter().any(|m| m.name == member));
    }
    assert_eq!(e.group_state("I"), None);
    assert_eq!(e.group_health("F"), None);
    assert!(e.members("GG").is_empty());
}

#[test]
fn a_member_reason_names_the_down_targets_of_its_failing_condition() {
    let mut f = Feed::new(two_by_two());
    let streams: Vec<(Protocol, String)> = f
        .engine
        .streams()
        .iter()
        .map(|k| (k.protocol, k.target.to_string()))
        .collect();
    // Every stream good: every member up.
    for i in 0..streams.len() {
        f.send_on(i, good(), 3);
    }
    f.take();
    assert_eq!(f.engine.group_state("H"), Some((State::Up, Some("C".into()))));
    let ping = |target: &str| {
        streams
            .iter()
            .position(|s| *s == (Protocol::Icmp, target.to_string()))
            .unwrap()
    };
    f.send_on(ping("gw.example.net"), lost(), 3);
    assert_eq!(
        f.take(),
        Vec::<String>::new(),
        "quorum 1: the other target holds the condition"
    );
    f.send_on(ping("192.0.2.6"), lost(), 3);
    let h = "MemberDown member 'D' down: condition 'PING' fails: 2 of 2 targets down, quorum 1 \
             [target '192.0.2.6': 3 failed checks in a row: no reply within 1s; \
             target 'gw.example.net': 3 failed checks in a row: no reply within 1s]";
    assert_eq!(f.take(), [h]);
}

#[test]
fn a_reload_applies_new_rules_and_follows_targets_by_name_not_place() {
    let settings = BASE_SETTINGS.replace("[\"192.0.2.1\"]", "[\"192.0.2.1\", \"192.0.2.3\"]");
    let mut f = Feed::new(Engine::new(&plan(&settings, BASE_GROUP), &BTreeMap::new()));
    f.send("192.0.2.1", good(), 3);
    f.send("192.0.2.3", lost(), 3);
    // The targets swap places and A's rise goes to 5.
    let swapped = settings.replace(
        "[\"192.0.2.1\", \"192.0.2.3\"]\nvia = \"underlay\"\n",
        "[\"192.0.2.3\", \"192.0.2.1\"]\nvia = \"underlay\"\nrise = 5\n",
    );
    assert_ne!(swapped, settings);
    let mut next = Engine::new(&plan(&swapped, BASE_GROUP), &f.engine.persisted());
    next.adopt(&f.engine);
    let states = |e: &Engine| -> Vec<String> {
        e.members("G")[0]
            .targets
            .iter()
            .map(|t| format!("{} {}", t.target, t.state))
            .collect()
    };
    assert_eq!(states(&next), ["192.0.2.3 down", "192.0.2.1 up"]);
    f.engine = next;
    f.send("192.0.2.3", good(), 4);
    assert_eq!(states(&f.engine)[0], "192.0.2.3 down", "4 good checks: rise 5 applies");
    f.send("192.0.2.3", good(), 1);
    assert_eq!(states(&f.engine)[0], "192.0.2.3 up");
}

#[test]
fn a_groups_saved_health_is_found_by_its_place_and_checked_by_its_name() {
    let mut f = Feed::new(Engine::new(&plan(BASE_SETTINGS, BASE_GROUP), &BTreeMap::new()));
    f.send("192.0.2.1", good(), 3);
    f.send("192.0.2.2", good(), 3);
    let whole = f.engine.persisted();
    // What a save writes of the group at place 0 is what the whole map holds.
    assert_eq!(f.engine.persisted_at(0, "G").as_ref(), whole.get("G"));
    assert_eq!(whole["G"].group, State::Up);
    // Another name at that place, or no group there: nothing, never another
    // group's health under this name.
    assert_eq!(f.engine.persisted_at(0, "H"), None);
    assert_eq!(f.engine.persisted_at(1, "G"), None);
}
