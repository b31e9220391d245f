//! A hostile state directory, from outside with the real binary and the
//! firewall emulator recording every push (docs/state-file.md,
//! docs/safety.md "State directory"):
//! - links planted by the service user (uid 65534, through `setpriv`) as
//!   `lock`, `.state.json.tmp` or `state.json`: root's `push` and `run`
//!   exit 2 naming the entry and leave the link's target as it was (root);
//! - a damaged `state.json` (truncated, garbage, a wrong type, an unknown
//!   version) after `push --deactivate --hold`: set aside with its bytes,
//!   the hold back from `state.json.prev`, no Active pushed; a FIFO in its
//!   place: `run` exits 2 at once naming it;
//! - both files damaged: every group held "state lost", `StateLost`
//!   mailed, status shows it, `release` ends it.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sfos_emulator::ActionKind::{Active, DeActive};
use sfos_emulator::{ActionKind, Emulator};

mod daemonutil;
mod faultutil;
mod mailutil;
mod netutil;

use daemonutil::{Daemon, cli, emulator, listen, settings};
use faultutil::{pushed, until};

const SECS: fn(u64) -> Duration = Duration::from_secs;

/// Watches for `limit` that nothing but `want` was pushed to G.
fn nothing_more(emu: &Emulator, want: &[ActionKind], limit: Duration, d: &Daemon) {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        assert_eq!(pushed(emu, "G"), want, "{}", d.log_text());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `failoverd run` that is expected to exit by itself: its code and log
/// (killed after 20 s: code -1).
fn run_to_exit(config: &Path) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_failoverd"))
        .args(["run", "-c"])
        .arg(config)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + SECS(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            return (
                status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            );
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            let log = String::from_utf8_lossy(&out.stderr).into_owned();
            return (-1, format!("{log}\n(run did not exit within 20 s: killed)"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn as_nobody(args: &[&str]) {
    let ok = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .args(args)
        .status()
        .unwrap()
        .success();
    assert!(ok, "setpriv {args:?}");
}

/// Root's `push` and `run` beside links the service user planted.
#[test]
fn links_planted_by_the_service_user_are_refused_and_their_targets_untouched() {
    if !netutil::require_root("links_planted_by_the_service_user_are_refused_and_their_targets_untouched") {
        return;
    }
    let (_rt, emu) = emulator();
    let a = listen("127.0.0.1", 0);
    let port = a.local_addr().unwrap().port();
    for entry in ["lock", ".state.json.tmp", "state.json"] {
        let dir = Daemon::prepare(
            &settings(&emu, port, "underlay", ""),
            &daemonutil::GROUP.replace("PORT", &port.to_string()),
        );
        let base = dir.path();
        std::fs::set_permissions(base, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let state = base.join("state");
        std::fs::create_dir(&state).unwrap();
        std::os::unix::fs::chown(&state, Some(65534), Some(65534)).unwrap();
        let precious = base.join("precious");
        std::fs::write(&precious, b"root's own\n").unwrap();
        let before = std::fs::metadata(&precious).unwrap();
        as_nobody(&[
            "ln",
            "-s",
            precious.to_str().unwrap(),
            state.join(entry).to_str().unwrap(),
        ]);
        let config = base.join("failoverd.toml");

        let (push_code, out, err) = cli(&["push", "G", "--deactivate", "--hold", "2h"], &config);
        let (run_code, log) = run_to_exit(&config);
        // The harm first: the link's target must be as it was.
        let after = std::fs::metadata(&precious).unwrap();
        let got = (
            after.uid(),
            after.gid(),
            after.mode(),
            std::fs::read(&precious).unwrap(),
        );
        let want = (before.uid(), before.gid(), before.mode(), b"root's own\n".to_vec());
        assert_eq!(got, want, "{entry}: the link's target is untouched\n{err}\n{log}");
        assert_eq!(push_code, 2, "push beside a planted {entry}: {out}{err}");
        assert!(err.contains(&format!("{entry} is a symbolic link")), "{entry}: {err}");
        assert_eq!(run_code, 2, "run beside a planted {entry}: {log}");
        assert!(log.contains(&format!("{entry} is a symbolic link")), "{entry}: {log}");
        assert!(
            std::fs::symlink_metadata(state.join(entry))
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(pushed(&emu, "G"), [], "{entry}: nothing pushed");
    }
    // Nothing planted: root's push leaves every file it made to the
    // directory's owner.
    let dir = Daemon::prepare(
        &settings(&emu, port, "underlay", ""),
        &daemonutil::GROUP.replace("PORT", &port.to_string()),
    );
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::os::unix::fs::chown(&state, Some(65534), Some(65534)).unwrap();
    let (code, out, err) = cli(
        &["push", "G", "--deactivate", "--hold", "2h"],
        &dir.path().join("failoverd.toml"),
    );
    assert_eq!(code, 0, "{out}{err}");
    for entry in std::fs::read_dir(&state).unwrap() {
        let entry = entry.unwrap();
        let m = std::fs::symlink_metadata(entry.path()).unwrap();
        assert_eq!((m.uid(), m.gid()), (65534, 65534), "{:?}", entry.file_name());
    }
}

/// `push` without a daemon loads the state as the daemon does: with both
/// files damaged every group is held, and the next start mails the loss.
#[test]
fn a_push_without_a_daemon_finds_the_loss_and_the_next_start_mails_it() {
    let (_rt, emu) = emulator();
    let a = listen("127.0.0.1", 0);
    let port = a.local_addr().unwrap().port();
    let _b = listen("127.0.0.2", port);
    let mut mail = faultutil::MailBox::new(mailutil::mailin(mailutil::port0(), Default::default()));
    let extra = faultutil::mail_section(mail.server.port);
    let dir = Daemon::prepare(
        &settings(&emu, port, "underlay", &extra),
        &daemonutil::GROUP.replace("PORT", &port.to_string()),
    );
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::write(state.join("state.json"), b"{\"version\": 1, \"groups\": 7}").unwrap();
    std::fs::write(state.join("state.json.prev"), b"\x00").unwrap();
    let config = dir.path().join("failoverd.toml");
    let (code, out, err) = cli(&["push", "G", "--activate", "--hold", "1m"], &config);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains("every group is now held") && err.contains("state.json.damaged-"),
        "{err}"
    );
    let d = Daemon::start_in(dir);
    d.until_logged("probing started", SECS(20));
    let deadline = Instant::now() + SECS(20);
    while !mail.drain().iter().any(|m| m.raw.contains("StateLost")) {
        assert!(Instant::now() < deadline, "no StateLost mail\n{}", d.report());
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_, out, _) = cli(&["status"], &config);
    assert!(
        out.contains("problem: state lost") && out.contains("HELD until"),
        "{out}"
    );
    d.until_notified("STATUS=1 groups: 1 up", SECS(10));
    nothing_more(&emu, &[Active], SECS(2), &d);
}

/// A daemon that pushed `DeActive G` by hand with a 2 h hold, stopped;
/// returns its folder, the emulator and the peers' listeners.
fn held_then_stopped(emu: &Emulator, port: u16) -> tempfile::TempDir {
    let d = Daemon::start(&settings(emu, port, "underlay", ""), port);
    until("Active", SECS(20), || pushed(emu, "G") == [Active], &|| d.report());
    let config = d.dir.path().join("failoverd.toml");
    let (code, out, err) = cli(&["push", "G", "--deactivate", "--hold", "2h"], &config);
    assert_eq!(code, 0, "{out}{err}");
    until("DeActive", SECS(10), || pushed(emu, "G") == [Active, DeActive], &|| {
        d.report()
    });
    let (code, _, _, dir) = d.stop();
    assert_eq!(code, 0);
    dir
}

fn aside(state: &Path, prefix: &str) -> Vec<Vec<u8>> {
    std::fs::read_dir(state)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .map(|e| std::fs::read(e.path()).unwrap())
        .collect()
}

/// Restarts in `dir` and checks: the hold is back, no Active goes out.
fn restarts_held(emu: &Emulator, dir: tempfile::TempDir, want_log: &str) -> Daemon {
    let d = Daemon::start_in(dir);
    d.until_logged("probing started", SECS(20));
    d.until_logged(want_log, SECS(5));
    let config = d.dir.path().join("failoverd.toml");
    let (code, out, err) = cli(&["status"], &config);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("HELD until"), "{out}\n{}", d.log_text());
    // Checks every 200 ms, rise 2: the group is up well within this.
    d.until_notified("STATUS=1 groups: 1 up", SECS(10));
    nothing_more(emu, &[Active, DeActive], SECS(3), &d);
    d
}

/// Makes damaged bytes from a good state file.
type Damage = fn(&[u8]) -> Vec<u8>;

#[test]
fn a_damaged_state_file_is_set_aside_and_the_hold_comes_back_from_prev() {
    let a = listen("127.0.0.1", 0);
    let port = a.local_addr().unwrap().port();
    let _b = listen("127.0.0.2", port);
    let damages: [(&str, Damage); 4] = [
        ("truncated by 30 bytes", |b| b[..b.len() - 30].to_vec()),
        ("garbage", |_| b"\x7fELF garbage \xff\xfe".to_vec()),
        ("a wrong type", |b| {
            let mut v: serde_json::Value = serde_json::from_slice(b).unwrap();
            v["groups"]["G"]["hold"]["reason"] = serde_json::json!(42);
            serde_json::to_vec(&v).unwrap()
        }),
        ("an unknown version", |b| {
            let mut v: serde_json::Value = serde_json::from_slice(b).unwrap();
            v["version"] = serde_json::json!(99);
            serde_json::to_vec(&v).unwrap()
        }),
    ];
    for (what, damage) in damages {
        let (_rt, emu) = emulator();
        let dir = held_then_stopped(&emu, port);
        let state = dir.path().join("state");
        let good = std::fs::read(state.join("state.json")).unwrap();
        let bad = damage(&good);
        std::fs::write(state.join("state.json"), &bad).unwrap();
        let d = restarts_held(&emu, dir, "started from the previous good state");
        assert!(d.log_text().contains("state.json.damaged-"), "{what}: {}", d.log_text());
        let state = d.dir.path().join("state");
        assert_eq!(
            aside(&state, "state.json.damaged-"),
            [bad],
            "{what}: set aside with its bytes"
        );
        let (code, _, _, dir) = d.stop();
        assert_eq!(code, 0, "{what}");
        assert_eq!(
            aside(&dir.path().join("state"), "state.json.damaged-").len(),
            1,
            "{what}: never overwritten"
        );
    }
}

#[test]
fn a_fifo_as_the_state_file_stops_the_start_at_once_naming_it() {
    let (_rt, emu) = emulator();
    let a = listen("127.0.0.1", 0);
    let port = a.local_addr().unwrap().port();
    let _b = listen("127.0.0.2", port);
    let dir = held_then_stopped(&emu, port);
    let file = dir.path().join("state/state.json");
    std::fs::remove_file(&file).unwrap();
    assert!(Command::new("mkfifo").arg(&file).status().unwrap().success());
    let (code, log) = run_to_exit(&dir.path().join("failoverd.toml"));
    assert_eq!(code, 2, "{log}");
    assert!(log.contains("state.json is a FIFO"), "{log}");
    assert_eq!(pushed(&emu, "G"), [Active, DeActive]);
}

fn state_lost_logged(log: &str) -> bool {
    log.contains("EVENT=StateLost") || log.contains("EVENT=\"StateLost\"")
}

#[test]
fn with_both_files_damaged_every_group_is_held_and_state_lost_is_mailed() {
    let (_rt, emu) = emulator();
    let a = listen("127.0.0.1", 0);
    let port = a.local_addr().unwrap().port();
    let _b = listen("127.0.0.2", port);
    let mut mail = faultutil::MailBox::new(mailutil::mailin(mailutil::port0(), Default::default()));
    let extra = faultutil::mail_section(mail.server.port);
    let d = Daemon::start(&settings(&emu, port, "underlay", &extra), port);
    until("Active", SECS(20), || pushed(&emu, "G") == [Active], &|| d.report());
    let (code, _, _, dir) = d.stop();
    assert_eq!(code, 0);
    let state = dir.path().join("state");
    let bad = b"{\"version\": 1, \"groups\": ".to_vec();
    std::fs::write(state.join("state.json"), &bad).unwrap();
    std::fs::write(state.join("state.json.prev"), b"").unwrap();
    // The group is up and believed Active; with its beliefs lost, failoverd
    // would push Active at once, were it not held.
    let d = Daemon::start_in(dir);
    d.until_logged("probing started", SECS(20));
    let config = d.dir.path().join("failoverd.toml");
    let deadline = Instant::now() + SECS(20);
    while !mail.drain().iter().any(|m| m.raw.contains("StateLost")) {
        assert!(Instant::now() < deadline, "no StateLost mail\n{}", d.report());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(state_lost_logged(&d.log_text()), "{}", d.log_text());
    let (code, out, err) = cli(&["status"], &config);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("HELD until") && out.contains("state lost: check the firewall, then failoverd release"),
        "{out}"
    );
    assert!(out.contains("problem: state lost"), "{out}");
    d.until_notified("STATUS=1 groups: 1 up", SECS(10));
    nothing_more(&emu, &[Active], SECS(3), &d);
    assert_eq!(aside(&d.dir.path().join("state"), "state.json.damaged-"), [bad]);
    assert_eq!(
        aside(&d.dir.path().join("state"), "state.json.prev.damaged-"),
        [Vec::<u8>::new()]
    );

    let (code, _, err) = cli(&["release", "G"], &config);
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = cli(&["status"], &config);
    assert!(!out.contains("state lost"), "released: {out}");
    let (code, _, _, dir) = d.stop();
    assert_eq!(code, 0);
    // Mailed once: the next start does not mail it again.
    let d = Daemon::start_in(dir);
    d.until_logged("probing started", SECS(20));
    assert!(!state_lost_logged(&d.log_text()), "{}", d.log_text());
}
