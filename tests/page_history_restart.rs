//! The status page's RTT and loss history survives a restart (contract
//! 18, docs/state-file.md "page-history.bin"): the real daemon saves it at
//! stop in its state directory and the next start draws it again. A
//! damaged history, or an entry planted in its place, never stops a
//! start: the first is set aside, the second is left unread and replaced
//! by a regular file at the next save, never followed.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

mod daemonutil;
mod mailutil;

use daemonutil::*;

fn get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// Points of the RTT chart (the first `class="line"` path) of the target
/// whose `data-target` attribute is `attr`.
fn rtt_points(page: &str, attr: &str) -> usize {
    let Some(at) = page.find(attr) else { return 0 };
    let rest = &page[at..];
    let Some(d) = rest.split("class=\"line\" d=\"").nth(1) else {
        return 0;
    };
    let d = &d[..d.find('"').unwrap_or(0)];
    d.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).count() / 2
}

/// The page's event list (its section), alone.
fn events_section(page: &str) -> String {
    page.split("<section class=\"events\">")
        .nth(1)
        .and_then(|s| s.split("</section>").next())
        .unwrap_or("")
        .to_string()
}

/// The settings with `[http]` on an ephemeral port; `port`: the members'
/// TCP port.
fn http_settings(emu: &sfos_emulator::Emulator, port: u16) -> String {
    settings(emu, port, "underlay", "") + "[http]\nlisten = \"127.0.0.1:0\"\n"
}

fn until(what: &str, limit: Duration, d: &Daemon, mut cond: impl FnMut() -> bool) {
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

#[test]
fn a_restart_keeps_the_page_charts_points() {
    let (_rt, emu) = emulator();
    let port = mailutil::free_port();
    let a = listen("127.0.0.1", port);
    let _b = listen("127.0.0.2", port);
    let d = Daemon::start(&http_settings(&emu, port), port);
    let http = d.http_port();
    let ta = format!("data-target=\"TCP/{port} 127.0.0.1\"");
    until("an RTT point for A", Duration::from_secs(20), &d, || {
        rtt_points(&get(http, "/"), &ta) >= 1
    });
    // B's peer goes once B is up (leaving unknown is no event): a
    // member-down of B in this run's events, which only the event history
    // can bring back after the restart.
    until("B up", Duration::from_secs(20), &d, || {
        get(http, "/status").contains("\"name\":\"B\",\"state\":\"up\"")
    });
    drop(_b);
    until("B's member-down on the page", Duration::from_secs(20), &d, || {
        events_section(&get(http, "/")).contains("127.0.0.2")
    });
    let (code, log, _, dir) = d.stop();
    assert_eq!(code, 0, "{}", log.join("\n"));
    let saved = dir.path().join("state/page-history.bin");
    let meta = std::fs::symlink_metadata(&saved).expect("page-history.bin written at stop");
    assert!(meta.file_type().is_file());
    assert_eq!(meta.mode() & 0o777, 0o600);
    // A's peer is gone: every check from now on fails, so an RTT point on
    // A's chart can only come from before the restart.
    drop(a);
    let d = Daemon::start_in(dir);
    let http = d.http_port();
    d.until_logged(
        "page history: the last hour's points of 3 streams loaded",
        Duration::from_secs(10),
    );
    let page = get(http, "/");
    assert!(
        rtt_points(&page, &ta) >= 1,
        "A's RTT points from before the restart:\n{page}"
    );
    assert!(
        events_section(&page).contains("127.0.0.2"),
        "B's member-down from before the restart, seeded from history.jsonl:\n{}",
        events_section(&page)
    );
    let (code, log, _, _) = d.stop();
    assert_eq!(code, 0, "{}", log.join("\n"));
}

fn state_dir_with(emu: &sfos_emulator::Emulator, port: u16, plant: impl FnOnce(&Path)) -> tempfile::TempDir {
    let dir = Daemon::prepare(&http_settings(emu, port), &GROUP.replace("PORT", &port.to_string()));
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
    plant(&state);
    dir
}

#[test]
fn a_damaged_history_is_set_aside_and_the_start_goes_on() {
    let (_rt, emu) = emulator();
    let port = mailutil::free_port();
    let _a = listen("127.0.0.1", port);
    let _b = listen("127.0.0.2", port);
    for (what, bytes) in [
        ("garbage", b"{\"not\": \"a history\"}".to_vec()),
        ("another version", b"FOVDPH\n\x09 and the rest".to_vec()),
        ("cut short", b"FOVDPH\n\x01\0\0\0".to_vec()),
    ] {
        let dir = state_dir_with(&emu, port, |s| {
            std::fs::write(s.join("page-history.bin"), &bytes).unwrap()
        });
        let d = Daemon::start_in(dir);
        d.until_notified("READY=1", Duration::from_secs(10));
        d.until_logged("page history is damaged", Duration::from_secs(10));
        let (code, log, _, dir) = d.stop();
        assert_eq!(code, 0, "{what}: {}", log.join("\n"));
        let names: Vec<String> = std::fs::read_dir(dir.path().join("state"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let aside: Vec<&String> = names
            .iter()
            .filter(|n| n.starts_with("page-history.bin.damaged-"))
            .collect();
        assert_eq!(aside.len(), 1, "{what}: {names:?}");
        assert_eq!(
            std::fs::read(dir.path().join("state").join(aside[0])).unwrap(),
            bytes,
            "{what}: kept as it was"
        );
        assert!(
            names.contains(&"page-history.bin".to_string()),
            "{what}: saved anew at stop: {names:?}"
        );
    }
}

#[test]
fn a_link_or_fifo_in_its_place_is_never_followed_nor_waited_on() {
    let (_rt, emu) = emulator();
    let port = mailutil::free_port();
    let _a = listen("127.0.0.1", port);
    let _b = listen("127.0.0.2", port);
    let victim = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(victim.path(), "precious\n").unwrap();
    let target = victim.path().to_path_buf();
    let link = state_dir_with(&emu, port, |s| {
        std::os::unix::fs::symlink(&target, s.join("page-history.bin")).unwrap()
    });
    let fifo = state_dir_with(&emu, port, |s| {
        let ok = std::process::Command::new("mkfifo")
            .arg(s.join("page-history.bin"))
            .status()
            .unwrap();
        assert!(ok.success());
    });
    for (what, dir) in [("a link", link), ("a FIFO", fifo)] {
        let d = Daemon::start_in(dir);
        d.until_notified("READY=1", Duration::from_secs(10));
        d.until_logged("page history not loaded", Duration::from_secs(10));
        let (code, log, _, dir) = d.stop();
        assert_eq!(code, 0, "{what}: {}", log.join("\n"));
        let m = std::fs::symlink_metadata(dir.path().join("state/page-history.bin")).unwrap();
        assert!(m.file_type().is_file(), "{what}: replaced by a regular file at stop");
    }
    assert_eq!(
        std::fs::read_to_string(victim.path()).unwrap(),
        "precious\n",
        "never written through the link"
    );
}
