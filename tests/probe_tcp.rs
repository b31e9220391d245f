//! TCP connect checks against real sockets: loopback listeners on port 0,
//! bindings, and a filtered, reset or unreachable port in a peer namespace.

mod netutil;

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::time::Duration;

use failoverd::health::outcome::Outcome;
use failoverd::probe::icmp::IcmpClients;
use failoverd::probe::tcp::connect;
use netutil::{PeerNet, assert_error, assert_failed, assert_good, require_root};

const SECOND: Duration = Duration::from_secs(1);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A port that was just listened on and is closed again.
fn closed_port(host: &str) -> SocketAddr {
    let listener = TcpListener::bind((ip(host), 0)).unwrap();
    listener.local_addr().unwrap()
}

#[tokio::test]
async fn open_port_is_good_and_closed_port_refused() {
    for host in ["127.0.0.1", "::1"] {
        let listener = TcpListener::bind((ip(host), 0)).unwrap();
        let open = listener.local_addr().unwrap();
        let got = connect(open, SECOND, None, None).await;
        assert_good(&got);
        // The probe closed its side: the accepted connection reads EOF.
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 1];
        assert_eq!(std::io::Read::read(&mut conn, &mut buf).unwrap(), 0);

        let got = connect(closed_port(host), SECOND, None, None).await;
        assert_eq!(
            got,
            Outcome::Failed {
                reason: "connection refused".into()
            }
        );
    }
}

#[tokio::test]
async fn bindings_that_exist_work() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    assert_good(&connect(addr, SECOND, Some(ip("127.0.0.1")), None).await);
    // SO_BINDTODEVICE needs no privilege on an unbound socket (Linux 5.7+).
    assert_good(&connect(addr, SECOND, None, Some("lo")).await);
}

/// Nothing is sent in these: binding fails before the SYN.
#[tokio::test]
async fn missing_source_or_interface_is_a_local_error() {
    let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let got = connect(addr, SECOND, Some(ip("198.51.100.2")), None).await;
    assert_error(&got, "source address 198.51.100.2 not on this host");
    let got = connect("[::1]:9".parse().unwrap(), SECOND, Some(ip("2001:db8::2")), None).await;
    assert_error(&got, "source address 2001:db8::2 not on this host");
    let got = connect(addr, SECOND, None, Some("nosuchif0")).await;
    assert_error(&got, "interface nosuchif0 not found");
}

/// A peer namespace over a veth pair with `rules` on its input, if we are
/// root; returns it with the peer's port 443 on IPv4 and IPv6.
async fn peer_with(test: &str, rules: &[&str]) -> Option<(PeerNet, SocketAddr, SocketAddr)> {
    if !require_root(test) {
        return None;
    }
    let net = PeerNet::new();
    net.wait_ready(&IcmpClients::new()).await;
    net.ns.filter_input(rules);
    let v4 = SocketAddr::new(IpAddr::V4(net.peer_v4), 443);
    let v6 = SocketAddr::new(IpAddr::V6(net.peer_v6), 443);
    Some((net, v4, v6))
}

fn refused() -> Outcome {
    Outcome::Failed {
        reason: "connection refused".into(),
    }
}

#[tokio::test]
async fn filtered_port_is_no_answer() {
    let rules = ["tcp dport 443 drop"];
    let Some((_net, v4, v6)) = peer_with("filtered_port_is_no_answer", &rules).await else {
        return;
    };
    let (g4, g6) = tokio::join!(connect(v4, SECOND, None, None), connect(v6, SECOND, None, None));
    assert_failed(&g4, "no answer to SYN within 1s");
    assert_failed(&g6, "no answer to SYN within 1s");
}

#[tokio::test]
async fn reset_port_is_refused() {
    let rules = ["tcp dport 443 reject with tcp reset"];
    let Some((_net, v4, v6)) = peer_with("reset_port_is_refused", &rules).await else {
        return;
    };
    assert_eq!(connect(v4, SECOND, None, None).await, refused());
    assert_eq!(connect(v6, SECOND, None, None).await, refused());
}

/// IPv4 only: over IPv6 the kernel reports the ICMP error only after the
/// first SYN retransmit (about 1 s), which a 1 s timeout does not reach.
#[tokio::test]
async fn icmp_rejected_port_is_host_unreachable() {
    let rules = ["tcp dport 443 reject with icmpx type host-unreachable"];
    let test = "icmp_rejected_port_is_host_unreachable";
    let Some((_net, v4, _)) = peer_with(test, &rules).await else {
        return;
    };
    let got = connect(v4, SECOND, None, None).await;
    let reason = "host unreachable".into();
    assert_eq!(got, Outcome::Failed { reason });
}

/// Bound to the veth's address and interface, the SYN reaches the peer:
/// nothing listens there, so the answer is a reset.
#[tokio::test]
async fn source_and_interface_on_veth_reach_peer() {
    let test = "source_and_interface_on_veth_reach_peer";
    let Some((net, v4, _)) = peer_with(test, &[]).await else {
        return;
    };
    let source = Some(IpAddr::V4(net.host_v4));
    assert_eq!(connect(v4, SECOND, source, Some(&net.host_if)).await, refused());
    let source = Some(IpAddr::V6(net.host_v6));
    let v6 = SocketAddr::new(IpAddr::V6(net.peer_v6), 443);
    assert_eq!(connect(v6, SECOND, source, Some(&net.host_if)).await, refused());
}
