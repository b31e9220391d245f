//! Reading `state.json` at start, with the lock held (docs/state-file.md,
//! "Damage"): a damaged file is set aside as `state.json.damaged-<UTC
//! time>`, never overwritten nor deleted, and the previous good state
//! (`state.json.prev`) is used instead; when neither can be used, every
//! group starts held ("state lost") and the loss waits in the file to be
//! mailed. failoverd never starts from a silently empty state; only a
//! first start (neither file there) starts empty.

#![deny(clippy::arithmetic_side_effects)]

use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::{StateDir, StateFile, VERSION, entry, times};

/// The reason of the hold every group gets when the state is lost.
pub const STATE_LOST_REASON: &str = "state lost: check the firewall, then failoverd release";

/// A state file larger than this is damage (failoverd writes kilobytes).
const MAX_BYTES: u64 = 64 << 20;

/// What one state file holds.
#[derive(Debug)]
pub(super) enum Found {
    Missing,
    Good(Box<StateFile>),
    /// Unreadable, not JSON, wrong types, unknown version: why.
    Damaged(String),
}

/// Reads and parses `path`; an entry that is not a regular file is an
/// error naming it (not damage: failoverd did not put it there).
pub(super) fn read(path: &Path) -> io::Result<Found> {
    match entry::read_limited(path, MAX_BYTES) {
        Ok(bytes) => Ok(parse(&bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Found::Missing),
        Err(e) if entry::is_planted(&e) => Err(e),
        Err(e) => Ok(Found::Damaged(format!("cannot read it: {e}"))),
    }
}

/// Parses a state file's bytes.
pub(super) fn parse(bytes: &[u8]) -> Found {
    let value: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => return Found::Damaged(format!("not JSON: {e}")),
    };
    match value.get("version").and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(VERSION) => match serde_json::from_slice(bytes) {
            Ok(s) => Found::Good(Box::new(s)),
            Err(e) => Found::Damaged(format!("not a version {VERSION} state file: {e}")),
        },
        Some(v) => Found::Damaged(format!("unknown version {v}")),
        None => Found::Damaged("no version: not a state file".into()),
    }
}

/// What [`StateDir::recover`] found.
#[derive(Debug)]
pub struct Loaded {
    pub state: StateFile,
    /// Each to be logged as a warning: what was set aside, which file was
    /// used, times dropped.
    pub warnings: Vec<String>,
    /// Neither file could be used: every group is held (`state.lost` says
    /// why, until mailed).
    pub lost: bool,
}

/// Moves `path` aside as `NAME.damaged-<UTC time>` (a suffix `-N` when
/// that exists): never over an existing file. Returns the new path.
pub fn set_aside(dir: &Path, path: &Path, now: SystemTime) -> io::Result<PathBuf> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("state.json");
    let stamp = chrono::DateTime::<chrono::Utc>::from(now).format("%Y%m%dT%H%M%SZ");
    for n in 0..1000u32 {
        let aside = match n {
            0 => dir.join(format!("{name}.damaged-{stamp}")),
            n => dir.join(format!("{name}.damaged-{stamp}-{n}")),
        };
        if std::fs::symlink_metadata(&aside).is_ok() {
            continue;
        }
        // A hard link cannot replace an entry; rename where links fail.
        match std::fs::hard_link(path, &aside) {
            Ok(()) => std::fs::remove_file(path)?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(_) => std::fs::rename(path, &aside)?,
        }
        entry::sync_dir(dir)?;
        return Ok(aside);
    }
    Err(io::Error::other(format!(
        "cannot set {} aside: too many damaged copies",
        path.display()
    )))
}

fn at(path: &Path) -> String {
    path.display().to_string()
}

impl StateDir {
    /// Loads the state at start; call it with the lock held. `groups`: every
    /// group of the settings, all held when the state is lost. An error
    /// (an entry that is not a file, a damaged file that cannot be set
    /// aside) means: do not start.
    pub fn recover(&self, groups: &[&str], now: SystemTime) -> io::Result<Loaded> {
        let (main, prev) = (self.file(), self.prev_file());
        let mut warnings = Vec::new();
        let found = read(&main)?;
        let missing = matches!(found, Found::Missing);
        match found {
            Found::Good(s) => return Ok(finish(*s, warnings, now)),
            Found::Missing => {}
            Found::Damaged(why) => {
                let aside = set_aside(&self.path, &main, now)?;
                warnings.push(format!("{} is damaged ({why}): kept as {}", at(&main), at(&aside)));
            }
        }
        match read(&prev)? {
            Found::Good(s) => {
                let why = if missing {
                    " (it is missing: a crash while saving?)"
                } else {
                    ""
                };
                warnings.push(format!(
                    "started from the previous good state {} instead of {}{why}",
                    at(&prev),
                    at(&main)
                ));
                Ok(finish(*s, warnings, now))
            }
            Found::Missing if missing => Ok(finish(StateFile::default(), warnings, now)),
            Found::Missing => Ok(lost(groups, warnings, now)),
            Found::Damaged(why) => {
                let aside = set_aside(&self.path, &prev, now)?;
                warnings.push(format!("{} is damaged too ({why}): kept as {}", at(&prev), at(&aside)));
                Ok(lost(groups, warnings, now))
            }
        }
    }
}

fn finish(mut state: StateFile, mut warnings: Vec<String>, now: SystemTime) -> Loaded {
    warnings.extend(times::check(&mut state, now));
    Loaded {
        state,
        warnings,
        lost: false,
    }
}

/// Neither file usable: every group held, with no other end than a
/// release (a year, the longest hold there is).
fn lost(groups: &[&str], warnings: Vec<String>, now: SystemTime) -> Loaded {
    let mut state = StateFile::default();
    let until = times::add(now, times::YEAR);
    for g in groups {
        state
            .groups
            .entry((*g).into())
            .or_default()
            .hold_until(until, STATE_LOST_REASON);
    }
    let mut why = warnings.join("; ");
    if why.is_empty() {
        why = "state.json is gone and so is state.json.prev".into();
    }
    state.lost = Some(format!(
        "{why}; failoverd does not know which groups an admin holds, so every group is held: check the firewall, then failoverd release"
    ));
    Loaded {
        state,
        warnings,
        lost: true,
    }
}
