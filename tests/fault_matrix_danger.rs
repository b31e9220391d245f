//! Fault matrix, the dangerous cases: faults where failoverd itself could
//! cut sites off. No DeActive may reach the firewall in any of them. Also
//! name resolution (a name that stops resolving, the resolver dying), with
//! the daemon in a private mount namespace whose /etc/hosts,
//! /etc/resolv.conf and /etc/nsswitch.conf belong to the test, and dnsmasq
//! as the resolver (root; SKIPPED otherwise).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sfos_emulator::ActionKind::{Active, DeActive};

mod daemonutil;
mod faultutil;
mod mailutil;
mod netutil;

use daemonutil::{Daemon, emulator, listen};
use faultutil::*;

const SECS: fn(u64) -> Duration = Duration::from_secs;

fn stop_and_check(d: Daemon, emu: &sfos_emulator::Emulator, groups: &[&str], mail: &mut MailBox, dangerous: bool) {
    mail.catch_up(&d);
    let (code, log, _, dir) = d.stop();
    assert_eq!(code, 0);
    check_invariants(Run {
        log,
        emu,
        groups,
        mail: Some(mail),
        dangerous,
        crashed: false,
        state: Some(&dir.path().join("state")),
    });
}

/// Watches for `limit` that nothing but `want` was pushed to `group`: an
/// observation window, for cases where the right outcome is that nothing
/// happens.
fn nothing_more(
    emu: &sfos_emulator::Emulator,
    group: &str,
    want: &[sfos_emulator::ActionKind],
    limit: Duration,
    d: &Daemon,
) {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        assert_eq!(pushed(emu, group), want, "{}", d.log_text());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The monitoring host's own uplink goes down for a while: the anchor and
/// every peer behind it go silent together. The guard withholds the
/// DeActive; the trip and its end are mailed; nothing but the first
/// Active is ever pushed.
#[test]
fn our_own_uplink_down_for_a_while() {
    if !netutil::require_root("our_own_uplink_down_for_a_while") {
        return;
    }
    let net = netutil::PeerNet::new();
    let (rt, emu) = emulator();
    rt.block_on(net.wait_ready(&failoverd::probe::icmp::IcmpClients::new()));
    let mut mail = MailBox::new(mailutil::mailin(mailutil::port0(), Default::default()));
    let (a, b) = (net.peer_v4.to_string(), net.peer_v6.to_string());
    let conns = [("A", a.as_str(), "underlay"), ("B", b.as_str(), "underlay")];
    let tail = format!(
        "[guard]\nanchors = [\"{a}\"]\nsettle = \"2s\"\n{}",
        mail_section(mail.server.port)
    );
    let cfg = config(&emu.url(), &emu.cert_fingerprint(), FAST, &conns, "", &tail);
    let d = Daemon::start_with(&cfg, &group("G", &["A", "B"], "PING"));
    until("Active", SECS(20), || pushed(&emu, "G") == [Active], &|| d.report());
    net.peer_link_down();
    d.until_logged("DeActive withheld", SECS(20));
    nothing_more(&emu, "G", &[Active], SECS(3), &d);
    net.ns.exec(&["ip", "link", "set", &net.peer_if, "up"]);
    d.until_logged("the guard no longer holds", SECS(30));
    d.until_notified("STATUS=1 groups: 1 up", SECS(20));
    mail.until_kind("GuardTripEnded", SECS(20));
    assert!(emu.groups()["G"]);
    stop_and_check(d, &emu, &["G"], &mut mail, true);
    assert_eq!(pushed(&emu, "G"), [Active]);
}

/// The firewall reboots: its API and every tunnel go at once; the API
/// comes back first, the tunnels later than `settle`. A tunnel group down
/// past `restart_after` meanwhile is not restarted: the guard held while
/// the API was gone, and the trip's end disarmed the group.
#[test]
fn the_firewall_reboots() {
    let (_rt, emu) = emulator();
    define(&emu, "T", &["A", "B"]);
    let switch = Switch::new(emu.addr());
    let mut mail = MailBox::new(mailutil::mailin(mailutil::port0(), Default::default()));
    let a = listen("127.0.0.1", 0);
    let port = a.local_addr().unwrap().port();
    let b = listen("127.0.0.2", port);
    let conns = [("A", "127.0.0.1", "tunnel"), ("B", "127.0.0.2", "tunnel")];
    let fw = "timeout = \"1s\"\nrestart_after = \"1s\"\nrestart_backoff = \"1h\"";
    let tail = format!("[guard]\nsettle = \"2s\"\n{}", mail_section(mail.server.port));
    let url = url_via(&emu, &switch);
    let cfg = config(&url, &emu.cert_fingerprint(), FAST, &conns, fw, &tail);
    let d = Daemon::start_with(&cfg, &group("T", &["A", "B"], &format!("TCP/{port}")));
    until("Active", SECS(20), || pushed(&emu, "T") == [Active], &|| d.report());
    d.until_notified("STATUS=1 groups: 1 up", SECS(20));
    switch.down();
    drop((a, b));
    d.until_logged("DeActive withheld", SECS(20));
    nothing_more(&emu, "T", &[Active], SECS(2), &d);
    switch.up();
    d.until_logged("the guard no longer holds", SECS(30));
    // The tunnels stay down longer than settle and restart_after.
    nothing_more(&emu, "T", &[Active], SECS(4), &d);
    let (_a, _b) = (listen("127.0.0.1", port), listen("127.0.0.2", port));
    d.until_notified("STATUS=1 groups: 1 up", SECS(20));
    assert!(emu.groups()["T"]);
    stop_and_check(d, &emu, &["T"], &mut mail, true);
    assert_eq!(pushed(&emu, "T"), [Active]);
}

/// Every target broken at the first start, past `restart_after`: the
/// tunnel group gets its Active from start and no restart (never seen
/// up, never armed); the underlay group gets nothing until it is up.
#[test]
fn every_target_broken_at_first_start() {
    let (_rt, emu) = emulator();
    define(&emu, "T", &["A", "B"]);
    define(&emu, "U", &["C", "D"]);
    let mut mail = MailBox::new(mailutil::mailin(mailutil::port0(), Default::default()));
    let port = mailutil::free_port();
    let conns = [
        ("A", "127.0.0.1", "tunnel"),
        ("B", "127.0.0.2", "tunnel"),
        ("C", "127.0.0.3", "underlay"),
        ("D", "127.0.0.4", "underlay"),
    ];
    let fw = "restart_after = \"1s\"";
    let cfg = config(
        &emu.url(),
        &emu.cert_fingerprint(),
        FAST,
        &conns,
        fw,
        &mail_section(mail.server.port),
    );
    let cond = format!("TCP/{port}");
    let xml = groups(&[group("T", &["A", "B"], &cond), group("U", &["C", "D"], &cond)]);
    let d = Daemon::start_with(&cfg, &xml);
    d.until_notified("STATUS=2 groups: 0 up, 2 down", SECS(20));
    until("T Active", SECS(20), || pushed(&emu, "T") == [Active], &|| d.report());
    // Well past restart_after (1 s) and several push ticks.
    nothing_more(&emu, "T", &[Active], SECS(3), &d);
    assert_eq!(pushed(&emu, "U"), [], "{}", d.log_text());
    let _up: Vec<_> = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"]
        .iter()
        .map(|h| listen(h, port))
        .collect();
    until("U Active", SECS(20), || pushed(&emu, "U") == [Active], &|| d.report());
    d.until_notified("STATUS=2 groups: 2 up", SECS(20));
    stop_and_check(d, &emu, &["T", "U"], &mut mail, true);
    assert_eq!(pushed(&emu, "T"), [Active]);
}

/// A private mount namespace for the daemon: /etc/hosts, /etc/resolv.conf
/// and /etc/nsswitch.conf replaced by the test's files (bind mounts).
fn mount_ns(dir: &Path, hosts: &str, resolv: &str, nss: &str) -> Vec<String> {
    for (name, text) in [("hosts", hosts), ("resolv.conf", resolv), ("nsswitch.conf", nss)] {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let script = "mount --bind \"$1\"/hosts /etc/hosts && mount --bind \"$1\"/resolv.conf /etc/resolv.conf && mount --bind \"$1\"/nsswitch.conf /etc/nsswitch.conf && shift && exec \"$@\"";
    ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh"]
        .iter()
        .map(|s| s.to_string())
        .chain([dir.display().to_string()])
        .collect()
}

/// A loopback address of this process for the resolver (port 53 is
/// fixed: resolv.conf has no port), so parallel runs do not collide.
fn dns_addr() -> String {
    let pid = std::process::id();
    format!("127.53.{}.{}", (pid >> 8) & 0xff, (pid & 0xff).max(1))
}

/// dnsmasq answering `names` on `dns_addr()`:53; killed when dropped.
struct Dnsmasq(Child);

impl Dnsmasq {
    fn start(names: &[(&str, &str)]) -> Dnsmasq {
        let mut cmd = Command::new("dnsmasq");
        cmd.args(["-k", "-C", "/dev/null", "--no-resolv", "--no-hosts", "--pid-file="])
            .arg(format!("--listen-address={}", dns_addr()))
            .args(["--bind-interfaces", "--port=53"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (name, addr) in names {
            cmd.arg(format!("--address=/{name}/{addr}"));
        }
        let child = cmd.spawn().expect("dnsmasq (apt-get install dnsmasq-base)");
        // Bounded wait until it answers.
        let deadline = Instant::now() + SECS(10);
        let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        probe.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        let query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01x\x00\x00\x01\x00\x01";
        loop {
            let _ = probe.send_to(query, (dns_addr().as_str(), 53));
            if probe.recv(&mut [0u8; 512]).is_ok() {
                break;
            }
            assert!(Instant::now() < deadline, "dnsmasq did not start");
        }
        Dnsmasq(child)
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `getent hosts NAME` inside the daemon's mount namespace.
fn resolves_in(pid: u32, name: &str) -> bool {
    Command::new("nsenter")
        .args(["-t", &pid.to_string(), "-m", "getent", "hosts", name])
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .success()
}

const NAMES: [(&str, &str); 2] = [("peer-a.fod.test", "127.0.0.1"), ("peer-b.fod.test", "127.0.0.2")];

fn name_case(emu: &sfos_emulator::Emulator, port: u16, mail: &MailBox) -> (String, String) {
    let conns = [("A", NAMES[0].0, "underlay"), ("B", NAMES[1].0, "underlay")];
    let probe = format!("{FAST}\nresolve_every = \"1s\"");
    let cfg = config(
        &emu.url(),
        &emu.cert_fingerprint(),
        &probe,
        &conns,
        "",
        &mail_section(mail.server.port),
    );
    (cfg, group("G", &["A", "B"], &format!("TCP/{port}")))
}

/// The resolver dies: lookups fail here (a local fault), the last
/// addresses serve for `dns_stale`: no event, no push.
#[test]
fn the_resolver_dies() {
    if !netutil::require_root("the_resolver_dies") {
        return;
    }
    let (_rt, emu) = emulator();
    let mut mail = MailBox::new(mailutil::mailin(mailutil::port0(), Default::default()));
    let a = listen("127.0.0.1", 0);
    let port = a.local_addr().unwrap().port();
    let _b = listen("127.0.0.2", port);
    let dns = Dnsmasq::start(&NAMES);
    let (cfg, xml) = name_case(&emu, port, &mail);
    let dir = Daemon::prepare(&cfg, &xml);
    let resolv = format!("nameserver {}\noptions timeout:1 attempts:1\n", dns_addr());
    let wrap = mount_ns(dir.path(), "127.0.0.1 localhost\n", &resolv, "hosts: files dns\n");
    let wrap: Vec<&str> = wrap.iter().map(String::as_str).collect();
    let d = Daemon::start_wrapped(dir, &wrap);
    until("Active", SECS(20), || pushed(&emu, "G") == [Active], &|| d.report());
    d.until_notified("STATUS=1 groups: 1 up", SECS(20));
    assert!(resolves_in(d.pid(), NAMES[0].0));
    drop(dns);
    assert!(!resolves_in(d.pid(), NAMES[0].0), "the resolver is dead for the daemon");
    // Several resolve_every periods with a dead resolver.
    nothing_more(&emu, "G", &[Active], SECS(4), &d);
    assert!(!d.log_text().contains("EVENT=MemberDown"), "{}", d.log_text());
    stop_and_check(d, &emu, &["G"], &mut mail, true);
}

/// A target name stops resolving (the name no longer exists): its checks
/// fail, the group goes down and is deactivated; the name back: Active.
#[test]
fn a_target_name_stops_resolving() {
    if !netutil::require_root("a_target_name_stops_resolving") {
        return;
    }
    let (_rt, emu) = emulator();
    let mut mail = MailBox::new(mailutil::mailin(mailutil::port0(), Default::default()));
    let a = listen("127.0.0.1", 0);
    let port = a.local_addr().unwrap().port();
    let _b = listen("127.0.0.2", port);
    let (cfg, xml) = name_case(&emu, port, &mail);
    let dir = Daemon::prepare(&cfg, &xml);
    let hosts = "127.0.0.1 localhost\n127.0.0.1 peer-a.fod.test\n127.0.0.2 peer-b.fod.test\n";
    let wrap = mount_ns(dir.path(), hosts, "", "hosts: files\n");
    let hosts_file = dir.path().join("hosts");
    let wrap: Vec<&str> = wrap.iter().map(String::as_str).collect();
    let d = Daemon::start_wrapped(dir, &wrap);
    until("Active", SECS(20), || pushed(&emu, "G") == [Active], &|| d.report());
    // Written in place: the bind mount keeps the same file.
    std::fs::write(&hosts_file, "127.0.0.1 localhost\n").unwrap();
    until(
        "DeActive",
        SECS(20),
        || pushed(&emu, "G") == [Active, DeActive],
        &|| d.report(),
    );
    assert!(d.log_text().contains("does not exist"), "{}", d.log_text());
    std::fs::write(&hosts_file, hosts).unwrap();
    until(
        "Active again",
        SECS(20),
        || pushed(&emu, "G") == [Active, DeActive, Active],
        &|| d.report(),
    );
    stop_and_check(d, &emu, &["G"], &mut mail, false);
}
