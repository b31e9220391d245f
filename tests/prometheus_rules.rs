//! The Prometheus alerting rules shipped in `config/prometheus/`:
//! `promtool check rules` and `promtool test rules` (one unit test per
//! alert, in `failoverd.rules.test.yml`), and the rules checked against what
//! the real daemon serves: every `failoverd_*` metric and label value they
//! select appears on `/metrics` of a daemon whose pushes the firewall
//! emulator refuses and whose group is down, except the SNMP gauges that
//! are planned and listed in docs/metrics.md. Needs `promtool` (Debian
//! `prometheus`, installed by scripts/test.sh as root); without it, and not
//! root, the promtool tests print SKIPPED.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sfos_emulator::Fault;

mod daemonutil;

use daemonutil::*;

/// Metrics the rules use that failoverd serves only with `[snmp]` (this
/// test's daemon has none; tests/snmp_daemon.rs reads them from a daemon
/// that has); docs/metrics.md must name each.
const PLANNED: [&str; 2] = ["failoverd_snmp_usable", "failoverd_firewall_disagrees"];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/prometheus")
}

/// `promtool`, or None (after printing SKIPPED) when it is missing and we
/// are not root; as root (CI) a missing promtool is a failure.
fn promtool() -> Option<&'static str> {
    if Command::new("promtool").arg("--version").output().is_ok() {
        return Some("promtool");
    }
    assert!(
        !nix_is_root(),
        "promtool is missing: install Debian's prometheus (scripts/debian-packages.txt)"
    );
    // Past libtest's capture (which takes only the print macros), so the
    // skip is visible.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr().lock(),
        "SKIPPED: promtool not installed (Debian package prometheus); run scripts/test.sh as root"
    );
    None
}

fn nix_is_root() -> bool {
    // The effective uid, from /proc as tests/netutil reads it.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

fn run(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool).args(args).current_dir(dir()).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{tool} {args:?} failed:\n{text}");
    text
}

#[test]
fn promtool_checks_the_rules() {
    let Some(tool) = promtool() else { return };
    let text = run(tool, &["check", "rules", "failoverd.rules.yml"]);
    assert!(text.contains("SUCCESS: 11 rules found"), "{text}");
}

#[test]
fn promtool_unit_tests_pass_and_cover_every_alert() {
    let Some(tool) = promtool() else { return };
    let text = run(tool, &["test", "rules", "failoverd.rules.test.yml"]);
    assert!(text.contains("SUCCESS"), "{text}");
    // Every alert of the rules has a test that expects it to fire.
    let rules = std::fs::read_to_string(dir().join("failoverd.rules.yml")).unwrap();
    let tests = std::fs::read_to_string(dir().join("failoverd.rules.test.yml")).unwrap();
    let alerts = alert_names(&rules);
    assert_eq!(alerts.len(), 11, "{alerts:?}");
    for a in alerts {
        let fires = tests
            .split("alertname: ")
            .skip(1)
            .any(|t| t.starts_with(&format!("{a}\n")) && t.contains("exp_labels"));
        assert!(fires, "no test expects {a} to fire");
    }
}

fn alert_names(rules: &str) -> Vec<String> {
    rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .map(str::to_owned)
        .collect()
}

/// Every `failoverd_*` name in the rules.
fn metric_names(rules: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let code: String = rules
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    for (i, _) in code.match_indices("failoverd_") {
        let name: String = code[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// The body of a GET of `path`.
fn http_get(port: u16, path: &str) -> String {
    let out = daemonutil::http_get(port, "GET", path);
    out.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned()
}

/// Polls `/metrics` until it holds every one of `want`.
fn metrics_with(port: u16, want: &[&str], limit: Duration, d: &Daemon) -> String {
    let start = Instant::now();
    loop {
        let page = http_get(port, "/metrics");
        if want.iter().all(|w| page.contains(w)) {
            return page;
        }
        assert!(
            start.elapsed() < limit,
            "/metrics never held {want:?}:\n{page}\n{}",
            d.report()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The rules select what the daemon really serves: metric names, and the
/// label values `class="refused"` and `class="configuration"` as the
/// daemon writes them for a refused push and a failed login.
#[test]
fn the_rules_use_what_the_daemon_serves() {
    let rules = std::fs::read_to_string(dir().join("failoverd.rules.yml")).unwrap();
    let docs = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/metrics.md")).unwrap();
    for p in PLANNED {
        assert!(docs.contains(&format!("`{p}`")), "docs/metrics.md does not name {p}");
    }
    let (_rt, emu) = emulator();
    emu.set_fault(Fault::EntityCode(500));
    let a = listen("127.0.0.1", 0);
    let port = a.local_addr().unwrap().port();
    let b = listen("127.0.0.2", port);
    let http_port = listen("127.0.0.1", 0).local_addr().unwrap().port();
    let extra = format!("[http]\nlisten = \"127.0.0.1:{http_port}\"");
    let d = Daemon::start(&(settings(&emu, port, "underlay", "") + &extra), port);
    d.until_notified("READY=1", Duration::from_secs(10));
    // The Active is refused (entity code 500).
    metrics_with(http_port, &["class=\"refused\""], Duration::from_secs(20), &d);
    // The login now fails, and the group goes down: its DeActive meets it.
    emu.clear_faults();
    emu.set_fault(Fault::LoginFailure);
    drop((a, b));
    let page = metrics_with(
        http_port,
        &[
            "failoverd_group_up{group=\"G\"} 0",
            "failoverd_pushes_total{group=\"G\",class=\"refused\"}",
            "failoverd_pushes_total{group=\"G\",class=\"configuration\"}",
            "failoverd_guard_tripped 0",
            "failoverd_mail_spool_depth 0",
            // G is missing on the emulator: its definition is not in step.
            "failoverd_definition_in_step{group=\"G\"} 0",
        ],
        Duration::from_secs(20),
        &d,
    );
    for name in metric_names(&rules) {
        if PLANNED.contains(&name.as_str()) {
            continue;
        }
        assert!(
            page.contains(&format!("# TYPE {name} ")),
            "the rules use {name}, which /metrics does not serve:\n{page}"
        );
    }
    assert!(metric_names(&rules).len() >= 6, "{:?}", metric_names(&rules));
    if let Some(tool) = promtool() {
        let file = d.dir.path().join("metrics.txt");
        std::fs::write(&file, &page).unwrap();
        let out = Command::new(tool)
            .args(["check", "metrics"])
            .stdin(std::fs::File::open(&file).unwrap())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(!text.contains("error"), "promtool check metrics: {text}");
    }
    let (code, _, _, _) = d.stop();
    assert_eq!(code, 0);
}
