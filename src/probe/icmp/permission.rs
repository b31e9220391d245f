//! Whether this process may open ICMP sockets at all, and if not, what an
//! admin must grant: checked once at start (the daemon exits 2 without it)
//! and again to explain a socket that cannot be opened.

use std::io;

use socket2::{Domain, Protocol, Socket, Type};

use super::{Family, SocketKind, reason};

/// ICMP sockets cannot be opened at all.
#[derive(Debug, thiserror::Error)]
pub enum IcmpError {
    #[error(
        "ICMP needs permission: run as root, grant CAP_NET_RAW \
         (AmbientCapabilities=CAP_NET_RAW), or widen net.ipv4.ping_group_range \
         to include gid {}", gid_text(*.gid)
    )]
    Permission { gid: Option<u32> },
    #[error("cannot open an {family} ICMP socket: {}", reason::os_text(.source))]
    Socket {
        family: Family,
        #[source]
        source: io::Error,
    },
}

fn gid_text(gid: Option<u32>) -> String {
    gid.map_or_else(|| "of this process".into(), |g| g.to_string())
}

/// Test that ICMP sockets of `family` can be opened, the way the clients
/// will open them (datagram first, then raw); the daemon exits 2 without.
pub fn check_permission(family: Family) -> Result<SocketKind, IcmpError> {
    let (domain, proto) = match family {
        Family::V4 => (Domain::IPV4, Protocol::ICMPV4),
        Family::V6 => (Domain::IPV6, Protocol::ICMPV6),
    };
    let first = match Socket::new(domain, Type::DGRAM, Some(proto)) {
        Ok(_) => return Ok(SocketKind::Datagram),
        Err(err) => err,
    };
    match Socket::new(domain, Type::RAW, Some(proto)) {
        Ok(_) => Ok(SocketKind::Raw),
        Err(err) if is_permission(&first) && is_permission(&err) => Err(IcmpError::Permission { gid: effective_gid() }),
        // The more telling error: the datagram one unless it was only
        // the group range refusing.
        Err(err) => Err(IcmpError::Socket {
            family,
            source: if is_permission(&first) { err } else { first },
        }),
    }
}

pub(super) fn is_permission(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::PermissionDenied
}

/// The effective gid, from /proc (std has no safe `getegid`).
fn effective_gid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Gid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_text_says_what_to_grant() {
        let text = IcmpError::Permission { gid: Some(997) }.to_string();
        assert_eq!(
            text,
            "ICMP needs permission: run as root, grant CAP_NET_RAW \
             (AmbientCapabilities=CAP_NET_RAW), or widen net.ipv4.ping_group_range \
             to include gid 997"
        );
    }

    #[test]
    fn gid_is_read() {
        assert!(effective_gid().is_some());
    }
}
