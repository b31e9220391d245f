//! TCP connect checks: one non-blocking connect to an address and port,
//! optionally from a source address or through an interface, closed again
//! at once when it succeeds.
//!
//! The connect is issued through socket2 rather than `tokio::net::TcpSocket`
//! so that an error the kernel returns at once (nothing was sent: a local
//! fault such as no route) stays apart from one that arrives later (the
//! network answered: an ICMP error from a router, a reset).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpStream;

use super::reason::{
    bind_device_error, bind_source_error, error, failed, family_mismatch, human_duration, local_send_error, os_text,
    scope_for,
};
use crate::health::outcome::Outcome;

/// Connect to `addr` within `timeout`; the RTT is the time to connect.
///
/// No data is sent; a successful connection is closed normally (FIN) at
/// once. Refused, host unreachable and no answer are `Failed`; a missing
/// local route, source address or interface is `Error`.
pub async fn connect(addr: SocketAddr, timeout: Duration, source: Option<IpAddr>, interface: Option<&str>) -> Outcome {
    let (socket, addr) = match open(addr, source, interface) {
        Ok(opened) => opened,
        Err(outcome) => return outcome,
    };
    let started = Instant::now();
    match socket.connect(&addr.into()) {
        Ok(()) => {
            return Outcome::Good { rtt: started.elapsed() };
        }
        Err(err) if err.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(err) => return local_send_error(&err, addr.ip(), source, interface),
    }
    // To a nearby peer (loopback, the same LAN) the handshake is often over
    // by the time connect() returns: then the socket needs no readiness
    // registration, no wake-up and no timer. Elsewhere this costs one
    // getpeername() that fails with ENOTCONN.
    if socket.peer_addr().is_ok() {
        return Outcome::Good { rtt: started.elapsed() };
    }
    if let Ok(Some(err)) = socket.take_error() {
        return answered(&err, addr.ip());
    }
    let stream = match TcpStream::from_std(socket.into()) {
        Ok(stream) => stream,
        Err(err) => return error(format!("cannot watch TCP socket: {}", os_text(&err))),
    };
    match tokio::time::timeout(timeout, established(&stream)).await {
        Ok(Ok(())) => Outcome::Good { rtt: started.elapsed() },
        Ok(Err(err)) => answered(&err, addr.ip()),
        Err(_) => failed(format!("no answer to SYN within {}", human_duration(timeout))),
    }
}

/// A non-blocking TCP socket bound as configured, and the target address
/// with the scope a link-local IPv6 target needs.
fn open(
    mut addr: SocketAddr,
    source: Option<IpAddr>,
    interface: Option<&str>,
) -> Result<(Socket, SocketAddr), Outcome> {
    if let Some(mismatch) = source.and_then(|s| family_mismatch(s, addr.ip())) {
        return Err(mismatch);
    }
    let scope = scope_for(addr.ip(), interface)?;
    if let (SocketAddr::V6(v6), Some(scope)) = (&mut addr, scope)
        && v6.scope_id() == 0
    {
        v6.set_scope_id(scope);
    }
    // Non-blocking from the start (SOCK_NONBLOCK): no second syscall.
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::STREAM.nonblocking(),
        Some(Protocol::TCP),
    )
    .map_err(|err| error(format!("cannot open TCP socket: {}", os_text(&err))))?;
    if let Some(interface) = interface {
        socket
            .bind_device(Some(interface.as_bytes()))
            .map_err(|err| bind_device_error(&err, interface))?;
    }
    if let Some(source) = source {
        socket
            .bind(&SocketAddr::new(source, 0).into())
            .map_err(|err| bind_source_error(&err, source))?;
    }
    Ok((socket, addr))
}

/// Wait until the connect in progress completes, and report how.
///
/// As tokio's own connect does: the socket turns writable when the
/// handshake ends either way, and SO_ERROR tells which way it ended.
async fn established(stream: &TcpStream) -> io::Result<()> {
    stream.writable().await?;
    if let Some(err) = stream.take_error()? {
        return Err(err);
    }
    stream.peer_addr().map(drop)
}

/// An error that ended a connect after the SYN left: the network answered.
fn answered(err: &io::Error, dest: IpAddr) -> Outcome {
    use io::ErrorKind as K;
    match err.kind() {
        K::ConnectionRefused => failed("connection refused"),
        K::HostUnreachable => failed("host unreachable"),
        // The local route existed (the SYN was sent); a router said no.
        K::NetworkUnreachable => failed("network unreachable (ICMP from a router)"),
        K::TimedOut => failed("no answer to SYN"),
        K::ConnectionReset => failed("connection reset"),
        _ => match err.raw_os_error() {
            Some(libc::EHOSTDOWN) => failed("host down"),
            Some(libc::ENONET | libc::EPROTO) => failed(os_text(err)),
            _ => error(format!("connect to {dest} failed: {}", os_text(err))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_errors_are_the_network_answering() {
        let dest: IpAddr = "192.0.2.9".parse().unwrap();
        let os = io::Error::from_raw_os_error;
        assert_eq!(answered(&os(libc::ECONNREFUSED), dest), failed("connection refused"));
        assert_eq!(answered(&os(libc::EHOSTUNREACH), dest), failed("host unreachable"));
        assert!(matches!(answered(&os(libc::ENETUNREACH), dest), Outcome::Failed { .. }));
        assert!(matches!(answered(&os(libc::ENOMEM), dest), Outcome::Error { .. }));
    }

    #[tokio::test]
    async fn family_mismatch_is_an_error() {
        let addr: SocketAddr = "[::1]:9".parse().unwrap();
        let src: IpAddr = "127.0.0.1".parse().unwrap();
        let got = connect(addr, Duration::from_secs(1), Some(src), None).await;
        assert!(matches!(got, Outcome::Error { .. }), "{got:?}");
    }
}
