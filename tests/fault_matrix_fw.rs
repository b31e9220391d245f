//! Fault matrix, the firewall API and the SMTP server: each misbehaves
//! while failoverd has a push or a mail to make, then is healthy again.
//! Peers are loopback listeners (no root needed).

use std::time::Duration;

use sfos_emulator::ActionKind::{Active, DeActive};
use sfos_emulator::Fault;

mod daemonutil;
mod faultutil;
mod mailutil;

use daemonutil::{Daemon, emulator, listen};
use faultutil::*;

const SECS: fn(u64) -> Duration = Duration::from_secs;

/// The firewall misbehaves with `fault` while failoverd wants DeActive;
/// healthy again, the DeActive lands; the peers return: Active. With a
/// configuration-class fault the pause is mailed, and its end.
fn firewall_fault(fault: Fault, config_class: bool) {
    let (_rt, emu) = emulator();
    let mut mail = MailBox::new(mailutil::mailin(mailutil::port0(), Default::default()));
    let (a, b) = peers(mailutil::free_port());
    let port = a.local_addr().unwrap().port();
    drop(b);
    let b = listen("127.0.0.2", port);
    let fw = "timeout = \"1s\"\nconfig_retry = \"2s\"";
    let (cfg, xml) = loopback_settings(&emu, port, fw, &mail_section(mail.server.port));
    let d = Daemon::start_with(&cfg, &xml);
    until_belief(&d, "Active");
    emu.set_fault(fault);
    drop((a, b));
    d.until_logged("pushing DeActive G", SECS(20));
    // At least one answer (or failure) under the fault.
    until(
        "an answer under the fault",
        SECS(20),
        || {
            let log = d.log.lock().unwrap();
            let at = log.iter().position(|l| l.contains("pushing DeActive G"));
            at.is_some_and(|i| log[i..].iter().any(|l| l.contains("the firewall answered")))
        },
        &|| d.report(),
    );
    if config_class {
        mail.until_kind("ApiUnusable", SECS(20));
    }
    emu.clear_faults();
    until_belief(&d, "DeActive");
    assert!(!emu.groups()["G"], "the DeActive landed");
    let (_a, _b) = peers(port);
    until_belief(&d, "Active");
    if config_class {
        mail.until_kind("ApiUsable", SECS(20));
    }
    mail.catch_up(&d);
    let (code, log, _, dir) = d.stop();
    assert_eq!(code, 0);
    assert!(emu.groups()["G"], "active at the end");
    assert_eq!(folded(pushed(&emu, "G")), [Active, DeActive, Active]);
    check_invariants(Run {
        log,
        emu: &emu,
        groups: &["G"],
        mail: Some(&mut mail),
        dangerous: false,
        crashed: false,
        state: Some(&dir.path().join("state")),
    });
    assert_one_deactive_mail(&mail);
}

/// One DeActive decided: one mail about it, however many tries it took.
fn assert_one_deactive_mail(mail: &MailBox) {
    let kinds = mailed_kinds(&mail.got);
    let mailed = kinds.iter().filter(|k| *k == "DeactivateDecided").count();
    assert_eq!(mailed, 1, "one mail for one DeActive, not one per try: {kinds:?}");
}

/// The firewall refuses the DeActive (entity code 500): three tries, then
/// the group is refused (mailed), and the decided DeActive is mailed once,
/// with that answer. The peers return: the Active is wanted and lands.
#[test]
fn firewall_refusing_a_deactive() {
    let (_rt, emu) = emulator();
    let mut mail = MailBox::new(mailutil::mailin(mailutil::port0(), Default::default()));
    let port = mailutil::free_port();
    let (cfg, xml) = loopback_settings(&emu, port, "", &mail_section(mail.server.port));
    let peers_up = peers(port);
    let d = Daemon::start_with(&cfg, &xml);
    until_belief(&d, "Active");
    emu.set_fault(Fault::EntityCode(500));
    drop(peers_up);
    mail.until_kind("PushRefused", SECS(60));
    mail.until_kind("DeactivateDecided", SECS(20));
    emu.clear_faults();
    let _peers = peers(port);
    until_belief(&d, "Active");
    mail.catch_up(&d);
    let (code, log, _, dir) = d.stop();
    assert_eq!(code, 0);
    let tries = log.iter().filter(|l| l.contains("pushing DeActive G")).count();
    assert_eq!(tries, 3, "three tries, then refused:\n{}", log.join("\n"));
    check_invariants(Run {
        log,
        emu: &emu,
        groups: &["G"],
        mail: Some(&mut mail),
        dangerous: false,
        crashed: false,
        state: Some(&dir.path().join("state")),
    });
    assert_one_deactive_mail(&mail);
}

#[test]
fn firewall_slow() {
    firewall_fault(Fault::Delay(Duration::from_millis(700)), false);
}

#[test]
fn firewall_hanging() {
    firewall_fault(Fault::Hang, false);
}

#[test]
fn firewall_dropping_connections() {
    firewall_fault(Fault::Drop, false);
}

#[test]
fn firewall_answering_500() {
    firewall_fault(Fault::HttpStatus(500), false);
}

#[test]
fn firewall_login_failure() {
    firewall_fault(Fault::LoginFailure, true);
}

#[test]
fn firewall_534() {
    firewall_fault(Fault::DenyAll, true);
}

/// The firewall answers 500 to the first three tries of one DeActive:
/// retries of one DeActive are not a flapping group, so once the peers
/// are back the Active goes out at once, not after flap_hold (10 min).
#[test]
fn firewall_retries_of_one_deactive_are_not_flapping() {
    let (_rt, emu) = emulator();
    let mut mail = MailBox::new(mailutil::mailin(mailutil::port0(), Default::default()));
    let port = mailutil::free_port();
    let (cfg, xml) = loopback_settings(&emu, port, "", &mail_section(mail.server.port));
    let peers_up = peers(port);
    let d = Daemon::start_with(&cfg, &xml);
    until_belief(&d, "Active");
    emu.set_fault(Fault::HttpStatus(500));
    drop(peers_up);
    let tries = || {
        d.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains("pushing DeActive G"))
            .count()
    };
    until("three tries of the DeActive", SECS(20), || tries() >= 3, &|| d.report());
    emu.clear_faults();
    until_belief(&d, "DeActive");
    let _peers = peers(port);
    until_belief(&d, "Active");
    mail.catch_up(&d);
    let (code, log, _, dir) = d.stop();
    assert_eq!(code, 0);
    assert_eq!(folded(pushed(&emu, "G")), [Active, DeActive, Active]);
    // One DeActive decided, however many tries: one mail (the invariants
    // below match mails to these lines), not one per 500.
    let decided = log
        .iter()
        .filter(|l| l.contains("failoverd decided a DeActive of G"))
        .count();
    assert_eq!(decided, 1, "{}", log.join("\n"));
    check_invariants(Run {
        log,
        emu: &emu,
        groups: &["G"],
        mail: Some(&mut mail),
        dangerous: false,
        crashed: false,
        state: Some(&dir.path().join("state")),
    });
    assert_one_deactive_mail(&mail);
}

/// (safety) The firewall answers HTTP 503 to five tries of a DeActive, so
/// its backoff reaches 16 s and its outcome is unknown (the belief is
/// written unknown before each try). The group is up again: the Active
/// that may undo that DeActive goes at once, never after the DeActive's
/// backoff. The bound below is half that backoff, and well above the
/// daemon's own detection time (rise 2 x 200 ms).
#[test]
fn firewall_503s_of_a_deactive_never_delay_the_active() {
    let (_rt, emu) = emulator();
    let mut mail = MailBox::new(mailutil::mailin(mailutil::port0(), Default::default()));
    let port = mailutil::free_port();
    let (cfg, xml) = loopback_settings(&emu, port, "", &mail_section(mail.server.port));
    let peers_up = peers(port);
    let d = Daemon::start_with(&cfg, &xml);
    until_belief(&d, "Active");
    let before = pushed(&emu, "G");
    emu.set_fault(Fault::HttpStatus(503));
    drop(peers_up);
    let tries = || {
        let log = d.log.lock().unwrap();
        log.iter().filter(|l| l.contains("pushing DeActive G")).count()
    };
    // Five tries sent, and the fifth answered: cleared any earlier, a try
    // still on its way would land.
    let answered_503 = || {
        let r = emu.requests();
        r.iter()
            .filter(|r| r.outcome == sfos_emulator::Outcome::HttpStatus(503))
            .count()
    };
    until(
        "five tries of the DeActive, each answered 503",
        SECS(40),
        || tries() >= 5 && answered_503() >= 5,
        &|| d.report(),
    );
    emu.clear_faults();
    let back = std::time::Instant::now();
    let _peers = peers(port);
    until_met(
        "the Active sent within 8 s of the peers' return (the DeActive's backoff is 16 s)",
        SECS(8),
        || {
            let now = pushed(&emu, "G");
            if now.len() > before.len() && now[before.len()..].contains(&Active) {
                Ok(())
            } else {
                Err(format!(
                    "{:.1} s after the peers returned, the firewall has seen {now:?} for G",
                    back.elapsed().as_secs_f64()
                ))
            }
        },
        &|| d.report(),
    );
    assert_eq!(tries(), 5, "no DeActive is sent once the group is up again");
    until_belief(&d, "Active");
    assert!(emu.groups()["G"], "the group stayed active on the firewall");
    mail.catch_up(&d);
    let (code, log, _, dir) = d.stop();
    assert_eq!(code, 0);
    assert_eq!(folded(pushed(&emu, "G")), [Active], "no DeActive reached the firewall");
    check_invariants(Run {
        log,
        emu: &emu,
        groups: &["G"],
        mail: Some(&mut mail),
        dangerous: false,
        crashed: false,
        state: Some(&dir.path().join("state")),
    });
    assert_one_deactive_mail(&mail);
}

/// Events while the SMTP server is down: spooled, and every one arrives,
/// in order, once it is back; nothing pushed differently.
#[test]
fn smtp_down_for_a_while() {
    let (_rt, emu) = emulator();
    let server = mailutil::mailin(mailutil::port0(), Default::default());
    let switch = Switch::new(([127, 0, 0, 1], server.port).into());
    let mut mail = MailBox::new(server);
    switch.down();
    let (a, b) = peers(mailutil::free_port());
    let port = a.local_addr().unwrap().port();
    drop(b);
    let b = listen("127.0.0.2", port);
    let (cfg, xml) = loopback_settings(&emu, port, "", &mail_section(switch.port));
    let d = Daemon::start_with(&cfg, &xml);
    until_belief(&d, "Active");
    drop(a);
    d.until_logged("EVENT=Failover", SECS(10));
    drop(b);
    until_belief(&d, "DeActive");
    d.until_logged("mail not sent", SECS(20));
    assert!(mail.drain().is_empty(), "nothing can arrive while the server is down");
    let spooled = std::fs::read_dir(d.dir.path().join("state/spool")).unwrap().count();
    assert!(spooled >= 1, "the mails wait in the spool");
    switch.up();
    mail.until_kind("DeactivateDecided", SECS(60));
    mail.catch_up(&d);
    let (code, log, _, dir) = d.stop();
    assert_eq!(code, 0);
    assert_eq!(pushed(&emu, "G"), [Active, DeActive]);
    check_invariants(Run {
        log,
        emu: &emu,
        groups: &["G"],
        mail: Some(&mut mail),
        dangerous: false,
        crashed: false,
        state: Some(&dir.path().join("state")),
    });
    let left = std::fs::read_dir(dir.path().join("state/spool")).unwrap().count();
    assert_eq!(left, 0, "the spool is empty once the server accepted everything");
}

/// The server refuses failoverd's AUTH (wrong password on its side), then
/// accepts it: every event arrives, in order, over STARTTLS.
#[test]
fn smtp_refusing_auth_then_healthy() {
    let (_rt, emu) = emulator();
    let certs = mailutil::certs(&["127.0.0.1"]);
    let tls = |login| mailutil::MailinOptions {
        tls: Some(&certs),
        login: Some(login),
    };
    let refusing = mailutil::mailin(mailutil::port0(), tls(("failoverd", "another password")));
    let healthy = mailutil::mailin(mailutil::port0(), tls(("failoverd", "mail-pw")));
    let switch = Switch::new(([127, 0, 0, 1], refusing.port).into());
    let mut mail = MailBox::new(healthy);
    let (a, b) = peers(mailutil::free_port());
    let port = a.local_addr().unwrap().port();
    drop(b);
    let b = listen("127.0.0.2", port);
    let section = format!(
        "[mail]\nserver = \"smtp://127.0.0.1:{}\"\nfrom = \"failoverd <failoverd@example.com>\"\nto = [\"netops@example.com\"]\ncoalesce = \"0s\"\nmax_per_hour = 1000\ntimeout = \"2s\"\nusername = \"failoverd\"\npassword = \"mail-pw\"\nca_file = \"{}\"\n",
        switch.port,
        certs.ca.display()
    );
    let (cfg, xml) = loopback_settings(&emu, port, "", &section);
    let d = Daemon::start_with(&cfg, &xml);
    until_belief(&d, "Active");
    drop((a, b));
    until_belief(&d, "DeActive");
    d.until_logged("mail not sent", SECS(20));
    assert!(
        refusing.auth_attempts.load(std::sync::atomic::Ordering::SeqCst) >= 1,
        "AUTH was tried and refused"
    );
    switch.set_target(([127, 0, 0, 1], mail.server.port).into());
    mail.until_kind("DeactivateDecided", SECS(60));
    mail.catch_up(&d);
    let (code, log, _, dir) = d.stop();
    assert_eq!(code, 0);
    assert!(
        !log.join("\n").contains("mail-pw"),
        "the mail password never in the log"
    );
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
