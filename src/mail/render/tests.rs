//! Rendering tables: a subject for every event kind, coalesced subjects,
//! and the full text of one mail.

use std::time::{Duration, SystemTime};

use super::*;
use crate::mail::event::{DaemonKind as D, Event, Kind};

/// 2024-05-01 12:00:05 UTC.
pub(crate) fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_714_564_805)
}

pub(crate) fn ctx() -> Context {
    Context {
        host: "mon1.example.net".into(),
        zone: LocalZone::Fixed(2 * 3600),
    }
}

pub(crate) fn stamp() -> Stamp {
    Stamp {
        message_id: "<fixed@mon1.example.net>".into(),
        date: t0(),
    }
}

fn ev(kind: Kind) -> Event {
    Event::new(kind, "why", t0())
        .with_group("HQ_VPN")
        .with_member("HQ_Primary")
}

#[test]
fn every_kind_has_a_subject_that_leads_with_what_happened() {
    let table: Vec<(Event, &str)> = vec![
        (ev(Kind::GroupDown), "HQ_VPN DOWN: all members unreachable"),
        (
            ev(Kind::GroupUp).with_expected("HQ_Primary"),
            "HQ_VPN UP again: HQ_Primary reachable",
        ),
        (ev(Kind::GroupUp), "HQ_VPN UP"),
        (
            ev(Kind::Failover).with_change("HQ_Primary", "HQ_Backup"),
            "HQ_VPN failed over HQ_Primary -> HQ_Backup",
        ),
        (
            ev(Kind::Failback).with_change("HQ_Backup", "HQ_Primary"),
            "HQ_VPN failed back HQ_Backup -> HQ_Primary",
        ),
        (ev(Kind::MemberDown), "HQ_VPN member HQ_Primary down"),
        (ev(Kind::MemberUp), "HQ_VPN member HQ_Primary up"),
        (ev(Kind::GroupRestart), "HQ_VPN restarted (DeActive, then Active)"),
        (ev(Kind::Daemon(D::ApiUnusable)), "failoverd: firewall API unusable"),
        (ev(Kind::Daemon(D::ApiUsable)), "failoverd: firewall API usable again"),
        (ev(Kind::Daemon(D::PushRefused)), "failoverd: push refused for HQ_VPN"),
        (
            ev(Kind::Daemon(D::PushRefused)).with_push("DeActive HQ_VPN", "541"),
            "failoverd: firewall refused DeActive HQ_VPN",
        ),
        (
            ev(Kind::Daemon(D::PushRecovered)),
            "failoverd: push for HQ_VPN accepted again",
        ),
        (
            ev(Kind::Daemon(D::DeactivateDecided)),
            "HQ_VPN deactivated by failoverd",
        ),
        (
            ev(Kind::Daemon(D::GuardTrip)),
            "failoverd: guard withheld a DeActive of HQ_VPN",
        ),
        (
            ev(Kind::Daemon(D::GuardTripEnded)),
            "failoverd: guard trip ended, groups disarmed",
        ),
        (ev(Kind::Daemon(D::IcmpFailure)), "failoverd: ICMP probing failed"),
        (
            ev(Kind::Daemon(D::StateDirFailure)),
            "failoverd: state not persisted (state directory failure)",
        ),
        (
            ev(Kind::Daemon(D::SpoolOverLimit)),
            "failoverd: mail spool over its limit",
        ),
        (
            ev(Kind::Daemon(D::ReloadRejected)),
            "failoverd: reload rejected, old settings still running",
        ),
        (ev(Kind::Daemon(D::Test)), "failoverd test mail"),
        (
            ev(Kind::GroupDown).stopped(),
            "HQ_VPN DOWN: all members unreachable (changed while failoverd was stopped)",
        ),
    ];
    for (e, want) in table {
        let mail = batch(std::slice::from_ref(&e), &ctx(), stamp());
        assert_eq!(mail.subject, want, "{:?}", e.kind);
        let class = if e.kind.is_daemon() {
            Class::Daemon
        } else {
            Class::Group
        };
        assert_eq!(mail.class, class, "{:?}", e.kind);
        assert!(mail.body.contains("Reason:          why"), "{}", mail.body);
    }
}

#[test]
fn coalesced_subjects_lead_with_the_most_severe_event() {
    let down = ev(Kind::MemberDown);
    let over = ev(Kind::Failover).with_change("HQ_Primary", "HQ_Backup");
    let gdown = ev(Kind::GroupDown).with_group("BR_VPN");
    let up = ev(Kind::MemberUp);
    let api = ev(Kind::Daemon(D::ApiUnusable));
    let table: Vec<(Vec<Event>, &str)> = vec![
        (
            vec![down.clone(), over.clone()],
            "HQ_VPN failed over HQ_Primary -> HQ_Backup (2 events)",
        ),
        (vec![up.clone(), down.clone(), gdown.clone()], "BR_VPN DOWN (3 events)"),
        (vec![api.clone(), gdown.clone()], "BR_VPN DOWN (2 events)"),
        (
            vec![over.clone(), api.clone()],
            "failoverd: firewall API unusable (2 events)",
        ),
        (
            vec![up.clone(), down.clone()],
            "HQ_VPN member HQ_Primary down (2 events)",
        ),
        (vec![], "failoverd: no events"),
    ];
    for (events, want) in table {
        assert_eq!(subject(&events), want);
    }
    let two_downs = vec![ev(Kind::GroupDown).with_group("A"), ev(Kind::GroupDown).with_group("B")];
    assert_eq!(subject(&two_downs), "A DOWN (2 events)", "earliest of equals");
}

#[test]
fn a_failover_mail_names_everything_an_admin_acts_on() {
    let e = Event::new(Kind::Failover, "3 failed checks in a row: no reply within 1s", t0())
        .with_group("HQ_VPN")
        .with_member("HQ_Primary")
        .with_change("HQ_Primary", "HQ_Backup")
        .with_check("PING", "203.0.113.10")
        .with_expected("HQ_Backup")
        .with_push("DeActive HQ_VPN", "200 Configuration applied successfully");
    let mail = batch(&[e], &ctx(), stamp());
    let want = "\
failoverd on mon1.example.net reports 1 event:

HQ_VPN failed over HQ_Primary -> HQ_Backup
   Group:           HQ_VPN
   Member:          HQ_Primary
   Change:          HQ_Primary -> HQ_Backup
   Condition:       PING
   Target:          203.0.113.10
   Reason:          3 failed checks in a row: no reply within 1s
   Expected active: HQ_Backup
   Push:            DeActive HQ_VPN
   Firewall answer: 200 Configuration applied successfully
   Time:            2024-05-01 12:00:05 UTC (2024-05-01 14:00:05 +02:00 local)

-- 
failoverd on monitoring host mon1.example.net
Times are UTC, with the local time of mon1.example.net in brackets.
";
    assert_eq!(mail.body, want);
    assert_eq!(mail.message_id, "<fixed@mon1.example.net>");
    assert_eq!(mail.date, t0());
}

#[test]
fn coalesced_bodies_number_events_in_order_and_note_while_stopped() {
    let a = ev(Kind::MemberDown);
    let b = ev(Kind::GroupDown).stopped();
    let mail = batch(&[a, b], &ctx(), stamp());
    assert!(
        mail.body
            .starts_with("failoverd on mon1.example.net reports 2 events:\n")
    );
    let first = mail.body.find("1. HQ_VPN member HQ_Primary down").unwrap();
    let second = mail
        .body
        .find("2. HQ_VPN DOWN: all members unreachable (changed")
        .unwrap();
    assert!(first < second);
    assert!(
        mail.body
            .contains("Note:            changed while failoverd was stopped")
    );
}

#[test]
fn times_show_utc_and_the_given_local_offset() {
    let table = [
        (0, "2024-05-01 12:00:05 UTC (2024-05-01 12:00:05 +00:00 local)"),
        (-5 * 3600, "2024-05-01 12:00:05 UTC (2024-05-01 07:00:05 -05:00 local)"),
        (13 * 3600, "2024-05-01 12:00:05 UTC (2024-05-02 01:00:05 +13:00 local)"),
        (
            5 * 3600 + 1800,
            "2024-05-01 12:00:05 UTC (2024-05-01 17:30:05 +05:30 local)",
        ),
    ];
    for (offset, want) in table {
        assert_eq!(time(t0(), &LocalZone::Fixed(offset)), want);
    }
    let system = time(t0(), &LocalZone::System);
    assert!(system.starts_with("2024-05-01 12:00:05 UTC ("), "{system}");
}

#[test]
fn message_ids_are_fresh_and_well_formed() {
    let a = message_id("mon1.example.net");
    let b = message_id("mon1.example.net");
    assert_ne!(a, b);
    assert!(a.starts_with('<') && a.ends_with("@mon1.example.net>"), "{a}");
    assert!(message_id("bad host<>").ends_with("@badhost>"));
    assert!(message_id("<>").ends_with("@failoverd.invalid>"));
}

#[test]
fn message_ids_take_the_from_addresss_domain() {
    let table = [
        ("failoverd <failoverd@example.com>", "example.com"),
        ("failoverd@Mail.Example.NET", "mail.example.net"),
        ("\"Ops, HQ\" <ops@sub.example.org>", "sub.example.org"),
        ("noc <noc@[192.0.2.1]>", "192.0.2.1"),
        ("not an address", LOGGED_ONLY_DOMAIN),
        ("", LOGGED_ONLY_DOMAIN),
    ];
    for (from, want) in table {
        assert_eq!(message_domain(from), want, "{from}");
    }
    let id = Stamp::new(&message_domain("failoverd <f@example.com>"), t0()).message_id;
    assert!(id.starts_with('<') && id.ends_with("@example.com>"), "{id}");
}

fn at(e: Event, secs: u64) -> Event {
    Event {
        at: t0() + Duration::from_secs(secs),
        ..e
    }
}

/// A coalesced subject says how things stand when the mail goes: a group
/// back up is "down, up again after", never only the worst event.
#[test]
fn coalesced_subjects_say_how_things_stand_when_the_mail_goes() {
    let g = |k: Kind, s: u64| at(Event::new(k, "why", t0()).with_group("HQ_VPN"), s);
    let m = |k: Kind, member: &str, s: u64| at(ev(k).with_member(member), s);
    let over = |from: &str, to: &str, s: u64| at(ev(Kind::Failover).with_change(from, to), s);
    let back = |from: &str, to: &str, s: u64| at(ev(Kind::Failback).with_change(from, to), s);
    let d = |k: D, s: u64| at(Event::new(Kind::Daemon(k), "why", t0()), s);
    let table: Vec<(Vec<Event>, &str)> = vec![
        (
            vec![
                m(Kind::MemberDown, "HQ_Primary", 0),
                over("HQ_Primary", "HQ_Backup", 0),
                m(Kind::MemberDown, "HQ_Backup", 1),
                g(Kind::GroupDown, 1),
                m(Kind::MemberUp, "HQ_Primary", 6),
                back("HQ_Backup", "HQ_Primary", 6),
                g(Kind::GroupUp, 6),
                d(D::DeactivateDecided, 2).with_group("HQ_VPN"),
            ],
            "HQ_VPN down, up again after 5 s (8 events)",
        ),
        (
            vec![g(Kind::GroupDown, 0), g(Kind::GroupUp, 125)],
            "HQ_VPN down, up again after 2 min 5 s (2 events)",
        ),
        (
            vec![g(Kind::GroupDown, 0), g(Kind::GroupUp, 0)],
            "HQ_VPN down, up again within 1 s (2 events)",
        ),
        (
            vec![g(Kind::GroupDown, 0), g(Kind::GroupUp, 3720)],
            "HQ_VPN down, up again after 1 h 2 min (2 events)",
        ),
        // Down again after coming back: it stands, and says so loudly.
        (
            vec![g(Kind::GroupDown, 0), g(Kind::GroupUp, 3), g(Kind::GroupDown, 4)],
            "HQ_VPN DOWN (3 events)",
        ),
        // Another group's standing outage leads over one already over.
        (
            vec![
                g(Kind::GroupDown, 0),
                g(Kind::GroupUp, 3),
                g(Kind::GroupDown, 4).with_group("BR_VPN"),
            ],
            "BR_VPN DOWN (3 events)",
        ),
        // The up of another group does not end this one's outage.
        (
            vec![g(Kind::GroupDown, 0), g(Kind::GroupUp, 3).with_group("BR_VPN")],
            "HQ_VPN DOWN (2 events)",
        ),
        (
            vec![over("HQ_Primary", "HQ_Backup", 0), back("HQ_Backup", "HQ_Primary", 7)],
            "HQ_VPN failed over HQ_Primary -> HQ_Backup, back on HQ_Primary after 7 s (2 events)",
        ),
        (
            vec![over("A", "B", 0), over("B", "C", 7)],
            "HQ_VPN failed over A -> B (2 events)",
        ),
        (
            vec![m(Kind::MemberDown, "HQ_Primary", 0), m(Kind::MemberUp, "HQ_Primary", 4)],
            "HQ_VPN member HQ_Primary down, up again after 4 s (2 events)",
        ),
        (
            vec![m(Kind::MemberDown, "HQ_Primary", 0), m(Kind::MemberUp, "HQ_Backup", 4)],
            "HQ_VPN member HQ_Primary down (2 events)",
        ),
        (
            vec![d(D::SnmpUnusable, 0), d(D::SnmpUsable, 30)],
            "failoverd: the firewall's tunnel table cannot be read (SNMP), read again after 30 s (2 events)",
        ),
        (
            vec![
                d(D::FirewallDisagrees, 0).with_group("HQ_VPN"),
                d(D::FirewallAgrees, 120).with_group("HQ_VPN"),
            ],
            "failoverd: the firewall disagrees for HQ_VPN, agrees again after 2 min (2 events)",
        ),
        (
            vec![d(D::ApiUnusable, 0), d(D::ApiUsable, 30)],
            "failoverd: firewall API unusable, usable again after 30 s (2 events)",
        ),
        (
            vec![
                d(D::PushRefused, 0).with_group("HQ_VPN"),
                d(D::PushRecovered, 90).with_group("HQ_VPN"),
            ],
            "failoverd: push refused for HQ_VPN, accepted again after 1 min 30 s (2 events)",
        ),
        (
            vec![d(D::GuardTrip, 0).with_group("HQ_VPN"), d(D::GuardTripEnded, 12)],
            "failoverd: guard withheld a DeActive of HQ_VPN, trip ended after 12 s (2 events)",
        ),
        // A single event is its full headline, however it stands.
        (vec![g(Kind::GroupUp, 0)], "HQ_VPN UP"),
    ];
    for (events, want) in table {
        assert_eq!(subject(&events), want);
    }
}

#[test]
fn durations_read_as_a_person_says_them() {
    let table = [
        (0, "within 1 s"),
        (1, "after 1 s"),
        (59, "after 59 s"),
        (60, "after 1 min"),
        (125, "after 2 min 5 s"),
        (3600, "after 1 h"),
        (3720, "after 1 h 2 min"),
        (3725, "after 1 h 2 min"),
    ];
    for (secs, want) in table {
        assert_eq!(after_text(Duration::from_secs(secs)), want, "{secs}");
    }
    assert_eq!(after_text(Duration::from_millis(999)), "within 1 s");
}

#[test]
fn a_hint_every_member_shares_is_said_once_per_mail() {
    let hint = crate::firewall::view::WalkError::Timeout {
        address: "192.0.2.1:161".parse().unwrap(),
        after: Duration::from_secs(2),
    }
    .to_string();
    let members: Vec<String> = (1..=8).map(|i| format!("HQ_M{i}")).collect();
    let view = format!(
        "carries unknown; {}",
        (members.iter().map(|m| format!("{m} unknown: {hint}")))
            .collect::<Vec<_>>()
            .join("; ")
    );
    let snmp = Event::new(
        Kind::Daemon(D::SnmpUnusable),
        format!("the firewall's tunnel table cannot be read: {hint}. Pushes and probes go on"),
        t0(),
    );
    let mut events = vec![snmp];
    events.extend(members.iter().map(|m| {
        Event::new(Kind::MemberDown, "3 failed checks in a row", t0())
            .with_group("HQ_VPN")
            .with_member(m)
            .with_firewall(Some(view.clone()))
    }));
    let mail = batch(&events, &ctx(), stamp());
    assert_eq!(mail.body.matches(&hint).count(), 1, "{}", mail.body);
    assert!(
        mail.body.contains(&format!("\n\n   Note 1: {hint}\n\n-- \n")),
        "{}",
        mail.body
    );
    assert!(
        mail.body.contains("cannot be read: see note 1. Pushes"),
        "{}",
        mail.body
    );
    for m in &members {
        assert!(
            mail.body.contains(&format!("{m} unknown: see note 1")),
            "{m}: {}",
            mail.body
        );
    }
    // Said once in a mail anyway, a hint stays where it is.
    let alone = format!("carries unknown; HQ_M1 unknown: {hint}");
    let one = batch(&[events[1].clone().with_firewall(Some(alone))], &ctx(), stamp());
    assert_eq!(one.body.matches(&hint).count(), 1, "{}", one.body);
    assert!(!one.body.contains("Note 1"), "{}", one.body);
}
