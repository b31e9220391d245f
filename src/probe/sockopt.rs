//! The one place failoverd uses `unsafe`: setting the receive buffer of the
//! ICMP sockets that surge-ping owns, which it exposes only as a raw file
//! descriptor. Replies to thousands of targets arrive in bursts; with the
//! kernel's default buffer (about 200 KiB) a few percent of them are lost
//! in the socket, with 4 MiB none (see docs/testing.md, ICMP).
#![allow(unsafe_code)]

use std::io;
use std::os::fd::BorrowedFd;

/// The receive buffer failoverd asks for.
pub const RECEIVE_BUFFER: usize = 4 * 1024 * 1024;

/// Asks for `bytes` of receive buffer on `client`'s socket and returns what
/// the kernel granted (it doubles the request for bookkeeping and caps it
/// at `net.core.rmem_max`).
pub fn set_receive_buffer(client: &surge_ping::Client, bytes: usize) -> io::Result<usize> {
    let fd = client.get_socket().get_native_sock();
    // SAFETY: `fd` is the descriptor of the socket owned by `client` (the
    // handle `get_socket()` returned shares it), and `client` is borrowed
    // for the whole of this function, so the descriptor stays open and
    // refers to that socket while `borrowed` lives; `borrowed` does not
    // outlive this function and nothing here closes it.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    let socket = socket2::SockRef::from(&borrowed);
    socket.set_recv_buffer_size(bytes)?;
    socket.recv_buffer_size()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_kernel_grants_what_rmem_max_allows() {
        let config = surge_ping::Config::builder()
            .sock_type_hint(socket2::Type::DGRAM)
            .build();
        let client = match surge_ping::Client::new(&config) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("SKIPPED: no ICMP socket here ({e}); needs root or ping_group_range");
                return;
            }
        };
        let max: usize = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let got = set_receive_buffer(&client, RECEIVE_BUFFER).unwrap();
        // Linux doubles the request and caps it at twice rmem_max.
        assert_eq!(got, 2 * RECEIVE_BUFFER.min(max));
    }
}
