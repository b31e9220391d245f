//! The unit file: `systemd-analyze verify` prints nothing, and
//! `systemd-analyze security --offline=true` rates it 2.0 or lower
//! (docs/service.md). The unit's binary path is pointed at the binary
//! under test so that verify can check it exists and is executable.

use std::process::Command;

fn unit_copy() -> (tempfile::TempDir, std::path::PathBuf) {
    let unit = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/failoverd.service")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("failoverd.service");
    std::fs::write(
        &path,
        unit.replace(
            "ExecStart=/usr/bin/failoverd",
            &format!("ExecStart={}", env!("CARGO_BIN_EXE_failoverd")),
        ),
    )
    .unwrap();
    (dir, path)
}

fn analyze(args: &[&str]) -> Option<std::process::Output> {
    match Command::new("systemd-analyze").args(args).output() {
        Ok(o) => Some(o),
        Err(e) => {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: systemd-analyze not available ({e}); install systemd"
            );
            None
        }
    }
}

#[test]
fn verify_prints_nothing() {
    let (_dir, path) = unit_copy();
    let Some(out) = analyze(&["verify", path.to_str().unwrap()]) else {
        return;
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.trim().is_empty(),
        "systemd-analyze verify said: {text}"
    );
}

#[test]
fn security_exposure_is_at_most_2() {
    let (_dir, path) = unit_copy();
    let Some(out) = analyze(&["security", "--offline=true", path.to_str().unwrap()]) else {
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("{text}"));
    let level: f64 = line
        .split(": ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(level <= 2.0, "exposure {level}: {line}");
}

#[test]
fn the_unit_says_what_the_contract_asks() {
    let unit = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/failoverd.service")).unwrap();
    for line in [
        "Type=notify",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
        "RestartPreventExitStatus=2",
        "Wants=network-online.target",
        "After=network-online.target",
        "DynamicUser=yes",
        "StateDirectory=failoverd",
        "ConfigurationDirectory=failoverd",
        "AmbientCapabilities=CAP_NET_RAW",
        "CapabilityBoundingSet=CAP_NET_RAW",
    ] {
        assert!(unit.lines().any(|l| l == line), "missing {line}");
    }
    assert!(unit.lines().any(|l| l.starts_with("WatchdogSec=")));
    assert!(unit.lines().any(|l| l.starts_with("LoadCredential=firewall.password")));
}
