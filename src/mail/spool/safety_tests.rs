//! The spool in a folder another user may write to: planted links, FIFOs
//! and folders are errors naming them and are never followed; the pending
//! events round-trip and leave out what a spooled mail already reports.

use std::os::unix::fs::{PermissionsExt as _, symlink};
use std::time::{Duration, SystemTime};

use super::*;
use crate::mail::event::{DaemonKind, Event, Kind};
use crate::mail::pace::Key;

fn ev(kind: Kind, n: u64) -> Event {
    Event::new(kind, format!("e{n}"), SystemTime::UNIX_EPOCH + Duration::from_secs(n)).with_group("HQ")
}

fn mail(events: Vec<Event>) -> Mail {
    Mail {
        message_id: "<m@host>".into(),
        date: SystemTime::UNIX_EPOCH,
        subject: "s".into(),
        body: "b".into(),
        class: Class::Group,
        events,
        omitted: 0,
    }
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success());
}

#[test]
fn a_planted_link_fifo_or_folder_in_the_spool_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("victim");
    std::fs::write(&target, "keep").unwrap();
    let dir = tmp.path().join("spool");
    type Plant = fn(&Path, &Path);
    let plants: [(&str, Plant); 4] = [
        ("00000000000000000001.json", |p, t| symlink(t, p).unwrap()),
        (".00000000000000000002.json.tmp", |p, t| symlink(t, p).unwrap()),
        ("pending.jsonl", |p, _| mkfifo(p)),
        ("00000000000000000003.json", |p, _| std::fs::create_dir(p).unwrap()),
    ];
    for (name, plant) in plants {
        let (s, _) = Spool::open(&dir).unwrap();
        drop(s);
        let planted = dir.join(name);
        plant(&planted, &target);
        let err = Spool::open(&dir).unwrap_err().to_string();
        assert!(err.contains(&planted.display().to_string()), "{name}: {err}");
        assert!(err.contains("remove it"), "{err}");
        assert_eq!(
            std::fs::read_to_string(&target).unwrap(),
            "keep",
            "{name}: target untouched"
        );
        let _ = std::fs::remove_file(&planted);
        let _ = std::fs::remove_dir(&planted);
    }
}

#[test]
fn a_spool_folder_that_is_a_link_is_an_error_and_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = tmp.path().join("spool");
    symlink(&elsewhere, &dir).unwrap();
    let err = Spool::open(&dir).unwrap_err().to_string();
    assert!(
        err.contains(&dir.display().to_string()) && err.contains("not a folder"),
        "{err}"
    );
    let mode = std::fs::metadata(&elsewhere).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o755, "the link's target keeps its mode");
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
}

#[test]
fn a_link_planted_while_running_is_replaced_never_written_through() {
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("victim");
    std::fs::write(&target, "keep").unwrap();
    let dir = tmp.path().join("spool");
    let (mut s, _) = Spool::open(&dir).unwrap();
    symlink(&target, dir.join(".00000000000000000001.json.tmp")).unwrap();
    symlink(&target, dir.join("00000000000000000001.json")).unwrap();
    symlink(&target, dir.join(".pending.jsonl.tmp")).unwrap();
    s.push(mail(vec![ev(Kind::MemberDown, 1)])).1.unwrap();
    let unsent = Unsent {
        batch: vec![ev(Kind::GroupDown, 2)],
        held: Vec::new(),
    };
    s.save_unsent(&unsent).unwrap();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    for name in ["00000000000000000001.json", pending::NAME] {
        assert!(std::fs::symlink_metadata(dir.join(name)).unwrap().is_file(), "{name}");
    }
}

#[test]
fn pending_events_round_trip_without_those_a_spooled_mail_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut s, _) = Spool::open(tmp.path()).unwrap();
    let guard = Kind::Daemon(DaemonKind::GuardTrip);
    let unsent = Unsent {
        batch: vec![ev(Kind::MemberDown, 1), ev(Kind::Failover, 2), ev(Kind::GroupDown, 3)],
        held: vec![
            (Key::Group("HQ".into()), vec![ev(Kind::MemberUp, 4)]),
            (Key::Daemon(DaemonKind::GuardTrip), vec![ev(guard, 5)]),
        ],
    };
    s.save_unsent(&unsent).unwrap();
    let (mut again, warnings) = Spool::open(tmp.path()).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(again.take_unsent(), unsent);
    assert_eq!(again.take_unsent(), Unsent::default(), "taken once");
    // A crash after the mail was spooled, before the events were rewritten.
    again
        .push(mail(vec![ev(Kind::MemberDown, 1), ev(Kind::Failover, 2)]))
        .1
        .unwrap();
    let (mut third, _) = Spool::open(tmp.path()).unwrap();
    let left = third.take_unsent();
    assert_eq!(left.batch, [ev(Kind::GroupDown, 3)]);
    assert_eq!(left.held, unsent.held);
    third.save_unsent(&Unsent::default()).unwrap();
    assert!(!tmp.path().join(pending::NAME).exists());
}

#[test]
fn a_damaged_pending_file_is_set_aside_and_its_readable_events_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut s, _) = Spool::open(tmp.path()).unwrap();
    let unsent = Unsent {
        batch: vec![ev(Kind::MemberDown, 1)],
        held: Vec::new(),
    };
    s.save_unsent(&unsent).unwrap();
    let path = tmp.path().join(pending::NAME);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(b"{\"held\":null,\"eve");
    std::fs::write(&path, bytes).unwrap();
    let (mut again, warnings) = Spool::open(tmp.path()).unwrap();
    assert_eq!(again.take_unsent(), unsent);
    assert!(warnings.iter().any(|w| w.contains("pending.jsonl.bad")), "{warnings:?}");
    std::fs::write(&path, b"garbage\n").unwrap();
    let (mut third, warnings) = Spool::open(tmp.path()).unwrap();
    assert!(third.take_unsent().is_empty());
    assert_eq!(warnings.len(), 1, "{warnings:?}");
}

#[test]
fn a_spool_folder_swapped_for_a_link_while_running_is_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("spool");
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let (mut s, _) = Spool::open(&dir).unwrap();
    std::fs::rename(&dir, tmp.path().join("moved")).unwrap();
    symlink(&elsewhere, &dir).unwrap();
    let (seq, written) = s.push(mail(vec![ev(Kind::MemberDown, 1)]));
    written.unwrap();
    s.save_unsent(&Unsent {
        batch: vec![ev(Kind::GroupDown, 2)],
        held: Vec::new(),
    })
    .unwrap();
    assert_eq!(
        std::fs::read_dir(&elsewhere).unwrap().count(),
        0,
        "nothing through the link"
    );
    let moved = tmp.path().join("moved");
    assert!(moved.join(file_name(seq)).is_file() && moved.join(pending::NAME).is_file());
}
