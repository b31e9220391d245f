//! ICMP checks against real sockets: loopback, bindings, concurrency of
//! streams, and faults made with a veth peer namespace and nftables.

mod netutil;

use std::net::IpAddr;
use std::time::Duration;

use failoverd::health::outcome::Outcome;
use failoverd::probe::icmp::{Family, IcmpBinding, IcmpClients, IcmpStreamState, SocketKind};
use netutil::{PeerNet, assert_error, assert_failed, assert_good, require_root};

const SECOND: Duration = Duration::from_secs(1);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn bound(source: Option<&str>, interface: Option<&str>) -> IcmpStreamState {
    IcmpStreamState::new(IcmpBinding {
        source: source.map(ip),
        interface: interface.map(String::from),
    })
}

/// ICMP tests need root, CAP_NET_RAW or a wide ping_group_range.
fn icmp_allowed(test: &str) -> bool {
    match failoverd::probe::icmp::check_permission(Family::V4) {
        Ok(_) => true,
        Err(err) => {
            netutil::skipped(&format!("{err} ({test})"));
            false
        }
    }
}

#[tokio::test]
async fn loopback_addresses_answer() {
    if !icmp_allowed("loopback_addresses_answer") {
        return;
    }
    let clients = IcmpClients::new();
    for addr in ["127.0.0.1", "127.0.0.2", "::1"] {
        let mut stream = bound(None, None);
        let got = clients.ping(ip(addr), SECOND, &mut stream).await;
        assert_good(&got);
    }
}

/// Whether this process's gid is inside net.ipv4.ping_group_range.
fn gid_in_ping_range() -> bool {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range").unwrap();
    let mut bounds = range.split_whitespace().map(|n| n.parse::<u32>().unwrap());
    let (low, high) = (bounds.next().unwrap(), bounds.next().unwrap());
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let gid_line = status.lines().find(|l| l.starts_with("Gid:")).unwrap();
    let gid: u32 = gid_line.split_whitespace().nth(2).unwrap().parse().unwrap();
    (low..=high).contains(&gid)
}

/// The datagram socket is tried first; here, as root with the default
/// ping_group_range ("1 0"), it is refused and the raw socket is used. The
/// opposite case runs in tests/netns.rs with a widened range.
#[tokio::test]
async fn socket_kind_follows_ping_group_range() {
    if !require_root("socket_kind_follows_ping_group_range") {
        return;
    }
    let want = if gid_in_ping_range() {
        SocketKind::Datagram
    } else {
        SocketKind::Raw
    };
    assert_eq!(failoverd::probe::icmp::check_permission(Family::V4).unwrap(), want);
    let clients = IcmpClients::new();
    let binding = IcmpBinding::default();
    assert_eq!(clients.socket_kind(Family::V4, &binding), None);
    let mut stream = bound(None, None);
    assert_good(&clients.ping(ip("127.0.0.1"), SECOND, &mut stream).await);
    assert_eq!(clients.socket_kind(Family::V4, &binding), Some(want));
}

/// Two streams to one host on one socket, pinging at the same time: with
/// equal sequence numbers they would take each other's replies. Here (raw
/// socket as root) identifiers differ too; tests/netns.rs repeats this on a
/// datagram socket, where only the sequence numbers differ.
#[tokio::test]
async fn two_streams_to_one_host_lose_nothing() {
    if !icmp_allowed("two_streams_to_one_host_lose_nothing") {
        return;
    }
    let clients = IcmpClients::new();
    for host in ["127.0.0.1", "::1"] {
        let bad = netutil::two_streams_in_lockstep(&clients, ip(host), 200).await;
        assert!(bad.is_empty(), "{host}: {} not good: {bad:?}", bad.len());
    }
}

/// Many streams on many tasks and threads, to several hosts at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_streams_on_threads_lose_nothing() {
    if !icmp_allowed("many_streams_on_threads_lose_nothing") {
        return;
    }
    let clients = IcmpClients::new();
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let clients = clients.clone();
            let addr = ip(&format!("127.0.0.{}", 1 + i % 4));
            tokio::spawn(async move {
                let mut stream = bound(None, None);
                let mut bad = Vec::new();
                for _ in 0..100 {
                    let got = clients.ping(addr, SECOND, &mut stream).await;
                    if !matches!(got, Outcome::Good { .. }) {
                        bad.push(got);
                    }
                }
                bad
            })
        })
        .collect();
    for task in tasks {
        let bad = task.await.unwrap();
        assert!(bad.is_empty(), "{} not good: {bad:?}", bad.len());
    }
}

#[tokio::test]
async fn bindings_that_exist_work() {
    if !icmp_allowed("bindings_that_exist_work") {
        return;
    }
    let clients = IcmpClients::new();
    let mut by_source = bound(Some("127.0.0.1"), None);
    assert_good(&clients.ping(ip("127.0.0.2"), SECOND, &mut by_source).await);
    let mut by_device = bound(None, Some("lo"));
    assert_good(&clients.ping(ip("127.0.0.1"), SECOND, &mut by_device).await);
    let mut v6 = bound(Some("::1"), Some("lo"));
    assert_good(&clients.ping(ip("::1"), SECOND, &mut v6).await);
}

/// Nothing is sent in these: the bind fails before any packet leaves.
#[tokio::test]
async fn missing_source_or_interface_is_a_local_error() {
    if !icmp_allowed("missing_source_or_interface_is_a_local_error") {
        return;
    }
    let clients = IcmpClients::new();
    let mut v4 = bound(Some("198.51.100.2"), None);
    let got = clients.ping(ip("127.0.0.1"), SECOND, &mut v4).await;
    assert_error(&got, "source address 198.51.100.2 not on this host");
    let mut v6 = bound(Some("2001:db8::2"), None);
    let got = clients.ping(ip("::1"), SECOND, &mut v6).await;
    assert_error(&got, "source address 2001:db8::2 not on this host");
    let mut dev = bound(None, Some("nosuchif0"));
    let got = clients.ping(ip("127.0.0.1"), SECOND, &mut dev).await;
    assert_error(&got, "interface nosuchif0 not found");
    let mut mixed = bound(Some("127.0.0.1"), None);
    let got = clients.ping(ip("::1"), SECOND, &mut mixed).await;
    assert_error(&got, "source address 127.0.0.1 and target ::1");
    let mut link_local = bound(None, None);
    let got = clients.ping(ip("fe80::1"), SECOND, &mut link_local).await;
    assert_error(&got, "link-local target fe80::1 needs an interface");
}

/// A peer namespace over a veth pair that answers pings, if we are root.
async fn ready_peer(test: &str) -> Option<(PeerNet, IcmpClients)> {
    if !require_root(test) {
        return None;
    }
    let net = PeerNet::new();
    let clients = IcmpClients::new();
    net.wait_ready(&clients).await;
    Some((net, clients))
}

/// Ping the peer's IPv4 and IPv6 addresses at the same time.
async fn ping_peer(net: &PeerNet, clients: &IcmpClients) -> (Outcome, Outcome) {
    let (mut s4, mut s6) = (bound(None, None), bound(None, None));
    tokio::join!(
        clients.ping(IpAddr::V4(net.peer_v4), SECOND, &mut s4),
        clients.ping(IpAddr::V6(net.peer_v6), SECOND, &mut s6)
    )
}

#[tokio::test]
async fn dropped_echo_is_no_reply() {
    let Some((net, clients)) = ready_peer("dropped_echo_is_no_reply").await else {
        return;
    };
    net.ns
        .filter_input(&["icmp type echo-request drop", "icmpv6 type echo-request drop"]);
    let (v4, v6) = ping_peer(&net, &clients).await;
    assert_failed(&v4, "no reply within 1s");
    assert_failed(&v6, "no reply within 1s");
}

/// The raw socket (root) sees the ICMP error and names its sender; a
/// datagram socket would only see silence ("no reply within ...").
#[tokio::test]
async fn rejected_echo_names_the_sender() {
    let Some((net, clients)) = ready_peer("rejected_echo_names_the_sender").await else {
        return;
    };
    net.ns.filter_input(&[
        "icmp type echo-request reject with icmp type host-unreachable",
        "icmpv6 type echo-request reject with icmpv6 type addr-unreachable",
    ]);
    let (v4, v6) = ping_peer(&net, &clients).await;
    let reason = format!("host unreachable (ICMP from {})", net.peer_v4);
    assert_eq!(v4, Outcome::Failed { reason });
    let reason = format!("address unreachable (ICMP from {})", net.peer_v6);
    assert_eq!(v6, Outcome::Failed { reason });
}

#[tokio::test]
async fn dead_peer_link_is_no_reply() {
    let Some((net, clients)) = ready_peer("dead_peer_link_is_no_reply").await else {
        return;
    };
    net.peer_link_down();
    let (v4, mut v6) = ping_peer(&net, &clients).await;
    assert_failed(&v4, "no reply within 1s");
    // While the kernel still resolves the dead neighbour, its queue can be
    // full of earlier echoes: the send fails here with ENOBUFS, a local
    // error that counts neither way (the engine's runs go on across it).
    // The next checks are the network's answer.
    for _ in 0..5 {
        match &v6 {
            Outcome::Error { reason } if reason.contains("no buffer space") => {
                v6 = ping_peer(&net, &clients).await.1;
            }
            _ => break,
        }
    }
    assert_failed(&v6, "no reply within 1s");
}

/// A source address that disappears after its socket was opened, while
/// the route to the target stays.
#[tokio::test]
async fn source_address_removed_later_is_a_local_error() {
    if !require_root("source_address_removed_later_is_a_local_error") {
        return;
    }
    let net = PeerNet::new();
    let clients = IcmpClients::new();
    net.wait_ready(&clients).await;
    // Veth pairs use 198.18.0.0/16; the other half of the range is free.
    let [_, _, c, d] = net.host_v4.octets();
    let extra = format!("198.19.{c}.{d}");
    let with_len = format!("{extra}/32");
    netutil::run(&["ip", "addr", "add", &with_len, "dev", &net.host_if]);
    net.ns.exec(&["ip", "route", "add", &with_len, "dev", &net.peer_if]);
    let mut stream = bound(Some(&extra), None);
    let peer = IpAddr::V4(net.peer_v4);
    assert_good(&clients.ping(peer, SECOND, &mut stream).await);
    netutil::run(&["ip", "addr", "del", &with_len, "dev", &net.host_if]);
    let got = clients.ping(peer, SECOND, &mut stream).await;
    assert_error(&got, &format!("source address {extra} not on this host"));
    let tcp = failoverd::probe::tcp::connect((peer, 443).into(), SECOND, Some(ip(&extra)), None).await;
    assert_error(&tcp, &format!("source address {extra} not on this host"));
}

/// An interface that is deleted and created again (a VPN or PPP link) gets
/// a new index: the socket bound to the old one must not stay dead.
#[tokio::test]
async fn recreated_interface_works_again() {
    let Some((net, clients)) = ready_peer("recreated_interface_works_again").await else {
        return;
    };
    let peer = IpAddr::V4(net.peer_v4);
    let mut stream = bound(None, Some(&net.host_if));
    assert_good(&clients.ping(peer, SECOND, &mut stream).await);
    net.unwire();
    let gone = clients.ping(peer, SECOND, &mut stream).await;
    assert_error(&gone, &format!("interface {} not found", net.host_if));
    net.wire();
    net.wait_ready(&clients).await;
    assert_good(&clients.ping(peer, SECOND, &mut stream).await);
}
