//! Probe targets in the settings: IP addresses or host names, with the
//! address family rules of docs/settings.md (`family`, `source`, link-local
//! IPv6 needing an `interface`).

use std::net::IpAddr;

use super::diag::{Diagnostics, hint};
use super::settings::{Family, Target};
use super::toml_read::Table;

/// Parses one target: an IP address or a host name (RFC 1123 labels).
pub fn parse_target(s: &str) -> Result<Target, String> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(Target::Ip(ip));
    }
    if s.contains('%') {
        return Err(format!(
            "{s:?}: write the address without %zone and set interface = \"...\" instead"
        ));
    }
    if s.starts_with('[') || s.contains(':') {
        return Err(format!(
            "{s:?} is not an IP address (write IPv6 without brackets, and no port)"
        ));
    }
    let name = s.strip_suffix('.').unwrap_or(s);
    let labels_ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    let all_numeric = name.split('.').all(|l| l.chars().all(|c| c.is_ascii_digit()));
    if !labels_ok || all_numeric {
        return Err(format!("{s:?} is neither an IP address nor a valid host name"));
    }
    Ok(Target::Name(name.to_ascii_lowercase()))
}

fn is_link_local_v6(ip: &IpAddr) -> bool {
    matches!(ip, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80)
}

/// Reads `family`; with `source` set it defaults to the source's family
/// and may not contradict it.
pub fn parse_family(t: &Table<'_, '_>, source: Option<IpAddr>, d: &mut Diagnostics) -> Family {
    let from_source = source.map(|s| if s.is_ipv4() { Family::Ipv4 } else { Family::Ipv6 });
    let Some(f) = t.string(d, "family") else {
        return from_source.unwrap_or(Family::Any);
    };
    let family = match f.value.as_str() {
        "ipv4" => Family::Ipv4,
        "ipv6" => Family::Ipv6,
        "any" => Family::Any,
        other => {
            let h = hint(other, &["ipv4", "ipv6", "any"]);
            d.error(
                t.src(),
                f.pos,
                &t.key_path("family"),
                format!("family = {other:?}{h}: use \"ipv4\", \"ipv6\" or \"any\""),
            );
            return from_source.unwrap_or(Family::Any);
        }
    };
    if let Some(sf) = from_source
        && family != sf
    {
        let msg = format!(
            "family = {:?} contradicts source, an address of the other family: remove family or change source",
            f.value
        );
        d.error(t.src(), f.pos, &t.key_path("family"), msg);
        return sf;
    }
    family
}

/// Reads a target list (`targets` of a connection, `anchors` of the guard).
pub fn read_targets(
    t: &Table<'_, '_>,
    key: &str,
    family: Family,
    has_interface: bool,
    d: &mut Diagnostics,
    required: bool,
) -> Vec<Target> {
    let src = t.src();
    let Some(items) = t.strings(d, key) else {
        if required && t.raw(key).is_none() {
            t.missing(d, key, "[\"192.0.2.10\"]");
        }
        return Vec::new();
    };
    if items.is_empty() && required {
        let msg = format!("{key} is empty: give at least one IP address or host name to probe");
        d.error(src, t.key_pos(key).unwrap_or(t.pos), &t.key_path(key), msg);
    }
    let mut out: Vec<Target> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("{}[{i}]", t.key_path(key));
        let target = match parse_target(&item.value) {
            Ok(target) => target,
            Err(msg) => {
                d.error(src, item.pos, &path, msg);
                continue;
            }
        };
        if let Target::Ip(ip) = &target {
            let wrong = match family {
                Family::Ipv4 => ip.is_ipv6(),
                Family::Ipv6 => ip.is_ipv4(),
                Family::Any => false,
            };
            if wrong {
                d.error(
                    src,
                    item.pos,
                    &path,
                    format!(
                        "{ip} is not of this connection's address family (family or source): remove it or change family"
                    ),
                );
                continue;
            }
            if is_link_local_v6(ip) && !has_interface {
                d.error(
                    src,
                    item.pos,
                    &path,
                    format!("{ip} is link-local: set interface = \"...\" to say which link to probe it on"),
                );
                continue;
            }
        }
        if out.contains(&target) {
            d.error(
                src,
                item.pos,
                &path,
                format!("{target} is listed twice; list each target once"),
            );
            continue;
        }
        out.push(target);
    }
    // Kept for the daemon's life, once per connection: no spare capacity.
    out.shrink_to_fit();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        assert_eq!(parse_target("192.0.2.1"), Ok(Target::Ip("192.0.2.1".parse().unwrap())));
        assert_eq!(
            parse_target("2001:db8::1"),
            Ok(Target::Ip("2001:db8::1".parse().unwrap()))
        );
        assert_eq!(
            parse_target("VPN-Peer.Example.NET."),
            Ok(Target::Name("vpn-peer.example.net".into()))
        );
        for bad in [
            "",
            "a..b",
            "-a.b",
            "a_b.c",
            "1.2.3.256",
            "[::1]",
            "fe80::1%eth0",
            "host:80",
        ] {
            assert!(parse_target(bad).is_err(), "{bad:?}");
        }
    }
}
