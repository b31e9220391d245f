//! The firewall API's health without waiting for a push (contract section
//! 16): the real binary with the firewall emulator and `[http]`, a Get
//! every second, a group that wants nothing new. The firewall starts
//! refusing the login: `status`, `/status` and `/metrics` say so and
//! `ApiUnusable` is logged once; it takes the login again: `ApiUsable`.
//! Then the episode a wrong password begins ends when a reload fixes the
//! password (it never did: the pause lived with the settings).

use std::time::{Duration, Instant};

use sfos_emulator::Fault;

mod daemonutil;
use daemonutil::{Daemon, cli, emulator, http_get, listen, settings};

fn status(d: &Daemon) -> serde_json::Value {
    let (code, out, err) = cli(&["status", "--json"], &d.dir.path().join("failoverd.toml"));
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

fn until_api(d: &Daemon, state: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = status(d);
        if s["api"]["state"] == state {
            return s;
        }
        assert!(Instant::now() < deadline, "api never {state}: {s}\n{}", d.report());
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn metric(port: u16, name: &str) -> Option<f64> {
    let page = http_get(port, "GET", "/metrics");
    page.lines()
        .find(|l| l.starts_with(&format!("{name} ")))
        .and_then(|l| l.rsplit_once(' ')?.1.trim().parse().ok())
}

fn logged(d: &Daemon, event: &str) -> usize {
    d.log_text().matches(&format!("EVENT=\"{event}\"")).count()
        + d.log_text().matches(&format!("EVENT={event} ")).count()
}

#[test]
fn an_api_outage_with_nothing_to_push_is_seen_and_its_end_too() {
    let (_rt, emu) = emulator();
    let peer = listen("127.0.0.1", 0);
    let port = peer.local_addr().unwrap().port();
    let d = Daemon::start(
        &settings(
            &emu,
            port,
            "tunnel",
            "check_every = \"1s\"\n[http]\nlisten = \"127.0.0.1:0\"\n",
        ),
        port,
    );
    let http = d.http_port();
    d.until_notified("READY=1", Duration::from_secs(20));
    let s = until_api(&d, "usable");
    assert!(s["api"]["last_success"].as_u64().is_some(), "{s}");
    assert_eq!(metric(http, "failoverd_api_up"), Some(1.0));
    assert!(metric(http, "failoverd_api_last_success_timestamp_seconds").is_some_and(|t| t > 1.7e9));

    emu.set_fault(Fault::LoginFailure);
    let s = until_api(&d, "unusable");
    assert!(s["problems"].to_string().contains("firewall API"), "a problem: {s}");
    assert_eq!(metric(http, "failoverd_api_up"), Some(0.0));
    let (_, table, _) = cli(&["status"], &d.dir.path().join("failoverd.toml"));
    assert!(table.contains("api: UNUSABLE"), "{table}");
    d.until_logged("ApiUnusable", Duration::from_secs(10));

    emu.clear_faults();
    until_api(&d, "usable");
    d.until_logged("ApiUsable", Duration::from_secs(10));
    assert_eq!(metric(http, "failoverd_api_up"), Some(1.0));
    let (_, table, _) = cli(&["status"], &d.dir.path().join("failoverd.toml"));
    assert!(table.contains("api: usable, last answer"), "{table}");
    assert_eq!(logged(&d, "ApiUnusable"), 1, "once per episode:\n{}", d.log_text());
    let (code, ..) = d.stop();
    assert_eq!(code, 0);
}

#[test]
fn an_episode_a_reload_fixes_ends_with_api_usable() {
    let (_rt, emu) = emulator();
    let peer = listen("127.0.0.1", 0);
    let port = peer.local_addr().unwrap().port();
    let dir = Daemon::prepare(
        &settings(&emu, port, "tunnel", "check_every = \"1s\"\n"),
        &daemonutil::GROUP.replace("PORT", &port.to_string()),
    );
    let right = std::fs::read_to_string(dir.path().join("pw")).unwrap();
    std::fs::write(dir.path().join("pw"), "wrong\n").unwrap();
    let d = Daemon::start_in(dir);
    d.until_notified("READY=1", Duration::from_secs(20));
    until_api(&d, "unusable");
    d.until_logged("ApiUnusable", Duration::from_secs(10));
    std::fs::write(d.dir.path().join("pw"), right).unwrap();
    d.signal("HUP");
    until_api(&d, "usable");
    d.until_logged("ApiUsable", Duration::from_secs(10));
    let (code, ..) = d.stop();
    assert_eq!(code, 0);
}

/// In dry run the pushes' answers are made up (accepted at once): they must
/// not make a refusing API look usable. Only the read-only Get, which goes
/// out in dry run too, tells the API's health.
#[test]
fn a_dry_run_push_does_not_make_a_refusing_api_look_usable() {
    let (_rt, emu) = emulator();
    emu.set_fault(Fault::LoginFailure);
    let peer = listen("127.0.0.1", 0);
    let port = peer.local_addr().unwrap().port();
    let d = Daemon::start(&settings(&emu, port, "tunnel", "dry_run = true\n"), port);
    d.until_notified("READY=1", Duration::from_secs(20));
    until_api(&d, "unusable");
    // The tunnel group wants Active from the start: its dry-run push.
    d.until_logged("the firewall answered: dry run: not sent", Duration::from_secs(10));
    let s = status(&d);
    assert_eq!(s["api"]["state"], "unusable", "{s}\n{}", d.log_text());
    assert!(!d.log_text().contains("ApiUsable"), "{}", d.log_text());
    let (code, ..) = d.stop();
    assert_eq!(code, 0);
}
