//! The status page's points are saved every 5 minutes while the daemon
//! runs, not only at stop (contract 18): the whole daemon in-process
//! (`failoverd::daemon::serve`) on tokio's paused clock, a checker that
//! always answers, a firewall that accepts every push.

mod common;

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use common::{BASE_GROUP, BASE_SETTINGS, Case};
use failoverd::daemon::notify::Notifier;
use failoverd::daemon::send::{Push, Sender};
use failoverd::daemon::{Deps, serve};
use failoverd::firewall::api::Answer;
use failoverd::firewall::slot::Class;
use failoverd::health::outcome::Outcome;
use failoverd::probe::{Check, StreamKey};
use failoverd::state::StateDir;
use tokio::sync::{mpsc, oneshot};

struct Good;

impl Check for Good {
    type State = ();
    fn state(&self, _: &StreamKey) {}
    async fn check<'a>(&'a self, _: &'a StreamKey, _: IpAddr, _: &'a mut ()) -> Outcome {
        Outcome::Good {
            rtt: Duration::from_millis(2),
        }
    }
}

struct Accepting;

impl Sender for Accepting {
    fn send(&self, _: Push) -> Pin<Box<dyn Future<Output = Answer> + Send + '_>> {
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

/// Whether the saved history is there, waiting in real time (its fsync
/// and rename run on a blocking thread) for at most 5 s.
async fn saved(path: &std::path::Path) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        if std::fs::read(path).is_ok_and(|b| b.starts_with(b"FOVDPH\n\x01")) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
        tokio::task::yield_now().await;
    }
    false
}

#[tokio::test(start_paused = true)]
async fn the_points_are_saved_every_five_minutes_while_running() {
    let case = Case::new("", &[("g.xml", BASE_GROUP)]);
    let settings = format!(
        "state_dir = \"{}\"\n{BASE_SETTINGS}\n[http]\nlisten = \"127.0.0.1:0\"\n",
        case.path("state").display()
    );
    std::fs::write(case.settings_path(), settings).unwrap();
    let plan = failoverd::config::load(&case.settings_path())
        .unwrap()
        .plan
        .expect("valid");
    let (_reload, reloads) = mpsc::channel(1);
    let (stop, stopped) = oneshot::channel::<()>();
    std::fs::create_dir_all(case.path("state")).unwrap();
    let deps = Deps {
        dir: StateDir::new(&case.path("state")),
        checker: Arc::new(Good),
        senders: Box::new(|_| Ok(Arc::new(Accepting) as Arc<dyn Sender>)),
        notifier: Notifier::at(None),
        reloads,
        config: case.settings_path(),
        dry_flag: false,
    };
    let done = tokio::spawn(serve(plan, deps, async {
        let _ = stopped.await;
    }));
    let file = case.path("state").join("page-history.bin");
    tokio::time::sleep(Duration::from_secs(290)).await;
    assert!(!file.exists(), "not before 5 minutes");
    tokio::time::sleep(Duration::from_secs(15)).await;
    assert!(saved(&file).await, "saved once 5 minutes have passed, while running");
    stop.send(()).unwrap();
    assert_eq!(done.await.unwrap(), 0);
}
