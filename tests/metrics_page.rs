//! `/metrics` at scale (issue #16): the page the core renders for 10,000
//! check streams, laid out as the benchmark does (groups of 2 members, one
//! ICMP target each), built through the real settings path. Its stream,
//! group and member lines stay within the budget (3 MB at 10,000 streams,
//! counters of 7 digits; push counts come on top), it parses with the
//! official Prometheus client's parser with and without `[http]
//! rtt_histograms` and `target_states`, histogram buckets appear only with
//! `rtt_histograms`, target lines only with `target_states`, and a reload
//! flips both. Bytes, never timing.

mod common;
mod netutil;
mod promutil;

use std::fmt::Write as _;
use std::time::Duration;

use common::Case;
use failoverd::control::Request;
use failoverd::daemon::core::{Core, Effect};
use failoverd::daemon::persist::Clocks;
use failoverd::health::outcome::Outcome;
use failoverd::probe::schedule::{Observation, Report};
use failoverd::state::StateFile;
use promutil::families;

const STREAMS: usize = 10_000;
/// The page at 10,000 streams, default keys.
const BUDGET: usize = 3_000_000;

const HISTOGRAMS: &str = "rtt_histograms = true\ntarget_states = true\n";

/// `n` ICMP targets in groups of 2 members, one target each; `keys` go
/// into `[http]`.
fn case(n: usize, keys: &str) -> Case {
    let mut s = format!(
        "state_dir = \"/nonexistent/failoverd-metrics-test\"\ngroups = [\"g.xml\"]\n\
         [firewall]\nurl = \"https://192.0.2.254:4444\"\nusername = \"api\"\npassword_file = \"pw\"\n\
         [http]\nlisten = \"127.0.0.1:9733\"\n{keys}"
    );
    let mut g = String::from("<VPNFailoverGroups>\n");
    for i in 0..n {
        let _ = writeln!(
            s,
            "[connections.C{i}]\ntargets = [\"127.10.{}.{}\"]\nvia = \"tunnel\"",
            (i + 1) / 256,
            (i + 1) % 256
        );
    }
    for (gi, pair) in (0..n).collect::<Vec<_>>().chunks(2).enumerate() {
        let _ = write!(
            g,
            "<VPNFailoverGroup><GroupDetail><Name>G{gi}</Name><MemberConnections>"
        );
        for i in pair {
            let _ = write!(g, "<Connection>C{i}</Connection>");
        }
        g.push_str(
            "</MemberConnections><FailoverCondition><FailoverIF><Protocol>PING</Protocol></FailoverIF>\
             </FailoverCondition></GroupDetail></VPNFailoverGroup>\n",
        );
    }
    g.push_str("</VPNFailoverGroups>\n");
    Case::new(&s, &[("g.xml", &g)])
}

fn plan_of(case: &Case) -> failoverd::config::Plan {
    let loaded = failoverd::config::load(&case.settings_path()).unwrap();
    loaded
        .plan
        .unwrap_or_else(|| panic!("valid: {:?}", loaded.diagnostics.sorted()))
}

/// A core on `case` whose every stream made one good check (RTT 12.345
/// ms) and one failed one.
fn core(case: &Case) -> (Core, Clocks) {
    let t0 = Clocks::now();
    let mut core = Core::new(plan_of(case), StateFile::default(), t0);
    core.start();
    let streams = core.engine().streams().len();
    for (i, good) in [(1, true), (2, false)] {
        let c = Clocks {
            mono: t0.mono + Duration::from_secs(i),
            wall: t0.wall + Duration::from_secs(i),
        };
        for stream in 0..streams {
            let outcome = if good {
                Outcome::Good {
                    rtt: Duration::from_micros(12_345),
                }
            } else {
                Outcome::Failed {
                    reason: "no reply within 1s".into(),
                }
            };
            let obs = Observation {
                stream,
                at: c.mono,
                report: Report::Check { outcome, addr: None },
            };
            core.observe(&obs, c);
        }
    }
    (core, t0)
}

fn metrics(core: &mut Core, clocks: Clocks) -> String {
    let e = core.control(Request::Metrics, 1, clocks, 0);
    match &e[..] {
        [Effect::Reply { reply, .. }] => reply.body.as_str().expect("a text page").to_string(),
        other => panic!("{other:?}"),
    }
}

fn lines(page: &str, prefix: &str) -> usize {
    page.lines().filter(|l| l.starts_with(prefix)).count()
}

#[test]
fn the_default_page_at_10000_streams_is_within_budget_and_parses() {
    let case = case(STREAMS, "");
    let (mut core, t0) = core(&case);
    // 10,000 member streams and the guard's anchor (the API host).
    let streams = core.engine().streams().len();
    assert_eq!(streams, STREAMS + 1);
    let page = metrics(&mut core, t0);
    eprintln!("default page: {} bytes at {streams} streams", page.len());
    // Counters of 7 digits (11 days at one check a second) and RTT sums of
    // 5 integer digits add 6 + 6 + 4 bytes a stream to what one check
    // each writes here. Not counted: failoverd_pushes_total, one line per
    // group and answer class seen (no push is answered here), about 55
    // bytes a group: 0.27 MB more in failoverd-bench metrics, where every
    // group's first Active is answered (BENCHMARKS.md).
    let grown = page.len() + 16 * streams;
    assert!(
        grown <= BUDGET,
        "{} bytes now, {grown} with 7-digit counters: over {BUDGET} ({} a stream)",
        page.len(),
        page.len() / streams
    );
    let label = "{protocol=\"PING\",target=\"127.10.0.1\"}";
    assert!(
        page.contains(&format!("\nfailoverd_checks_total{label} 2\n")),
        "every check, good or not"
    );
    assert!(
        page.contains(&format!("\nfailoverd_rtt_seconds_count{label} 1\n")),
        "good checks"
    );
    assert!(
        page.contains(&format!("\nfailoverd_rtt_seconds_sum{label} 0.012345\n")),
        "microseconds"
    );
    assert!(page.contains("\n# TYPE failoverd_rtt_seconds summary\n"));
    assert_eq!(lines(&page, "failoverd_rtt_seconds_bucket"), 0, "no buckets by default");
    assert_eq!(lines(&page, "failoverd_target_up"), 0, "no target lines by default");
    assert_eq!(lines(&page, "# TYPE failoverd_target_up"), 0);
    assert_eq!(lines(&page, "failoverd_group_up{"), STREAMS / 2);
    assert_eq!(lines(&page, "failoverd_member_up{"), STREAMS);
    assert_eq!(lines(&page, "failoverd_checks_total{"), streams);
    let Some(listed) = families(&page) else { return };
    for want in [
        format!("failoverd_checks counter {streams}"),
        format!("failoverd_rtt_seconds summary {}", 2 * streams),
        format!("failoverd_group_up gauge {}", STREAMS / 2),
        format!("failoverd_member_up gauge {STREAMS}"),
    ] {
        assert!(listed.lines().any(|l| l == want), "{want} missing:\n{listed}");
    }
    assert!(!listed.contains("failoverd_target_up"), "{listed}");
}

#[test]
fn with_both_keys_the_page_has_histograms_and_target_states_and_parses() {
    let case = case(STREAMS, HISTOGRAMS);
    let (mut core, t0) = core(&case);
    let streams = core.engine().streams().len();
    let page = metrics(&mut core, t0);
    eprintln!("page with both keys: {} bytes at {streams} streams", page.len());
    let label = "protocol=\"PING\",target=\"127.10.0.1\"";
    assert!(page.contains("\n# TYPE failoverd_rtt_seconds histogram\n"));
    assert!(page.contains(&format!("\nfailoverd_rtt_seconds_bucket{{{label},le=\"0.01\"}} 0\n")));
    assert!(page.contains(&format!("\nfailoverd_rtt_seconds_bucket{{{label},le=\"0.025\"}} 1\n")));
    assert!(page.contains(&format!("\nfailoverd_rtt_seconds_bucket{{{label},le=\"+Inf\"}} 1\n")));
    assert!(
        page.contains(&format!("\nfailoverd_rtt_seconds_count{{{label}}} 1\n")),
        "same family name"
    );
    assert_eq!(lines(&page, "failoverd_rtt_seconds_bucket{"), 11 * streams);
    assert!(
        page.contains(
            "\nfailoverd_target_up{group=\"G0\",member=\"C0\",condition=\"PING\",target=\"127.10.0.1\"} -1\n"
        )
    );
    assert_eq!(lines(&page, "failoverd_target_up{"), STREAMS);
    let Some(listed) = families(&page) else { return };
    for want in [
        format!("failoverd_checks counter {streams}"),
        format!("failoverd_rtt_seconds histogram {}", 13 * streams),
        format!("failoverd_target_up gauge {STREAMS}"),
    ] {
        assert!(listed.lines().any(|l| l == want), "{want} missing:\n{listed}");
    }
}

#[test]
fn a_reload_switches_histograms_and_target_states_on_and_off() {
    let plain = case(4, "");
    let keys = case(4, HISTOGRAMS);
    let (mut core, t0) = core(&plain);
    let before = metrics(&mut core, t0);
    assert_eq!(lines(&before, "failoverd_rtt_seconds_bucket"), 0);
    let (changes, _) = core.reload(plan_of(&keys), 1, t0);
    assert!(changes.metrics, "{changes:?}");
    let on = metrics(&mut core, t0);
    assert_eq!(
        lines(&on, "failoverd_rtt_seconds_bucket{"),
        11 * 5,
        "4 members and the anchor"
    );
    assert_eq!(lines(&on, "failoverd_target_up{"), 4);
    let (changes, _) = core.reload(plan_of(&plain), 2, t0);
    assert!(changes.metrics, "{changes:?}");
    let off = metrics(&mut core, t0);
    assert_eq!(lines(&off, "failoverd_rtt_seconds_bucket"), 0);
    assert_eq!(lines(&off, "failoverd_target_up"), 0);
    assert!(off.contains("\n# TYPE failoverd_rtt_seconds summary\n"));
}
