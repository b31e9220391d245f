//! The whole daemon in-process (`failoverd::daemon::serve`) on tokio's
//! paused clock: the stream checker and the push sender are injected, so
//! time is exact and a scenario of minutes runs in milliseconds. What is
//! asserted is what the daemon does (the pushes it sends and when, the
//! checks it makes and when, the state it saves), not its log text.

mod common;

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{BASE_GROUP, BASE_SETTINGS, Case};
use failoverd::daemon::notify::Notifier;
use failoverd::daemon::send::{Push, Sender};
use failoverd::daemon::{Deps, serve};
use failoverd::firewall::api::Answer;
use failoverd::firewall::slot::Class;
use failoverd::health::outcome::Outcome;
use failoverd::probe::{Check, StreamKey};
use failoverd::state::{Belief, StateDir};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// Answers each check from a table of targets that fail; records when each
/// target was checked.
#[derive(Default)]
struct Checker {
    failing: Mutex<Vec<String>>,
    checked: Mutex<HashMap<String, Vec<Instant>>>,
}

impl Check for Checker {
    type State = ();
    fn state(&self, _: &StreamKey) {}
    fn check<'a>(&'a self, key: &'a StreamKey, _: IpAddr, _: &'a mut ()) -> impl Future<Output = Outcome> + Send + 'a {
        let target = key.target.to_string();
        self.checked
            .lock()
            .unwrap()
            .entry(target.clone())
            .or_default()
            .push(Instant::now());
        let fails = self.failing.lock().unwrap().contains(&target);
        async move {
            if fails {
                Outcome::Failed {
                    reason: "no reply within 1s".into(),
                }
            } else {
                Outcome::Good {
                    rtt: Duration::from_millis(2),
                }
            }
        }
    }
}

/// Accepts every push at once and records it with the time.
#[derive(Default)]
struct Firewall {
    pushes: Mutex<Vec<(String, Instant)>>,
}

struct Recorder(Arc<Firewall>);

impl Sender for Recorder {
    fn send(&self, push: Push) -> Pin<Box<dyn Future<Output = Answer> + Send + '_>> {
        self.0.pushes.lock().unwrap().push((push.to_string(), Instant::now()));
        Box::pin(async {
            Answer {
                class: Class::Accepted,
                text: "200 Configuration applied successfully.".into(),
            }
        })
    }
    fn dry(&self) -> bool {
        false
    }
}

struct Daemon {
    checker: Arc<Checker>,
    firewall: Arc<Firewall>,
    reload: mpsc::Sender<()>,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<i32>,
    case: Case,
}

fn start() -> Daemon {
    let case = Case::new("", &[("g.xml", BASE_GROUP)]);
    let settings = format!("state_dir = \"{}\"\n{BASE_SETTINGS}", case.path("state").display());
    std::fs::write(case.settings_path(), settings).unwrap();
    let plan = failoverd::config::load(&case.settings_path())
        .unwrap()
        .plan
        .expect("valid");
    let checker = Arc::new(Checker::default());
    let firewall = Arc::new(Firewall::default());
    let (reload, reloads) = mpsc::channel(1);
    let (stop, stopped) = oneshot::channel();
    let fw = firewall.clone();
    let deps = Deps {
        dir: StateDir::new(&case.path("state")),
        checker: checker.clone(),
        senders: Box::new(move |_| Ok(Arc::new(Recorder(fw.clone())) as Arc<dyn Sender>)),
        notifier: Notifier::at(None),
        reloads,
        config: case.settings_path(),
        dry_flag: false,
    };
    std::fs::create_dir_all(case.path("state")).unwrap();
    let done = tokio::spawn(serve(plan, deps, async {
        let _ = stopped.await;
    }));
    Daemon {
        checker,
        firewall,
        reload,
        stop: Some(stop),
        done,
        case,
    }
}

impl Daemon {
    fn pushes(&self) -> Vec<String> {
        self.firewall
            .pushes
            .lock()
            .unwrap()
            .iter()
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// Waits (in paused time) until `n` pushes went out, for at most `limit`.
    async fn until_pushes(&self, n: usize, limit: Duration) -> Vec<(String, Instant)> {
        let deadline = Instant::now() + limit;
        while self.firewall.pushes.lock().unwrap().len() < n && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.firewall.pushes.lock().unwrap().clone()
    }

    fn fail(&self, targets: &[&str]) {
        *self.checker.failing.lock().unwrap() = targets.iter().map(|t| t.to_string()).collect();
    }

    async fn stop(mut self) -> (i32, Case) {
        self.stop.take().unwrap().send(()).unwrap();
        (self.done.await.unwrap(), self.case)
    }
}

#[tokio::test(start_paused = true)]
async fn an_underlay_group_failing_is_deactivated_within_fall_checks_and_saved() {
    let d = start();
    let p = d.until_pushes(1, Duration::from_secs(10)).await;
    assert_eq!(d.pushes(), ["Active G"], "up after rise checks: Active");
    let failing_at = Instant::now();
    d.fail(&["192.0.2.1", "192.0.2.2"]);
    let p2 = d.until_pushes(2, Duration::from_secs(30)).await;
    assert_eq!(d.pushes(), ["Active G", "DeActive G"]);
    let took = p2[1].1 - failing_at;
    // fall 3 at a 1 s interval, then the anchor's next good check.
    assert!(took <= Duration::from_secs(5), "DeActive after {took:?}");
    assert!(p[0].1 <= p2[1].1);
    let (code, case) = d.stop().await;
    assert_eq!(code, 0);
    let (state, _) = StateDir::new(&case.path("state")).load();
    let fw = state
        .firewalls
        .values()
        .next()
        .unwrap_or_else(|| panic!("no firewall in {:?}", state.firewalls.keys()));
    assert_eq!(state.firewalls.len(), 1, "{:?}", state.firewalls.keys());
    assert_eq!(
        fw.beliefs["G"],
        Belief::DeActive,
        "the answer's belief is saved at the stop"
    );
}

#[tokio::test(start_paused = true)]
async fn a_reload_of_the_same_settings_keeps_every_check_on_its_beat() {
    let d = start();
    d.until_pushes(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    d.reload.send(()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    d.reload.send(()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let checked = d.checker.checked.lock().unwrap().clone();
    for target in ["192.0.2.1", "192.0.2.2"] {
        let times = &checked[target];
        assert!(times.len() >= 12, "{target}: {} checks", times.len());
        let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(
            gaps.iter().all(|g| *g == Duration::from_secs(1)),
            "{target}: every check one interval after the last, reloads or not: {gaps:?}"
        );
    }
    assert_eq!(d.pushes(), ["Active G"], "nothing pushed again by the reloads");
    let (code, _) = d.stop().await;
    assert_eq!(code, 0);
}
