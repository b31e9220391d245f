//! `failoverd events` and `failoverd report` on history files the test
//! writes (good, damaged, huge, linked, out of order, 30 days of a
//! flapping group), run as the admin runs them: the real binary, without a
//! daemon; and the real daemon starting on the same damaged files: it sets
//! them aside and starts, never follows a link, keeps the bound.

mod daemonutil;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use daemonutil::{Daemon, GROUP, cli, emulator, listen, settings};

fn now_ms() -> u64 {
    u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

/// One history line as the daemon writes it.
fn line(t: u64, event: &str, group: &str, member: &str, text: &str) -> String {
    let mut v = serde_json::json!({
        "v": 1, "t": t, "time": format!("t{t}"), "EVENT": event, "text": text,
    });
    if !group.is_empty() {
        v["GROUP"] = group.into();
    }
    if !member.is_empty() {
        v["MEMBER"] = member.into();
        v["to"] = member.into();
    }
    format!("{v}\n")
}

/// Settings and a group file in a fresh folder (with an emulator behind
/// them, for the tests that start the daemon); the state folder exists.
struct Setup {
    _rt: tokio::runtime::Runtime,
    _emu: sfos_emulator::Emulator,
    _peer: std::net::TcpListener,
    dir: tempfile::TempDir,
    config: PathBuf,
}

fn setup() -> Setup {
    let (rt, emu) = emulator();
    let peer = listen("127.0.0.1", 0);
    let port = peer.local_addr().unwrap().port();
    let dir = Daemon::prepare(
        &settings(&emu, port, "underlay", "dry_run = true\n"),
        &GROUP.replace("PORT", &port.to_string()),
    );
    std::fs::create_dir(dir.path().join("state")).unwrap();
    let config = dir.path().join("failoverd.toml");
    Setup {
        _rt: rt,
        _emu: emu,
        _peer: peer,
        dir,
        config,
    }
}

fn history(dir: &Path) -> PathBuf {
    dir.join("state/history.jsonl")
}

fn aside(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir.join("state"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("history.jsonl.damaged-"))
        .collect()
}

/// Starts the daemon in the setup's folder until READY, and stops it.
fn run_daemon(s: Setup) -> Setup {
    let Setup {
        _rt,
        _emu,
        _peer,
        dir,
        config,
    } = s;
    let d = Daemon::start_in(dir);
    d.until_notified("READY=1", Duration::from_secs(20));
    let (code, log, _, dir) = d.stop();
    assert_eq!(code, 0, "{}", log.join("\n"));
    Setup {
        _rt,
        _emu,
        _peer,
        dir,
        config,
    }
}

#[test]
fn events_prints_the_history_oldest_first_as_text_and_json() {
    let s = setup();
    let t = now_ms();
    let file = [
        line(t - 7_200_000, "MemberDown", "G", "A", "A down"),
        line(t - 3_600_000, "Failover", "G", "B", "failover 'A' -> 'B'"),
        line(t - 600_000, "ApiUnusable", "", "", "the firewall API refuses us"),
        line(t - 500_000, "GroupDown", "Other", "", "another group"),
    ]
    .concat();
    std::fs::write(history(s.dir.path()), file).unwrap();

    let (code, out, err) = cli(&["events"], &s.config);
    assert_eq!(code, 0, "{err}");
    let order: Vec<&str> = ["MemberDown", "Failover", "ApiUnusable", "GroupDown"]
        .into_iter()
        .map(|k| &out[out.find(k).unwrap_or_else(|| panic!("no {k}: {out}"))..])
        .collect();
    assert!(
        order.windows(2).all(|w| w[0].len() > w[1].len()),
        "oldest first:\n{out}"
    );

    let (_, out, _) = cli(&["events", "--since", "20m"], &s.config);
    assert!(!out.contains("Failover") && out.contains("ApiUnusable"), "{out}");

    let (code, out, _) = cli(&["events", "--json", "--group", "G"], &s.config);
    assert_eq!(code, 0);
    let objects: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(objects.len(), 3, "G's events and failoverd's own: {out}");
    for key in ["EVENT", "time", "text"] {
        assert!(objects.iter().all(|o| o.get(key).is_some()), "{key}: {out}");
    }
    assert_eq!(objects[1]["GROUP"], "G");
    assert_eq!(objects[1]["MEMBER"], "B");

    // A group the settings do not name: warned, with a suggestion; its
    // kept events are still shown.
    let (code, out, err) = cli(&["events", "--group", "g"], &s.config);
    assert_eq!(code, 0);
    assert!(
        err.contains("no group \"g\"") && err.contains("did you mean G?"),
        "{err}"
    );
    assert!(out.contains("ApiUnusable"), "{out}");
    let (code, _, err) = cli(&["events", "--since", "soon"], &s.config);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = cli(&["report", "--since", "1000y"], &s.config);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn a_damaged_history_is_skipped_by_events_and_set_aside_by_the_daemon() {
    let s = setup();
    let t = now_ms();
    let good = line(t - 1000, "Failover", "G", "B", "the good one");
    let other = line(t - 900, "GroupUp", "G", "", "from the future").replace("\"v\":1", "\"v\":7");
    let file = format!("{good}{{\"v\":1, broken\n{other}{}", &good[..20]);
    std::fs::write(history(s.dir.path()), &file).unwrap();

    let (code, out, err) = cli(&["events"], &s.config);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("the good one") && !out.contains("from the future"),
        "{out}"
    );
    assert!(
        err.contains("1 unreadable line(s)") && err.contains("of another version"),
        "{err}"
    );
    let (code, _, _) = cli(&["report"], &s.config);
    assert_eq!(code, 0);

    // The daemon starts all the same: the file is set aside, the good
    // record kept.
    let s = run_daemon(s);
    let set_aside = aside(s.dir.path());
    assert_eq!(set_aside.len(), 1, "{set_aside:?}");
    let kept = std::fs::read_to_string(s.dir.path().join("state").join(&set_aside[0])).unwrap();
    assert_eq!(kept, file, "set aside as it was");
    let (_, out, err) = cli(&["events"], &s.config);
    assert!(err.is_empty(), "{err}");
    assert!(
        out.contains("the good one") && out.contains("DaemonStarted") && out.contains("DaemonStopped"),
        "{out}"
    );

    // kill -9: the next start says the last run ended unseen.
    let d = Daemon::start_in(s.dir);
    d.until_notified("READY=1", Duration::from_secs(20));
    let (_, dir) = d.crash();
    let d = Daemon::start_in(dir);
    d.until_notified("READY=1", Duration::from_secs(20));
    let (_, out, _) = cli(&["events"], &s.config);
    assert!(out.contains("DaemonEndedUnseen"), "{out}");
    d.stop();
}

#[test]
fn a_huge_history_or_a_link_in_its_place_never_stops_the_daemon() {
    let s = setup();
    let f = std::fs::File::create(history(s.dir.path())).unwrap();
    f.set_len(70 * 1024 * 1024).unwrap(); // sparse: no disk used
    drop(f);
    let (code, _, err) = cli(&["events"], &s.config);
    assert_eq!(code, 0);
    assert!(err.contains("larger than"), "{err}");
    let s = run_daemon(s);
    assert_eq!(aside(s.dir.path()).len(), 1);
    assert!(std::fs::metadata(history(s.dir.path())).unwrap().len() < 10_000);

    // A link planted where the history goes: never followed, by events
    // nor by the daemon, whose target stays as it was.
    let target = s.dir.path().join("precious");
    std::fs::write(&target, "do not touch\n").unwrap();
    std::fs::remove_file(history(s.dir.path())).unwrap();
    std::os::unix::fs::symlink(&target, history(s.dir.path())).unwrap();
    let (code, _, err) = cli(&["events"], &s.config);
    assert_eq!(code, 2);
    assert!(err.contains("symbolic link"), "{err}");
    let s = run_daemon(s);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "do not touch\n");
    let m = std::fs::symlink_metadata(history(s.dir.path())).unwrap();
    assert!(m.file_type().is_file(), "a new file in its place");
    assert_eq!(aside(s.dir.path()).len(), 2);
}

#[test]
fn a_clock_stepped_back_leaves_the_order_of_events_and_no_panic() {
    let s = setup();
    let t = now_ms();
    let file = [
        line(t - 1000, "FirewallSwitched", "G", "A", "first"),
        line(t - 500, "Failover", "G", "B", "second"),
        // The clock stepped back an hour.
        line(t - 3_600_000, "FirewallSwitched", "G", "B", "third"),
        line(t - 3_599_000, "GroupDown", "G", "", "fourth"),
    ]
    .concat();
    std::fs::write(history(s.dir.path()), file).unwrap();
    let (code, out, _) = cli(&["events"], &s.config);
    assert_eq!(code, 0);
    let at = |w: &str| out.find(w).unwrap();
    assert!(
        at("first") < at("second") && at("second") < at("third") && at("third") < at("fourth"),
        "{out}"
    );
    let (code, out, err) = cli(&["report", "--json"], &s.config);
    assert_eq!(code, 0, "{err}");
    let _: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        out.contains("firewall's side") || out.contains("\"snmp\": false"),
        "{out}"
    );
}

/// 30 days of a group flapping every 2 minutes, with mail-length texts:
/// over the bound.
fn thirty_days(now: u64) -> String {
    let reason = "condition 'TCP/443' fails: 1 of 1 targets down, quorum 1 [target '192.0.2.10': 3 failed checks in a row: no reply within 1s] ".repeat(6);
    let mut out = String::with_capacity(40 << 20);
    let start = now - 30 * 24 * 3_600_000;
    let mut t = start;
    let mut n = 0u64;
    while t < now {
        let (kind, member) = if n.is_multiple_of(2) {
            ("Failover", "B")
        } else {
            ("Failback", "A")
        };
        out.push_str(&line(t, kind, "G", member, &format!("{n}: {reason}")));
        t += 60_000;
        n += 1;
    }
    out
}

#[test]
fn thirty_days_of_a_flapping_group_stay_bounded_and_fast() {
    let s = setup();
    let file = thirty_days(now_ms());
    assert!(file.len() > 32 * 1024 * 1024, "{} bytes", file.len());
    std::fs::write(history(s.dir.path()), &file).unwrap();

    let started = Instant::now();
    let (code, out, _) = cli(&["report", "--since", "30d"], &s.config);
    assert_eq!(code, 0);
    assert!(out.contains("decisions ("), "{:.400}", out);
    let (code, _, _) = cli(&["events", "--since", "1d"], &s.config);
    assert_eq!(code, 0);
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
    eprintln!("report and events on 30 days: {:?}", started.elapsed());

    // The daemon's start keeps the bound: the oldest records dropped (by
    // its history thread, while it probes: READY does not wait for it).
    let path = history(s.dir.path());
    let d = Daemon::start_in(s.dir);
    d.until_notified("READY=1", Duration::from_secs(20));
    let begun = Instant::now();
    let deadline = begun + Duration::from_secs(60);
    let size = || std::fs::metadata(&path).unwrap().len();
    while size() > 24 * 1024 * 1024 + 4096 {
        assert!(Instant::now() < deadline, "{} bytes after 60 s", size());
        std::thread::sleep(Duration::from_millis(100));
    }
    let took = begun.elapsed();
    let (code, _, _, dir) = d.stop();
    assert_eq!(code, 0);
    let s = Setup { dir, ..s };
    eprintln!("compacted at start within {took:?}");
    let (_, out, _) = cli(&["events"], &s.config);
    let first = out.lines().next().unwrap();
    assert!(!first.contains(" 0: "), "the oldest went first: {first:.80}");
    assert!(aside(s.dir.path()).is_empty(), "a good file is not set aside");
}

fn root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}

#[test]
fn an_admin_who_may_read_the_history_but_not_the_password_gets_it() {
    if !root() {
        eprintln!("SKIPPED: needs root to run the command as another user (setpriv)");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let s = setup();
    let t = now_ms();
    std::fs::write(
        history(s.dir.path()),
        line(t - 1000, "Failover", "G", "B", "kept for the admin"),
    )
    .unwrap();
    for (p, mode) in [
        (s.dir.path().to_path_buf(), 0o755),
        (s.dir.path().join("state"), 0o755),
        (history(s.dir.path()), 0o644),
        (s.config.clone(), 0o644),
    ] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    // The password file stays 0600, root's: unreadable for the admin.
    for cmd in ["events", "report"] {
        let out = std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_failoverd"))
            .args([cmd, "-c"])
            .arg(&s.config)
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(out.status.code(), Some(0), "{cmd}: {stderr}");
        assert!(
            stdout.contains("kept for the admin") || stdout.contains("Failover") || stdout.contains("G:"),
            "{cmd}: {stdout}"
        );
        assert!(stderr.contains("the history is read from"), "{cmd}: {stderr}");
    }
}
