//! What both listeners (the control socket and `[http]`) share, so that no
//! client and no shortage of the host can end or fill them: an accept loop
//! that survives accept errors (out of file descriptors, an aborted
//! connection), serves at most [`MAX_CONNECTIONS`] at once and closes the
//! rest at once, a request reader with a deadline and a size bound, and a
//! reply writer with a deadline (docs/safety.md, "Listeners").

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// Connections served at once per listener; more are closed at once.
pub const MAX_CONNECTIONS: usize = 64;
/// A connection that has not sent a whole request by then is closed.
pub const REQUEST_LIMIT: Duration = Duration::from_secs(10);
/// A reply not written by then (a client that does not read) is dropped.
pub const WRITE_LIMIT: Duration = Duration::from_secs(30);
/// The pause after a failed accept, doubling per failure up to
/// [`LONGEST_PAUSE`]: the failure (no file descriptor) usually lasts.
const FIRST_PAUSE: Duration = Duration::from_millis(100);
const LONGEST_PAUSE: Duration = Duration::from_secs(1);

/// A listening socket: the TCP one of `[http]` or the control socket.
pub trait Listener: Send + 'static {
    type Conn: Send + 'static;
    fn accept_one(&self) -> impl Future<Output = std::io::Result<Self::Conn>> + Send;
}

impl Listener for tokio::net::TcpListener {
    type Conn = tokio::net::TcpStream;
    async fn accept_one(&self) -> std::io::Result<Self::Conn> {
        self.accept().await.map(|(s, _)| s)
    }
}

impl Listener for tokio::net::UnixListener {
    type Conn = tokio::net::UnixStream;
    async fn accept_one(&self) -> std::io::Result<Self::Conn> {
        self.accept().await.map(|(s, _)| s)
    }
}

/// Accepts on `listener` for ever, each connection served by its own task
/// running `serve`. `name` names the listener in the log.
pub async fn serve<L, F, Fut>(name: &'static str, listener: L, serve: F)
where
    L: Listener,
    F: Fn(L::Conn) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut failing = Streak::default();
    let mut full = Streak::default();
    loop {
        let conn = match listener.accept_one().await {
            Ok(conn) => conn,
            Err(e) => {
                let pause = failing.failed(name, &e);
                tokio::time::sleep(pause).await;
                continue;
            }
        };
        failing.ended(name, "accepts connections again");
        match slots.clone().try_acquire_owned() {
            Ok(slot) => {
                full.ended(name, "serves new connections again");
                let work = serve(conn);
                tokio::spawn(async move {
                    work.await;
                    drop(slot);
                });
            }
            Err(_) => {
                full.full(name);
                drop(conn);
            }
        }
    }
}

/// A run of failed (or refused) accepts, logged once at its start and once
/// at its end: when accepts have gone well for [`QUIET`] since the last
/// failure (under a flood, failures and successes alternate; one streak).
#[derive(Default)]
struct Streak {
    count: u64,
    /// Failures since the last success: the pause grows with them.
    in_row: u64,
    last: Option<Instant>,
}

/// How long a streak must have been over before its end is logged.
const QUIET: Duration = Duration::from_secs(2);

impl Streak {
    /// Counts a failed accept; the pause before the next one.
    fn failed(&mut self, name: &str, e: &std::io::Error) -> Duration {
        if self.count == 0 {
            tracing::warn!(
                listener = name,
                error = %e,
                "{name}: cannot accept a connection: {e}; pausing, then trying again"
            );
        }
        self.count_one();
        self.in_row = self.in_row.saturating_add(1);
        pause(self.in_row)
    }

    /// Counts a connection closed at once because every slot is taken.
    fn full(&mut self, name: &str) {
        if self.count == 0 {
            tracing::warn!(
                listener = name,
                limit = MAX_CONNECTIONS,
                "{name}: {MAX_CONNECTIONS} connections already open; closing new ones at once"
            );
        }
        self.count_one();
    }

    fn count_one(&mut self) {
        self.count = self.count.saturating_add(1);
        self.last = Some(Instant::now());
    }

    /// Counts a success; logs the streak's end once it has been quiet.
    fn ended(&mut self, name: &str, what: &str) {
        self.in_row = 0;
        if self.count > 0 && self.last.is_none_or(|t| t.elapsed() >= QUIET) {
            tracing::info!(
                listener = name,
                times = self.count,
                "{name} {what} (after {} refused)",
                self.count
            );
            self.count = 0;
        }
    }
}

/// The pause after the `n`th failure in a row (n >= 1).
fn pause(n: u64) -> Duration {
    let doublings = n.saturating_sub(1).min(4) as u32;
    FIRST_PAUSE.saturating_mul(1u32 << doublings).min(LONGEST_PAUSE)
}

/// What a client sent.
#[derive(Debug, PartialEq, Eq)]
pub enum Got {
    /// A whole request (and maybe more bytes after it).
    Whole(Vec<u8>),
    /// The client closed its side before a whole request: what it sent.
    Closed(Vec<u8>),
    /// More than the bound without a whole request.
    TooLong,
    /// Nothing whole within [`REQUEST_LIMIT`], or a read error.
    Nothing,
}

/// Reads until `whole` says the bytes so far hold a request within their
/// first `max`, for at most [`REQUEST_LIMIT`].
pub async fn read_request<S: AsyncRead + Unpin>(stream: &mut S, max: usize, whole: fn(&[u8]) -> bool) -> Got {
    let read = async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) => return Got::Closed(buf),
                Err(_) => return Got::Nothing,
                Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            }
            // Whole within the bound: more bytes after it are let be.
            if whole(buf.get(..max).unwrap_or(&buf)) {
                return Got::Whole(buf);
            }
            if buf.len() > max {
                return Got::TooLong;
            }
        }
    };
    tokio::time::timeout(REQUEST_LIMIT, read).await.unwrap_or(Got::Nothing)
}

/// Writes `parts` and closes the writing side, within [`WRITE_LIMIT`];
/// whether all of it went out.
pub async fn write_reply<S: AsyncWrite + Unpin>(stream: &mut S, parts: &[&[u8]]) -> bool {
    let write = async {
        for part in parts {
            stream.write_all(part).await?;
        }
        stream.shutdown().await
    };
    matches!(tokio::time::timeout(WRITE_LIMIT, write).await, Ok(Ok(())))
}

#[cfg(test)]
mod tests;
