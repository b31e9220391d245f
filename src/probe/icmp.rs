//! ICMP echo checks: the shared ICMP sockets (one surge-ping client per
//! address family, source address and interface), the per-stream state that
//! keeps streams from taking each other's replies, and the up-front
//! permission test the daemon runs before it starts.
//!
//! Sockets: an unprivileged datagram ("ping") socket is tried first, which
//! works for any user whose group is in `net.ipv4.ping_group_range`; a raw
//! socket (root or CAP_NET_RAW) is the fallback.

mod classify;
mod permission;
use super::reason;
mod sequence;

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use socket2::Type;
use surge_ping::{Client, Config, ICMP, PingIdentifier, PingSequence, SurgeError};

use crate::health::outcome::Outcome;
use permission::is_permission;
pub use permission::{IcmpError, check_permission};
use sequence::{Lease, SequenceBlocks};

/// Echo payload length by default, as `ping` sends: never zero, because some
/// ISPs drop empty echo requests.
pub const DEFAULT_PAYLOAD_LEN: usize = 56;

/// IP version of a target, and of the socket that reaches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn of(addr: IpAddr) -> Self {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        })
    }
}

/// Which kind of ICMP socket a client ended up with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketKind {
    /// Unprivileged ping socket (SOCK_DGRAM); the kernel owns the identifier.
    Datagram,
    /// Raw socket (SOCK_RAW); needs root or CAP_NET_RAW.
    Raw,
}

/// Where echo requests leave from: the settings' `source` and `interface`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct IcmpBinding {
    pub source: Option<IpAddr>,
    pub interface: Option<String>,
}

/// One shared socket: the family and binding it was opened with.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ClientKey {
    family: Family,
    binding: IcmpBinding,
}

/// Sequence blocks are leased per socket and host.
type LeaseKey = (ClientKey, IpAddr);

/// The ICMP sockets of the whole daemon, shared by all check streams.
///
/// One surge-ping client (one socket and one receiving task) per family,
/// source address and interface in use, opened on first use: thousands of
/// targets share a handful of sockets. A socket that cannot be opened (a
/// source address not yet there) is not remembered, so the next check tries
/// again. Cheap to clone; clones share the sockets.
#[derive(Clone)]
pub struct IcmpClients {
    shared: Arc<Shared>,
}

struct Shared {
    clients: Mutex<HashMap<ClientKey, Client>>,
    blocks: Arc<SequenceBlocks<LeaseKey>>,
    payload: Box<[u8]>,
}

impl Default for IcmpClients {
    fn default() -> Self {
        Self::new()
    }
}

impl IcmpClients {
    /// Clients sending the default 56-byte payload.
    pub fn new() -> Self {
        Self::with_payload_len(DEFAULT_PAYLOAD_LEN)
    }

    /// Clients sending `len` payload bytes (at least 1: empty echoes get
    /// dropped by some networks).
    pub fn with_payload_len(len: usize) -> Self {
        let pattern = b"failoverd ";
        let payload = (0..len.max(1)).map(|i| pattern[i % pattern.len()]);
        Self {
            shared: Arc::new(Shared {
                clients: Mutex::new(HashMap::new()),
                blocks: Arc::default(),
                payload: payload.collect(),
            }),
        }
    }

    /// The kind of socket opened for `family` and `binding`, if one is open.
    pub fn socket_kind(&self, family: Family, binding: &IcmpBinding) -> Option<SocketKind> {
        let key = ClientKey {
            family,
            binding: binding.clone(),
        };
        let clients = self.lock();
        let socket = clients.get(&key)?.get_socket();
        Some(match socket.get_type() {
            Type::DGRAM => SocketKind::Datagram,
            _ => SocketKind::Raw,
        })
    }

    /// One echo request to `addr`, waiting up to `timeout` for the answer.
    ///
    /// Never panics and never returns early without an outcome: every fault
    /// becomes `Outcome::Error` with a reason.
    pub async fn ping(&self, addr: IpAddr, timeout: Duration, stream: &mut IcmpStreamState) -> Outcome {
        self.try_ping(addr, timeout, stream)
            .await
            .unwrap_or_else(|outcome| outcome)
    }

    async fn try_ping(
        &self,
        addr: IpAddr,
        timeout: Duration,
        stream: &mut IcmpStreamState,
    ) -> Result<Outcome, Outcome> {
        let binding = stream.binding.clone();
        if let Some(mismatch) = binding.source.and_then(|s| reason::family_mismatch(s, addr)) {
            return Err(mismatch);
        }
        let scope = reason::scope_for(addr, binding.interface.as_deref())?;
        let key = ClientKey {
            family: Family::of(addr),
            binding,
        };
        let client = self.client(&key)?;
        let seq = stream.next_sequence(&self.shared.blocks, (key.clone(), addr))?;
        let mut pinger = client.pinger(addr, stream.ident).await;
        pinger.timeout(timeout);
        if let Some(scope) = scope {
            pinger.scope_id(scope);
        }
        Ok(match pinger.ping(seq, &self.shared.payload).await {
            Ok((packet, rtt)) => classify::reply(&packet, rtt),
            Err(err) => {
                if matches!(&err, SurgeError::IOError(io) if reason::is_device_gone(io)) {
                    self.forget(&key);
                }
                classify::failure(err, addr, timeout, &stream.binding)
            }
        })
    }

    /// Close the socket for `key`: bound to an interface that is gone, it
    /// holds the old interface index and would never work again, even when
    /// an interface of that name returns. The next check opens a new one.
    fn forget(&self, key: &ClientKey) {
        self.lock().remove(key);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ClientKey, Client>> {
        self.shared.clients.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The client for `key`, opened now if there is none yet.
    fn client(&self, key: &ClientKey) -> Result<Client, Outcome> {
        let mut clients = self.lock();
        if let Some(client) = clients.get(key) {
            return Ok(client.clone());
        }
        let client = open_client(key).map_err(|err| open_error(&err, key))?;
        clients.insert(key.clone(), client.clone());
        Ok(client)
    }
}

fn open_client(key: &ClientKey) -> io::Result<Client> {
    let kind = match key.family {
        Family::V4 => ICMP::V4,
        Family::V6 => ICMP::V6,
    };
    let mut config = Config::builder().kind(kind).sock_type_hint(Type::DGRAM);
    if let Some(source) = key.binding.source {
        config = config.bind(SocketAddr::new(source, 0));
    }
    if let Some(interface) = &key.binding.interface {
        config = config.interface(interface);
    }
    let client = Client::new(&config.build())?;
    // Replies to thousands of targets arrive in bursts: ask for 4 MiB. The
    // kernel caps it at net.core.rmem_max; say so once it matters.
    match super::sockopt::set_receive_buffer(&client, super::sockopt::RECEIVE_BUFFER) {
        Ok(got) if got < super::sockopt::RECEIVE_BUFFER => tracing::info!(
            granted = got,
            "ICMP receive buffer capped by net.core.rmem_max; for thousands of targets set net.core.rmem_max=4194304"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot set the ICMP receive buffer"),
    }
    Ok(client)
}

/// Why a client could not be opened, as an outcome for the check.
fn open_error(err: &io::Error, key: &ClientKey) -> Outcome {
    if let (Some(source), io::ErrorKind::AddrNotAvailable) = (key.binding.source, err.kind()) {
        return reason::bind_source_error(err, source);
    }
    if let Some(interface) = &key.binding.interface {
        let device_fault =
            err.raw_os_error() == Some(libc::ENODEV) || (is_permission(err) && check_permission(key.family).is_ok());
        if device_fault {
            return reason::bind_device_error(err, interface);
        }
    }
    if err.raw_os_error() == Some(libc::EAFNOSUPPORT) {
        return reason::error(format!("{} is not available on this host", key.family));
    }
    match check_permission(key.family) {
        Err(denied @ IcmpError::Permission { .. }) => reason::error(denied.to_string()),
        _ => reason::error(format!(
            "cannot open {} ICMP socket: {}",
            key.family,
            reason::os_text(err)
        )),
    }
}

/// What one check stream keeps between its echo requests: its binding, its
/// own identifier and its leased block of sequence numbers.
///
/// Create one per stream and pass it to every `ping` of that stream; drop it
/// with the stream so its sequence block is freed.
pub struct IcmpStreamState {
    binding: IcmpBinding,
    ident: PingIdentifier,
    lease: Option<Lease<LeaseKey>>,
    next: u16,
}

impl IcmpStreamState {
    pub fn new(binding: IcmpBinding) -> Self {
        Self {
            binding,
            ident: sequence::next_identifier(),
            lease: None,
            next: 0,
        }
    }

    pub fn binding(&self) -> &IcmpBinding {
        &self.binding
    }

    /// The next sequence number for a ping to `key`; a changed target
    /// address (after re-resolving) takes a block for the new host.
    fn next_sequence(
        &mut self,
        blocks: &Arc<SequenceBlocks<LeaseKey>>,
        key: LeaseKey,
    ) -> Result<PingSequence, Outcome> {
        if !self.lease.as_ref().is_some_and(|l| l.is_for(blocks, &key)) {
            self.lease = None;
            let host = key.1;
            let lease = blocks
                .lease(key)
                .ok_or_else(|| reason::error(format!("too many check streams to {host} on one socket")))?;
            self.lease = Some(lease);
        }
        let lease = self.lease.as_ref().expect("lease taken above");
        let seq = lease.sequence(self.next);
        self.next = (self.next + 1) % sequence::BLOCK_LEN;
        Ok(seq)
    }
}

impl fmt::Debug for IcmpStreamState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IcmpStreamState")
            .field("binding", &self.binding)
            .field("ident", &self.ident.0)
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_future_is_send() {
        fn assert_send<T: Send>(_: T) {}
        let clients = IcmpClients::new();
        let mut stream = IcmpStreamState::new(IcmpBinding::default());
        let addr = IpAddr::from([127, 0, 0, 1]);
        assert_send(clients.ping(addr, Duration::from_secs(1), &mut stream));
    }

    #[test]
    fn payload_is_never_empty() {
        assert_eq!(IcmpClients::with_payload_len(0).shared.payload.len(), 1);
        assert_eq!(IcmpClients::new().shared.payload.len(), DEFAULT_PAYLOAD_LEN);
    }
}
