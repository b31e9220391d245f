//! Durations from every way in are bounded and time arithmetic never
//! panics (docs/safety.md, "Durations and time"): the real binary against
//! the reported repros (a 2^64 s hold on the command line and raw on the
//! control socket, a hold past year 9999 in state.json, a huge
//! `check_every` or `[mail] timeout`, a state directory too long for the
//! socket path), and property tests feeding extreme durations to every
//! duration key through the real settings reader and to every duration
//! option through the real command-line parser.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use clap::Parser;
use failoverd::config::diag::{Diagnostics, Source};
use failoverd::config::keys::{DURATION_MAX, Section};
use failoverd::time::MAX_DURATION;
use proptest::prelude::*;

mod daemonutil;

use daemonutil::*;

const HUGE: &str = "18446744073709551615s";

/// Settings that `check` reads without a firewall (nothing is contacted).
fn offline_settings(extra_firewall: &str, tail: &str) -> String {
    format!(
        r#"groups = ["g.xml"]
state_dir = "state"
[connections.A]
targets = ["127.0.0.1"]
[connections.B]
targets = ["127.0.0.2"]
[firewall]
url = "https://127.0.0.1:4444"
username = "api"
password_file = "pw"
insecure = true
{extra_firewall}
{tail}
"#
    )
}

fn prepared(settings: &str) -> tempfile::TempDir {
    Daemon::prepare(settings, &GROUP.replace("PORT", "4"))
}

/// `run` of these settings, which must stop at once; its exit code and log.
fn run_rejected(dir: &Path) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_failoverd"))
        .args(["run", "-c"])
        .arg(dir.join("failoverd.toml"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let code = out.status.code().unwrap_or(-1);
    (code, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_hold_of_two_to_the_64_seconds_is_a_command_line_error() {
    let dir = prepared(&offline_settings("", ""));
    let cfg = dir.path().join("failoverd.toml");
    for args in [
        vec!["hold", "G", "--for", HUGE],
        vec!["push", "G", "--deactivate", "--hold", HUGE],
        vec!["hold", "--all", "--for", "2y"],
    ] {
        let (code, _, err) = cli(&args, &cfg);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains("--") && err.contains("at most 1year"), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// One raw request on the control socket, as a local user could write it.
fn raw(socket: &Path, json: &str) -> serde_json::Value {
    let mut s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(json.as_bytes()).unwrap();
    s.write_all(b"\n").unwrap();
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
}

#[test]
fn the_daemon_refuses_a_raw_hold_of_two_to_the_64_seconds() {
    let (_rt, emu) = emulator();
    let a = listen("127.0.0.1", 0);
    let port = a.local_addr().unwrap().port();
    let d = Daemon::start(&settings(&emu, port, "tunnel", ""), port);
    d.until_notified("READY=1", Duration::from_secs(10));
    let socket = d.dir.path().join("state/control.sock");
    for json in [
        r#"{"cmd":"hold","groups":["G"],"for_secs":18446744073709551615,"reason":"x"}"#,
        r#"{"cmd":"push","group":"G","want":"Active","hold_secs":18446744073709551615}"#,
        r#"{"cmd":"hold","groups":["G"],"for_secs":31557601,"reason":"x"}"#,
    ] {
        let reply = raw(&socket, json);
        assert_eq!(reply["ok"], false, "{json}: {reply}");
        let why = reply["error"].as_str().unwrap_or_default();
        assert!(why.contains("longest hold"), "{why}");
    }
    // A hold of exactly the bound is taken; the daemon still answers.
    let reply = raw(
        &socket,
        r#"{"cmd":"hold","groups":["G"],"for_secs":31557600,"reason":"x"}"#,
    );
    assert_eq!(reply["ok"], true, "{reply}");
    let (code, out, err) = cli(&["status"], &d.dir.path().join("failoverd.toml"));
    assert_eq!(code, 0, "{out}{err}\n{}", d.log_text());
    assert!(out.contains("HELD until"), "{out}");
    assert!(!d.log_text().contains("panicked"), "{}", d.log_text());
    drop(a);
}

#[test]
fn status_shows_a_hold_past_year_9999_without_panicking() {
    let (_rt, emu) = emulator();
    let a = listen("127.0.0.1", 0);
    let port = a.local_addr().unwrap().port();
    let dir = Daemon::prepare(
        &settings(&emu, port, "tunnel", ""),
        &GROUP.replace("PORT", &port.to_string()),
    );
    let mut state = failoverd::state::StateFile::default();
    let year_10000 = UNIX_EPOCH + Duration::from_secs(253_402_300_800);
    state.groups.entry("G".into()).or_default().hold = Some(failoverd::state::Hold {
        until: year_10000,
        reason: "far".into(),
    });
    std::fs::create_dir_all(dir.path().join("state")).unwrap();
    std::fs::write(
        dir.path().join("state/state.json"),
        serde_json::to_vec_pretty(&state).unwrap(),
    )
    .unwrap();
    let d = Daemon::start_in(dir);
    d.until_notified("READY=1", Duration::from_secs(10));
    let (code, out, err) = cli(&["status"], &d.dir.path().join("failoverd.toml"));
    assert_eq!(code, 0, "{out}{err}\n{}", d.log_text());
    assert!(!err.contains("panicked"), "{err}");
    // Kept (shown as beyond what RFC 3339 writes), dropped, or shortened
    // at load to a year and a day from now (docs/state-file.md); either
    // way nothing panics.
    let shortened = out
        .split_once("HELD until ")
        .and_then(|(_, rest)| rest.get(..4)?.parse::<u32>().ok())
        .is_some_and(|year| year < 9999);
    assert!(
        !out.contains("HELD") || out.contains("after 9999-12-31") || shortened,
        "{out}"
    );
    assert!(!d.log_text().contains("panicked"), "{}", d.log_text());
    drop(a);
}

#[test]
fn check_and_run_reject_a_huge_check_every_and_mail_timeout() {
    let mail =
        "[mail]\nserver = \"smtp://127.0.0.1:25?tls=none\"\nfrom = \"a@example.com\"\nto = [\"b@example.com\"]\n";
    for (extra, tail, path) in [
        (
            format!("check_every = \"{HUGE}\""),
            String::new(),
            "firewall.check_every",
        ),
        (
            "check_every = \"2days\"".to_string(),
            String::new(),
            "firewall.check_every",
        ),
        (String::new(), format!("{mail}timeout = \"{HUGE}\""), "mail.timeout"),
        (String::new(), format!("{mail}timeout = \"1h\""), "mail.timeout"),
    ] {
        let dir = prepared(&offline_settings(&extra, &tail));
        let (code, _, err) = cli(&["check"], &dir.path().join("failoverd.toml"));
        assert_eq!(code, 1, "{extra}{tail}: {err}");
        assert!(err.contains("failoverd.toml:") && err.contains(path), "{err}");
        assert!(err.contains("at most") || err.contains("not a duration"), "{err}");
        let (code, log) = run_rejected(dir.path());
        assert_eq!(code, 2, "{extra}{tail}: {log}");
        assert!(log.contains(path) && !log.contains("panicked"), "{log}");
    }
}

#[test]
fn check_and_run_reject_a_state_dir_too_long_for_the_socket() {
    let long = format!("state-{}", "x".repeat(120));
    let text = offline_settings("", "").replace("state_dir = \"state\"", &format!("state_dir = \"{long}\""));
    let dir = prepared(&text);
    let (code, _, err) = cli(&["check"], &dir.path().join("failoverd.toml"));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("failoverd.toml:2:") && err.contains("state_dir") && err.contains("at most 107"),
        "{err}"
    );
    let (code, log) = run_rejected(dir.path());
    assert_eq!(code, 2, "{log}");
    assert!(log.contains("state_dir"), "{log}");
}

// ---- property tests: every duration key and option ----

/// A settings text with `key = value` in `section`'s table.
fn with_duration(section: Section, key: &str, value: &str) -> String {
    let line = format!("{key} = \"{value}\"\n");
    let pick = |s: Section| if s == section { line.as_str() } else { "" };
    format!(
        "groups = [\"g.xml\"]\n[probe]\n{}[connections.A]\ntargets = [\"127.0.0.1\"]\n{}\
         [firewall]\nurl = \"https://127.0.0.1:4444\"\nusername = \"u\"\n{}[guard]\n{}\
         [mail]\nserver = \"smtp://127.0.0.1\"\nfrom = \"a@example.com\"\nto = [\"b@example.com\"]\n{}\
         [snmp]\nuser = \"u\"\n{}[[hooks]]\ncommand = [\"/bin/true\"]\n{}",
        pick(Section::Probe),
        pick(Section::Connection),
        pick(Section::Firewall),
        pick(Section::Guard),
        pick(Section::Mail),
        pick(Section::Snmp),
        pick(Section::Hooks),
    )
}

/// The errors the reader reports at `key` of `section`.
fn errors_at(section: Section, key: &str, value: &str) -> Vec<String> {
    let text = with_duration(section, key, value);
    let src = Source::new(Path::new("/nonexistent/failoverd.toml"), &text);
    let mut d = Diagnostics::default();
    let _ = failoverd::config::read_settings(&src, &mut d);
    let table = match section {
        Section::Connection => "connections.A".to_string(),
        Section::Hooks => "hooks[0]".to_string(),
        s => s.top_key().unwrap_or_default().to_string(),
    };
    let path = format!("{table}.{key}");
    d.errors().filter(|e| e.path == path).map(|e| e.to_string()).collect()
}

/// A duration as humantime writes it, or as whole nanoseconds when it is
/// past what humantime's formatter is meant for.
fn written(d: Duration) -> String {
    if d.as_secs() > 1 << 50 {
        format!("{}s", d.as_secs())
    } else {
        humantime::format_duration(d).to_string()
    }
}

fn extreme() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        Just(Duration::from_nanos(1)),
        Just(Duration::from_secs(u64::MAX)),
        Just(Duration::from_secs(584 * 31_557_600)),
        Just(MAX_DURATION),
        Just(MAX_DURATION + Duration::from_secs(1)),
        (0u64..=u64::MAX).prop_map(Duration::from_secs),
        (0u64..=u64::MAX).prop_map(Duration::from_nanos),
        (0u64..40_000_000).prop_map(Duration::from_secs),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Every bounded key: the bound and below are never "too long", above
    /// it is a located error naming the bound; nothing panics.
    #[test]
    fn every_duration_key_takes_its_bound_and_refuses_beyond(d in extreme()) {
        for (section, key, max) in DURATION_MAX {
            let errors = errors_at(*section, key, &written(d));
            let too_long = errors.iter().any(|e| e.contains("too long") && e.contains("at most"));
            prop_assert_eq!(too_long, d > *max, "{} {} = {:?}: {:?}", section.header(), key, d, errors);
            if d > *max {
                prop_assert!(errors[0].starts_with("/nonexistent/failoverd.toml:"), "{:?}", errors);
            }
            for exact in [*max, *max + Duration::from_nanos(1)] {
                let errors = errors_at(*section, key, &format!("{}ns", exact.as_nanos()));
                let refused = errors.iter().any(|e| e.contains("too long"));
                prop_assert_eq!(refused, exact > *max, "{} {}: {:?}", section.header(), key, errors);
            }
        }
    }

    /// Strings humantime cannot hold are errors, never a panic.
    #[test]
    fn huge_numbers_in_duration_strings_are_errors(n in "[1-9][0-9]{19,40}", unit in "(ns|ms|s|m|h|d|w|y|years)") {
        for (section, key, _) in DURATION_MAX {
            let errors = errors_at(*section, key, &format!("{n}{unit}"));
            prop_assert!(!errors.is_empty(), "{} {} = {}{}", section.header(), key, n, unit);
        }
    }

    /// `hold --for` and `push --hold`: up to a year parses, beyond is
    /// clap's value error naming the option; nothing panics.
    #[test]
    fn duration_options_take_a_year_and_refuse_beyond(d in extreme()) {
        let v = written(d);
        for args in [
            vec!["failoverd", "hold", "G", "--for", v.as_str()],
            vec!["failoverd", "push", "G", "--activate", "--hold", v.as_str()],
        ] {
            match failoverd::cli::Cli::try_parse_from(&args) {
                Ok(_) => prop_assert!(d <= MAX_DURATION, "{:?} accepted", args),
                Err(e) => {
                    prop_assert!(d > MAX_DURATION, "{:?}: {}", args, e);
                    prop_assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation);
                    let text = e.to_string();
                    let option = args[args.len() - 2];
                    prop_assert!(text.contains(option) && text.contains("at most 1year"), "{}", text);
                }
            }
        }
    }
}

// ---- other things check accepted that run refused ----

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
    })
}

#[test]
fn check_warns_where_run_would_lack_icmp_permission() {
    if !is_root() || std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range").is_ok_and(|r| r.trim() != "1\t0") {
        println!("SKIPPED: needs root, and ping_group_range closed to nobody");
        return;
    }
    let ping = GROUP.replace("<Protocol>TCP</Protocol><Port>PORT</Port>", "<Protocol>PING</Protocol>");
    let dir = Daemon::prepare(&offline_settings("", ""), &ping);
    for entry in std::fs::read_dir(dir.path()).unwrap().map(Result::unwrap) {
        std::os::unix::fs::chown(entry.path(), Some(65534), Some(65534)).unwrap();
    }
    std::os::unix::fs::chown(dir.path(), Some(65534), Some(65534)).unwrap();
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_failoverd"))
        .args(["check", "-c"])
        .arg(dir.path().join("failoverd.toml"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("warning:") && err.contains("ICMP") && err.contains("would exit 2"),
        "{err}"
    );
}
