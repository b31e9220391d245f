//! The state directory (docs/state-file.md): `state.json`, versioned,
//! written atomically (write, fsync, rename, fsync the folder) with the
//! previous good state kept as `state.json.prev`, and the exclusive lock
//! that tells whether a daemon runs. Nothing there is opened through a
//! link or in place of a file ([`entry`]); damage is set aside and
//! recovered from ([`recover`]); saved times are checked at load
//! ([`times`]).
//!
//! Beliefs, unconfirmed pushes and sync hashes are kept per firewall URL;
//! last states, holds, damping histories, restart backoffs and reactivate
//! deadlines per group whatever the URL. Times that must survive a restart
//! are wall-clock times.

pub mod entry;
pub mod recover;
pub mod times;
pub mod word;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::config::names::Name;
use crate::firewall::decide::Want;

/// The version this code writes and reads.
pub const VERSION: u32 = 1;

pub use crate::firewall::decide::Belief;
pub use entry::write_atomic;
pub use recover::{Loaded, STATE_LOST_REASON};
pub use word::Word;

/// The state file, the previous good one, and the temporary file of a save.
pub const FILE: &str = "state.json";
pub const PREV: &str = "state.json.prev";
const TMP: &str = ".state.json.tmp";

/// Per firewall URL.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FirewallState {
    pub beliefs: BTreeMap<Name, Belief>,
    /// Pushes decided but not sent at shutdown.
    pub unconfirmed: BTreeMap<Name, Want>,
    /// No longer used: `sync --changed-only` and the daemon compare with
    /// what the firewall holds now (docs/definitions.md). Old files that
    /// hold hashes are read (and the hashes dropped); an empty map is
    /// still written, so that an older failoverd reads the file.
    #[serde(default, skip_deserializing)]
    pub sync_hashes: BTreeMap<String, String>,
    /// When each belief was set (status: "last set by failoverd at T").
    pub set_at: BTreeMap<Name, SystemTime>,
    /// DeActives failoverd decided itself (group: whether for a restart)
    /// whose answer had not come when it stopped or crashed: still mailed,
    /// at the next start.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub decided: BTreeMap<Name, bool>,
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
    pub group: Option<Word>,
    pub members: Vec<Option<Word>>,
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
    /// later is on it already: a hold never shortens, and one it does not
    /// lengthen keeps its reason (docs/safety.md). True when it placed or
    /// lengthened the hold.
    pub fn hold_until(&mut self, until: SystemTime, reason: &str) -> bool {
        if self.hold.as_ref().is_some_and(|h| h.until >= until) {
            return false;
        }
        self.hold = Some(Hold {
            until,
            reason: reason.to_string(),
        });
        true
    }
}

/// The whole file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateFile {
    pub version: u32,
    pub firewalls: BTreeMap<String, FirewallState>,
    /// Boxed: a B-tree node holds 11 entries and is about two-thirds
    /// full, so an entry's slack is paid on a pointer instead of on the
    /// whole state (issue #30: 1.03 -> 0.6 MB at 2,500 groups). The JSON
    /// is the same.
    pub groups: BTreeMap<Name, Box<GroupState>>,
    /// The state was lost (both files damaged) and this is why: kept until
    /// a daemon mailed it (a `push` without a daemon may find the loss).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost: Option<String>,
}

impl Default for StateFile {
    fn default() -> Self {
        StateFile {
            version: VERSION,
            firewalls: BTreeMap::new(),
            groups: BTreeMap::new(),
            lost: None,
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
        self.path.join(FILE)
    }

    /// The previous good state, used when `state.json` is damaged.
    pub fn prev_file(&self) -> PathBuf {
        self.path.join(PREV)
    }

    /// Reads `state.json` without changing anything (for readers without
    /// the lock): a missing file is an empty state; damage, or an entry
    /// that is not a file, is an empty state with a warning.
    pub fn load(&self) -> (StateFile, Option<Warning>) {
        let file = self.file();
        match recover::read(&file) {
            Ok(recover::Found::Good(s)) => (*s, None),
            Ok(recover::Found::Missing) => (StateFile::default(), None),
            Ok(recover::Found::Damaged(why)) => (
                StateFile::default(),
                Some(format!("{} is damaged ({why}); not used", file.display())),
            ),
            Err(e) => (StateFile::default(), Some(e.to_string())),
        }
    }

    /// Writes `state.json` atomically: a temporary file created anew,
    /// fsync; the current `state.json` (a regular file) renamed to
    /// `state.json.prev`; the temporary file renamed to `state.json`;
    /// fsync of the folder. At every moment one of the two names holds a
    /// whole state. New files are 0600 and owned by the folder's owner;
    /// an entry that is not a file is an error naming it.
    ///
    /// The JSON goes straight into the temporary file through a small
    /// buffer: no copy of the whole file is built in memory (at thousands
    /// of groups that copy was a megabyte, and the hole it left stayed in
    /// the process's resident memory).
    pub fn save(&self, state: &StateFile) -> std::io::Result<()> {
        entry::check_dir(&self.path)?;
        let (f, tmp) = entry::create_temp(&self.path, FILE)?;
        let mut w = std::io::BufWriter::with_capacity(8 * 1024, f);
        serde_json::to_writer_pretty(&mut w, state).map_err(std::io::Error::other)?;
        let f = w.into_inner().map_err(std::io::IntoInnerError::into_error)?;
        f.sync_all()?;
        let main = self.file();
        if entry::check_entry(&main)? {
            entry::check_entry(&self.prev_file())?;
            std::fs::rename(&main, self.prev_file())?;
        }
        std::fs::rename(&tmp, &main)?;
        entry::sync_dir(&self.path)
    }

    /// Takes the exclusive lock that marks a running daemon (or a `push`
    /// without one); `None` when another process holds it. With the lock,
    /// the files failoverd owns there are checked: an entry that is not a
    /// regular file (a planted link, FIFO, directory) is an error naming
    /// it ([`entry::is_planted`]), and nothing is opened through it.
    pub fn try_lock(&self) -> std::io::Result<Option<File>> {
        entry::check_dir(&self.path)?;
        let f = entry::open_or_create(&self.path, "lock")?;
        match f.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
        for name in [FILE, PREV, TMP] {
            entry::check_entry(&self.path.join(name))?;
        }
        // Who holds the lock, for the next process that finds it taken.
        let mut f = f;
        f.set_len(0)?;
        std::io::Write::write_all(&mut f, format!("{}\n", std::process::id()).as_bytes())?;
        Ok(Some(f))
    }

    /// The process id the lock's holder wrote, if it can be read (an
    /// older version wrote none).
    pub fn holder(&self) -> Option<u32> {
        let bytes = entry::read_limited(&self.path.join("lock"), 64).ok()?;
        String::from_utf8_lossy(&bytes).trim().parse().ok()
    }

    /// The folder as an absolute path, for messages.
    pub fn shown(&self) -> PathBuf {
        std::path::absolute(&self.path).unwrap_or_else(|_| self.path.clone())
    }
}

#[cfg(test)]
mod tests;
