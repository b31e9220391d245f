//! Turning what surge-ping hands back (a reply packet or an error) into an
//! `Outcome`: echo replies are good, ICMP errors from the path are failed,
//! and anything that stopped the echo from being sent is a local error.

use std::net::IpAddr;
use std::time::Duration;

use surge_ping::{IcmpPacket, Icmpv4Packet, Icmpv6Packet, SurgeError};

use super::IcmpBinding;
use crate::health::outcome::Outcome;
use crate::probe::reason::{error, failed, human_duration, local_send_error};

/// A packet surge-ping matched to our echo request: the echo reply, or an
/// ICMP error quoting the request.
pub(super) fn reply(packet: &IcmpPacket, rtt: Duration) -> Outcome {
    match packet {
        IcmpPacket::V4(p) => reply_v4(p, rtt),
        IcmpPacket::V6(p) => reply_v6(p, rtt),
    }
}

fn reply_v4(p: &Icmpv4Packet, rtt: Duration) -> Outcome {
    let (kind, code) = (p.get_icmp_type().0, p.get_icmp_code().0);
    let from = p.get_source();
    let text = match kind {
        0 => return Outcome::Good { rtt },
        3 => unreachable_v4(code),
        5 => return redirected(IpAddr::V4(from)),
        11 if code == 0 => "TTL exceeded in transit".into(),
        11 => "fragment reassembly time exceeded".into(),
        12 => "parameter problem".into(),
        _ => format!("ICMP type {kind} code {code}"),
    };
    // An error sent to ourselves by ourselves is the kernel giving up on
    // ARP for an on-link target: still the network's silence, so failed.
    if from == p.get_destination() {
        return failed(format!("{text} (no ARP answer, reported by this host)"));
    }
    failed(format!("{text} (ICMP from {from})"))
}

fn unreachable_v4(code: u8) -> String {
    let text = match code {
        0 => "network unreachable",
        1 => "host unreachable",
        2 => "protocol unreachable",
        3 => "port unreachable",
        4 => "fragmentation needed",
        5 => "source route failed",
        6 => "destination network unknown",
        7 => "destination host unknown",
        8 => "source host isolated",
        9 => "network administratively prohibited",
        10 => "host administratively prohibited",
        11 => "network unreachable for TOS",
        12 => "host unreachable for TOS",
        13 => "communication administratively prohibited",
        14 => "host precedence violation",
        15 => "precedence cutoff in effect",
        _ => return format!("destination unreachable (code {code})"),
    };
    text.into()
}

fn reply_v6(p: &Icmpv6Packet, rtt: Duration) -> Outcome {
    let (kind, code) = (p.get_icmpv6_type().0, p.get_icmpv6_code().0);
    let text = match kind {
        129 => return Outcome::Good { rtt },
        1 => unreachable_v6(code),
        2 => "packet too big".into(),
        3 if code == 0 => "hop limit exceeded in transit".into(),
        3 => "fragment reassembly time exceeded".into(),
        4 => "parameter problem".into(),
        137 => return redirected(IpAddr::V6(p.get_source())),
        _ => format!("ICMPv6 type {kind} code {code}"),
    };
    failed(format!("{text} (ICMP from {})", p.get_source()))
}

fn unreachable_v6(code: u8) -> String {
    let text = match code {
        0 => "no route to destination",
        1 => "administratively prohibited",
        2 => "beyond scope of source address",
        3 => "address unreachable",
        4 => "port unreachable",
        5 => "source address failed ingress/egress policy",
        6 => "reject route to destination",
        _ => return format!("destination unreachable (code {code})"),
    };
    text.into()
}

/// A redirect quotes our request, so surge-ping hands it to us in place of
/// the echo reply, which then arrives unawaited. The target may well have
/// answered: the result is unknown, which must not count as a failure.
fn redirected(from: IpAddr) -> Outcome {
    error(format!("ICMP redirect from {from} taken for the reply; result unknown"))
}

/// An error from surge-ping's `ping`.
pub(super) fn failure(err: SurgeError, dest: IpAddr, timeout: Duration, binding: &IcmpBinding) -> Outcome {
    match err {
        SurgeError::Timeout { .. } => failed(format!("no reply within {}", human_duration(timeout))),
        SurgeError::IOError(io) => local_send_error(&io, dest, binding.source, binding.interface.as_deref()),
        SurgeError::IdenticalRequests { seq, .. } => error(format!(
            "echo sequence {seq} to {dest} already in flight (internal error)"
        )),
        SurgeError::ClientDestroyed => error("ICMP socket closed"),
        SurgeError::NetworkError => error("ICMP reply lost inside the prober"),
        other => error(format!("cannot send echo request to {dest}: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use socket2::Type;
    use std::net::Ipv4Addr;
    use surge_ping::PingSequence;

    const US: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const ROUTER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const TARGET: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 9);

    /// An IPv4 header (no options) from `src` to `dst` carrying `payload`.
    fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, payload: &[u8]) -> Vec<u8> {
        let len = (20 + payload.len()) as u16;
        let mut p = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, proto, 0, 0];
        p[2..4].copy_from_slice(&len.to_be_bytes());
        p.extend_from_slice(&src.octets());
        p.extend_from_slice(&dst.octets());
        p.extend_from_slice(payload);
        p
    }

    /// A raw-socket packet: ICMP `kind`/`code` from `from` quoting our echo.
    fn icmp_error(from: Ipv4Addr, kind: u8, code: u8) -> Vec<u8> {
        let echo = [8, 0, 0, 0, 0x12, 0x34, 0, 7];
        let quoted = ipv4(US, TARGET, 1, &echo);
        let mut icmp = vec![kind, code, 0, 0, 0, 0, 0, 0];
        icmp.extend_from_slice(&quoted);
        ipv4(from, US, 1, &icmp)
    }

    fn decode(buf: &[u8]) -> IcmpPacket {
        IcmpPacket::V4(Icmpv4Packet::decode(buf, Type::RAW, ROUTER, US).unwrap())
    }

    #[test]
    fn router_unreachable_names_the_router() {
        let packet = decode(&icmp_error(ROUTER, 3, 1));
        assert_eq!(packet.get_sequence(), PingSequence(7));
        assert_eq!(
            reply(&packet, Duration::ZERO),
            failed("host unreachable (ICMP from 192.0.2.1)")
        );
        let packet = decode(&icmp_error(ROUTER, 3, 13));
        assert_eq!(
            reply(&packet, Duration::ZERO),
            failed("communication administratively prohibited (ICMP from 192.0.2.1)")
        );
    }

    #[test]
    fn own_unreachable_means_no_arp_answer() {
        let packet = decode(&icmp_error(US, 3, 1));
        let got = reply(&packet, Duration::ZERO);
        assert!(matches!(got, Outcome::Failed { reason } if reason.contains("no ARP answer")));
    }

    #[test]
    fn redirect_is_not_a_failure() {
        let packet = decode(&icmp_error(ROUTER, 5, 1));
        assert!(matches!(reply(&packet, Duration::ZERO), Outcome::Error { .. }));
    }

    #[test]
    fn echo_reply_is_good() {
        let echo = [0, 0, 0, 0, 0x12, 0x34, 0, 7, 1, 2, 3, 4];
        let packet = decode(&ipv4(TARGET, US, 1, &echo));
        let rtt = Duration::from_millis(3);
        assert_eq!(reply(&packet, rtt), Outcome::Good { rtt });
    }

    #[test]
    fn timeout_is_failed_with_the_timeout() {
        let err = SurgeError::Timeout { seq: PingSequence(1) };
        let got = failure(err, TARGET.into(), Duration::from_secs(1), &IcmpBinding::default());
        assert_eq!(got, failed("no reply within 1s"));
    }

    #[test]
    fn send_errors_are_local() {
        let io = std::io::Error::from_raw_os_error(libc::ENETUNREACH);
        let got = failure(
            io.into(),
            TARGET.into(),
            Duration::from_secs(1),
            &IcmpBinding::default(),
        );
        assert_eq!(got, error("no local route to 203.0.113.9"));
    }
}
