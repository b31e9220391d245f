//! The control socket: `control.sock` in the state directory (mode 0600),
//! one JSON request and one JSON reply per connection. The daemon serves
//! it; `status`, `hold`, `release` and `push` call it, finding it from the
//! settings alone.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use crate::firewall::decide::Want;

/// What a command asks of the daemon.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    Status,
    /// The status page's HTML (as a JSON string).
    Page,
    /// The Prometheus text of `/metrics` (as a JSON string).
    Metrics,
    Hold {
        groups: Vec<String>,
        for_secs: u64,
        reason: String,
    },
    Release {
        groups: Vec<String>,
    },
    Push {
        group: String,
        want: Want,
        hold_secs: u64,
    },
}

/// The daemon's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub ok: bool,
    /// Why not, when `ok` is false.
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub body: serde_json::Value,
}

impl Reply {
    pub fn ok(body: serde_json::Value) -> Reply {
        Reply {
            ok: true,
            error: None,
            body,
        }
    }

    pub fn err(why: impl Into<String>) -> Reply {
        Reply {
            ok: false,
            error: Some(why.into()),
            body: serde_json::Value::Null,
        }
    }
}

/// A request and where its reply goes.
pub type Call = (Request, oneshot::Sender<Reply>);

pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join("control.sock")
}

/// Serves the socket until the returned task is aborted; each request is
/// handed to the daemon's loop through `tx`.
pub fn serve(path: &Path, tx: mpsc::Sender<Call>) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let _ = std::fs::remove_file(path);
    let listener = tokio::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut line = String::new();
                let mut reader = tokio::io::BufReader::new(read.take(64 * 1024));
                if reader.read_line(&mut line).await.is_err() {
                    return;
                }
                let reply = match serde_json::from_str::<Request>(&line) {
                    Ok(req) => {
                        let (rtx, rrx) = oneshot::channel();
                        if tx.send((req, rtx)).await.is_err() {
                            return;
                        }
                        rrx.await.unwrap_or_else(|_| Reply::err("the daemon is stopping"))
                    }
                    Err(e) => Reply::err(format!("bad request: {e}")),
                };
                let mut text = serde_json::to_string(&reply).unwrap_or_default();
                text.push('\n');
                let _ = write.write_all(text.as_bytes()).await;
            });
        }
    }))
}

use tokio::io::AsyncReadExt as _;

/// Why a call got no reply.
#[derive(Debug, PartialEq, Eq)]
pub enum CallError {
    /// No daemon could be reached at this socket (its absolute path).
    NoDaemon(Unreached, PathBuf),
    /// Something listens but did not answer in time.
    NoAnswer(String),
}

/// Why the socket could not be reached: each has its own fix.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Unreached {
    /// No socket there: no daemon runs with these settings.
    NoSocket,
    /// The socket is there (mode 0600) but belongs to another user.
    PermissionDenied,
    /// A socket nobody listens on: left by a daemon that stopped.
    NotListening,
}

impl Unreached {
    fn of(e: &std::io::Error) -> Unreached {
        match e.kind() {
            std::io::ErrorKind::PermissionDenied => Unreached::PermissionDenied,
            std::io::ErrorKind::NotFound => Unreached::NoSocket,
            _ => Unreached::NotListening,
        }
    }
}

/// Calls the daemon (blocking, for the commands).
pub fn call(state_dir: &Path, req: &Request, timeout: Duration) -> Result<Reply, CallError> {
    let path = socket_path(state_dir);
    let mut stream = UnixStream::connect(&path).map_err(|e| {
        let shown = std::path::absolute(&path).unwrap_or_else(|_| path.clone());
        CallError::NoDaemon(Unreached::of(&e), shown)
    })?;
    let no_answer = |e: std::io::Error| CallError::NoAnswer(e.to_string());
    stream.set_read_timeout(Some(timeout)).map_err(no_answer)?;
    stream.set_write_timeout(Some(timeout)).map_err(no_answer)?;
    let mut text = serde_json::to_string(req).map_err(|e| CallError::NoAnswer(e.to_string()))?;
    text.push('\n');
    stream.write_all(text.as_bytes()).map_err(no_answer)?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).map_err(no_answer)?;
    serde_json::from_str(&line).map_err(|e| CallError::NoAnswer(format!("unreadable reply: {e}")))
}
