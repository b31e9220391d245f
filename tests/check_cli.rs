//! `failoverd check` as a user runs it: the real binary, its output streams
//! and its exit codes (0 valid, 1 invalid, 2 unreadable or bad arguments).

mod common;

use std::process::{Command, Output};

use common::{BASE_GROUP, BASE_SETTINGS, Case};

fn failoverd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_failoverd"))
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("CREDENTIALS_DIRECTORY")
        .output()
        .expect("run failoverd")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn valid_settings_exit_0_with_one_safety_line_per_group() {
    let case = Case::new(BASE_SETTINGS, &[("g.xml", BASE_GROUP)]);
    let out = failoverd(&["check", "-c", case.settings_path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(
        stdout,
        "G: on failure: deactivate once every member is down (all members via \"underlay\"), after it was seen up; Active again when a member recovers, or after 30m; events logged (MailNotification off)\n"
    );
    assert!(text(&out.stderr).contains("valid: 1 group(s), 2 connection(s), 0 warning(s)"));
}

#[test]
fn tunnel_group_line_says_via_was_defaulted() {
    let settings = BASE_SETTINGS.replacen("via = \"underlay\"\n", "", 1);
    let case = Case::new(&settings, &[("g.xml", BASE_GROUP)]);
    let out = failoverd(&["-c", case.settings_path().to_str().unwrap(), "check"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("G: on failure: restart it (DeActive, then Active at once) after 2m down"),
        "{stdout}"
    );
    assert!(
        stdout.contains("A via \"tunnel\" by default: set via = \"underlay\" if its targets answer without the tunnel"),
        "{stdout}"
    );
}

#[test]
fn invalid_settings_exit_1_and_print_every_error() {
    let group = "<VPNFailoverGroup><GroupDetail><Name>1G</Name><MemberConnections><Connection>A</Connection><Connection>Z</Connection></MemberConnections></GroupDetail></VPNFailoverGroup>";
    let settings = BASE_SETTINGS
        .replace("fall", "x")
        .replace("[connections.B]", "[connections.B]\nfal = 3");
    let case = Case::new(&settings, &[("g.xml", group)]);
    let out = failoverd(&["check", "-c", case.settings_path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "no safety report for an invalid configuration");
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.contains(": warning: ")).collect();
    assert!(
        stderr.contains("connections.B: warning: connection B is not a member of any group"),
        "{stderr}"
    );
    assert!(
        lines[0].ends_with("failoverd.toml:8:1: connections.B.fal: unknown key fal (did you mean fall?)"),
        "{stderr}"
    );
    assert!(lines[1].ends_with("g.xml:1:38: VPNFailoverGroup[1G]/Name: invalid group name \"1G\": it must start with a letter and hold only letters, digits and _"), "{stderr}");
    assert!(lines[2].ends_with(&format!("g.xml:1:104: VPNFailoverGroup[1G]/MemberConnections/Connection[2]: connection Z has no settings: add [connections.Z] with targets = [...] to {}", case.settings_path().display())), "{stderr}");
    assert!(lines[3].contains("invalid: 3 error(s), 1 warning(s)"), "{stderr}");
    assert!(lines[4..].is_empty(), "{stderr}");
}

#[test]
fn unreadable_settings_and_bad_arguments_exit_2() {
    let out = failoverd(&["check", "-c", "/nonexistent/failoverd.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read settings file /nonexistent/failoverd.toml"));
    let out = failoverd(&["check", "--frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    let out = failoverd(&["nonsense"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn help_and_version() {
    let out = failoverd(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), format!("failoverd {}\n", env!("CARGO_PKG_VERSION")));
    let out = failoverd(&["check", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("--config <PATH>"));
}

#[test]
fn the_password_never_reaches_the_output() {
    let settings = BASE_SETTINGS.replace("password_file = \"pw\"", "password = \"canary-<&>'\\\"\"\nfall = 0");
    let case = Case::new(&settings, &[("g.xml", BASE_GROUP)]);
    let out = failoverd(&[
        "check",
        "-c",
        case.settings_path().to_str().unwrap(),
        "--log-level",
        "trace",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let all = text(&out.stdout) + &text(&out.stderr);
    assert!(all.contains("firewall.fall: unknown key fall"), "{all}");
    assert!(!all.contains("canary"), "{all}");
}
