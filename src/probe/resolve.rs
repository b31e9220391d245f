//! Name resolution for check streams: a name is resolved at start and every
//! `resolve_every`; the first address of the configured family is probed;
//! while the resolver fails (as opposed to answering that the name does not
//! exist) the last address serves for `dns_stale`.

use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::settings::{Family, Target};

/// What a lookup said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Addresses, in resolver order.
    Found(Vec<IpAddr>),
    /// An answer: the name does not exist, or has no address of the
    /// family. A failed check (the network answered).
    NotFound(String),
    /// The resolver could not answer (timeout, no server): a local fault.
    Failed(String),
}

/// Asks the system resolver (getaddrinfo), bounded by `timeout`.
pub async fn lookup(name: &str, family: Family, timeout: Duration) -> Lookup {
    let query = format!("{name}:0");
    let answer = tokio::time::timeout(timeout, tokio::net::lookup_host(query)).await;
    let addrs: Vec<IpAddr> = match answer {
        Err(_) => return Lookup::Failed(format!("resolver gave no answer for {name} within {timeout:?}")),
        Ok(Err(e)) => return classify(name, &e),
        Ok(Ok(it)) => it.map(|sa| sa.ip()).collect(),
    };
    let wanted: Vec<IpAddr> = addrs.into_iter().filter(|a| family_accepts(family, a)).collect();
    if wanted.is_empty() {
        return Lookup::NotFound(format!("{name} has no {} address", family_word(family)));
    }
    Lookup::Found(wanted)
}

/// getaddrinfo's errors arrive as text; "not known" and "no address" are
/// answers from DNS, anything else is the resolver failing here.
fn classify(name: &str, e: &std::io::Error) -> Lookup {
    let text = e.to_string();
    let lower = text.to_ascii_lowercase();
    if lower.contains("not known") || lower.contains("no address associated") || lower.contains("nodename nor servname")
    {
        Lookup::NotFound(format!("name {name} does not exist"))
    } else {
        Lookup::Failed(format!("cannot resolve {name}: {text}"))
    }
}

pub fn family_accepts(family: Family, a: &IpAddr) -> bool {
    match family {
        Family::Any => true,
        Family::Ipv4 => a.is_ipv4(),
        Family::Ipv6 => a.is_ipv6(),
    }
}

fn family_word(family: Family) -> &'static str {
    match family {
        Family::Any => "IP",
        Family::Ipv4 => "IPv4",
        Family::Ipv6 => "IPv6",
    }
}

/// The address a stream probes, kept across re-resolutions. The target
/// itself stays in the stream's key (one copy per stream, not two): the
/// methods that need its name are handed it.
#[derive(Clone, Debug)]
pub struct Address {
    family: Family,
    current: Option<IpAddr>,
    /// When the resolver last answered with an address.
    last_good: Option<Instant>,
    next_resolve: Instant,
}

/// What to do for this check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Use {
    /// Probe this address; `changed` carries the previous one when a
    /// re-resolution moved it (to be logged).
    Probe { addr: IpAddr, changed: Option<IpAddr> },
    /// A failed check with this reason (the name does not exist).
    Fail(String),
    /// No check can be made here (the resolver fails, no stale address).
    Error(String),
}

impl Address {
    /// The address of `target` (a literal address is never resolved).
    pub fn new(target: &Target, family: Family, now: Instant) -> Self {
        let current = match target {
            Target::Ip(ip) => Some(*ip),
            Target::Name(_) => None,
        };
        Address {
            family,
            current,
            last_good: None,
            next_resolve: now,
        }
    }

    /// The name to look up before the next check, when a lookup is due
    /// (`target`: this address's, as given to [`Address::new`]).
    pub fn due<'a>(&self, target: &'a Target, now: Instant) -> Option<&'a str> {
        match target {
            Target::Name(n) if now >= self.next_resolve => Some(n),
            _ => None,
        }
    }

    pub fn family(&self) -> Family {
        self.family
    }

    /// The address to probe now, after an optional fresh `lookup`.
    pub fn apply(&mut self, lookup: Option<Lookup>, now: Instant, every: Duration, stale: Duration) -> Use {
        let Some(lookup) = lookup else {
            return match self.current {
                Some(addr) => Use::Probe { addr, changed: None },
                None => Use::Error("no address resolved yet".into()),
            };
        };
        self.next_resolve = crate::time::mono_add(now, every);
        match lookup {
            Lookup::Found(addrs) => {
                let addr = addrs[0];
                let changed = self.current.filter(|old| *old != addr);
                self.current = Some(addr);
                self.last_good = Some(now);
                Use::Probe { addr, changed }
            }
            Lookup::NotFound(why) => {
                self.current = None;
                Use::Fail(why)
            }
            Lookup::Failed(why) => match (self.current, self.last_good) {
                (Some(addr), Some(t)) if now.duration_since(t) <= stale => Use::Probe { addr, changed: None },
                _ => {
                    // Retry sooner than `every` while failing.
                    self.next_resolve = crate::time::mono_add(now, every.min(Duration::from_secs(30)));
                    Use::Error(why)
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn addresses_follow_the_resolver_and_go_stale() {
        let t0 = Instant::now();
        let every = Duration::from_secs(300);
        let stale = Duration::from_secs(3600);
        let peer = Target::Name("peer.example".into());
        let mut a = Address::new(&peer, Family::Any, t0);
        assert_eq!(a.due(&peer, t0), Some("peer.example"));
        let found = |s: &str| Some(Lookup::Found(vec![ip(s)]));
        assert_eq!(
            a.apply(found("192.0.2.1"), t0, every, stale),
            Use::Probe {
                addr: ip("192.0.2.1"),
                changed: None
            }
        );
        assert_eq!(a.due(&peer, t0 + Duration::from_secs(10)), None);
        assert_eq!(
            a.apply(None, t0, every, stale),
            Use::Probe {
                addr: ip("192.0.2.1"),
                changed: None
            }
        );
        let t1 = t0 + every;
        assert!(a.due(&peer, t1).is_some());
        assert_eq!(
            a.apply(found("192.0.2.9"), t1, every, stale),
            Use::Probe {
                addr: ip("192.0.2.9"),
                changed: Some(ip("192.0.2.1"))
            }
        );
        // The resolver fails: the last address serves for dns_stale.
        let t2 = t1 + Duration::from_secs(1800);
        let failed = || Some(Lookup::Failed("timeout".into()));
        assert_eq!(
            a.apply(failed(), t2, every, stale),
            Use::Probe {
                addr: ip("192.0.2.9"),
                changed: None
            }
        );
        let t3 = t1 + stale + Duration::from_secs(1);
        assert_eq!(a.apply(failed(), t3, every, stale), Use::Error("timeout".into()));
        // An answer that the name is gone is a failed check.
        let gone = Some(Lookup::NotFound("name peer.example does not exist".into()));
        assert_eq!(
            a.apply(gone, t3, every, stale),
            Use::Fail("name peer.example does not exist".into())
        );
    }

    #[test]
    fn literal_addresses_never_resolve() {
        let t0 = Instant::now();
        let one = Target::Ip(ip("::1"));
        let mut a = Address::new(&one, Family::Any, t0);
        assert_eq!(a.due(&one, t0), None);
        assert_eq!(
            a.apply(None, t0, Duration::from_secs(1), Duration::from_secs(1)),
            Use::Probe {
                addr: ip("::1"),
                changed: None
            }
        );
    }

    #[tokio::test]
    async fn real_lookups_of_localhost_and_of_a_name_that_cannot_exist() {
        match lookup("localhost", Family::Ipv4, Duration::from_secs(5)).await {
            Lookup::Found(a) => assert!(a.iter().all(|x| x.is_loopback() && x.is_ipv4()), "{a:?}"),
            other => panic!("localhost: {other:?}"),
        }
        // .invalid is reserved (RFC 6761): never exists. With no network a
        // resolver may fail instead of answering; both are acceptable here,
        // a Found is not.
        let r = lookup("failoverd-test.invalid", Family::Any, Duration::from_secs(5)).await;
        assert!(!matches!(r, Lookup::Found(_)), "{r:?}");
    }
}
