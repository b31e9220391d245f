//! Table tests of the pair policy: each step changes the role or reads
//! the peer at a time, and checks what the daemon is told to do.

use std::time::{Duration, UNIX_EPOCH};

use tokio::time::Instant;

use super::*;

const VIP: &str = "198.51.100.50";

fn addr() -> IpAddr {
    VIP.parse().unwrap()
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
}

fn role(kind: RoleKind, secs: u64) -> Role {
    Role::new(kind, at(secs), Instant::now())
}

fn peer_hold(group: &str, until: u64, reason: &str) -> PeerHold {
    PeerHold {
        group: group.into(),
        until: at(until),
        reason: reason.into(),
    }
}

fn own(until: u64, reason: &str) -> Hold {
    Hold {
        until: at(until),
        reason: reason.into(),
    }
}

fn event(event: HaEvent, mail: bool) -> Effect {
    Effect::Event { event, mail }
}

use RoleKind::{Active, Standby};

/// A pair started standby whose peer was read once (no holds).
fn standby() -> Pair {
    let (mut p, _) = Pair::new(addr(), &role(Standby, 0));
    p.on_peer(Ok(vec![]), at(0));
    p
}

#[test]
fn start_standby_or_active() {
    let (p, fx) = Pair::new(addr(), &role(Standby, 0));
    assert_eq!(
        fx,
        vec![event(
            HaEvent::StartedAs {
                role: Standby,
                address: addr()
            },
            false
        )]
    );
    assert_eq!((p.role(), p.since()), (Standby, at(0)));
    let (_, fx) = Pair::new(addr(), &role(Active, 0));
    assert_eq!(
        fx,
        vec![
            event(
                HaEvent::StartedAs {
                    role: Active,
                    address: addr()
                },
                false
            ),
            Effect::ForgetBeliefs
        ],
        "the peer may have pushed while this host was down"
    );
}

#[test]
fn role_changes_in_sequence() {
    // (new role, effects)
    let became = vec![
        event(HaEvent::BecameActive { address: addr() }, true),
        Effect::ForgetBeliefs,
    ];
    let lost = vec![event(HaEvent::LostAddress { address: addr() }, true)];
    let steps: Vec<(RoleKind, Vec<Effect>)> = vec![
        (Standby, vec![]),
        (Active, became.clone()),
        (Active, vec![]),
        (Standby, lost.clone()),
        (Standby, vec![]),
        (Active, became),
        (Standby, lost),
    ];
    let mut p = standby();
    for (i, (kind, want)) in steps.into_iter().enumerate() {
        let got = p.on_role(&role(kind, i as u64 + 1));
        assert_eq!(got, want, "step {i}: {kind}");
        assert_eq!(p.role(), kind);
        assert_eq!(p.since() > at(0), i > 0, "since moves only on a change (step {i})");
    }
}

#[test]
fn standby_sends_nothing_and_logs_each_wanted_state_once() {
    let mut p = standby();
    let table = [
        ("HQ", Want::Active, PushGate::Standby { log: true }),
        ("HQ", Want::Active, PushGate::Standby { log: false }),
        ("Branch", Want::Active, PushGate::Standby { log: true }),
        ("HQ", Want::DeActive, PushGate::Standby { log: true }),
        ("HQ", Want::DeActive, PushGate::Standby { log: false }),
        ("HQ", Want::Active, PushGate::Standby { log: true }),
    ];
    for (i, (g, w, want)) in table.into_iter().enumerate() {
        assert_eq!(p.push(g, w), want, "row {i}");
    }
    assert!(!p.may_sync());
    assert!(!p.mails_new_events());
    p.on_role(&role(Active, 5));
    assert_eq!(p.push("HQ", Want::Active), PushGate::Send);
    assert!(p.may_sync());
    assert!(p.mails_new_events());
    // Standby again: the log memory starts afresh.
    p.on_role(&role(Standby, 6));
    assert_eq!(p.push("HQ", Want::Active), PushGate::Standby { log: true });
}

#[test]
fn losing_the_address_stops_the_next_push_not_the_one_in_flight() {
    let mut p = standby();
    p.on_role(&role(Active, 1));
    assert_eq!(p.push("HQ", Want::DeActive), PushGate::Send, "HQ goes out");
    // While HQ's request is under way the address goes: the policy has no
    // say over a request already sent (the daemon lets it finish), but the
    // retry and every other group are held back.
    p.on_role(&role(Standby, 2));
    assert_eq!(p.push("HQ", Want::DeActive), PushGate::Standby { log: true });
    assert_eq!(p.push("Branch", Want::Active), PushGate::Standby { log: true });
}

#[test]
fn the_first_push_waits_for_one_read_of_the_peer() {
    let (mut p, _) = Pair::new(addr(), &role(Active, 0));
    assert_eq!(p.push("HQ", Want::Active), PushGate::WaitForPeer);
    let fx = p.on_peer(Err(PeerError::Unreachable("connection refused".into())), at(1));
    assert_eq!(fx.len(), 1);
    assert_eq!(
        p.push("HQ", Want::Active),
        PushGate::Send,
        "a failed read counts: the peer may be dead"
    );
    let (mut p, _) = Pair::new(addr(), &role(Standby, 0));
    assert_eq!(p.push("HQ", Want::Active), PushGate::Standby { log: true });
}

#[test]
fn a_host_without_ha_is_always_active() {
    let mut p = Pair::single();
    assert!(!p.paired());
    assert_eq!(p.push("HQ", Want::DeActive), PushGate::Send);
    assert_eq!(p.on_role(&role(Standby, 1)), vec![]);
    assert_eq!(p.role(), Active);
    assert!(p.may_sync() && p.mails_new_events());
}

#[test]
fn holds_merge_and_neither_shortens_the_other() {
    let mut p = standby();
    p.on_peer(
        Ok(vec![
            peer_hold("HQ", 100, "maintenance (on the peer)"),
            peer_hold("Lab", 50, "peer short"),
            peer_hold("Lab", 70, "peer longer"),
        ]),
        at(10),
    );
    // (group, own hold, time, expected (until, source))
    type Row = (&'static str, Option<Hold>, u64, Option<(u64, HoldSource)>);
    let table: Vec<Row> = vec![
        ("HQ", None, 20, Some((100, HoldSource::Peer))),
        ("HQ", Some(own(200, "own")), 20, Some((200, HoldSource::Own))),
        ("HQ", Some(own(60, "own")), 20, Some((100, HoldSource::Peer))),
        ("HQ", Some(own(60, "own")), 80, Some((100, HoldSource::Peer))),
        ("HQ", None, 100, None),
        ("Lab", None, 20, Some((70, HoldSource::Peer))),
        ("Branch", None, 20, None),
        ("Branch", Some(own(30, "own")), 20, Some((30, HoldSource::Own))),
        ("Branch", Some(own(30, "own")), 30, None),
    ];
    for (i, (g, o, t, want)) in table.into_iter().enumerate() {
        let got = p.hold(g, o.as_ref(), at(t)).map(|h| (h.until, h.source));
        assert_eq!(got, want.map(|(u, s)| (at(u), s)), "row {i}: {g} at {t}");
    }
    let h = p.hold("HQ", None, at(20)).unwrap();
    assert_eq!(h.reason, "maintenance (on the peer)");
}

#[test]
fn a_new_peer_hold_forgets_that_groups_belief_once() {
    let mut p = standby();
    let forget = |g: &str| Effect::ForgetBelief { group: g.into() };
    let fx = p.on_peer(Ok(vec![peer_hold("HQ", 100, "manual push of DeActive")]), at(1));
    assert_eq!(fx, vec![forget("HQ")], "the peer may have pushed HQ");
    let fx = p.on_peer(Ok(vec![peer_hold("HQ", 100, "manual push of DeActive")]), at(3));
    assert_eq!(fx, vec![], "the same hold read again");
    let fx = p.on_peer(Ok(vec![peer_hold("HQ", 200, "manual push of Active")]), at(5));
    assert_eq!(fx, vec![forget("HQ")], "a new hold: maybe a new push");
    let fx = p.on_peer(Ok(vec![peer_hold("Lab", 2, "ended already")]), at(6));
    assert_eq!(fx, vec![], "a hold that has ended holds nothing");
}

#[test]
fn a_pending_pair_starts_like_new_at_its_first_role() {
    let mut p = Pair::pending(addr());
    assert!(p.paired() && p.role() == Standby);
    assert!(matches!(p.push("HQ", Want::Active), PushGate::Standby { .. }));
    let fx = p.on_role(&role(Active, 1));
    assert_eq!(
        fx,
        vec![
            event(
                HaEvent::StartedAs {
                    role: Active,
                    address: addr()
                },
                false
            ),
            Effect::ForgetBeliefs
        ],
        "a start is not a takeover: not mailed"
    );
    let fx = p.on_role(&role(Standby, 2));
    assert_eq!(fx, vec![event(HaEvent::LostAddress { address: addr() }, true)]);
}

#[test]
fn a_peer_hold_counts_until_expired_and_expiring_names_its_group() {
    let (mut p, _) = Pair::new(addr(), &role(Active, 0));
    p.on_peer(Ok(vec![peer_hold("HQ", 10, "x")]), at(0));
    assert!(p.peer_held("HQ"));
    assert_eq!(p.expire_peer(at(5)), Vec::<String>::new());
    assert_eq!(p.expire_peer(at(10)), vec!["HQ".to_string()]);
    assert!(!p.peer_held("HQ"));
}

#[test]
fn an_unreadable_peer_keeps_its_holds_until_each_ends() {
    let mut p = standby();
    let fx = p.on_peer(Ok(vec![peer_hold("HQ", 100, "a"), peer_hold("Lab", 40, "b")]), at(0));
    assert_eq!(fx.len(), 2, "{fx:?}");
    let down = PeerError::Unreachable("timed out".into());
    let fx = p.on_peer(Err(down.clone()), at(10));
    assert_eq!(
        fx,
        vec![event(HaEvent::PeerUnreadable { error: down.clone() }, false)],
        "one event per streak"
    );
    assert_eq!(p.on_peer(Err(PeerError::Status(502)), at(12)), vec![]);
    assert_eq!(p.peer_error(), Some(&PeerError::Status(502)));
    assert!(p.hold("HQ", None, at(30)).is_some(), "kept while unreadable");
    p.on_peer(Err(down.clone()), at(45));
    assert!(p.hold("Lab", None, at(45)).is_none(), "Lab's hold ended at 40");
    assert_eq!(p.peer_holds(at(45)).count(), 1);
    // Readable again: the peer's list is the truth (a release there ends
    // the hold here too).
    let fx = p.on_peer(Ok(vec![]), at(50));
    assert_eq!(fx, vec![event(HaEvent::PeerReadable, false)]);
    assert!(p.hold("HQ", None, at(50)).is_none());
    assert_eq!(p.peer_error(), None);
}

#[test]
fn a_takeover_keeps_the_peers_holds() {
    // A hold placed on the active host, read by the standby; then the
    // active host dies and the standby takes over: the group stays held.
    let mut p = standby();
    p.on_peer(Ok(vec![peer_hold("HQ", 3600, "hold --for 1h")]), at(0));
    p.on_peer(Err(PeerError::Unreachable("connection refused".into())), at(5));
    let fx = p.on_role(&role(Active, 6));
    assert!(fx.contains(&Effect::ForgetBeliefs));
    assert_eq!(p.hold("HQ", None, at(7)).map(|h| h.source), Some(HoldSource::Peer));
    assert_eq!(p.push("Branch", Want::Active), PushGate::Send);
}

#[test]
fn events_read_as_sentences() {
    let e = HaEvent::BecameActive { address: addr() };
    assert_eq!(e.kind(), "BecameActive");
    assert!(e.to_string().contains("198.51.100.50"));
    let e = HaEvent::PeerUnreadable {
        error: PeerError::Shape("no \"groups\"".into()),
    };
    assert!(e.to_string().contains("kept until they end"), "{e}");
}
