//! The daemon's shell stays small enough to read (issue #12): the event
//! loop file under 400 lines and no function in `src/daemon/` over 80
//! lines. Decisions belong in the core, where they are table-tested.

use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Each `fn` of `text` with its length in lines (from its `fn` line to its
/// closing brace; braces in strings and chars are rare enough here to be
/// counted as code, and counting them can only lengthen a function).
fn functions(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        let t = t
            .strip_prefix("pub(super) ")
            .or(t.strip_prefix("pub(crate) "))
            .or(t.strip_prefix("pub "))
            .unwrap_or(t);
        let t = t.strip_prefix("async ").unwrap_or(t);
        let Some(rest) = t.strip_prefix("fn ") else { continue };
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let (mut depth, mut started) = (0i32, false);
        for (j, l) in lines[i..].iter().enumerate() {
            for c in l.chars() {
                match c {
                    '{' => {
                        depth += 1;
                        started = true;
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            if started && depth == 0 {
                out.push((name.clone(), j + 1));
                break;
            }
            if !started && l.trim_end().ends_with(';') {
                break;
            }
        }
    }
    out
}

#[test]
fn no_function_in_the_daemon_is_over_80_lines() {
    let mut all = Vec::new();
    files(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src/daemon")), &mut all);
    assert!(all.len() > 10, "the daemon's files were found: {all:?}");
    let long: Vec<String> = all
        .iter()
        .flat_map(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            functions(&text)
                .into_iter()
                .filter(|(_, n)| *n > 80)
                .map(move |(f, n)| format!("{}: fn {f}: {n} lines", p.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these: {long:#?}");
}

#[test]
fn the_event_loop_file_is_under_400_lines() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/daemon/event_loop.rs")).unwrap();
    let n = text.lines().count();
    assert!(n < 400, "src/daemon/event_loop.rs has {n} lines");
}

#[test]
fn the_scanner_measures_a_function() {
    let text = "fn a() {\n    if x {\n        y();\n    }\n}\nfn b();\npub(super) async fn c() {}\n";
    assert_eq!(functions(text), [("a".to_string(), 5), ("c".to_string(), 1)]);
}
