//! The mail spool: `spool/` in the state directory. Every rendered mail is
//! written here (atomically, mode 0600) before the first attempt to send it
//! and removed only after a server accepted it, so mail survives a restart
//! or crash; delivery is at least once, with the Message-ID stored in the
//! file. Beyond `spool_max` the oldest group mails are folded into one
//! digest; mails about failoverd itself are kept.
//!
//! When the folder cannot be written, mail is kept in memory and still
//! sent: the error is returned for the caller to report, never a reason to
//! drop a mail.

use std::collections::VecDeque;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::render::{Class, Mail};

/// The spool file format's version; a file of another version is set aside.
const VERSION: u32 = 1;

/// One spooled mail; `seq` orders the spool and names the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub seq: u64,
    pub mail: Mail,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    version: u32,
    mail: Mail,
}

/// The spool, in memory and (unless [`Spool::memory`]) on disk.
#[derive(Debug)]
pub struct Spool {
    dir: Option<PathBuf>,
    entries: VecDeque<Entry>,
    next_seq: u64,
}

impl Spool {
    /// Opens `dir` (created with mode 0700) and loads its mails in order.
    /// Files that cannot be read are renamed `NAME.bad` and reported in
    /// the returned warnings, so one bad file never blocks the rest.
    pub fn open(dir: &Path) -> io::Result<(Spool, Vec<String>)> {
        DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
        let mut warnings = Vec::new();
        let mut entries = Vec::new();
        for item in fs::read_dir(dir)? {
            let path = item?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
            if name.starts_with('.') && name.ends_with(".tmp") {
                // A write that never reached its rename: never attempted.
                let _ = fs::remove_file(&path);
                continue;
            }
            let Some(seq) = seq_of(&name) else { continue };
            match load(&path) {
                Ok(mail) => entries.push(Entry { seq, mail }),
                Err(e) => warnings.push(set_aside(&path, &e)),
            }
        }
        entries.sort_by_key(|e| e.seq);
        let next_seq = entries.last().map_or(1, |e| e.seq + 1);
        let spool = Spool {
            dir: Some(dir.to_owned()),
            entries: entries.into(),
            next_seq,
        };
        Ok((spool, warnings))
    }

    /// A spool that keeps mails in memory only: for logged mail (no
    /// `[mail]`), which has nothing to survive a restart for.
    pub fn memory() -> Spool {
        Spool {
            dir: None,
            entries: VecDeque::new(),
            next_seq: 1,
        }
    }

    /// Appends `mail`. It is always kept in memory; the `Err` says it could
    /// not be written to disk.
    pub fn push(&mut self, mail: Mail) -> (u64, io::Result<()>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let written = self.write(seq, &mail);
        self.entries.push_back(Entry { seq, mail });
        (seq, written)
    }

    /// The oldest mail: the next to send.
    pub fn front(&self) -> Option<&Entry> {
        self.entries.front()
    }

    pub fn get(&self, seq: u64) -> Option<&Entry> {
        self.entries.iter().find(|e| e.seq == seq)
    }

    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether mails are kept on disk (not [`Spool::memory`]).
    pub fn is_persistent(&self) -> bool {
        self.dir.is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Removes a mail a server accepted. Gone from memory even if the file
    /// cannot be removed (it is then sent again after a restart: at least
    /// once).
    pub fn remove(&mut self, seq: u64) -> io::Result<()> {
        self.entries.retain(|e| e.seq != seq);
        let Some(dir) = &self.dir else { return Ok(()) };
        match fs::remove_file(dir.join(file_name(seq))) {
            Ok(()) => File::open(dir)?.sync_all(),
            // Never written (the folder failed): nothing to remove.
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// When more than `max` mails wait, folds the oldest group mails and
    /// digests (never daemon or test mails, never `busy`, the one being
    /// sent) into one mail made by `fold`, which takes the place of the
    /// oldest. Returns how many mails were folded (0: nothing to do, or
    /// fewer than two foldable mails).
    ///
    /// Crash safety: the digest atomically replaces the oldest folded file
    /// before the others are removed, so a crash in between at worst sends
    /// some events twice.
    pub fn fold_over(
        &mut self,
        max: usize,
        busy: Option<u64>,
        fold: impl FnOnce(&[Mail]) -> Mail,
    ) -> io::Result<usize> {
        let max = max.max(1);
        if self.entries.len() <= max {
            return Ok(0);
        }
        let need = self.entries.len() - max + 1;
        let picks: Vec<&Entry> = (self.entries.iter())
            .filter(|e| matches!(e.mail.class, Class::Group | Class::Digest) && Some(e.seq) != busy)
            .take(need)
            .collect();
        if picks.len() < 2 {
            return Ok(0);
        }
        let seqs: Vec<u64> = picks.iter().map(|e| e.seq).collect();
        let mails: Vec<Mail> = picks.into_iter().map(|e| e.mail.clone()).collect();
        let digest = fold(&mails);
        self.write(seqs[0], &digest)?;
        if let Some(first) = self.entries.iter_mut().find(|e| e.seq == seqs[0]) {
            first.mail = digest;
        }
        for seq in &seqs[1..] {
            self.remove(*seq)?;
        }
        Ok(seqs.len())
    }

    fn write(&self, seq: u64, mail: &Mail) -> io::Result<()> {
        let Some(dir) = &self.dir else { return Ok(()) };
        let stored = Stored {
            version: VERSION,
            mail: mail.clone(),
        };
        let bytes = serde_json::to_vec_pretty(&stored).map_err(io::Error::other)?;
        write_atomic(dir, &file_name(seq), &bytes)
    }
}

/// Write to a temporary file, fsync, rename over `name`, fsync the folder:
/// a reader (or the next start) sees the old file or the whole new one.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, dir.join(name))?;
    File::open(dir)?.sync_all()
}

fn file_name(seq: u64) -> String {
    format!("{seq:020}.json")
}

fn seq_of(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".json")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

fn load(path: &Path) -> Result<Mail, String> {
    let bytes = fs::read(path).map_err(|e| e.to_string())?;
    let stored: Stored = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    if stored.version != VERSION {
        return Err(format!("unknown spool file version {}", stored.version));
    }
    Ok(stored.mail)
}

fn set_aside(path: &Path, why: &str) -> String {
    let bad = path.with_extension("json.bad");
    match fs::rename(path, &bad) {
        Ok(()) => format!(
            "spooled mail {} unreadable ({why}); kept as {}",
            path.display(),
            bad.display()
        ),
        Err(e) => format!(
            "spooled mail {} unreadable ({why}) and not set aside: {e}",
            path.display()
        ),
    }
}

#[cfg(test)]
mod tests;
