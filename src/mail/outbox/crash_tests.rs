//! The outbox killed without a stop (its task aborted, as `kill -9` would
//! end it), on tokio's paused clock: events waiting in a long coalescing
//! window are in the spool within a second, a storm writes them once a
//! second, and the next start mails them at once.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;

use super::*;
use crate::mail::event::{DaemonKind, Event, Kind};
use crate::mail::render::{LocalZone, Mail};
use crate::mail::smtp::SendError;

/// Accepts every mail; reports each one's event count and Message-ID.
struct Fake {
    seen: mpsc::UnboundedSender<(usize, String)>,
    _pad: Mutex<VecDeque<()>>,
}

impl Deliver for Fake {
    fn deliver(&self, mail: &Mail) -> impl Future<Output = Result<String, SendError>> + Send {
        let _ = self.seen.send((mail.events.len(), mail.message_id.clone()));
        std::future::ready(Ok("250 ok".to_owned()))
    }
}

fn fake() -> (Fake, mpsc::UnboundedReceiver<(usize, String)>) {
    let (seen, rx) = mpsc::unbounded_channel();
    (
        Fake {
            seen,
            _pad: Mutex::new(VecDeque::new()),
        },
        rx,
    )
}

fn ctx() -> Context {
    Context {
        host: "mon1".into(),
        zone: LocalZone::Fixed(0),
    }
}

fn limits(coalesce: u64, max_per_hour: u32) -> Limits {
    Limits {
        coalesce: Duration::from_secs(coalesce),
        max_per_hour,
        spool_max: 1000,
    }
}

fn ev(kind: Kind, group: &str, n: u64) -> Event {
    Event::new(kind, format!("r{n}"), SystemTime::UNIX_EPOCH + Duration::from_secs(n)).with_group(group)
}

/// `kill -9`: the task ends where it is, nothing is flushed.
async fn crash(ob: Outbox) {
    ob.task.abort();
    let _ = ob.task.await;
}

async fn until_writes(ob: &Outbox, n: u64) {
    let mut status = ob.status();
    tokio::time::timeout(Duration::from_secs(5), status.wait_for(|s| s.pending_writes >= n))
        .await
        .expect("pending events written within a second")
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn events_in_a_long_window_survive_a_crash_and_go_at_the_next_start() {
    let tmp = tempfile::tempdir().unwrap();
    let (d, mut seen) = fake();
    let (spool, _) = Spool::open(tmp.path()).unwrap();
    let ob = Outbox::with(d, spool, limits(30, 6), Retry::default(), ctx());
    let t0 = Instant::now();
    ob.mailer().send(ev(Kind::MemberDown, "HQ", 1));
    ob.mailer().send(ev(Kind::Failover, "HQ", 2));
    ob.mailer()
        .send(ev(Kind::Daemon(DaemonKind::DeactivateDecided), "BR", 3));
    until_writes(&ob, 2).await;
    assert!(
        Instant::now() - t0 <= Duration::from_secs(1),
        "all written within a second"
    );
    crash(ob).await;
    assert!(seen.try_recv().is_err(), "nothing was mailed before the crash");

    let (spool, _) = Spool::open(tmp.path()).unwrap();
    assert_eq!(spool.len(), 0, "still events, not mails");
    let (d, mut seen) = fake();
    let t1 = Instant::now();
    let ob = Outbox::with(d, spool, limits(30, 6), Retry::default(), ctx());
    let (events, _) = seen.recv().await.unwrap();
    assert_eq!(events, 3, "the three events in one mail");
    assert!(
        Instant::now() - t1 < Duration::from_secs(1),
        "at once, not after another window"
    );
    ob.shutdown().await;
    assert!(
        !tmp.path().join("pending.jsonl").exists(),
        "nothing pending after a clean stop"
    );
    assert_eq!(Spool::open(tmp.path()).unwrap().0.len(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_storm_writes_the_pending_events_once_a_second() {
    let tmp = tempfile::tempdir().unwrap();
    let (d, _seen) = fake();
    let (spool, _) = Spool::open(tmp.path()).unwrap();
    let ob = Outbox::with(d, spool, limits(30, 6), Retry::default(), ctx());
    // 200 events over 5 s: one every 25 ms. (A sleep, not `advance`: the
    // paused clock then waits for the spool writes on the blocking pool.)
    let t0 = Instant::now();
    for n in 0..200 {
        ob.mailer().send(ev(Kind::MemberDown, &format!("G{}", n % 7), n));
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(Instant::now() - t0, Duration::from_secs(6));
    let writes = ob.status().borrow().pending_writes;
    assert!((5..=7).contains(&writes), "{writes} writes in 6 s");
    crash(ob).await;
    let (mut spool, _) = Spool::open(tmp.path()).unwrap();
    assert_eq!(spool.take_unsent().batch.len(), 200, "every event kept");
}

#[tokio::test(start_paused = true)]
async fn held_back_events_survive_a_crash_as_a_digest() {
    let tmp = tempfile::tempdir().unwrap();
    let (d, mut seen) = fake();
    let (spool, _) = Spool::open(tmp.path()).unwrap();
    let ob = Outbox::with(d, spool, limits(0, 1), Retry::default(), ctx());
    ob.mailer().send(ev(Kind::MemberDown, "HQ", 1));
    seen.recv().await.unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    ob.mailer().send(ev(Kind::MemberUp, "HQ", 2));
    ob.mailer().send(ev(Kind::MemberDown, "HQ", 3));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    crash(ob).await;
    let (spool, _) = Spool::open(tmp.path()).unwrap();
    let (d, mut seen) = fake();
    let ob = Outbox::with(d, spool, limits(0, 1), Retry::default(), ctx());
    let (events, _) = seen.recv().await.unwrap();
    assert_eq!(events, 2, "the held-back events, at once");
    ob.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn beyond_the_unsent_limit_everything_is_spooled_as_mails() {
    let tmp = tempfile::tempdir().unwrap();
    let (d, _seen) = fake();
    let (spool, _) = Spool::open(tmp.path()).unwrap();
    let ob = Outbox::with(d, spool, limits(3600, 6), Retry::default(), ctx());
    let mut status = ob.status();
    for n in 0..=crate::mail::pace::UNSENT_MAX as u64 {
        ob.mailer().send(ev(Kind::MemberDown, "HQ", n));
    }
    tokio::time::timeout(Duration::from_secs(5), status.wait_for(|s| s.rendered == 1))
        .await
        .expect("spooled at once, not after the hour")
        .unwrap();
    ob.shutdown().await;
}
