//! Reading the other host's holds from its `/status` (docs/ha.md, Holds
//! bind the pair): one read-only GET with a short timeout, and a typed
//! parser of the document's `groups[].hold` entries. A failure is an error
//! of its own kind, never "no holds": the caller keeps the holds it last
//! read until each one ends.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// How long one read of the peer may take.
pub const TIMEOUT: Duration = Duration::from_secs(2);
/// Time between two reads of the peer.
pub const EVERY: Duration = Duration::from_secs(2);
/// The largest `/status` accepted.
pub const MAX_BODY: usize = 16 * 1024 * 1024;
/// Reasons are cut to this many characters.
const MAX_REASON: usize = 200;

/// A hold the peer shows: no pushes for `group` until `until`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerHold {
    pub group: String,
    pub until: SystemTime,
    /// Who placed it and why, as the peer says ("manual push of Active",
    /// the text given to `failoverd hold --reason`).
    pub reason: String,
}

/// Why the peer's holds could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerError {
    /// No answer: connection refused, timeout, name or TLS failure.
    Unreachable(String),
    /// An HTTP status other than 200.
    Status(u16),
    /// More than [`MAX_BODY`] bytes.
    TooLarge,
    /// The body is not JSON.
    NotJson(String),
    /// JSON, but not a failoverd status (the path of the first problem).
    Shape(String),
}

impl fmt::Display for PeerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerError::Unreachable(e) => write!(f, "the peer does not answer: {e}"),
            PeerError::Status(s) => write!(f, "the peer answered HTTP {s}, not 200"),
            PeerError::TooLarge => write!(f, "the peer's status is larger than {MAX_BODY} bytes"),
            PeerError::NotJson(e) => write!(f, "the peer's status is not JSON: {e}"),
            PeerError::Shape(e) => write!(f, "the peer's status is not failoverd's: {e}"),
        }
    }
}

impl std::error::Error for PeerError {}

/// What one read of the peer's `/status` gives: its holds, and the role it
/// says it has (`ha.role`: "active" or "standby"), when it says one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerStatus {
    pub holds: Vec<PeerHold>,
    pub role: Option<String>,
}

impl From<Vec<PeerHold>> for PeerStatus {
    fn from(holds: Vec<PeerHold>) -> PeerStatus {
        PeerStatus { holds, role: None }
    }
}

/// The holds and the role of a `/status` document (see [`parse`]); a role
/// that is not a short string is left unknown, never an error: the holds
/// are what the pair's safety rests on.
pub fn parse_status(body: &[u8]) -> Result<PeerStatus, PeerError> {
    let doc = json(body)?;
    let holds = holds_of(&doc)?;
    let role = doc
        .pointer("/ha/role")
        .and_then(Value::as_str)
        .filter(|r| r.len() <= 16)
        .map(clean);
    Ok(PeerStatus { holds, role })
}

/// The holds of a `/status` document: `{"groups": [{"name": .., "hold":
/// null | {"until": UNIX_SECONDS, "reason": ..}}, ..], ..}`. Every group
/// entry must have a `hold` key: a peer that showed none would otherwise
/// read as one with no holds.
pub fn parse(body: &[u8]) -> Result<Vec<PeerHold>, PeerError> {
    holds_of(&json(body)?)
}

/// The body as JSON, read once per read of the peer.
fn json(body: &[u8]) -> Result<Value, PeerError> {
    serde_json::from_slice(body).map_err(|e| PeerError::NotJson(e.to_string()))
}

/// The holds of the parsed document (see [`parse`]).
fn holds_of(doc: &Value) -> Result<Vec<PeerHold>, PeerError> {
    let shape = |s: String| PeerError::Shape(s);
    let groups = doc
        .get("groups")
        .ok_or_else(|| shape("no \"groups\"".into()))?
        .as_array()
        .ok_or_else(|| shape("\"groups\" is not a list".into()))?;
    let mut holds = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        let name = g
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| shape(format!("groups[{i}].name is not a string")))?;
        let hold = g
            .get("hold")
            .ok_or_else(|| shape(format!("groups[{i}] ({}) has no \"hold\"", clean(name))))?;
        if hold.is_null() {
            continue;
        }
        let until = hold
            .get("until")
            .and_then(Value::as_u64)
            .ok_or_else(|| shape(format!("groups[{i}].hold.until is not a number of seconds")))?;
        let reason = match hold.get("reason") {
            Some(Value::String(r)) => clean(r),
            None | Some(Value::Null) => String::new(),
            Some(_) => return Err(shape(format!("groups[{i}].hold.reason is not a string"))),
        };
        holds.push(PeerHold {
            group: clean(name),
            until: UNIX_EPOCH + Duration::from_secs(until.min(u64::from(u32::MAX) * 4)),
            reason,
        });
    }
    Ok(holds)
}

/// A peer's text as it may appear in a log line: control characters
/// replaced, cut to [`MAX_REASON`] characters.
fn clean(s: &str) -> String {
    s.chars()
        .take(MAX_REASON)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The HTTP client for one peer URL.
#[derive(Clone)]
pub struct PeerClient {
    http: reqwest::Client,
    url: reqwest::Url,
}

impl fmt::Debug for PeerClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerClient").field("url", &self.url.as_str()).finish()
    }
}

impl PeerClient {
    /// A client for `url` (as `[ha] peer` holds it): no proxy, no
    /// redirects, no retries, `timeout` per read; https checks the
    /// system's roots.
    pub fn new(url: &str, timeout: Duration) -> Result<PeerClient, String> {
        crate::firewall::client::install_crypto();
        // User info is refused without quoting the URL: it may hold a password.
        if url.contains('@') {
            return Err("user info in the peer URL is not accepted".into());
        }
        let url = reqwest::Url::parse(url).map_err(|e| format!("bad peer url {url:?}: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("peer url {url} must be http:// or https://"));
        }
        let mut roots = rustls::RootCertStore::empty();
        if url.scheme() == "https" {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err("https peer: no usable system root certificate".into());
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup failed: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never())
            .no_proxy()
            .user_agent(concat!("failoverd/", env!("CARGO_PKG_VERSION"), " (ha peer)"))
            .build()
            .map_err(|e| format!("cannot build the peer's HTTP client: {e}"))?;
        Ok(PeerClient { http, url })
    }

    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// One read of the peer's holds.
    pub async fn holds(&self) -> Result<Vec<PeerHold>, PeerError> {
        self.read().await.map(|s| s.holds)
    }

    /// One read of the peer's holds and role.
    pub async fn read(&self) -> Result<PeerStatus, PeerError> {
        let unreachable = |e: reqwest::Error| PeerError::Unreachable(chain(&e));
        let mut response = self.http.get(self.url.clone()).send().await.map_err(unreachable)?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(PeerError::Status(response.status().as_u16()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(PeerError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        parse_status(&body)
    }
}

/// An error and its causes, one line.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(c) = source {
        s.push_str(": ");
        s.push_str(&c.to_string());
        source = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn the_role_a_peer_says_it_has_is_read_and_an_odd_one_left_unknown() {
        let read = |ha: serde_json::Value| {
            let doc = json!({"groups": [], "ha": ha});
            parse_status(doc.to_string().as_bytes()).unwrap().role
        };
        assert_eq!(read(json!({"role": "active"})).as_deref(), Some("active"));
        assert_eq!(read(json!({"role": "standby"})).as_deref(), Some("standby"));
        assert_eq!(read(json!(null)), None, "no [ha] on the peer");
        assert_eq!(read(json!({"role": 7})), None);
        assert_eq!(
            read(json!({"role": "x".repeat(200)})),
            None,
            "not a role: not quoted in a reply"
        );
        assert_eq!(
            read(json!({"role": "act\nive"})).as_deref(),
            Some("act ive"),
            "no control characters"
        );
        let bad = json!({"ha": {"role": "active"}}).to_string();
        assert!(
            parse_status(bad.as_bytes()).is_err(),
            "the holds still decide: no groups is an error"
        );
    }

    #[test]
    fn holds_of_a_status_document() {
        let doc = json!({
            "groups": [
                {"name": "HQ", "state": "up", "hold": {"until": 1_900_000_000u64, "reason": "manual push of DeActive"}},
                {"name": "Branch", "hold": null},
                {"name": "Lab", "hold": {"until": 1_800_000_000u64, "reason": "maintenance\nwindow"}},
            ],
            "guard_tripped": false,
        });
        let got = parse(doc.to_string().as_bytes()).unwrap();
        assert_eq!(
            got,
            vec![
                PeerHold {
                    group: "HQ".into(),
                    until: at(1_900_000_000),
                    reason: "manual push of DeActive".into()
                },
                PeerHold {
                    group: "Lab".into(),
                    until: at(1_800_000_000),
                    reason: "maintenance window".into()
                },
            ]
        );
        assert_eq!(parse(br#"{"groups": []}"#), Ok(vec![]));
    }

    #[test]
    fn a_document_that_is_not_a_status_is_an_error_never_no_holds() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "not JSON"),
            (b"<html>502 Bad Gateway</html>", "not JSON"),
            (b"[]", "no \"groups\""),
            (b"{}", "no \"groups\""),
            (br#"{"groups": {}}"#, "not a list"),
            (br#"{"groups": [{"hold": null}]}"#, "groups[0].name"),
            (br#"{"groups": [{"name": "HQ"}]}"#, "groups[0] (HQ) has no \"hold\""),
            (
                br#"{"groups": [{"name": "HQ", "hold": {"reason": "x"}}]}"#,
                "groups[0].hold.until",
            ),
            (
                br#"{"groups": [{"name": "HQ", "hold": {"until": -5}}]}"#,
                "groups[0].hold.until",
            ),
            (
                br#"{"groups": [{"name": "HQ", "hold": {"until": "soon"}}]}"#,
                "groups[0].hold.until",
            ),
            (
                br#"{"groups": [{"name": "HQ", "hold": {"until": 5, "reason": 7}}]}"#,
                "hold.reason",
            ),
        ];
        for (body, want) in cases {
            let e = parse(body).unwrap_err();
            assert!(
                matches!(e, PeerError::NotJson(_) | PeerError::Shape(_)),
                "{:?}",
                String::from_utf8_lossy(body)
            );
            assert!(e.to_string().contains(want), "{e} lacks {want}");
        }
    }

    #[test]
    fn hostile_values_never_panic_and_stay_bounded() {
        let long = "x".repeat(10_000);
        let doc = json!({"groups": [{"name": long, "hold": {"until": u64::MAX, "reason": long}}]});
        let got = parse(doc.to_string().as_bytes()).unwrap();
        assert_eq!(got[0].reason.chars().count(), MAX_REASON);
        assert_eq!(got[0].group.chars().count(), MAX_REASON);
        assert!(got[0].until > at(1_900_000_000));
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse(deep.as_bytes()).is_err());
    }
}
