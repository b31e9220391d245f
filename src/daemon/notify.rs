//! systemd's notify protocol (sd_notify): READY=1, STATUS=, WATCHDOG=1,
//! RELOADING=1, STOPPING=1 as datagrams to `$NOTIFY_SOCKET`. Written here
//! (a dozen lines) rather than pulled in; silent when not under systemd.

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::Duration;

/// Where to send notifications, if anywhere.
#[derive(Clone, Debug)]
pub struct Notifier {
    socket: Option<PathBuf>,
}

impl Notifier {
    /// From `$NOTIFY_SOCKET` (a path; abstract sockets, starting with `@`,
    /// are not supported by std and are ignored with a warning).
    pub fn from_env() -> Notifier {
        let socket = std::env::var_os("NOTIFY_SOCKET").map(PathBuf::from).filter(|p| {
            let abstract_ns = p.to_string_lossy().starts_with('@');
            if abstract_ns {
                tracing::warn!("NOTIFY_SOCKET is an abstract socket; systemd notifications are not sent");
            }
            !abstract_ns
        });
        Notifier { socket }
    }

    /// To the datagram socket at `path` (tests); `None`: silent.
    pub fn at(path: Option<PathBuf>) -> Notifier {
        Notifier { socket: path }
    }

    /// Sends `state` (e.g. `READY=1\nSTATUS=...`); errors are logged at
    /// debug level and otherwise ignored. The socket is non-blocking: a
    /// receiver that does not read (its queue full) loses notifications
    /// instead of freezing the daemon's loop.
    pub fn send(&self, state: &str) {
        let Some(path) = &self.socket else { return };
        let result = UnixDatagram::unbound()
            .and_then(|s| s.set_nonblocking(true).map(|()| s))
            .and_then(|s| s.send_to(state.as_bytes(), path));
        if let Err(e) = result {
            tracing::debug!(error = %e, "cannot notify systemd");
        }
    }

    /// The watchdog interval systemd asked for (`$WATCHDOG_USEC`), halved:
    /// pinging twice per period is the documented practice.
    pub fn watchdog_every() -> Option<Duration> {
        let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
        let pid_ok = std::env::var("WATCHDOG_PID")
            .ok()
            .and_then(|p| p.parse::<u32>().ok())
            .is_none_or(|p| p == std::process::id());
        (pid_ok && usec > 0).then(|| Duration::from_micros(usec / 2))
    }
}
