//! Reads the `[[hooks]]` tables (docs/hooks.md): the command (an absolute
//! path to an executable file, and its arguments), the event kinds it runs
//! for, its timeout and its name. Every problem is a located error, so
//! `check` shows FILE:LINE:COL as for every other setting.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use toml::de::DeValue;

use super::diag::{Diagnostics, hint};
use super::keys::{Section, names};
use super::settings::Hook;
use super::toml_read::{At, Table};
use crate::mail::event::Kind;

/// A hook's timeout when none is written.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The shortest timeout accepted.
const MIN_TIMEOUT: Duration = Duration::from_millis(100);

/// Every `[[hooks]]` table of `top`, in file order.
pub fn hooks(top: &Table<'_, '_>, d: &mut Diagnostics) -> Vec<Hook> {
    let Some(v) = top.raw("hooks") else {
        return Vec::new();
    };
    let DeValue::Array(items) = v.get_ref() else {
        let msg = "expected [[hooks]] tables: write each hook as a [[hooks]] table with command = [\"/path\"]";
        d.error(top.src(), v.span().start, "hooks", msg);
        return Vec::new();
    };
    let mut out: Vec<Hook> = Vec::new();
    let mut taken = BTreeSet::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("hooks[{i}]");
        let DeValue::Table(t) = item.get_ref() else {
            d.error(top.src(), item.span().start, &path, "expected a [[hooks]] table");
            continue;
        };
        let t = Table::new(top.src(), t, &path, item.span());
        if let Some(h) = hook(&t, &mut taken, d) {
            out.push(h);
        }
    }
    out
}

fn hook(t: &Table<'_, '_>, taken: &mut BTreeSet<String>, d: &mut Diagnostics) -> Option<Hook> {
    t.finish(d, &names(Section::Hooks));
    let command = command(t, d);
    let events = events(t, d);
    let timeout = t
        .duration(d, "timeout", MIN_TIMEOUT)
        .map_or(DEFAULT_TIMEOUT, |v| v.value);
    let name = name(t, command.as_deref(), taken, d);
    Some(Hook {
        name: name?,
        command: command?,
        events,
        timeout,
    })
}

/// `command`: an absolute path to an executable regular file, then its
/// arguments, each passed as it is (no shell).
fn command(t: &Table<'_, '_>, d: &mut Diagnostics) -> Option<Vec<String>> {
    let Some(parts) = t.strings(d, "command") else {
        if t.raw("command").is_none() {
            t.missing(d, "command", "[\"/usr/local/bin/my-hook\", \"an argument\"]");
        }
        return None;
    };
    let Some(first) = parts.first() else {
        let pos = t.key_pos("command").unwrap_or(t.pos);
        let msg = "command = [] names no program: write [\"/absolute/path/to/program\", \"args\"...]";
        d.error(t.src(), pos, &t.key_path("command"), msg);
        return None;
    };
    if parts.iter().any(|p| p.value.contains('\0')) {
        let pos = parts
            .iter()
            .find(|p| p.value.contains('\0'))
            .map_or(first.pos, |p| p.pos);
        d.error(
            t.src(),
            pos,
            &t.key_path("command"),
            "a NUL character cannot be passed to a program: remove it",
        );
        return None;
    }
    if let Err(msg) = executable(&first.value) {
        d.error(t.src(), first.pos, &t.key_path("command"), msg);
        return None;
    }
    Some(parts.into_iter().map(|p| p.value).collect())
}

/// Why `program` cannot be run as a hook, if it cannot: it must be an
/// absolute path (no `$PATH` search) to a regular file with an execute bit.
pub fn executable(program: &str) -> Result<(), String> {
    let path = Path::new(program);
    if !path.is_absolute() {
        return Err(format!(
            "{program:?} is not an absolute path: hooks run with cwd / and no PATH search; write the full path, e.g. \"/usr/local/bin/{}\"",
            path.file_name()
                .map_or(String::new(), |f| f.to_string_lossy().into_owned())
        ));
    }
    let meta = std::fs::metadata(path).map_err(|e| format!("{program:?} cannot be run: {e}; fix the path"))?;
    if !meta.is_file() {
        let kind = super::regular::kind_of(meta.file_type());
        return Err(format!("{program:?} is {kind}, not a program: name an executable file"));
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(format!(
            "{program:?} is not executable (mode {:o}): chmod +x it",
            meta.permissions().mode() & 0o7777
        ));
    }
    Ok(())
}

/// `events`: kind names as in the journal's EVENT field; unset: every event.
fn events(t: &Table<'_, '_>, d: &mut Diagnostics) -> Option<Vec<Kind>> {
    let list = t.strings(d, "events")?;
    if list.is_empty() {
        let pos = t.key_pos("events").unwrap_or(t.pos);
        let msg = "events = [] runs the hook for no event: list kinds such as \"GroupDown\", or remove events to run it for every event";
        d.error(t.src(), pos, &t.key_path("events"), msg);
        return None;
    }
    // The history's own records (PushDecided, FirewallSwitched) are not
    // events: no hook gets them (docs/hooks.md).
    let known: Vec<&str> = Kind::ALL
        .iter()
        .filter(|k| !k.history_only())
        .map(|k| k.name())
        .collect();
    let mut out = Vec::new();
    for At { value, pos } in list {
        match Kind::from_name(&value).filter(|k| !k.history_only()) {
            Some(k) if !out.contains(&k) => out.push(k),
            Some(_) => {}
            None => {
                let shown = super::names::shown(&value);
                let h = hint(&value, &known);
                let msg = format!("unknown event kind {shown}{h}: use the names of docs/hooks.md, e.g. \"GroupDown\"");
                d.error(t.src(), pos, &t.key_path("events"), msg);
            }
        }
    }
    Some(out)
}

/// `name`, else the program's file name; a default name already taken gets
/// `-2`, `-3`, ...; a written name taken twice is an error.
fn name(
    t: &Table<'_, '_>,
    command: Option<&[String]>,
    taken: &mut BTreeSet<String>,
    d: &mut Diagnostics,
) -> Option<String> {
    if let Some(n) = t.string(d, "name") {
        let problem = match super::names::problem(&n.value) {
            Some(p) => Some(format!("hook name {} {p}", super::names::shown(&n.value))),
            None if n.value.is_empty() => Some("name = \"\": give the hook a name, or remove the key".into()),
            None if !taken.insert(n.value.clone()) => {
                Some(format!("hook name {:?} is used twice: names must be distinct", n.value))
            }
            None => None,
        };
        if let Some(msg) = problem {
            d.error(t.src(), n.pos, &t.key_path("name"), msg);
            return None;
        }
        return Some(n.value);
    }
    let program = command?.first()?;
    let base = Path::new(program)
        .file_name()
        .map_or_else(|| program.clone(), |f| f.to_string_lossy().into_owned());
    if let Some(p) = super::names::problem(&base) {
        let pos = t.key_pos("command").unwrap_or(t.pos);
        let msg = format!(
            "the program's file name {} {p}; or give the hook a name",
            super::names::shown(&base)
        );
        d.error(t.src(), pos, &t.key_path("command"), msg);
        return None;
    }
    let mut candidate = base.clone();
    let mut n = 2;
    while !taken.insert(candidate.clone()) {
        candidate = format!("{base}-{n}");
        n += 1;
    }
    Some(candidate)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::diag::{Diagnostics, Source};

    fn read(text: &str) -> (Vec<super::Hook>, Vec<String>) {
        let src = Source::new(Path::new("/x/failoverd.toml"), text);
        let mut d = Diagnostics::default();
        let (doc, _) = toml::de::DeTable::parse_recoverable(text);
        let top = crate::config::toml_read::Table::new(&src, doc.get_ref(), "", 0..0);
        let hooks = super::hooks(&top, &mut d);
        (hooks, d.sorted().iter().map(|e| e.to_string()).collect())
    }

    #[test]
    fn defaults_names_and_kinds() {
        let (h, e) = read(
            "[[hooks]]\ncommand = [\"/bin/true\", \"a b\"]\n[[hooks]]\ncommand = [\"/bin/true\"]\nevents = [\"GroupDown\", \"ApiUnusable\"]\ntimeout = \"2s\"\n",
        );
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(h[0].name, "true");
        assert_eq!(h[0].command, ["/bin/true", "a b"]);
        assert_eq!(h[0].events, None);
        assert_eq!(h[0].timeout, super::DEFAULT_TIMEOUT);
        assert_eq!(h[1].name, "true-2");
        assert_eq!(h[1].events.as_ref().unwrap().len(), 2);
        assert_eq!(h[1].timeout, std::time::Duration::from_secs(2));
    }

    #[test]
    fn bad_hooks_are_located_errors() {
        for (text, want) in [
            ("command = [\"bin/true\"]", "is not an absolute path"),
            ("command = [\"/nonexistent/hook\"]", "cannot be run"),
            ("command = [\"PLAIN\"]", "not executable"),
            ("command = [\"/etc\"]", "a folder, not a program"),
            ("command = []", "names no program"),
            ("events = [\"GroupDown\"]", "required key command"),
            (
                "command = [\"/bin/true\"]\nevents = [\"GroupDwn\"]",
                "(did you mean GroupDown?)",
            ),
            ("command = [\"/bin/true\"]\nevents = []", "no event"),
            ("command = [\"/bin/true\"]\ntimeout = \"2h\"", "too long"),
            ("command = [\"/bin/true\"]\ncomand = 1", "did you mean command?"),
            // A history record, not an event: no hook gets it.
            (
                "command = [\"/bin/true\"]\nevents = [\"PushDecided\"]",
                "unknown event kind \"PushDecided\"",
            ),
            ("command = [\"/tmp/a\\nb\"]", "\"/tmp/a\\nb\" cannot be run"),
            ("command = [\"/bin/true\"]\nname = \"a\\u202Eb\"", "bidirectional"),
        ] {
            let plain = tempfile::NamedTempFile::new().unwrap();
            let text = text.replace("PLAIN", &plain.path().display().to_string());
            let (_, e) = read(&format!("[[hooks]]\n{text}\n"));
            assert!(
                e.iter()
                    .any(|e| e.starts_with("/x/failoverd.toml:") && e.contains(want)),
                "{text}: {e:?}"
            );
        }
        let (_, e) = read(
            "[[hooks]]\ncommand = [\"/bin/true\"]\nname = \"a\"\n[[hooks]]\ncommand = [\"/bin/true\"]\nname = \"a\"\n",
        );
        assert!(e.iter().any(|e| e.contains("used twice") && e.contains(":6:")), "{e:?}");
        let (_, e) = read("hooks = 1\n");
        assert!(e.iter().any(|e| e.contains("[[hooks]]")), "{e:?}");
    }
}
