//! A 501 "Configuration parameters validation failed." with its
//! InvalidParams path, met by the daemon's push: the path reaches the
//! refused-push mail, as it reaches `push` and `sync`
//! (tests/live_replies_cli.rs). Peers are loopback listeners.

use std::time::Duration;

use sfos_emulator::Fault;

mod daemonutil;
mod faultutil;
mod mailutil;

use daemonutil::{Daemon, emulator};
use faultutil::*;

#[test]
fn the_501_path_reaches_the_mail() {
    let (_rt, emu) = emulator();
    let mut mail = MailBox::new(mailutil::mailin(mailutil::port0(), Default::default()));
    let port = mailutil::free_port();
    let (cfg, xml) = loopback_settings(&emu, port, "", &mail_section(mail.server.port));
    let peers_up = peers(port);
    let d = Daemon::start_with(&cfg, &xml);
    until_belief(&d, "Active");
    emu.set_fault(Fault::InvalidParams);
    drop(peers_up);
    mail.until_kind("PushRefused", Duration::from_secs(60));
    let path = "/VPNFailoverGroup/GroupDetail/MailNotification";
    let bodies: Vec<String> = mail.got.iter().map(body).collect();
    assert!(
        bodies.iter().any(|b| b.contains(path)),
        "no mail names {path}:\n{}",
        bodies.join("\n---\n")
    );
    emu.clear_faults();
    let (code, _, _, _) = d.stop();
    assert_eq!(code, 0);
}
