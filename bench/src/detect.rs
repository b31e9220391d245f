//! Detection delay: an underlay group of two members whose targets are two
//! addresses of one peer in a network namespace. The peer dies (`ip -n NS
//! link set DEV down`) at a random moment; the delay runs until the
//! emulator receives the DeActive push.
//!
//! The bound each trial is measured against is the earliest moment the
//! settings allow a DeActive, given when the checks are scheduled:
//! - a raw ICMP socket inside the peer's namespace sees every echo request
//!   that reached the peer; the last one, at `s`, was answered, so the
//!   first check that can fail is the next one, at `s + interval`, and
//!   the target is down `fall` failed checks later, at
//!   `s + fall × interval + timeout`; the group is down at the later of its
//!   two members' moments, `D`;
//! - the guard then waits for an anchor (the API host: a TCP connect to the
//!   firewall's port) to finish a check sent after `D`. A proxy in front of
//!   the emulator records the anchor's connects; the next anchor check due
//!   at or after `D` on its schedule, `A`, is when that can happen at the
//!   earliest (a loopback connect takes microseconds).
//!
//! bound = max(D, A); beyond = push received − bound.

use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sfos_emulator::ActionKind;

use crate::daemon::{Daemon, Scratch};
use crate::measure::percentile;
use crate::scenarios::{emulator, live_settings, write_password};
use crate::{Cli, Row, is_root, say};

const INTERVAL: Duration = Duration::from_secs(1);
const TIMEOUT: Duration = Duration::from_secs(1);
const FALL: u32 = 3;
const SETTLE: Duration = Duration::from_secs(10);
/// The target (issue #16): the 95th percentile beyond the bound, ms.
const P95_BEYOND_MS: f64 = 10.0;

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The peer: a namespace, a veth pair 198.19.254.1/29 (host) to .2 and .3
/// (peer); removed when dropped.
struct Peer {
    ns: String,
    host_if: String,
    peer_if: String,
}

impl Peer {
    fn new() -> Result<Peer, String> {
        let pid = std::process::id();
        let p = Peer {
            ns: format!("fobench{pid}"),
            host_if: format!("fbh{pid}"),
            peer_if: format!("fbp{pid}"),
        };
        let _ = ip(&["netns", "del", &p.ns]);
        ip(&["netns", "add", &p.ns])?;
        ip(&["-n", &p.ns, "link", "set", "lo", "up"])?;
        ip(&[
            "link", "add", &p.host_if, "type", "veth", "peer", "name", &p.peer_if, "netns", &p.ns,
        ])?;
        ip(&["addr", "add", "198.19.254.1/29", "dev", &p.host_if])?;
        ip(&["-n", &p.ns, "addr", "add", "198.19.254.2/29", "dev", &p.peer_if])?;
        ip(&["-n", &p.ns, "addr", "add", "198.19.254.3/29", "dev", &p.peer_if])?;
        ip(&["link", "set", &p.host_if, "up"])?;
        ip(&["-n", &p.ns, "link", "set", &p.peer_if, "up"])?;
        Ok(p)
    }

    fn link(&self, up: bool) -> Result<(), String> {
        ip(&[
            "-n",
            &self.ns,
            "link",
            "set",
            &self.peer_if,
            if up { "up" } else { "down" },
        ])
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = ip(&["link", "del", &self.host_if]);
        let _ = ip(&["netns", "del", &self.ns]);
    }
}

type Seen = Arc<Mutex<Vec<(SystemTime, Ipv4Addr)>>>;

/// Records every echo request that reaches the peer: a thread joins the
/// namespace and reads a raw ICMP socket (the kernel still answers).
fn observe(ns: &str, stop: Arc<AtomicBool>) -> Result<Seen, String> {
    let seen: Seen = Arc::default();
    let into = seen.clone();
    let path = format!("/run/netns/{ns}");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let setup = || -> Result<i32, String> {
            let f = std::fs::File::open(&path).map_err(|e| format!("{path}: {e}"))?;
            // SAFETY: setns on a namespace file we hold open; it moves this thread only.
            if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(format!("setns: {}", std::io::Error::last_os_error()));
            }
            // SAFETY: plain socket(2) call.
            let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP) };
            if fd < 0 {
                return Err(format!("raw socket: {}", std::io::Error::last_os_error()));
            }
            let tv = libc::timeval {
                tv_sec: 0,
                tv_usec: 200_000,
            };
            // SAFETY: setting SO_RCVTIMEO with a timeval of the right size.
            unsafe {
                libc::setsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    libc::SO_RCVTIMEO,
                    (&tv as *const libc::timeval).cast(),
                    std::mem::size_of::<libc::timeval>() as u32,
                );
            }
            Ok(fd)
        };
        let fd = match setup() {
            Ok(fd) => {
                let _ = tx.send(Ok(()));
                fd
            }
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        };
        let mut buf = [0u8; 2048];
        while !stop.load(Ordering::Relaxed) {
            // SAFETY: recv into a buffer we own, with its length.
            let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
            let at = SystemTime::now();
            if n < 20 {
                continue;
            }
            let ihl = usize::from(buf[0] & 0x0f) * 4;
            if (n as usize) > ihl && buf[ihl] == 8 {
                let dst = Ipv4Addr::new(buf[16], buf[17], buf[18], buf[19]);
                into.lock().unwrap().push((at, dst));
            }
        }
        // SAFETY: closing the socket this thread opened.
        unsafe { libc::close(fd) };
    });
    rx.recv().map_err(|e| e.to_string())??;
    Ok(seen)
}

type Anchors = Arc<Mutex<Vec<SystemTime>>>;

/// A TCP proxy in front of the emulator that records when connections
/// that send nothing (the anchor's connect checks) were opened.
async fn proxy(upstream: std::net::SocketAddr, anchors: Anchors) -> std::io::Result<u16> {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = l.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((mut down, _)) = l.accept().await {
            let at = SystemTime::now();
            let anchors = anchors.clone();
            tokio::spawn(async move {
                let Ok(mut up) = tokio::net::TcpStream::connect(upstream).await else {
                    return;
                };
                let sent = tokio::io::copy_bidirectional(&mut down, &mut up).await;
                if matches!(sent, Ok((0, _)) | Err(_)) {
                    anchors.lock().unwrap().push(at);
                }
            });
        }
    });
    Ok(port)
}

fn secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64()
}

/// Pseudo-random in [0, 1): xorshift seeded from the clock.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub fn run(cli: &Cli) -> Vec<Row> {
    let mut row = Row {
        scenario: format!("detect (fall {FALL}, interval 1s, timeout 1s)"),
        n: cli.trials.to_string(),
        process: "failoverd".into(),
        target: format!("p95 beyond bound <= {P95_BEYOND_MS:.0} ms"),
        ..Row::default()
    };
    if !is_root() {
        say!("SKIPPED detect: needs root (network namespace, veth, raw socket)");
        row.result = "SKIPPED: needs root".into();
        return vec![row];
    }
    match trials(cli) {
        Ok((beyond, raw)) => {
            let p50 = percentile(&beyond, 50.0) * 1000.0;
            let p95 = percentile(&beyond, 95.0) * 1000.0;
            let naive = |p| (percentile(&raw, p) - ((FALL - 1) as f64 + 1.0)) * 1000.0;
            row.result = format!(
                "beyond bound: p50 {p50:.0} ms, p95 {p95:.0} ms (from death minus (fall-1)*interval+timeout: p50 {:.0} ms, p95 {:.0} ms)",
                naive(50.0),
                naive(95.0)
            );
            row.met = Some(p95 <= P95_BEYOND_MS);
        }
        Err(e) => {
            say!("detect: {e}");
            row.result = format!("FAILED: {}", e.lines().next().unwrap_or(""));
            row.met = Some(false);
        }
    }
    vec![row]
}

/// Per trial: seconds beyond the bound, and seconds from the death.
fn trials(cli: &Cli) -> Result<(Vec<f64>, Vec<f64>), String> {
    let peer = Peer::new()?;
    let stop = Arc::new(AtomicBool::new(false));
    let seen = observe(&peer.ns, stop.clone())?;
    let members = vec![vec!["A".to_string(), "B".to_string()]];
    let (rt, emu) = emulator(1, &members);
    let anchors: Anchors = Arc::default();
    let port = rt
        .block_on(proxy(emu.addr(), anchors.clone()))
        .map_err(|e| e.to_string())?;
    let dir = Scratch::new("detect");
    write_password(&dir);
    let connections = r#"[connections.A]
targets = ["198.19.254.2"]
via = "underlay"
[connections.B]
targets = ["198.19.254.3"]
via = "underlay""#;
    let settings = live_settings(
        &emu,
        &format!("interval = \"1s\"\ntimeout = \"1s\"\nfall = {FALL}\nrise = 2"),
        "flap_limit = 1000",
        connections,
    )
    .replace(&emu.url(), &format!("https://127.0.0.1:{port}"));
    let settings = dir.write("failoverd.toml", &settings);
    dir.write(
        "groups.xml",
        "<VPNFailoverGroup><GroupDetail><Name>G0</Name><MemberConnections><Connection>A</Connection><Connection>B</Connection></MemberConnections><FailoverCondition><FailoverIF><Protocol>PING</Protocol></FailoverIF></FailoverCondition></GroupDetail></VPNFailoverGroup>",
    );
    let mut d = Daemon::start(&cli.failoverd, &dir, &settings)?;
    let result = (|| {
        d.wait_ready(Duration::from_secs(30))?;
        let pushed = |kind: ActionKind, after: usize| {
            emu.requests().iter().enumerate().skip(after).find_map(|(i, r)| {
                r.actions
                    .iter()
                    .any(|a| a.group == "G0" && a.action == kind && a.code.is_some_and(|c| c < 300))
                    .then_some((i, r.at))
            })
        };
        let wait_for = |kind: ActionKind, after: usize, limit: Duration| {
            let deadline = Instant::now() + limit;
            loop {
                if let Some(got) = pushed(kind, after) {
                    return Ok(got);
                }
                if Instant::now() > deadline {
                    return Err(format!(
                        "no accepted {kind:?} of G0 within {limit:?}; log:\n{}",
                        d.log_tail()
                    ));
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        };
        let (mut index, _) = wait_for(ActionKind::Active, 0, Duration::from_secs(30))?;
        // The guard wants `settle` of quiet anchors: let it pass once.
        std::thread::sleep(SETTLE + Duration::from_secs(2));
        let mut rng = Rng(SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as u64
            | 1);
        let (mut beyond, mut raw) = (Vec::new(), Vec::new());
        for trial in 0..cli.trials {
            std::thread::sleep(Duration::from_secs_f64(1.0 + 2.0 * rng.next()));
            let before = SystemTime::now();
            peer.link(false)?;
            let after = SystemTime::now();
            let (i, at) = wait_for(ActionKind::DeActive, index + 1, Duration::from_secs(30))?;
            index = i;
            // The group is down at the later member's fall-th failed check.
            let seen_now = seen.lock().unwrap().clone();
            let mut down = 0.0f64;
            for t in [Ipv4Addr::new(198, 19, 254, 2), Ipv4Addr::new(198, 19, 254, 3)] {
                let last = seen_now
                    .iter()
                    .filter(|(at, dst)| *dst == t && *at <= after)
                    .map(|(at, _)| secs(*at))
                    .fold(f64::NAN, f64::max);
                if last.is_nan() {
                    return Err(format!("no echo request to {t} was seen"));
                }
                down = down.max(last + FALL as f64 * INTERVAL.as_secs_f64() + TIMEOUT.as_secs_f64());
            }
            let a_prev = anchors
                .lock()
                .unwrap()
                .iter()
                .map(|t| secs(*t))
                .filter(|t| *t <= down)
                .fold(f64::NAN, f64::max);
            if a_prev.is_nan() {
                return Err("no anchor check was seen".into());
            }
            let i_s = INTERVAL.as_secs_f64();
            let a_next = a_prev + i_s * ((down - a_prev) / i_s).ceil();
            let bound = down.max(a_next);
            let got = secs(at);
            beyond.push(got - bound);
            raw.push(got - secs(before));
            say!(
                "detect trial {}: DeActive {:.3} s after the death (ip took {:.1} ms), {:.1} ms beyond the bound (group down {:.3} s, anchor {:.3} s after death)",
                trial + 1,
                got - secs(before),
                (secs(after) - secs(before)) * 1000.0,
                (got - bound) * 1000.0,
                down - secs(before),
                a_next - secs(before)
            );
            peer.link(true)?;
            let (i, _) = wait_for(ActionKind::Active, index + 1, Duration::from_secs(30))?;
            index = i;
        }
        beyond.sort_by(f64::total_cmp);
        raw.sort_by(f64::total_cmp);
        Ok((beyond, raw))
    })();
    d.stop();
    stop.store(true, Ordering::Relaxed);
    drop(rt);
    result
}
