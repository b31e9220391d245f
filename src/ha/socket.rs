//! The second place failoverd uses `unsafe`: binding an rtnetlink socket to
//! the address notification groups and reading back the port id the kernel
//! gave it. socket2 opens, reads and writes netlink sockets safely but has
//! no netlink socket address; libc's `bind` and `getsockname` need a raw
//! `sockaddr_nl` (docs/ha.md, How the role is watched). Registering the
//! socket with tokio's reactor is also `unsafe` (tokio cannot check that
//! the descriptor stays the same); that is done here too.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::AsRawFd;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// [`open`], registered with the current tokio runtime for readiness.
pub fn open_async(receive_buffer: usize) -> io::Result<(AsyncFd<Socket>, u32)> {
    let (socket, port) = open(receive_buffer)?;
    // SAFETY: `socket` owns its descriptor and moves into the AsyncFd; a
    // socket2::Socket never changes or closes its descriptor before it is
    // dropped, and it is dropped only with the AsyncFd, so every
    // `as_raw_fd()` returns the same open descriptor for the AsyncFd's life.
    let fd = unsafe { AsyncFd::register_with_interest(socket, Interest::READABLE) };
    fd.map(|fd| (fd, port)).map_err(io::Error::from)
}

/// An rtnetlink socket, non-blocking, joined to the IPv4 and IPv6 address
/// groups, and its netlink port id.
pub fn open(receive_buffer: usize) -> io::Result<(Socket, u32)> {
    let socket = Socket::new(
        Domain::from(libc::AF_NETLINK),
        Type::RAW,
        Some(Protocol::from(libc::NETLINK_ROUTE)),
    )?;
    let groups = (libc::RTMGRP_IPV4_IFADDR | libc::RTMGRP_IPV6_IFADDR) as u32;
    let port = bind(&socket, groups)?;
    // Best effort: a bigger buffer makes an overrun (lost notifications)
    // less likely; the one-second dump repairs one anyway.
    let _ = socket.set_recv_buffer_size(receive_buffer);
    socket.set_nonblocking(true)?;
    Ok((socket, port))
}

/// Binds `socket` to the multicast `groups` with a port id chosen by the
/// kernel, and returns that port id.
fn bind(socket: &Socket, groups: u32) -> io::Result<u32> {
    let fd = socket.as_raw_fd();
    // SAFETY: sockaddr_nl is plain old data, so all-zero is a valid value.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    addr.nl_pid = 0;
    addr.nl_groups = groups;
    let len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
    // SAFETY: `fd` is the open descriptor `socket` owns, borrowed for this
    // call; the pointer is to a live, initialised sockaddr_nl and `len` is
    // exactly its size, so the kernel reads only that struct.
    let rc = unsafe { libc::bind(fd, (&raw const addr).cast(), len) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut got = addr;
    let mut got_len = len;
    // SAFETY: as above; the kernel writes at most `got_len` bytes into the
    // sockaddr_nl `got` points to, and updates `got_len`.
    let rc = unsafe { libc::getsockname(fd, (&raw mut got).cast(), &raw mut got_len) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(got.nl_pid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn a_dump_of_this_hosts_addresses_shows_loopback() {
        let (socket, port) = open(1 << 20).expect("netlink is there for everyone");
        assert_ne!(port, 0);
        socket.set_nonblocking(false).unwrap();
        socket.send(&super::super::netlink::dump_request(77)).unwrap();
        let mut buf = vec![0u8; 65536];
        let mut seen = Vec::new();
        'dump: loop {
            let n = (&socket).read(&mut buf).unwrap();
            for m in super::super::netlink::parse(&buf[..n], port) {
                match m {
                    super::super::netlink::Message::New { addr, .. } => seen.push(addr.address),
                    super::super::netlink::Message::Done { seq: 77 } => break 'dump,
                    _ => {}
                }
            }
        }
        assert!(seen.contains(&"127.0.0.1".parse().unwrap()), "{seen:?}");
    }
}
