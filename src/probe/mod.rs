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
    /// What a stream keeps between its checks (the real checker: nothing).
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
    /// Nothing: where echo requests leave from is in the stream's key, and
    /// sequence numbers are the shared socket's.
    type State = ();

    fn state(&self, _key: &StreamKey) -> Self::State {}

    async fn check(&self, key: &StreamKey, addr: IpAddr, _state: &mut Self::State) -> Outcome {
        match key.protocol {
            Protocol::Icmp => {
                let interface = key.interface.as_deref();
                self.icmp.ping_from(addr, key.timeout, key.source, interface).await
            }
            Protocol::Tcp(port) => {
                let sa = SocketAddr::new(addr, port);
                tcp::connect(sa, key.timeout, key.source, key.interface.as_deref()).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::settings::Target;

    fn icmp_key(source: Option<&str>, interface: Option<&str>) -> StreamKey {
        StreamKey {
            protocol: Protocol::Icmp,
            target: Target::Ip(IpAddr::from([127, 0, 0, 1])),
            family: Family::Any,
            source: source.map(|s| s.parse().unwrap()),
            interface: interface.map(str::to_owned),
            interval: Duration::from_secs(1),
            timeout: Duration::from_millis(200),
        }
    }

    /// The stream keeps no copy of its binding: each ICMP check reads the
    /// key's `source` and `interface` (both checked before any socket).
    #[tokio::test]
    async fn icmp_checks_leave_from_the_keys_source_and_interface() {
        let prober = Prober::new();
        let key = icmp_key(Some("::1"), None);
        let got = prober.check(&key, IpAddr::from([127, 0, 0, 1]), &mut ()).await;
        let text = format!("{got:?}");
        assert!(
            text.contains("source address ::1") && text.contains("different IP versions"),
            "{text}"
        );
        let key = icmp_key(None, Some("failoverd-no-such0"));
        let link_local: IpAddr = "fe80::1".parse().unwrap();
        let got = prober.check(&key, link_local, &mut ()).await;
        let text = format!("{got:?}");
        assert!(text.contains("interface failoverd-no-such0 not found"), "{text}");
    }
}
