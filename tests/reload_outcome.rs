//! A reload's outcome as an admin and Prometheus see it (contract sections
//! 9 and 16): the real binary with the firewall emulator, `[http]` and a
//! real SMTP server (mailin-embedded). A rejected reload's mail carries the
//! errors themselves, `status` and `/metrics`
//! (`failoverd_config_last_reload_successful`) show it until a reload
//! succeeds, and an applied one logs `ReloadApplied` naming what changed.

use std::time::{Duration, Instant};

mod daemonutil;
mod faultutil;
mod mailutil;
mod netutil;

use daemonutil::{Daemon, cli, emulator, http_get, listen, settings};
use faultutil::{MailBox, body, mail_section};

fn metric(port: u16, name: &str) -> Option<f64> {
    http_get(port, "GET", "/metrics")
        .lines()
        .find(|l| l.starts_with(&format!("{name} ")))
        .and_then(|l| l.rsplit_once(' ')?.1.trim().parse().ok())
}

#[test]
fn a_rejected_reload_is_mailed_with_its_errors_and_shown_until_one_succeeds() {
    let (_rt, emu) = emulator();
    let peer = listen("127.0.0.1", 0);
    let port = peer.local_addr().unwrap().port();
    let mut mail = MailBox::new(mailutil::mailin(mailutil::port0(), Default::default()));
    let extra = format!("{}[http]\nlisten = \"127.0.0.1:0\"\n", mail_section(mail.server.port));
    let good = settings(&emu, port, "tunnel", &extra);
    let d = Daemon::start(&good, port);
    let http = d.http_port();
    d.until_notified("READY=1", Duration::from_secs(20));
    assert_eq!(metric(http, "failoverd_config_last_reload_successful"), Some(1.0));
    let started = metric(http, "failoverd_config_last_reload_success_timestamp_seconds").unwrap();
    assert!(started > 1.7e9);

    let config = d.dir.path().join("failoverd.toml");
    let broken = good.replace("[probe]\n", "[probe]\nintervall = \"1s\"\n");
    std::fs::write(&config, &broken).unwrap();
    d.signal("HUP");
    d.until_notified("STATUS=reload rejected", Duration::from_secs(20));
    mail.until_kind("ReloadRejected", Duration::from_secs(20));
    let rejected = mail.got.iter().find(|m| body(m).contains("reload rejected")).unwrap();
    let text = body(rejected);
    assert!(
        text.contains("intervall") && text.contains("did you mean"),
        "the error itself: {text}"
    );
    assert!(!text.contains("logged above"), "{text}");
    let (_, status, _) = cli(&["status"], &config);
    assert!(status.contains("reload rejected at"), "{status}");
    assert_eq!(metric(http, "failoverd_config_last_reload_successful"), Some(0.0));

    let changed = good.replace("timeout = \"200ms\"", "timeout = \"150ms\"");
    assert_ne!(changed, good, "the test changes [probe] timeout");
    std::fs::write(&config, &changed).unwrap();
    d.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(20);
    while metric(http, "failoverd_config_last_reload_successful") != Some(1.0) {
        assert!(Instant::now() < deadline, "{}", d.report());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(metric(http, "failoverd_config_last_reload_success_timestamp_seconds").unwrap() >= started);
    d.until_logged("reload applied:", Duration::from_secs(10));
    let line = d
        .log_text()
        .lines()
        .find(|l| l.contains("reload applied:"))
        .unwrap()
        .to_string();
    assert!(
        line.contains("ReloadApplied") && line.contains("[probe] changed"),
        "{line}"
    );
    let (_, status, _) = cli(&["status"], &config);
    assert!(!status.contains("reload rejected"), "{status}");
    let (code, ..) = d.stop();
    assert_eq!(code, 0);
}
