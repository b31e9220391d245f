//! The daemon's log as an admin reads it when stderr is a pipe or a file
//! (docs/service.md, "Logs"): no ANSI colour codes, start and stop lines
//! that name the version and the signal, and no library shouting at ERROR
//! about a fault failoverd reports itself (an SNMP agent that does not
//! answer; the library's own filter is unit-tested in src/logging.rs,
//! since async-snmp 0.18.1 stays quiet for a refused port here). The real binary, the firewall emulator, stderr a pipe and
//! `NO_COLOR` unset.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod daemonutil;
use daemonutil::{Daemon, emulator, listen, settings};

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn until(log: &Arc<Mutex<Vec<String>>>, want: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    while !log.lock().unwrap().iter().any(|l| l.contains(want)) {
        assert!(
            Instant::now() < deadline,
            "no line with {want:?} within {limit:?}:\n{}",
            log.lock().unwrap().join("\n")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_piped_log_has_no_colour_names_version_and_signal_and_no_library_errors() {
    let (_rt, emu) = emulator();
    let peer = listen("127.0.0.1", 0);
    let port = peer.local_addr().unwrap().port();
    // An SNMP agent that is not there: a UDP port nothing listens on, so
    // every walk is refused (async-snmp warned on each one).
    let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let extra = format!(
        "[snmp]\naddress = \"{}\"\nversion = \"2c\"\ncommunity_file = \"community\"\ninterval = \"1s\"\ntimeout = \"300ms\"\n",
        closed
    );
    let dir = Daemon::prepare(
        &settings(&emu, port, "tunnel", &extra),
        &daemonutil::GROUP.replace("PORT", &port.to_string()),
    );
    std::fs::write(dir.path().join("community"), "public\n").unwrap();
    std::fs::set_permissions(
        dir.path().join("community"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_failoverd"))
        .args(["run", "-c"])
        .arg(dir.path().join("failoverd.toml"))
        .env_remove("NO_COLOR")
        .env_remove("JOURNAL_STREAM")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    until(
        &log,
        &format!("failoverd {VERSION} probing started"),
        Duration::from_secs(20),
    );
    until(&log, "SnmpUnusable", Duration::from_secs(30));
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let code = child.wait().unwrap().code();
    reader.join().unwrap();
    let log = log.lock().unwrap().join("\n");
    assert_eq!(code, Some(0), "{log}");
    assert!(!log.contains('\u{1b}'), "no ANSI escape in a pipe:\n{log}");
    assert!(log.contains(&format!("SIGTERM: failoverd {VERSION} stopping")), "{log}");
    assert!(log.contains(&format!("failoverd {VERSION} stopped")), "{log}");
    let shouting: Vec<&str> = log
        .lines()
        .filter(|l| (l.contains("ERROR") || l.contains("WARN")) && !l.contains("failoverd"))
        .collect();
    assert!(
        shouting.is_empty(),
        "only failoverd's own modules log above DEBUG:\n{}",
        shouting.join("\n")
    );
}

/// A second `run` on the same settings says at once who holds the state
/// directory (the first daemon's PID) and where (the absolute path), not
/// after the 15 s wait, and not "another run" alone.
#[test]
fn a_second_run_names_the_pid_and_the_absolute_path_at_once() {
    let (_rt, emu) = emulator();
    let peer = listen("127.0.0.1", 0);
    let port = peer.local_addr().unwrap().port();
    let first = Daemon::start(&settings(&emu, port, "tunnel", ""), port);
    first.until_notified("READY=1", Duration::from_secs(20));
    let config = first.dir.path().join("failoverd.toml");
    let mut second = Command::new(env!("CARGO_BIN_EXE_failoverd"))
        .args(["run", "-c"])
        .arg(&config)
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    let stderr = second.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    let lock = first.dir.path().join("state").join("lock");
    let want = format!("{} is locked by failoverd PID {}", lock.display(), first.pid());
    // Well within the 15 s the second run waits before it gives up.
    until(&log, &want, Duration::from_secs(5));
    let _ = second.kill();
    let _ = second.wait();
    let (code, ..) = first.stop();
    assert_eq!(code, 0);
}
