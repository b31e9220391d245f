//! A VRRP pair for the role watcher's tests (docs/testing.md, VRRP): two
//! network namespaces as the two monitoring hosts, joined through a bridge
//! in a third, a real keepalived in each holding one virtual address, and
//! the role watcher of each host running as a helper process inside its
//! namespace and printing its role as lines.
//!
//! Every process is killed and every namespace deleted when its guard is
//! dropped, also when a test fails. Waiting is polling with deadlines.
//! Needs, as root: iproute2, nftables, procps (`kill`), keepalived.
#![allow(dead_code)] // not every test uses every part

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use failoverd::ha::RoleKind;

use crate::netutil::{Namespace, run};

pub mod pair;

/// The virtual address, from the documentation range, inside the
/// namespaces only.
pub const VIP: &str = "198.51.100.50";
/// The environment variable that tells the helper which address to watch.
pub const WATCH_ENV: &str = "FAILOVERD_HA_WATCH";
/// The name of the helper test in every test binary that uses this.
pub const HELPER: &str = "role_printer";
/// What the helper prints before each role.
pub const LINE: &str = "HA_ROLE ";

/// The helper's body: watch `VIP` and print every role as a line, until
/// stdin closes (the test process is gone) or the process is killed.
pub fn role_printer() {
    let Ok(address) = std::env::var(WATCH_ENV) else {
        crate::netutil::skipped("role_printer: a helper the VRRP tests run inside a namespace");
        return;
    };
    std::thread::spawn(|| {
        let mut sink = String::new();
        let _ = std::io::stdin().read_line(&mut sink);
        std::process::exit(0);
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut rx = failoverd::ha::watch::start(address.parse().unwrap()).await;
        loop {
            let role = rx.borrow_and_update().clone();
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{LINE}{} {}", role.kind, role.problem.unwrap_or_default());
            let _ = out.flush();
            drop(out);
            if rx.changed().await.is_err() {
                return;
            }
        }
    });
}

/// Whether `deadline` has passed; sleeps a little between polls.
fn poll(deadline: Instant) -> bool {
    if Instant::now() >= deadline {
        return false;
    }
    std::thread::sleep(Duration::from_millis(20));
    true
}

/// One host's role watcher, as seen from the test.
pub struct Watcher {
    child: Child,
    _stdin: ChildStdin,
    rx: mpsc::Receiver<(Instant, RoleKind)>,
    /// Every role printed, with the time the test read it.
    pub log: Vec<(Instant, RoleKind)>,
}

impl Watcher {
    pub fn start(ns: &Namespace) -> Watcher {
        let mut child = ns
            .test_helper(HELPER, &[(WATCH_ENV, VIP)])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("cannot start the role printer");
        let stdout = child.stdout.take().unwrap();
        let stdin = child.stdin.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                // The first line follows libtest's "test role_printer ... ".
                let Some(rest) = line.find(LINE).map(|i| &line[i + LINE.len()..]) else {
                    continue;
                };
                let kind = match rest.split_whitespace().next() {
                    Some("active") => RoleKind::Active,
                    Some("standby") => RoleKind::Standby,
                    _ => continue,
                };
                if tx.send((Instant::now(), kind)).is_err() {
                    return;
                }
            }
        });
        Watcher {
            child,
            _stdin: stdin,
            rx,
            log: Vec::new(),
        }
    }

    fn drain(&mut self) {
        while let Ok(e) = self.rx.try_recv() {
            self.log.push(e);
        }
    }

    /// The role printed last, if any.
    pub fn role(&mut self) -> Option<RoleKind> {
        self.drain();
        self.log.last().map(|e| e.1)
    }

    /// Waits until the role is `want` and returns when it became so.
    pub fn wait_for(&mut self, want: RoleKind, within: Duration) -> Result<Instant, String> {
        let deadline = Instant::now() + within;
        loop {
            self.drain();
            if let Some((at, kind)) = self.log.last()
                && *kind == want
            {
                return Ok(*at);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left.min(Duration::from_millis(100))) {
                Ok(e) => self.log.push(e),
                Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {}
                Err(_) => return Err(format!("no {want} within {within:?}; printed {:?}", self.kinds())),
            }
        }
    }

    fn kinds(&self) -> Vec<RoleKind> {
        self.log.iter().map(|e| e.1).collect()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How a keepalived instance is set up.
#[derive(Clone, Copy, Debug)]
pub struct Vrrp {
    pub priority: u8,
    pub preempt: bool,
    /// Unicast adverts to the other host instead of multicast.
    pub unicast: bool,
}

/// A keepalived in a host's namespace, in its own process group.
pub struct Keepalived {
    child: Child,
    log: std::path::PathBuf,
    ended: bool,
}

impl Keepalived {
    /// Sends `signal` to the whole group (parent and VRRP child at once)
    /// and waits for the parent to end.
    pub fn signal(&mut self, signal: &str) {
        let group = format!("-{}", self.child.id());
        run(&["kill", "-s", signal, "--", &group]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().unwrap().is_none() {
            assert!(poll(deadline), "keepalived did not end after {signal}");
        }
        self.ended = true;
    }

    /// Waits until keepalived's log holds `needle`.
    pub fn wait_log(&self, needle: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while !std::fs::read_to_string(&self.log).unwrap_or_default().contains(needle) {
            assert!(
                poll(deadline),
                "keepalived never logged {needle:?}:\n{}",
                self.log_tail()
            );
        }
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Keepalived {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}

/// One monitoring host: its namespace, address, keepalived and watcher.
pub struct Host {
    pub name: &'static str,
    pub ip: &'static str,
    pub keepalived: Option<Keepalived>,
    pub watch: Watcher,
    pub dir: tempfile::TempDir,
    pub ns: Namespace,
}

impl Host {
    /// Whether the virtual address is on this host's interface now.
    pub fn holds(&self) -> bool {
        let out = self
            .ns
            .command("ip")
            .args(["-br", "addr", "show", "dev", "eth0"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).contains(&format!("{VIP}/"))
    }

    /// keepalived's configuration for this host.
    pub fn config(&self, v: Vrrp, peer_ip: &str) -> String {
        let preempt = if v.preempt { "" } else { "  nopreempt\n" };
        let unicast = if v.unicast {
            format!("  unicast_src_ip {}\n  unicast_peer {{\n    {peer_ip}\n  }}\n", self.ip)
        } else {
            String::new()
        };
        format!(
            "global_defs {{\n  router_id {}\n}}\nvrrp_instance failoverd {{\n  state BACKUP\n  interface eth0\n  \
             virtual_router_id 51\n  priority {}\n  advert_int 1\n{preempt}{unicast}  virtual_ipaddress {{\n    \
             {VIP}/24 dev eth0\n  }}\n}}\n",
            self.name, v.priority
        )
    }

    /// Starts keepalived (none may run yet).
    pub fn start_keepalived(&mut self, v: Vrrp, peer_ip: &str) {
        let text = self.config(v, peer_ip);
        self.start_keepalived_with(&text);
    }

    /// Starts keepalived with the configuration `text`.
    pub fn start_keepalived_with(&mut self, text: &str) {
        assert!(self.keepalived.is_none(), "{}: keepalived runs already", self.name);
        let dir = self.dir.path();
        let conf = dir.join("keepalived.conf");
        std::fs::write(&conf, text).unwrap();
        let log = dir.join("keepalived.log");
        let file = std::fs::File::create(&log).unwrap();
        let p = |f: &str| dir.join(f).to_str().unwrap().to_string();
        use std::os::unix::process::CommandExt;
        let child = self
            .ns
            .command("keepalived")
            .args(["-f", &p("keepalived.conf"), "-p", &p("k.pid"), "-r", &p("v.pid")])
            .args(["-n", "-l", "-D", "-P"])
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .process_group(0)
            .spawn()
            .expect("cannot start keepalived");
        self.keepalived = Some(Keepalived {
            child,
            log,
            ended: false,
        });
    }

    /// Stops keepalived with `signal` (TERM: a clean stop, KILL: a crash).
    pub fn stop_keepalived(&mut self, signal: &str) {
        self.keepalived.take().expect("keepalived runs").signal(signal);
    }
}

/// A `failoverd run` in a host's namespace (dry run, one group probing
/// loopback, `[http]` on 127.0.0.1:9733 as the keepalived example's track
/// script expects); killed when dropped.
pub struct Failoverd {
    child: Child,
}

impl Failoverd {
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Failoverd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Host {
    /// Starts failoverd and waits until its /status answers.
    pub fn start_failoverd(&self, peer_ip: &str) -> Failoverd {
        use std::os::unix::fs::PermissionsExt;
        let dir = self.dir.path().join("failoverd");
        let _ = std::fs::create_dir(&dir);
        let settings = format!(
            "groups = [\"g.xml\"]\nstate_dir = \"state\"\n\n[connections.A]\ntargets = [\"127.0.0.1\"]\nvia = \"underlay\"\n\n\
             [firewall]\nurl = \"https://127.0.0.1:4444\"\nusername = \"api\"\npassword_file = \"pw\"\ndry_run = true\n\n\
             [http]\nlisten = \"127.0.0.1:9733\"\n\n[ha]\naddress = \"{VIP}\"\npeer = \"http://{peer_ip}:9733/status\"\n"
        );
        std::fs::write(dir.join("failoverd.toml"), settings).unwrap();
        std::fs::write(
            dir.join("g.xml"),
            "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection>\
             </MemberConnections></GroupDetail></VPNFailoverGroup>",
        )
        .unwrap();
        std::fs::write(dir.join("pw"), "secret").unwrap();
        std::fs::set_permissions(dir.join("pw"), std::fs::Permissions::from_mode(0o600)).unwrap();
        let log = std::fs::File::create(dir.join("failoverd.log")).unwrap();
        let child = self
            .ns
            .command(env!("CARGO_BIN_EXE_failoverd"))
            .args(["run", "-c", dir.join("failoverd.toml").to_str().unwrap()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("cannot start failoverd");
        let daemon = Failoverd { child };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.status_answers() {
            let log = std::fs::read_to_string(dir.join("failoverd.log")).unwrap_or_default();
            assert!(
                poll(deadline),
                "{}: failoverd's /status never answered:\n{log}",
                self.name
            );
        }
        daemon
    }

    /// What the keepalived example's track script asks.
    pub fn status_answers(&self) -> bool {
        self.ns
            .command("curl")
            .args(["--silent", "--fail", "--max-time", "2", "--output", "/dev/null"])
            .arg("http://127.0.0.1:9733/status")
            .status()
            .is_ok_and(|s| s.success())
    }
}

/// Two hosts on one bridge.
pub struct Lan {
    pub a: Host,
    pub b: Host,
    pub switch: Namespace,
}

impl Lan {
    /// The hosts, wired and addressed, watchers running, no keepalived.
    pub fn new() -> Lan {
        let switch = Namespace::new();
        switch.exec(&["ip", "link", "add", "br0", "type", "bridge"]);
        switch.exec(&["ip", "link", "set", "br0", "up"]);
        let host = |name: &'static str, ip: &'static str| {
            let ns = Namespace::new();
            let port = format!("p{name}");
            switch.exec(&[
                "ip", "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &ns.name,
            ]);
            switch.exec(&["ip", "link", "set", &port, "master", "br0"]);
            switch.exec(&["ip", "link", "set", &port, "up"]);
            ns.exec(&["ip", "addr", "add", &format!("{ip}/24"), "dev", "eth0"]);
            ns.exec(&["ip", "link", "set", "eth0", "up"]);
            let watch = Watcher::start(&ns);
            Host {
                name,
                ip,
                keepalived: None,
                watch,
                dir: tempfile::tempdir().unwrap(),
                ns,
            }
        };
        let a = host("a", "198.51.100.11");
        let b = host("b", "198.51.100.12");
        Lan { a, b, switch }
    }

    /// Starts keepalived on both: `a` with priority 150, `b` with 100.
    pub fn start(&mut self, preempt: bool, unicast: bool) {
        let v = |priority| Vrrp {
            priority,
            preempt,
            unicast,
        };
        let (a_ip, b_ip) = (self.a.ip, self.b.ip);
        self.a.start_keepalived(v(150), b_ip);
        self.settle(Some('a'), Duration::from_secs(15));
        self.b.start_keepalived(v(100), a_ip);
        // Listening for adverts before any test makes a fail.
        let b = self.b.keepalived.as_ref().unwrap();
        b.wait_log("Entering BACKUP STATE", Duration::from_secs(15));
    }

    pub fn start_a(&mut self, preempt: bool, unicast: bool) {
        let v = Vrrp {
            priority: 150,
            preempt,
            unicast,
        };
        let b_ip = self.b.ip;
        self.a.start_keepalived(v, b_ip);
    }

    /// Pulls `host`'s cable at the switch, or plugs it back in.
    pub fn link(&self, host: char, up: bool) {
        let port = format!("p{host}");
        self.switch
            .exec(&["ip", "link", "set", &port, if up { "up" } else { "down" }]);
    }

    /// Takes `host`'s switch port out of the bridge (the link stays up,
    /// nothing is forwarded), or puts it back.
    pub fn isolate(&self, host: char, cut: bool) {
        let port = format!("p{host}");
        if cut {
            self.switch.exec(&["ip", "link", "set", &port, "nomaster"]);
        } else {
            self.switch.exec(&["ip", "link", "set", &port, "master", "br0"]);
        }
    }

    /// Waits until `holder` (or no host) has the address, its watcher says
    /// active and the other's standby. Returns a diagnosis on timeout.
    pub fn settle(&mut self, holder: Option<char>, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let (ha, hb) = (self.a.holds(), self.b.holds());
            let (ra, rb) = (self.a.watch.role(), self.b.watch.role());
            let want = |h: char| {
                if holder == Some(h) {
                    RoleKind::Active
                } else {
                    RoleKind::Standby
                }
            };
            let truth = (ha, hb) == (holder == Some('a'), holder == Some('b'));
            if truth && ra == Some(want('a')) && rb == Some(want('b')) {
                return;
            }
            if !poll(deadline) {
                panic!(
                    "not settled on {holder:?} within {within:?}: a holds {ha}, says {ra:?}; b holds {hb}, says {rb:?}\n\
                     keepalived a: {}\nkeepalived b: {}",
                    self.a.keepalived.as_ref().map(Keepalived::log_tail).unwrap_or_default(),
                    self.b.keepalived.as_ref().map(Keepalived::log_tail).unwrap_or_default(),
                );
            }
        }
    }

    /// Waits until each watcher says what its host's address says: the
    /// watcher follows the level, whatever keepalived did.
    pub fn watchers_follow(&mut self, within: Duration) -> (bool, bool) {
        let deadline = Instant::now() + within;
        loop {
            let (ha, hb) = (self.a.holds(), self.b.holds());
            let role = |h: bool| Some(if h { RoleKind::Active } else { RoleKind::Standby });
            if self.a.watch.role() == role(ha) && self.b.watch.role() == role(hb) {
                return (ha, hb);
            }
            assert!(
                poll(deadline),
                "the watchers do not follow the addresses (a {ha}, b {hb})"
            );
        }
    }
}

/// The stretches of time during which both logs say active, up to `end`.
pub fn both_active(a: &[(Instant, RoleKind)], b: &[(Instant, RoleKind)], end: Instant) -> Vec<Duration> {
    let mut events: Vec<(Instant, usize, RoleKind)> = a
        .iter()
        .map(|e| (e.0, 0, e.1))
        .chain(b.iter().map(|e| (e.0, 1, e.1)))
        .collect();
    events.sort_by_key(|e| e.0);
    let mut now = [RoleKind::Standby; 2];
    let mut since = None;
    let mut out = Vec::new();
    for (at, who, kind) in events {
        now[who] = kind;
        let both = now == [RoleKind::Active; 2];
        match (both, since) {
            (true, None) => since = Some(at),
            (false, Some(s)) => {
                out.push(at - s);
                since = None;
            }
            _ => {}
        }
    }
    if let Some(s) = since {
        out.push(end - s);
    }
    out
}

/// Median and worst of `samples`, for printing.
pub fn median_worst(samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort();
    (samples[samples.len() / 2], *samples.last().unwrap())
}

/// Whether keepalived is installed; if not, say so visibly.
pub fn have_keepalived(test: &str) -> bool {
    let ok = Command::new("keepalived")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        crate::netutil::skipped(&format!(
            "{test}: keepalived is not installed (Debian package keepalived)"
        ));
    }
    ok
}
