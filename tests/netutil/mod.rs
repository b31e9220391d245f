//! Test networks for the probe tests: root detection with a visible skip,
//! network namespaces and veth pairs torn down by drop guards, nftables
//! rules in a peer namespace, and re-running a test inside a namespace or
//! as another user.
//!
//! Only loopback and namespaces made here are ever probed. IPv4 addresses
//! come from the benchmark range 198.18.0.0/15 (veth pairs in 198.18.0.0/16,
//! extra addresses in 198.19.0.0/16), IPv6 ones from 2001:2::/48.
//!
//! Needs, as root: iproute2 (`ip`), nftables (`nft`), procps (`sysctl`),
//! util-linux (`setpriv`).
#![allow(dead_code)] // each test crate uses a different part

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use failoverd::health::outcome::Outcome;
use failoverd::probe::icmp::{IcmpBinding, IcmpClients, IcmpStreamState};

/// Set in a test process re-run by `Namespace::run_test`.
pub const INNER_ENV: &str = "FAILOVERD_PROBE_IN_NETNS";

/// Whether we run as root; if not, say so on stderr so the skip is visible.
pub fn require_root(test: &str) -> bool {
    let root = effective_uid() == Some(0);
    if !root {
        skipped(&format!("needs root ({test})"));
    }
    root
}

/// Print "SKIPPED: why" on stderr past libtest's output capture (which
/// only takes the print macros), so a skipped test never passes silently.
pub fn skipped(why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED: {why}");
}

fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Run a command; panic with its output if it fails.
pub fn run(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A network namespace with only `lo` up; deleted when dropped.
pub struct Namespace {
    pub name: String,
    /// Unique per namespace in this process (for interface names, subnets).
    pub index: u32,
}

impl Namespace {
    pub fn new() -> Self {
        remove_stale_namespaces();
        let index = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("fod{}n{index}", std::process::id());
        run(&["ip", "netns", "add", &name]);
        let ns = Namespace { name, index };
        ns.exec(&["ip", "link", "set", "lo", "up"]);
        ns
    }

    /// Run a command inside the namespace.
    pub fn exec(&self, args: &[&str]) {
        let mut full = vec!["ip", "netns", "exec", &self.name];
        full.extend_from_slice(args);
        run(&full);
    }

    /// Load an nftables ruleset (nft -f syntax) in the namespace.
    pub fn nft(&self, ruleset: &str) {
        let path = std::env::temp_dir().join(format!("{}.nft", self.name));
        std::fs::write(&path, ruleset).unwrap();
        self.exec(&["nft", "-f", path.to_str().unwrap()]);
        let _ = std::fs::remove_file(path);
    }

    /// Replace the namespace's firewall with an input chain of `rules`
    /// (nft rule syntax, one per entry); no rules: accept everything.
    pub fn filter_input(&self, rules: &[&str]) {
        let mut set = String::from("flush ruleset\ntable inet probe_test {\n");
        set.push_str("  chain input {\n    type filter hook input priority 0;\n");
        for rule in rules {
            set.push_str(&format!("    {rule}\n"));
        }
        set.push_str("  }\n}\n");
        self.nft(&set);
    }

    /// `program` run inside the namespace, not started yet.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name, program]);
        cmd
    }

    /// Test `test` of this test binary, re-run inside the namespace as a
    /// long-running helper process with `env` set; not started yet, not
    /// waited for (the caller owns the child).
    pub fn test_helper(&self, test: &str, env: &[(&str, &str)]) -> Command {
        let exe = std::env::current_exe().unwrap();
        let mut cmd = self.command(exe.to_str().unwrap());
        cmd.args([test, "--exact", "--ignored", "--nocapture", "--test-threads=1"])
            .env(INNER_ENV, "1")
            .envs(env.iter().copied());
        cmd
    }

    /// Re-run test `test` of this test binary inside the namespace (as
    /// `user` if given), with `env` set, and assert that it passed.
    pub fn run_test(&self, test: &str, user: Option<u32>, env: &[(&str, &str)]) {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]);
        rerun_test(cmd, test, user, env);
    }
}

/// Append this test binary, run as `user` if given, to `cmd` and run it.
fn rerun_test(mut cmd: Command, test: &str, user: Option<u32>, env: &[(&str, &str)]) {
    if let Some(uid) = user {
        // A uid change from root clears the capabilities: a plain user.
        cmd.args(["setpriv", &format!("--reuid={uid}"), &format!("--regid={uid}")]);
        cmd.arg("--clear-groups");
    }
    cmd.arg(std::env::current_exe().unwrap())
        .args([test, "--exact", "--ignored", "--nocapture"])
        .env(INNER_ENV, "1")
        .envs(env.iter().copied());
    let status = cmd.status().expect("cannot re-run test");
    assert!(status.success(), "{test} failed when re-run: {cmd:?}");
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}

/// Namespaces left by killed test runs (their pid is gone).
fn remove_stale_namespaces() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some(pid) = name.strip_prefix("fod").and_then(|r| r.split('n').next()) else {
            continue;
        };
        if !pid.is_empty() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
    }
}

/// A peer namespace joined to this host by a veth pair, with IPv4 and IPv6
/// addresses on both ends. The host end goes with the namespace.
pub struct PeerNet {
    pub ns: Namespace,
    pub host_if: String,
    pub peer_if: String,
    pub host_v4: Ipv4Addr,
    pub peer_v4: Ipv4Addr,
    pub host_v6: Ipv6Addr,
    pub peer_v6: Ipv6Addr,
}

impl PeerNet {
    pub fn new() -> Self {
        let ns = Namespace::new();
        // 198.18.0.0/16 only: tests may add addresses from 198.19.0.0/16.
        let slot = (std::process::id() * 16 + ns.index % 16) % 16384;
        let base = u32::from(Ipv4Addr::new(198, 18, 0, 0)) + slot * 4;
        let net = Self {
            host_if: format!("fo{}h{}", std::process::id(), ns.index),
            peer_if: format!("fo{}p{}", std::process::id(), ns.index),
            host_v4: Ipv4Addr::from(base + 1),
            peer_v4: Ipv4Addr::from(base + 2),
            host_v6: Ipv6Addr::new(0x2001, 2, 0, slot as u16, 0, 0, 0, 1),
            peer_v6: Ipv6Addr::new(0x2001, 2, 0, slot as u16, 0, 0, 0, 2),
            ns,
        };
        net.wire();
        net
    }

    /// Create the veth pair and its addresses (again, after `unwire`).
    pub fn wire(&self) {
        let (h, p, ns) = (&self.host_if, &self.peer_if, &self.ns.name);
        run(&["ip", "link", "add", h, "type", "veth", "peer", "name", p, "netns", ns]);
        let keep = format!("net.ipv6.conf.{p}.keep_addr_on_down=1");
        self.ns.exec(&["sysctl", "-qw", &keep]);
        let (h4, p4) = (format!("{}/30", self.host_v4), format!("{}/30", self.peer_v4));
        let (h6, p6) = (format!("{}/64", self.host_v6), format!("{}/64", self.peer_v6));
        run(&["ip", "addr", "add", &h4, "dev", h]);
        run(&["ip", "-6", "addr", "add", &h6, "dev", h, "nodad"]);
        self.ns.exec(&["ip", "addr", "add", &p4, "dev", p]);
        self.ns.exec(&["ip", "-6", "addr", "add", &p6, "dev", p, "nodad"]);
        run(&["ip", "link", "set", h, "up"]);
        self.ns.exec(&["ip", "link", "set", p, "up"]);
    }

    /// Delete the veth pair (both ends), as when a VPN interface goes away.
    pub fn unwire(&self) {
        run(&["ip", "link", "del", &self.host_if]);
    }

    pub fn peer_link_down(&self) {
        self.ns.exec(&["ip", "link", "set", &self.peer_if, "down"]);
    }

    /// Wait, boundedly, until the peer answers pings on both families: the
    /// links are up at once, but the first answer needs ARP and carrier.
    pub async fn wait_ready(&self, clients: &IcmpClients) {
        for addr in [IpAddr::V4(self.peer_v4), IpAddr::V6(self.peer_v6)] {
            let mut stream = IcmpStreamState::new(IcmpBinding::default());
            let mut last = None;
            for _ in 0..50 {
                let got = clients.ping(addr, Duration::from_millis(200), &mut stream).await;
                if matches!(got, Outcome::Good { .. }) {
                    last = None;
                    break;
                }
                last = Some(got);
            }
            assert!(last.is_none(), "{addr} never answered: {last:?}");
        }
    }
}

impl Drop for PeerNet {
    fn drop(&mut self) {
        // Deleting the namespace (field drop) removes the peer and with it
        // the host end; delete the host end too in case the move failed.
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .stderr(Stdio::null())
            .status();
    }
}

/// Two streams pinging `addr` `rounds` times in lockstep: in each round
/// both echo requests are sent before either reply is read (one task, one
/// thread), so their waiters always overlap. Returns every outcome that was
/// not good. With equal sequence numbers on a datagram socket every round
/// would collide (surge-ping issue #73).
pub async fn two_streams_in_lockstep(clients: &IcmpClients, addr: IpAddr, rounds: usize) -> Vec<Outcome> {
    let mut a = IcmpStreamState::new(IcmpBinding::default());
    let mut b = IcmpStreamState::new(IcmpBinding::default());
    let timeout = Duration::from_secs(1);
    let mut bad = Vec::new();
    for _ in 0..rounds {
        let (ra, rb) = tokio::join!(clients.ping(addr, timeout, &mut a), clients.ping(addr, timeout, &mut b));
        bad.extend([ra, rb].into_iter().filter(|o| !matches!(o, Outcome::Good { .. })));
    }
    bad
}

/// Assert `got` is `Failed` with a reason starting with `prefix`.
pub fn assert_failed(got: &Outcome, prefix: &str) {
    match got {
        Outcome::Failed { reason } if reason.starts_with(prefix) => {}
        other => panic!("want Failed \"{prefix}...\", got {other:?}"),
    }
}

/// Assert `got` is `Error` with a reason starting with `prefix`.
pub fn assert_error(got: &Outcome, prefix: &str) {
    match got {
        Outcome::Error { reason } if reason.starts_with(prefix) => {}
        other => panic!("want Error \"{prefix}...\", got {other:?}"),
    }
}

pub fn assert_good(got: &Outcome) {
    assert!(matches!(got, Outcome::Good { .. }), "want Good, got {got:?}");
}
