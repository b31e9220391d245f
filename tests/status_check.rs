//! `failoverd status --check` as a monitoring plugin, run as a scheduler
//! runs it (the real binary, from outside) against the real daemon and the
//! firewall emulator: all up (OK), a member down (WARNING), the group down
//! (CRITICAL), no daemon (UNKNOWN); and against fake control sockets: an
//! answer that cannot be read, a socket this user may not open (UNKNOWN).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::time::Duration;

mod daemonutil;
use daemonutil::{Accepting, Daemon, cli, emulator, settings, until_cli};

const CHECK: &[&str] = &["status", "--check"];

#[test]
fn the_plugin_follows_the_real_daemon_from_ok_to_unknown() {
    let (_rt, emu) = emulator();
    // Member A probes 127.0.0.1:PORT, member B 127.0.0.2:PORT.
    let (a, b) = Accepting::pair();
    // The emulator's G is defined with PING, the file with TCP: the
    // daemon sends the file's definition (sync = true) after two Gets a
    // second apart, and the plugin is OK once the firewall is in step.
    let in_step = "check_every = \"1s\"\nsync = true";
    let d = Daemon::start(&settings(&emu, a.port, "tunnel", in_step), a.port);
    let config = d.dir.path().join("failoverd.toml");
    let report = || d.report();
    let limit = Duration::from_secs(30);

    let out = until_cli(CHECK, &config, 0, limit, &report);
    assert!(out.starts_with("FAILOVERD OK - 1 group up: G | "), "{out}");
    assert_eq!(out.lines().count(), 1, "one line: {out}");
    for perf in ["'G'=1;;;0;1", "'G/A'=1;;;0;1", "'G/B'=1;;;0;1", "'G_rtt'="] {
        assert!(out.contains(perf), "{perf} in {out}");
    }
    let rtt = out.split("'G_rtt'=").nth(1).unwrap();
    assert!(rtt.starts_with("0.") && rtt.contains("s;;;0"), "RTT in seconds: {out}");
    let (code, only, _) = cli(&["status", "--check", "--group", "G"], &config);
    assert_eq!((code, only.starts_with("FAILOVERD OK")), (0, true), "{only}");
    let (code, typo, _) = cli(&["status", "--check", "--group", "g"], &config);
    assert_eq!(code, 3, "{typo}");
    assert!(
        typo.starts_with("FAILOVERD UNKNOWN - ") && typo.contains("did you mean G?"),
        "{typo}"
    );

    b.close();
    let out = until_cli(CHECK, &config, 1, limit, &report);
    assert!(out.starts_with("FAILOVERD WARNING - G: member B down | "), "{out}");
    assert!(out.contains("'G/B'=0;;;0;1") && out.contains("'G'=1;;;0;1"), "{out}");

    a.close();
    let out = until_cli(CHECK, &config, 2, limit, &report);
    assert!(out.starts_with("FAILOVERD CRITICAL - G down"), "{out}");
    assert!(out.contains("'G'=0;;;0;1"), "{out}");

    let (code, _, _, dir) = d.stop();
    assert_eq!(code, 0);
    let (code, out, err) = cli(CHECK, &dir.path().join("failoverd.toml"));
    assert_eq!(code, 3, "{out}{err}");
    assert!(out.starts_with("FAILOVERD UNKNOWN - "), "{out}");
    assert!(out.contains("/state/control.sock"), "names the socket: {out}");
}

/// A folder with settings whose state directory holds a fake control
/// socket answering `reply` to every request.
fn fake_daemon(reply: &'static str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("failoverd.toml"), "state_dir = \"state\"\n").unwrap();
    std::fs::create_dir(dir.path().join("state")).unwrap();
    let listener = UnixListener::bind(dir.path().join("state/control.sock")).unwrap();
    std::thread::spawn(move || {
        for mut s in listener.incoming().map_while(Result::ok) {
            let mut line = String::new();
            let _ = BufReader::new(&s).read_line(&mut line);
            let _ = s.write_all(reply.as_bytes());
        }
    });
    dir
}

fn check_in(dir: &Path) -> (i32, String, String) {
    cli(CHECK, &dir.join("failoverd.toml"))
}

#[test]
fn an_answer_that_cannot_be_read_is_unknown() {
    for (reply, says) in [
        ("garbage\n", "does not answer: unreadable reply"),
        (
            "{\"ok\":true,\"body\":{\"groups\":\"x\"}}\n",
            "cannot read the daemon's answer",
        ),
        ("{\"ok\":false,\"error\":\"busy\"}\n", "the daemon refused: busy"),
    ] {
        let dir = fake_daemon(reply);
        let (code, out, err) = check_in(dir.path());
        assert_eq!(code, 3, "{reply}: {out}{err}");
        assert!(out.starts_with("FAILOVERD UNKNOWN - "), "{out}");
        assert!(out.contains(says), "{says:?} in {out}");
        assert_eq!(out.lines().count(), 1, "{out}");
    }
}

#[test]
fn no_daemon_is_unknown_with_the_absolute_path() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("failoverd.toml"), "state_dir = \"state\"\n").unwrap();
    let (code, out, _) = check_in(dir.path());
    assert_eq!(code, 3, "{out}");
    let socket = dir.path().join("state/control.sock");
    assert!(out.starts_with("FAILOVERD UNKNOWN - no daemon"), "{out}");
    assert!(out.contains(&socket.display().to_string()), "{out}");
    // Unreadable settings: UNKNOWN too, never a plugin exit 2.
    let (code, out, _) = cli(CHECK, &dir.path().join("absent.toml"));
    assert_eq!(code, 3, "{out}");
    assert!(out.starts_with("FAILOVERD UNKNOWN - cannot find the daemon"), "{out}");
}

#[test]
fn bad_arguments_are_unknown_not_critical() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("failoverd.toml");
    for args in [
        &["status", "--check", "--bogus"][..],
        &["status", "--check", "--json"],
        &["status", "--check", "--group"],
    ] {
        let (code, out, _) = cli(args, &config);
        assert_eq!(code, 3, "{args:?}: {out}");
        assert!(out.starts_with("FAILOVERD UNKNOWN - bad arguments: "), "{out}");
    }
    // Outside --check, clap's usual exit 2 stays.
    let (code, ..) = cli(&["status", "--group", "G"], &config);
    assert_eq!(code, 2);
}

#[test]
fn a_socket_this_user_may_not_open_is_unknown_permission_denied() {
    if !is_root() {
        // Past libtest's capture, so the skip is visible.
        let _ = writeln!(
            std::io::stderr().lock(),
            "SKIPPED: needs root (runs the plugin as nobody against root's 0600 socket)"
        );
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = fake_daemon("garbage\n");
    for (p, mode) in [(dir.path().to_path_buf(), 0o755), (dir.path().join("state"), 0o755)] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let sock = dir.path().join("state/control.sock");
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_failoverd"))
        .args(CHECK)
        .arg("-c")
        .arg(dir.path().join("failoverd.toml"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.starts_with("FAILOVERD UNKNOWN - permission denied"), "{text}");
    assert!(text.contains(&sock.display().to_string()), "{text}");
}

fn is_root() -> bool {
    let out = std::process::Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// A socket nobody listens on (left by a daemon killed with -9) and a
/// daemon that takes the request and never answers (stopped, hung): both
/// UNKNOWN, each saying which, the silent one after the 10 s wait.
#[test]
fn a_stale_socket_and_a_silent_daemon_are_unknown() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("failoverd.toml"), "state_dir = \"state\"\n").unwrap();
    std::fs::create_dir(dir.path().join("state")).unwrap();
    let sock = dir.path().join("state/control.sock");
    drop(UnixListener::bind(&sock).unwrap());
    let (code, out, _) = check_in(dir.path());
    assert_eq!(code, 3, "{out}");
    assert!(out.starts_with("FAILOVERD UNKNOWN - no daemon answers on "), "{out}");
    assert!(out.contains(&sock.display().to_string()), "{out}");

    std::fs::remove_file(&sock).unwrap();
    let listener = UnixListener::bind(&sock).unwrap();
    let held = std::thread::spawn(move || listener.accept().map(|(s, _)| s));
    let started = std::time::Instant::now();
    let (code, out, _) = check_in(dir.path());
    assert_eq!(code, 3, "{out}");
    assert!(
        out.starts_with("FAILOVERD UNKNOWN - the daemon does not answer"),
        "{out}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "bounded: {:?}",
        started.elapsed()
    );
    drop(held.join());
}
