//! Probing: ICMP echo and TCP connect checks, name resolution, and the
//! scheduler of check streams.
//!
//! A stream is one target checked one way at one pace; it is shared by
//! every reader that agrees on protocol, target, family, source, interface,
//! interval and timeout (each reader keeps its own health state, in the
//! engine).

pub mod icmp;
pub(crate) mod reason;
pub mod resolve;
pub mod schedule;
pub mod tcp;

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::config::settings::{Family, Target};
use crate::health::outcome::Outcome;

/// How a stream checks its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Icmp,
    Tcp(u16),
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Protocol::Icmp => f.write_str("PING"),
            Protocol::Tcp(p) => write!(f, "TCP/{p}"),
        }
    }
}

impl Protocol {
    /// The protocol of a group's failover condition.
    pub fn of(c: crate::config::groups::Condition) -> Protocol {
        match c {
            crate::config::groups::Condition::Ping => Protocol::Icmp,
            crate::config::groups::Condition::Tcp(p) => Protocol::Tcp(p),
        }
    }
}

/// What makes two readers' checks the same stream.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamKey {
    pub protocol: Protocol,
    pub target: Target,
    pub family: Family,
    pub source: Option<IpAddr>,
    pub interface: Option<String>,
    pub interval: Duration,
    pub timeout: Duration,
}

impl StreamKey {
    /// How a member connection checks `target` with `protocol`.
    pub fn new(protocol: Protocol, target: &Target, c: &crate::config::settings::Connection) -> StreamKey {
        StreamKey {
            protocol,
            target: target.clone(),
            family: c.family,
            source: c.source,
            interface: c.interface.clone(),
            interval: c.timing.interval,
            timeout: c.timing.timeout,
        }
    }
}

/// Something that makes one check; the real one is [`Prober`], tests of the
/// scheduler's timing use scripted ones.
pub trait Check: Send + Sync + 'static {
    /// Per-stream state (ICMP identifier and sequence numbers).
    type State: Send + 'static;
    fn state(&self, key: &StreamKey) -> Self::State;
    fn check<'a>(
        &'a self,
        key: &'a StreamKey,
        addr: IpAddr,
        state: &'a mut Self::State,
    ) -> impl Future<Output = Outcome> + Send + 'a;
}

/// The real checker: shared ICMP sockets and TCP connects.
pub struct Prober {
    icmp: icmp::IcmpClients,
}

impl Prober {
    pub fn new() -> Self {
        Prober {
            icmp: icmp::IcmpClients::new(),
        }
    }
}

impl Default for Prober {
    fn default() -> Self {
        Self::new()
    }
}

impl Check for Prober {
    type State = icmp::IcmpStreamState;

    fn state(&self, key: &StreamKey) -> Self::State {
        icmp::IcmpStreamState::new(icmp::IcmpBinding {
            source: key.source,
            interface: key.interface.clone(),
        })
    }

    async fn check(&self, key: &StreamKey, addr: IpAddr, state: &mut Self::State) -> Outcome {
        match key.protocol {
            Protocol::Icmp => self.icmp.ping(addr, key.timeout, state).await,
            Protocol::Tcp(port) => {
                let sa = SocketAddr::new(addr, port);
                tcp::connect(sa, key.timeout, key.source, key.interface.as_deref()).await
            }
        }
    }
}
