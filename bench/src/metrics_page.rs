//! `/metrics` at 10,000 check streams (issue #16): the page's bytes, the
//! CPU of one scrape and the daemon's peak RSS after scrapes, with the
//! default page and with `[http] rtt_histograms` and `target_states` on.
//! ICMP targets in 127.0.0.0/8, laid out as the throughput runs are
//! (groups of 2 members, one target each): 5,000 groups, 10,000 members,
//! 10,000 targets.
//!
//! The CPU of a scrape is the daemon's utime + stime (`/proc/PID/stat`)
//! right before and after one `GET /metrics`, minus what probing costs
//! over the scrape's wall time (its rate measured over `--duration`
//! seconds just before); the median of 5 scrapes. `/proc` counts in clock
//! ticks (10 ms at USER_HZ 100), which the median of 5 only partly evens out.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::daemon::{Cond, Daemon, Scratch, groups_xml};
use crate::measure::{count_checks, cpu_seconds, free_port, http_get, peak_rss_mib, percentile};
use crate::scenarios::{loopback_targets, throughput_settings};
use crate::{Cli, Row, is_root, say};

const N: usize = 10_000;
const SCRAPES: usize = 5;
/// The targets of issue #16, for the default page.
const PAGE_BYTES: usize = 3_000_000;
const SCRAPE_CPU_MS: f64 = 100.0;
const RSS_MIB: f64 = 64.0;

fn settings(targets: &[String], metrics: SocketAddr, keys: bool) -> String {
    let keys = if keys {
        "rtt_histograms = true\ntarget_states = true\n"
    } else {
        ""
    };
    throughput_settings(targets, metrics, keys)
}

/// What one daemon's scrapes measured.
struct Scrapes {
    bytes: usize,
    cpu_ms: f64,
    rss_before: f64,
    rss_after: f64,
    lost: u64,
}

fn run(cli: &Cli, targets: &[String], keys: bool) -> Result<Scrapes, String> {
    let what = if keys { "metrics-keys" } else { "metrics" };
    let dir = Scratch::new(what);
    let metrics = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let path = dir.write("failoverd.toml", &settings(targets, metrics, keys));
    dir.write("groups.xml", &groups_xml(targets, 2, Cond::Ping));
    let mut d = Daemon::start(&cli.failoverd, &dir, &path)?;
    let result = (|| {
        let ready = d.wait_ready(Duration::from_secs(120))?;
        say!("{what}: failoverd READY after {:.0} ms", ready.as_secs_f64() * 1000.0);
        std::thread::sleep(Duration::from_secs(cli.warmup));
        let pid = d.pid();
        // Probing's own CPU rate, just before the scrapes.
        let (c0, t0) = (cpu_seconds(pid)?, Instant::now());
        std::thread::sleep(Duration::from_secs(cli.duration.max(1)));
        let rate = (cpu_seconds(pid)? - c0) / t0.elapsed().as_secs_f64();
        let rss_before = peak_rss_mib(pid)?;
        let mut cpu = Vec::with_capacity(SCRAPES);
        let mut body = String::new();
        for _ in 0..SCRAPES {
            let (c0, t0) = (cpu_seconds(pid)?, Instant::now());
            body = http_get(metrics, "/metrics")?;
            let (c1, wall) = (cpu_seconds(pid)?, t0.elapsed().as_secs_f64());
            cpu.push(((c1 - c0) - rate * wall).max(0.0) * 1000.0);
            std::thread::sleep(Duration::from_millis(500));
        }
        cpu.sort_by(f64::total_cmp);
        let checks = count_checks(&body)?;
        Ok(Scrapes {
            bytes: body.len(),
            cpu_ms: percentile(&cpu, 50.0),
            rss_before,
            rss_after: peak_rss_mib(pid)?,
            lost: checks.not_good,
        })
    })();
    d.stop();
    result
}

/// Both pages at 10,000 streams: one row each.
pub fn metrics_page(cli: &Cli) -> Vec<Row> {
    let scenario = "metrics";
    if !is_root() {
        say!("SKIPPED metrics N={N}: needs root (raw ICMP sockets for failoverd)");
        return vec![Row {
            scenario: scenario.into(),
            n: N.to_string(),
            process: "-".into(),
            result: "SKIPPED: needs root".into(),
            ..Row::default()
        }];
    }
    let targets = loopback_targets(Ipv4Addr::new(127, 10, 0, 0), N);
    let mut rows = Vec::new();
    for keys in [false, true] {
        let process = if keys {
            "failoverd, rtt_histograms + target_states"
        } else {
            "failoverd, default page"
        };
        say!(
            "metrics N={N}: {process}, {}+{} s, {SCRAPES} scrapes",
            cli.warmup,
            cli.duration
        );
        let row = match run(cli, &targets, keys) {
            Ok(s) => {
                let met = s.bytes <= PAGE_BYTES && s.cpu_ms <= SCRAPE_CPU_MS && s.rss_after <= RSS_MIB;
                Row {
                    // The opt-in page is for scale; the default one is judged.
                    section: if keys {
                        crate::Section::Detail
                    } else {
                        crate::Section::Headline
                    },
                    scenario: scenario.into(),
                    n: N.to_string(),
                    process: process.into(),
                    rss_mib: Some(s.rss_after),
                    lost: Some(s.lost),
                    result: format!(
                        "page {} bytes ({:.0} a stream), scrape CPU {:.0} ms (median of {SCRAPES}), \
                         VmHWM {:.1} MiB before the scrapes, {:.1} after",
                        s.bytes,
                        s.bytes as f64 / N as f64,
                        s.cpu_ms,
                        s.rss_before,
                        s.rss_after
                    ),
                    target: if keys {
                        "(none; for scale)".into()
                    } else {
                        format!(
                            "page <= {PAGE_BYTES} bytes, scrape CPU <= {SCRAPE_CPU_MS:.0} ms, VmHWM <= {RSS_MIB:.0} MiB"
                        )
                    },
                    met: (!keys).then_some(met),
                    ..Row::default()
                }
            }
            Err(e) => {
                say!("metrics N={N} {process}: {e}");
                Row {
                    scenario: scenario.into(),
                    n: N.to_string(),
                    process: process.into(),
                    result: format!("FAILED: {}", e.lines().next().unwrap_or("")),
                    met: Some(false),
                    ..Row::default()
                }
            }
        };
        rows.push(row);
    }
    rows
}
