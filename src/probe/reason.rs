//! Texts for what this host's sockets report, shared by the ICMP and TCP
//! checks: which errno is a local fault (`Error`) and which is the network's
//! answer (`Failed`), worded for an admin reading a log line or a mail.
//!
//! Kept in one place so both protocols call the same fault by the same name.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::health::outcome::Outcome;

/// A duration as an admin writes it in the settings: "1s", "250ms", "1.5s".
///
/// Reasons quote the configured timeout, so they read like the settings file
/// rather than like Rust's `Debug` output ("1.5s", not "1.500000000s").
pub(crate) fn human_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        return format!("{}s", d.as_secs());
    }
    if !d.as_nanos().is_multiple_of(1_000_000) {
        return format!("{d:?}");
    }
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let frac = format!("{:03}", ms % 1000);
    format!("{}.{}s", ms / 1000, frac.trim_end_matches('0'))
}

/// The OS text of an error without Rust's " (os error N)" suffix and with a
/// lower-case start, so it reads well after a colon.
pub(crate) fn os_text(err: &io::Error) -> String {
    let text = err.to_string();
    let text = match text.rfind(" (os error ") {
        Some(at) => &text[..at],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

pub(crate) fn error(reason: impl Into<String>) -> Outcome {
    Outcome::Error { reason: reason.into() }
}

pub(crate) fn failed(reason: impl Into<String>) -> Outcome {
    Outcome::Failed { reason: reason.into() }
}

/// A source address whose family differs from the target's can never work;
/// the settings should have caught it, but the check must not guess.
pub(crate) fn family_mismatch(source: IpAddr, target: IpAddr) -> Option<Outcome> {
    (source.is_ipv4() != target.is_ipv4()).then(|| {
        error(format!(
            "source address {source} and target {target} are of different IP versions"
        ))
    })
}

/// Binding to the configured source address failed.
pub(crate) fn bind_source_error(err: &io::Error, source: IpAddr) -> Outcome {
    if err.kind() == io::ErrorKind::AddrNotAvailable {
        return error(format!("source address {source} not on this host"));
    }
    error(format!("cannot bind to source address {source}: {}", os_text(err)))
}

/// Binding to the configured interface (SO_BINDTODEVICE) failed.
pub(crate) fn bind_device_error(err: &io::Error, interface: &str) -> Outcome {
    if err.raw_os_error() == Some(libc::ENODEV) {
        return error(format!("interface {interface} not found"));
    }
    if err.kind() == io::ErrorKind::PermissionDenied {
        return error(format!(
            "binding to interface {interface} not permitted: grant CAP_NET_RAW"
        ));
    }
    error(format!("cannot bind to interface {interface}: {}", os_text(err)))
}

/// An error the kernel returned at once from `sendto` or `connect`, before
/// anything left this host.
///
/// Only two of these are the network's answer: EHOSTUNREACH (neighbour
/// resolution failed, or an unreachable route) and ECONNREFUSED. Everything
/// else means the check could not be made here, so it must not count
/// against the target.
pub(crate) fn local_send_error(
    err: &io::Error,
    dest: IpAddr,
    source: Option<IpAddr>,
    interface: Option<&str>,
) -> Outcome {
    use io::ErrorKind as K;
    match err.kind() {
        K::HostUnreachable => failed("host unreachable"),
        K::ConnectionRefused => failed("connection refused"),
        // The kernel also says ENETUNREACH when the bound source address
        // has gone: name the real fault.
        K::NetworkUnreachable => match source {
            Some(source) if !is_local(source) => error(format!("source address {source} not on this host")),
            _ => error(format!("no local route to {dest}")),
        },
        K::AddrNotAvailable => match source {
            Some(source) => error(format!("source address {source} not on this host")),
            None => error(format!("no usable local address or port to reach {dest}")),
        },
        K::PermissionDenied => error(format!(
            "sending to {dest} not permitted on this host (local firewall or prohibit route): {}",
            os_text(err)
        )),
        K::NetworkDown => error(format!("local network down, cannot reach {dest}")),
        _ if is_device_gone(err) => match interface {
            Some(name) => error(format!("interface {name} not found")),
            None => error(format!("interface missing, cannot reach {dest}")),
        },
        _ => error(format!("cannot send to {dest}: {}", os_text(err))),
    }
}

/// Whether a send failed because the bound interface is gone (or was
/// deleted and created again, under a new index).
pub(crate) fn is_device_gone(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::ENODEV | libc::ENXIO))
}

/// Whether `addr` is an address of this host: a UDP socket can bind to it.
fn is_local(addr: IpAddr) -> bool {
    let domain = socket2::Domain::for_address(SocketAddr::new(addr, 0));
    socket2::Socket::new(domain, socket2::Type::DGRAM, None)
        .and_then(|s| s.bind(&SocketAddr::new(addr, 0).into()))
        .is_ok()
}

/// The kernel's interface index for `name`, read from sysfs (no `unsafe`
/// `if_nametoindex`); a link-local IPv6 target needs it as its scope.
pub(crate) fn interface_index(name: &str) -> Option<u32> {
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return None;
    }
    let text = std::fs::read_to_string(format!("/sys/class/net/{name}/ifindex")).ok()?;
    text.trim().parse().ok()
}

/// The scope id a target address needs: the interface index for a
/// link-local IPv6 target, none otherwise.
pub(crate) fn scope_for(target: IpAddr, interface: Option<&str>) -> Result<Option<u32>, Outcome> {
    let IpAddr::V6(v6) = target else {
        return Ok(None);
    };
    if !v6.is_unicast_link_local() {
        return Ok(None);
    }
    let Some(name) = interface else {
        return Err(error(format!("link-local target {target} needs an interface")));
    };
    match interface_index(name) {
        Some(index) => Ok(Some(index)),
        None => Err(error(format!("interface {name} not found"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(code: i32) -> io::Error {
        io::Error::from_raw_os_error(code)
    }

    #[test]
    fn durations_read_like_settings() {
        assert_eq!(human_duration(Duration::from_secs(1)), "1s");
        assert_eq!(human_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(human_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(human_duration(Duration::from_millis(2050)), "2.05s");
        assert_eq!(human_duration(Duration::from_micros(150)), "150µs");
    }

    #[test]
    fn os_text_drops_the_errno_suffix() {
        assert_eq!(os_text(&os(libc::ENETUNREACH)), "network is unreachable");
    }

    #[test]
    fn send_errors_split_local_from_remote() {
        let dest: IpAddr = "203.0.113.9".parse().unwrap();
        let src: IpAddr = "198.51.100.2".parse().unwrap();
        let cases = [
            (libc::EHOSTUNREACH, failed("host unreachable")),
            (libc::ECONNREFUSED, failed("connection refused")),
            (
                libc::EADDRNOTAVAIL,
                error("source address 198.51.100.2 not on this host"),
            ),
        ];
        for (code, want) in cases {
            assert_eq!(local_send_error(&os(code), dest, Some(src), None), want, "{code}");
        }
        let gone = local_send_error(&os(libc::ENETUNREACH), dest, Some(src), None);
        assert_eq!(gone, error("source address 198.51.100.2 not on this host"));
        let no_route = error("no local route to 203.0.113.9");
        let here = Some([127, 0, 0, 1].into());
        assert_eq!(local_send_error(&os(libc::ENETUNREACH), dest, here, None), no_route);
        assert_eq!(local_send_error(&os(libc::ENETUNREACH), dest, None, None), no_route);
        let gone = local_send_error(&os(libc::ENODEV), dest, None, Some("ppp0"));
        assert_eq!(gone, error("interface ppp0 not found"));
        for code in [libc::EPERM, libc::EACCES, libc::ENETDOWN, libc::ENOBUFS] {
            let got = local_send_error(&os(code), dest, None, None);
            assert!(matches!(got, Outcome::Error { .. }), "{code}: {got:?}");
        }
    }

    #[test]
    fn device_errors_name_the_interface() {
        assert_eq!(
            bind_device_error(&os(libc::ENODEV), "eth9"),
            error("interface eth9 not found")
        );
        let got = bind_device_error(&os(libc::EPERM), "eth9");
        assert!(matches!(got, Outcome::Error { reason } if reason.contains("CAP_NET_RAW")));
    }

    #[test]
    fn link_local_targets_need_an_interface() {
        let ll: IpAddr = "fe80::1".parse().unwrap();
        assert!(scope_for(ll, None).is_err());
        assert_eq!(scope_for(ll, Some("lo")), Ok(Some(1)));
        assert!(scope_for(ll, Some("nosuchif0")).is_err());
        assert_eq!(scope_for("2001:db8::1".parse().unwrap(), None), Ok(None));
    }
}
