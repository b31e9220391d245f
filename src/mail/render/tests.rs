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
            "HQ_VPN failed over HQ_Primary -> HQ_Backup (+1 more event)",
        ),
        (
            vec![up.clone(), down.clone(), gdown.clone()],
            "BR_VPN DOWN (+2 more events)",
        ),
        (vec![api.clone(), gdown.clone()], "BR_VPN DOWN (+1 more event)"),
        (
            vec![over.clone(), api.clone()],
            "failoverd: firewall API unusable (+1 more event)",
        ),
        (
            vec![up.clone(), down.clone()],
            "HQ_VPN member HQ_Primary down (+1 more event)",
        ),
        (vec![], "failoverd: no events"),
    ];
    for (events, want) in table {
        assert_eq!(subject(&events), want);
    }
    let two_downs = vec![ev(Kind::GroupDown).with_group("A"), ev(Kind::GroupDown).with_group("B")];
    assert_eq!(subject(&two_downs), "A DOWN (+1 more event)", "earliest of equals");
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
    assert!(message_id("<>").ends_with("@localhost>"));
}
