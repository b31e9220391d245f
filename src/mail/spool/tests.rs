//! Spool files on a real folder: order across reopen, modes, removal,
//! unreadable files, and folding over the limit.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::time::SystemTime;

use super::*;
use crate::mail::event::{DaemonKind, Event, Kind};
use crate::mail::render::{Class, Mail};

fn mail(n: u32, class: Class) -> Mail {
    let kind = if class == Class::Daemon {
        Kind::Daemon(DaemonKind::GuardTrip)
    } else {
        Kind::MemberDown
    };
    Mail {
        message_id: format!("<m{n}@host>"),
        date: SystemTime::UNIX_EPOCH,
        subject: format!("mail {n}"),
        body: "body".into(),
        class,
        events: vec![Event::new(kind, format!("e{n}"), SystemTime::UNIX_EPOCH)],
        omitted: 0,
    }
}

fn subjects(s: &Spool) -> Vec<String> {
    s.entries().map(|e| e.mail.subject.clone()).collect()
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn mails_survive_a_reopen_in_order_with_private_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("spool");
    let (mut s, warnings) = Spool::open(&dir).unwrap();
    assert!(warnings.is_empty());
    for n in 1..=12 {
        s.push(mail(n, Class::Group)).1.unwrap();
    }
    s.remove(s.front().unwrap().seq).unwrap();
    assert_eq!(mode(&dir), 0o700);
    for item in fs::read_dir(&dir).unwrap() {
        assert_eq!(mode(&item.unwrap().path()), 0o600);
    }
    let (mut again, _) = Spool::open(&dir).unwrap();
    let want: Vec<String> = (2..=12).map(|n| format!("mail {n}")).collect();
    assert_eq!(subjects(&again), want);
    assert_eq!(again.front().unwrap().mail, mail(2, Class::Group), "Message-ID kept");
    let (seq, written) = again.push(mail(13, Class::Group));
    written.unwrap();
    assert_eq!(seq, 13, "numbering goes on after the newest");
}

#[test]
fn unreadable_files_are_set_aside_and_leftover_temps_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut s, _) = Spool::open(tmp.path()).unwrap();
    s.push(mail(1, Class::Group)).1.unwrap();
    fs::write(tmp.path().join(format!("{:020}.json", 7)), b"{not json").unwrap();
    fs::write(tmp.path().join(".00000000000000000009.json.tmp"), b"half").unwrap();
    fs::write(tmp.path().join("README"), b"not mine").unwrap();
    let (s, warnings) = Spool::open(tmp.path()).unwrap();
    assert_eq!(subjects(&s), ["mail 1"]);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("00000000000000000007.json.bad"), "{}", warnings[0]);
    assert!(tmp.path().join("00000000000000000007.json.bad").exists());
    assert!(!tmp.path().join(".00000000000000000009.json.tmp").exists());
    assert!(tmp.path().join("README").exists());
}

#[test]
fn a_spool_that_cannot_be_written_still_keeps_the_mail() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("spool");
    let (mut s, _) = Spool::open(&dir).unwrap();
    fs::remove_dir(&dir).unwrap();
    let (seq, written) = s.push(mail(1, Class::Group));
    assert!(written.is_err());
    assert_eq!(s.front().unwrap().seq, seq);
    s.remove(seq).unwrap();
    assert!(s.is_empty());
}

#[test]
fn over_the_limit_the_oldest_group_mails_fold_and_daemon_mails_stay() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut s, _) = Spool::open(tmp.path()).unwrap();
    s.push(mail(1, Class::Daemon)).1.unwrap();
    s.push(mail(2, Class::Group)).1.unwrap();
    s.push(mail(3, Class::Group)).1.unwrap();
    s.push(mail(4, Class::Daemon)).1.unwrap();
    s.push(mail(5, Class::Group)).1.unwrap();
    s.push(mail(6, Class::Group)).1.unwrap();
    let fold = |ms: &[Mail]| {
        let names: Vec<&str> = ms.iter().map(|m| m.subject.as_str()).collect();
        let mut d = mail(0, Class::Digest);
        d.subject = format!("digest of {}", names.join("+"));
        d
    };
    assert_eq!(s.fold_over(6, None, fold).unwrap(), 0, "at the limit: nothing");
    // 6 mails, limit 4: three group mails become one digest.
    assert_eq!(s.fold_over(4, Some(2), fold).unwrap(), 3);
    let want = ["mail 1", "digest of mail 3+mail 5+mail 6", "mail 4", "mail 2"];
    let mut got = subjects(&s);
    got.sort_by_key(|g| want.iter().position(|w| w == g));
    assert_eq!(got, want);
    assert_eq!(s.len(), 4);
    assert_eq!(subjects(&s)[0], "mail 1", "order kept: daemon mail first");
    assert_eq!(subjects(&s)[1], "mail 2", "the mail being sent was not folded");
    let (reopened, _) = Spool::open(tmp.path()).unwrap();
    assert_eq!(subjects(&reopened), subjects(&s));
    // Only daemon mails and one group mail left: nothing more to fold.
    assert_eq!(s.fold_over(1, Some(2), fold).unwrap(), 0);
}

#[test]
fn memory_spool_writes_nothing() {
    let mut s = Spool::memory();
    let (seq, written) = s.push(mail(1, Class::Group));
    written.unwrap();
    s.remove(seq).unwrap();
    assert!(s.is_empty());
}
