//! Reads `[snmp]`: where the firewall's SNMP agent is, how failoverd logs
//! in (a v3 user, always authPriv, or a v2c community), and the pace of
//! the walks and of the events built on them (docs/settings.md, "[snmp]").

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use super::diag::{Diagnostics, hint};
use super::secret::{Password, SecretSource};
use super::secret_read::secret_file;
use super::settings::{Firewall, Snmp, SnmpAuth, SnmpPrivacy, SnmpSecurity};
use super::toml_read::Table;

const SEC: Duration = Duration::from_secs(1);

/// The SNMP port when `address` gives none.
pub const DEFAULT_PORT: u16 = 161;

/// RFC 3414's shortest v3 password; Net-SNMP and the firewall refuse
/// shorter ones.
const MIN_V3_PASSWORD: usize = 8;

/// The v3-only and v2c-only keys, for the "ignored" warnings.
const V3_KEYS: [&str; 5] = ["user", "auth", "privacy", "auth_password_file", "privacy_password_file"];

pub fn snmp(t: &Table<'_, '_>, base: &Path, fw: &Firewall, d: &mut Diagnostics) -> Snmp {
    t.finish(d, &super::keys::names(super::keys::Section::Snmp));
    let src = t.src();
    let mut s = Snmp {
        host: fw.host.clone(),
        port: DEFAULT_PORT,
        security: SnmpSecurity::V2c {
            community: Password {
                source: SecretSource::Inline,
                secret: None,
            },
        },
        interval: 10 * SEC,
        timeout: 2 * SEC,
        verify_within: 60 * SEC,
        disagree_after: 120 * SEC,
    };
    if let Some(a) = t.string(d, "address") {
        match parse_address(&a.value) {
            Ok((host, port)) => (s.host, s.port) = (host, port),
            Err(msg) => d.error(src, a.pos, &t.key_path("address"), msg),
        }
    }
    let v3 = match t.string(d, "version") {
        None => true,
        Some(v) => match v.value.as_str() {
            "3" => true,
            "2c" => {
                let msg = "version = \"2c\": the community travels in clear text and any host on the path can read it; \
                           use version = \"3\" with a user (authPriv)";
                d.warn(src, v.pos, &t.key_path("version"), msg);
                false
            }
            other => {
                let msg = format!("version = {other:?}: use \"3\" (recommended) or \"2c\"");
                d.error(src, v.pos, &t.key_path("version"), msg);
                true
            }
        },
    };
    s.security = if v3 {
        if t.raw("community_file").is_some() {
            let pos = t.key_pos("community_file").unwrap_or(t.pos);
            let msg = "community_file is ignored with version = \"3\": remove it, or set version = \"2c\"";
            d.warn(src, pos, &t.key_path("community_file"), msg);
            let _ = t.string(d, "community_file");
        }
        v3_security(t, base, d)
    } else {
        for k in V3_KEYS {
            if t.raw(k).is_some() {
                let pos = t.key_pos(k).unwrap_or(t.pos);
                let msg = format!("{k} is ignored with version = \"2c\": remove it, or set version = \"3\"");
                d.warn(src, pos, &t.key_path(k), msg);
                let _ = t.string(d, k);
            }
        }
        let community = secret_file(t, base, "community_file", "snmp.community", d);
        SnmpSecurity::V2c { community }
    };
    if let Some(v) = t.duration(d, "interval", SEC) {
        s.interval = v.value;
    }
    if let Some(v) = t.duration(d, "timeout", Duration::from_millis(100)) {
        if v.value > s.interval {
            let msg = format!(
                "timeout = {:?} is longer than interval ({}): a walk must end before the next one starts; shorten timeout or lengthen interval",
                humantime::format_duration(v.value).to_string(),
                humantime::format_duration(s.interval)
            );
            d.error(src, v.pos, &t.key_path("timeout"), msg);
        } else {
            s.timeout = v.value;
        }
    }
    if let Some(v) = t.duration(d, "verify_within", SEC) {
        s.verify_within = v.value;
    }
    if let Some(v) = t.duration(d, "disagree_after", SEC) {
        s.disagree_after = v.value;
    }
    for (key, value) in [("verify_within", s.verify_within), ("disagree_after", s.disagree_after)] {
        if value < s.interval {
            let pos = t.key_pos(key).unwrap_or(t.pos);
            let msg = format!(
                "{key} ({}) is shorter than interval ({}): the table is read only once per interval; make {key} at least interval",
                humantime::format_duration(value),
                humantime::format_duration(s.interval)
            );
            d.error(src, pos, &t.key_path(key), msg);
        }
    }
    s
}

fn v3_security(t: &Table<'_, '_>, base: &Path, d: &mut Diagnostics) -> SnmpSecurity {
    let src = t.src();
    let user = match t.string(d, "user") {
        Some(u) if u.value.is_empty() || u.value.len() > 32 => {
            let msg = "user must be 1 to 32 characters: name the SNMPv3 user set up on the firewall";
            d.error(src, u.pos, &t.key_path("user"), msg);
            String::new()
        }
        Some(u) => u.value,
        None => {
            if t.raw("user").is_none() {
                t.missing(
                    d,
                    "user",
                    "\"failoverd\" (the SNMPv3 user set up on the firewall), or set version = \"2c\"",
                );
            }
            String::new()
        }
    };
    let mut auth = SnmpAuth::Sha;
    if let Some(a) = t.string(d, "auth") {
        match a.value.as_str() {
            "sha" => auth = SnmpAuth::Sha,
            "sha256" => auth = SnmpAuth::Sha256,
            "sha512" => auth = SnmpAuth::Sha512,
            "md5" => {
                let msg = "auth = \"md5\" is weak: set the firewall's SNMPv3 user to SHA-256 or SHA-512 and use auth = \"sha256\" or \"sha512\"";
                d.warn(src, a.pos, &t.key_path("auth"), msg);
                auth = SnmpAuth::Md5;
            }
            other => {
                let h = hint(other, &["sha", "sha256", "sha512", "md5"]);
                let msg = format!(
                    "auth = {other:?}{h}: use \"sha\", \"sha256\" or \"sha512\" (as set for the user on the firewall)"
                );
                d.error(src, a.pos, &t.key_path("auth"), msg);
            }
        }
    }
    let mut privacy = SnmpPrivacy::Aes;
    if let Some(p) = t.string(d, "privacy") {
        match p.value.as_str() {
            "aes" => privacy = SnmpPrivacy::Aes,
            "aes256" => privacy = SnmpPrivacy::Aes256,
            "des" => {
                let msg = "privacy = \"des\" is weak: set the firewall's SNMPv3 user to AES and use privacy = \"aes\" or \"aes256\"";
                d.warn(src, p.pos, &t.key_path("privacy"), msg);
                privacy = SnmpPrivacy::Des;
            }
            other => {
                let h = hint(other, &["aes", "aes256", "des"]);
                let msg = format!(
                    "privacy = {other:?}{h}: use \"aes\" (AES-128) or \"aes256\" (as set for the user on the firewall)"
                );
                d.error(src, p.pos, &t.key_path("privacy"), msg);
            }
        }
    }
    let auth_password = secret_file(t, base, "auth_password_file", "snmp.auth", d);
    let privacy_password = secret_file(t, base, "privacy_password_file", "snmp.privacy", d);
    for (key, pw) in [
        ("auth_password_file", &auth_password),
        ("privacy_password_file", &privacy_password),
    ] {
        if pw
            .secret
            .as_ref()
            .is_some_and(|s| !s.expose().is_empty() && s.expose().len() < MIN_V3_PASSWORD)
        {
            let pos = t.key_pos(key).unwrap_or(t.pos);
            let msg = format!(
                "the password from {} is shorter than {MIN_V3_PASSWORD} characters, which SNMPv3 refuses: set a longer one on the firewall and here",
                pw.source
            );
            d.error(src, pos, &t.key_path(key), msg);
        }
    }
    SnmpSecurity::V3 {
        user,
        auth,
        auth_password,
        privacy,
        privacy_password,
    }
}

/// `host:port`, `[v6]:port`, an address or a host name alone (port 161).
pub fn parse_address(s: &str) -> Result<(String, u16), String> {
    let usage = "write it like \"192.0.2.1:161\", \"[2001:db8::1]:161\" or \"fw.example.net\" (port 161)";
    if let Ok(a) = s.parse::<SocketAddr>() {
        if a.port() == 0 {
            return Err(format!("{s:?}: port 0 is not a port; {usage}"));
        }
        return Ok((a.ip().to_string(), a.port()));
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok((ip.to_string(), DEFAULT_PORT));
    }
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    let name_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_');
    if !name_ok {
        return Err(format!("{s:?} is not an address or host name; {usage}"));
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("{s:?}: port {p:?} is not 1 to 65535"))?,
    };
    Ok((host.to_ascii_lowercase(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse() {
        assert_eq!(parse_address("192.0.2.1:161"), Ok(("192.0.2.1".into(), 161)));
        assert_eq!(parse_address("192.0.2.1"), Ok(("192.0.2.1".into(), 161)));
        assert_eq!(parse_address("[::1]:1161"), Ok(("::1".into(), 1161)));
        assert_eq!(parse_address("::1"), Ok(("::1".into(), 161)));
        assert_eq!(parse_address("FW.example.net"), Ok(("fw.example.net".into(), 161)));
        assert_eq!(parse_address("fw:16100"), Ok(("fw".into(), 16100)));
        for bad in ["", "fw:0", "fw:99999", "fw:x", "a b", "http://fw", "1.2.3.4:0"] {
            assert!(parse_address(bad).is_err(), "{bad:?}");
        }
    }
}
