//! The HTTPS side of the emulator: accepts TLS connections, serves HTTP/1.1
//! at `/webconsole/APIController`, takes `reqxml` from a query string, a
//! urlencoded body or a multipart body, and applies the transport faults
//! (delay, hang, drop, HTTP status) around the firewall logic in `api`.

use crate::api::{self, Answer, State};
use crate::config::{EmulatorConfig, Fault, Texts};
use crate::hostile;
use crate::record::{InFlight, Outcome, Recorded, Transport, lock};
use bytes::Bytes;
use http_body_util::{BodyExt, Either, Full, Limited};
use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

/// The API's path on the firewall.
pub const API_PATH: &str = "/webconsole/APIController";
/// Largest request body read (a 1 MiB document, percent-encoded).
const MAX_REQUEST: usize = 4 << 20;
/// How long a client may take to finish the TLS handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// State shared by the handle and every connection.
pub struct Shared {
    pub config: EmulatorConfig,
    pub faults: Mutex<Vec<Fault>>,
    pub texts: Mutex<Texts>,
    pub state: Mutex<State>,
    pub log: Mutex<Vec<Recorded>>,
    pub in_flight: Arc<InFlight>,
    /// Print one line per request to stderr (the binary).
    pub verbose: AtomicBool,
    /// TLS connections completed so far (to see connection reuse).
    pub connections: AtomicUsize,
    /// Bytes of hostile bodies handed to connections so far.
    pub hostile_bytes: Arc<AtomicU64>,
}

impl Shared {
    pub fn new(config: EmulatorConfig) -> Shared {
        Shared {
            faults: Mutex::new(config.faults.clone()),
            texts: Mutex::new(config.texts),
            state: Mutex::default(),
            log: Mutex::default(),
            in_flight: Arc::default(),
            verbose: AtomicBool::new(false),
            connections: AtomicUsize::new(0),
            hostile_bytes: Arc::default(),
            config,
        }
    }

    fn answer(&self, xml: &str, peer: IpAddr, faults: &[Fault]) -> Answer {
        let texts = *lock(&self.texts);
        let ctx = api::Context {
            config: &self.config,
            faults,
            texts,
            peer,
        };
        api::handle(xml, &ctx, &mut lock(&self.state))
    }

    fn record(&self, entry: Recorded) {
        if self.verbose.load(Ordering::Relaxed) {
            eprintln!("{}", summary(&entry));
        }
        lock(&self.log).push(entry);
    }
}

/// One line about a request for a person watching; never the XML (it
/// holds the password).
fn summary(entry: &Recorded) -> String {
    let actions: Vec<String> = entry
        .actions
        .iter()
        .map(|a| {
            let code = a.code.map_or(String::new(), |c| format!(" {c}"));
            let note = if a.note.is_empty() {
                String::new()
            } else {
                format!(" ({})", a.note)
            };
            format!("{:?} {}{code}{note}", a.action, a.group)
        })
        .collect();
    let outcome = match &entry.outcome {
        Outcome::Answered(_) => "answered".to_string(),
        other => format!("{other:?}"),
    };
    format!(
        "{} {:?}: [{}] {outcome}",
        entry.peer,
        entry.transport,
        actions.join(", ")
    )
}

/// Accepts connections until `stop` turns true; then every connection task
/// is aborted with the set.
pub async fn serve(listener: TcpListener, acceptor: TlsAcceptor, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    let for_connections = stop.clone();
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            accepted = listener.accept() => {
                if let Ok((tcp, peer)) = accepted {
                    let task = connection(tcp, peer, acceptor.clone(), shared.clone(), for_connections.clone());
                    connections.spawn(task);
                }
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) {
    // A client that refuses our certificate ends here; that is expected.
    let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE, acceptor.accept(tcp)).await else {
        return;
    };
    shared.connections.fetch_add(1, Ordering::Relaxed);
    let service = service_fn(move |request| handle(request, peer.ip(), shared.clone(), stop.clone()));
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(tls), service)
        .await;
}

/// The error that makes hyper close the connection without an answer.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose")
    }
}

impl std::error::Error for Dropped {}

type Reply = Response<Either<Full<Bytes>, hostile::Stream>>;

async fn handle(
    request: Request<Incoming>,
    peer: IpAddr,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) -> Result<Reply, Dropped> {
    if request.uri().path() != API_PATH {
        return Ok(plain(StatusCode::NOT_FOUND, "not found"));
    }
    let (transport, xml) = match extract(request).await {
        Ok(found) => found,
        Err(refusal) => return Ok(refusal),
    };
    let _counted = shared.in_flight.enter(api::group_names(&xml));
    let faults = lock(&shared.faults).clone();
    let delay = faults.iter().find_map(|f| match f {
        Fault::Delay(d) => Some(*d),
        _ => None,
    });
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let request = Received { peer, transport, xml };
    respond(request, &faults, &shared, stop).await
}

/// A decoded request and where it came from.
struct Received {
    peer: IpAddr,
    transport: Transport,
    xml: String,
}

impl Received {
    fn record(&self, actions: Vec<api::GroupAction>, outcome: Outcome) -> Recorded {
        let (peer, transport, xml) = (self.peer, self.transport, self.xml.clone());
        let at = SystemTime::now();
        Recorded {
            at,
            peer,
            transport,
            xml,
            actions,
            outcome,
        }
    }
}

/// Answers, or misbehaves as the faults say: an HTTP error applies
/// nothing; hang and drop apply the request and then give no answer.
async fn respond(
    request: Received,
    faults: &[Fault],
    shared: &Shared,
    mut stop: watch::Receiver<bool>,
) -> Result<Reply, Dropped> {
    let http_error = faults.iter().find_map(|f| match f {
        Fault::HttpStatus(code) => Some(*code),
        _ => None,
    });
    if let Some(code) = http_error {
        shared.record(request.record(Vec::new(), Outcome::HttpStatus(code)));
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        return Ok(plain(status, "emulated HTTP error"));
    }
    let answer = shared.answer(&request.xml, request.peer, faults);
    let body = faults
        .iter()
        .find_map(|f| hostile::Stream::for_fault(f, &answer.body, &shared.hostile_bytes).map(|b| (f, b)));
    if let Some((fault, body)) = body {
        shared.record(request.record(answer.actions, Outcome::Hostile(format!("{fault:?}"))));
        return Ok(Response::new(Either::Right(body)));
    }
    if faults.contains(&Fault::Hang) {
        shared.record(request.record(answer.actions, Outcome::Hung));
        let _ = stop.wait_for(|s| *s).await;
        return Err(Dropped);
    }
    if faults.contains(&Fault::Drop) {
        shared.record(request.record(answer.actions, Outcome::Dropped));
        return Err(Dropped);
    }
    let outcome = Outcome::Answered(answer.body.clone());
    shared.record(request.record(answer.actions, outcome));
    let mut reply = Response::new(Either::Left(Full::new(Bytes::from(answer.body))));
    let xml_type = hyper::header::HeaderValue::from_static("text/xml; charset=UTF-8");
    reply.headers_mut().insert(CONTENT_TYPE, xml_type);
    Ok(reply)
}

/// Finds `reqxml` in the query string, a urlencoded body or a multipart
/// body. A missing field gives an empty document, which the API answers
/// with 529 like a malformed one.
async fn extract(request: Request<Incoming>) -> Result<(Transport, String), Reply> {
    let from_query = request.uri().query().and_then(|q| form_field(q.as_bytes()));
    if request.method() == Method::GET {
        return Ok((Transport::Query, from_query.unwrap_or_default()));
    }
    if request.method() != Method::POST {
        return Err(plain(StatusCode::METHOD_NOT_ALLOWED, "GET or POST"));
    }
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = match Limited::new(request.into_body(), MAX_REQUEST).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Err(plain(StatusCode::PAYLOAD_TOO_LARGE, "request too large")),
    };
    if content_type.to_ascii_lowercase().starts_with("multipart/form-data") {
        return Ok((
            Transport::Multipart,
            multipart_field(&body, &content_type, "reqxml").unwrap_or_default(),
        ));
    }
    if let Some(xml) = from_query {
        return Ok((Transport::Query, xml));
    }
    Ok((Transport::Form, form_field(&body).unwrap_or_default()))
}

fn form_field(encoded: &[u8]) -> Option<String> {
    form_urlencoded::parse(encoded)
        .find(|(k, _)| k == "reqxml")
        .map(|(_, v)| v.into_owned())
}

/// The text of one field of a `multipart/form-data` body.
fn multipart_field(body: &[u8], content_type: &str, field: &str) -> Option<String> {
    let boundary = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))?
        .trim_matches('"');
    let body = String::from_utf8_lossy(body);
    let wanted = format!("name=\"{field}\"");
    for part in body.split(&format!("--{boundary}")).skip(1) {
        if part.starts_with("--") {
            break;
        }
        let Some((headers, content)) = part.trim_start_matches("\r\n").split_once("\r\n\r\n") else {
            continue;
        };
        let named = headers
            .lines()
            .any(|h| h.to_ascii_lowercase().starts_with("content-disposition") && h.contains(&wanted));
        if named {
            return Some(content.strip_suffix("\r\n").unwrap_or(content).to_string());
        }
    }
    None
}

fn plain(status: StatusCode, text: &'static str) -> Reply {
    let mut reply = Response::new(Either::Left(Full::new(Bytes::from_static(text.as_bytes()))));
    *reply.status_mut() = status;
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_fields_are_found() {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nno\r\n--XyZ\r\nContent-Disposition: form-data; name=\"reqxml\"\r\nContent-Type: text/xml\r\n\r\n<Request>a&b\r\nc</Request>\r\n--XyZ--\r\n";
        let found = multipart_field(body.as_bytes(), "multipart/form-data; boundary=\"XyZ\"", "reqxml");
        assert_eq!(found.as_deref(), Some("<Request>a&b\r\nc</Request>"));
        assert_eq!(
            multipart_field(body.as_bytes(), "multipart/form-data; boundary=XyZ", "none"),
            None
        );
        assert_eq!(multipart_field(b"x", "multipart/form-data", "reqxml"), None);
    }

    #[test]
    fn form_fields_are_decoded() {
        assert_eq!(form_field(b"a=1&reqxml=%3CR%3E+%26x").as_deref(), Some("<R> &x"));
        assert_eq!(form_field(b"a=1"), None);
    }
}
