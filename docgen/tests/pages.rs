//! The rendered pages and completions hold every command, option and key,
//! man renders them without a warning, and bash really completes.

use std::io::Write;
use std::process::{Command, Stdio};

use clap_complete::Shell;
use failoverd::config::keys::{KEYS, Section};

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The page as man shows it, with the warnings man and groff printed.
fn man(page: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("page");
    std::fs::write(&path, page).unwrap();
    let out = Command::new("man")
        .args(["--warnings", "-E", "UTF-8", "-l"])
        .arg(&path)
        .env("MANWIDTH", "200")
        .env("MAN_KEEP_FORMATTING", "0")
        .env("MANPAGER", "cat")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "man failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // man overstrikes for bold and underline (c, backspace, c): keep the last.
    let mut shown = String::new();
    let mut erase = false;
    for c in String::from_utf8_lossy(&out.stdout).chars() {
        if c == '\u{8}' {
            erase = true;
            continue;
        }
        if erase {
            shown.pop();
            erase = false;
        }
        shown.push(c);
    }
    (shown, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn subcommands() -> Vec<clap::Command> {
    docgen::command()
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .cloned()
        .collect()
}

#[test]
fn failoverd_8_holds_every_command_and_option() {
    let page = docgen::man8(&docgen::command());
    let subs = subcommands();
    assert!(subs.len() >= 9, "only {} commands", subs.len());
    for sub in &subs {
        assert!(
            page.contains(&format!(".SS \"failoverd {}\"", sub.get_name())),
            "no section for {}",
            sub.get_name()
        );
        for arg in sub.get_arguments().filter(|a| !a.is_hide_set()) {
            if let Some(long) = arg.get_long() {
                assert!(
                    page.contains(&format!("\\-\\-{}", long.replace('-', "\\-"))),
                    "{}: --{long} missing",
                    sub.get_name()
                );
            }
        }
        let exit = sub.get_after_long_help().map(|h| h.to_string());
        let exit = exit.unwrap_or_else(|| panic!("{}: no exit status in its long help", sub.get_name()));
        assert!(exit.starts_with("Exit status: 0"), "{}: {exit}", sub.get_name());
    }
    for global in ["config", "log\\-level"] {
        assert!(page.contains(&format!("\\-\\-{global}")));
    }
}

#[test]
fn failoverd_toml_5_holds_every_key_in_its_section() {
    let page = docgen::man5();
    for s in Section::ALL {
        let start = page.find(&format!(
            ".SH {}",
            match s {
                Section::Top => "\"TOP-LEVEL KEYS\"".to_string(),
                s => s.header().to_string(),
            }
        ));
        let start = start.unwrap_or_else(|| panic!("no section {}", s.header()));
        let end = page[start + 4..].find(".SH ").map_or(page.len(), |e| start + 4 + e);
        let section = &page[start..end];
        for k in KEYS.iter().filter(|k| k.section == s) {
            let name = k.name;
            assert!(
                section.contains(&format!("\\fB{name}\\fR = ")),
                "{} {} missing",
                s.header(),
                k.name
            );
        }
    }
}

#[test]
fn man_renders_both_pages_without_warnings() {
    if !have("man") {
        println!("SKIPPED: man (Debian man-db) is not installed");
        return;
    }
    let (shown, warnings) = man(&docgen::man8(&docgen::command()));
    assert_eq!(warnings, "", "failoverd.8");
    assert!(shown.contains("failoverd probe [-c PATH] [--group GROUP]"), "{shown}");
    let (shown, warnings) = man(&docgen::man5());
    assert_eq!(warnings, "", "failoverd.toml.5");
    assert!(shown.contains("reactivate_after = duration"), "{shown}");
    assert!(shown.contains("Default: \"30m\""), "{shown}");
}

/// What bash completes for the words `line` (the last one being completed).
fn bash_complete(script: &str, line: &[&str]) -> Vec<String> {
    let words: Vec<String> = line.iter().map(|w| format!("'{w}'")).collect();
    let prog = format!(
        "{script}\nCOMP_WORDS=({})\nCOMP_CWORD={}\nCOMP_LINE='{}'\nCOMP_POINT=${{#COMP_LINE}}\n_failoverd failoverd '{}' '{}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        words.join(" "),
        line.len() - 1,
        line.join(" "),
        line[line.len() - 1],
        line[line.len().saturating_sub(2)],
    );
    let mut child = Command::new("bash")
        .arg("--norc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(prog.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completes_commands_and_options() {
    let script = docgen::completion(&docgen::command(), Shell::Bash);
    let all = bash_complete(&script, &["failoverd", ""]);
    for sub in subcommands() {
        assert!(
            all.contains(&sub.get_name().to_string()),
            "{} not offered: {all:?}",
            sub.get_name()
        );
    }
    assert_eq!(bash_complete(&script, &["failoverd", "rel"]), vec!["release"]);
    let opts = bash_complete(&script, &["failoverd", "push", "--"]);
    assert!(
        opts.contains(&"--activate".to_string()) && opts.contains(&"--hold".to_string()),
        "{opts:?}"
    );
}

#[test]
fn zsh_and_fish_read_their_scripts() {
    let cmd = docgen::command();
    for (shell, tool, args) in [
        (Shell::Zsh, "zsh", &["-n"][..]),
        (Shell::Fish, "fish", &["--no-execute"][..]),
    ] {
        if !have(tool) {
            println!("SKIPPED: {tool} is not installed");
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("script");
        std::fs::write(&path, docgen::completion(&cmd, shell)).unwrap();
        let out = Command::new(tool).args(args).arg(&path).output().unwrap();
        assert!(out.status.success(), "{tool}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(std::fs::read_to_string(&path).unwrap().contains("mail-test"));
    }
}
