//! `failoverd probe` as a user runs it: real TCP listeners on loopback,
//! the real binary, its table and exit codes (0 all good, 1 any failed,
//! 4 any local fault, 2 configuration).

mod common;

use std::net::TcpListener;
use std::process::{Command, Output};

use common::Case;

fn failoverd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_failoverd"))
        .args(args)
        .output()
        .expect("run failoverd")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Members A (127.0.0.1) and B (`b_target`), one TCP condition on `port`.
fn case(port: u16, b_target: &str, b_extra: &str) -> Case {
    let settings = format!(
        "groups = [\"g*.xml\"]\n[connections.A]\ntargets = [\"127.0.0.1\"]\nvia = \"underlay\"\n[connections.B]\ntargets = [\"{b_target}\"]\nvia = \"underlay\"\n{b_extra}\n[firewall]\nurl = \"https://127.0.0.1:4444\"\nusername = \"api\"\npassword_file = \"pw\"\ndry_run = true\n"
    );
    let group = format!(
        "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection><Connection>B</Connection></MemberConnections><FailoverCondition><FailoverIF><Protocol>TCP</Protocol><Port>{port}</Port></FailoverIF></FailoverCondition></GroupDetail></VPNFailoverGroup>"
    );
    Case::new(&settings, &[("g.xml", &group)])
}

fn probe(c: &Case, extra: &[&str]) -> Output {
    let path = c.settings_path();
    let mut args = vec!["probe", "-c", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    failoverd(&args)
}

#[test]
fn all_good_exits_0_with_a_row_per_check() {
    let listener = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let c = case(port, "127.0.0.2", "");
    let out = probe(&c, &[]);
    let table = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{table}{}", text(&out.stderr));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(
        lines[0].starts_with("GROUP  MEMBER  CONDITION  TARGET     RESULT  RTT OR REASON"),
        "{table}"
    );
    assert!(lines[1].starts_with(&format!("G      A       TCP/{port}")), "{table}");
    assert!(lines[1].contains("127.0.0.1  good"), "{table}");
    assert!(lines[2].contains("127.0.0.2  good"), "{table}");
}

#[test]
fn a_refused_port_exits_1_with_the_reason() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Only 127.0.0.1 listens: B's 127.0.0.2 refuses.
    let c = case(port, "127.0.0.2", "");
    let out = probe(&c, &[]);
    assert_eq!(out.status.code(), Some(1));
    let table = text(&out.stdout);
    assert!(
        table
            .lines()
            .nth(2)
            .unwrap()
            .ends_with("127.0.0.2  FAILED  connection refused"),
        "{table}"
    );
}

#[test]
fn a_local_fault_exits_4_not_1() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // A source address this host does not have: the check cannot be made.
    let c = case(port, "127.0.0.1", "source = \"198.51.100.77\"");
    let out = probe(&c, &[]);
    let table = text(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{table}");
    let b = table.lines().nth(2).unwrap();
    assert!(
        b.contains("ERROR   local fault: source address 198.51.100.77 not on this host"),
        "{table}"
    );
}

#[test]
fn group_filter_and_configuration_errors() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let c = case(port, "127.0.0.1", "");
    let out = probe(&c, &["--group", "G"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = probe(&c, &["--group", "Nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown group \"Nope\"; groups: G"));
    std::fs::write(c.settings_path(), "groups = 3\n").unwrap();
    let out = probe(&c, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("groups: expected an array of strings, found an integer"));
}
