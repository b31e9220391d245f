//! Digest and test-mail tables.

use std::time::{Duration, SystemTime};

use super::*;
use crate::mail::event::{DaemonKind as D, Event, Kind};
use crate::mail::render::{Class, Context, DIGEST_KEEP, LocalZone, Stamp, batch};
use crate::mail::types::{MailSettings, Secret, Security};

fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_714_564_805)
}

fn ctx() -> Context {
    Context {
        host: "mon1".into(),
        zone: LocalZone::Fixed(0),
    }
}

fn stamp() -> Stamp {
    Stamp {
        message_id: "<d@mon1>".into(),
        date: t0(),
    }
}

fn member(kind: Kind, i: u64) -> Event {
    Event::new(kind, format!("check {i}"), t0() + Duration::from_secs(i))
        .with_group("HQ_VPN")
        .with_member("HQ_Primary")
}

#[test]
fn hourly_digest_leads_with_the_most_severe_and_lists_every_event() {
    let events = vec![
        member(Kind::MemberDown, 1),
        member(Kind::GroupDown, 2),
        member(Kind::MemberUp, 3).with_check("TCP/443", "198.51.100.7"),
        member(Kind::Daemon(D::DeactivateDecided), 4).with_push("DeActive HQ_VPN", "200 ok"),
    ];
    let mail = hourly("HQ_VPN", &events, 6, &ctx(), stamp());
    assert_eq!(mail.subject, "Digest: HQ_VPN DOWN (4 events)");
    assert_eq!(mail.class, Class::Daemon, "it holds a daemon event");
    assert!(
        mail.body
            .starts_with("More than 6 mails an hour would have gone out for HQ_VPN")
    );
    assert!(mail.body.contains("The latest: HQ_VPN deactivated by failoverd."));
    for needle in [
        "2024-05-01 12:00:06 UTC (2024-05-01 12:00:06 +00:00 local)\n   HQ_VPN member HQ_Primary down\n   check 1\n",
        "   HQ_VPN DOWN: all members unreachable\n   check 2; member HQ_Primary\n",
        "check 3; TCP/443 198.51.100.7",
        "check 4; member HQ_Primary; push DeActive HQ_VPN: 200 ok",
    ] {
        assert!(mail.body.contains(needle), "{needle:?} in\n{}", mail.body);
    }
    let groups_only = hourly("HQ_VPN", &events[..2], 6, &ctx(), stamp());
    assert_eq!(groups_only.class, Class::Digest);
}

#[test]
fn spool_digest_folds_mails_and_keeps_the_newest_events() {
    let c = ctx();
    let old: Vec<_> = (0..3)
        .map(|i| batch(&[member(Kind::MemberDown, i)], &c, Stamp::new("mon1", t0())))
        .collect();
    let mail = spool(&old, 2, &c, stamp());
    assert_eq!(
        mail.subject,
        "failoverd: mail spool over its limit, 3 mails folded: HQ_VPN member HQ_Primary down (3 events)"
    );
    assert_eq!(mail.class, Class::Digest);
    assert_eq!(mail.events.len(), 3);
    assert!(mail.body.contains("reached spool_max = 2 mails"), "{}", mail.body);
    assert!(mail.body.contains("The 3 oldest group mails were folded"));

    let many: Vec<_> = (0..DIGEST_KEEP as u64 + 5).map(|i| member(Kind::MemberUp, i)).collect();
    let big = batch(&many, &c, stamp());
    let again = spool(&[mail, big], 2, &c, stamp());
    assert_eq!(again.events.len(), DIGEST_KEEP);
    assert_eq!(again.omitted, 8);
    assert_eq!(
        again.events.last().unwrap().reason,
        format!("check {}", DIGEST_KEEP + 4)
    );
    assert!(again.body.contains("(8 earlier events are not listed.)"));
}

#[test]
fn test_mail_says_where_it_went_and_never_the_password() {
    let mut s = MailSettings {
        host: "mail.example.com".into(),
        port: 587,
        security: Security::StartTls,
        from: "failoverd <f@example.com>".into(),
        to: vec!["a@example.com".into(), "b@example.com".into()],
        username: Some("f".into()),
        password: Some(Secret::new("hunter2")),
        ca_file: None,
        timeout: Duration::from_secs(30),
        coalesce: Duration::from_secs(10),
        max_per_hour: 6,
        spool_max: 1000,
    };
    let mail = test_mail(&s, &ctx(), stamp());
    assert_eq!(mail.subject, "failoverd test mail from mon1");
    assert_eq!(mail.class, Class::Test);
    for needle in [
        "Server:  mail.example.com:587 (STARTTLS (smtp://))",
        "Login:   f (AUTH PLAIN or LOGIN)",
        "To:      a@example.com, b@example.com",
    ] {
        assert!(mail.body.contains(needle), "{needle} in {}", mail.body);
    }
    assert!(!mail.body.contains("hunter2"));
    s.security = Security::None;
    let plain = test_mail(&s, &ctx(), stamp());
    assert!(plain.body.contains("Login:   none (never over plain SMTP)"));
}
