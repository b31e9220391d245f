//! failoverd-bench: the benchmark of issue #7. Runs the release `failoverd`
//! binary on generated settings against loopback targets, runs `fping` and
//! a bare connect-and-close loop on the same targets at the same rate as
//! separate processes, measures each from /proc, and prints one table.
//!
//! `failoverd-bench all` is what `scripts/bench.sh` runs; see BENCHMARKS.md.

mod daemon;
mod detect;
mod floor;
mod measure;
mod metrics_page;
mod page;
mod scenarios;
mod snmp;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "failoverd-bench",
    about = "Benchmarks failoverd against fping and a bare connect loop"
)]
pub struct Cli {
    /// The failoverd binary under test.
    #[arg(long, global = true, default_value = "target/release/failoverd")]
    pub failoverd: PathBuf,
    /// Measured seconds per process and scenario.
    #[arg(long, global = true, default_value_t = 30)]
    pub duration: u64,
    /// Seconds each process runs before the measurement starts.
    #[arg(long, global = true, default_value_t = 8)]
    pub warmup: u64,
    /// Detection trials.
    #[arg(long, global = true, default_value_t = 20)]
    pub trials: usize,
    /// ICMP target counts.
    #[arg(long, global = true, value_delimiter = ',', default_value = "1000,10000")]
    pub icmp: Vec<usize>,
    /// TCP target counts.
    #[arg(long, global = true, value_delimiter = ',', default_value = "1000,5000")]
    pub tcp: Vec<usize>,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Every scenario, one table (the ones needing root are skipped, visibly, without it).
    All,
    /// N ICMP targets in 127.0.0.0/8: failoverd and fping.
    Icmp,
    /// N TCP targets on loopback: failoverd and the bare connect loop.
    Tcp,
    /// Detection delay of a dead peer in a network namespace.
    Detect,
    /// Start-up with 1,000 groups of 2 members; idle RSS with 10 groups.
    Startup,
    /// The status page, in-process: history memory at 10,000 targets, CPU of one page of 1,000.
    Page,
    /// Walks of a real snmpd's tunnel table of 1,000 rows: CPU per walk.
    Snmp,
    /// /metrics at 10,000 ICMP streams: page bytes, CPU of one scrape, peak RSS.
    Metrics,
    /// (internal) the bare connect-and-close loop, run as its own process.
    #[command(hide = true)]
    Floor {
        #[arg(long)]
        targets: PathBuf,
        #[arg(long)]
        port: u16,
        #[arg(long, default_value_t = 1000)]
        interval_ms: u64,
        #[arg(long, default_value_t = 1000)]
        timeout_ms: u64,
        #[arg(long)]
        seconds: f64,
    },
}

/// One line of the table.
#[derive(Clone, Debug, Default)]
pub struct Row {
    pub scenario: String,
    pub n: String,
    pub process: String,
    pub cpu_s: Option<f64>,
    pub rss_mib: Option<f64>,
    pub checks_s: Option<f64>,
    pub lost: Option<u64>,
    /// Seconds the CPU time was measured over (for % of a core).
    pub seconds: Option<f64>,
    /// Ratio to the reference, or the scenario's own figure.
    pub result: String,
    pub target: String,
    pub met: Option<bool>,
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn print_table(rows: &[Row]) {
    let head = [
        "scenario",
        "N",
        "process",
        "CPU s",
        "CPU %",
        "peak RSS MiB",
        "checks/s",
        "lost",
        "result",
        "target",
        "met",
    ];
    let opt = |v: Option<f64>, p: usize| v.map_or("-".to_string(), |v| format!("{v:.p$}"));
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.scenario.clone(),
                r.n.clone(),
                r.process.clone(),
                opt(r.cpu_s, 2),
                opt(r.cpu_s.zip(r.seconds).map(|(c, s)| 100.0 * c / s), 1),
                opt(r.rss_mib, 1),
                opt(r.checks_s, 0),
                r.lost.map_or("-".to_string(), |l| l.to_string()),
                r.result.clone(),
                r.target.clone(),
                match r.met {
                    Some(true) => "yes".into(),
                    Some(false) => "NO".into(),
                    None => "-".into(),
                },
            ]
        })
        .collect();
    let mut width: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for c in &cells {
        for (i, v) in c.iter().enumerate() {
            width[i] = width[i].max(v.chars().count());
        }
    }
    let line = |vals: Vec<String>| {
        let padded: Vec<String> = vals
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{v}{}", " ".repeat(width[i] - v.chars().count())))
            .collect();
        println!("| {} |", padded.join(" | "));
    };
    line(head.iter().map(|s| s.to_string()).collect());
    println!(
        "|{}|",
        width.iter().map(|w| "-".repeat(w + 2)).collect::<Vec<_>>().join("|")
    );
    for c in cells {
        line(c);
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Cmd::Floor {
        targets,
        port,
        interval_ms,
        timeout_ms,
        seconds,
    } = &cli.cmd
    {
        return floor::run(targets, *port, *interval_ms, *timeout_ms, *seconds);
    }
    if let Cmd::Page = cli.cmd {
        let rows = page::run();
        print_table(&rows);
        return ExitCode::from(u8::from(rows.iter().any(|r| r.met == Some(false))));
    }
    if let Cmd::Snmp = &cli.cmd {
        let rows = snmp::run(1000);
        println!();
        print_table(&rows);
        return ExitCode::SUCCESS;
    }
    if !cli.failoverd.exists() {
        eprintln!(
            "no failoverd binary at {}: build it (cargo build --release -p failoverd) or pass --failoverd",
            cli.failoverd.display()
        );
        return ExitCode::from(2);
    }
    let load_before = loadavg();
    let mut rows = Vec::new();
    let want = |c: &str| matches!(&cli.cmd, Cmd::All) || format!("{:?}", cli.cmd).eq_ignore_ascii_case(c);
    if want("icmp") {
        for &n in &cli.icmp {
            rows.extend(scenarios::icmp(&cli, n));
        }
    }
    if want("tcp") {
        for &n in &cli.tcp {
            rows.extend(scenarios::tcp(&cli, n));
        }
    }
    if want("detect") {
        rows.extend(detect::run(&cli));
    }
    if want("startup") {
        rows.extend(scenarios::startup(&cli));
    }
    if want("page") {
        rows.extend(page::run());
    }
    if want("snmp") {
        rows.extend(snmp::run(1000));
    }
    if want("metrics") {
        rows.extend(metrics_page::metrics_page(&cli));
    }
    println!();
    print_table(&rows);
    // Other work on the machine moves CPU figures: say how busy it was.
    println!(
        "\nload average (1 min) at start {load_before}, at end {}; the processes are measured one after another",
        loadavg()
    );
    if rows.iter().any(|r| r.met == Some(false)) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Progress on stderr.
#[macro_export]
macro_rules! say {
    ($($t:tt)*) => { eprintln!("[bench] {}", format!($($t)*)) };
}
