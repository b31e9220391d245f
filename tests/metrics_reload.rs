//! `/metrics` by Prometheus's conventions (contract section 16), from the
//! real binary with the firewall emulator and `[http]` on port 0: counters
//! count from the process's start and never go back at a reload (`rate()`
//! would read every SIGHUP as a counter reset); `failoverd_build_info` and
//! the standard `process_*` family are served and parse with the official
//! client's parser.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

mod daemonutil;
mod netutil;
mod promutil;
use daemonutil::{Daemon, emulator, http_get, listen, settings};

/// The `/metrics` page, without the HTTP head.
fn page(port: u16) -> String {
    let response = http_get(port, "GET", "/metrics");
    let (_, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP head: {response}"));
    body.to_string()
}

/// Every counter sample on the page (`*_total` lines), by series.
fn counters(port: u16) -> BTreeMap<String, f64> {
    page(port)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter(|(series, _)| series.split('{').next().is_some_and(|n| n.ends_with("_total")))
        .filter_map(|(series, v)| Some((series.to_string(), v.parse().ok()?)))
        .collect()
}

#[test]
fn counters_do_not_go_back_at_a_reload() {
    let (_rt, emu) = emulator();
    let peer = listen("127.0.0.1", 0);
    let port = peer.local_addr().unwrap().port();
    let d = Daemon::start(
        &settings(&emu, port, "tunnel", "[http]\nlisten = \"127.0.0.1:0\"\n"),
        port,
    );
    let http = d.http_port();
    let deadline = Instant::now() + Duration::from_secs(20);
    let before = loop {
        let c = counters(http);
        let checks: f64 = c
            .iter()
            .filter(|(k, _)| k.starts_with("failoverd_checks_total"))
            .map(|(_, v)| v)
            .sum();
        let pushed = c.keys().any(|k| k.starts_with("failoverd_pushes_total"));
        if checks >= 10.0 && pushed {
            break c;
        }
        assert!(
            Instant::now() < deadline,
            "no checks and push counted: {c:?}\n{}",
            d.report()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    d.signal("HUP");
    d.until_notified("RELOADING=1", Duration::from_secs(10));
    d.until_notified("READY=1", Duration::from_secs(10));
    let after = counters(http);
    for (series, was) in &before {
        let now = after
            .get(series)
            .unwrap_or_else(|| panic!("{series} gone after the reload: {after:?}"));
        assert!(now >= was, "{series} went back from {was} to {now} at a reload");
    }
    let page = page(http);
    let value = |name: &str| -> f64 {
        let line = page
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} on the page:\n{page}"));
        line.rsplit_once(' ').unwrap().1.parse().unwrap()
    };
    let build = format!("failoverd_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"));
    assert!(page.contains(&build), "{page}");
    assert!(value("process_resident_memory_bytes") > 1e6, "{page}");
    assert!(value("process_open_fds") >= 5.0, "{page}");
    assert!(value("process_max_fds") >= value("process_open_fds"));
    assert!(value("process_cpu_seconds_total") >= 0.0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let started = value("process_start_time_seconds");
    assert!(
        now - started < 120.0 && now >= started - 1.0,
        "started {started}, now {now}"
    );
    if let Some(listed) = promutil::families(&page) {
        for f in [
            "failoverd_build_info gauge",
            "process_cpu_seconds counter",
            "process_open_fds gauge",
        ] {
            assert!(listed.contains(f), "{f} in\n{listed}");
        }
    }
    let (code, ..) = d.stop();
    assert_eq!(code, 0);
}
