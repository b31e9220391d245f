//! The state directory (docs/state-file.md): `state.json`, versioned,
//! written atomically (write, fsync, rename, fsync the folder), and the
//! exclusive lock that tells whether a daemon runs.
//!
//! Beliefs, unconfirmed pushes and sync hashes are kept per firewall URL;
//! last states, holds, damping histories, restart backoffs and reactivate
//! deadlines per group whatever the URL. Times that must survive a restart
//! are wall-clock times.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::firewall::decide::Want;

/// The version this code writes and reads.
pub const VERSION: u32 = 1;

pub use crate::firewall::decide::Belief;

/// Per firewall URL.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FirewallState {
    pub beliefs: BTreeMap<String, Belief>,
    /// Pushes decided but not sent at shutdown.
    pub unconfirmed: BTreeMap<String, Want>,
    /// Hash of the definition the firewall last accepted from failoverd.
    pub sync_hashes: BTreeMap<String, String>,
    /// When each belief was set (status: "last set by failoverd at T").
    pub set_at: BTreeMap<String, SystemTime>,
    /// DeActives failoverd decided itself (group: whether for a restart)
    /// whose answer had not come when it stopped or crashed: still mailed,
    /// at the next start.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub decided: BTreeMap<String, bool>,
}

/// A maintenance hold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hold {
    pub until: SystemTime,
    pub reason: String,
}

/// Per group, whatever the URL.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupState {
    /// Last known states: "up"/"down" per member (failover order) and group.
    pub group: Option<String>,
    pub members: Vec<Option<String>>,
    pub expected_active: Option<usize>,
    pub since: Option<SystemTime>,
    pub hold: Option<Hold>,
    /// DeActives failoverd decided, within `flap_window`.
    pub deactives: Vec<SystemTime>,
    pub restart_backoff_secs: Option<u64>,
    pub next_restart: Option<SystemTime>,
    /// A restart's Active not yet accepted: sent at start.
    pub restart_active_pending: bool,
    /// When failoverd's own DeActive still standing was sent.
    pub deactivated_at: Option<SystemTime>,
    pub last_up: Option<SystemTime>,
}

impl GroupState {
    /// Holds the group until `until` for `reason`, unless a hold that ends
    /// later is on it already: a hold never shortens (docs/safety.md).
    pub fn hold_until(&mut self, until: SystemTime, reason: &str) {
        if self.hold.as_ref().is_none_or(|h| h.until < until) {
            self.hold = Some(Hold {
                until,
                reason: reason.to_string(),
            });
        }
    }
}

/// The whole file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateFile {
    pub version: u32,
    pub firewalls: BTreeMap<String, FirewallState>,
    pub groups: BTreeMap<String, GroupState>,
}

impl Default for StateFile {
    fn default() -> Self {
        StateFile {
            version: VERSION,
            firewalls: BTreeMap::new(),
            groups: BTreeMap::new(),
        }
    }
}

/// The state directory.
#[derive(Clone, Debug)]
pub struct StateDir {
    pub path: PathBuf,
}

/// Loading found something to say (an unknown version, a broken file).
pub type Warning = String;

impl StateDir {
    pub fn new(path: &Path) -> StateDir {
        StateDir {
            path: path.to_path_buf(),
        }
    }

    pub fn file(&self) -> PathBuf {
        self.path.join("state.json")
    }

    /// Reads `state.json`; a missing file is an empty state; an unknown
    /// version or unreadable content is ignored with a warning (and left in
    /// place until the next write replaces it).
    pub fn load(&self) -> (StateFile, Option<Warning>) {
        let text = match std::fs::read_to_string(self.file()) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (StateFile::default(), None),
            Err(e) => {
                return (
                    StateFile::default(),
                    Some(format!("cannot read {}: {e}", self.file().display())),
                );
            }
        };
        let version = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("version").and_then(serde_json::Value::as_u64));
        match version {
            Some(v) if v == u64::from(VERSION) => match serde_json::from_str(&text) {
                Ok(s) => (s, None),
                Err(e) => (
                    StateFile::default(),
                    Some(format!("{} is damaged ({e}); starting afresh", self.file().display())),
                ),
            },
            Some(v) => (
                StateFile::default(),
                Some(format!("{} has unknown version {v}; ignored", self.file().display())),
            ),
            None => (
                StateFile::default(),
                Some(format!("{} is not a state file; ignored", self.file().display())),
            ),
        }
    }

    /// Writes `state.json` atomically: a temporary file, fsync, rename,
    /// fsync of the folder. New files are 0600 and owned by the folder's
    /// owner.
    pub fn save(&self, state: &StateFile) -> std::io::Result<()> {
        let text = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
        write_atomic(&self.path, "state.json", &text)
    }

    /// Takes the exclusive lock that marks a running daemon (or a `push`
    /// without one); `None` when another process holds it.
    pub fn try_lock(&self) -> std::io::Result<Option<File>> {
        std::fs::create_dir_all(&self.path)?;
        let path = self.path.join("lock");
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)?;
        give_to_owner(&self.path, &path);
        match f.try_lock() {
            Ok(()) => Ok(Some(f)),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }
}

/// Writes `dir/name` atomically (see [`StateDir::save`]).
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{name}.tmp"));
    {
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    give_to_owner(dir, &tmp);
    std::fs::rename(&tmp, dir.join(name))?;
    File::open(dir)?.sync_all()
}

/// No command leaves files owned by another user than the folder's owner
/// (a root `push` beside a DynamicUser daemon).
fn give_to_owner(dir: &Path, file: &Path) {
    if let (Ok(d), Ok(f)) = (std::fs::metadata(dir), std::fs::metadata(file))
        && (d.uid() != f.uid() || d.gid() != f.gid())
    {
        let _ = std::os::unix::fs::chown(file, Some(d.uid()), Some(d.gid()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_unknown_versions() {
        let dir = tempfile::tempdir().unwrap();
        let sd = StateDir::new(dir.path());
        assert_eq!(sd.load(), (StateFile::default(), None));
        let mut s = StateFile::default();
        let fw = s
            .firewalls
            .entry("https://fw:4444/webconsole/APIController".into())
            .or_default();
        fw.beliefs.insert("HQ".into(), Belief::DeActive);
        s.groups.entry("HQ".into()).or_default().restart_active_pending = true;
        sd.save(&s).unwrap();
        assert_eq!(sd.load(), (s, None));
        let mode = std::fs::metadata(sd.file()).unwrap().permissions();
        assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777, 0o600);
        std::fs::write(sd.file(), r#"{"version": 99, "x": 1}"#).unwrap();
        let (s, w) = sd.load();
        assert_eq!(s, StateFile::default());
        assert!(w.unwrap().contains("unknown version 99"));
        std::fs::write(sd.file(), "garbage").unwrap();
        assert!(sd.load().1.unwrap().contains("not a state file"));
    }

    #[test]
    fn the_lock_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let sd = StateDir::new(dir.path());
        let held = sd.try_lock().unwrap();
        assert!(held.is_some());
        assert!(sd.try_lock().unwrap().is_none(), "a second holder is refused");
        drop(held);
        assert!(sd.try_lock().unwrap().is_some(), "free again once released");
    }
}
