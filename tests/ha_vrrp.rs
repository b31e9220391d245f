//! The role watcher against a real keepalived pair (docs/ha.md, Tests;
//! docs/testing.md, VRRP): two namespaces as two monitoring hosts on a
//! bridge, keepalived in each, the watcher of each host printing its role.
//! The holder of the address is active, the other standby; a stopped,
//! killed or cut-off holder hands over; the address moves back with
//! preempt and stays without; a minute of moves is followed; a split brain
//! makes both active. Takeover times are printed, never asserted.
//!
//! Then the pair itself: a real `failoverd run` on each host, the emulator
//! and an SMTP server on the switch (`hautil::pair`). Only the holder sends
//! or mails; the other host takes over after keepalived's TERM or KILL, a
//! cut link, or failoverd killed; a hold placed on the standby binds the
//! new active host; a split brain sends only identical pushes.
//!
//! Needs root and keepalived; skipped visibly otherwise.

mod hautil;
mod mailutil;
mod netutil;

use std::io::Write;
use std::time::{Duration, Instant};

use failoverd::ha::RoleKind::{Active, Standby};
use hautil::{Lan, VIP, both_active, have_keepalived, median_worst};
use netutil::require_root;

const SETTLE: Duration = Duration::from_secs(20);

#[test]
#[ignore = "a helper: the tests below run it inside a namespace"]
fn role_printer() {
    hautil::role_printer();
}

fn lan(test: &str) -> Option<Lan> {
    (require_root(test) && have_keepalived(test)).then(Lan::new)
}

/// A line on stderr past libtest's capture, so the numbers are seen.
fn report(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

fn trials() -> usize {
    std::env::var("FAILOVERD_HA_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
        .max(1)
}

#[test]
fn the_watcher_sees_an_address_come_and_go_at_once() {
    let Some(mut lan) = lan("the_watcher_sees_an_address_come_and_go_at_once") else {
        return;
    };
    lan.a.watch.wait_for(Standby, SETTLE).unwrap();
    let vip = format!("{VIP}/24");
    let (mut up, mut down) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        let t0 = Instant::now();
        lan.a.ns.exec(&["ip", "addr", "add", &vip, "dev", "eth0"]);
        up.push(lan.a.watch.wait_for(Active, SETTLE).unwrap() - t0);
        let t0 = Instant::now();
        lan.a.ns.exec(&["ip", "addr", "del", &vip, "dev", "eth0"]);
        down.push(lan.a.watch.wait_for(Standby, SETTLE).unwrap() - t0);
    }
    assert_eq!(lan.b.watch.role(), Some(Standby), "the other host never had it");
    let (m, w) = median_worst(&mut up);
    report(&format!(
        "HA watcher: address added -> active: median {m:?}, worst {w:?} (10 trials)"
    ));
    let (m, w) = median_worst(&mut down);
    report(&format!(
        "HA watcher: address removed -> standby: median {m:?}, worst {w:?} (10 trials)"
    ));
}

#[test]
fn the_holder_is_active_and_the_other_standby() {
    let Some(mut lan) = lan("the_holder_is_active_and_the_other_standby") else {
        return;
    };
    lan.settle(None, SETTLE);
    lan.start(true, false);
    lan.settle(Some('a'), SETTLE);
    assert!(lan.a.holds() && !lan.b.holds());
    // keepalived on b stopped cleanly changes nothing for a.
    lan.b.stop_keepalived("TERM");
    lan.settle(Some('a'), SETTLE);
}

#[derive(Clone, Copy, Debug)]
enum Failure {
    Term,
    Kill,
    Cut,
}

/// The holder `a` fails; returns the time until `b`'s watcher says active
/// and whether `a` still held the address then. Then `a` comes back.
fn takeover(lan: &mut Lan, failure: Failure) -> (Duration, bool) {
    lan.settle(Some('a'), SETTLE);
    let t0 = Instant::now();
    match failure {
        Failure::Term => lan.a.stop_keepalived("TERM"),
        Failure::Kill => lan.a.stop_keepalived("KILL"),
        Failure::Cut => lan.link('a', false),
    }
    let at = lan.b.watch.wait_for(Active, SETTLE).unwrap();
    let (a_holds, b_holds) = lan.watchers_follow(SETTLE);
    assert!(b_holds, "{failure:?}: b says active without the address");
    if let Failure::Term = failure {
        assert!(!a_holds, "a clean stop removes the address");
    }
    match failure {
        Failure::Term | Failure::Kill => lan.start_a(true, false),
        Failure::Cut => lan.link('a', true),
    }
    lan.settle(Some('a'), SETTLE);
    (at - t0, a_holds)
}

#[test]
fn takeover_after_term_kill_and_a_cut_link() {
    let Some(mut lan) = lan("takeover_after_term_kill_and_a_cut_link") else {
        return;
    };
    lan.start(true, false);
    let n = trials();
    for failure in [Failure::Term, Failure::Kill, Failure::Cut] {
        let mut times = Vec::new();
        let mut left_behind = 0;
        for _ in 0..n {
            let (took, a_held) = takeover(&mut lan, failure);
            times.push(took);
            left_behind += usize::from(a_held);
        }
        let (m, w) = median_worst(&mut times);
        report(&format!(
            "HA takeover after {failure:?} of the holder's keepalived/link: the other host's watcher active after \
             median {m:?}, worst {w:?} ({n} trials); the failed host still held the address (both active) in \
             {left_behind} of {n}"
        ));
    }
}

#[test]
fn the_address_moves_back_with_preempt_and_stays_without() {
    let Some(mut lan) = lan("the_address_moves_back_with_preempt_and_stays_without") else {
        return;
    };
    // Multicast adverts, preempt (keepalived's default).
    lan.start(true, false);
    lan.a.stop_keepalived("TERM");
    lan.settle(Some('b'), SETTLE);
    lan.start_a(true, false);
    lan.settle(Some('a'), SETTLE);
    drop(lan);

    // Unicast adverts, nopreempt: a comes back and stays standby.
    let mut lan = Lan::new();
    lan.start(false, true);
    lan.settle(Some('a'), SETTLE);
    lan.a.stop_keepalived("TERM");
    lan.settle(Some('b'), SETTLE);
    lan.start_a(false, true);
    // a's keepalived runs and hears b for well over three adverts: it
    // must not take the address back.
    let until = Instant::now() + Duration::from_secs(6);
    while Instant::now() < until {
        lan.settle(Some('b'), SETTLE);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        lan.a.watch.log.iter().all(|e| e.0 < until),
        "the log is read as it comes"
    );
    // b going away hands the address to a after all.
    lan.b.stop_keepalived("TERM");
    lan.settle(Some('a'), SETTLE);
}

#[test]
fn the_address_moving_every_few_seconds_for_a_minute() {
    let Some(mut lan) = lan("the_address_moving_every_few_seconds_for_a_minute") else {
        return;
    };
    lan.start(true, false);
    lan.settle(Some('a'), SETTLE);
    let start = Instant::now();
    let mut moves = 0;
    while start.elapsed() < Duration::from_secs(60) {
        lan.a.stop_keepalived("TERM");
        lan.settle(Some('b'), SETTLE);
        lan.start_a(true, false);
        lan.settle(Some('a'), SETTLE);
        moves += 2;
    }
    let end = Instant::now();
    let mut overlaps = both_active(&lan.a.watch.log, &lan.b.watch.log, end);
    let changes = lan.a.watch.log.len() + lan.b.watch.log.len();
    let summary = if overlaps.is_empty() {
        "never both active".to_string()
    } else {
        let n = overlaps.len();
        let (m, w) = median_worst(&mut overlaps);
        format!("both active {n} times, median {m:?}, worst {w:?} (keepalived's own hand-over)")
    };
    report(&format!(
        "HA: {moves} moves in {:?}, {changes} role lines, {summary}",
        end - start
    ));
    assert!(moves >= 10, "only {moves} moves in a minute");
    // Each move was settled with exactly one host active: an overlap is
    // only ever inside one hand-over, never left standing.
    assert!(overlaps.len() <= moves, "{overlaps:?}");
}

#[test]
fn split_brain_makes_both_active_until_vrrp_is_heard_again() {
    let Some(mut lan) = lan("split_brain_makes_both_active_until_vrrp_is_heard_again") else {
        return;
    };
    lan.start(true, false);
    lan.settle(Some('a'), SETTLE);
    // b stops hearing a's adverts (VRRP is IP protocol 112).
    let t0 = Instant::now();
    lan.b.ns.filter_input(&["ip protocol 112 drop"]);
    let at = lan.b.watch.wait_for(Active, SETTLE).unwrap();
    assert_eq!(lan.watchers_follow(SETTLE), (true, true), "both hold the address");
    assert_eq!(lan.a.watch.role(), Some(Active));
    report(&format!(
        "HA split brain: both active {:?} after VRRP was dropped",
        at - t0
    ));
    // Heard again: the lower priority gives way.
    lan.b.ns.filter_input(&[]);
    lan.settle(Some('a'), SETTLE);
}

#[test]
fn a_bridge_that_stops_forwarding_makes_both_active() {
    // The other way to a split brain: the path between the hosts breaks
    // while both links stay up (the port leaves the bridge), so neither
    // keepalived sees a fault; each holds the address and says active.
    let Some(mut lan) = lan("a_bridge_that_stops_forwarding_makes_both_active") else {
        return;
    };
    lan.start(true, false);
    lan.settle(Some('a'), SETTLE);
    let t0 = Instant::now();
    lan.isolate('b', true);
    let at = lan.b.watch.wait_for(Active, SETTLE).unwrap();
    assert_eq!(lan.watchers_follow(SETTLE), (true, true), "both hold the address");
    report(&format!(
        "HA split brain (bridge): both active {:?} after the path broke",
        at - t0
    ));
    lan.isolate('b', false);
    lan.settle(Some('a'), SETTLE);
}

/// The shipped example for host `a` and, with the changes its comments
/// ask for, for host `b`.
fn shipped_examples() -> (String, String) {
    let a = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/ha/keepalived.conf")).unwrap();
    let swaps = [
        ("router_id failoverd-a", "router_id failoverd-b"),
        ("priority 150", "priority 100"),
        ("unicast_src_ip 198.51.100.11", "unicast_src_ip 198.51.100.1X"),
        ("        198.51.100.12 ", "        198.51.100.11 "),
        ("198.51.100.1X", "198.51.100.12"),
    ];
    let mut b = a.clone();
    for (from, to) in swaps {
        assert_eq!(b.matches(from).count(), 1, "{from:?} once in the example");
        b = b.replace(from, to);
    }
    (a, b)
}

#[test]
fn failoverd_killed_on_the_holder_gives_up_the_address_through_the_track_script() {
    let test = "failoverd_killed_on_the_holder_gives_up_the_address_through_the_track_script";
    let Some(mut lan) = lan(test) else {
        return;
    };
    // The example as shipped (its addresses and interface are this LAN's),
    // and a real failoverd on each host.
    let (conf_a, conf_b) = shipped_examples();
    let (a_ip, b_ip) = (lan.a.ip, lan.b.ip);
    let daemon_a = lan.a.start_failoverd(b_ip);
    let _daemon_b = lan.b.start_failoverd(a_ip);
    lan.a.start_keepalived_with(&conf_a);
    lan.settle(Some('a'), Duration::from_secs(30));
    lan.b.start_keepalived_with(&conf_b);
    lan.b
        .keepalived
        .as_ref()
        .unwrap()
        .wait_log("Entering BACKUP STATE", SETTLE);
    lan.settle(Some('a'), SETTLE);

    let t0 = Instant::now();
    daemon_a.kill();
    assert!(!lan.a.status_answers());
    let at = lan.b.watch.wait_for(Active, Duration::from_secs(30)).unwrap();
    lan.settle(Some('b'), SETTLE);
    report(&format!(
        "HA: failoverd killed on the holder -> the other host's watcher active after {:?} (track script: interval 2 s, fall 2)",
        at - t0
    ));
    // failoverd back: the track script rises again and a, with preempt,
    // takes the address back.
    let _daemon_a = lan.a.start_failoverd(b_ip);
    lan.settle(Some('a'), Duration::from_secs(30));
}

/// keepalived's own configuration test (`-t`) of `text`, inside `ns`:
/// whatever it printed. In 2.2.7 `-t` ends by signalling its process group
/// with TERM, so it runs in a group of its own.
fn keepalived_check(ns: &netutil::Namespace, text: &str) -> (std::process::ExitStatus, String) {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("keepalived.conf");
    std::fs::write(&conf, text).unwrap();
    let out = ns
        .command("keepalived")
        .args(["-t", "-f", conf.to_str().unwrap()])
        .process_group(0)
        .output()
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status, printed)
}

#[test]
fn the_shipped_keepalived_example_passes_keepalived_s_own_check() {
    use std::os::unix::process::ExitStatusExt;
    let test = "the_shipped_keepalived_example_passes_keepalived_s_own_check";
    if !require_root(test) || !have_keepalived(test) {
        return;
    }
    let ns = netutil::Namespace::new();
    ns.exec(&["ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth1"]);
    let (a, b) = shipped_examples();
    for (host, text) in [("a", &a), ("b", &b)] {
        let (status, printed) = keepalived_check(&ns, text);
        assert!(
            printed.trim().is_empty() && (status.success() || status.signal() == Some(15)),
            "host {host}: keepalived -t: {status:?}\n{printed}"
        );
    }
    // The check does check: a track script that does not exist is named.
    let broken = a.replace(
        "track_script {\n        failoverd_answers",
        "track_script {\n        no_such_script",
    );
    assert_ne!(broken, a);
    let (_, printed) = keepalived_check(&ns, &broken);
    assert!(printed.contains("no_such_script"), "{printed}");
}

// ---- Two real daemons as a pair (docs/ha.md, Tests) ----

use hautil::pair::{PairDaemon, Services};
use sfos_emulator::ActionKind;

const A_IP: &str = "198.51.100.11";
const B_IP: &str = "198.51.100.12";

/// A LAN with the services, a real failoverd on each host, the shipped
/// keepalived example on each; settled with `a` holding the address and
/// `a`'s Active of G and H received. Returns the examples too.
fn pair(test: &str) -> Option<(Lan, Services, PairDaemon, PairDaemon, String)> {
    let mut lan = lan(test)?;
    let mut svc = Services::start(&lan);
    let da = lan.a.start_pair_daemon(&svc, B_IP);
    let db = lan.b.start_pair_daemon(&svc, A_IP);
    let (conf_a, conf_b) = shipped_examples();
    lan.a.start_keepalived_with(&conf_a);
    lan.settle(Some('a'), Duration::from_secs(30));
    lan.b.start_keepalived_with(&conf_b);
    lan.b
        .keepalived
        .as_ref()
        .unwrap()
        .wait_log("Entering BACKUP STATE", SETTLE);
    lan.settle(Some('a'), SETTLE);
    wait_pushes(&svc, 0, A_IP, &["G", "H"], SETTLE).unwrap_or_else(|e| panic!("{e}\na: {}", da.log()));
    // A member goes down and comes back on both hosts alike: only the
    // active host mails it; the standby logs it.
    let c_down = ["ip daddr 127.0.0.3 icmp type echo-request drop"];
    lan.a.ns.filter_input(&c_down);
    lan.b.ns.filter_input(&c_down);
    assert!(
        svc.wait_mail("failoverd-a@", "MemberDown", SETTLE),
        "a mails its group events: {:?}",
        svc.collect_mail()
    );
    lan.a.ns.filter_input(&[]);
    lan.b.ns.filter_input(&[]);
    assert!(svc.wait_mail("failoverd-a@", "MemberUp", SETTLE));
    let from_b: Vec<_> = svc
        .collect_mail()
        .iter()
        .filter(|m| m.from.contains("failoverd-b@"))
        .collect();
    assert!(from_b.is_empty(), "the standby mailed: {from_b:?}");
    assert!(
        db.log().contains("standby: not mailed"),
        "b logs what it does not mail:\n{}",
        db.log()
    );
    Some((lan, svc, da, db, conf_a))
}

/// Waits until `from` has pushed Active for each of `groups` among the
/// pushes after the first `mark`; returns when the first of them came.
fn wait_pushes(svc: &Services, mark: usize, from: &str, groups: &[&str], within: Duration) -> Result<Instant, String> {
    let deadline = Instant::now() + within;
    let mut first = None;
    loop {
        let p = svc.pushes();
        let mine: Vec<_> = p[mark.min(p.len())..].iter().filter(|x| x.0 == from).collect();
        if first.is_none() && !mine.is_empty() {
            first = Some(Instant::now());
        }
        let done = groups
            .iter()
            .all(|g| mine.iter().any(|x| x.1 == *g && x.2 == ActionKind::Active));
        if done {
            return Ok(first.unwrap());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{from} did not push Active {groups:?} within {within:?}: {p:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Requests from `ip` after the first `mark`.
fn requests_from(svc: &Services, ip: &str, mark: usize) -> usize {
    svc.senders().iter().skip(mark).filter(|s| *s == ip).count()
}

#[test]
fn a_pair_of_daemons_only_the_holder_sends_and_mails_and_the_other_takes_over() {
    let test = "a_pair_of_daemons_only_the_holder_sends_and_mails_and_the_other_takes_over";
    let Some((mut lan, mut svc, mut da, db, conf_a)) = pair(test) else {
        return;
    };
    assert_eq!(
        requests_from(&svc, B_IP, 0),
        0,
        "the standby sent the firewall nothing: {:?}\nb: {}",
        svc.emu
            .requests()
            .iter()
            .map(|r| (r.peer, r.actions.clone()))
            .collect::<Vec<_>>(),
        db.log()
    );
    assert!(
        db.log().contains("standby: would push"),
        "b decides and logs: {}",
        db.log()
    );
    let (code, out, _) = db.cli(&lan.b, &["status"]);
    assert_eq!(code, 0);
    assert!(out.contains("pair: this host is standby since"), "{out}");
    let n = trials();
    // From here (a holds the address, b's last request answered) b sends
    // nothing until it takes the address.
    let mut req_mark = svc.senders().len();
    for failure in ["keepalived TERM", "keepalived KILL", "link cut", "failoverd KILL"] {
        let mut times = Vec::new();
        for _ in 0..n {
            lan.settle(Some('a'), SETTLE);
            assert_eq!(
                requests_from(&svc, B_IP, req_mark),
                0,
                "no request from b while a held the address"
            );
            let mark = svc.pushes().len();
            let mail_mark = svc.collect_mail().len();
            let t0 = Instant::now();
            match failure {
                "keepalived TERM" => lan.a.stop_keepalived("TERM"),
                "keepalived KILL" => lan.a.stop_keepalived("KILL"),
                // a's switch port down: a reaches nothing any more.
                "link cut" => lan.link('a', false),
                // The track script notices and gives the address up.
                _ => da.kill(),
            }
            lan.b.watch.wait_for(Active, Duration::from_secs(30)).unwrap();
            let first = wait_pushes(&svc, mark, B_IP, &["G", "H"], SETTLE)
                .unwrap_or_else(|e| panic!("{failure}: {e}\nb: {}", db.log()));
            times.push(first - t0);
            assert!(
                svc.wait_mail("failoverd-b@", "BecameActive", Duration::from_secs(15)),
                "b's takeover is mailed: {:?}",
                &svc.collect_mail()[mail_mark..]
            );
            if failure == "keepalived TERM" {
                assert!(
                    svc.wait_mail("failoverd-a@", "BecameStandby", Duration::from_secs(15)),
                    "a's loss is mailed"
                );
            }
            // KILL leaves the address on a too (both active): only
            // identical pushes, never a DeActive against an Active.
            let after: Vec<_> = svc.pushes()[mark..].to_vec();
            assert!(
                after.iter().all(|p| p.2 == ActionKind::Active),
                "only the wanted state, from either host: {after:?}"
            );
            // a comes back and, with preempt, takes the address back; it
            // sends each wanted state once.
            let back = svc.pushes().len();
            match failure {
                "failoverd KILL" => da = lan.a.start_pair_daemon(&svc, B_IP),
                "link cut" => lan.link('a', true),
                _ => lan.a.start_keepalived_with(&conf_a),
            }
            if failure == "keepalived KILL" {
                lan.watchers_follow(SETTLE);
            }
            lan.settle(Some('a'), Duration::from_secs(30));
            wait_pushes(&svc, back, A_IP, &["G", "H"], SETTLE).unwrap_or_else(|e| panic!("{e}\na: {}", da.log()));
            lan.settle(Some('a'), SETTLE);
            req_mark = svc.senders().len();
        }
        let (m, w) = median_worst(&mut times);
        report(&format!(
            "HA pair: {failure} on the active host -> the other host's first push after median {m:?}, \
             worst {w:?} ({n} trials)"
        ));
    }
}

#[test]
fn a_hold_placed_on_the_standby_binds_the_new_active_host_after_failoverd_on_the_active_one_is_killed() {
    let test = "a_hold_placed_on_the_standby_binds_the_new_active_host_after_failoverd_on_the_active_one_is_killed";
    let Some((mut lan, mut svc, mut da, db, _)) = pair(test) else {
        return;
    };
    let req_mark = svc.senders().len();
    // A push on the standby sends nothing and places no hold (contract
    // v5, section 4); it names the active host. A hold placed there binds
    // both hosts.
    let (code, out, err) = db.cli(&lan.b, &["push", "G", "--deactivate", "--hold", "10m"]);
    assert_eq!(code, 1, "not accepted: {out}{err}");
    assert!(
        out.contains("this host is standby: nothing was sent and no hold placed"),
        "{out}{err}"
    );
    assert!(
        out.contains(&format!("http://{A_IP}:9733/status")),
        "names the peer: {out}"
    );
    let (code, out, err) = db.cli(&lan.b, &["hold", "G", "--for", "10m", "--reason", "maintenance"]);
    assert_eq!(code, 0, "{out}{err}");
    // a reads b's hold (polled, with a deadline).
    let deadline = Instant::now() + SETTLE;
    loop {
        let (_, out, _) = da.cli(&lan.a, &["status"]);
        if out.contains("HELD by the peer until") {
            break;
        }
        assert!(Instant::now() < deadline, "a never showed b's hold:\n{out}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(requests_from(&svc, B_IP, req_mark), 0, "b's push sent nothing");
    let mark = svc.pushes().len();
    let mail_mark = svc.collect_mail().len();
    let t0 = Instant::now();
    da.kill();
    lan.b.watch.wait_for(Active, Duration::from_secs(30)).unwrap();
    let first = wait_pushes(&svc, mark, B_IP, &["H"], SETTLE).unwrap_or_else(|e| panic!("{e}\nb: {}", db.log()));
    report(&format!(
        "HA pair: failoverd killed on the active host -> the other host's first push after {:?} (track script: interval 2 s, fall 2)",
        first - t0
    ));
    // A window after H's Active: no push of G from b.
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        let g: Vec<_> = svc.pushes()[mark..].iter().filter(|p| p.1 == "G").cloned().collect();
        assert!(g.is_empty(), "G is held (hold placed on the standby): {g:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        svc.wait_mail("failoverd-b@", "BecameActive", Duration::from_secs(15)),
        "{:?}",
        &svc.collect_mail()[mail_mark..]
    );
}

#[test]
fn a_split_brain_sends_only_identical_pushes_from_both_hosts() {
    let test = "a_split_brain_sends_only_identical_pushes_from_both_hosts";
    let Some((mut lan, svc, da, db, _)) = pair(test) else {
        return;
    };
    // The address on b as well (keepalived on a still holds it): both active.
    let mark = svc.pushes().len();
    lan.b.ns.exec(&["ip", "addr", "add", &format!("{VIP}/32"), "dev", "lo"]);
    lan.b.watch.wait_for(Active, SETTLE).unwrap();
    wait_pushes(&svc, mark, B_IP, &["G", "H"], SETTLE).unwrap_or_else(|e| panic!("{e}\nb: {}", db.log()));
    // G's members fail on both hosts alike: both decide DeActive G.
    let rules = ["ip daddr { 127.0.0.1, 127.0.0.2 } icmp type echo-request drop"];
    lan.a.ns.filter_input(&rules);
    lan.b.ns.filter_input(&rules);
    let deadline = Instant::now() + SETTLE;
    loop {
        let p = svc.pushes();
        let de: Vec<_> = p[mark..]
            .iter()
            .filter(|x| x.1 == "G" && x.2 == ActionKind::DeActive)
            .collect();
        if de.iter().any(|x| x.0 == A_IP) && de.iter().any(|x| x.0 == B_IP) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "both hosts should push DeActive G: {:?}\na: {}\nb: {}",
            &p[mark..],
            da.log(),
            db.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let p = svc.pushes();
    for x in p[mark..].iter().filter(|x| x.1 == "H") {
        assert_eq!(x.2, ActionKind::Active, "H stays up: {x:?}");
    }
    let g: Vec<_> = p[mark..]
        .iter()
        .filter(|x| x.1 == "G")
        .map(|x| (x.0.clone(), x.2))
        .collect();
    // Per host, G goes Active then DeActive: never DeActive then Active.
    for host in [A_IP, B_IP] {
        let seq: Vec<_> = g.iter().filter(|x| x.0 == host).map(|x| x.1).collect();
        let first_de = seq.iter().position(|k| *k == ActionKind::DeActive).unwrap();
        assert!(
            seq[first_de..].iter().all(|k| *k == ActionKind::DeActive),
            "{host}: no Active after the DeActive: {seq:?}"
        );
    }
    report(&format!("HA pair: split brain pushes (host, group, action): {g:?}"));
}
