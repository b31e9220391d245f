//! ICMP echo checks: the shared ICMP sockets (one per address family,
//! source address and interface, each with one reading task: see
//! `socket.rs`), the per-stream state, and the up-front permission test the
//! daemon runs before it starts.
//!
//! Sockets: an unprivileged datagram ("ping") socket is tried first, which
//! works for any user whose group is in `net.ipv4.ping_group_range`; a raw
//! socket (root or CAP_NET_RAW) is the fallback.

mod classify;
mod permission;
use super::reason;
mod socket;

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::io;
use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use crate::health::outcome::Outcome;
use permission::is_permission;
pub use permission::{IcmpError, check_permission};
use socket::EchoSocket;

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

/// The identifier of the next raw socket, process-wide: every raw socket
/// sees every echo reply on the host, so identifiers differ between the
/// sockets of one process, and start at a random point so that two
/// failoverd processes (or a test beside a daemon) rarely share one.
static NEXT_IDENT: LazyLock<AtomicU16> = LazyLock::new(|| {
    let seed = RandomState::new().hash_one(std::process::id());
    AtomicU16::new(seed as u16)
});

/// An open socket and its reader, which ends when the socket is closed.
struct Open {
    socket: Arc<EchoSocket>,
    reader: tokio::task::AbortHandle,
}

impl Drop for Open {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// The ICMP sockets of the whole daemon, shared by all check streams.
///
/// One socket (and one reading task) per family, source address and
/// interface in use, opened on first use: thousands of targets share a
/// handful of sockets. A socket that cannot be opened (a source address not
/// yet there) is not remembered, so the next check tries again. Cheap to
/// clone; clones share the sockets. Sockets are opened on the runtime of
/// the first check that needs them.
#[derive(Clone)]
pub struct IcmpClients {
    shared: Arc<Shared>,
}

struct Shared {
    clients: Mutex<HashMap<ClientKey, Open>>,
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
    /// dropped by some networks). From 8 bytes on, the first 8 carry the
    /// request's token, which its reply must bring back.
    pub fn with_payload_len(len: usize) -> Self {
        let pattern = b"failoverd ";
        let payload = (0..len.max(1)).map(|i| pattern[i % pattern.len()]);
        Self {
            shared: Arc::new(Shared {
                clients: Mutex::new(HashMap::new()),
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
        Some(self.lock().get(&key)?.socket.kind())
    }

    /// One echo request to `addr`, waiting up to `timeout` for the answer.
    ///
    /// Never panics and never returns early without an outcome: every fault
    /// becomes `Outcome::Error` with a reason.
    pub async fn ping(&self, addr: IpAddr, timeout: Duration, stream: &mut IcmpStreamState) -> Outcome {
        let b = &stream.binding;
        self.ping_from(addr, timeout, b.source, b.interface.as_deref()).await
    }

    /// [`IcmpClients::ping`] from `source` and `interface` as borrowed
    /// (the check streams' keys hold them: no copy per stream).
    pub async fn ping_from(
        &self,
        addr: IpAddr,
        timeout: Duration,
        source: Option<IpAddr>,
        interface: Option<&str>,
    ) -> Outcome {
        self.try_ping(addr, timeout, source, interface)
            .await
            .unwrap_or_else(|outcome| outcome)
    }

    async fn try_ping(
        &self,
        addr: IpAddr,
        timeout: Duration,
        source: Option<IpAddr>,
        interface: Option<&str>,
    ) -> Result<Outcome, Outcome> {
        if let Some(mismatch) = source.and_then(|s| reason::family_mismatch(s, addr)) {
            return Err(mismatch);
        }
        let scope = reason::scope_for(addr, interface)?;
        let dest = match addr {
            IpAddr::V6(v6) => SocketAddr::V6(SocketAddrV6::new(v6, 0, 0, scope.unwrap_or(0))),
            IpAddr::V4(_) => SocketAddr::new(addr, 0),
        };
        let key = ClientKey {
            family: Family::of(addr),
            binding: IcmpBinding {
                source,
                interface: interface.map(str::to_owned),
            },
        };
        let socket = self.client(&key)?;
        let payload = &self.shared.payload;
        let ticket = socket.register(addr, payload.len() >= 8).ok_or_else(|| {
            reason::error(format!(
                "too many echo requests in flight on the {} ICMP socket",
                key.family
            ))
        })?;
        let packet = socket.request(&ticket, payload);
        if let Err(err) = socket.send(&ticket, &packet, dest).await {
            if reason::is_device_gone(&err) {
                self.forget(&key);
            }
            return Err(reason::local_send_error(&err, addr, source, interface));
        }
        Ok(match ticket.reply(timeout).await {
            Some(outcome) => outcome,
            None => reason::failed(format!("no reply within {}", reason::human_duration(timeout))),
        })
    }

    /// Close the socket for `key`: bound to an interface that is gone, it
    /// holds the old interface index and would never work again, even when
    /// an interface of that name returns. The next check opens a new one.
    fn forget(&self, key: &ClientKey) {
        self.lock().remove(key);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ClientKey, Open>> {
        self.shared.clients.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The socket for `key`, opened now if there is none yet.
    fn client(&self, key: &ClientKey) -> Result<Arc<EchoSocket>, Outcome> {
        let mut clients = self.lock();
        if let Some(open) = clients.get(key) {
            return Ok(Arc::clone(&open.socket));
        }
        let ident = NEXT_IDENT.fetch_add(1, Ordering::Relaxed);
        let (socket, reader) =
            EchoSocket::open(key.family, key.binding.source, key.binding.interface.as_deref(), ident)
                .map_err(|err| open_error(&err, key))?;
        clients.insert(
            key.clone(),
            Open {
                socket: Arc::clone(&socket),
                reader,
            },
        );
        Ok(socket)
    }
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

/// What one check stream keeps between its echo requests: where they
/// leave from. Sequence numbers are handed out by the socket, unique among
/// the requests it has in flight.
pub struct IcmpStreamState {
    binding: IcmpBinding,
}

impl IcmpStreamState {
    pub fn new(binding: IcmpBinding) -> Self {
        Self { binding }
    }

    pub fn binding(&self) -> &IcmpBinding {
        &self.binding
    }
}

impl fmt::Debug for IcmpStreamState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IcmpStreamState")
            .field("binding", &self.binding)
            .finish()
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
