//! Turning an ICMP error about one of our echo requests into an `Outcome`:
//! errors from the path are failed (the network answered no). Redirects
//! are not errors: the reply follows them, so they are ignored.

use std::net::IpAddr;

use super::Family;
use crate::health::outcome::Outcome;
use crate::probe::reason::failed;

/// The outcome an ICMP error of `kind`/`code` from `from` means, sent to
/// `to` (the raw IPv4 header's destination, when known); `None` for a type
/// that is no error about a request (echo replies, redirects, others).
pub(super) fn error(family: Family, kind: u8, code: u8, from: IpAddr, to: Option<IpAddr>) -> Option<Outcome> {
    let text = match (family, kind) {
        (Family::V4, 3) => unreachable_v4(code),
        (Family::V4, 11) if code == 0 => "TTL exceeded in transit".into(),
        (Family::V4, 11) => "fragment reassembly time exceeded".into(),
        (Family::V4, 12) => "parameter problem".into(),
        (Family::V6, 1) => unreachable_v6(code),
        (Family::V6, 2) => "packet too big".into(),
        (Family::V6, 3) if code == 0 => "hop limit exceeded in transit".into(),
        (Family::V6, 3) => "fragment reassembly time exceeded".into(),
        (Family::V6, 4) => "parameter problem".into(),
        _ => return None,
    };
    // An error sent to ourselves by ourselves is the kernel giving up on
    // ARP for an on-link target: still the network's silence, so failed.
    if to == Some(from) {
        return Some(failed(format!("{text} (no ARP answer, reported by this host)")));
    }
    Some(failed(format!("{text} (ICMP from {from})")))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_name_the_sender() {
        let router: IpAddr = "192.0.2.1".parse().unwrap();
        let us: IpAddr = "198.18.0.1".parse().unwrap();
        assert_eq!(
            error(Family::V4, 11, 0, router, Some(us)),
            Some(failed("TTL exceeded in transit (ICMP from 192.0.2.1)"))
        );
        assert_eq!(
            error(Family::V4, 3, 99, router, Some(us)),
            Some(failed("destination unreachable (code 99) (ICMP from 192.0.2.1)"))
        );
        assert_eq!(error(Family::V4, 5, 1, router, Some(us)), None, "redirect");
        assert_eq!(error(Family::V6, 137, 0, router, None), None, "redirect");
        assert_eq!(error(Family::V4, 0, 0, router, None), None, "echo reply");
    }
}
