//! The real daemon end to end: the `failoverd` binary, the firewall
//! emulator over HTTPS with a pinned certificate, TCP listeners on loopback
//! standing in for the members' peers, and a fake NOTIFY_SOCKET.

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sfos_emulator::ActionKind;

mod daemonutil;
mod mailutil;

use daemonutil::*;

#[test]
fn an_underlay_group_fails_over_goes_down_and_comes_back() {
    let (_rt, emu) = emulator();
    let a = listen("127.0.0.1", 0);
    let port = a.local_addr().unwrap().port();
    let b = listen("127.0.0.2", port);
    let d = Daemon::start(&settings(&emu, port, "underlay", ""), port);
    let ready = d.until_notified("READY=1", Duration::from_secs(10));
    assert!(
        ready[0].starts_with("READY=1\nSTATUS=1 groups: 0 up, 0 down, 1 unknown"),
        "{ready:?}"
    );
    // Up: the belief is unknown, so Active is pushed.
    assert_eq!(actions(&emu, 1, Duration::from_secs(10), &d.log), [ActionKind::Active]);
    d.until_notified("WATCHDOG=1", Duration::from_secs(5));
    // Detection bound: fall x interval + timeout (3 x 200 ms + 200 ms),
    // plus a margin for a shared machine and the 100 ms push tick.
    let bound = Duration::from_millis(800) + Duration::from_millis(1500);
    let t = Instant::now();
    drop(a); // the primary's peer dies: a failover, nothing to push
    d.until_logged("G: failover 'A' -> 'B'", Duration::from_secs(10));
    assert!(t.elapsed() <= bound, "failover seen after {:?}", t.elapsed());
    let t = Instant::now();
    drop(b); // the backup's too: the group is down and armed: DeActive
    assert_eq!(
        actions(&emu, 2, Duration::from_secs(10), &d.log),
        [ActionKind::Active, ActionKind::DeActive]
    );
    assert!(t.elapsed() <= bound, "DeActive received after {:?}", t.elapsed());
    let t = Instant::now();
    let _a = listen("127.0.0.1", port); // the primary returns: Active
    assert_eq!(
        actions(&emu, 3, Duration::from_secs(10), &d.log),
        [ActionKind::Active, ActionKind::DeActive, ActionKind::Active]
    );
    // Up needs rise (2) good checks: 2 x 200 ms, plus the margin.
    assert!(t.elapsed() <= bound, "Active received after {:?}", t.elapsed());
    assert!(emu.max_in_flight("G") <= 1, "never two requests in flight for a group");
    let (code, log, state, _dir) = d.stop();
    assert_eq!(code, 0);
    assert_eq!(belief(&state), "Active");
    let text = log.join("\n");
    assert!(text.contains("G: failover 'A' -> 'B'"), "{text}");
    assert!(text.contains("G: group down: all 2 members down"), "{text}");
    assert!(!text.contains("s3cret"), "the password leaked into the log");
}

#[test]
fn a_first_start_with_every_target_broken_pushes_nothing() {
    let (_rt, emu) = emulator();
    // Sockets bound but never listening: every check is refused, and no
    // other test can take the port meanwhile (a dropped listener's port
    // could be bound again by a test running beside this one).
    let closed = |ip: &str, port: u16| {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        let addr: std::net::SocketAddr = format!("{ip}:{port}").parse().unwrap();
        s.bind(&addr.into()).unwrap();
        s
    };
    let a = closed("127.0.0.1", 0);
    let port = a.local_addr().unwrap().as_socket().unwrap().port();
    let _b = closed("127.0.0.2", port);
    let d = Daemon::start(&settings(&emu, port, "underlay", ""), port);
    d.until_notified("STATUS=1 groups: 0 up, 1 down", Duration::from_secs(10));
    // An observation window of a few push ticks after the group went down.
    std::thread::sleep(Duration::from_millis(600));
    let (code, _log, state, _dir) = d.stop();
    assert_eq!(code, 0);
    let pushes: Vec<_> = emu
        .requests()
        .iter()
        .flat_map(|r| r.actions.clone())
        .filter(|a| a.group == "G")
        .collect();
    assert!(
        pushes.is_empty(),
        "only the read-only Get may reach the firewall: {pushes:?}"
    );
    let fw = firewall_state(&state);
    assert_eq!(fw["unconfirmed"], serde_json::json!({}), "nothing was even wanted");
}

#[test]
fn a_tunnel_group_down_past_restart_after_is_restarted_and_left_active() {
    let (_rt, emu) = emulator();
    let a = listen("127.0.0.1", 0);
    let port = a.local_addr().unwrap().port();
    let b = listen("127.0.0.2", port);
    let extra = "restart_after = \"1s\"\nrestart_backoff = \"1h\"";
    let d = Daemon::start(&settings(&emu, port, "tunnel", extra), port);
    assert_eq!(
        actions(&emu, 1, Duration::from_secs(10), &d.log),
        [ActionKind::Active],
        "Active from start"
    );
    d.until_notified("STATUS=1 groups: 1 up", Duration::from_secs(10));
    drop((a, b));
    d.until_logged("G: group down", Duration::from_secs(10));
    assert_eq!(
        actions(&emu, 3, Duration::from_secs(15), &d.log),
        [ActionKind::Active, ActionKind::DeActive, ActionKind::Active],
        "a restart: DeActive, then Active at once"
    );
    let (code, _log, state, _dir) = d.stop();
    assert_eq!(code, 0);
    assert_eq!(belief(&state), "Active", "never left off");
}

#[test]
fn a_failover_and_the_deactive_are_mailed_to_a_real_smtp_server() {
    let (rt, emu) = emulator();
    let mut smtp = mailutil::mailin(mailutil::port0(), mailutil::MailinOptions::default());
    let a = listen("127.0.0.1", 0);
    let port = a.local_addr().unwrap().port();
    let b = listen("127.0.0.2", port);
    let mail = format!(
        "[mail]\nserver = \"smtp://127.0.0.1:{}?tls=none\"\nfrom = \"failoverd <failoverd@example.com>\"\nto = [\"netops@example.com\"]\ncoalesce = \"0s\"\n",
        smtp.port
    );
    let group = GROUP.replace("PORT", &port.to_string()).replace(
        "</MemberConnections>",
        "</MemberConnections><MailNotification>Enable</MailNotification>",
    );
    let d = Daemon::start_with(&(settings(&emu, port, "underlay", "") + &mail), &group);
    actions(&emu, 1, Duration::from_secs(10), &d.log);
    drop(a);
    // The member-down and the failover it causes come at once; with
    // coalesce 0s the outbox may take the first before the second is
    // queued, so they come in one mail or two, in that order.
    let mut first = rt.block_on(mailutil::next(&mut smtp.rx));
    let mut subject = first.header("Subject").unwrap_or_default();
    let mut raw = first.raw.clone();
    if subject == "G member A down" {
        first = rt.block_on(mailutil::next(&mut smtp.rx));
        raw += &first.raw;
        subject = first.header("Subject").unwrap_or_default();
    }
    assert!(
        subject.contains("G") && subject.to_lowercase().contains("fail"),
        "{subject}\n{}",
        first.raw
    );
    assert_eq!(first.to, ["netops@example.com"]);
    assert!(raw.contains("127.0.0.1"), "the mail names the target: {raw}");
    drop(b);
    actions(&emu, 2, Duration::from_secs(10), &d.log);
    let mut seen = Vec::new();
    while !seen.iter().any(|r: &mailutil::Received| r.raw.contains("deactivat")) {
        seen.push(rt.block_on(mailutil::next(&mut smtp.rx)));
    }
    let (code, log, _state, _dir) = d.stop();
    assert_eq!(code, 0);
    assert!(!log.join("\n").contains("s3cret"));
}

#[test]
fn status_hold_release_and_push_through_the_daemon() {
    let (_rt, emu) = emulator();
    let a = listen("127.0.0.1", 0);
    let port = a.local_addr().unwrap().port();
    let b = listen("127.0.0.2", port);
    let d = Daemon::start(&settings(&emu, port, "underlay", ""), port);
    let config = d.dir.path().join("failoverd.toml");
    actions(&emu, 1, Duration::from_secs(10), &d.log);
    d.until_logged("the firewall answered", Duration::from_secs(10));
    d.until_logged("the firewall API answers", Duration::from_secs(10));
    let gets = emu
        .requests()
        .iter()
        .filter(|r| r.actions.iter().any(|a| a.action == ActionKind::Get))
        .count();
    assert_eq!(gets, 1, "one read-only Get at start");
    let (code, out, err) = cli(&["status"], &config);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("G (underlay): up since"), "{out}");
    assert!(out.contains("expected active A, armed"), "{out}");
    assert!(out.contains("member A: up") && out.contains("TCP/"), "{out}");
    assert!(out.contains("firewall: Active, last set by failoverd at"), "{out}");

    let (code, out, err) = cli(&["hold", "G", "--for", "1h", "--reason", "change window"], &config);
    assert_eq!((code, out.as_str()), (0, "held for 1h\n"), "{err}");
    drop((a, b));
    d.until_logged("G: group down", Duration::from_secs(10));
    let (code, out, _) = cli(&["status"], &config);
    assert_eq!(code, 0);
    assert!(out.contains("HELD until") && out.contains("change window"), "{out}");
    let (code, _, err) = cli(&["release", "G"], &config);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = cli(&["status"], &config);
    assert!(out.contains("not armed"), "the end of a hold disarms: {out}");
    assert_eq!(code, 0);

    // A manual push goes through the daemon, then holds the group.
    let (code, out, err) = cli(&["push", "G", "--deactivate", "--hold", "10m"], &config);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("G: DeActive: 200"), "{out}");
    assert_eq!(
        actions(&emu, 2, Duration::from_secs(5), &d.log),
        [ActionKind::Active, ActionKind::DeActive],
        "held, then released and disarmed: failoverd pushed no DeActive of its own"
    );
    let (code, _, err) = cli(&["hold", "Nope"], &config);
    assert_eq!(code, 2, "{err}");
    let (code, _log, _state, dir) = d.stop();
    assert_eq!(code, 0);
    let (code, _, err) = cli(&["status"], &dir.path().join("failoverd.toml"));
    assert_eq!(code, 3, "no daemon: {err}");
}

#[test]
fn a_hold_that_runs_out_ends_and_disarms_the_group_until_seen_up_again() {
    let (_rt, emu) = emulator();
    let a = listen("127.0.0.1", 0);
    let port = a.local_addr().unwrap().port();
    let b = listen("127.0.0.2", port);
    let d = Daemon::start(&settings(&emu, port, "underlay", ""), port);
    let config = d.dir.path().join("failoverd.toml");
    actions(&emu, 1, Duration::from_secs(10), &d.log);
    let (code, out, err) = cli(&["hold", "G", "--for", "1s"], &config);
    assert_eq!((code, out.as_str()), (0, "held for 1s\n"), "{err}");
    d.until_logged("hold ended; the group is disarmed", Duration::from_secs(10));
    let (code, out, _) = cli(&["status"], &config);
    assert_eq!(code, 0);
    assert!(!out.contains("HELD until"), "{out}");
    d.until_logged(
        "G was seen up since it was disarmed: armed again",
        Duration::from_secs(10),
    );
    // The group stayed up through the hold: the next good check is its
    // sighting, so an outage now is acted on (it used to wait for a
    // health change that never came, and no DeActive was ever sent).
    drop((a, b));
    assert_eq!(
        actions(&emu, 2, Duration::from_secs(15), &d.log),
        [ActionKind::Active, ActionKind::DeActive]
    );
    let (code, ..) = d.stop();
    assert_eq!(code, 0);
}

#[test]
fn sighup_rejects_a_broken_file_and_applies_a_valid_change_keeping_state() {
    let (_rt, emu) = emulator();
    let a = listen("127.0.0.1", 0);
    let port = a.local_addr().unwrap().port();
    let _b = listen("127.0.0.2", port);
    let good = settings(&emu, port, "underlay", "");
    let d = Daemon::start(&good, port);
    let config = d.dir.path().join("failoverd.toml");
    assert_eq!(actions(&emu, 1, Duration::from_secs(10), &d.log), [ActionKind::Active]);
    d.until_notified("STATUS=1 groups: 1 up", Duration::from_secs(10));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cli(&["status"], &config).1.contains("member B: up") {
        assert!(Instant::now() < deadline, "B never came up");
        std::thread::sleep(Duration::from_millis(50));
    }
    let hup = || {
        Command::new("kill")
            .args(["-HUP", &d.child.id().to_string()])
            .status()
            .unwrap()
    };

    std::fs::write(&config, good.replace("fall = 3", "fall = \"three\"")).unwrap();
    hup();
    let notes = d.until_notified("STATUS=reload rejected", Duration::from_secs(10));
    assert!(notes.iter().any(|n| n == "RELOADING=1"), "{notes:?}");
    d.until_logged(
        "probe.fall: expected a whole number, found a string",
        Duration::from_secs(5),
    );
    let (code, out, _) = cli(&["status"], &config);
    assert_eq!(code, 0, "still running on the old settings");
    assert!(out.contains("G (underlay): up"), "{out}");

    // A valid change: B's rise; both streams are unchanged and keep state.
    std::fs::write(
        &config,
        good.replace(
            "via = \"underlay\"\n[firewall]",
            "via = \"underlay\"\nrise = 4\n[firewall]",
        ),
    )
    .unwrap();
    hup();
    let notes = d.until_notified(
        "READY=1\nSTATUS=1 groups: 1 up, 0 down, 0 unknown",
        Duration::from_secs(10),
    );
    assert!(!notes.iter().any(|n| n.contains("rejected")), "{notes:?}");
    let (code, out, _) = cli(&["status"], &config);
    assert_eq!(code, 0);
    assert!(
        out.contains("member A: up") && out.contains("member B: up"),
        "health kept across the reload: {out}"
    );
    drop(a);
    d.until_logged("G: failover 'A' -> 'B'", Duration::from_secs(10));
    let (code, log, _state, _dir) = d.stop();
    assert_eq!(code, 0);
    let pushes = emu
        .requests()
        .iter()
        .flat_map(|r| r.actions.iter().filter(|a| a.group == "G"))
        .count();
    assert_eq!(pushes, 1, "no push caused by the reloads: {}", log.join("\n"));
}

/// Pushes G's belief wanted by the daemon converge once each fault clears;
/// never two requests in flight for the group; after a restart with the
/// belief persisted, nothing is pushed again.
#[test]
fn pushes_converge_after_each_fault_and_a_restart_does_not_push_again() {
    use sfos_emulator::Fault;
    let only = std::env::var("E2E_FAULT").ok();
    let faults = [
        Fault::HttpStatus(503),
        Fault::Drop,
        Fault::EntityCode(500),
        Fault::LoginFailure,
        Fault::DenyAll,
        Fault::Delay(Duration::from_secs(30)),
    ];
    for fault in faults {
        if only
            .as_ref()
            .is_some_and(|o| !format!("{fault:?}").starts_with(o.as_str()))
        {
            continue;
        }
        let (_rt, emu) = emulator();
        emu.set_fault(fault);
        let a = listen("127.0.0.1", 0);
        let port = a.local_addr().unwrap().port();
        let _b = listen("127.0.0.2", port);
        // A short request timeout, and a configuration pause short enough
        // to see the recovery in a test.
        let extra = "timeout = \"1s\"\nconfig_retry = \"2s\"";
        let d = Daemon::start(&settings(&emu, port, "underlay", extra), port);
        d.until_logged("pushing Active G", Duration::from_secs(10));
        d.until_logged("the firewall answered", Duration::from_secs(10));
        emu.clear_faults();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !cli(&["status"], &d.dir.path().join("failoverd.toml"))
            .1
            .contains("firewall: Active")
        {
            assert!(
                Instant::now() < deadline,
                "{fault:?}: never converged:\n{}",
                d.log.lock().unwrap().join("\n")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(emu.max_in_flight("G") <= 1, "{fault:?}: two requests in flight");
        let (code, _log, state, dir) = d.stop();
        assert_eq!(code, 0);
        assert_eq!(belief(&state), "Active", "{fault:?}");
        // A restart with the belief persisted pushes nothing.
        let before = emu
            .requests()
            .iter()
            .flat_map(|r| r.actions.clone())
            .filter(|a| a.group == "G")
            .count();
        let restarted = Daemon::start_in(dir);
        restarted.until_notified("STATUS=1 groups: 1 up", Duration::from_secs(10));
        restarted.until_logged("the firewall API answers", Duration::from_secs(10));
        let (code, _, _, _) = restarted.stop();
        assert_eq!(code, 0);
        let after = emu
            .requests()
            .iter()
            .flat_map(|r| r.actions.clone())
            .filter(|a| a.group == "G")
            .count();
        assert_eq!(
            after, before,
            "{fault:?}: a restart with a persisted belief pushed again"
        );
        drop(a);
    }
}

#[test]
fn sync_true_sends_changed_definitions_once() {
    let (_rt, emu) = emulator_with(false);
    let a = listen("127.0.0.1", 0);
    let port = a.local_addr().unwrap().port();
    let _b = listen("127.0.0.2", port);
    // Missing on the firewall at two Gets in a row (docs/definitions.md).
    let d = Daemon::start(
        &settings(&emu, port, "underlay", "sync = true\ncheck_every = \"1s\""),
        port,
    );
    d.until_logged("definition sent: 200", Duration::from_secs(10));
    let adds = || {
        emu.requests()
            .iter()
            .flat_map(|r| r.actions.clone())
            .filter(|a| a.action == ActionKind::Add)
            .count()
    };
    assert_eq!(adds(), 1);
    assert!(emu.groups().contains_key("G"), "the firewall now knows G");
    let (code, _, state, dir) = d.stop();
    assert_eq!(code, 0);
    let fw = firewall_state(&state);
    assert!(
        fw["sync_hashes"].as_object().is_none_or(|h| h.is_empty()),
        "no hashes kept: {fw}"
    );
    let again = Daemon::start_in(dir);
    again.until_logged("the firewall API answers", Duration::from_secs(10));
    let (code, _, _, _) = again.stop();
    assert_eq!(code, 0);
    assert_eq!(adds(), 1, "an unchanged definition is not sent again");
}

#[test]
fn http_serves_metrics_and_status() {
    let (_rt, emu) = emulator();
    let a = listen("127.0.0.1", 0);
    let port = a.local_addr().unwrap().port();
    let _b = listen("127.0.0.2", port);
    let extra = "[http]\nlisten = \"127.0.0.1:0\"";
    let d = Daemon::start(&(settings(&emu, port, "underlay", "") + extra), port);
    d.until_logged("the firewall answered", Duration::from_secs(10));
    let http_port = d.http_port();
    let metrics = http_get(http_port, "GET", "/metrics");
    assert!(
        metrics.starts_with("HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4"),
        "{metrics}"
    );
    assert!(metrics.contains("failoverd_group_up{group=\"G\"} 1"), "{metrics}");
    assert!(
        metrics.contains(&format!(
            "failoverd_checks_total{{protocol=\"TCP/{port}\",target=\"127.0.0.1\"}} "
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "failoverd_rtt_seconds_count{{protocol=\"TCP/{port}\",target=\"127.0.0.1\"}} "
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains("failoverd_pushes_total{group=\"G\",class=\"accepted\"} 1"),
        "{metrics}"
    );
    // [http] rtt_histograms and target_states are off by default.
    assert!(metrics.contains("# TYPE failoverd_rtt_seconds summary\n"), "{metrics}");
    assert!(!metrics.contains("failoverd_rtt_seconds_bucket{"), "{metrics}");
    assert!(!metrics.contains("failoverd_target_up"), "{metrics}");
    let status = http_get(http_port, "GET", "/status");
    assert!(
        status.starts_with("HTTP/1.1 200 OK\r\nContent-Type: application/json"),
        "{status}"
    );
    let body = status.split("\r\n\r\n").nth(1).unwrap();
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["groups"][0]["name"], "G");
    assert!(http_get(http_port, "GET", "/nope").starts_with("HTTP/1.1 404"));
    assert!(http_get(http_port, "POST", "/metrics").starts_with("HTTP/1.1 405"));
    let (code, _, _, _) = d.stop();
    assert_eq!(code, 0);
}

mod netutil;

/// `/metrics` of a running daemon, read by the official Prometheus Python
/// client's parser: every family once, each under its TYPE line. The
/// parser shows a family split by another as a second, untyped family,
/// which a lenient linter lets pass. Two members with a target each make
/// the member and target families interleave if the page mixes them; both
/// `[http]` keys are on, so every family is there (tests/metrics_page.rs
/// parses the default page at 10,000 streams).
#[test]
fn metrics_page_parses_into_typed_families_each_once() {
    let python = "/usr/bin/python3";
    let probe = Command::new(python).args(["-c", "import prometheus_client"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        assert!(
            !netutil::require_root("metrics parse: python3-prometheus-client is in scripts/debian-packages.txt"),
            "running as root, yet {python} cannot import prometheus_client"
        );
        netutil::skipped("python3-prometheus-client not installed (Debian python3-prometheus-client)");
        return;
    }
    let (_rt, emu) = emulator();
    let a = listen("127.0.0.1", 0);
    let port = a.local_addr().unwrap().port();
    let _b = listen("127.0.0.2", port);
    let extra = "[http]\nlisten = \"127.0.0.1:0\"\nrtt_histograms = true\ntarget_states = true";
    let d = Daemon::start(&(settings(&emu, port, "underlay", "") + extra), port);
    d.until_logged("the firewall answered", Duration::from_secs(10));
    let http_port = d.http_port();
    let page = http_get(http_port, "GET", "/metrics");
    let body = page.split("\r\n\r\n").nth(1).unwrap().to_string();
    let mut child = Command::new(python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/prom_families.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let listed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{}\nfamilies:\n{listed}\npage:\n{body}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (family, kind) in [
        ("failoverd_checks", "counter"),
        ("failoverd_rtt_seconds", "histogram"),
        ("failoverd_group_up", "gauge"),
        ("failoverd_member_up", "gauge"),
        ("failoverd_target_up", "gauge"),
        ("failoverd_pushes", "counter"),
        ("failoverd_guard_tripped", "gauge"),
        ("failoverd_mail_spool_depth", "gauge"),
    ] {
        assert!(
            listed.lines().any(|l| l.starts_with(&format!("{family} {kind} "))),
            "{family} ({kind}) missing:\n{listed}"
        );
    }
    // Both members' and both targets' samples are in their one family.
    assert!(listed.lines().any(|l| l == "failoverd_member_up gauge 2"), "{listed}");
    assert!(listed.lines().any(|l| l == "failoverd_target_up gauge 2"), "{listed}");
    let (code, _, _, _) = d.stop();
    assert_eq!(code, 0);
}

/// The monitoring host loses its own uplink: the anchor (a peer in a
/// network namespace) and every member's peer go silent together. The
/// guard must withhold the DeActive.
#[test]
fn losing_our_own_uplink_pushes_no_deactive() {
    if !netutil::require_root("losing_our_own_uplink_pushes_no_deactive") {
        return;
    }
    let net = netutil::PeerNet::new();
    let (rt, emu) = emulator();
    rt.block_on(net.wait_ready(&failoverd::probe::icmp::IcmpClients::new()));
    let a = listen("127.0.0.1", 0);
    let port = a.local_addr().unwrap().port();
    let b = listen("127.0.0.2", port);
    let guard = format!("[guard]\nanchors = [\"{}\"]\nsettle = \"5s\"", net.peer_v4);
    let d = Daemon::start(&(settings(&emu, port, "underlay", "") + &guard), port);
    assert_eq!(actions(&emu, 1, Duration::from_secs(10), &d.log), [ActionKind::Active]);
    // Our uplink goes: the anchor stops answering, and so do the peers.
    net.peer_link_down();
    drop((a, b));
    d.until_logged("G: group down", Duration::from_secs(10));
    d.until_logged("DeActive withheld", Duration::from_secs(10));
    // Well past settle's start, still nothing: the guard holds.
    std::thread::sleep(Duration::from_secs(2));
    let (code, log, _, _) = d.stop();
    assert_eq!(code, 0);
    let deactives = emu
        .requests()
        .iter()
        .flat_map(|r| r.actions.clone())
        .filter(|a| a.action == ActionKind::DeActive)
        .count();
    assert_eq!(deactives, 0, "{}", log.join("\n"));
}

/// A SIGTERM between a restart's DeActive and its Active: the Active still
/// goes out before the daemon exits (or, past the 5 s grace, at the next
/// start); the group is never left off.
#[test]
fn sigterm_in_the_middle_of_a_restart_still_sends_its_active() {
    let (_rt, emu) = emulator();
    let a = listen("127.0.0.1", 0);
    let port = a.local_addr().unwrap().port();
    let b = listen("127.0.0.2", port);
    let extra = "restart_after = \"1s\"\nrestart_backoff = \"1h\"";
    let d = Daemon::start(&settings(&emu, port, "tunnel", extra), port);
    assert_eq!(actions(&emu, 1, Duration::from_secs(10), &d.log), [ActionKind::Active]);
    d.until_notified("STATUS=1 groups: 1 up", Duration::from_secs(10));
    // Slow answers from now on, so the SIGTERM lands while the DeActive is
    // in flight.
    emu.set_fault(sfos_emulator::Fault::Delay(Duration::from_millis(1500)));
    drop((a, b));
    d.until_logged("pushing DeActive G", Duration::from_secs(15));
    let (code, log, state, dir) = d.stop();
    assert_eq!(code, 0);
    let got = actions(&emu, 3, Duration::from_secs(1), &Arc::new(Mutex::new(log)));
    assert_eq!(
        got,
        [ActionKind::Active, ActionKind::DeActive, ActionKind::Active],
        "the Active went out before exit"
    );
    assert_eq!(belief(&state), "Active");
    drop(dir);
}

/// A reload that drops a group in the middle of its restart: the Active
/// still goes out (after the DeActive in flight), never two at once.
#[test]
fn a_reload_dropping_a_group_mid_restart_still_sends_its_active() {
    let (_rt, emu) = emulator();
    let a = listen("127.0.0.1", 0);
    let port = a.local_addr().unwrap().port();
    let b = listen("127.0.0.2", port);
    let _c = listen("127.0.0.3", port);
    let extra = "restart_after = \"1s\"\nrestart_backoff = \"1h\"\n[connections.C]\ntargets = [\"127.0.0.3\"]";
    let text = settings(&emu, port, "tunnel", extra);
    let h = GROUP
        .replace("PORT", &port.to_string())
        .replace("<Name>G</Name>", "<Name>H</Name>")
        .replace(
            "<Connection>A</Connection><Connection>B</Connection>",
            "<Connection>C</Connection>",
        );
    let both = format!(
        "<VPNFailoverGroups>{}{}</VPNFailoverGroups>",
        GROUP.replace("PORT", &port.to_string()),
        h
    );
    let d = Daemon::start_with(&text, &both);
    assert_eq!(actions(&emu, 1, Duration::from_secs(10), &d.log), [ActionKind::Active]);
    d.until_notified("STATUS=2 groups: 2 up", Duration::from_secs(10));
    emu.set_fault(sfos_emulator::Fault::Delay(Duration::from_millis(1500)));
    drop((a, b));
    d.until_logged("pushing DeActive G", Duration::from_secs(15));
    // G leaves the settings while its DeActive is in flight.
    std::fs::write(
        d.dir.path().join("g.xml"),
        format!("<VPNFailoverGroups>{h}</VPNFailoverGroups>"),
    )
    .unwrap();
    Command::new("kill")
        .args(["-HUP", &d.child.id().to_string()])
        .status()
        .unwrap();
    d.until_logged("the group left the settings during a restart", Duration::from_secs(10));
    assert_eq!(
        actions(&emu, 3, Duration::from_secs(15), &d.log),
        [ActionKind::Active, ActionKind::DeActive, ActionKind::Active],
        "the restart's Active went out"
    );
    assert!(emu.max_in_flight("G") <= 1, "never two requests in flight for G");
    let (code, _, _, _) = d.stop();
    assert_eq!(code, 0);
}

/// `[mail]` applies at a reload: the outbox restarts with the new server,
/// and the next event's mail goes there, none to the old one.
#[test]
fn a_reload_moves_mail_to_the_new_server() {
    let (rt, emu) = emulator();
    let mut old = mailutil::mailin(mailutil::port0(), mailutil::MailinOptions::default());
    let mut new = mailutil::mailin(mailutil::port0(), mailutil::MailinOptions::default());
    let a = listen("127.0.0.1", 0);
    let port = a.local_addr().unwrap().port();
    let _b = listen("127.0.0.2", port);
    let mail = |smtp: u16| {
        format!(
            "[mail]\nserver = \"smtp://127.0.0.1:{smtp}?tls=none\"\nfrom = \"failoverd <failoverd@example.com>\"\nto = [\"netops@example.com\"]\ncoalesce = \"0s\"\n"
        )
    };
    let group = GROUP.replace("PORT", &port.to_string()).replace(
        "</MemberConnections>",
        "</MemberConnections><MailNotification>Enable</MailNotification>",
    );
    let base = settings(&emu, port, "underlay", "");
    let d = Daemon::start_with(&(base.clone() + &mail(old.port)), &group);
    actions(&emu, 1, Duration::from_secs(10), &d.log);
    std::fs::write(d.dir.path().join("failoverd.toml"), base + &mail(new.port)).unwrap();
    d.signal("HUP");
    d.until_notified("READY=1\nSTATUS=1 groups", Duration::from_secs(10));
    drop(a);
    let first = rt.block_on(mailutil::next(&mut new.rx));
    let subject = first.header("Subject").unwrap_or_default();
    assert!(
        subject.contains("G") && subject.to_lowercase().contains("fail"),
        "{subject}\n{}",
        first.raw
    );
    assert!(
        old.rx.try_recv().is_err(),
        "a mail went to the old server after the reload"
    );
    let (code, _log, _state, _dir) = d.stop();
    assert_eq!(code, 0);
}
