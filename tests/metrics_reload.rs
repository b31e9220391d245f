//! Counters on `/metrics` count from the process's start and never go back
//! at a reload (contract section 16): Prometheus's `rate()` would otherwise
//! read every SIGHUP as a counter reset. The real binary, the firewall
//! emulator, `[http]` on port 0, and a SIGHUP with unchanged settings.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

mod daemonutil;
use daemonutil::{Daemon, emulator, http_get, listen, settings};

/// Every counter sample on the page (`*_total` lines), by series.
fn counters(port: u16) -> BTreeMap<String, f64> {
    let page = http_get(port, "GET", "/metrics");
    page.lines()
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
        assert!(Instant::now() < deadline, "no checks and push counted: {c:?}\n{}", d.report());
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
    let (code, ..) = d.stop();
    assert_eq!(code, 0);
}
