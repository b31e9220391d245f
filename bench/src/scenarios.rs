//! The ICMP, TCP and start-up scenarios.

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sfos_emulator::{Definition, Emulator, EmulatorConfig, Protocol};

use crate::daemon::{Cond, Daemon, Scratch, connections_toml, groups_xml, stop_child};
use crate::measure::{Checks, cpu_seconds, free_port, peak_rss_mib, scrape, status_mib};
use crate::{Cli, Row, is_root, say};

/// `n` addresses from `base` + 1 on (all of 127.0.0.0/8 answers on loopback).
pub fn loopback_targets(base: Ipv4Addr, n: usize) -> Vec<String> {
    (0..n as u32)
        .map(|i| Ipv4Addr::from(u32::from(base) + i + 1).to_string())
        .collect()
}

/// CPU and peak RSS of running processes (summed) over `seconds`, after
/// they have run `warmup` since `since`; `before`/`after` run just outside
/// the CPU window.
struct Window {
    cpu: f64,
    seconds: f64,
    rss: f64,
}

fn measure<B: FnOnce(), A: FnOnce()>(
    pids: &[u32],
    since: Instant,
    warmup: Duration,
    seconds: Duration,
    before: B,
    after: A,
) -> Result<Window, String> {
    std::thread::sleep((since + warmup).saturating_duration_since(Instant::now()));
    let cpu = || pids.iter().map(|p| cpu_seconds(*p)).sum::<Result<f64, String>>();
    before();
    let c0 = cpu()?;
    let t0 = Instant::now();
    std::thread::sleep(seconds);
    let c1 = cpu()?;
    let elapsed = t0.elapsed().as_secs_f64();
    let rss = pids.iter().map(|p| peak_rss_mib(*p)).sum::<Result<f64, String>>()?;
    after();
    Ok(Window {
        cpu: c1 - c0,
        seconds: elapsed,
        rss,
    })
}

fn failed_row(scenario: &str, n: usize, process: &str, why: String) -> Row {
    say!("{scenario} N={n} {process}: {why}");
    Row {
        scenario: scenario.into(),
        n: n.to_string(),
        process: process.into(),
        result: format!("FAILED: {}", why.lines().next().unwrap_or("")),
        met: Some(false),
        ..Row::default()
    }
}

/// Settings for a throughput run: dry run (every would-be push accepted at
/// once, so only probing is measured), /metrics on `metrics`.
fn throughput_settings(targets: &[String], metrics: SocketAddr) -> String {
    format!(
        r#"groups = ["groups.xml"]
state_dir = "state"
[probe]
interval = "1s"
timeout = "1s"
[firewall]
url = "https://127.0.0.1:9"
username = "bench"
dry_run = true
[http]
listen = "{metrics}"
{}"#,
        connections_toml(targets, "tunnel")
    )
}

/// failoverd's figures: CPU window and peak RSS before /metrics was ever
/// read, the checks counted from READY to the one scrape at the end, and
/// the peak RSS after that scrape (the page of thousands of streams is
/// several MiB, built in memory).
struct Run {
    w: Window,
    checks: Checks,
    checks_s: f64,
    rss_scraped: f64,
}

/// failoverd on `targets` (groups of 2 members, one target each).
fn run_failoverd(cli: &Cli, targets: &[String], cond: Cond, what: &str) -> Result<Run, String> {
    let dir = Scratch::new(what);
    let metrics = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let settings = dir.write("failoverd.toml", &throughput_settings(targets, metrics));
    dir.write("groups.xml", &groups_xml(targets, 2, cond));
    let mut d = Daemon::start(&cli.failoverd, &dir, &settings)?;
    let result = (|| {
        let ready = d.wait_ready(Duration::from_secs(120))?;
        say!("{what}: failoverd READY after {:.0} ms", ready.as_secs_f64() * 1000.0);
        let w = measure(
            &[d.pid()],
            d.started + ready,
            Duration::from_secs(cli.warmup),
            Duration::from_secs(cli.duration),
            || {},
            || {},
        )?;
        let since = (Instant::now() - (d.started + ready)).as_secs_f64();
        let checks = scrape(metrics)?;
        let rss_scraped = peak_rss_mib(d.pid())?;
        Ok(Run {
            checks_s: checks.total() as f64 / since,
            w,
            checks,
            rss_scraped,
        })
    })();
    d.stop();
    result
}

pub fn icmp(cli: &Cli, n: usize) -> Vec<Row> {
    let scenario = "icmp 1s";
    if !is_root() {
        say!("SKIPPED icmp N={n}: needs root (raw ICMP sockets for failoverd and fping)");
        return vec![Row {
            scenario: scenario.into(),
            n: n.to_string(),
            process: "-".into(),
            result: "SKIPPED: needs root".into(),
            ..Row::default()
        }];
    }
    let targets = loopback_targets(Ipv4Addr::new(127, 10, 0, 0), n);
    say!("icmp N={n}: failoverd, {}+{} s", cli.warmup, cli.duration);
    let fo = run_failoverd(cli, &targets, Cond::Ping, &format!("icmp-{n}"));
    say!("icmp N={n}: fping, {}+{} s", cli.warmup, cli.duration);
    let fp = run_fping(cli, &targets);
    let mut rows = Vec::new();
    let fping_row = match &fp {
        Ok((w, xmt, lost, procs)) => Row {
            scenario: scenario.into(),
            n: n.to_string(),
            process: if *procs > 1 {
                format!("fping x{procs}")
            } else {
                "fping".into()
            },
            cpu_s: Some(w.cpu),
            seconds: Some(w.seconds),
            rss_mib: Some(w.rss),
            checks_s: Some(*xmt),
            lost: Some(*lost),
            result: "reference".into(),
            ..Row::default()
        },
        Err(e) => failed_row(scenario, n, "fping", e.clone()),
    };
    match &fo {
        Ok(Run {
            w,
            checks: c,
            checks_s,
            rss_scraped,
        }) => {
            let (cpu_ratio, rss_ratio) = match &fp {
                Ok((f, ..)) => (Some(w.cpu / f.cpu), Some(w.rss / f.rss)),
                Err(_) => (None, None),
            };
            let lost = c.not_good;
            let fmt = |r: Option<f64>| r.map_or("?".to_string(), |r| format!("{r:.2}"));
            let targeted = n >= 10_000;
            let met = cpu_ratio.is_some_and(|r| r <= 1.0) && w.rss < 64.0 && lost == 0;
            rows.push(Row {
                scenario: scenario.into(),
                n: n.to_string(),
                process: "failoverd".into(),
                cpu_s: Some(w.cpu),
                seconds: Some(w.seconds),
                rss_mib: Some(w.rss),
                checks_s: Some(*checks_s),
                lost: Some(lost),
                result: format!(
                    "CPU {}x fping, RSS {}x fping; {rss_scraped:.1} MiB after one /metrics read",
                    fmt(cpu_ratio),
                    fmt(rss_ratio)
                ),
                target: if targeted {
                    "CPU <= 1.0x fping, RSS < 64 MiB, lost 0".into()
                } else {
                    "(none; for scale)".into()
                },
                met: targeted.then_some(met),
            });
        }
        Err(e) => rows.push(failed_row(scenario, n, "failoverd", e.clone())),
    }
    rows.push(fping_row);
    rows
}

/// Targets per fping process: fping 5.1 keeps each sequence number for
/// 10 s out of 65,536 ("not enough sequence numbers available" beyond
/// about 6,500 pings a second), so 10,000 targets at 1 s need two.
pub const FPING_MAX_TARGETS: usize = 5000;

/// The fping command for the `n` targets in `file`: each target every
/// 1000 ms (`-p`), timeout 1000 ms (`-t`), one send every `-i` ms so that a
/// round takes half the period (fping's own overhead per send comes on
/// top of `-i`), quiet with one summary at the end (`-Q 3600`: `-q` does
/// not silence `-l` in fping 5.1).
pub fn fping_args(n: usize, file: &Path) -> Vec<String> {
    let gap_ms = (500.0 / n as f64).min(10.0);
    vec![
        "-l".into(),
        "-Q".into(),
        "3600".into(),
        "-p".into(),
        "1000".into(),
        "-t".into(),
        "1000".into(),
        "-i".into(),
        format!("{gap_ms:.3}"),
        "-f".into(),
        file.display().to_string(),
    ]
}

/// fping on `targets` (several processes at once, at most
/// [`FPING_MAX_TARGETS`] each; CPU and peak RSS summed): the window, sends
/// per second over the whole run, replies lost (sent minus received over
/// the whole run), and how many processes.
fn run_fping(cli: &Cli, targets: &[String]) -> Result<(Window, f64, u64, usize), String> {
    let dir = Scratch::new("fping");
    let started = Instant::now();
    let mut children = Vec::new();
    let mut errfiles = Vec::new();
    for (k, chunk) in targets.chunks(FPING_MAX_TARGETS).enumerate() {
        let file = dir.write(&format!("targets{k}"), &(chunk.join("\n") + "\n"));
        let args = fping_args(chunk.len(), &file);
        say!("fping {}", args.join(" "));
        let errfile = dir.path.join(format!("fping{k}.err"));
        let child = Command::new("fping")
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&errfile).map_err(|e| e.to_string())?)
            .spawn()
            .map_err(|e| format!("cannot run fping: {e}"))?;
        children.push(child);
        errfiles.push(errfile);
    }
    let pids: Vec<u32> = children.iter().map(Child::id).collect();
    let w = measure(
        &pids,
        started,
        Duration::from_secs(cli.warmup),
        Duration::from_secs(cli.duration),
        || {},
        || {},
    );
    let ran = started.elapsed().as_secs_f64();
    for c in &mut children {
        stop_child(c, libc::SIGINT);
    }
    let w = w?;
    let (mut xmt, mut rcv, mut lines) = (0u64, 0u64, 0usize);
    for errfile in &errfiles {
        let err = std::fs::read_to_string(errfile).unwrap_or_default();
        if let Some(bad) = err.lines().find(|l| l.contains("error")) {
            return Err(bad.to_string());
        }
        for line in err.lines() {
            // "127.10.0.1 : xmt/rcv/%loss = 4/4/0%, min/avg/max = ..."
            let Some(v) = line.split("xmt/rcv/%loss = ").nth(1) else {
                continue;
            };
            let mut it = v.split(['/', ',']);
            let (Some(x), Some(r)) = (it.next(), it.next()) else {
                continue;
            };
            xmt += x.trim().parse::<u64>().unwrap_or(0);
            rcv += r.trim().parse::<u64>().unwrap_or(0);
            lines += 1;
        }
    }
    if lines != targets.len() {
        return Err(format!("fping printed {lines} summaries for {} targets", targets.len()));
    }
    Ok((w, xmt as f64 / ran, xmt - rcv, children.len()))
}

/// A listener on 0.0.0.0:`port` (0: any) that accepts and closes, in this
/// process (not measured): it stands in for every TCP peer.
pub fn tcp_sink() -> u16 {
    let l = TcpListener::bind("0.0.0.0:0").expect("cannot listen on 0.0.0.0");
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            drop(s);
        }
    });
    port
}

pub fn tcp(cli: &Cli, n: usize) -> Vec<Row> {
    let scenario = "tcp 1s";
    let port = tcp_sink();
    let targets = loopback_targets(Ipv4Addr::new(127, 20, 0, 0), n);
    say!("tcp N={n}: failoverd, {}+{} s", cli.warmup, cli.duration);
    let fo = run_failoverd(cli, &targets, Cond::Tcp(port), &format!("tcp-{n}"));
    say!("tcp N={n}: bare connect loop, {}+{} s", cli.warmup, cli.duration);
    let fl = run_floor(cli, &targets, port);
    let mut rows = Vec::new();
    let floor_row = match &fl {
        Ok((w, rate, lost)) => Row {
            scenario: scenario.into(),
            n: n.to_string(),
            process: "bare loop".into(),
            cpu_s: Some(w.cpu),
            seconds: Some(w.seconds),
            rss_mib: Some(w.rss),
            checks_s: Some(*rate),
            lost: Some(*lost),
            result: format!("{:.1} us CPU/check", 1e6 * w.cpu / (rate * w.seconds)),
            ..Row::default()
        },
        Err(e) => failed_row(scenario, n, "bare loop", e.clone()),
    };
    match &fo {
        Ok(Run {
            w,
            checks: c,
            checks_s,
            rss_scraped,
        }) => {
            // CPU per check: CPU in the window over the checks it made.
            let per = w.cpu / (checks_s * w.seconds).max(1.0);
            let ratio = fl.as_ref().ok().map(|(f, rate, _)| per / (f.cpu / (rate * f.seconds)));
            let targeted = n >= 5000;
            rows.push(Row {
                scenario: scenario.into(),
                n: n.to_string(),
                process: "failoverd".into(),
                cpu_s: Some(w.cpu),
                seconds: Some(w.seconds),
                rss_mib: Some(w.rss),
                checks_s: Some(*checks_s),
                lost: Some(c.not_good),
                result: format!(
                    "{:.1} us CPU/check, {} x floor; {rss_scraped:.1} MiB after one /metrics read",
                    per * 1e6,
                    ratio.map_or("?".into(), |r| format!("{r:.2}"))
                ),
                target: if targeted {
                    "CPU/check <= 1.5x floor".into()
                } else {
                    "(none; for scale)".into()
                },
                met: targeted.then_some(ratio.is_some_and(|r| r <= 1.5)),
            });
        }
        Err(e) => rows.push(failed_row(scenario, n, "failoverd", e.clone())),
    }
    rows.push(floor_row);
    rows
}

/// The bare loop as its own process: window, connects per second, failed.
fn run_floor(cli: &Cli, targets: &[String], port: u16) -> Result<(Window, f64, u64), String> {
    let dir = Scratch::new("floor");
    let file = dir.write("targets", &(targets.join("\n") + "\n"));
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let total = (cli.warmup + cli.duration + 2) as f64;
    let started = Instant::now();
    let mut child: Child = Command::new(exe)
        .args([
            "floor",
            "--port",
            &port.to_string(),
            "--seconds",
            &total.to_string(),
            "--targets",
        ])
        .arg(&file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let w = measure(
        &[child.id()],
        started,
        Duration::from_secs(cli.warmup),
        Duration::from_secs(cli.duration),
        || {},
        || {},
    );
    let mut out = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut out);
    }
    let _ = child.wait();
    let w = w?;
    let v: Vec<f64> = out.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    let [good, failed, secs] = v[..] else {
        return Err(format!("bare loop printed {out:?}"));
    };
    Ok((w, (good + failed) / secs, failed as u64))
}

/// The emulator on a runtime of its own, knowing groups G0..G{n-1}.
pub fn emulator(groups: usize, members: &[Vec<String>]) -> (tokio::runtime::Runtime, Emulator) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let emu = rt
        .block_on(Emulator::start(EmulatorConfig {
            username: "bench".into(),
            password: "bench-secret".into(),
            ..EmulatorConfig::default()
        }))
        .expect("emulator");
    for (g, m) in members.iter().enumerate().take(groups) {
        emu.add_group(
            Definition {
                name: format!("G{g}"),
                members: m.clone(),
                mail: false,
                failback: Some(true),
                conditions: vec![(Protocol::Ping, None)],
            },
            true,
        );
    }
    (rt, emu)
}

/// Settings against the emulator (pinned certificate, password file).
pub fn live_settings(emu: &Emulator, probe: &str, firewall: &str, connections: &str) -> String {
    format!(
        r#"groups = ["groups.xml"]
state_dir = "state"
[probe]
{probe}
[firewall]
url = "{}"
username = "bench"
password_file = "pw"
pin_sha256 = "{}"
{firewall}
{connections}"#,
        emu.url(),
        emu.cert_fingerprint()
    )
}

pub fn write_password(dir: &Scratch) {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.write("pw", "bench-secret\n");
    let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600));
}

/// Start-up with 1,000 groups of 2 members (TCP members, so no root is
/// needed), five starts; idle RSS with 10 groups.
pub fn startup(cli: &Cli) -> Vec<Row> {
    let port = tcp_sink();
    let mut rows = Vec::new();
    for (groups, label) in [(1000usize, "start-up"), (10, "idle")] {
        let targets = loopback_targets(Ipv4Addr::new(127, 30, 0, 0), groups * 2);
        let members: Vec<Vec<String>> = (0..groups)
            .map(|g| vec![format!("C{}", 2 * g), format!("C{}", 2 * g + 1)])
            .collect();
        let (_rt, emu) = emulator(groups, &members);
        let runs = if label == "idle" { 1 } else { 5 };
        let mut times = Vec::new();
        let mut rss: f64 = 0.0;
        let mut cpu = None;
        let mut secs = None;
        let mut fail = None;
        for _ in 0..runs {
            let dir = Scratch::new(label);
            write_password(&dir);
            let settings = dir.write(
                "failoverd.toml",
                &live_settings(
                    &emu,
                    "interval = \"1s\"\ntimeout = \"1s\"",
                    "",
                    &connections_toml(&targets, "tunnel"),
                ),
            );
            dir.write("groups.xml", &groups_xml(&targets, 2, Cond::Tcp(port)));
            let mut d = match Daemon::start(&cli.failoverd, &dir, &settings) {
                Ok(d) => d,
                Err(e) => {
                    fail = Some(e);
                    break;
                }
            };
            match d.wait_ready(Duration::from_secs(60)) {
                Ok(t) => times.push(t.as_secs_f64() * 1000.0),
                Err(e) => {
                    fail = Some(e);
                    d.stop();
                    break;
                }
            }
            if label == "idle" {
                say!("idle: 10 groups, {}+{} s", cli.warmup, cli.duration);
                match measure(
                    &[d.pid()],
                    Instant::now(),
                    Duration::from_secs(cli.warmup),
                    Duration::from_secs(cli.duration),
                    || {},
                    || {},
                ) {
                    Ok(w) => {
                        rss = w.rss;
                        cpu = Some(w.cpu);
                        secs = Some(w.seconds);
                        let now = status_mib(d.pid(), "VmRSS:").unwrap_or(f64::NAN);
                        say!("idle: VmRSS now {now:.1} MiB, VmHWM {:.1} MiB", w.rss);
                    }
                    Err(e) => fail = Some(e),
                }
            } else {
                std::thread::sleep(Duration::from_secs(3));
                rss = rss.max(peak_rss_mib(d.pid()).unwrap_or(f64::NAN));
            }
            d.stop();
        }
        if let Some(e) = fail {
            rows.push(failed_row(label, groups, "failoverd", e));
            continue;
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        let (result, target, met) = if label == "idle" {
            (
                format!("READY in {median:.0} ms"),
                "peak RSS < 12 MiB".to_string(),
                rss < 12.0,
            )
        } else {
            (
                format!(
                    "READY in {median:.0} ms (median of {}, {:.0}..{:.0})",
                    times.len(),
                    times[0],
                    times[times.len() - 1]
                ),
                "READY < 200 ms".to_string(),
                median < 200.0,
            )
        };
        rows.push(Row {
            scenario: format!("{label} ({groups} groups x 2)"),
            n: groups.to_string(),
            process: "failoverd".into(),
            cpu_s: cpu,
            seconds: secs,
            rss_mib: Some(rss),
            result,
            target,
            met: Some(met),
            ..Row::default()
        });
    }
    rows
}
