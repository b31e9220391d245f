//! The emulator's command line as a tester meets it: `--help` is an answer
//! (usage on stdout, exit 0), a wrong argument an error (exit 2).

use std::process::Command;

#[test]
fn help_is_an_answer_and_a_wrong_argument_an_error() {
    let help = Command::new(env!("CARGO_BIN_EXE_sfos-emulator"))
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(help.status.code(), Some(0), "{help:?}");
    assert!(String::from_utf8_lossy(&help.stdout).contains("usage: sfos-emulator"));
    let bad = Command::new(env!("CARGO_BIN_EXE_sfos-emulator"))
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown argument \"--bogus\""));
}
