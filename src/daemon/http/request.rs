//! The request head as `[http]` reads it (pure, unit-tested): where it
//! ends (an empty line, CRLF or bare LF), its method and path (a query
//! string ignored), its Host header, and which Host names a loopback
//! listener accepts (docs/status-page.md, "Requests").

use std::net::{IpAddr, Ipv6Addr};

/// The longest head read; a longer one is refused (431).
pub const MAX_HEAD: usize = 8192;

/// Whether `buf` holds a whole head: a line, then an empty line, each
/// ended by CRLF or by a bare LF.
pub fn whole(buf: &[u8]) -> bool {
    buf.windows(2).any(|w| w == b"\n\n") || buf.windows(3).any(|w| w == b"\n\r\n")
}

/// What a request's Host header says.
#[derive(Debug, PartialEq, Eq)]
pub enum Host<'a> {
    /// No Host header (HTTP/1.0 clients, some probes).
    Missing,
    One(&'a str),
    /// More than one: refused (400).
    Several,
}

/// A request head.
#[derive(Debug, PartialEq, Eq)]
pub struct Head<'a> {
    pub method: &'a str,
    /// The target without its query string.
    pub path: &'a str,
    pub host: Host<'a>,
}

/// The head in `text`, or None if its request line is not
/// `METHOD TARGET [VERSION]`.
pub fn parse(text: &str) -> Option<Head<'_>> {
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let mut words = lines.next()?.split_whitespace();
    let (method, target) = (words.next()?, words.next()?);
    if words.next().is_some_and(|v| !v.starts_with("HTTP/")) || words.next().is_some() {
        return None;
    }
    let path = target.split(['?', '#']).next().unwrap_or_default();
    let mut host = Host::Missing;
    for line in lines.take_while(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.trim().eq_ignore_ascii_case("host") {
            host = match host {
                Host::Missing => Host::One(value.trim()),
                _ => Host::Several,
            };
        }
    }
    Some(Head { method, path, host })
}

/// Whether a Host header names this host by its loopback side: a loopback
/// address (127.0.0.0/8, `[::1]`, with or without a port) or `localhost`.
/// Any other name may be a DNS-rebinding page's (docs/status-page.md).
pub fn loopback_host(value: &str) -> bool {
    let name = match value.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((v6, port)) if port.is_empty() || is_port(port.strip_prefix(':')) => {
                return v6
                    .parse::<Ipv6Addr>()
                    .is_ok_and(|a| IpAddr::V6(a).to_canonical().is_loopback());
            }
            _ => return false,
        },
        None => match value.rsplit_once(':') {
            Some((name, port)) if is_port(Some(port)) => name,
            Some(_) => return false,
            None => value,
        },
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::Ipv4Addr>().is_ok_and(|a| a.is_loopback())
}

fn is_port(port: Option<&str>) -> bool {
    port.is_some_and(|p| p.parse::<u16>().is_ok() && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests;
