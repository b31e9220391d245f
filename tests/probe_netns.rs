//! Checks that need a network namespace or a user of their own: this test
//! binary re-runs one of its tests inside a fresh network namespace (only
//! `lo`, no routes) and/or as the unprivileged user `nobody`:
//!
//! - as root, `net.ipv4.ping_group_range` widened: the datagram socket is
//!   tried first and used;
//! - as root, the default range ("1 0"): the raw socket is the fallback;
//! - as nobody, range widened: the unprivileged path the daemon will use
//!   under systemd without CAP_NET_RAW;
//! - as nobody, default range: the clear "what to grant" error.
//!
//! In the fresh namespace, unlike on this host (which has a default route),
//! a target without a route can be probed and nothing leaves the machine.

mod netutil;

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::time::Duration;

use failoverd::probe::icmp::{Family, IcmpBinding, IcmpClients, IcmpError, IcmpStreamState, SocketKind};
use netutil::{INNER_ENV, Namespace, assert_error, assert_good, require_root};

const SECOND: Duration = Duration::from_secs(1);
const WANT_ENV: &str = "FAILOVERD_PROBE_WANT";
const INNER: &str = "inside_fresh_namespace";
const NOBODY: u32 = 65534;
const WIDE_RANGE: &str = "net.ipv4.ping_group_range=0 2147483647";

#[test]
fn datagram_socket_is_tried_first() {
    if !require_root("datagram_socket_is_tried_first") {
        return;
    }
    let ns = Namespace::new();
    ns.exec(&["sysctl", "-qw", WIDE_RANGE]);
    ns.run_test(INNER, None, &[(WANT_ENV, "datagram")]);
}

#[test]
fn raw_socket_is_the_fallback() {
    if !require_root("raw_socket_is_the_fallback") {
        return;
    }
    let ns = Namespace::new();
    ns.run_test(INNER, None, &[(WANT_ENV, "raw")]);
}

#[test]
fn unprivileged_user_in_ping_group_range() {
    if !require_root("unprivileged_user_in_ping_group_range") {
        return;
    }
    let ns = Namespace::new();
    ns.exec(&["sysctl", "-qw", WIDE_RANGE]);
    ns.run_test(INNER, Some(NOBODY), &[(WANT_ENV, "datagram")]);
}

#[test]
fn unprivileged_user_without_permission() {
    if !require_root("unprivileged_user_without_permission") {
        return;
    }
    let ns = Namespace::new();
    ns.run_test(INNER, Some(NOBODY), &[(WANT_ENV, "denied")]);
}

/// Run by the tests above inside their namespace, as their user.
#[tokio::test] // one thread: the lockstep pings must overlap
#[ignore = "re-run inside a fresh network namespace by the tests of tests/netns.rs"]
async fn inside_fresh_namespace() {
    if std::env::var_os(INNER_ENV).is_none() {
        netutil::skipped("only meaningful when re-run by the other tests of tests/netns.rs");
        return;
    }
    let clients = IcmpClients::new();
    let want = match std::env::var(WANT_ENV).as_deref() {
        Ok("datagram") => SocketKind::Datagram,
        Ok("raw") => SocketKind::Raw,
        _ => return permission_is_denied_clearly(&clients).await,
    };
    for family in [Family::V4, Family::V6] {
        assert_eq!(failoverd::probe::icmp::check_permission(family).unwrap(), want);
    }
    loopback_answers(&clients, want).await;
    concurrent_streams_lose_nothing(&clients).await;
    no_route_is_a_local_error(&clients).await;
    tcp_works(&clients).await;
    eprintln!("inside namespace: {want:?} sockets, all checks passed");
}

async fn permission_is_denied_clearly(clients: &IcmpClients) {
    let want = format!(
        "ICMP needs permission: run as root, grant CAP_NET_RAW \
         (AmbientCapabilities=CAP_NET_RAW), or widen net.ipv4.ping_group_range \
         to include gid {NOBODY}"
    );
    for (family, addr) in [(Family::V4, "127.0.0.1"), (Family::V6, "::1")] {
        let err = failoverd::probe::icmp::check_permission(family).unwrap_err();
        assert!(matches!(err, IcmpError::Permission { .. }), "{err:?}");
        assert_eq!(err.to_string(), want);
        let mut stream = IcmpStreamState::new(IcmpBinding::default());
        let got = clients.ping(addr.parse().unwrap(), SECOND, &mut stream).await;
        assert_error(&got, &want);
    }
    eprintln!("inside namespace: permission denied as expected");
}

async fn loopback_answers(clients: &IcmpClients, want: SocketKind) {
    for (addr, family) in [("127.0.0.1", Family::V4), ("::1", Family::V6)] {
        let mut stream = IcmpStreamState::new(IcmpBinding::default());
        let got = clients.ping(addr.parse().unwrap(), SECOND, &mut stream).await;
        assert_good(&got);
        let kind = clients.socket_kind(family, &IcmpBinding::default());
        assert_eq!(kind, Some(want), "{family}");
    }
}

/// On a datagram socket the kernel sets one identifier for every stream, so
/// only the sequence blocks keep these streams apart (surge-ping #73).
async fn concurrent_streams_lose_nothing(clients: &IcmpClients) {
    for host in ["127.0.0.1", "::1"] {
        let bad = netutil::two_streams_in_lockstep(clients, host.parse().unwrap(), 200).await;
        assert!(bad.is_empty(), "{host}: {} not good: {bad:?}", bad.len());
    }
}

async fn no_route_is_a_local_error(clients: &IcmpClients) {
    for target in ["203.0.113.9", "2001:db8::9"] {
        let addr: IpAddr = target.parse().unwrap();
        let mut stream = IcmpStreamState::new(IcmpBinding::default());
        let want = format!("no local route to {target}");
        assert_error(&clients.ping(addr, SECOND, &mut stream).await, &want);
        let tcp = failoverd::probe::tcp::connect(SocketAddr::new(addr, 443), SECOND, None, None).await;
        assert_error(&tcp, &want);
    }
}

/// TCP needs no privilege; SO_BINDTODEVICE may, so it is only reported.
async fn tcp_works(clients: &IcmpClients) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    assert_good(&failoverd::probe::tcp::connect(addr, SECOND, None, None).await);
    let by_device = failoverd::probe::tcp::connect(addr, SECOND, None, Some("lo")).await;
    let lo = IcmpBinding {
        source: None,
        interface: Some("lo".into()),
    };
    let mut stream = IcmpStreamState::new(lo);
    let icmp = clients.ping(addr.ip(), SECOND, &mut stream).await;
    eprintln!("bound to lo: TCP {by_device:?}, ICMP {icmp:?}");
}
