//! One ICMP socket shared by every check stream of a family and binding:
//! the table of echo requests in flight, the packets on the wire, and the
//! task that reads replies and hands each to the check waiting for it.
//!
//! Each request in flight has a slot in the table. A reply finds its slot
//! by sequence number (unique among the requests in flight on the socket)
//! and must also come from the address the request went to and, when the
//! payload has room, carry the slot's token (slot index and generation)
//! back: a late reply to a request that timed out, or a reply meant for
//! another process's raw socket, never completes a later request.
//!
//! No allocation per packet on the receiving side; the table's slots are
//! reused. A raw socket gets a kernel filter (classic BPF) that passes only
//! echo replies carrying this socket's identifier and the ICMP errors that
//! can quote an echo request, so it is not woken for every ICMP packet the
//! host sees (on loopback that includes every echo request sent).

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockFilter, Socket, Type};
use tokio::net::UdpSocket;

use super::{Family, SocketKind, classify};
use crate::health::outcome::Outcome;
use crate::probe::reason;

/// Replies to thousands of targets arrive in bursts: the receive buffer
/// asked for (the kernel caps it at `net.core.rmem_max`). With the default
/// (about 200 KiB) a few percent of replies are lost in the socket at
/// 10,000 targets; with 4 MiB none (docs/testing.md, ICMP).
pub(super) const RECEIVE_BUFFER: usize = 4 * 1024 * 1024;

/// Bytes of the token (slot index and generation) at the payload's start.
const TOKEN_LEN: usize = 8;

/// A shared ICMP socket and its requests in flight.
pub(super) struct EchoSocket {
    udp: UdpSocket,
    kind: SocketKind,
    family: Family,
    /// The identifier in our echo requests. On a raw socket it is ours and
    /// the kernel filter passes only replies carrying it; on a datagram
    /// socket the kernel puts its own and delivers only those replies.
    ident: u16,
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Sequence number → slot, for the requests in flight.
    by_seq: HashMap<u16, u32>,
    next_seq: u16,
}

struct Slot {
    generation: u32,
    busy: bool,
    seq: u16,
    addr: IpAddr,
    sent: Instant,
    token: bool,
    result: Option<Outcome>,
    waker: Option<Waker>,
}

impl Slot {
    fn new() -> Slot {
        Slot {
            generation: 0,
            busy: false,
            seq: 0,
            addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            sent: Instant::now(),
            token: false,
            result: None,
            waker: None,
        }
    }
}

/// What a received packet says, before it is matched to a slot.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Heard {
    /// An echo reply from `from`.
    Reply {
        seq: u16,
        from: IpAddr,
        token: Option<[u8; TOKEN_LEN]>,
    },
    /// An ICMP error about our echo request to `to`.
    Error { seq: u16, to: IpAddr, outcome: Outcome },
}

/// One echo request in flight: its slot, freed when dropped (also when the
/// check is cancelled).
pub(super) struct Ticket {
    socket: Arc<EchoSocket>,
    slot: u32,
    generation: u32,
    seq: u16,
}

impl EchoSocket {
    /// Opens the socket (datagram "ping" socket first, raw as fallback),
    /// binds it as asked and starts its reader; the reader ends when the
    /// returned handle is aborted.
    pub(super) fn open(
        family: Family,
        source: Option<IpAddr>,
        interface: Option<&str>,
        ident: u16,
    ) -> io::Result<(Arc<EchoSocket>, tokio::task::AbortHandle)> {
        let (domain, proto) = match family {
            Family::V4 => (Domain::IPV4, Protocol::ICMPV4),
            Family::V6 => (Domain::IPV6, Protocol::ICMPV6),
        };
        let (socket, kind) = match Socket::new(domain, Type::DGRAM, Some(proto)) {
            Ok(s) => (s, SocketKind::Datagram),
            Err(first) => match Socket::new(domain, Type::RAW, Some(proto)) {
                Ok(s) => (s, SocketKind::Raw),
                Err(_) => return Err(first),
            },
        };
        socket.set_nonblocking(true)?;
        if let Some(source) = source {
            socket.bind(&SocketAddr::new(source, 0).into())?;
        }
        if let Some(interface) = interface {
            socket.bind_device(Some(interface.as_bytes()))?;
        }
        match socket
            .set_recv_buffer_size(RECEIVE_BUFFER)
            .and_then(|()| socket.recv_buffer_size())
        {
            // Linux doubles the request for its bookkeeping.
            Ok(got) if got < RECEIVE_BUFFER => tracing::info!(
                granted = got,
                "ICMP receive buffer capped by net.core.rmem_max; for thousands of targets set net.core.rmem_max=4194304"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot set the ICMP receive buffer"),
        }
        if kind == SocketKind::Raw
            && let Err(e) = socket.attach_filter(&raw_filter(family, ident))
        {
            // Only a saving: the reader checks every packet anyway.
            tracing::info!(error = %e, "cannot filter the raw ICMP socket; every ICMP packet will be read");
        }
        let udp = UdpSocket::from_std(std::net::UdpSocket::from(socket))?;
        let socket = Arc::new(EchoSocket {
            udp,
            kind,
            family,
            ident,
            table: Mutex::new(Table::default()),
        });
        let reader = tokio::spawn(read(Arc::clone(&socket))).abort_handle();
        Ok((socket, reader))
    }

    pub(super) fn kind(&self) -> SocketKind {
        self.kind
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A slot for an echo request to `addr`; `None` when every sequence
    /// number is in flight.
    pub(super) fn register(self: &Arc<Self>, addr: IpAddr, token: bool) -> Option<Ticket> {
        let mut t = self.lock();
        if t.by_seq.len() > usize::from(u16::MAX) {
            return None;
        }
        let mut seq = t.next_seq;
        while t.by_seq.contains_key(&seq) {
            seq = seq.wrapping_add(1);
        }
        t.next_seq = seq.wrapping_add(1);
        let index = match t.free.pop() {
            Some(i) => i,
            None => {
                t.slots.push(Slot::new());
                u32::try_from(t.slots.len() - 1).ok()?
            }
        };
        let slot = &mut t.slots[index as usize];
        slot.generation = slot.generation.wrapping_add(1);
        slot.busy = true;
        slot.seq = seq;
        slot.addr = addr;
        slot.sent = Instant::now();
        slot.token = token;
        slot.result = None;
        slot.waker = None;
        let generation = slot.generation;
        t.by_seq.insert(seq, index);
        Some(Ticket {
            socket: Arc::clone(self),
            slot: index,
            generation,
            seq,
        })
    }

    /// The echo request of `ticket` with `payload` (whose first
    /// [`TOKEN_LEN`] bytes, when there are that many, carry the token).
    pub(super) fn request(&self, ticket: &Ticket, payload: &[u8]) -> Vec<u8> {
        let mut p = Vec::with_capacity(8 + payload.len());
        p.push(match self.family {
            Family::V4 => 8,
            Family::V6 => 128,
        });
        p.extend_from_slice(&[0, 0, 0]);
        p.extend_from_slice(&self.ident.to_be_bytes());
        p.extend_from_slice(&ticket.seq.to_be_bytes());
        p.extend_from_slice(payload);
        if payload.len() >= TOKEN_LEN {
            p[8..8 + TOKEN_LEN].copy_from_slice(&token(ticket.slot, ticket.generation));
        }
        // The kernel fills in the checksum of ICMPv6 and of datagram
        // sockets; a raw IPv4 socket sends what it is given.
        if self.family == Family::V4 {
            let sum = checksum(&p);
            p[2..4].copy_from_slice(&sum.to_be_bytes());
        }
        p
    }

    /// Sends `packet` to `dest`; marks the slot's send time.
    pub(super) async fn send(&self, ticket: &Ticket, packet: &[u8], dest: SocketAddr) -> io::Result<()> {
        self.lock().slots[ticket.slot as usize].sent = Instant::now();
        self.udp.send_to(packet, dest).await.map(drop)
    }

    /// Reads every packet waiting in the socket now, without waiting: so
    /// that a reply already received is never judged a timeout because its
    /// reader had not run yet.
    fn drain(&self, buf: &mut [u8]) {
        while let Ok((n, from)) = self.udp.try_recv_from(buf) {
            self.deliver(&buf[..n], from.ip(), Instant::now());
        }
    }

    fn deliver(&self, packet: &[u8], from: IpAddr, at: Instant) {
        let Some(heard) = parse(self.family, self.kind, self.ident, packet, from) else {
            return;
        };
        let waker = self.lock().complete(heard, at);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl Table {
    /// Fills the slot `heard` belongs to; its waker, to wake once unlocked.
    fn complete(&mut self, heard: Heard, at: Instant) -> Option<Waker> {
        let (seq, addr) = match &heard {
            Heard::Reply { seq, from, .. } => (*seq, *from),
            Heard::Error { seq, to, .. } => (*seq, *to),
        };
        let index = *self.by_seq.get(&seq)?;
        let slot = self.slots.get_mut(index as usize)?;
        if !slot.busy || slot.addr != addr || slot.result.is_some() {
            return None;
        }
        slot.result = Some(match heard {
            Heard::Reply { token: got, .. } => {
                if slot.token && got != Some(token(index, slot.generation)) {
                    return None;
                }
                Outcome::Good {
                    rtt: at.saturating_duration_since(slot.sent),
                }
            }
            Heard::Error { outcome, .. } => outcome,
        });
        slot.waker.take()
    }

    fn release(&mut self, index: u32, generation: u32, seq: u16) {
        let Some(slot) = self.slots.get_mut(index as usize) else {
            return;
        };
        if !slot.busy || slot.generation != generation {
            return;
        }
        slot.busy = false;
        slot.result = None;
        slot.waker = None;
        if self.by_seq.get(&seq) == Some(&index) {
            self.by_seq.remove(&seq);
        }
        self.free.push(index);
    }
}

impl Ticket {
    /// Waits for the reply (or an ICMP error about the request) up to
    /// `timeout`; packets already in the socket when the time is up are
    /// read first.
    pub(super) async fn reply(&self, timeout: Duration) -> Option<Outcome> {
        let wait = std::future::poll_fn(|cx| {
            let mut t = self.socket.lock();
            let slot = &mut t.slots[self.slot as usize];
            if let Some(o) = slot.result.take() {
                return Poll::Ready(o);
            }
            match &slot.waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => slot.waker = Some(cx.waker().clone()),
            }
            Poll::Pending
        });
        if let Ok(o) = tokio::time::timeout(timeout, wait).await {
            return Some(o);
        }
        let mut buf = [0u8; 2048];
        self.socket.drain(&mut buf);
        self.socket.lock().slots[self.slot as usize].result.take()
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.socket.lock().release(self.slot, self.generation, self.seq);
    }
}

/// The reader: every packet to its slot, until aborted. An error other than
/// the interface going away is logged and the read goes on after a pause
/// (so a persistent error cannot spin); with the interface gone the reader
/// ends, and the next send's error closes the socket.
async fn read(socket: Arc<EchoSocket>) {
    let mut buf = vec![0u8; 65536];
    loop {
        match socket.udp.recv_from(&mut buf).await {
            Ok((n, from)) => socket.deliver(&buf[..n], from.ip(), Instant::now()),
            Err(e) if reason::is_device_gone(&e) => return,
            Err(e) => {
                tracing::debug!(error = %e, "ICMP socket read failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

fn token(slot: u32, generation: u32) -> [u8; TOKEN_LEN] {
    let mut t = [0u8; TOKEN_LEN];
    t[..4].copy_from_slice(&slot.to_be_bytes());
    t[4..].copy_from_slice(&generation.to_be_bytes());
    t
}

/// The Internet checksum (RFC 1071).
fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in data.chunks(2) {
        let word = match *pair {
            [a, b] => u16::from_be_bytes([a, b]),
            [a] => u16::from_be_bytes([a, 0]),
            _ => 0,
        };
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn v4(b: &[u8], at: usize) -> Option<Ipv4Addr> {
    let o: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(Ipv4Addr::from(o))
}

fn v6(b: &[u8], at: usize) -> Option<Ipv6Addr> {
    let o: [u8; 16] = b.get(at..at + 16)?.try_into().ok()?;
    Some(Ipv6Addr::from(o))
}

/// What `packet`, read from a socket of `family` and `kind` from `from`,
/// says about our requests; `None` for anything else (echo requests a raw
/// socket sees, other identifiers, redirects, truncated packets).
pub(super) fn parse(family: Family, kind: SocketKind, ident: u16, packet: &[u8], from: IpAddr) -> Option<Heard> {
    // A raw IPv4 socket reads the IP header too; the others start at ICMP.
    let (icmp, src, dst) = if family == Family::V4 && kind == SocketKind::Raw {
        let ihl = usize::from(packet.first()? & 0x0f) * 4;
        if ihl < 20 || *packet.get(9)? != 1 {
            return None;
        }
        let src = IpAddr::V4(v4(packet, 12)?);
        let dst = IpAddr::V4(v4(packet, 16)?);
        (packet.get(ihl..)?, src, Some(dst))
    } else {
        (packet, from, None)
    };
    let (t, code) = (*icmp.first()?, *icmp.get(1)?);
    let (echo_reply, echo_request) = match family {
        Family::V4 => (0, 8),
        Family::V6 => (129, 128),
    };
    if t == echo_reply {
        if kind == SocketKind::Raw && be16(icmp, 4)? != ident {
            return None;
        }
        let token = icmp.get(8..8 + TOKEN_LEN).and_then(|b| b.try_into().ok());
        return Some(Heard::Reply {
            seq: be16(icmp, 6)?,
            from: src,
            token,
        });
    }
    // ICMP errors reach raw sockets only (a datagram socket would need
    // IP_RECVERR and its error queue); there the error quotes our request.
    if kind != SocketKind::Raw {
        return None;
    }
    let outcome = classify::error(family, t, code, src, dst)?;
    let quoted = icmp.get(8..)?;
    let (to, request) = match family {
        Family::V4 => {
            let ihl = usize::from(quoted.first()? & 0x0f) * 4;
            if ihl < 20 || *quoted.get(9)? != 1 {
                return None;
            }
            (IpAddr::V4(v4(quoted, 16)?), quoted.get(ihl..)?)
        }
        Family::V6 => {
            if *quoted.get(6)? != 58 {
                return None;
            }
            (IpAddr::V6(v6(quoted, 24)?), quoted.get(40..)?)
        }
    };
    if *request.first()? != echo_request || be16(request, 4)? != ident {
        return None;
    }
    Some(Heard::Error {
        seq: be16(request, 6)?,
        to,
        outcome,
    })
}

/// The kernel filter of a raw socket: echo replies with identifier `ident`
/// and the ICMP errors that can quote an echo request pass; nothing else
/// wakes the reader.
fn raw_filter(family: Family, ident: u16) -> Vec<SockFilter> {
    const LDX_MSH_B: u16 = 0xb1; // X = 4 * (packet[k] & 0xf)
    const LD_B_IND: u16 = 0x50; // A = packet[X + k]
    const LD_H_IND: u16 = 0x48;
    const LD_B_ABS: u16 = 0x30; // A = packet[k]
    const LD_H_ABS: u16 = 0x28;
    const JEQ: u16 = 0x15;
    const RET: u16 = 0x06;
    let f = SockFilter::new;
    let ident = u32::from(ident);
    match family {
        // The packet starts at the IP header.
        Family::V4 => vec![
            f(LDX_MSH_B, 0, 0, 0),
            f(LD_B_IND, 0, 0, 0),
            f(JEQ, 3, 0, 0),  // echo reply: check the identifier
            f(JEQ, 4, 0, 3),  // destination unreachable
            f(JEQ, 3, 0, 11), // time exceeded
            f(JEQ, 2, 3, 12), // parameter problem
            f(LD_H_IND, 0, 0, 4),
            f(JEQ, 0, 1, ident),
            f(RET, 0, 0, 0x0004_0000),
            f(RET, 0, 0, 0),
        ],
        // The packet starts at the ICMPv6 header.
        Family::V6 => vec![
            f(LD_B_ABS, 0, 0, 0),
            f(JEQ, 4, 0, 129), // echo reply: check the identifier
            f(JEQ, 5, 0, 1),   // destination unreachable
            f(JEQ, 4, 0, 2),   // packet too big
            f(JEQ, 3, 0, 3),   // time exceeded
            f(JEQ, 2, 3, 4),   // parameter problem
            f(LD_H_ABS, 0, 0, 4),
            f(JEQ, 0, 1, ident),
            f(RET, 0, 0, 0x0004_0000),
            f(RET, 0, 0, 0),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const ROUTER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const TARGET: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 9);
    const ID: u16 = 0x1234;

    /// An IPv4 header (no options) from `src` to `dst` carrying `payload`.
    fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, payload: &[u8]) -> Vec<u8> {
        let len = (20 + payload.len()) as u16;
        let mut p = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0];
        p[2..4].copy_from_slice(&len.to_be_bytes());
        p.extend_from_slice(&src.octets());
        p.extend_from_slice(&dst.octets());
        p.extend_from_slice(payload);
        p
    }

    /// A raw-socket packet: ICMP `kind`/`code` from `from` quoting our echo
    /// (sequence 7) to TARGET.
    fn icmp_error(from: Ipv4Addr, kind: u8, code: u8, ident: u16) -> Vec<u8> {
        let mut echo = vec![8, 0, 0, 0];
        echo.extend_from_slice(&ident.to_be_bytes());
        echo.extend_from_slice(&[0, 7]);
        let quoted = ipv4(US, TARGET, &echo);
        let mut icmp = vec![kind, code, 0, 0, 0, 0, 0, 0];
        icmp.extend_from_slice(&quoted);
        ipv4(from, US, &icmp)
    }

    fn raw4(packet: &[u8]) -> Option<Heard> {
        parse(Family::V4, SocketKind::Raw, ID, packet, IpAddr::V4(ROUTER))
    }

    #[test]
    fn router_unreachable_names_the_router() {
        let got = raw4(&icmp_error(ROUTER, 3, 1, ID)).unwrap();
        assert_eq!(
            got,
            Heard::Error {
                seq: 7,
                to: IpAddr::V4(TARGET),
                outcome: reason::failed("host unreachable (ICMP from 192.0.2.1)"),
            }
        );
        let Some(Heard::Error { outcome, .. }) = raw4(&icmp_error(ROUTER, 3, 13, ID)) else {
            panic!("not an error");
        };
        assert_eq!(
            outcome,
            reason::failed("communication administratively prohibited (ICMP from 192.0.2.1)")
        );
    }

    #[test]
    fn own_unreachable_means_no_arp_answer() {
        let Some(Heard::Error { outcome, .. }) = raw4(&icmp_error(US, 3, 1, ID)) else {
            panic!("not an error");
        };
        assert!(matches!(outcome, Outcome::Failed { reason } if reason.contains("no ARP answer")));
    }

    #[test]
    fn redirects_and_other_identifiers_are_ignored() {
        // The reply itself follows a redirect: waiting for it is right.
        assert_eq!(raw4(&icmp_error(ROUTER, 5, 1, ID)), None);
        assert_eq!(
            raw4(&icmp_error(ROUTER, 3, 1, ID + 1)),
            None,
            "another socket's request"
        );
    }

    #[test]
    fn echo_reply_carries_sequence_and_token() {
        let echo = [0, 0, 0, 0, 0x12, 0x34, 0, 7, 1, 2, 3, 4, 5, 6, 7, 8, 9];
        let got = raw4(&ipv4(TARGET, US, &echo)).unwrap();
        assert_eq!(
            got,
            Heard::Reply {
                seq: 7,
                from: IpAddr::V4(TARGET),
                token: Some([1, 2, 3, 4, 5, 6, 7, 8]),
            }
        );
        let mut other = echo;
        other[5] = 0x35;
        assert_eq!(raw4(&ipv4(TARGET, US, &other)), None, "another identifier");
        // A datagram socket starts at the ICMP header; the kernel already
        // matched the identifier.
        let dgram = parse(Family::V4, SocketKind::Datagram, 0, &other, IpAddr::V4(TARGET));
        assert!(matches!(dgram, Some(Heard::Reply { seq: 7, .. })));
    }

    #[test]
    fn truncated_packets_are_ignored() {
        let full = icmp_error(ROUTER, 3, 1, ID);
        for len in 0..full.len() - 1 {
            assert_eq!(raw4(&full[..len]), None, "length {len}");
        }
    }

    #[test]
    fn v6_error_quotes_the_request() {
        let target: Ipv6Addr = "2001:db8::9".parse().unwrap();
        let us: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let mut quoted = vec![0x60, 0, 0, 0, 0, 8, 58, 64];
        quoted.extend_from_slice(&us.octets());
        quoted.extend_from_slice(&target.octets());
        quoted.extend_from_slice(&[128, 0, 0, 0, 0x12, 0x34, 0, 9]);
        let mut icmp = vec![1, 3, 0, 0, 0, 0, 0, 0];
        icmp.extend_from_slice(&quoted);
        let router: IpAddr = "2001:db8::fe".parse().unwrap();
        let got = parse(Family::V6, SocketKind::Raw, ID, &icmp, router).unwrap();
        assert_eq!(
            got,
            Heard::Error {
                seq: 9,
                to: IpAddr::V6(target),
                outcome: reason::failed("address unreachable (ICMP from 2001:db8::fe)"),
            }
        );
    }

    #[test]
    fn checksum_of_an_echo_request() {
        // Echo request, id 0x1234, seq 1, payload "ab": sum verified by hand.
        let mut p = vec![8, 0, 0, 0, 0x12, 0x34, 0, 1, b'a', b'b'];
        let sum = checksum(&p);
        p[2..4].copy_from_slice(&sum.to_be_bytes());
        assert_eq!(checksum(&p), 0, "a packet with its checksum sums to zero");
        assert_eq!(checksum(&[0xff]), !0xff00);
    }

    #[test]
    fn slots_match_address_and_token_and_are_reused() {
        let mut t = Table::default();
        let addr = IpAddr::V4(TARGET);
        for _ in 0..2 {
            t.slots.push(Slot::new());
        }
        t.slots[1].busy = true;
        t.slots[1].generation = 5;
        t.slots[1].seq = 42;
        t.slots[1].addr = addr;
        t.slots[1].token = true;
        t.by_seq.insert(42, 1);
        let reply = |from, tok| Heard::Reply {
            seq: 42,
            from,
            token: tok,
        };
        let now = Instant::now();
        assert!(t.complete(reply(IpAddr::V4(ROUTER), Some(token(1, 5))), now).is_none());
        assert!(t.slots[1].result.is_none(), "another address");
        t.complete(reply(addr, Some(token(1, 4))), now);
        assert!(t.slots[1].result.is_none(), "an earlier generation's late reply");
        t.complete(reply(addr, Some(token(1, 5))), now);
        assert!(matches!(t.slots[1].result, Some(Outcome::Good { .. })));
        t.release(1, 5, 42);
        assert!(t.by_seq.is_empty());
        assert_eq!(t.free, vec![1]);
        t.release(1, 5, 42);
        assert_eq!(t.free, vec![1], "a second release is a no-op");
    }
}
