//! Reads `[mail]`: the server URL (parsed here, not by the SMTP library:
//! `smtp://` means STARTTLS required, `smtps://` TLS from the start,
//! `?tls=none` plain for a local relay), addresses, AUTH and pacing.

use std::path::Path;
use std::time::Duration;

use super::diag::Diagnostics;
use super::secret_read::password;
use super::settings::{Mail, MailSecurity};
use super::toml_read::Table;

pub fn mail(t: &Table<'_, '_>, base: &Path, d: &mut Diagnostics) -> Mail {
    t.finish(d, &super::keys::names(super::keys::Section::Mail));
    let src = t.src();
    let mut m = Mail {
        host: String::new(),
        port: 587,
        security: MailSecurity::StartTls,
        from: String::new(),
        to: Vec::new(),
        username: None,
        password: None,
        ca_file: None,
        timeout: Duration::from_secs(30),
        coalesce: Duration::from_secs(10),
        max_per_hour: 6,
        spool_max: 1000,
    };
    match t.string(d, "server") {
        Some(s) => match parse_server(&s.value) {
            Ok((host, port, sec)) => (m.host, m.port, m.security) = (host, port, sec),
            Err(msg) => d.error(src, s.pos, &t.key_path("server"), msg),
        },
        None if t.raw("server").is_none() => t.missing(d, "server", "\"smtp://mail.example.com\""),
        None => {}
    }
    match t.string(d, "from") {
        Some(f) => match check_mailbox(&f.value) {
            Ok(()) => m.from = f.value,
            Err(e) => d.error(src, f.pos, &t.key_path("from"), e),
        },
        None if t.raw("from").is_none() => t.missing(d, "from", "\"failoverd <failoverd@example.com>\""),
        None => {}
    }
    match t.strings(d, "to") {
        Some(to) if to.is_empty() => d.error(
            src,
            t.key_pos("to").unwrap_or(t.pos),
            &t.key_path("to"),
            "to is empty: name at least one recipient",
        ),
        Some(to) => {
            for (i, a) in to.into_iter().enumerate() {
                match check_mailbox(&a.value) {
                    Ok(()) => m.to.push(a.value),
                    Err(e) => d.error(src, a.pos, &format!("{}[{i}]", t.key_path("to")), e),
                }
            }
        }
        None if t.raw("to").is_none() => t.missing(d, "to", "[\"netops@example.com\"]"),
        None => {}
    }
    auth(t, base, &mut m, d);
    m.ca_file = t.string(d, "ca_file").map(|c| {
        let path = base.join(c.value);
        if let Err(e) = super::regular::open(&path) {
            let msg = super::regular::explain(&path, &e);
            d.error(t.src(), c.pos, &t.key_path("ca_file"), msg);
        }
        path
    });
    if let Some(v) = t.duration(d, "timeout", Duration::from_secs(1)) {
        m.timeout = v.value;
    }
    if let Some(v) = t.duration(d, "coalesce", Duration::ZERO) {
        m.coalesce = v.value;
    }
    if let Some(v) = t.int(d, "max_per_hour", 1, 3600) {
        m.max_per_hour = v.value as u32;
    }
    if let Some(v) = t.int(d, "spool_max", 1, 1_000_000) {
        m.spool_max = v.value as u32;
    }
    m
}

fn auth(t: &Table<'_, '_>, base: &Path, m: &mut Mail, d: &mut Diagnostics) {
    let src = t.src();
    let user = t.string(d, "username");
    let has_pw = t.raw("password").is_some() || t.raw("password_file").is_some();
    match user {
        Some(u) if m.security == MailSecurity::None => {
            let pos = t.key_pos("username").unwrap_or(u.pos);
            let msg = "username is ignored with ?tls=none: credentials never travel unencrypted; use smtp:// (STARTTLS) or smtps:// to log in";
            d.warn(src, pos, &t.key_path("username"), msg);
        }
        Some(u) => {
            m.username = Some(u.value);
            m.password = Some(password(t, base, "mail.password", d));
        }
        None if has_pw => {
            let key = if t.raw("password").is_some() {
                "password"
            } else {
                "password_file"
            };
            let pos = t.key_pos(key).unwrap_or(t.pos);
            d.warn(
                src,
                pos,
                &t.key_path(key),
                format!("{key} without username is ignored: set username to log in"),
            );
        }
        None => {}
    }
}

/// `smtp://host[:port]` (STARTTLS, 587), `smtps://host[:port]` (TLS, 465),
/// `smtp://host[:port]?tls=none` (plain, 25).
pub fn parse_server(s: &str) -> Result<(String, u16, MailSecurity), String> {
    let usage = "write it like \"smtp://mail.example.com\" (STARTTLS), \"smtps://mail.example.com\" (TLS) or \"smtp://127.0.0.1?tls=none\" (plain, local relay)";
    // First, and without quoting it: an '@' means a password may be in
    // the text (`alert:pw@mail`), and other messages here quote the URL.
    if s.contains('@') {
        return Err("user info in the server URL is not accepted: set username and password_file".into());
    }
    let (scheme, rest) = s
        .split_once("://")
        .ok_or_else(|| format!("{s:?} is not a mail server URL: {usage}"))?;
    let (authority, query) = match rest.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (rest, None),
    };
    let authority = authority.strip_suffix('/').unwrap_or(authority);
    if authority.contains('/') {
        return Err(format!("{s:?}: a mail server URL has no path; {usage}"));
    }
    let security = match (scheme.to_ascii_lowercase().as_str(), query) {
        ("smtp", None) => MailSecurity::StartTls,
        ("smtp", Some("tls=none")) => MailSecurity::None,
        ("smtps", None) => MailSecurity::Tls,
        (_, Some(q)) => return Err(format!("unknown option {q:?}: only smtp://...?tls=none is understood")),
        (other, _) => return Err(format!("unknown scheme {other:?}: {usage}")),
    };
    let default_port = match security {
        MailSecurity::StartTls => 587,
        MailSecurity::Tls => 465,
        MailSecurity::None => 25,
    };
    let (host, port) = split_host_port(authority).ok_or_else(|| format!("{s:?}: bad host or port; {usage}"))?;
    let port = match port {
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("{s:?}: port {p:?} is not 1 to 65535"))?,
        None => default_port,
    };
    Ok((host.to_ascii_lowercase(), port, security))
}

fn split_host_port(a: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = a.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        return Some((h, port));
    }
    let (h, p) = match a.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (a, None),
    };
    (!h.is_empty() && !h.contains(':')).then_some((h, p))
}

/// `addr@domain` or `Display Name <addr@domain>`.
pub fn check_mailbox(s: &str) -> Result<(), String> {
    let s = s.trim();
    let addr = match (s.rfind('<'), s.ends_with('>')) {
        (Some(i), true) => &s[i + 1..s.len() - 1],
        (None, false) => s,
        _ => {
            return Err(format!(
                "{s:?} is not a mail address: write \"name@example.com\" or \"Name <name@example.com>\""
            ));
        }
    };
    let ok = addr.split_once('@').is_some_and(|(l, d)| {
        !l.is_empty()
            && !d.is_empty()
            && !d.contains('@')
            && !addr.chars().any(|c| c.is_whitespace() || c == '<' || c == '>')
    });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not a mail address: write \"name@example.com\" or \"Name <name@example.com>\""
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_parse() {
        assert_eq!(
            parse_server("smtp://Mail.example.com"),
            Ok(("mail.example.com".into(), 587, MailSecurity::StartTls))
        );
        assert_eq!(
            parse_server("smtps://mail.example.com"),
            Ok(("mail.example.com".into(), 465, MailSecurity::Tls))
        );
        assert_eq!(
            parse_server("smtp://127.0.0.1:2525?tls=none"),
            Ok(("127.0.0.1".into(), 2525, MailSecurity::None))
        );
        assert_eq!(
            parse_server("smtp://[::1]:25?tls=none"),
            Ok(("::1".into(), 25, MailSecurity::None))
        );
        for with_password in ["smtp://u:p@mail", "u:p@mail", "smtpx://u:p@mail", "smtp://mail/u:p@x"] {
            let e = parse_server(with_password).unwrap_err();
            assert!(e.contains("user info") && !e.contains(":p"), "{e}");
        }
        assert!(parse_server("http://mail").is_err());
        assert!(parse_server("smtp://mail?tls=off").is_err());
        assert!(parse_server("smtp://mail:99999").is_err());
    }

    #[test]
    fn mailboxes() {
        assert!(check_mailbox("netops@example.com").is_ok());
        assert!(check_mailbox("failoverd <failoverd@example.com>").is_ok());
        for bad in ["", "netops", "a@", "@b", "a b@c", "x <y@z", "a@b@c"] {
            assert!(check_mailbox(bad).is_err(), "{bad:?}");
        }
    }
}
