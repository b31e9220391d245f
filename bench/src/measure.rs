//! Measuring other processes: CPU time (utime + stime) from
//! `/proc/PID/stat`, peak RSS (VmHWM) from `/proc/PID/status`, and the
//! checks counted by failoverd's `/metrics`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// CPU seconds (user + system) used so far by process `pid`.
pub fn cpu_seconds(pid: u32) -> Result<f64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    // The command name may hold spaces: fields count from the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).ok_or("bad /proc stat")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime is field 14, stime 15.
    let ticks = |i: usize| -> Result<f64, String> {
        f.get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .ok_or_else(|| "bad /proc stat".to_string())
    };
    let hz = clock_ticks();
    Ok((ticks(11)? + ticks(12)?) / hz)
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 { hz as f64 } else { 100.0 }
}

/// A `kB` line of `/proc/PID/status` (VmHWM, VmRSS), in MiB.
pub fn status_mib(pid: u32, key: &str) -> Result<f64, String> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with(key))
        .ok_or_else(|| format!("no {key} in /proc/{pid}/status"))?;
    let kb: f64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("bad {key} line"))?;
    Ok(kb / 1024.0)
}

/// ICMP echo requests this host sent so far (`OutEchos` of
/// `/proc/net/snmp`): the benchmark counts the pings itself rather than
/// trust the process it measures. Host-wide: anything else pinging meanwhile
/// adds to it.
pub fn out_echos() -> Option<u64> {
    let snmp = std::fs::read_to_string("/proc/net/snmp").ok()?;
    let mut icmp = snmp.lines().filter(|l| l.starts_with("Icmp:"));
    let (names, values) = (icmp.next()?, icmp.next()?);
    let at = names.split_whitespace().position(|n| n == "OutEchos")?;
    values.split_whitespace().nth(at)?.parse().ok()
}

/// Peak resident set size of `pid` in MiB.
pub fn peak_rss_mib(pid: u32) -> Result<f64, String> {
    status_mib(pid, "VmHWM:")
}

/// Checks counted by failoverd's /metrics: good ones, and every other
/// (failed or not made) as not good.
#[derive(Clone, Copy, Debug, Default)]
pub struct Checks {
    pub good: u64,
    pub not_good: u64,
}

impl Checks {
    pub fn total(&self) -> u64 {
        self.good + self.not_good
    }
}

/// Sums the checks of every stream: all of them from
/// `failoverd_checks_total`, the good ones from `failoverd_rtt_seconds_count`.
pub fn scrape(addr: SocketAddr) -> Result<Checks, String> {
    let body = http_get(addr, "/metrics")?;
    count_checks(&body)
}

/// The checks of a /metrics page (see [`scrape`]).
pub fn count_checks(body: &str) -> Result<Checks, String> {
    let (mut total, mut good) = (0u64, 0u64);
    for line in body.lines() {
        let sum = if line.starts_with("failoverd_checks_total{") {
            &mut total
        } else if line.starts_with("failoverd_rtt_seconds_count{") {
            &mut good
        } else {
            continue;
        };
        let n: u64 = line
            .rsplit_once(' ')
            .and_then(|(_, v)| v.parse().ok())
            .ok_or_else(|| format!("bad metric line {line:?}"))?;
        *sum += n;
    }
    Ok(Checks {
        good,
        not_good: total.saturating_sub(good),
    })
}

/// The body of `GET path` from `addr`.
pub fn http_get(addr: SocketAddr, path: &str) -> Result<String, String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| format!("{addr}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).map_err(|e| format!("{addr}{path}: {e}"))?;
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no HTTP header end")?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!("{addr}{path}: {}", head.lines().next().unwrap_or("")));
    }
    Ok(body.to_string())
}

/// A free TCP port on 127.0.0.1 (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("cannot bind a port on 127.0.0.1")
}

/// Percentile `p` (0..=100) of sorted `v`, nearest rank.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
