//! failoverd-bench: the benchmark of issues #7 and #16. Runs the release
//! `failoverd` binary on generated settings against loopback targets, runs
//! `fping` and a bare connect-and-close loop on the same targets at the same
//! rate as separate processes, measures each from /proc, and prints the
//! headline table (like for like, medians over interleaved rounds, the
//! spread of the rounds), then the detail tables.
//!
//! `failoverd-bench all` is what `scripts/bench.sh` runs; see BENCHMARKS.md.

mod daemon;
mod detect;
mod floor;
mod measure;
mod page;
mod rounds;
mod scenarios;
mod snmp;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "failoverd-bench",
    about = "Benchmarks failoverd against fping and a bare connect loop",
    long_about = "Benchmarks failoverd against fping and a bare connect loop.\n\n\
        For ICMP and TCP each size runs --rounds rounds; a round runs failoverd and its \
        reference one after another (round 1 failoverd first, round 2 the reference first, \
        and so on), each with --warmup and --duration. The headline is the median of the \
        rounds' CPU ratios, with their min..max; every round is printed too.\n\n\
        Exit status: 0 every target met, 1 a target missed, 2 setup failed."
)]
pub struct Cli {
    /// The failoverd binary under test.
    #[arg(long, global = true, default_value = "target/release/failoverd")]
    pub failoverd: PathBuf,
    /// Measured seconds per process, round and scenario.
    #[arg(long, global = true, default_value_t = 30)]
    pub duration: u64,
    /// Seconds each process runs before the measurement starts.
    #[arg(long, global = true, default_value_t = 8)]
    pub warmup: u64,
    /// Interleaved rounds per ICMP and TCP size, and idle runs (at least 1; 3 or more for a median
    /// worth the name).
    #[arg(long, global = true, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub rounds: u32,
    /// Detection trials.
    #[arg(long, global = true, default_value_t = 20)]
    pub trials: usize,
    /// ICMP target counts. Up to 5,000 one fping process is the reference (like for like); a
    /// larger count needs several fping processes and is reported as not like for like.
    #[arg(long, global = true, value_delimiter = ',', default_value = "1000,5000")]
    pub icmp: Vec<usize>,
    /// TCP target counts (the target applies from 5,000; smaller counts are for scale).
    #[arg(long, global = true, value_delimiter = ',', default_value = "1000,5000")]
    pub tcp: Vec<usize>,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Every scenario: the headline table, then the details (the ones needing root are skipped,
    /// visibly, without it).
    All,
    /// N ICMP targets in 127.0.0.0/8: failoverd and fping, interleaved rounds.
    Icmp,
    /// N TCP targets on loopback: failoverd and the bare connect loop, interleaved rounds.
    Tcp,
    /// Detection delay of a dead peer in a network namespace.
    Detect,
    /// Start-up with 1,000 groups of 2 members; and idle (as `idle`).
    Startup,
    /// Idle with 10 groups of 2 members: CPU % and peak RSS, median of --rounds runs.
    Idle,
    /// The status page, in-process: history memory at 10,000 targets, CPU of one page of 1,000.
    Page,
    /// Walks of a real snmpd's tunnel table of 1,000 rows: CPU per walk.
    Snmp,
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

/// Which table a row is printed in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Section {
    /// The like-for-like figures the targets are judged on.
    #[default]
    Headline,
    /// Sizes for scale, not like for like, and the in-process scenarios.
    Detail,
    /// One round of an interleaved scenario (or one idle run).
    Round,
}

/// One line of a table. `ref_*` are the reference process's (fping, the
/// bare loop); in a headline row CPU figures are medians over the rounds,
/// peak RSS the largest, lost the sum.
#[derive(Clone, Debug, Default)]
pub struct Row {
    pub section: Section,
    pub scenario: String,
    pub n: String,
    pub process: String,
    /// Round rows: "2 (fping first)".
    pub round: String,
    pub rounds: Option<usize>,
    pub cpu_s: Option<f64>,
    pub rss_mib: Option<f64>,
    pub checks_s: Option<f64>,
    pub lost: Option<u64>,
    /// Seconds the CPU time was measured over (for % of a core).
    pub seconds: Option<f64>,
    pub ref_cpu_s: Option<f64>,
    pub ref_seconds: Option<f64>,
    pub ref_rss_mib: Option<f64>,
    /// failoverd over the reference (median in a headline row).
    pub ratio: Option<f64>,
    /// Smallest and largest ratio of the rounds.
    pub spread: Option<(f64, f64)>,
    /// The scenario's own figures.
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

/// A column of a table.
#[derive(Clone, Copy)]
enum Col {
    Scenario,
    N,
    Process,
    Round,
    Rounds,
    Cpu,
    CpuPct,
    RefCpu,
    RefCpuPct,
    Rss,
    RefRss,
    Checks,
    Lost,
    Ratio,
    MedianRatio,
    Spread,
    Result,
    Target,
    Met,
}

const HEADLINE: &[Col] = &[
    Col::Scenario,
    Col::N,
    Col::Process,
    Col::Rounds,
    Col::MedianRatio,
    Col::Spread,
    Col::Cpu,
    Col::CpuPct,
    Col::RefCpu,
    Col::RefCpuPct,
    Col::Rss,
    Col::RefRss,
    Col::Checks,
    Col::Lost,
    Col::Result,
    Col::Target,
    Col::Met,
];

const ROUNDS: &[Col] = &[
    Col::Scenario,
    Col::N,
    Col::Process,
    Col::Round,
    Col::Ratio,
    Col::Cpu,
    Col::CpuPct,
    Col::RefCpu,
    Col::RefCpuPct,
    Col::Rss,
    Col::RefRss,
    Col::Checks,
    Col::Lost,
    Col::Result,
];

impl Col {
    fn head(self) -> &'static str {
        match self {
            Col::Scenario => "scenario",
            Col::N => "N",
            Col::Process => "process",
            Col::Round => "round",
            Col::Rounds => "rounds",
            Col::Cpu => "CPU s",
            Col::CpuPct => "CPU %",
            Col::RefCpu => "ref CPU s",
            Col::RefCpuPct => "ref CPU %",
            Col::Rss => "peak RSS MiB",
            Col::RefRss => "ref peak RSS MiB",
            Col::Checks => "checks/s",
            Col::Lost => "lost",
            Col::Ratio => "ratio",
            Col::MedianRatio => "median ratio",
            Col::Spread => "ratio min..max",
            Col::Result => "result",
            Col::Target => "target",
            Col::Met => "met",
        }
    }

    fn cell(self, r: &Row) -> String {
        let opt = |v: Option<f64>, p: usize| v.map_or("-".to_string(), |v| format!("{v:.p$}"));
        let pct = |c: Option<f64>, s: Option<f64>| opt(c.zip(s).map(|(c, s)| 100.0 * c / s), 1);
        match self {
            Col::Scenario => r.scenario.clone(),
            Col::N => r.n.clone(),
            Col::Process => r.process.clone(),
            Col::Round => r.round.clone(),
            Col::Rounds => r.rounds.map_or("-".to_string(), |n| n.to_string()),
            Col::Cpu => opt(r.cpu_s, 2),
            Col::CpuPct => pct(r.cpu_s, r.seconds),
            Col::RefCpu => opt(r.ref_cpu_s, 2),
            Col::RefCpuPct => pct(r.ref_cpu_s, r.ref_seconds),
            Col::Rss => opt(r.rss_mib, 1),
            Col::RefRss => opt(r.ref_rss_mib, 1),
            Col::Checks => opt(r.checks_s, 0),
            Col::Lost => r.lost.map_or("-".to_string(), |l| l.to_string()),
            Col::Ratio | Col::MedianRatio => opt(r.ratio, 2),
            Col::Spread => r.spread.map_or("-".to_string(), |(lo, hi)| format!("{lo:.2}..{hi:.2}")),
            Col::Result => r.result.clone(),
            Col::Target => r.target.clone(),
            Col::Met => match r.met {
                Some(true) => "yes".into(),
                Some(false) => "NO".into(),
                None => "-".into(),
            },
        }
    }
}

/// A Markdown table of `rows` with `cols`.
fn print_markdown(rows: &[&Row], cols: &[Col]) {
    let cells: Vec<Vec<String>> = rows.iter().map(|r| cols.iter().map(|c| c.cell(r)).collect()).collect();
    let mut width: Vec<usize> = cols.iter().map(|c| c.head().chars().count()).collect();
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
    line(cols.iter().map(|c| c.head().to_string()).collect());
    println!(
        "|{}|",
        width.iter().map(|w| "-".repeat(w + 2)).collect::<Vec<_>>().join("|")
    );
    for c in cells {
        line(c);
    }
}

/// The three tables (headline, detail, rounds), each under a title line,
/// each only if it has rows.
fn print_table(rows: &[Row]) {
    let sections = [
        (
            Section::Headline,
            HEADLINE,
            "headline: like for like; ICMP and TCP are medians over interleaved rounds (ratio = failoverd / reference, min..max over the rounds)"
                .to_string(),
        ),
        (
            Section::Detail,
            HEADLINE,
            "detail: sizes for scale, not like for like, in-process scenarios".to_string(),
        ),
        (
            Section::Round,
            ROUNDS,
            "rounds: each round (odd rounds ran failoverd first, even rounds the reference first) and each idle run"
                .to_string(),
        ),
    ];
    for (section, cols, title) in sections {
        let these: Vec<&Row> = rows.iter().filter(|r| r.section == section).collect();
        if !these.is_empty() {
            println!("\n{title}\n");
            print_markdown(&these, cols);
        }
    }
}

/// `rows` moved to the detail table.
fn detail(mut rows: Vec<Row>) -> Vec<Row> {
    for r in &mut rows {
        if r.section == Section::Headline {
            r.section = Section::Detail;
        }
    }
    rows
}

/// A scenario: the rows it reports.
type Scenario = fn(&Cli) -> Vec<Row>;

/// The scenarios in the order they run, each with the subcommands that run
/// it (`all` runs every one). Headline rows print in this order: icmp
/// 1,000 and 5,000, tcp 5,000, idle, detect, start-up, then whatever comes
/// next. A new scenario is one line here.
const SCENARIOS: &[(&[&str], Scenario)] = &[
    (&["icmp"], scenarios::icmp_sizes),
    (&["tcp"], scenarios::tcp_sizes),
    (&["idle", "startup"], scenarios::idle),
    (&["detect"], detect::run),
    (&["startup"], scenarios::startup),
    // The /metrics page's row goes here, in the headline after start-up:
    // (&["metrics"], metrics_page::metrics_page),
    (&["page"], |_| detail(page::run())),
    (&["snmp"], |_| detail(snmp::run(1000))),
];

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
    let in_process = matches!(cli.cmd, Cmd::Page | Cmd::Snmp);
    if !in_process && !cli.failoverd.exists() {
        eprintln!(
            "no failoverd binary at {}: build it (cargo build --release -p failoverd) or pass --failoverd",
            cli.failoverd.display()
        );
        return ExitCode::from(2);
    }
    let load_before = loadavg();
    let name = format!("{:?}", cli.cmd);
    let mut rows = Vec::new();
    for (names, scenario) in SCENARIOS {
        if matches!(cli.cmd, Cmd::All) || names.iter().any(|n| n.eq_ignore_ascii_case(&name)) {
            rows.extend(scenario(&cli));
        }
    }
    print_table(&rows);
    if !in_process {
        // Other work on the machine moves CPU figures: say how busy it was.
        println!(
            "\nload average (1 min) at start {load_before}, at end {}; failoverd and each reference ran one after another, alternating which went first",
            loadavg()
        );
    }
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
