//! Reads `[ha]`: the virtual address keepalived moves between the pair and
//! the other host's `/status` URL (docs/ha.md, Settings). Both are
//! required once the table is written: a pair whose hosts do not read each
//! other's holds would let one host push a group held on the other. For
//! the same reason `[ha]` needs `[http] listen`, on an address the other
//! host can reach.

use std::net::{IpAddr, SocketAddr};

use super::diag::Diagnostics;
use super::keys::{Section, names};
use super::settings::Ha;
use super::toml_read::Table;

/// The `[ha]` table, or `None` when a key is missing or invalid (the
/// error is in `d`). `http` is `[http] listen` and its offset, if read;
/// `listen_written` whether `listen` is written at all (a bad value is
/// reported where it is).
pub fn ha(
    t: &Table<'_, '_>,
    http: Option<(SocketAddr, usize)>,
    listen_written: bool,
    d: &mut Diagnostics,
) -> Option<Ha> {
    t.finish(d, &names(Section::Ha));
    let src = t.src();
    match http {
        None if !listen_written => d.error(
            src,
            t.pos,
            "ha",
            "[ha] needs [http] listen: the other host reads this host's holds from its /status; \
             add [http] listen = \"0.0.0.0:9733\" (or this host's own address)",
        ),
        Some((addr, pos)) if addr.ip().is_loopback() => d.warn(
            src,
            pos,
            "http.listen",
            format!(
                "{addr} is reachable from this host only: the other host of the [ha] pair cannot read this host's holds; \
                 listen on an address it reaches (0.0.0.0 or this host's own)"
            ),
        ),
        _ => {}
    }
    let address = match t.string(d, "address") {
        Some(a) => match parse_address(&a.value) {
            Ok(ip) => Some(ip),
            Err(msg) => {
                d.error(src, a.pos, &t.key_path("address"), msg);
                None
            }
        },
        None if t.raw("address").is_none() => {
            t.missing(d, "address", "\"198.51.100.50\" (the VRRP virtual address)");
            None
        }
        None => None,
    };
    let peer = match t.string(d, "peer") {
        Some(p) => match parse_peer(&p.value, address) {
            Ok(url) => Some(url),
            Err(msg) => {
                d.error(src, p.pos, &t.key_path("peer"), msg);
                None
            }
        },
        None if t.raw("peer").is_none() => {
            t.missing(
                d,
                "peer",
                "\"http://198.51.100.12:9733/status\" (the other host's own address and [http] listen port)",
            );
            None
        }
        None => None,
    };
    Some(Ha {
        address: address?,
        peer: peer?,
    })
}

/// A unicast IP address, as keepalived's `virtual_ipaddress` holds.
pub fn parse_address(s: &str) -> Result<IpAddr, String> {
    let ip: IpAddr = s.trim().parse().map_err(|_| {
        let hint = if s.contains('/') {
            "; leave out the prefix length"
        } else {
            ""
        };
        format!("{s:?} is not an IP address{hint}: write the VRRP virtual address, e.g. \"198.51.100.50\"")
    })?;
    if ip.is_unspecified() || ip.is_multicast() || ip.is_loopback() {
        return Err(format!(
            "{ip} cannot be a virtual address (unspecified, multicast or loopback): write the address keepalived moves between the hosts"
        ));
    }
    Ok(ip)
}

/// `http://HOST[:PORT][/PATH]` or `https://...`, `/status` added when no
/// path is given. User info is refused (it would be a secret in a URL that
/// is logged), and so is the virtual address as host: that would read this
/// host's own status whenever it is active.
pub fn parse_peer(s: &str, address: Option<IpAddr>) -> Result<String, String> {
    let usage = "write the other host's status URL, e.g. \"http://198.51.100.12:9733/status\"";
    if s.contains('@') {
        return Err(format!("user info in the peer URL is not accepted: {usage}"));
    }
    let mut url = url::Url::parse(s).map_err(|e| format!("{s:?} is not a URL ({e}): {usage}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "{s:?}: the peer is read over http:// or https:// only: {usage}"
        ));
    }
    let Some(host) = url.host() else {
        return Err(format!("{s:?} names no host: {usage}"));
    };
    let host_ip = match host {
        url::Host::Ipv4(a) => Some(IpAddr::V4(a)),
        url::Host::Ipv6(a) => Some(IpAddr::V6(a)),
        url::Host::Domain(_) => None,
    };
    if let (Some(h), Some(a)) = (host_ip, address)
        && h == a
    {
        return Err(format!(
            "the peer URL names the virtual address {a}: whichever host is active would read itself; name the other host's own address"
        ));
    }
    if url.fragment().is_some() {
        return Err(format!("{s:?}: a fragment (#...) means nothing here: {usage}"));
    }
    if url.path().is_empty() || url.path() == "/" {
        url.set_path("/status");
    }
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(parse_address("198.51.100.50"), Ok("198.51.100.50".parse().unwrap()));
        assert_eq!(parse_address("2001:db8::50"), Ok("2001:db8::50".parse().unwrap()));
        let e = parse_address("198.51.100.50/24").unwrap_err();
        assert!(e.contains("leave out the prefix length"), "{e}");
        for bad in ["0.0.0.0", "::", "224.0.0.18", "127.0.0.1", "::1"] {
            assert!(
                parse_address(bad).unwrap_err().contains("cannot be a virtual address"),
                "{bad}"
            );
        }
        assert!(
            parse_address("vip.example.net")
                .unwrap_err()
                .contains("not an IP address")
        );
        assert!(parse_address("").is_err());
    }

    #[test]
    fn peers() {
        let vip = Some("198.51.100.50".parse().unwrap());
        assert_eq!(
            parse_peer("http://198.51.100.12:9733", vip).unwrap(),
            "http://198.51.100.12:9733/status"
        );
        assert_eq!(
            parse_peer("https://mon-b.example.net/failoverd/status", vip).unwrap(),
            "https://mon-b.example.net/failoverd/status"
        );
        assert_eq!(
            parse_peer("http://[2001:db8::12]:9733/", None).unwrap(),
            "http://[2001:db8::12]:9733/status"
        );
        let e = parse_peer("http://198.51.100.50:9733/status", vip).unwrap_err();
        assert!(e.contains("virtual address"), "{e}");
        let e = parse_peer("http://admin:s3cret@198.51.100.12/status", vip).unwrap_err();
        assert!(e.contains("user info") && !e.contains("s3cret"), "{e}");
        assert!(
            parse_peer("ftp://198.51.100.12/status", vip)
                .unwrap_err()
                .contains("http://")
        );
        assert!(parse_peer("198.51.100.12:9733", vip).is_err());
        assert!(
            parse_peer("http://198.51.100.12/status#x", vip)
                .unwrap_err()
                .contains("fragment")
        );
        assert!(parse_peer("", vip).is_err());
    }
}
