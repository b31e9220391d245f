//! The outbox with a fake server, on tokio's paused clock: coalescing,
//! retry backoff, the hourly limit, shutdown into the spool and restart.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use tokio::time::{Instant, advance};

use super::*;
use crate::mail::event::{Event, Kind};
use crate::mail::render::Mail;
use crate::mail::render::{Class, LocalZone};
use crate::mail::smtp::{Reason, SendError};

/// One attempt as the fake saw it.
#[derive(Debug)]
struct Attempt {
    at: Instant,
    subject: String,
    message_id: String,
    events: usize,
}

/// Fails as often as planned, then accepts; reports every attempt.
struct Fake {
    failures: Mutex<VecDeque<bool>>,
    seen: mpsc::UnboundedSender<Attempt>,
}

impl Deliver for Fake {
    fn deliver(&self, mail: &Mail) -> impl Future<Output = Result<String, SendError>> + Send {
        let fail = self.failures.lock().unwrap().pop_front().unwrap_or(false);
        let _ = self.seen.send(Attempt {
            at: Instant::now(),
            subject: mail.subject.clone(),
            message_id: mail.message_id.clone(),
            events: mail.events.len(),
        });
        std::future::ready(if fail {
            Err(SendError::new(Reason::Unreachable, "down"))
        } else {
            Ok("250 ok".to_owned())
        })
    }
}

fn fake(failures: &[bool]) -> (Fake, mpsc::UnboundedReceiver<Attempt>) {
    let (seen, rx) = mpsc::unbounded_channel();
    let fake = Fake {
        failures: Mutex::new(failures.iter().copied().collect()),
        seen,
    };
    (fake, rx)
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

const EXACT: Retry = Retry {
    first: Duration::from_secs(10),
    max: Duration::from_secs(40),
    jitter: 0.0,
};

fn ev(kind: Kind, group: &str) -> Event {
    Event::new(kind, "r", SystemTime::UNIX_EPOCH).with_group(group)
}

#[tokio::test(start_paused = true)]
async fn events_within_the_coalesce_window_share_one_mail() {
    let (d, mut seen) = fake(&[]);
    let t0 = Instant::now();
    let ob = Outbox::with(d, Spool::memory(), limits(10, 6), EXACT, ctx());
    let m = ob.mailer();
    m.send(ev(Kind::MemberDown, "HQ"));
    advance(Duration::from_secs(3)).await;
    m.send(ev(Kind::Failover, "HQ"));
    m.send(ev(Kind::GroupDown, "BR"));
    let a = seen.recv().await.unwrap();
    assert_eq!(a.at - t0, Duration::from_secs(10));
    assert_eq!(a.events, 3);
    assert_eq!(a.subject, "BR DOWN (3 events)");
    ob.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn failed_sends_retry_with_doubling_backoff_then_stop_retrying() {
    let (d, mut seen) = fake(&[true, true, true, true]);
    let t0 = Instant::now();
    let ob = Outbox::with(d, Spool::memory(), limits(0, 6), EXACT, ctx());
    let mut status = ob.status();
    ob.mailer().send(ev(Kind::GroupDown, "HQ"));
    let mut times = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..5 {
        let a = seen.recv().await.unwrap();
        times.push((a.at - t0).as_secs());
        ids.push(a.message_id);
    }
    assert_eq!(times, [0, 10, 30, 70, 110], "10 s doubling, capped at 40 s here");
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "the same mail each time");
    let s = status.wait_for(|s| s.accepted == 1).await.unwrap().clone();
    assert_eq!((s.queued, s.failing), (0, None));
    ob.shutdown().await;
    assert!(seen.recv().await.is_none(), "nothing more after acceptance");
}

#[test]
fn backoff_doubles_to_the_cap_with_bounded_jitter() {
    let r = Retry::default();
    let table = [
        (1, 10),
        (2, 20),
        (3, 40),
        (4, 80),
        (5, 160),
        (6, 320),
        (7, 600),
        (30, 600),
        (99, 600),
    ];
    for (failures, secs) in table {
        assert_eq!(r.delay(failures, 0.5), Duration::from_secs(secs), "failure {failures}");
    }
    assert_eq!(r.delay(1, 0.0), Duration::from_secs(8));
    assert_eq!(r.delay(1, 1.0), Duration::from_secs(12));
    assert_eq!(r.delay(9, 1.0), Duration::from_secs(600), "never above the cap");
    assert_eq!(r.delay(9, 0.0), Duration::from_secs(480));
}

#[tokio::test(start_paused = true)]
async fn over_the_hourly_limit_a_digest_follows_an_hour_later() {
    let (d, mut seen) = fake(&[]);
    let t0 = Instant::now();
    let ob = Outbox::with(d, Spool::memory(), limits(0, 1), EXACT, ctx());
    ob.mailer().send(ev(Kind::MemberDown, "HQ"));
    assert_eq!(seen.recv().await.unwrap().subject, "HQ member (no member) down");
    advance(Duration::from_secs(60)).await;
    ob.mailer().send(ev(Kind::MemberUp, "HQ"));
    ob.mailer().send(ev(Kind::MemberDown, "HQ"));
    let digest = seen.recv().await.unwrap();
    assert_eq!(digest.at - t0, Duration::from_secs(3600));
    assert_eq!(digest.subject, "Digest: HQ member (no member) down (2 events)");
    ob.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_spools_everything_and_a_restart_sends_it_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (d, mut seen) = fake(&[true; 3]);
    let (spool, _) = Spool::open(tmp.path()).unwrap();
    let ob = Outbox::with(d, spool, limits(5, 6), EXACT, ctx());
    let mut status = ob.status();
    ob.mailer().send(ev(Kind::GroupDown, "HQ"));
    let first = seen.recv().await.unwrap();
    status.wait_for(|s| s.failing.is_some()).await.unwrap();
    ob.mailer().send(ev(Kind::GroupUp, "HQ"));
    ob.shutdown().await;

    let (spool, _) = Spool::open(tmp.path()).unwrap();
    let spooled: Vec<_> = spool.entries().map(|e| e.mail.clone()).collect();
    assert_eq!(spooled.len(), 2, "the failed mail and the pending event");
    assert_eq!(spooled[0].message_id, first.message_id);
    assert_eq!(spooled[1].subject, "HQ UP");

    let (d, mut seen) = fake(&[]);
    let ob = Outbox::with(d, spool, limits(5, 6), EXACT, ctx());
    let mut status = ob.status();
    status.wait_for(|s| s.accepted == 2).await.unwrap();
    let ids: Vec<String> = [seen.recv().await.unwrap(), seen.recv().await.unwrap()]
        .into_iter()
        .map(|a| a.message_id)
        .collect();
    assert_eq!(ids, [spooled[0].message_id.clone(), spooled[1].message_id.clone()]);
    ob.shutdown().await;
    assert!(seen.recv().await.is_none());
    assert_eq!(Spool::open(tmp.path()).unwrap().0.len(), 0);
}

/// Accepts every mail after `delay`.
struct Slow {
    delay: Duration,
    seen: mpsc::UnboundedSender<Attempt>,
}

impl Deliver for Slow {
    fn deliver(&self, mail: &Mail) -> impl Future<Output = Result<String, SendError>> + Send {
        let _ = self.seen.send(Attempt {
            at: Instant::now(),
            subject: mail.subject.clone(),
            message_id: mail.message_id.clone(),
            events: mail.events.len(),
        });
        let delay = self.delay;
        async move {
            tokio::time::sleep(delay).await;
            Ok("250 ok".to_owned())
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_send_in_flight_at_shutdown_may_finish_so_it_is_not_sent_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let (seen, mut rx) = mpsc::unbounded_channel();
    let slow = Slow {
        delay: Duration::from_secs(1),
        seen,
    };
    let (spool, _) = Spool::open(tmp.path()).unwrap();
    let ob = Outbox::with(slow, spool, limits(0, 6), EXACT, ctx());
    ob.mailer().send(ev(Kind::GroupDown, "HQ"));
    rx.recv().await.unwrap();
    ob.shutdown().await;
    assert_eq!(
        Spool::open(tmp.path()).unwrap().0.len(),
        0,
        "accepted during the stop: removed, not sent again at the next start"
    );
}

#[tokio::test(start_paused = true)]
async fn a_full_spool_folds_group_mails_and_keeps_daemon_mails() {
    let tmp = tempfile::tempdir().unwrap();
    let (d, _seen) = fake(&[true; 100]);
    let (spool, _) = Spool::open(tmp.path()).unwrap();
    let mut l = limits(0, 100);
    l.spool_max = 3;
    let ob = Outbox::with(d, spool, l, EXACT, ctx());
    let mut status = ob.status();
    let kinds = [
        Kind::MemberDown,
        Kind::Daemon(crate::mail::event::DaemonKind::ReloadRejected),
        Kind::MemberUp,
        Kind::MemberDown,
        Kind::MemberUp,
    ];
    for (i, kind) in kinds.into_iter().enumerate() {
        ob.mailer().send(ev(kind, &format!("G{i}")));
        status.wait_for(|s| s.rendered as usize > i).await.unwrap();
    }
    ob.shutdown().await;
    let (spool, _) = Spool::open(tmp.path()).unwrap();
    let classes: Vec<Class> = spool.entries().map(|e| e.mail.class).collect();
    assert_eq!(spool.len(), 3);
    assert!(classes.contains(&Class::Daemon), "{classes:?}");
    assert!(classes.contains(&Class::Digest), "{classes:?}");
}

#[tokio::test(start_paused = true)]
async fn without_mail_settings_mails_are_logged_not_spooled() {
    let tmp = tempfile::tempdir().unwrap();
    let ob = start(None, ctx(), tmp.path()).unwrap();
    let mut status = ob.status();
    ob.mailer().send(ev(Kind::GroupDown, "HQ"));
    status.wait_for(|s| s.accepted == 1).await.unwrap();
    ob.shutdown().await;
    assert!(!tmp.path().join("spool").exists());
}

/// After shutdown a send returns at once (the channel is closed, nothing
/// waits on it) and the event is only logged: not delivered, not spooled.
#[tokio::test]
async fn a_stopped_outbox_never_blocks_the_sender() {
    let tmp = tempfile::tempdir().unwrap();
    let (d, mut seen) = fake(&[]);
    let (spool, _) = Spool::open(tmp.path()).unwrap();
    let ob = Outbox::with(d, spool, limits(0, 6), EXACT, ctx());
    let status = ob.status();
    let m = ob.mailer();
    ob.shutdown().await;
    let sent = tokio::time::timeout(Duration::from_secs(5), async { m.send(ev(Kind::GroupDown, "HQ")) }).await;
    assert!(sent.is_ok(), "a send after shutdown must return at once");
    assert!(seen.recv().await.is_none(), "nothing delivered after shutdown");
    assert_eq!(status.borrow().rendered, 0, "the event was not rendered");
    assert_eq!(Spool::open(tmp.path()).unwrap().0.len(), 0, "nor spooled");
}

#[tokio::test(start_paused = true)]
async fn a_recovery_beyond_the_hourly_limit_goes_with_the_next_coalesced_mail() {
    let (d, mut seen) = fake(&[]);
    let t0 = Instant::now();
    let ob = Outbox::with(d, Spool::memory(), limits(10, 1), EXACT, ctx());
    let m = ob.mailer();
    m.send(ev(Kind::GroupDown, "HQ"));
    let a = seen.recv().await.unwrap();
    assert_eq!(
        (a.at - t0, a.subject.as_str()),
        (Duration::from_secs(10), "HQ DOWN: all members unreachable")
    );
    advance(Duration::from_secs(100)).await;
    m.send(ev(Kind::MemberUp, "HQ").with_member("HQ_A"));
    m.send(ev(Kind::GroupUp, "HQ"));
    let a = seen.recv().await.unwrap();
    assert_eq!(
        a.at - t0,
        Duration::from_secs(120),
        "within the coalesce window, not the hour"
    );
    assert_eq!((a.events, a.subject.as_str()), (2, "HQ UP (2 events)"));
    ob.shutdown().await;
    assert!(seen.recv().await.is_none(), "no digest follows");
}
