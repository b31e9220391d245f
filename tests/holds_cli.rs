//! Holds and the manual push with the real binary and the firewall
//! emulator (docs/safety.md, Holds; contract §4 `push`, §16): a push the
//! firewall refuses places no hold, an accepted one holds for the default
//! 1h, a push never replaces a longer admin hold or its reason, and a hold
//! that withholds the DeActive failoverd wants is logged once and shown in
//! `failoverd status`. Through the daemon and without one.

mod daemonutil;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use daemonutil::{Daemon, actions, cli, emulator, listen, settings};
use sfos_emulator::{ActionKind, Fault};

/// The state file's hold of G: seconds left and reason.
fn hold_of(dir: &Path) -> Option<(u64, String)> {
    let text = std::fs::read_to_string(dir.join("state/state.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let h = &v["groups"]["G"]["hold"];
    let until = h["until"].as_u64().or_else(|| {
        // SystemTime as serde writes it: {secs_since_epoch, nanos_since_epoch}.
        h["until"]["secs_since_epoch"].as_u64()
    })?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    Some((
        until.saturating_sub(now),
        h["reason"].as_str().unwrap_or("").to_string(),
    ))
}

/// The daemon's saved hold of G once its reason is `reason` (the state
/// file is written at the next tick; polled with a deadline).
fn saved_hold(dir: &Path, reason: &str) -> (u64, String) {
    until(Duration::from_secs(10), &format!("a saved hold for {reason:?}"), || {
        hold_of(dir).is_some_and(|h| h.1 == reason)
    });
    hold_of(dir).unwrap()
}

/// Polls `f` until it holds, at most `limit`.
fn until(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn count(d: &Daemon, want: &str) -> usize {
    d.log.lock().unwrap().iter().filter(|l| l.contains(want)).count()
}

#[test]
fn manual_pushes_through_the_daemon_hold_only_when_taken_keep_an_admin_hold_and_a_withheld_deactive_is_logged_once() {
    let (_rt, emu) = emulator();
    let a = listen("127.0.0.1", 0);
    let port = a.local_addr().unwrap().port();
    let b = listen("127.0.0.2", port);
    let d = Daemon::start(&settings(&emu, port, "underlay", ""), port);
    let config = d.dir.path().join("failoverd.toml");
    actions(&emu, 1, Duration::from_secs(10), &d.log);

    // Refused by the firewall: no hold.
    emu.set_fault(Fault::EntityCode(500));
    let (code, out, err) = cli(&["push", "G", "--deactivate"], &config);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("G: no hold placed"), "{err}");
    let (_, status, _) = cli(&["status"], &config);
    assert!(!status.contains("HELD"), "a refused push places no hold:\n{status}");
    emu.clear_faults();

    // Accepted: the default hold, 1h.
    let (code, out, err) = cli(&["push", "G", "--deactivate"], &config);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("G is held for 1h, until"), "{err}");
    let (_, status, _) = cli(&["status"], &config);
    assert!(
        status.contains("HELD until") && status.contains("manual push of DeActive"),
        "{status}"
    );
    let (left, _) = saved_hold(d.dir.path(), "manual push of DeActive");
    assert!((3590..=3600).contains(&left), "the default hold is 1h: {left} s left");

    // Released (disarmed until seen up), then an admin hold of 4h: a push
    // keeps it and its reason.
    let (code, _, err) = cli(&["release", "G"], &config);
    assert_eq!(code, 0, "{err}");
    d.until_logged("armed again", Duration::from_secs(10));
    let (code, _, err) = cli(&["hold", "G", "--for", "4h", "--reason", "maintenance"], &config);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = cli(&["push", "G", "--activate"], &config);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains("G stays held until") && err.contains(": maintenance"),
        "{err}"
    );
    let (left, _) = saved_hold(d.dir.path(), "maintenance");
    assert!(left > 3 * 3600 + 3500, "not shortened: {left} s left");
    let (_, status, _) = cli(&["status"], &config);
    assert!(
        status.contains("maintenance") && !status.contains("manual push"),
        "{status}"
    );

    // (The manual DeActive's hold withheld the Active failoverd wanted:
    // logged too, once per hold: the maintenance hold may have come before
    // the Active after the release, and withheld it again.)
    assert!(
        (1..=2).contains(&count(&d, "G held: Active withheld")),
        "{}",
        d.log_text()
    );
    // Both members down while held: the DeActive failoverd wants is
    // withheld, logged once, and shown.
    let mark = emu.requests().len();
    drop((a, b));
    d.until_logged("G held: DeActive withheld", Duration::from_secs(10));
    until(Duration::from_secs(10), "status shows the withheld push", || {
        cli(&["status"], &config).1.contains("WITHHELD by the hold: DeActive")
    });
    // A window of 3 s (many ticks): no second line, nothing sent.
    let end = Instant::now() + Duration::from_secs(3);
    while Instant::now() < end {
        assert_eq!(count(&d, "held: DeActive withheld"), 1, "{}", d.log_text());
        std::thread::sleep(Duration::from_millis(100));
    }
    let line = d
        .log
        .lock()
        .unwrap()
        .iter()
        .find(|l| l.contains("DeActive withheld"))
        .cloned()
        .unwrap();
    assert!(
        line.contains("GROUP=G") && line.contains("EVENT=\"hold_withheld\""),
        "{line}"
    );
    assert!(line.contains("maintenance"), "{line}");
    let sent = emu.requests()[mark..]
        .iter()
        .flat_map(|r| r.actions.iter().map(|a| a.action))
        .filter(|a| *a != ActionKind::Get)
        .count();
    assert_eq!(sent, 0, "held: nothing pushed");
    let (code, _, _, _) = d.stop();
    assert_eq!(code, 0);
}

#[test]
fn a_push_without_a_daemon_holds_only_when_the_firewall_took_it() {
    let (_rt, emu) = emulator();
    let dir = Daemon::prepare(
        &settings(&emu, 9, "underlay", ""),
        &daemonutil::GROUP.replace("PORT", "9"),
    );
    let config = dir.path().join("failoverd.toml");
    emu.set_fault(Fault::EntityCode(500));
    let (code, out, err) = cli(&["push", "G", "--deactivate"], &config);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("G: no hold placed"), "{err}");
    assert_eq!(hold_of(dir.path()), None, "refused: no hold");
    emu.clear_faults();
    let (code, out, err) = cli(&["push", "G", "--deactivate"], &config);
    assert_eq!(code, 0, "{out}{err}");
    let (left, reason) = hold_of(dir.path()).expect("held");
    assert!((3590..=3600).contains(&left), "{left}");
    assert_eq!(reason, "manual push of DeActive");
    // A shorter hold keeps the one in place and its reason.
    let (code, _, err) = cli(&["push", "G", "--activate", "--hold", "10m"], &config);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("G stays held until") && err.contains("manual push of DeActive"),
        "{err}"
    );
    assert_eq!(hold_of(dir.path()).unwrap().1, "manual push of DeActive");
}

#[test]
fn a_push_without_a_daemon_on_a_standby_sends_nothing_and_places_no_hold() {
    let (_rt, emu) = emulator();
    // 192.0.2.77 (TEST-NET-1) is on no interface here: this host is standby.
    let ha = "[http]\nlisten = \"127.0.0.1:9733\"\n[ha]\naddress = \"192.0.2.77\"\npeer = \"http://127.0.0.1:9734/status\"\n";
    let dir = Daemon::prepare(
        &settings(&emu, 9, "underlay", ha),
        &daemonutil::GROUP.replace("PORT", "9"),
    );
    let config = dir.path().join("failoverd.toml");
    let mark = emu.requests().len();
    let (code, out, err) = cli(&["push", "G", "--deactivate"], &config);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("this host is standby (it does not hold 192.0.2.77): nothing was sent and no hold placed"),
        "{out}"
    );
    assert!(
        out.contains("the active host (the peer: http://127.0.0.1:9734/status)"),
        "{out}"
    );
    assert!(err.contains("G: no hold placed"), "{err}");
    assert_eq!(emu.requests().len(), mark, "nothing sent");
    assert_eq!(hold_of(dir.path()), None, "no hold");
}
