//! Real network faults, made as root in network namespaces, turned by the
//! real probes, scheduler and engine into the right events in the right
//! order: a peer whose link goes down and comes back, and a deterministic
//! loss pattern that trips the consecutive-failure rule but not a loss rule
//! with a higher threshold.

mod common;
mod netutil;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::Case;
use failoverd::engine::{Engine, GroupEvent, Output};
use failoverd::health::target::State;
use failoverd::probe::Prober;
use failoverd::probe::icmp::IcmpClients;
use failoverd::probe::schedule::{Observation, Resolving, offset, spawn};
use netutil::{PeerNet, require_root};
use tokio::sync::mpsc;
use tokio::time::Instant;

const RESOLVING: Resolving = Resolving {
    every: Duration::from_secs(300),
    stale: Duration::from_secs(3600),
    timeout: Duration::from_secs(5),
};

/// The real pipeline: every stream of the plan probing, the engine fed.
struct Live {
    engine: Engine,
    rx: mpsc::Receiver<Observation>,
    events: Vec<(Instant, GroupEvent)>,
    t0: Instant,
    _case: Case,
}

impl Live {
    fn start(settings: &str, groups: &str) -> Live {
        let case = Case::new(settings, &[("g.xml", groups)]);
        let loaded = failoverd::config::load(&case.settings_path()).unwrap();
        let errors: Vec<String> = loaded.diagnostics.errors().map(|d| d.to_string()).collect();
        let plan = loaded.plan.unwrap_or_else(|| panic!("{errors:#?}"));
        let engine = Engine::new(&plan, &BTreeMap::new());
        let prober = Arc::new(Prober::new());
        let (tx, rx) = mpsc::channel(1024);
        let keys: Vec<_> = engine.streams().into_iter().cloned().collect();
        let now = Instant::now();
        for (i, k) in keys.iter().enumerate() {
            let start = now + offset(i, keys.len(), k.interval);
            spawn(i, k.clone(), start, prober.clone(), RESOLVING, tx.clone());
        }
        Live {
            engine,
            rx,
            events: Vec::new(),
            t0: now,
            _case: case,
        }
    }

    /// Feeds observations until `done` holds or `limit` passes; returns
    /// whether `done` held.
    async fn until(&mut self, limit: Duration, done: impl Fn(&Engine, &[(Instant, GroupEvent)]) -> bool) -> bool {
        let deadline = Instant::now() + limit;
        while !done(&self.engine, &self.events) {
            let Ok(Some(obs)) = tokio::time::timeout_at(deadline, self.rx.recv()).await else {
                return false;
            };
            for o in self.engine.observe(&obs) {
                if let Output::Event(e) = o {
                    self.events.push((obs.at, e));
                }
            }
        }
        true
    }

    fn kinds_since(&self, t: Instant) -> Vec<String> {
        self.events
            .iter()
            .filter(|(at, _)| *at >= t)
            .map(|(_, e)| {
                format!(
                    "{} {:?} {}",
                    e.group,
                    e.kind,
                    e.member.clone().or(e.to.clone()).unwrap_or_default()
                )
            })
            .collect()
    }
}

fn settings(a: &str, b: &str, extra_a: &str, extra_b: &str) -> String {
    format!(
        r#"groups = ["g*.xml"]
[probe]
interval = "200ms"
timeout = "200ms"
fall = 3
rise = 2

[connections.A]
targets = ["{a}"]
via = "underlay"
{extra_a}
[connections.B]
targets = ["{b}"]
via = "underlay"
{extra_b}
[firewall]
url = "https://127.0.0.1:4444"
username = "api"
password_file = "pw"
dry_run = true
"#
    )
}

const ONE_GROUP: &str = "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection><Connection>B</Connection></MemberConnections><MailNotification>Enable</MailNotification></GroupDetail></VPNFailoverGroup>";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_going_down_and_back_give_ordered_events_within_the_bound() {
    if !require_root("peers_going_down_and_back_give_ordered_events_within_the_bound") {
        return;
    }
    let (n1, n2) = (PeerNet::new(), PeerNet::new());
    let clients = IcmpClients::new();
    n1.wait_ready(&clients).await;
    n2.wait_ready(&clients).await;
    let mut live = Live::start(
        &settings(&n1.peer_v4.to_string(), &n2.peer_v6.to_string(), "", ""),
        ONE_GROUP,
    );
    let up = |e: &Engine, _: &[(Instant, GroupEvent)]| e.group_state("G") == Some((State::Up, Some("A".into())));
    assert!(live.until(Duration::from_secs(10), up).await, "the group never came up");
    assert!(
        live.events.is_empty(),
        "coming up from unknown is silent: {:?}",
        live.kinds_since(live.t0)
    );

    // The primary's peer dies: detected within fall x interval + timeout.
    let bound = Duration::from_millis(3 * 200 + 200);
    let margin = Duration::from_millis(800);
    let t1 = Instant::now();
    n1.peer_link_down();
    let failed_over = |_: &Engine, ev: &[(Instant, GroupEvent)]| ev.len() >= 2;
    assert!(
        live.until(Duration::from_secs(10), failed_over).await,
        "{:?}",
        live.kinds_since(t1)
    );
    assert_eq!(live.kinds_since(t1), ["G MemberDown A", "G Failover B"]);
    let detected = live.events[0].0 - t1;
    assert!(
        detected <= bound + margin,
        "detected after {detected:?}, bound {bound:?} + {margin:?}"
    );
    assert!(
        live.events[0]
            .1
            .reason
            .contains("3 failed checks in a row: no reply within 200ms"),
        "{}",
        live.events[0].1.reason
    );

    // The backup's peer dies too: the group is down.
    let t2 = Instant::now();
    n2.peer_link_down();
    let down = |e: &Engine, _: &[(Instant, GroupEvent)]| e.group_state("G").map(|s| s.0) == Some(State::Down);
    assert!(live.until(Duration::from_secs(10), down).await);
    assert_eq!(live.kinds_since(t2), ["G MemberDown B", "G GroupDown "]);

    // The primary comes back: member up, failback, group up, in that order.
    let t3 = Instant::now();
    n1.ns.exec(&["ip", "link", "set", &n1.peer_if, "up"]);
    let back = |e: &Engine, _: &[(Instant, GroupEvent)]| e.group_state("G").map(|s| s.0) == Some(State::Up);
    assert!(live.until(Duration::from_secs(15), back).await);
    assert_eq!(live.kinds_since(t3), ["G MemberUp A", "G Failback A", "G GroupUp "]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_of_ten_lost_trips_the_run_rule_but_not_a_higher_loss_rule() {
    if !require_root("three_of_ten_lost_trips_the_run_rule_but_not_a_higher_loss_rule") {
        return;
    }
    let net = PeerNet::new();
    net.wait_ready(&IcmpClients::new()).await;
    // Echo requests 0, 1 and 2 of every 10 are dropped: 30 % loss, three
    // failures in a row once per ten checks.
    net.ns
        .filter_input(&["icmp type echo-request numgen inc mod 10 < 3 counter drop"]);
    let peer = net.peer_v4.to_string();
    // A judges by runs (fall 3); B (same target, same stream) by loss over
    // the last 10 checks, down at 40 %, with runs of 5 needed to fail.
    let loss_rule = "fall = 5\nwindow = 10\nloss_down = \"40%\"\nloss_up = \"35%\"\n";
    let groups = "<VPNFailoverGroups><VPNFailoverGroup><GroupDetail><Name>Runs</Name><MemberConnections><Connection>A</Connection></MemberConnections></GroupDetail></VPNFailoverGroup><VPNFailoverGroup><GroupDetail><Name>Loss</Name><MemberConnections><Connection>B</Connection></MemberConnections></GroupDetail></VPNFailoverGroup></VPNFailoverGroups>";
    let mut live = Live::start(&settings(&peer, &peer, "", loss_rule), groups);
    assert_eq!(live.engine.streams().len(), 1, "both readers share one stream");
    // 60 checks = six loss cycles.
    let enough = |_: &Engine, ev: &[(Instant, GroupEvent)]| ev.iter().filter(|(_, e)| e.group == "Runs").count() >= 6;
    assert!(
        live.until(Duration::from_secs(20), enough).await,
        "{:?}",
        live.kinds_since(live.t0)
    );
    let runs: Vec<String> = live
        .kinds_since(live.t0)
        .into_iter()
        .filter(|k| k.starts_with("Runs"))
        .collect();
    assert!(runs.iter().any(|k| k == "Runs GroupDown "), "{runs:?}");
    assert!(runs.iter().any(|k| k == "Runs GroupUp "), "{runs:?}");
    assert!(
        live.events.iter().all(|(_, e)| e.group != "Loss"),
        "the loss rule must not flap: {:?}",
        live.kinds_since(live.t0)
    );
    assert_eq!(live.engine.group_state("Loss").map(|s| s.0), Some(State::Up));
}
