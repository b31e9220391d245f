//! The daemon's two listeners (`[http]` and the control socket) against
//! hostile clients and a host out of file descriptors, the real binary on
//! loopback against the firewall emulator (issue #25, contract §15
//! "Listeners"): running out of file descriptors under a flood of
//! half-open connections pauses them, never ends them; a connection that
//! sends no whole request is closed after 10 s; the 65th at once is closed
//! at once; HEAD, query strings, Host on a loopback listen, bare LF; a
//! planted entry where the socket goes stops the start, named.

mod daemonutil;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use daemonutil::{Daemon, cli, emulator, listen, settings};

/// A daemon with `[http]` on a port of the kernel's choosing; its group's
/// members are tunnels (Active whatever the checks say: no push depends
/// on what a flood does to the probes).
fn start() -> (
    tokio::runtime::Runtime,
    sfos_emulator::Emulator,
    std::net::TcpListener,
    Daemon,
) {
    let (rt, emu) = emulator();
    let a = listen("127.0.0.1", 0);
    let port = a.local_addr().unwrap().port();
    let extra = "[http]\nlisten = \"127.0.0.1:0\"\n";
    let d = Daemon::start(&(settings(&emu, port, "tunnel", "") + extra), port);
    d.until_notified("READY=1", Duration::from_secs(20));
    (rt, emu, a, d)
}

/// `raw` sent as is to the `[http]` port; the whole response.
fn raw(port: u16, raw: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(raw.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn get(port: u16, path: &str) -> String {
    raw(port, &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"))
}

/// `get` that may fail (a listener under test), as a status line.
fn try_get(port: u16, path: &str) -> String {
    let attempt = || -> std::io::Result<String> {
        let mut s = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1))?;
        s.set_read_timeout(Some(Duration::from_secs(2)))?;
        write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n")?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    };
    match attempt() {
        Ok(out) => out.lines().next().unwrap_or("(empty)").to_string(),
        Err(e) => e.to_string(),
    }
}

/// Polls `what` (bounded) until it holds.
fn until(d: &Daemon, what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "{what}: not within {limit:?}\n{}",
            d.report()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn config(d: &Daemon) -> std::path::PathBuf {
    d.dir.path().join("failoverd.toml")
}

fn socket(d: &Daemon) -> std::path::PathBuf {
    d.dir.path().join("state/control.sock")
}

/// Whether the peer closed `s` (EOF) within `limit`.
fn closed_within(s: &mut impl Read, limit: Duration) -> bool {
    let mut buf = [0u8; 64];
    let deadline = Instant::now() + limit;
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) if Instant::now() < deadline => {}
            Err(_) => return false,
        }
    }
}

fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count()
}

#[test]
fn out_of_file_descriptors_both_listeners_pause_and_then_answer_again() {
    let (_rt, _emu, _a, d) = start();
    let http = d.http_port();
    assert_eq!(cli(&["status"], &config(&d)).0, 0);
    // A few descriptors above what the daemon uses: a flood exhausts them.
    let limit = fds(d.pid()) + 24;
    let set = std::process::Command::new("prlimit")
        .args(["--pid", &d.pid().to_string(), &format!("--nofile={limit}:{limit}")])
        .status()
        .unwrap();
    assert!(set.success(), "prlimit failed");
    // Half-open: connected, nothing sent. Bounded: 150 of each kind.
    let mut flood_tcp = Vec::new();
    let mut flood_unix = Vec::new();
    for _ in 0..150 {
        if let Ok(s) = TcpStream::connect_timeout(&([127, 0, 0, 1], http).into(), Duration::from_millis(500)) {
            flood_tcp.push(s);
        }
        if let Ok(s) = UnixStream::connect(socket(&d)) {
            flood_unix.push(s);
        }
    }
    until(&d, "the daemon out of descriptors", Duration::from_secs(10), || {
        fds(d.pid()) + 1 >= limit
    });
    drop(flood_tcp);
    drop(flood_unix);
    for path in ["/metrics", "/status", "/?x"] {
        until(
            &d,
            &format!("GET {path} answered again"),
            Duration::from_secs(15),
            || try_get(http, path) == "HTTP/1.1 200 OK",
        );
    }
    until(&d, "failoverd status answered again", Duration::from_secs(15), || {
        cli(&["status"], &config(&d)).0 == 0
    });
    d.until_logged("[http]: cannot accept a connection", Duration::from_secs(1));
    d.until_logged("the control socket: cannot accept a connection", Duration::from_secs(1));
    let warned = d.log_text().matches("cannot accept a connection").count();
    // The end of a streak is logged at an accept 2 s after its last failure.
    until(&d, "[http]'s streak ended", Duration::from_secs(10), || {
        try_get(http, "/status");
        d.log_text().contains("[http] accepts connections again")
    });
    until(&d, "the control socket's streak ended", Duration::from_secs(10), || {
        drop(UnixStream::connect(socket(&d)));
        d.log_text().contains("the control socket accepts connections again")
    });
    // Once per streak, not once per failed accept.
    assert!(warned <= 2, "{warned} warnings:\n{}", d.log_text());
}

#[test]
fn the_65th_connection_at_once_is_closed_at_once_on_both_listeners() {
    let (_rt, _emu, _a, d) = start();
    let http = d.http_port();
    let held: Vec<TcpStream> = (0..64)
        .map(|_| TcpStream::connect(("127.0.0.1", http)).unwrap())
        .collect();
    let mut extra = TcpStream::connect(("127.0.0.1", http)).unwrap();
    extra.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    assert!(
        closed_within(&mut extra, Duration::from_secs(3)),
        "the 65th was not closed"
    );
    let mut first = held.first().unwrap().try_clone().unwrap();
    first.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    assert!(
        !closed_within(&mut first, Duration::from_millis(300)),
        "a held one was closed"
    );
    d.until_logged("[http]: 64 connections already open", Duration::from_secs(5));
    drop((held, first));
    until(&d, "GET /status once they are gone", Duration::from_secs(5), || {
        try_get(http, "/status") == "HTTP/1.1 200 OK"
    });

    let held: Vec<UnixStream> = (0..64).map(|_| UnixStream::connect(socket(&d)).unwrap()).collect();
    let mut extra = UnixStream::connect(socket(&d)).unwrap();
    extra.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    assert!(
        closed_within(&mut extra, Duration::from_secs(3)),
        "the 65th was not closed"
    );
    drop(held);
    until(
        &d,
        "failoverd status once they are gone",
        Duration::from_secs(5),
        || cli(&["status"], &config(&d)).0 == 0,
    );
}

#[test]
fn a_connection_without_a_whole_request_is_closed_after_10_s() {
    let (_rt, _emu, _a, d) = start();
    let http = d.http_port();
    let started = Instant::now();
    let mut tcp = TcpStream::connect(("127.0.0.1", http)).unwrap();
    tcp.write_all(b"GET /status HTTP/1.1\r\nHost: localhost\r\n").unwrap();
    let mut unix = UnixStream::connect(socket(&d)).unwrap();
    unix.write_all(b"{\"cmd\":").unwrap();
    tcp.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    unix.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    assert!(closed_within(&mut tcp, Duration::from_secs(15)), "[http] kept it");
    assert!(
        closed_within(&mut unix, Duration::from_secs(15)),
        "the control socket kept it"
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(9) && took < Duration::from_secs(14),
        "{took:?}"
    );
}

#[test]
fn head_query_strings_host_and_bare_lf_on_a_loopback_listen() {
    let (_rt, _emu, _a, d) = start();
    let http = d.http_port();
    let head = raw(
        http,
        &format!("HEAD /metrics HTTP/1.1\r\nHost: 127.0.0.1:{http}\r\n\r\n"),
    );
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.ends_with("\r\n\r\n"), "a body after the head: {head}");
    assert!(head.contains("\r\nContent-Length: "), "{head}");
    let page = get(http, "/metrics?from=prometheus");
    assert!(
        page.starts_with("HTTP/1.1 200 OK\r\n") && page.contains("failoverd_"),
        "{page}"
    );
    let foreign = raw(http, "GET /status HTTP/1.1\r\nHost: rebind.evil.example\r\n\r\n");
    assert!(foreign.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{foreign}");
    for host in ["localhost", &format!("localhost:{http}"), &format!("127.0.0.1:{http}")] {
        let r = raw(http, &format!("GET /status HTTP/1.1\r\nHost: {host}\r\n\r\n"));
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{host}: {r}");
    }
    let no_host = raw(http, "GET /status HTTP/1.0\r\n\r\n");
    assert!(no_host.starts_with("HTTP/1.1 200 OK\r\n"), "{no_host}");
    let bare_lf = raw(http, "GET /status HTTP/1.1\nHost: localhost\n\n");
    assert!(bare_lf.starts_with("HTTP/1.1 200 OK\r\n"), "{bare_lf}");
}

#[test]
fn an_over_long_control_request_is_refused_clearly() {
    let (_rt, _emu, _a, d) = start();
    let mut s = UnixStream::connect(socket(&d)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let long = format!("{{\"cmd\":\"status\",\"x\":\"{}\"}}\n", "a".repeat(70_000));
    // The daemon may close before reading it all: a write error is fine.
    let _ = s.write_all(long.as_bytes());
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    assert!(out.contains("request longer than 65536 bytes"), "{out:?}");
}

#[test]
fn a_planted_entry_where_the_control_socket_goes_stops_the_start_named() {
    let (_rt, emu) = emulator();
    let a = listen("127.0.0.1", 0);
    let port = a.local_addr().unwrap().port();
    let dir = Daemon::prepare(
        &settings(&emu, port, "tunnel", ""),
        &daemonutil::GROUP.replace("PORT", &port.to_string()),
    );
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "root's file\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::create_dir(dir.path().join("state")).unwrap();
    std::os::unix::fs::symlink(&victim, dir.path().join("state/control.sock")).unwrap();
    let mut d = Daemon::start_in(dir);
    let deadline = Instant::now() + Duration::from_secs(20);
    let code = loop {
        if let Some(status) = d.child.try_wait().unwrap() {
            break status.code();
        }
        assert!(Instant::now() < deadline, "still running\n{}", d.report());
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(code, Some(2), "{}", d.log_text());
    d.until_logged("control.sock is not a socket (a symbolic link)", Duration::from_secs(2));
    let link = d.dir.path().join("state/control.sock");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    let mode = std::fs::metadata(&victim).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "root's file\n");
}
