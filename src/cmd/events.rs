//! `failoverd events`: the event history kept in the state directory
//! (contract section 18, docs/history.md), oldest first, read from the
//! file without a daemon (and while one runs). Damaged lines are skipped
//! with a warning on stderr; a group the settings do not name is warned
//! about (did you mean?), and its kept events are still printed: a group
//! removed from the settings keeps its history.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::config::Plan;
use crate::history::{Record, millis, store};

use super::exit;

/// The options of `events` and `report`.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub since: Option<Duration>,
    pub group: Option<String>,
    pub json: bool,
}

/// The settings (`None` when they are not valid: the state directory is
/// still found, so an admin who may read the history but not the
/// settings' password file still gets it) and the history's records, or
/// the exit code.
pub fn load(path: &Path, o: &Options, err: &mut dyn Write) -> Result<(Option<Plan>, Vec<Record>), i32> {
    let dir = match crate::config::state_dir_of(path) {
        Ok(d) => d,
        Err(e) => {
            let _ = writeln!(err, "failoverd: {e}");
            return Err(exit::CONFIG);
        }
    };
    let plan = crate::config::load(path).ok().and_then(|l| l.plan);
    let dir = plan.as_ref().map_or(dir, |p| p.settings.state_dir.clone());
    match &plan {
        None => {
            let _ = writeln!(
                err,
                "failoverd: warning: the settings are not valid as this user reads them (run failoverd check); the history is read from {}",
                dir.display()
            );
        }
        Some(plan) => warn_unknown_group(plan, o, err),
    }
    let loaded = match store::read(&dir) {
        Ok(l) => l,
        Err(e) => {
            let _ = writeln!(
                err,
                "failoverd: cannot read the history {}: {e}",
                store::path(&dir).display()
            );
            return Err(exit::CONFIG);
        }
    };
    if loaded.damaged() {
        let what = loaded.problems().unwrap_or_default();
        let _ = writeln!(
            err,
            "failoverd: warning: {} has {what}: skipped (the daemon sets a damaged file aside at its next start)",
            store::path(&dir).display()
        );
    }
    Ok((plan, loaded.records))
}

/// `--group` names no group of the settings: a warning, with a suggestion.
fn warn_unknown_group(plan: &Plan, o: &Options, err: &mut dyn Write) {
    if let Some(g) = &o.group
        && !plan.groups.iter().any(|x| x.name() == g)
    {
        let names: Vec<&str> = plan.groups.iter().map(|x| x.name()).collect();
        let hint = crate::config::diag::hint(g, &names);
        let _ = writeln!(
            err,
            "failoverd: warning: the settings name no group {g:?}{hint}; showing what the history kept of it"
        );
    }
}

/// The records `o` selects, in the file's order.
pub fn select<'a>(records: &'a [Record], o: &'a Options, now: SystemTime) -> impl Iterator<Item = &'a Record> {
    let since = o.since.map_or(0, |d| millis(crate::time::wall_sub(now, d)));
    records.iter().filter(move |r| {
        r.t >= since
            && o.group
                .as_ref()
                .is_none_or(|g| r.group.is_none() || r.group.as_ref() == Some(g))
    })
}

/// One record as a line of the table.
pub fn line(r: &Record) -> String {
    format!(
        "{}  {:<18} {:<16} {:<16} {}",
        r.time,
        r.event,
        r.group.as_deref().unwrap_or("-"),
        r.member.as_deref().unwrap_or("-"),
        r.text
    )
}

/// Prints the history; returns the exit code.
pub fn run(path: &Path, o: &Options, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let (_, records) = match load(path, o, err) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let mut text = String::new();
    for r in select(&records, o, SystemTime::now()) {
        if o.json {
            text.push_str(&r.line());
        } else {
            text.push_str(&line(r));
            text.push('\n');
        }
    }
    if !o.json && text.is_empty() {
        text.push_str("no events kept for that selection\n");
    }
    let _ = out.write_all(text.as_bytes());
    exit::OK
}
