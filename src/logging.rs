//! Logging: native journald fields (GROUP, MEMBER, TARGET, EVENT, ...) when
//! stderr is the journal (`$JOURNAL_STREAM` names stderr's device and
//! inode), readable lines on stderr otherwise, and stderr again when the
//! journal socket is missing. `--log-level` wins over `RUST_LOG`. ANSI
//! colour only at a terminal without `NO_COLOR`; libraries are heard only
//! at DEBUG and TRACE (docs/service.md, "Logs").

use std::io::IsTerminal;
use std::os::unix::fs::MetadataExt;

use tracing::Level;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

/// Whether stderr is connected to the journal.
pub fn stderr_is_journal() -> bool {
    let Ok(stream) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = stream.split_once(':') else {
        return false;
    };
    let Ok(meta) = std::fs::metadata("/proc/self/fd/2") else {
        return false;
    };
    dev.parse::<u64>().ok() == Some(meta.dev()) && ino.parse::<u64>().ok() == Some(meta.ino())
}

fn filter(level: Option<&str>) -> EnvFilter {
    match level {
        Some(l) => EnvFilter::try_new(l),
        None => EnvFilter::try_from_default_env().or_else(|_| EnvFilter::try_new("info")),
    }
    .unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Whether an event may be written: failoverd's own at any level the
/// filter lets through, a library's only at DEBUG or TRACE. The faults a
/// library sees (an SNMP timeout, a TLS alert, a refused connection) are
/// faults failoverd handles and reports itself, once per streak, in its own
/// words; a library's ERROR on every walk would only wake journald
/// watchers (docs/service.md, "Logs").
pub fn shown(target: &str, level: &Level) -> bool {
    own(target) || *level >= Level::DEBUG
}

fn own(target: &str) -> bool {
    target == "failoverd" || target.starts_with("failoverd::")
}

/// ANSI colour only for a person at a terminal who has not asked for none
/// (`NO_COLOR`, no-color.org): never in a pipe, a file or the journal.
pub fn colour(stderr_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Sets up logging once for the process.
pub fn init(level: Option<&str>) {
    let libraries = filter_fn(|m| shown(m.target(), m.level()));
    if stderr_is_journal()
        && let Ok(layer) = tracing_journald::layer()
    {
        let layer = layer.with_field_prefix(None).with_syslog_identifier("failoverd".into());
        let _ = tracing_subscriber::registry()
            .with(filter(level))
            .with(layer.with_filter(libraries))
            .try_init();
        return;
    }
    let ansi = colour(std::io::stderr().is_terminal(), std::env::var_os("NO_COLOR").as_deref());
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let _ = tracing_subscriber::registry()
        .with(filter(level))
        .with(fmt.with_filter(libraries))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libraries_are_heard_only_at_debug() {
        assert!(shown("failoverd::daemon", &Level::ERROR));
        assert!(shown("failoverd", &Level::INFO));
        assert!(!shown("async_snmp::client", &Level::ERROR));
        assert!(!shown("rustls::conn", &Level::WARN));
        assert!(!shown("failoverdx", &Level::INFO), "a prefix is not a module path");
        assert!(shown("async_snmp::client", &Level::DEBUG));
        assert!(shown("hyper", &Level::TRACE));
    }

    #[test]
    fn colour_only_at_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(!colour(false, None));
        assert!(!colour(true, Some(std::ffi::OsStr::new("1"))));
        // no-color.org: an empty NO_COLOR does not count.
        assert!(colour(true, Some(std::ffi::OsStr::new(""))));
    }
}
