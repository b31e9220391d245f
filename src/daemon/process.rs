//! `/metrics`' standard process family and `failoverd_build_info`
//! (docs/metrics.md, "Process"): what Prometheus's own clients export as
//! `process_*`, read from `/proc` at each scrape by the shell (the core
//! does no I/O). Written here rather than with a client crate: six lines
//! from three small files, where the maintained crates bring a metrics
//! registry and procfs with dozens of dependencies for the same numbers.

use std::fmt::Write;

use super::core::{Effect, ReplyTo};

/// One reading of the process's own figures; a figure `/proc` did not
/// give is left out of the page (never shown as 0).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Process {
    pub cpu_seconds: Option<f64>,
    pub resident_bytes: Option<u64>,
    pub virtual_bytes: Option<u64>,
    pub open_fds: Option<u64>,
    pub max_fds: Option<u64>,
    pub start_time_seconds: Option<f64>,
}

/// Linux's USER_HZ where the auxiliary vector does not say (it is 100 on
/// every architecture Debian ships).
const DEFAULT_TICKS: u64 = 100;
/// `AT_CLKTCK` in the auxiliary vector: the unit of `/proc/*/stat` times.
const AT_CLKTCK: u64 = 17;
const AT_PAGESZ: u64 = 6;

impl Process {
    /// Reads `/proc/self`; figures it cannot read are `None`.
    pub fn read() -> Process {
        let auxv = std::fs::read("/proc/self/auxv").unwrap_or_default();
        let ticks = aux(&auxv, AT_CLKTCK).filter(|t| *t > 0).unwrap_or(DEFAULT_TICKS);
        let page = aux(&auxv, AT_PAGESZ).filter(|p| *p > 0).unwrap_or(4096);
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        let boot = std::fs::read_to_string("/proc/stat").ok().and_then(|s| boot_time(&s));
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
        let open = std::fs::read_dir("/proc/self/fd").ok().map(|d| d.count() as u64);
        Process {
            open_fds: open,
            max_fds: max_open_files(&limits),
            ..from_stat(&stat, ticks, page, boot)
        }
    }
}

/// The figures `/proc/self/stat` gives: CPU time (user + system), virtual
/// and resident size, and the start time since boot (with `boot`, the
/// boot time in seconds since the epoch, from `/proc/stat`).
pub fn from_stat(stat: &str, ticks: u64, page: u64, boot: Option<u64>) -> Process {
    // The command name (field 2) is in parentheses and may hold spaces:
    // fields are counted from the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After ')': f[0] is field 3 (state); field N is f[N - 3].
    let num = |n: usize| f.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    let per_tick = 1.0 / ticks as f64;
    let cpu = num(14).zip(num(15)).map(|(u, s)| u.saturating_add(s) as f64 * per_tick);
    let start = num(22).zip(boot).map(|(st, b)| b as f64 + st as f64 * per_tick);
    Process {
        cpu_seconds: cpu,
        virtual_bytes: num(23),
        resident_bytes: num(24).map(|pages| pages.saturating_mul(page)),
        start_time_seconds: start,
        ..Process::default()
    }
}

/// `btime` of `/proc/stat`: when the system booted, seconds since the epoch.
pub fn boot_time(proc_stat: &str) -> Option<u64> {
    proc_stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// The soft limit of "Max open files" in `/proc/self/limits`.
pub fn max_open_files(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..].split_whitespace().next()?.parse().ok()
}

/// A value of the auxiliary vector (pairs of native-endian words).
fn aux(auxv: &[u8], key: u64) -> Option<u64> {
    const W: usize = std::mem::size_of::<usize>();
    let word = |c: &[u8]| -> Option<u64> {
        let mut b = [0u8; W];
        b.copy_from_slice(c.get(..W)?);
        Some(usize::from_ne_bytes(b) as u64)
    };
    auxv.chunks_exact(2 * W)
        .filter_map(|pair| Some((word(&pair[..W])?, word(&pair[W..])?)))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// The families, each under its own HELP and TYPE, as Prometheus's client
/// libraries name them, and `failoverd_build_info`.
pub fn render(p: &Process, t: &mut String) {
    let _ = writeln!(
        t,
        "# HELP failoverd_build_info The running version.\n# TYPE failoverd_build_info gauge\nfailoverd_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    let mut family = |name: &str, kind: &str, help: &str, v: Option<String>| {
        if let Some(v) = v {
            let _ = writeln!(t, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
        }
    };
    family(
        "process_cpu_seconds_total",
        "counter",
        "Total user and system CPU time spent in seconds.",
        p.cpu_seconds.map(|v| format!("{v:.2}")),
    );
    family(
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
        p.resident_bytes.map(|v| v.to_string()),
    );
    family(
        "process_virtual_memory_bytes",
        "gauge",
        "Virtual memory size in bytes.",
        p.virtual_bytes.map(|v| v.to_string()),
    );
    family(
        "process_open_fds",
        "gauge",
        "Number of open file descriptors.",
        p.open_fds.map(|v| v.to_string()),
    );
    family(
        "process_max_fds",
        "gauge",
        "Maximum number of open file descriptors.",
        p.max_fds.map(|v| v.to_string()),
    );
    family(
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since unix epoch in seconds.",
        p.start_time_seconds.map(|v| format!("{v:.2}")),
    );
}

/// Adds the process families to the `/metrics` reply `to` among `effects`
/// (the core rendered the rest; the shell read `/proc`).
pub fn append(effects: &mut [Effect], to: ReplyTo, p: &Process) {
    for e in effects {
        if let Effect::Reply { to: t, reply } = e
            && *t == to
            && let serde_json::Value::String(page) = &mut reply.body
        {
            render(p, page);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_from_the_last_parenthesis() {
        // A command name with spaces and a ')' of its own.
        let stat = "4242 (fail over) d) S 1 4242 4242 0 -1 4194560 500 0 0 0 250 50 0 0 20 0 1 0 12345 8388608 512 18446744073709551615";
        let p = from_stat(stat, 100, 4096, Some(1_700_000_000));
        assert_eq!(p.cpu_seconds, Some(3.0));
        assert_eq!(p.virtual_bytes, Some(8_388_608));
        assert_eq!(p.resident_bytes, Some(512 * 4096));
        assert_eq!(p.start_time_seconds, Some(1_700_000_000.0 + 123.45));
        assert_eq!(from_stat("garbage", 100, 4096, None), Process::default());
    }

    #[test]
    fn limits_boot_time_and_the_auxiliary_vector() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n";
        assert_eq!(max_open_files(limits), Some(1024));
        assert_eq!(max_open_files("Max open files unlimited unlimited files"), None);
        assert_eq!(boot_time("cpu 1 2\nbtime 1700000000\n"), Some(1_700_000_000));
        let mut auxv = Vec::new();
        for (k, v) in [(6u64, 4096u64), (17, 100), (0, 0)] {
            auxv.extend_from_slice(&(k as usize).to_ne_bytes());
            auxv.extend_from_slice(&(v as usize).to_ne_bytes());
        }
        assert_eq!(aux(&auxv, AT_CLKTCK), Some(100));
        assert_eq!(aux(&auxv, AT_PAGESZ), Some(4096));
        assert_eq!(aux(&auxv[..5], AT_CLKTCK), None);
    }

    #[test]
    fn this_process_reads_and_renders_every_family() {
        let p = Process::read();
        assert!(p.resident_bytes.is_some_and(|r| r > 0), "{p:?}");
        assert!(p.open_fds.is_some_and(|n| n >= 3), "{p:?}");
        assert!(p.max_fds.is_some(), "{p:?}");
        let mut t = String::new();
        render(&p, &mut t);
        for f in [
            "failoverd_build_info{version=",
            "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total ",
            "process_resident_memory_bytes ",
            "process_virtual_memory_bytes ",
            "process_open_fds ",
            "process_max_fds ",
            "process_start_time_seconds ",
        ] {
            assert!(t.contains(f), "{f} in\n{t}");
        }
    }
}
