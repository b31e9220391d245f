//! The shadow report (issue #28) as an admin gets it: the real daemon in
//! dry run, the firewall emulator over HTTPS and a real snmpd serving the
//! emulator's tunnel table, whose carrying member the test switches. A
//! failover failoverd decides and the firewall follows 3 s later; a switch
//! the firewall makes alone; a restart in the middle; a DeActive the
//! firewall never follows. `failoverd report` and `failoverd events` read
//! it all from the history file. Skips (SKIPPED) without snmpd when not
//! root.

mod daemonutil;

use std::time::{Duration, Instant};

use daemonutil::{Daemon, GROUP, cli, emulator, listen, settings};
use sfos_emulator::tunnels::{AgentOptions, SnmpAgent, snmpd_path};

const COMMUNITY: &str = "c0mmunity-history";

fn root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}

/// A TCP peer that accepts (so its backlog never fills) until stopped.
struct Peer {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Peer {
    fn start(l: std::net::TcpListener) -> Peer {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        l.set_nonblocking(true).unwrap();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((c, _)) => drop(c),
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Peer {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops accepting and closes the listener: checks are refused.
    fn stop(mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

/// `failoverd status` until it contains `want` (bounded).
fn until_status(config: &std::path::Path, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, out, _) = cli(&["status"], config);
        if out.contains(want) {
            return out;
        }
        assert!(Instant::now() < deadline, "no {want:?} in status:\n{out}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The table with `carrying` (A or B) active, the other inactive.
fn carry(agent: &SnmpAgent, carrying: &str) {
    let mut rows = agent.tunnels.rows();
    for row in &mut rows {
        if row.name == "A" || row.name == "B" {
            row.status = u8::from(row.name == carrying);
            row.activated = 1;
        }
    }
    agent.tunnels.set_rows(rows);
}

/// The whole seconds in "..., N s earlier" of the report's line that
/// starts with `prefix`.
fn lead(report: &str, prefix: &str) -> u64 {
    let line = report
        .lines()
        .find(|l| l.trim_start().starts_with(prefix))
        .unwrap_or_else(|| panic!("no line {prefix:?} in\n{report}"));
    let tail = line.rsplit(", ").next().unwrap();
    assert!(tail.ends_with(" s earlier"), "{line}");
    tail.trim_end_matches(" s earlier").parse().unwrap()
}

#[test]
fn the_report_sets_failoverds_decisions_beside_the_firewalls_switches() {
    if snmpd_path().is_none() {
        assert!(
            !root(),
            "snmpd is missing although this runs as root: scripts/test.sh installs it"
        );
        eprintln!("SKIPPED: snmpd is not installed (Debian package snmpd) and this is not root");
        return;
    }
    let (_rt, emu) = emulator();
    let agent = SnmpAgent::start(AgentOptions {
        community: COMMUNITY.into(),
        users: vec![],
    })
    .unwrap();
    emu.attach_tunnels(agent.tunnels.clone());
    carry(&agent, "A");
    let a = listen("127.0.0.1", 0);
    let port = a.local_addr().unwrap().port();
    let b = listen("127.0.0.2", port);
    let (a, b) = (Peer::start(a), Peer::start(b));
    let extra = format!(
        "dry_run = true\n[snmp]\naddress = \"{}\"\nversion = \"2c\"\ncommunity_file = \"community\"\ninterval = \"1s\"\ntimeout = \"500ms\"\ndisagree_after = \"2s\"\n[http]\nlisten = \"127.0.0.1:0\"\n",
        agent.addr()
    );
    let dir = Daemon::prepare(
        &settings(&emu, port, "underlay", &extra),
        &GROUP.replace("PORT", &port.to_string()),
    );
    std::fs::write(dir.path().join("community"), format!("{COMMUNITY}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path().join("community"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let config = dir.path().join("failoverd.toml");
    let d = Daemon::start_in(dir);
    until_status(&config, "firewall carries: A\n");

    // 1. failoverd decides a failover; the firewall follows 3 s later.
    a.stop();
    d.until_logged("G: failover 'A' -> 'B'", Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(3)); // the firewall's own delay
    carry(&agent, "B");
    until_status(&config, "firewall carries: B");

    // 2. The firewall switches back to A alone (failoverd sees A down).
    carry(&agent, "A");
    until_status(&config, "firewall carries: A");

    // The status page's section shows this run's part.
    let page = daemonutil::http_get(d.http_port(), "GET", "/");
    let at = page.find("Shadow report, last 7 days").expect("the page's section");
    assert!(page[at..].contains("firewall switched to B at"), "{}", &page[at..]);
    assert!(
        page[at..].contains("failoverd never decided this switch"),
        "{}",
        &page[at..]
    );

    // 3. A restart in the middle.
    let (code, _, _, dir) = d.stop();
    assert_eq!(code, 0);
    let d = Daemon::start_in(dir);
    until_status(&config, "firewall carries: A");
    // Armed again (seen up since the start) before its last member fails.
    until_status(&config, "expected active B, armed");

    // 4. Every member down: failoverd would push DeActive; the firewall
    //    keeps carrying A.
    b.stop();
    d.until_logged("dry run: would push DeActive G", Duration::from_secs(20));
    let (_, events, _) = cli(&["events", "--group", "G"], &config);
    assert!(events.contains("PushDecided"), "{events}");

    let (code, report, err) = cli(&["report"], &config);
    assert_eq!(code, 0, "{err}");
    let n = lead(&report, "firewall switched to B at");
    assert!((3..=4).contains(&n), "failoverd was about 3 s ahead: {n} s\n{report}");
    assert!(
        report.contains("firewall switched to A at") && report.contains("failoverd never decided this switch"),
        "{report}"
    );
    assert!(
        report.contains("failoverd decided no member at") && report.contains("the firewall did not follow"),
        "{report}"
    );
    // The Active decided at start, before the table was first read, was
    // for A, which the firewall carried: followed, not listed.
    assert!(!report.contains("failoverd decided A at"), "{report}");
    for restart in ["DaemonStopped", "DaemonStarted"] {
        assert!(report.contains(restart), "the restart is in the report: {report}");
    }
    assert!(report.contains("disagreed for"), "{report}");

    // Nothing lost across the restart: the events before it are still there.
    let (code, events, _) = cli(&["events", "--json"], &config);
    assert_eq!(code, 0);
    let kinds: Vec<String> = events
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["EVENT"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let first = |k: &str| {
        kinds
            .iter()
            .position(|x| x == k)
            .unwrap_or_else(|| panic!("no {k}: {kinds:?}"))
    };
    assert!(first("Failover") < first("DaemonStopped"), "{kinds:?}");
    assert!(first("DaemonStopped") < kinds.iter().rposition(|x| x == "DaemonStarted").unwrap());
    let (code, _, _, _) = d.stop();
    assert_eq!(code, 0);
}
