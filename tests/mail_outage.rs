//! Mail across outages and restarts, against a real server (mailin): the
//! server is down while events happen and comes back; the outbox is stopped
//! and started again from its spool in between; and a crash between the
//! server's acceptance and the spool file's removal resends the same mail,
//! with the same Message-ID.

mod mailutil;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::time::{Duration, SystemTime};

use failoverd::mail::event::{Event, Kind};
use failoverd::mail::outbox::{Limits, Outbox, Retry, Status};
use failoverd::mail::render::{self, Context, LocalZone, Stamp};
use failoverd::mail::smtp::Client;
use failoverd::mail::spool::Spool;
use failoverd::mail::types::{MailSettings, Security};
use mailutil::*;
use tokio::sync::watch;

/// Short retries for a real-clock test; the backoff itself is tested on
/// the paused clock.
const QUICK: Retry = Retry {
    first: Duration::from_millis(20),
    max: Duration::from_millis(200),
    jitter: 0.2,
};

fn ctx() -> Context {
    Context {
        host: "mon1.example.net".into(),
        zone: LocalZone::System,
    }
}

fn limits() -> Limits {
    Limits {
        coalesce: Duration::ZERO,
        max_per_hour: 100,
        spool_max: 1000,
    }
}

fn start(s: &MailSettings, dir: &Path) -> Outbox {
    let (spool, warnings) = Spool::open(dir).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    Outbox::with(
        Client::new(s, "mon1.example.net").unwrap(),
        spool,
        limits(),
        QUICK,
        ctx(),
    )
}

/// Hang guard for waiting on the outbox's status; not a timing assertion.
async fn until(status: &mut watch::Receiver<Status>, f: impl FnMut(&Status) -> bool) {
    tokio::time::timeout(Duration::from_secs(60), status.wait_for(f))
        .await
        .expect("outbox status within a minute")
        .expect("outbox running");
}

/// Sends one event per group, each its own mail, and returns when all are
/// rendered and spooled.
async fn events(ob: &Outbox, groups: &[&str]) {
    let mut status = ob.status();
    let before = status.borrow().rendered;
    for (i, g) in groups.iter().enumerate() {
        ob.mailer()
            .send(Event::new(Kind::GroupDown, "4 of 4 targets down", SystemTime::now()).with_group(g));
        until(&mut status, |s| s.rendered > before + i as u64).await;
    }
}

/// Message-ID -> how many times it arrived, once `n` messages are in.
async fn received(server: &mut Mailin, n: usize) -> BTreeMap<String, usize> {
    let mut ids = BTreeMap::new();
    for _ in 0..n {
        let got = next(&mut server.rx).await;
        *ids.entry(got.header("Message-ID").unwrap()).or_default() += 1;
    }
    ids
}

fn spooled_ids(dir: &Path) -> Vec<String> {
    Spool::open(dir)
        .unwrap()
        .0
        .entries()
        .map(|e| e.mail.message_id.clone())
        .collect()
}

fn listen(port: u16) -> TcpListener {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("the freed port is still free")
}

#[tokio::test]
async fn mail_held_during_an_outage_arrives_exactly_once_when_the_server_returns() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let s = settings(port, Security::None);
    let ob = start(&s, tmp.path());
    let mut status = ob.status();
    events(&ob, &["A", "B", "C"]).await;
    until(&mut status, |s| {
        s.failing.as_deref().is_some_and(|f| f.contains("unreachable"))
    })
    .await;
    let ids = spooled_ids(tmp.path());
    assert_eq!(ids.len(), 3);

    let mut server = mailin(listen(port), MailinOptions::default());
    until(&mut status, |s| s.accepted == 3).await;
    ob.shutdown().await;
    let got = received(&mut server, 3).await;
    assert_eq!(got.keys().cloned().collect::<Vec<_>>(), sorted(&ids));
    assert!(got.values().all(|n| *n == 1), "{got:?}");
    assert!(server.rx.try_recv().is_err(), "no duplicates");
    assert!(spooled_ids(tmp.path()).is_empty());
}

#[tokio::test]
async fn mail_survives_a_restart_during_the_outage() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let s = settings(port, Security::None);
    let ob = start(&s, tmp.path());
    events(&ob, &["A", "B"]).await;
    until(&mut ob.status(), |s| s.failing.is_some()).await;
    ob.mailer()
        .send(Event::new(Kind::GroupUp, "back", SystemTime::now()).with_group("A"));
    ob.shutdown().await;
    let ids = spooled_ids(tmp.path());
    assert_eq!(ids.len(), 3, "two failed mails and one pending event");

    let ob = start(&s, tmp.path());
    let mut status = ob.status();
    assert_eq!(status.borrow().queued, 3);
    until(&mut status, |s| s.failing.is_some()).await;
    let mut server = mailin(listen(port), MailinOptions::default());
    until(&mut status, |s| s.accepted == 3).await;
    ob.shutdown().await;
    let got = received(&mut server, 3).await;
    assert_eq!(got.keys().cloned().collect::<Vec<_>>(), sorted(&ids));
    assert!(got.values().all(|n| *n == 1), "{got:?}");
    assert!(server.rx.try_recv().is_err(), "no duplicates");
}

#[tokio::test]
async fn a_crash_after_acceptance_resends_with_the_same_message_id() {
    let tmp = tempfile::tempdir().unwrap();
    let mut server = mailin(port0(), MailinOptions::default());
    let s = settings(server.port, Security::None);
    let e = Event::new(Kind::Failover, "3 failed checks", SystemTime::now()).with_group("HQ_VPN");
    let mail = render::batch(&[e], &ctx(), Stamp::new("mon1.example.net", SystemTime::now()));
    let (mut spool, _) = Spool::open(tmp.path()).unwrap();
    spool.push(mail.clone()).1.unwrap();
    // Accepted, then the "crash": the spool file is never removed.
    Client::new(&s, "mon1").unwrap().send(&mail).await.unwrap();
    drop(spool);

    let ob = start(&s, tmp.path());
    until(&mut ob.status(), |s| s.accepted == 1).await;
    ob.shutdown().await;
    let first = next(&mut server.rx).await;
    let again = next(&mut server.rx).await;
    assert_eq!(first.header("Message-ID").unwrap(), mail.message_id);
    assert_eq!(again.header("Message-ID").unwrap(), mail.message_id);
    assert_eq!(first.header("Date"), again.header("Date"));
    assert!(spooled_ids(tmp.path()).is_empty());
}

fn sorted(ids: &[String]) -> Vec<String> {
    let mut v = ids.to_vec();
    v.sort();
    v
}
