//! Reads `[firewall]`: the API URL (https only, completed with
//! `/webconsole/APIController`), credentials, the TLS mode, and the timing
//! of pushes and of the safety rules.

use std::path::Path;
use std::time::Duration;

use super::diag::{Diagnostics, hint};
use super::secret::{Password, SecretSource};
use super::secret_read::password;
use super::settings::{Firewall, PushForm, Spelling, TlsMode};
use super::toml_read::Table;

const SEC: Duration = Duration::from_secs(1);
const MIN: Duration = Duration::from_secs(60);

/// The API path added to a URL that has none.
pub const API_PATH: &str = "/webconsole/APIController";

fn placeholder() -> Firewall {
    Firewall {
        url: String::new(),
        host: String::new(),
        port: 443,
        username: String::new(),
        password: Password {
            source: SecretSource::Inline,
            secret: None,
        },
        tls: TlsMode::System,
        tls_name: None,
        timeout: 10 * SEC,
        spelling: Spelling::Sfos19,
        api_version: None,
        push_form: PushForm::Bare,
        max_in_flight: 2,
        config_retry: 10 * MIN,
        check_every: 15 * MIN,
        restart_after: 2 * MIN,
        restart_backoff: 5 * MIN,
        flap_limit: 3,
        flap_window: 30 * MIN,
        flap_hold: 10 * MIN,
        reactivate_after: 30 * MIN,
        sync: false,
        dry_run: false,
    }
}

pub fn firewall(top: &Table<'_, '_>, base: &Path, d: &mut Diagnostics) -> Firewall {
    let mut fw = placeholder();
    let Some(t) = top.table(d, "firewall") else {
        if top.raw("firewall").is_none() {
            let msg = "the [firewall] section is missing: add [firewall] with url and username";
            d.error(top.src(), 0, "firewall", msg);
        }
        return fw;
    };
    t.finish(d, &super::keys::names(super::keys::Section::Firewall));
    match t.string(d, "url") {
        Some(u) => match complete_url(&u.value) {
            Ok((url, host, port)) => (fw.url, fw.host, fw.port) = (url, host, port),
            Err(msg) => d.error(t.src(), u.pos, &t.key_path("url"), msg),
        },
        None if t.raw("url").is_none() => t.missing(d, "url", "\"https://192.0.2.1:4444\""),
        None => {}
    }
    match t.string(d, "username") {
        Some(u) if u.value.is_empty() => d.error(
            t.src(),
            u.pos,
            &t.key_path("username"),
            "username is empty: name the API account",
        ),
        Some(u) => fw.username = u.value,
        None if t.raw("username").is_none() => t.missing(d, "username", "\"failoverd\""),
        None => {}
    }
    fw.password = password(&t, base, "firewall.password", d);
    fw.tls = tls_mode(&t, base, d);
    fw.tls_name = t.string(d, "tls_name").map(|n| n.value);
    if let (Some(_), false) = (&fw.tls_name, matches!(fw.tls, TlsMode::CaFile(_))) {
        let pos = t.key_pos("tls_name").unwrap_or(t.pos);
        d.warn(
            t.src(),
            pos,
            &t.key_path("tls_name"),
            "tls_name is only used with ca_file; it is ignored",
        );
    }
    timing(&t, &mut fw, d);
    fw
}

fn timing(t: &Table<'_, '_>, fw: &mut Firewall, d: &mut Diagnostics) {
    let dur = |d: &mut Diagnostics, k: &str, min: Duration, v: &mut Duration| {
        if let Some(x) = t.duration(d, k, min) {
            *v = x.value;
        }
    };
    dur(d, "timeout", Duration::from_millis(100), &mut fw.timeout);
    dur(d, "config_retry", SEC, &mut fw.config_retry);
    dur(d, "check_every", SEC, &mut fw.check_every);
    dur(d, "restart_after", SEC, &mut fw.restart_after);
    dur(d, "restart_backoff", SEC, &mut fw.restart_backoff);
    dur(d, "flap_window", SEC, &mut fw.flap_window);
    dur(d, "flap_hold", Duration::ZERO, &mut fw.flap_hold);
    dur(d, "reactivate_after", SEC, &mut fw.reactivate_after);
    if let Some(n) = t.int(d, "max_in_flight", 1, 64) {
        fw.max_in_flight = n.value as u32;
    }
    if let Some(n) = t.int(d, "flap_limit", 1, 1000) {
        fw.flap_limit = n.value as u32;
    }
    fw.sync = t.bool(d, "sync").unwrap_or(false);
    fw.dry_run = t.bool(d, "dry_run").unwrap_or(false);
    fw.api_version = t.string(d, "api_version").map(|v| v.value);
    if let Some(s) = t.string(d, "spelling") {
        match s.value.as_str() {
            "sfos19" => fw.spelling = Spelling::Sfos19,
            "sfos17" => fw.spelling = Spelling::Sfos17,
            other => {
                let h = hint(other, &["sfos19", "sfos17"]);
                d.error(
                    t.src(),
                    s.pos,
                    &t.key_path("spelling"),
                    format!("spelling = {other:?}{h}: use \"sfos19\" or \"sfos17\""),
                );
            }
        }
    }
    if let Some(s) = t.string(d, "push_form") {
        match s.value.as_str() {
            "bare" => fw.push_form = PushForm::Bare,
            "full" => fw.push_form = PushForm::Full,
            other => {
                let h = hint(other, &["bare", "full"]);
                d.error(
                    t.src(),
                    s.pos,
                    &t.key_path("push_form"),
                    format!("push_form = {other:?}{h}: use \"bare\" or \"full\""),
                );
            }
        }
    }
}

fn tls_mode(t: &Table<'_, '_>, base: &Path, d: &mut Diagnostics) -> TlsMode {
    let ca = t.string(d, "ca_file");
    let pin = t.string(d, "pin_sha256");
    let insecure = t.bool(d, "insecure").unwrap_or(false);
    let given = [ca.is_some(), pin.is_some(), insecure].iter().filter(|b| **b).count();
    if given > 1 {
        let key = if pin.is_some() { "pin_sha256" } else { "insecure" };
        let pos = t.key_pos(key).unwrap_or(t.pos);
        d.error(
            t.src(),
            pos,
            &t.key_path(key),
            "ca_file, pin_sha256 and insecure exclude each other: choose one",
        );
        return TlsMode::System;
    }
    if let Some(ca) = ca {
        let path = base.join(&ca.value);
        if let Err(e) = super::regular::open(&path) {
            let msg = super::regular::explain(&path, &e);
            d.error(t.src(), ca.pos, &t.key_path("ca_file"), msg);
        }
        return TlsMode::CaFile(path);
    }
    if let Some(pin) = pin {
        return match parse_pin(&pin.value) {
            Some(p) => TlsMode::Pin(p),
            None => {
                let msg = "pin_sha256 must be the 64 hex digits of the certificate's SHA-256 (colons optional): to learn the one the firewall presents, remove this line and run `failoverd import` or `failoverd check --online`, which print it with the line to add";
                d.error(t.src(), pin.pos, &t.key_path("pin_sha256"), msg);
                TlsMode::System
            }
        };
    }
    if insecure {
        let pos = t.key_pos("insecure").unwrap_or(t.pos);
        let msg = "insecure = true: the firewall's certificate is not checked, so anyone in the path can read the API password; pin it with pin_sha256 instead";
        d.warn(t.src(), pos, &t.key_path("insecure"), msg);
        return TlsMode::Insecure;
    }
    TlsMode::System
}

/// 64 hex digits, colons optional, any case.
pub fn parse_pin(s: &str) -> Option<[u8; 32]> {
    let hex: String = s.chars().filter(|c| *c != ':').collect();
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// Checks an API URL and completes it: https only, no user info, query or
/// fragment; the API path added when there is none; host in lower case.
/// Returns (url, host, port).
pub fn complete_url(s: &str) -> Result<(String, String, u16), String> {
    // First, and without quoting it: an '@' means a password may be in
    // the text (`http://api:pw@fw`, `api:pw@fw`), and every other message
    // here quotes the URL.
    if s.contains('@') {
        return Err("user info in the URL is not accepted: set username, and password_file".into());
    }
    let mut url = url::Url::parse(s.trim())
        .map_err(|e| format!("{s:?} is not a URL ({e}): write it like \"https://192.0.2.1:4444\""))?;
    if url.scheme() != "https" {
        return Err(format!(
            "{s:?}: the firewall API is reached over https only: write https://"
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("user info in the URL is not accepted: set username, and password_file".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{s:?}: remove the query or fragment from the URL"));
    }
    let host = url
        .host_str()
        .ok_or_else(|| format!("{s:?} has no host"))?
        .to_ascii_lowercase();
    if url.path() == "/" || url.path().is_empty() {
        url.set_path(API_PATH);
    }
    let port = url.port_or_known_default().unwrap_or(443);
    Ok((url.to_string(), host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_completed() {
        let (u, h, p) = complete_url("https://FW.Example.net:4444").unwrap();
        assert_eq!(
            (u.as_str(), h.as_str(), p),
            (
                "https://fw.example.net:4444/webconsole/APIController",
                "fw.example.net",
                4444
            )
        );
        let (u, _, p) = complete_url("https://192.0.2.1/custom/path").unwrap();
        assert_eq!((u.as_str(), p), ("https://192.0.2.1/custom/path", 443));
        let (u, h, _) = complete_url("https://[2001:db8::1]:4444/").unwrap();
        assert_eq!(
            (u.as_str(), h.as_str()),
            ("https://[2001:db8::1]:4444/webconsole/APIController", "[2001:db8::1]")
        );
        assert!(complete_url("http://192.0.2.1").unwrap_err().contains("https only"));
        for with_password in [
            "https://u:p@192.0.2.1",
            "http://u:p@192.0.2.1",
            "u:p@192.0.2.1",
            "https://u:p@",
        ] {
            let e = complete_url(with_password).unwrap_err();
            assert!(e.contains("user info") && !e.contains(":p"), "{e}");
        }
    }

    #[test]
    fn pins_parse() {
        let hex = "ab".repeat(32);
        assert_eq!(parse_pin(&hex), Some([0xab; 32]));
        let colons: Vec<String> = (0..32).map(|_| "AB".to_string()).collect();
        assert_eq!(parse_pin(&colons.join(":")), Some([0xab; 32]));
        assert_eq!(parse_pin("abcd"), None);
        assert_eq!(parse_pin(&"zz".repeat(32)), None);
    }
}
