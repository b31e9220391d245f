//! `[http] listen`: `/` (the status page, docs/status-page.md), `/metrics`
//! (Prometheus text) and `/status` (JSON), read from the daemon's loop
//! through the same channel as the control socket. GET only, one request
//! per connection, small and bounded.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use crate::control::{Call, Request};

/// Binds `addr` (so a bad address stops the start) and serves until
/// aborted. The bound address is logged (`LISTEN=`), so with port 0 the
/// kernel picks a free port and whoever reads the log learns it, with no
/// window in which another socket could take it.
pub async fn serve(addr: SocketAddr, tx: mpsc::Sender<Call>) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tracing::info!(LISTEN = %bound, "[http] listening on {bound}");
    Ok(tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut n = 0;
                while n < buf.len() {
                    match stream.read(&mut buf[n..]).await {
                        Ok(0) | Err(_) => break,
                        Ok(k) => n += k,
                    }
                    if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                let head = String::from_utf8_lossy(&buf[..n]);
                let line = head.lines().next().unwrap_or("");
                let (head, body) = answer(line, &tx).await;
                // Head and body apart: a /metrics page of many MiB is not copied.
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(body.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    }))
}

async fn answer(request_line: &str, tx: &mpsc::Sender<Call>) -> (String, String) {
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if method != "GET" {
        return reply("405 Method Not Allowed", "text/plain", "GET only\n");
    }
    let (req, kind) = match path {
        "/" => (Request::Page, PAGE),
        "/metrics" => (Request::Metrics, "text/plain; version=0.0.4"),
        "/status" => (Request::Status, "application/json"),
        _ => return reply("404 Not Found", "text/plain", "try /, /metrics or /status\n"),
    };
    let (rtx, rrx) = oneshot::channel();
    if tx.send((req, rtx)).await.is_err() {
        return reply("503 Service Unavailable", "text/plain", "stopping\n");
    }
    match rrx.await {
        Ok(r) if r.ok => match r.body {
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
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\n{page}Content-Length: {}\r\nConnection: close\r\n\r\n",
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
