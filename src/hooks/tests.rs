//! The queues and the dispatch on tokio's paused clock, with a stand-in
//! for the program (the real runs are in run.rs's tests and tests/hooks.rs).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::run::Outcome;
use super::worker::Runner;
use super::*;
use crate::daemon::taps::Recorded;
use crate::mail::event::{Event, Kind};

fn hook(name: &str, events: Option<Vec<Kind>>) -> Hook {
    Hook {
        name: name.into(),
        command: vec!["/bin/true".into()],
        events,
        timeout: Duration::from_secs(10),
    }
}

fn recorded(kind: Kind, n: usize, active: bool) -> Recorded {
    Recorded {
        event: Event::new(kind, format!("e{n}"), SystemTime::UNIX_EPOCH),
        active,
    }
}

/// What the stand-in saw: (hook, event reason), in order of start; and
/// the most runs of one hook at once.
#[derive(Default)]
struct Seen {
    runs: Mutex<Vec<(String, String)>>,
    running: AtomicUsize,
    most: AtomicUsize,
}

/// A stand-in that takes `took` per run and fails events named in `fail`.
fn runner(seen: Arc<Seen>, took: Duration, fail: &'static [&'static str]) -> Runner {
    Arc::new(move |hook: Arc<Hook>, r: Arc<Recorded>| {
        let seen = seen.clone();
        Box::pin(async move {
            let now = seen.running.fetch_add(1, Ordering::SeqCst) + 1;
            seen.most.fetch_max(now, Ordering::SeqCst);
            seen.runs
                .lock()
                .unwrap()
                .push((hook.name.clone(), r.event.reason.clone()));
            tokio::time::sleep(took).await;
            seen.running.fetch_sub(1, Ordering::SeqCst);
            if fail.contains(&r.event.reason.as_str()) {
                Outcome::Failed("exit status 1".into())
            } else {
                Outcome::Ok
            }
        })
    })
}

async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..100_000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    panic!("{what}: not within the paused clock's bound");
}

#[tokio::test(start_paused = true)]
async fn events_run_in_order_one_at_a_time_and_never_wait_the_sender() {
    let seen = Arc::new(Seen::default());
    let mut taps = Taps::default();
    let rx = taps.subscribe(TAP, 64);
    let hooks = Hooks::start(
        rx,
        &[hook("slow", None)],
        runner(seen.clone(), Duration::from_secs(5), &["e2"]),
    );
    let sent = tokio::time::Instant::now();
    for n in 0..6 {
        taps.send(recorded(Kind::GroupDown, n, true));
    }
    assert_eq!(sent.elapsed(), Duration::ZERO, "sending waited");
    until("six runs", || hooks.counts().get("slow", "ok") == 5).await;
    let runs: Vec<String> = seen.runs.lock().unwrap().iter().map(|(_, r)| r.clone()).collect();
    assert_eq!(runs, ["e0", "e1", "e2", "e3", "e4", "e5"]);
    assert_eq!(seen.most.load(Ordering::SeqCst), 1);
    assert_eq!(hooks.counts().get("slow", "failed"), 1);
    assert!(
        sent.elapsed() >= Duration::from_secs(30),
        "one at a time: {:?}",
        sent.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn a_full_queue_drops_for_that_hook_only_and_counts() {
    let seen = Arc::new(Seen::default());
    let mut taps = Taps::default();
    let rx = taps.subscribe(TAP, 4096);
    let list = [hook("stuck", None), hook("quick", None)];
    let hooks = Hooks::start(rx, &list, runner(seen.clone(), Duration::from_secs(10), &[]));
    let n = QUEUE + 50;
    for i in 0..n {
        taps.send(recorded(Kind::MemberDown, i, true));
    }
    until("drops counted", || hooks.counts().get("stuck", "dropped") >= 49).await;
    let dropped = hooks.counts().get("stuck", "dropped");
    assert!((49..=50).contains(&dropped), "{dropped}");
    assert_eq!(
        hooks.counts().get("quick", "dropped"),
        dropped,
        "each hook has its own queue"
    );
    until("all accepted events ran", || {
        hooks.counts().get("stuck", "ok") + dropped == n as u64
    })
    .await;
    let page = hooks.metrics(0);
    assert!(
        page.contains(&format!(
            "failoverd_hook_runs_total{{hook=\"stuck\",result=\"dropped\"}} {dropped}"
        )),
        "{page}"
    );
}

#[tokio::test(start_paused = true)]
async fn standby_filters_and_reload() {
    let seen = Arc::new(Seen::default());
    let mut taps = Taps::default();
    let rx = taps.subscribe(TAP, 64);
    let list = [hook("down", Some(vec![Kind::GroupDown])), hook("all", None)];
    let hooks = Hooks::start(rx, &list, runner(seen.clone(), Duration::from_millis(10), &[]));
    taps.send(recorded(Kind::GroupDown, 0, false));
    taps.send(recorded(Kind::GroupUp, 1, true));
    taps.send(recorded(Kind::GroupDown, 2, true));
    until("three runs", || seen.runs.lock().unwrap().len() == 3).await;
    let mut runs = seen.runs.lock().unwrap().clone();
    runs.sort();
    let want = [("all", "e1"), ("all", "e2"), ("down", "e2")].map(|(a, b)| (a.to_string(), b.to_string()));
    assert_eq!(runs, want, "standby runs nothing; events filters");
    assert_eq!(hooks.counts().get("down", "dropped"), 0, "standby is not a drop");
    // A reload: "all" is gone, "new" comes.
    hooks.apply(&[hook("down", Some(vec![Kind::GroupDown])), hook("new", None)]);
    taps.send(recorded(Kind::GroupUp, 3, true));
    until("the new hook ran", || hooks.counts().get("new", "ok") == 1).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(hooks.counts().get("all", "ok"), 2);
    let page = hooks.metrics(7);
    assert!(page.contains("failoverd_hook_events_lost_total 7"), "{page}");
    assert!(
        page.contains("failoverd_hook_runs_total{hook=\"new\",result=\"ok\"} 1"),
        "{page}"
    );
}
