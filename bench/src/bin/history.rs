//! The history's benchmark (issue #28, BENCHMARKS.md "History"): 30 days
//! of 100 groups flapping hourly, as the daemon would record them (member
//! down, failover, the firewall's switch, member up, failback, the switch
//! back), against the 32 MiB bound: how many bytes that is, what the bound
//! keeps, and how long reading the file and computing `failoverd report`
//! take. Run it by hand (`cargo run --release -p failoverd-bench --bin
//! history`); it is not part of the test suite.

use std::time::{Duration, Instant, SystemTime};

use failoverd::history::report::{Input, report};
use failoverd::history::{MAX_BYTES, Record, report_text, store};
use failoverd::mail::event::{DaemonKind, Event, Kind};

const HOUR: Duration = Duration::from_secs(3600);

fn event(kind: Kind, group: &str, text: &str, at: SystemTime) -> Event {
    Event::new(kind, text, at).with_group(group)
}

/// One hour's flap of `group` starting at `at`: six records.
fn flap(group: &str, at: SystemTime, out: &mut Vec<Record>) {
    let t = |s: u64| at + Duration::from_secs(s);
    let down = "condition 'TCP/443' fails: 1 of 1 targets down, quorum 1 [target '192.0.2.10': 3 failed checks in a row: no reply within 1s]";
    let mut switched = |s, to: &str, from: &str| {
        let mut e = event(
            Kind::Daemon(DaemonKind::FirewallSwitched),
            group,
            &format!("{group}: the firewall switched to {to} (was {from})"),
            t(s),
        );
        e.to = Some(to.into());
        e.from = Some(from.into());
        e.member = Some(to.into());
        out.push(Record::of_event(&e));
    };
    switched(20, "HQ_Backup", "HQ_Primary");
    switched(620, "HQ_Primary", "HQ_Backup");
    out.push(Record::of_event(
        &event(Kind::MemberDown, group, down, t(0))
            .with_member("HQ_Primary")
            .with_expected("HQ_Backup"),
    ));
    out.push(Record::of_event(
        &event(
            Kind::Failover,
            group,
            &format!("member 'HQ_Primary' down: {down}; next member up is 'HQ_Backup'"),
            t(0),
        )
        .with_change("HQ_Primary", "HQ_Backup")
        .with_expected("HQ_Backup"),
    ));
    out.push(Record::of_event(
        &event(Kind::MemberUp, group, "2 good checks in a row (rise 2)", t(600)).with_member("HQ_Primary"),
    ));
    out.push(Record::of_event(
        &event(
            Kind::Failback,
            group,
            "member 'HQ_Primary' is up: 2 good checks in a row; 'HQ_Backup' is up",
            t(600),
        )
        .with_change("HQ_Backup", "HQ_Primary")
        .with_expected("HQ_Primary"),
    ));
}

fn main() {
    let groups: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    let days: u32 = 30;
    let now = SystemTime::now();
    let start = now - HOUR * 24 * days;
    let names: Vec<String> = (0..groups).map(|i| format!("Branch_{i:03}_VPN")).collect();
    let mut records = Vec::new();
    for h in 0..24 * days {
        for g in &names {
            flap(g, start + HOUR * h, &mut records);
        }
    }
    let all = records.len();
    let bytes: usize = records.iter().map(|r| r.line().len()).sum();
    println!(
        "{groups} groups flapping hourly for {days} days: {all} records, {:.1} MiB unbounded",
        mib(bytes)
    );
    let kept = store::bounded(records, now, MAX_BYTES);
    let kept_bytes: usize = kept.iter().map(|r| r.line().len()).sum();
    let oldest = kept.first().map_or(0, |r| r.t);
    let span_h = (failoverd::history::millis(now) - oldest) as f64 / 3_600_000.0;
    println!(
        "the bound ({} MiB) keeps {} records, {:.1} MiB, the last {span_h:.0} h",
        MAX_BYTES >> 20,
        kept.len(),
        mib(kept_bytes)
    );
    let dir = std::env::temp_dir().join(format!("failoverd-history-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    store::rewrite(&dir, &kept).expect("write");
    let t0 = Instant::now();
    let loaded = store::read(&dir).expect("read");
    let read = t0.elapsed();
    for (label, since) in [("7d", HOUR * 24 * 7), ("30d", HOUR * 24 * days)] {
        let t1 = Instant::now();
        let input = Input {
            records: &loaded.records,
            cx: &(),
            since: failoverd::history::millis(now - since),
            until: failoverd::history::millis(now),
            snmp: true,
            disagree_after: Duration::from_secs(120),
            groups: names.clone(),
            only: None,
        };
        let text = report_text::text(&report(&input));
        println!(
            "report --since {label}: read {:.0} ms + compute and render {:.0} ms ({} lines)",
            read.as_secs_f64() * 1e3,
            t1.elapsed().as_secs_f64() * 1e3,
            text.lines().count()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Bytes in MiB.
fn mib(b: usize) -> f64 {
    b as f64 / 1048576.0
}
