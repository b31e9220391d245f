//! The soak: the real daemon for SOAK_SECS (default 180) against flapping
//! peers, a flaky firewall and a flaky SMTP server, with SIGHUPs now and
//! then; then the fault matrix's invariants, and memory and open file
//! descriptors flat. Run by `scripts/soak.sh [DURATION]` (it is ignored
//! in a plain `cargo test`). SOAK_SEED replays a run.
//!
//! Peers flap far more than any real site, so flap damping (which doubles
//! its hold with each DeActive in `flap_window`) would soon hold a group
//! off for its 2 h cap: the soak's window is 3 minutes, and the quiet
//! checks wait out whatever hold `failoverd status` reports.
//!
//! Flat means: measured twice in the same quiet state (every fault
//! cleared, every peer up, the firewall converged), once after a warm-up
//! of a fifth of the run and once at the end, VmRSS grows by at most 25 %
//! plus 2 MiB and the open descriptors by at most 4.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use sfos_emulator::{ActionKind, Fault};

mod daemonutil;
mod faultutil;
mod mailutil;

use daemonutil::{Daemon, emulator};
use faultutil::*;

/// xorshift64*: reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const HOSTS: [&str; 6] = [
    "127.0.1.1",
    "127.0.1.2",
    "127.0.1.3",
    "127.0.1.4",
    "127.0.1.5",
    "127.0.1.6",
];
const GROUPS: [&str; 3] = ["U1", "U2", "T1"];

/// VmRSS and VmHWM in KiB, and the open descriptors, of `pid`.
fn usage(pid: u32) -> (u64, u64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count();
    (field("VmRSS:"), field("VmHWM:"), fds)
}

/// How long the quiet state may take once every fault is cleared, and at
/// most in all when flap damping holds a group off.
const QUIET: Duration = Duration::from_secs(90);
const QUIET_MAX: Duration = Duration::from_secs(600);

/// The quiet state, or the first part of it that fails, named.
fn quiet_check(emu: &sfos_emulator::Emulator, d: &Daemon) -> Result<(), String> {
    let fw = emu.groups();
    for g in GROUPS {
        match fw.get(g) {
            Some(true) => {}
            Some(false) => return Err(format!("{g} is inactive on the firewall")),
            None => return Err(format!("{g} is not defined on the firewall")),
        }
        let n = emu.in_flight(g);
        if n != 0 {
            return Err(format!("{g} has {n} request(s) in flight at the emulator"));
        }
    }
    let status = d.last_status();
    if !status.contains("3 groups: 3 up") {
        return Err(format!("the daemon's last STATUS is not \"3 groups: 3 up\": {status}"));
    }
    Ok(())
}

/// From `failoverd status`: in how many seconds flap damping lets group
/// `g`'s Active go, if it holds it back now.
fn flap_damping_secs(status: &str, g: &str) -> Option<u64> {
    let block = status
        .lines()
        .skip_while(|l| !l.starts_with(&format!("{g} (")))
        .skip(1)
        .take_while(|l| l.starts_with(' '));
    let line = block
        .into_iter()
        .find(|l| l.trim_start().starts_with("flap damping: Active in "))?;
    let text = line.trim_start().strip_prefix("flap damping: Active in ")?;
    let text = text.split(" if it stays up").next()?;
    humantime::parse_duration(text).ok().map(|d| d.as_secs() + 1)
}

#[test]
#[ignore = "the soak: scripts/soak.sh [DURATION]"]
fn soak() {
    let secs: u64 = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(180);
    let seed: u64 = std::env::var("SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    println!("soak: {secs} s, SOAK_SEED={seed}");
    let mut rng = Rng(seed);
    let (_rt, emu) = emulator();
    define(&emu, "U1", &["A1", "B1"]);
    define(&emu, "U2", &["A2", "B2"]);
    define(&emu, "T1", &["A3", "B3"]);
    let server = mailutil::mailin(mailutil::port0(), Default::default());
    let smtp = Switch::new(([127, 0, 0, 1], server.port).into());
    let mut mail = MailBox::new(server);
    let port = mailutil::free_port();
    let conns = [
        ("A1", HOSTS[0], "underlay"),
        ("B1", HOSTS[1], "underlay"),
        ("A2", HOSTS[2], "underlay"),
        ("B2", HOSTS[3], "underlay"),
        ("A3", HOSTS[4], "tunnel"),
        ("B3", HOSTS[5], "tunnel"),
    ];
    let fw = "timeout = \"1s\"\nconfig_retry = \"2s\"\nrestart_after = \"2s\"\nrestart_backoff = \"5s\"\nflap_hold = \"2s\"\nflap_window = \"3m\"\nreactivate_after = \"30s\"";
    let tail = format!(
        "[guard]\nsettle = \"1s\"\n{}spool_max = 100000\n",
        mail_section(smtp.port).replace("max_per_hour = 1000", "max_per_hour = 3600")
    );
    let cfg = config(&emu.url(), &emu.cert_fingerprint(), FAST, &conns, fw, &tail);
    let cond = format!("TCP/{port}");
    let xml = groups(&[
        group("U1", &["A1", "B1"], &cond),
        group("U2", &["A2", "B2"], &cond),
        group("T1", &["A3", "B3"], &cond),
    ]);
    let mut peers: Vec<Option<Peer>> = HOSTS.iter().map(|h| Some(Peer::listen(h, port))).collect();
    let d = Daemon::start_with(&cfg, &xml);
    d.until_notified("STATUS=3 groups: 3 up", Duration::from_secs(20));

    let faults = [
        Fault::Delay(Duration::from_millis(400)),
        Fault::Hang,
        Fault::Drop,
        Fault::HttpStatus(503),
        Fault::EntityCode(500),
        Fault::LoginFailure,
        Fault::DenyAll,
    ];
    let mut survived: BTreeMap<String, usize> = BTreeMap::new();
    let mut count = |what: String| *survived.entry(what).or_default() += 1;
    let quiet = |peers: &mut Vec<Option<Peer>>| {
        emu.clear_faults();
        smtp.up();
        for (i, p) in peers.iter_mut().enumerate() {
            if p.is_none() {
                *p = Some(Peer::listen(HOSTS[i], port));
            }
        }
        // A group that flapped may be held off by flap damping, on purpose:
        // the daemon's status says for how long, and the wait extends to
        // then (at most QUIET_MAX in all), saying so if it times out.
        let config = d.dir.path().join("failoverd.toml");
        let began = Instant::now();
        let mut deadline = began + QUIET;
        let mut damped: BTreeMap<&str, u64> = BTreeMap::new();
        loop {
            let failing = quiet_check(&emu, &d);
            let Err(part) = failing else { break };
            if let Some(g) = GROUPS.iter().find(|g| part.starts_with(&format!("{g} is inactive"))) {
                let (_, out, _) = daemonutil::cli(&["status"], &config);
                if let Some(secs) = flap_damping_secs(&out, g) {
                    let until = Instant::now() + Duration::from_secs(secs) + QUIET;
                    if until > deadline && until <= began + QUIET_MAX {
                        deadline = until;
                        damped.insert(g, secs);
                    }
                }
            }
            if Instant::now() >= deadline {
                panic!(
                    "quiet: every group up and Active on the firewall, nothing in flight, STATUS 3 up: not within {:?} \
                     (waits extended for flap damping: {damped:?} s)\nstill failing: {part}\n{}",
                    deadline - began,
                    d.report()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if !damped.is_empty() {
            println!("soak: quiet waited for flap damping to end: {damped:?} s");
        }
    };

    let start = Instant::now();
    let warm_up = Duration::from_secs(secs / 5);
    let end = Duration::from_secs(secs);
    let mut measured_warm = None;
    let mut next_hup = Duration::from_secs(20);
    let mut smtp_back: Option<Instant> = None;
    let mut next_smtp_fault = Instant::now();
    while start.elapsed() < end {
        if measured_warm.is_none() && start.elapsed() >= warm_up {
            quiet(&mut peers);
            measured_warm = Some(usage(d.pid()));
        }
        // Peers flap: each may die or come back.
        for (i, p) in peers.iter_mut().enumerate() {
            if rng.chance(2) {
                *p = match p.take() {
                    Some(_) => {
                        count("peer down".into());
                        None
                    }
                    None => Some(Peer::listen(HOSTS[i], port)),
                };
            }
        }
        // The firewall misbehaves now and then, for a while.
        if rng.chance(4) {
            if emu.faults().is_empty() {
                let f = faults[rng.below(faults.len() as u64) as usize];
                count(format!("firewall {f:?}"));
                emu.set_fault(f);
            } else {
                emu.clear_faults();
            }
        }
        // The SMTP server goes away for 1 to 8 s, at most every 30 s: the
        // mail retry (10 s doubling to 10 min) stays short, so the end's
        // catch-up is bounded.
        match smtp_back {
            Some(at) if Instant::now() >= at => {
                smtp.up();
                smtp_back = None;
                next_smtp_fault = Instant::now() + Duration::from_secs(30);
            }
            None if Instant::now() >= next_smtp_fault && rng.chance(5) => {
                count("smtp down".into());
                smtp.down();
                smtp_back = Some(Instant::now() + Duration::from_millis(1000 + rng.below(7000)));
            }
            _ => {}
        }
        if start.elapsed() >= next_hup {
            count("SIGHUP".into());
            d.signal("HUP");
            next_hup += Duration::from_secs(20);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    quiet(&mut peers);
    let (rss_warm, hwm_warm, fds_warm) = measured_warm.unwrap_or_else(|| usage(d.pid()));
    let (rss_end, hwm_end, fds_end) = usage(d.pid());
    mail.catch_up_within(&d, Duration::from_secs(90));
    let (code, log, _, dir) = d.stop();
    assert_eq!(code, 0);
    let events = logged_kinds(&log).len();
    let pushes = emu
        .requests()
        .iter()
        .flat_map(|r| r.actions.clone())
        .filter(|a| matches!(a.action, ActionKind::Active | ActionKind::DeActive))
        .count();
    let mails = mail.drain().len();
    println!("soak figures after {secs} s (seed {seed}):");
    println!("  events {events}, pushes {pushes}, mails {mails}");
    println!("  faults survived: {survived:?}");
    println!("  RSS after warm-up {rss_warm} KiB, at the end {rss_end} KiB (peak {hwm_warm} KiB, then {hwm_end} KiB)");
    println!("  open fds after warm-up {fds_warm}, at the end {fds_end}");
    check_invariants(Run {
        log,
        emu: &emu,
        groups: &GROUPS,
        mail: Some(&mut mail),
        dangerous: false,
        crashed: false,
        state: Some(&dir.path().join("state")),
    });
    assert!(
        rss_end <= rss_warm + rss_warm / 4 + 2048,
        "memory grew: {rss_warm} KiB -> {rss_end} KiB"
    );
    assert!(fds_end <= fds_warm + 4, "descriptors grew: {fds_warm} -> {fds_end}");
}
