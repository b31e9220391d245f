//! The HTTPS transport to the firewall's XML API: one POST of the urlencoded
//! `reqxml` field per request, over reqwest and rustls with the ring
//! provider only. Owns the four TLS modes of docs/firewall-api.md, the record
//! of the certificate the firewall presented (every mode, for `check
//! --online`), and the split of failures into "nothing was sent" and
//! "outcome unknown", which decides whether the belief may stay as it was.
//! The certificate verifier and the rustls setup live in `client/verify.rs`.

use super::request::form_body;
use super::response::MAX_BODY;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};
use std::convert::Infallible;
use std::error::Error as StdError;
use std::fmt;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Once, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

/// How the firewall's certificate is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tls {
    /// System roots (the Debian CA bundle): chain, expiry and the url's host.
    System,
    /// Chain and expiry against this PEM file; the name checked is the
    /// second field if given (`tls_name`), else the url's host.
    CaFile(PathBuf, Option<String>),
    /// The leaf certificate's SHA-256 (of its DER bytes) and nothing else:
    /// the mode for the appliance's self-signed certificate.
    Pin([u8; 32]),
    /// No check at all (the daemon warns at every start).
    Insecure,
}

/// What the client needs to reach the API.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Complete URL, path included (`.../webconsole/APIController`).
    pub url: String,
    /// Limit for one request: connect, send and the whole reply.
    pub timeout: Duration,
    pub tls: Tls,
}

/// A cheap-to-clone handle; clones share the connection pool and the
/// record of the presented certificate.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    url: reqwest::Url,
    presented: Presented,
    /// Nothing on this host can vouch for a certificate (no system CA
    /// certificates, no ca_file, no pin): said beside the fingerprint.
    no_roots: bool,
}

/// The fingerprint of the last leaf certificate any handshake presented.
type Presented = Arc<Mutex<Option<String>>>;

/// Why a request got no usable HTTP reply. Texts never hold the request
/// body (and so never the password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// Connect, DNS or TLS failed, or the request body was never handed to
    /// the connection: the firewall cannot have acted. Transient.
    Before(String),
    /// Timeout or connection lost after the request may have gone out: the
    /// outcome is unknown.
    After(String),
    /// HTTP status other than 200. Transient.
    Status(u16),
    /// The certificate does not match `pin_sha256`. Configuration class.
    PinMismatch { presented: String },
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Before(why) => write!(f, "request not sent: {why}"),
            SendError::After(why) => write!(f, "outcome unknown: {why}"),
            SendError::Status(code) => write!(f, "the firewall answered HTTP {code}"),
            SendError::PinMismatch { presented } => write!(
                f,
                "the firewall's certificate does not match pin_sha256; it presented {presented}"
            ),
        }
    }
}

impl StdError for SendError {}

/// Installs ring as the process's rustls provider. Idempotent: only the
/// first call acts, and a provider installed earlier by anyone is kept.
pub fn install_crypto() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl Client {
    /// Builds the client; fails on a bad URL or unusable TLS material.
    ///
    /// No proxy: the firewall serves only listed source addresses (534),
    /// and a proxy from the environment would also see the password. No
    /// redirects: a 3xx is reported as `Status`, never followed with the
    /// credentials. No hidden retries: the push loop owns every resend, so
    /// "at most one request per group" holds on the wire.
    pub fn new(cfg: &ClientConfig) -> Result<Client, String> {
        install_crypto();
        let url = reqwest::Url::parse(&cfg.url).map_err(|e| format!("bad url {:?}: {e}", cfg.url))?;
        if url.scheme() != "https" || url.host_str().is_none() {
            return Err(format!("url {:?} must be https://HOST[:PORT]/...", cfg.url));
        }
        let presented = Presented::default();
        let (tls, no_roots) = tls_config(&cfg.tls, presented.clone())?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never())
            .no_proxy()
            .user_agent(concat!("failoverd/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTPS client: {}", chain(&e)))?;
        Ok(Client {
            http,
            url,
            presented,
            no_roots,
        })
    }

    /// POSTs `xml` as the urlencoded `reqxml` field and returns the reply
    /// body of an HTTP 200.
    pub async fn send(&self, xml: &str) -> Result<String, SendError> {
        let body = Bytes::from(form_body(xml));
        let handed = Arc::new(AtomicBool::new(false));
        let length = body.len();
        let result = self
            .http
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(CONTENT_LENGTH, length)
            .body(reqwest::Body::wrap(Marked {
                body: Some(body),
                length,
                handed: handed.clone(),
            }))
            .send()
            .await;
        let response = result.map_err(|e| {
            let sorted = send_error(&e, handed.load(Ordering::SeqCst));
            match (sorted, untrusted(&e).then(|| self.presented_fingerprint()).flatten()) {
                (SendError::Before(why), Some(fp)) => {
                    let none = if self.no_roots {
                        " (this host has no system CA certificates, and no ca_file or pin_sha256 is set)"
                    } else {
                        ""
                    };
                    SendError::Before(format!(
                        "{why}{none}; the firewall presented certificate SHA-256 {fp}: if it is the firewall's (compare it on its console), add pin_sha256 = \"{fp}\" to [firewall]"
                    ))
                }
                (sorted, _) => sorted,
            }
        })?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(SendError::Status(response.status().as_u16()));
        }
        read_body(response).await
    }

    /// SHA-256 of the last leaf certificate the firewall presented, as
    /// `AB:CD:...`, whatever the TLS mode and whether or not it passed.
    pub fn presented_fingerprint(&self) -> Option<String> {
        self.presented.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// Reads the reply, at most `MAX_BODY` bytes; a failure here comes after
/// the request was sent.
async fn read_body(mut response: reqwest::Response) -> Result<String, SendError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| SendError::After(chain(&e)))? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(SendError::After(format!("reply is over {MAX_BODY} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// Sorts a reqwest failure. Connect errors (DNS, TCP, TLS) come before any
/// request byte; so does any failure while the body was never polled (the
/// firewall cannot act on a request without its body). Everything else is
/// After: when unsure, the belief must become unknown.
fn send_error(error: &reqwest::Error, body_handed_over: bool) -> SendError {
    if let Some(presented) = pin_mismatch(error) {
        return SendError::PinMismatch { presented };
    }
    if error.is_connect() || !body_handed_over {
        SendError::Before(chain(error))
    } else {
        SendError::After(chain(error))
    }
}

/// The error and its causes on one line.
fn chain(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let mut current = error.source();
    while let Some(e) = current {
        let part = e.to_string();
        if !text.ends_with(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        current = e.source();
    }
    text
}

/// The request body, which notes when the connection first asks for it.
struct Marked {
    body: Option<Bytes>,
    length: usize,
    handed: Arc<AtomicBool>,
}

impl http_body::Body for Marked {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        this.handed.store(true, Ordering::SeqCst);
        Poll::Ready(this.body.take().map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.length as u64)
    }
}

mod verify;
pub use verify::{fingerprint, parse_pin};
use verify::{pin_mismatch, tls_config, untrusted};

#[cfg(test)]
mod tests;
