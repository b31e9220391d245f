//! `[http] listen`: `/` (the status page, docs/status-page.md), `/metrics`
//! (Prometheus text) and `/status` (JSON), read from the daemon's loop
//! through the same channel as the control socket. GET and HEAD, one
//! request per connection, small and bounded: the accept loop, the
//! deadlines and the connection bound are `control::accept`'s, the head's
//! reading `request`'s.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use crate::control::accept::{self, Got};
use crate::control::{Call, Request};

pub mod request;

use request::{Head, Host};

/// How long a request waits for the daemon's loop before a 503.
const ANSWER_LIMIT: Duration = Duration::from_secs(30);

/// Binds `addr` (so a bad address stops the start) and serves until
/// aborted. The bound address is logged (`LISTEN=`), so with port 0 the
/// kernel picks a free port and whoever reads the log learns it, with no
/// window in which another socket could take it.
pub async fn serve(addr: SocketAddr, tx: mpsc::Sender<Call>) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tracing::info!(LISTEN = %bound, "[http] listening on {bound}");
    Ok(tokio::spawn(accept::serve("[http]", listener, move |stream| {
        // Reached through loopback (a loopback `listen`, or a wildcard one
        // through 127.0.0.1): the Host header is checked.
        let loopback = stream.local_addr().is_ok_and(|a| a.ip().to_canonical().is_loopback());
        handle(stream, loopback || addr.ip().to_canonical().is_loopback(), tx.clone())
    })))
}

/// One connection: one request head, one response.
async fn handle<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, loopback: bool, tx: mpsc::Sender<Call>) {
    let bytes = match accept::read_request(&mut stream, request::MAX_HEAD, request::whole).await {
        Got::Whole(bytes) => bytes,
        Got::Closed(bytes) if !bytes.is_empty() => bytes,
        Got::TooLong => {
            let (head, body) = reply(
                "431 Request Header Fields Too Large",
                "text/plain",
                "head over 8192 bytes\n",
            );
            accept::write_reply(&mut stream, &[head.as_bytes(), body.as_bytes()]).await;
            return;
        }
        Got::Closed(_) | Got::Nothing => return,
    };
    let text = String::from_utf8_lossy(&bytes);
    let (only_head, (head, body)) = match request::parse(&text) {
        Some(h) => (h.method == "HEAD", answer(&h, loopback, &tx).await),
        None => (false, reply("400 Bad Request", "text/plain", "not an HTTP request\n")),
    };
    // Head and body apart: a /metrics page of many MiB is not copied.
    let parts: &[&[u8]] = if only_head {
        &[head.as_bytes()]
    } else {
        &[head.as_bytes(), body.as_bytes()]
    };
    accept::write_reply(&mut stream, parts).await;
}

async fn answer(h: &Head<'_>, loopback: bool, tx: &mpsc::Sender<Call>) -> (String, String) {
    match h.host {
        Host::Several => return reply("400 Bad Request", "text/plain", "more than one Host header\n"),
        Host::One(name) if loopback && !request::loopback_host(name) => {
            return reply(
                "403 Forbidden",
                "text/plain",
                "a loopback listener answers only Host: localhost or a loopback address\n",
            );
        }
        _ => {}
    }
    if h.method != "GET" && h.method != "HEAD" {
        return reply("405 Method Not Allowed", "text/plain", "GET or HEAD only\n");
    }
    let (req, kind) = match h.path {
        "/" => (Request::Page, PAGE),
        "/metrics" => (Request::Metrics, "text/plain; version=0.0.4"),
        "/status" => (Request::Status, "application/json"),
        _ => return reply("404 Not Found", "text/plain", "try /, /metrics or /status\n"),
    };
    let (rtx, rrx) = oneshot::channel();
    if tx.send((req, rtx)).await.is_err() {
        return reply("503 Service Unavailable", "text/plain", "stopping\n");
    }
    match tokio::time::timeout(ANSWER_LIMIT, rrx).await {
        Ok(Ok(r)) if r.ok => match r.body {
            serde_json::Value::String(text) => reply("200 OK", kind, text),
            body => reply("200 OK", kind, body.to_string() + "\n"),
        },
        _ => reply("503 Service Unavailable", "text/plain", "no answer\n"),
    }
}

const PAGE: &str = "text/html; charset=utf-8";

/// The response's head and body. The page gets its Content-Security-Policy
/// (nothing from elsewhere, no script) and is never cached or framed.
fn reply(status: &str, kind: &str, body: impl Into<String>) -> (String, String) {
    let body = body.into();
    let page = if kind == PAGE {
        format!(
            "Content-Security-Policy: {}\r\nX-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\nCache-Control: no-store\r\n",
            crate::page::csp()
        )
    } else {
        String::new()
    };
    let allow = if status.starts_with("405") {
        "Allow: GET, HEAD\r\n"
    } else {
        ""
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\n{page}{allow}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    (head, body)
}

/// The daemon's two ways in for requests: the control socket in the state
/// directory and, with `[http] listen`, the HTTP server. Dropping them
/// stops both and removes the socket file.
pub struct Listeners {
    control: tokio::task::JoinHandle<()>,
    http: Option<tokio::task::JoinHandle<()>>,
    socket: std::path::PathBuf,
}

impl Listeners {
    /// Opens both; on failure, the exit code (`[http] listen` unusable:
    /// cannot start as configured; the socket: any other failure).
    pub async fn open(
        plan: &crate::config::Plan,
        dir: &crate::state::StateDir,
        tx: mpsc::Sender<Call>,
    ) -> Result<Listeners, i32> {
        let http = match plan.settings.http_listen {
            Some(addr) => match serve(addr, tx.clone()).await {
                Ok(task) => Some(task),
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen on [http] listen = {addr}");
                    return Err(crate::exit::CONFIG);
                }
            },
            None => None,
        };
        let socket = crate::control::socket_path(&dir.path);
        if let Err(e) = crate::control::check_socket_path(&socket) {
            tracing::error!("{e}");
            if let Some(h) = http {
                h.abort();
            }
            return Err(crate::exit::CONFIG);
        }
        match crate::control::serve(&socket, tx) {
            Ok(control) => Ok(Listeners { control, http, socket }),
            Err(e) => {
                tracing::error!(error = %e, "cannot open the control socket in {}", dir.path.display());
                if let Some(h) = http {
                    h.abort();
                }
                Err(crate::exit::FAILED)
            }
        }
    }
}

impl Drop for Listeners {
    fn drop(&mut self) {
        self.control.abort();
        if let Some(h) = &self.http {
            h.abort();
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}

#[cfg(test)]
mod tests;
