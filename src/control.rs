//! The control socket: `control.sock` in the state directory (mode 0600),
//! one JSON request and one JSON reply per connection. The daemon serves
//! it; `status`, `hold`, `release` and `push` call it, finding it from the
//! settings alone.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::firewall::decide::Want;

pub mod accept;

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
    /// `failoverd sync` run by the daemon (docs/definitions.md).
    Sync {
        group: Option<String>,
        changed_only: bool,
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

/// The longest request line the daemon reads (requests are a few hundred
/// bytes; a hold of many groups stays far below).
pub const MAX_REQUEST: usize = 64 * 1024;

/// Why a request is refused before the daemon sees it.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("empty request: send one line of JSON such as {{\"cmd\":\"status\"}}")]
    Empty,
    #[error("request longer than {MAX_REQUEST} bytes: send one line of JSON, ended by a newline")]
    TooLong,
    #[error("request is not UTF-8 text")]
    NotText,
    #[error("bad request: {0}")]
    Json(String),
}

/// Reads one request from the bytes a client sent: the first line (ended
/// by a newline, or by the end of the bytes), at most [`MAX_REQUEST`]
/// bytes, one JSON object. Pure: the server and the fuzz target use it.
pub fn read_request(bytes: &[u8]) -> Result<Request, RequestError> {
    let line = match bytes.iter().position(|&b| b == b'\n') {
        Some(end) => bytes.get(..end).unwrap_or_default(),
        None => bytes,
    };
    if line.len() > MAX_REQUEST {
        return Err(RequestError::TooLong);
    }
    let text = std::str::from_utf8(line).map_err(|_| RequestError::NotText)?;
    let text = text.trim();
    if text.is_empty() {
        return Err(RequestError::Empty);
    }
    serde_json::from_str(text).map_err(|e| RequestError::Json(e.to_string()))
}

/// The line a command sends for `req` (what [`read_request`] reads).
pub fn request_line(req: &Request) -> Result<String, String> {
    let mut text = serde_json::to_string(req).map_err(|e| e.to_string())?;
    text.push('\n');
    Ok(text)
}

fn has_line(bytes: &[u8]) -> bool {
    bytes.contains(&b'\n')
}

/// Serves the socket until the returned task is aborted; each request is
/// handed to the daemon's loop through `tx`. `path` must be free or a
/// stale socket ([`check_socket_path`]).
pub fn serve(path: &Path, tx: mpsc::Sender<Call>) -> std::io::Result<tokio::task::JoinHandle<()>> {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
        std::fs::remove_file(path)?;
    }
    let listener = tokio::net::UnixListener::bind(path)?;
    owner_only(path)?;
    Ok(tokio::spawn(accept::serve(
        "the control socket",
        listener,
        move |stream| answer(stream, tx.clone()),
    )))
}

/// A planted entry where the socket goes (a link, a file, a FIFO, a
/// folder): an error naming it; nothing is followed or removed.
pub fn check_socket_path(path: &Path) -> Result<(), String> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if !m.file_type().is_socket() => Err(format!(
            "{} is not a socket (a {}): failoverd never follows or removes it; remove it, then start again",
            path.display(),
            kind_of(&m.file_type())
        )),
        _ => Ok(()),
    }
}

fn kind_of(t: &std::fs::FileType) -> &'static str {
    if t.is_symlink() {
        "symbolic link"
    } else if t.is_dir() {
        "folder"
    } else if t.is_fifo() {
        "FIFO"
    } else if t.is_file() {
        "regular file"
    } else {
        "device"
    }
}

/// Mode 0600 on the socket just bound, through a descriptor opened without
/// following links (an entry swapped meanwhile is an error, never chmod'ed).
fn owner_only(path: &Path) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let node = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_NOFOLLOW)
        .open(path)?;
    if !node.metadata()?.file_type().is_socket() {
        return Err(std::io::Error::other(format!(
            "{} is no longer a socket",
            path.display()
        )));
    }
    let by_fd = format!("/proc/self/fd/{}", node.as_raw_fd());
    std::fs::set_permissions(by_fd, std::fs::Permissions::from_mode(0o600))
}

/// One connection: one request line, one reply line.
async fn answer<S>(mut stream: S, tx: mpsc::Sender<Call>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let read = match accept::read_request(&mut stream, MAX_REQUEST, has_line).await {
        accept::Got::Whole(bytes) => read_request(&bytes),
        accept::Got::Closed(bytes) if !bytes.is_empty() => read_request(&bytes),
        accept::Got::TooLong => Err(RequestError::TooLong),
        accept::Got::Closed(_) | accept::Got::Nothing => return,
    };
    let reply = match read {
        Ok(req) => {
            let (rtx, rrx) = oneshot::channel();
            if tx.send((req, rtx)).await.is_err() {
                return;
            }
            rrx.await.unwrap_or_else(|_| Reply::err("the daemon is stopping"))
        }
        Err(e) => Reply::err(e.to_string()),
    };
    let mut text = serde_json::to_string(&reply).unwrap_or_default();
    text.push('\n');
    accept::write_reply(&mut stream, &[text.as_bytes()]).await;
}

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

/// The largest reply a command reads (`/status` of 10,000 targets is a
/// few MiB).
const MAX_REPLY: u64 = 64 << 20;

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
    let text = request_line(req).map_err(CallError::NoAnswer)?;
    stream.write_all(text.as_bytes()).map_err(no_answer)?;
    let mut line = String::new();
    // Bounded: whatever listens on the socket cannot make a client grow
    // without end by never sending the line's end.
    let read = BufReader::new(std::io::Read::take(stream, MAX_REPLY))
        .read_line(&mut line)
        .map_err(no_answer)?;
    if read as u64 >= MAX_REPLY && !line.ends_with('\n') {
        return Err(CallError::NoAnswer(format!(
            "unreadable reply: longer than {} MiB",
            MAX_REPLY >> 20
        )));
    }
    serde_json::from_str(&line).map_err(|e| CallError::NoAnswer(format!("unreadable reply: {e}")))
}

#[cfg(test)]
mod tests;
