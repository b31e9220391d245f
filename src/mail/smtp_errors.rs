//! [`SendError`] and its [`Reason`], and reading lettre's and rustls'
//! errors into one whose text says what a person does about it: name the
//! CA, fix the scheme, check the login, check the network.

use std::error::Error as StdError;
use std::fmt;
use std::io;

use rustls::{CertificateError, Error as TlsError};

use super::types::{MailSettings, Security};

/// Why a mail was not delivered, in words a person acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendError {
    pub reason: Reason,
    pub detail: String,
}

/// The class of a [`SendError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The settings cannot work (bad address, unreadable `ca_file`).
    Config,
    /// One side speaks TLS, the other does not (or no STARTTLS offered).
    TlsMismatch,
    Untrusted,
    Tls,
    AuthRefused,
    Unreachable,
    Timeout,
    /// The server refused the mail itself (sender, recipient, content).
    Rejected,
    Other,
}

impl SendError {
    pub fn new(reason: Reason, detail: impl Into<String>) -> Self {
        SendError {
            reason,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.reason {
            Reason::Config => "mail settings",
            Reason::TlsMismatch => "TLS mismatch",
            Reason::Untrusted => "certificate not trusted",
            Reason::Tls => "TLS failed",
            Reason::AuthRefused => "login refused",
            Reason::Unreachable => "mail server unreachable",
            Reason::Timeout => "timeout",
            Reason::Rejected => "mail refused",
            Reason::Other => "mail failed",
        };
        write!(f, "{label}: {}", self.detail)
    }
}

impl std::error::Error for SendError {}

/// Classifies an error of one SMTP step. `connecting`: the TCP connect,
/// implicit TLS and greeting; `authing`: the AUTH exchange.
pub fn classify(e: &lettre::transport::smtp::Error, connecting: bool, authing: bool, s: &MailSettings) -> SendError {
    if let Some(tls) = find_rustls(e) {
        return tls_error(tls, connecting, s);
    }
    if e.is_timeout() {
        let detail = format!(
            "no answer from {}:{} within {}s (host down, or a firewall drops the connection)",
            s.host,
            s.port,
            s.timeout.as_secs_f64()
        );
        return SendError::new(Reason::Timeout, detail);
    }
    let text = e.to_string();
    if authing {
        return auth_error(e, &text, s);
    }
    if let Some(code) = e.status() {
        let hint = match code.to_string().as_str() {
            "530" => "; the server requires a login: set username and password_file",
            "550" | "551" | "553" => "; check from and to",
            _ => "",
        };
        return SendError::new(Reason::Rejected, format!("{text}{hint}"));
    }
    if connecting && find::<io::Error>(e).is_some() {
        return SendError::new(
            Reason::Unreachable,
            format!("cannot connect to {}:{}: {text}", s.host, s.port),
        );
    }
    if e.is_tls() {
        return SendError::new(Reason::Tls, text);
    }
    SendError::new(Reason::Other, text)
}

fn auth_error(e: &lettre::transport::smtp::Error, text: &str, s: &MailSettings) -> SendError {
    let user = s.username.as_deref().unwrap_or_default();
    if e.status().is_some() {
        let detail = format!("the server refused the login of {user:?} ({text}); check username and the password");
        return SendError::new(Reason::AuthRefused, detail);
    }
    if e.is_client() {
        let detail = format!(
            "{}:{} offers neither AUTH PLAIN nor AUTH LOGIN ({text})",
            s.host, s.port
        );
        return SendError::new(Reason::AuthRefused, detail);
    }
    SendError::new(Reason::Other, format!("during AUTH: {text}"))
}

fn tls_error(e: &TlsError, connecting: bool, s: &MailSettings) -> SendError {
    let host = &s.host;
    match e {
        TlsError::InvalidCertificate(ce) => {
            let detail = match ce {
                CertificateError::UnknownIssuer => format!(
                    "{host}'s certificate is not signed by a CA this host trusts; set ca_file to your private CA's certificate (PEM)"
                ),
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                    format!(
                        "{host}'s certificate is not valid for the name {host:?}; write the server as the certificate names it"
                    )
                }
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    format!("{host}'s certificate has expired")
                }
                other => format!("{host}'s certificate was rejected: {other:?}"),
            };
            SendError::new(Reason::Untrusted, detail)
        }
        TlsError::InvalidMessage(_) | TlsError::InappropriateMessage { .. }
            if connecting && s.security == Security::Tls =>
        {
            let detail = format!(
                "{host}:{} did not answer in TLS: smtps:// expects TLS from the start, but this port probably speaks \
                 plain SMTP with STARTTLS (usually 587): write smtp://{host}:{}",
                s.port, s.port
            );
            SendError::new(Reason::TlsMismatch, detail)
        }
        other => SendError::new(Reason::Tls, format!("with {host}:{}: {other}", s.port)),
    }
}

/// The rustls error somewhere in the chain; tokio-rustls wraps it in an
/// `io::Error`, whose `source()` skips it, so look inside those too.
fn find_rustls<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a TlsError> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(t) = err.downcast_ref::<TlsError>() {
            return Some(t);
        }
        let wrapped = err.downcast_ref::<io::Error>().and_then(|io| io.get_ref());
        if let Some(t) = wrapped.and_then(|inner| inner.downcast_ref::<TlsError>()) {
            return Some(t);
        }
        cur = err.source();
    }
    None
}

fn find<'a, T: StdError + 'static>(e: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(t) = err.downcast_ref::<T>() {
            return Some(t);
        }
        cur = err.source();
    }
    None
}
