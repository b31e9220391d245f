//! Fault matrix, the network: the real daemon, the firewall emulator, a
//! real SMTP server, peers in a network namespace (root; each case prints
//! SKIPPED otherwise). Every case asserts the end state, what was pushed
//! and mailed, and the shared invariants.

use std::time::Duration;

use sfos_emulator::ActionKind::{Active, DeActive};

mod daemonutil;
mod faultutil;
mod mailutil;
mod netutil;

use daemonutil::{Daemon, emulator};
use faultutil::*;

const SECS: fn(u64) -> Duration = Duration::from_secs;

/// An underlay group G of A (the peer's IPv4 address) and B (its IPv6
/// one), both judged by `cond`, mail on; the daemon up and G Active.
struct Case {
    net: netutil::PeerNet,
    _rt: tokio::runtime::Runtime,
    emu: sfos_emulator::Emulator,
    mail: MailBox,
    d: Daemon,
}

fn case(cond: &str, probe: &str, extra: &str) -> Case {
    let net = netutil::PeerNet::new();
    let (rt, emu) = emulator();
    rt.block_on(net.wait_ready(&failoverd::probe::icmp::IcmpClients::new()));
    let mail = MailBox::new(mailutil::mailin(mailutil::port0(), Default::default()));
    let (a, b) = (net.peer_v4.to_string(), net.peer_v6.to_string());
    let conns = [("A", a.as_str(), "underlay"), ("B", b.as_str(), "underlay")];
    let tail = format!("{extra}\n{}", mail_section(mail.server.port));
    let cfg = config(&emu.url(), &emu.cert_fingerprint(), probe, &conns, "", &tail);
    let d = Daemon::start_with(&cfg, &group("G", &["A", "B"], cond));
    until_firewall_pushed(&emu, &d, &[Active]);
    Case {
        net,
        _rt: rt,
        emu,
        mail,
        d,
    }
}

fn until_firewall_pushed(emu: &sfos_emulator::Emulator, d: &Daemon, want: &[sfos_emulator::ActionKind]) {
    until(
        &format!("pushes {want:?}"),
        SECS(30),
        || pushed(emu, "G") == want,
        &|| format!("pushed {:?}\n{}", pushed(emu, "G"), d.report()),
    );
}

impl Case {
    /// Stops the daemon; checks the end state and the invariants.
    fn finish(mut self, want: &[sfos_emulator::ActionKind], dangerous: bool) {
        self.mail.catch_up(&self.d);
        let (code, log, _, dir) = self.d.stop();
        assert_eq!(code, 0);
        assert_eq!(pushed(&self.emu, "G"), want, "{}", log.join("\n"));
        check_invariants(Run {
            log,
            emu: &self.emu,
            groups: &["G"],
            mail: Some(&mut self.mail),
            dangerous,
            crashed: false,
            state: Some(&dir.path().join("state")),
        });
        drop(self.net);
    }

    /// The peer drops this share of echo requests, both families.
    fn loss(&self, percent: u32) {
        let when = match percent {
            100 => String::new(),
            p => format!("numgen random mod 100 < {p} "),
        };
        self.net.ns.filter_input(&[
            &format!("icmp type echo-request {when}drop"),
            &format!("icmpv6 type echo-request {when}drop"),
        ]);
    }
}

/// The peer's link goes down and comes back: DeActive, then Active; the
/// group's events mailed in order.
#[test]
fn peer_down_and_back() {
    if !netutil::require_root("peer_down_and_back") {
        return;
    }
    let c = case("PING", FAST, "");
    c.net.peer_link_down();
    until_firewall(&c.emu, "G", false, SECS(20), &|| c.d.report());
    c.net.ns.exec(&["ip", "link", "set", &c.net.peer_if, "up"]);
    until_firewall(&c.emu, "G", true, SECS(20), &|| c.d.report());
    c.d.until_logged("EVENT=GroupUp", SECS(10));
    c.finish(&[Active, DeActive, Active], false);
}

/// Quality rules for the loss cases: a window of 40 checks at 100 ms,
/// down at 20 % loss, up below 10 %; fall 5 so 5 % loss never makes 5
/// failures in a row by chance (p = 3e-7 per check).
const LOSSY: &str = "interval = \"100ms\"\ntimeout = \"100ms\"\nfall = 5\nrise = 2\nwindow = 40\nloss_down = \"20%\"\nloss_up = \"10%\"";

/// 5 % loss stays under the rules: no event, no push, for 8 s (two full
/// windows); P(8 of 40 lost at 5 %) is about 5e-4 per window.
#[test]
fn random_loss_5_percent_changes_nothing() {
    if !netutil::require_root("random_loss_5_percent_changes_nothing") {
        return;
    }
    let c = case("PING", LOSSY, "");
    c.d.until_notified("STATUS=1 groups: 1 up", SECS(10));
    c.loss(5);
    let quiet = std::time::Instant::now() + SECS(8);
    while std::time::Instant::now() < quiet {
        assert_eq!(pushed(&c.emu, "G"), [Active], "{}", c.d.log_text());
        assert!(!c.d.log_text().contains("EVENT=GroupDown"), "{}", c.d.log_text());
        std::thread::sleep(Duration::from_millis(100));
    }
    c.finish(&[Active], false);
}

/// 30 % loss breaks the loss rule: DeActive; loss gone: Active.
#[test]
fn random_loss_30_percent_deactivates_then_recovers() {
    if !netutil::require_root("random_loss_30_percent_deactivates_then_recovers") {
        return;
    }
    let c = case("PING", LOSSY, "");
    c.loss(30);
    until_firewall(&c.emu, "G", false, SECS(30), &|| c.d.report());
    assert!(c.d.log_text().contains("loss"), "down by the loss rule");
    c.loss(0);
    until_firewall(&c.emu, "G", true, SECS(30), &|| c.d.report());
    c.finish(&[Active, DeActive, Active], false);
}

/// 100 % loss: as a dead peer: DeActive; loss gone: Active.
#[test]
fn random_loss_100_percent_deactivates_then_recovers() {
    if !netutil::require_root("random_loss_100_percent_deactivates_then_recovers") {
        return;
    }
    let c = case("PING", FAST, "");
    c.loss(100);
    until_firewall(&c.emu, "G", false, SECS(20), &|| c.d.report());
    c.loss(0);
    until_firewall(&c.emu, "G", true, SECS(20), &|| c.d.report());
    c.finish(&[Active, DeActive, Active], false);
}

/// A TCP port that starts refusing (RST), or dropping (timeouts), then
/// answers again: DeActive, then Active.
#[test]
fn a_port_that_starts_refusing() {
    if !netutil::require_root("a_port_that_starts_refusing") {
        return;
    }
    tcp_port("reject with tcp reset", "refused");
}

#[test]
fn a_port_that_starts_dropping() {
    if !netutil::require_root("a_port_that_starts_dropping") {
        return;
    }
    tcp_port("drop", "no answer to SYN");
}

fn tcp_port(verdict: &str, reason: &str) {
    let port = mailutil::free_port();
    let net = netutil::PeerNet::new();
    let svc = NsListener::start(&net.ns.name, port);
    let (rt, emu) = emulator();
    let mut mail = MailBox::new(mailutil::mailin(mailutil::port0(), Default::default()));
    let (a, b) = (net.peer_v4.to_string(), net.peer_v6.to_string());
    let conns = [("A", a.as_str(), "underlay"), ("B", b.as_str(), "underlay")];
    let cfg = config(
        &emu.url(),
        &emu.cert_fingerprint(),
        FAST,
        &conns,
        "",
        &mail_section(mail.server.port),
    );
    let d = Daemon::start_with(&cfg, &group("G", &["A", "B"], &format!("TCP/{port}")));
    until_firewall_pushed(&emu, &d, &[Active]);
    net.ns.filter_input(&[&format!("tcp dport {port} {verdict}")]);
    until_firewall(&emu, "G", false, SECS(20), &|| d.report());
    assert!(d.log_text().contains(reason), "checks {reason}:\n{}", d.log_text());
    net.ns.filter_input(&[]);
    until_firewall(&emu, "G", true, SECS(20), &|| d.report());
    mail.catch_up(&d);
    let (code, log, _, dir) = d.stop();
    assert_eq!(code, 0);
    assert_eq!(pushed(&emu, "G"), [Active, DeActive, Active]);
    check_invariants(Run {
        log,
        emu: &emu,
        groups: &["G"],
        mail: Some(&mut mail),
        dangerous: false,
        crashed: false,
        state: Some(&dir.path().join("state")),
    });
    drop((svc, rt));
}
