//! Fault matrix, the daemon itself: SIGHUP during pushes, a broken reload,
//! SIGKILL in the middle of a push and a restart, the state directory
//! read-only or full (root: a bind mount remounted read-only, a small
//! tmpfs), and a pause (SIGSTOP, SIGCONT a minute later).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sfos_emulator::ActionKind::{Active, DeActive};
use sfos_emulator::Fault;

mod daemonutil;
mod faultutil;
mod mailutil;
mod netutil;

use daemonutil::{Daemon, cli, emulator};
use faultutil::*;

const SECS: fn(u64) -> Duration = Duration::from_secs;

/// An underlay group G of A and B (loopback peers on one port), mail on;
/// returns the peers, the port and the daemon's folder, ready to start.
fn setup(emu: &sfos_emulator::Emulator, mail_port: u16, fw: &str) -> (u16, tempfile::TempDir) {
    let port = mailutil::free_port();
    let (cfg, xml) = loopback_settings(emu, port, fw, &mail_section(mail_port));
    (port, Daemon::prepare(&cfg, &xml))
}

fn finish(d: Daemon, emu: &sfos_emulator::Emulator, mail: &mut MailBox, earlier: Vec<String>, crashed: bool) {
    mail.catch_up(&d);
    let (code, log, _, dir) = d.stop();
    assert_eq!(code, 0);
    let mut all = earlier;
    all.extend(log);
    check_invariants(Run {
        log: all,
        emu,
        groups: &["G"],
        mail: Some(mail),
        dangerous: false,
        crashed,
        state: Some(&dir.path().join("state")),
    });
}

/// SIGHUPs while pushes are in flight (each answer takes 600 ms): every
/// reload applies, no push is doubled or lost, the end state is right.
#[test]
fn sighup_during_pushes() {
    let (_rt, emu) = emulator();
    let mut mail = MailBox::new(mailutil::mailin(mailutil::port0(), Default::default()));
    let (port, dir) = setup(&emu, mail.server.port, "");
    let peers_up = peers(port);
    emu.set_fault(Fault::Delay(Duration::from_millis(600)));
    let d = Daemon::start_in(dir);
    let hups = |n: usize| {
        for _ in 0..n {
            d.signal("HUP");
            d.until_notified("READY=1", SECS(10));
        }
    };
    d.until_logged("pushing Active G", SECS(20));
    hups(3);
    until_belief(&d, "Active");
    drop(peers_up);
    d.until_logged("pushing DeActive G", SECS(20));
    hups(3);
    until_belief(&d, "DeActive");
    let _peers = peers(port);
    let at = d.log.lock().unwrap().len();
    until(
        "Active pushed",
        SECS(20),
        || {
            d.log.lock().unwrap()[at..]
                .iter()
                .any(|l| l.contains("pushing Active G"))
        },
        &|| d.report(),
    );
    hups(3);
    until_belief(&d, "Active");
    emu.clear_faults();
    assert_eq!(folded(pushed(&emu, "G")), [Active, DeActive, Active]);
    assert!(emu.groups()["G"]);
    finish(d, &emu, &mut mail, Vec::new(), false);
}

/// A broken settings file reloaded while a DeActive is in flight: the
/// reload is rejected (and mailed), the push completes on the old
/// settings; the file fixed and reloaded, everything goes on.
#[test]
fn a_broken_reload_during_a_push() {
    let (_rt, emu) = emulator();
    let mut mail = MailBox::new(mailutil::mailin(mailutil::port0(), Default::default()));
    let (port, dir) = setup(&emu, mail.server.port, "");
    let config = dir.path().join("failoverd.toml");
    let good = std::fs::read_to_string(&config).unwrap();
    let peers_up = peers(port);
    let d = Daemon::start_in(dir);
    until_belief(&d, "Active");
    emu.set_fault(Fault::Delay(Duration::from_millis(1500)));
    drop(peers_up);
    d.until_logged("pushing DeActive G", SECS(20));
    std::fs::write(&config, good.replace("fall = 3", "fall = \"three\"")).unwrap();
    d.signal("HUP");
    d.until_notified("STATUS=reload rejected", SECS(10));
    until_belief(&d, "DeActive");
    mail.until_kind("ReloadRejected", SECS(20));
    emu.clear_faults();
    std::fs::write(&config, &good).unwrap();
    d.signal("HUP");
    d.until_notified("READY=1\nSTATUS=1 groups", SECS(10));
    let _peers = peers(port);
    until_belief(&d, "Active");
    assert_eq!(pushed(&emu, "G"), [Active, DeActive, Active]);
    finish(d, &emu, &mut mail, Vec::new(), false);
}

/// A reload whose settings validate but cannot be used (a `ca_file` that
/// holds no certificate): rejected like any broken reload, and mailed.
#[test]
fn a_reload_with_an_unusable_ca_file() {
    let (_rt, emu) = emulator();
    let mut mail = MailBox::new(mailutil::mailin(mailutil::port0(), Default::default()));
    let (port, dir) = setup(&emu, mail.server.port, "");
    let config = dir.path().join("failoverd.toml");
    let good = std::fs::read_to_string(&config).unwrap();
    std::fs::write(dir.path().join("bad.pem"), "not a certificate\n").unwrap();
    let pin = format!("pin_sha256 = \"{}\"", emu.cert_fingerprint());
    let bad = good.replace(&pin, "ca_file = \"bad.pem\"");
    assert_ne!(bad, good);
    let _peers = peers(port);
    let d = Daemon::start_in(dir);
    until_belief(&d, "Active");
    std::fs::write(&config, bad).unwrap();
    d.signal("HUP");
    d.until_notified("STATUS=reload rejected", SECS(10));
    mail.until_kind("ReloadRejected", SECS(20));
    std::fs::write(&config, &good).unwrap();
    d.signal("HUP");
    d.until_notified("READY=1\nSTATUS=1 groups", SECS(10));
    assert_eq!(pushed(&emu, "G"), [Active]);
    finish(d, &emu, &mut mail, Vec::new(), false);
}

/// SIGKILL while a DeActive hangs at the firewall, with the SMTP server
/// down (mails wait in the spool); then a restart with both healthy: the
/// spooled mails arrive (a resend keeps its Message-ID), and the group
/// ends as health calls for.
#[test]
fn sigkill_in_the_middle_of_a_push_then_restart() {
    let (_rt, emu) = emulator();
    let server = mailutil::mailin(mailutil::port0(), Default::default());
    let switch = Switch::new(([127, 0, 0, 1], server.port).into());
    let mut mail = MailBox::new(server);
    let (port, dir) = setup(&emu, switch.port, "timeout = \"30s\"");
    switch.down();
    let peers_up = peers(port);
    let d = Daemon::start_in(dir);
    until_belief(&d, "Active");
    emu.set_fault(Fault::Hang);
    drop(peers_up);
    d.until_logged("pushing DeActive G", SECS(20));
    until("the DeActive hangs", SECS(10), || emu.in_flight("G") == 1, &|| {
        d.report()
    });
    let (first, dir) = d.crash();
    let spooled_before = spooled(&dir.path().join("state"));
    assert!(!spooled_before.is_empty(), "mails waited in the spool");
    emu.clear_faults();
    switch.up();
    let d = Daemon::start_in(dir);
    d.until_notified("READY=1", SECS(10));
    for m in &spooled_before {
        let id = message_id(m);
        until(
            &format!("spooled mail {id} delivered after the restart"),
            SECS(30),
            || mail.drain().iter().any(|r| message_id(r) == id),
            &|| d.report(),
        );
    }
    // The DeActive decided before the crash is mailed, its outcome unknown.
    mail.until_kind("DeactivateDecided", SECS(30));
    let unknown = "unknown: failoverd stopped before the firewall took it";
    assert!(mail.got.iter().any(|m| body(m).contains(unknown)), "{}", d.log_text());
    let _peers = peers(port);
    until_belief(&d, "Active");
    assert!(emu.groups()["G"]);
    finish(d, &emu, &mut mail, first, true);
}

/// A mount over the state directory, undone when dropped.
struct Mount(PathBuf);

impl Mount {
    fn new(args: &[&str], at: &Path) -> Mount {
        std::fs::create_dir_all(at).unwrap();
        let at_str = at.to_str().unwrap();
        let mut full = vec!["mount"];
        full.extend(args.iter().map(|a| if *a == "SELF" { at_str } else { a }));
        full.push(at_str);
        netutil::run(&full);
        Mount(at.to_path_buf())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// The state directory breaks (`breaks`) after the start and is repaired
/// (`repair`): pushes go on from memory, the failure is mailed once and
/// status says so, then state is persisted again.
fn state_dir_fault(mount: Option<&[&str]>, breaks: &dyn Fn(&Path), repair: &dyn Fn(&Path)) {
    let (_rt, emu) = emulator();
    let mut mail = MailBox::new(mailutil::mailin(mailutil::port0(), Default::default()));
    let (port, dir) = setup(&emu, mail.server.port, "");
    let state = dir.path().join("state");
    // Undone even if the case fails half-way (umount of nothing is harmless).
    let _mount = mount.map_or_else(|| Mount(state.clone()), |m| Mount::new(m, &state));
    let config = dir.path().join("failoverd.toml");
    let peers_up = peers(port);
    let d = Daemon::start_in(dir);
    until_belief(&d, "Active");
    breaks(&state);
    drop(peers_up);
    until_belief(&d, "DeActive");
    d.until_logged("state not persisted", SECS(20));
    mail.until_kind("StateDirFailure", SECS(20));
    let (_, out, _) = cli(&["status"], &config);
    assert!(out.contains("state not persisted"), "{out}");
    repair(&state);
    let _peers = peers(port);
    until_belief(&d, "Active");
    d.until_logged("state is persisted again", SECS(70));
    assert_eq!(pushed(&emu, "G"), [Active, DeActive, Active]);
    until(
        "state.json holds the belief Active",
        SECS(10),
        || daemonutil::belief(&state.join("state.json")) == "Active",
        &|| d.report(),
    );
    finish(d, &emu, &mut mail, Vec::new(), false);
}

#[test]
fn the_state_directory_read_only() {
    if !netutil::require_root("the_state_directory_read_only") {
        return;
    }
    // A second bind mount of the folder onto itself, read-only: the
    // daemon's open files stay on the writable one below (a remount of
    // that would be refused as busy), every new write by path fails.
    let read_only = |state: &Path| {
        let at = state.to_str().unwrap();
        netutil::run(&["mount", "--bind", at, at]);
        // The remount is refused as busy while the daemon happens to have a
        // file of the new mount open for writing (a state.json write in
        // progress): tried again until it takes, for at most 10 s.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let out = std::process::Command::new("mount")
                .args(["-o", "remount,bind,ro", at])
                .output()
                .unwrap();
            if out.status.success() {
                break;
            }
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("busy") && std::time::Instant::now() < deadline,
                "remount read-only failed: {err}"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    };
    let writable = |state: &Path| netutil::run(&["umount", state.to_str().unwrap()]);
    state_dir_fault(None, &read_only, &writable);
}

#[test]
fn the_state_directory_full() {
    if !netutil::require_root("the_state_directory_full") {
        return;
    }
    let fill = |state: &Path| {
        use std::io::Write;
        let mut f = std::fs::File::create(state.join("filler")).unwrap();
        let chunk = [0u8; 4096];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
    };
    let free = |state: &Path| std::fs::remove_file(state.join("filler")).unwrap();
    state_dir_fault(
        Some(&["-t", "tmpfs", "-o", "size=512k,mode=0700", "tmpfs"]),
        &fill,
        &free,
    );
}

/// The process paused for a minute (SIGSTOP, as a suspended VM), the peers
/// gone meanwhile: the late ticks disarm the group, so it is reported
/// down but not deactivated; back up, nothing more is pushed.
#[test]
fn a_pause_of_a_minute() {
    let (_rt, emu) = emulator();
    let mut mail = MailBox::new(mailutil::mailin(mailutil::port0(), Default::default()));
    let (port, dir) = setup(&emu, mail.server.port, "");
    let peers_up = peers(port);
    let d = Daemon::start_in(dir);
    until_belief(&d, "Active");
    d.until_notified("STATUS=1 groups: 1 up", SECS(20));
    d.signal("STOP");
    drop(peers_up);
    let t = Instant::now();
    while t.elapsed() < SECS(60) {
        std::thread::sleep(Duration::from_millis(500));
    }
    d.signal("CONT");
    d.until_logged("every group is disarmed", SECS(10));
    d.until_logged("EVENT=GroupDown", SECS(10));
    let end = Instant::now() + SECS(3);
    while Instant::now() < end {
        assert_eq!(pushed(&emu, "G"), [Active], "{}", d.log_text());
        std::thread::sleep(Duration::from_millis(50));
    }
    let _peers = peers(port);
    d.until_notified("STATUS=1 groups: 1 up", SECS(20));
    assert_eq!(pushed(&emu, "G"), [Active]);
    mail.catch_up(&d);
    let (code, log, _, dir) = d.stop();
    assert_eq!(code, 0);
    check_invariants(Run {
        log,
        emu: &emu,
        groups: &["G"],
        mail: Some(&mut mail),
        dangerous: true,
        crashed: false,
        state: Some(&dir.path().join("state")),
    });
}

/// Flap damping that holds an up group's Active back is never silent: the
/// daemon logs it once per episode, and `failoverd status` says so, with
/// when the Active goes if the group stays up. (With flap_limit 1 the first
/// DeActive already damps the next Active, here for an hour.)
#[test]
fn flap_damping_is_logged_once_and_shown_in_status() {
    let (_rt, emu) = emulator();
    let mut mail = MailBox::new(mailutil::mailin(mailutil::port0(), Default::default()));
    let (port, dir) = setup(&emu, mail.server.port, "flap_limit = 1\nflap_hold = \"1h\"");
    let peers_up = peers(port);
    let d = Daemon::start_in(dir);
    until_belief(&d, "Active");
    drop(peers_up);
    until_belief(&d, "DeActive");
    let _peers = peers(port);
    d.until_logged("flap damping holds its Active", SECS(20));
    let config = d.dir.path().join("failoverd.toml");
    until_met(
        "status shows the flap damping hold",
        SECS(10),
        || {
            let (_, out, _) = cli(&["status"], &config);
            let damped = out
                .lines()
                .any(|l| l.contains("flap damping: Active in 59m") && l.contains("held for 1h after 1 DeActives"));
            if damped && out.contains("firewall: DeActive") {
                Ok(())
            } else {
                Err(format!("`failoverd status` printed:\n{out}"))
            }
        },
        &|| d.report(),
    );
    assert!(!emu.groups()["G"], "the group stays deactivated while damped");
    mail.catch_up(&d);
    let (code, log, _, dir) = d.stop();
    assert_eq!(code, 0);
    let noted = log.iter().filter(|l| l.contains("EVENT=\"flap_damped\"")).count();
    assert_eq!(noted, 1, "one log line per damping episode:\n{}", log.join("\n"));
    assert_eq!(pushed(&emu, "G"), [Active, DeActive], "the damped Active is not sent");
    check_invariants(Run {
        log,
        emu: &emu,
        groups: &["G"],
        mail: Some(&mut mail),
        dangerous: false,
        crashed: false,
        state: Some(&dir.path().join("state")),
    });
}
