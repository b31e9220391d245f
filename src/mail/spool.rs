//! The mail spool: `spool/` in the state directory. Every rendered mail is
//! written here (atomically, mode 0600) before the first attempt to send it
//! and removed only after a server accepted it, so mail survives a restart
//! or crash; delivery is at least once, with the Message-ID stored in the
//! file. Beyond `spool_max` the oldest group mails are folded into one
//! digest; mails about failoverd itself are kept.
//!
//! Events not yet in a mail (waiting in the coalescing window or held for
//! an hourly digest) are kept in `pending.jsonl` (see [`pending`]), so a
//! crash loses none of them; the next start takes them back.
//!
//! When the folder cannot be written, mail is kept in memory and still
//! sent: the error is returned for the caller to report, never a reason to
//! drop a mail. Every file operation goes through [`files::Folder`]: no link
//! is followed and nothing but a regular file is opened; an entry in the
//! folder that is not a regular file is an error at start, naming it.

use std::collections::VecDeque;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::pace::Unsent;
use super::render::{Class, Mail};

pub mod files;
pub mod pending;

use files::Folder;

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
    dir: Option<Folder>,
    entries: VecDeque<Entry>,
    next_seq: u64,
    /// Events read from `pending.jsonl` at open, until taken.
    unsent: Unsent,
    /// Whether `pending.jsonl` may exist (written and not removed since).
    pending_on_disk: bool,
}

impl Spool {
    /// Opens `dir` (created with mode 0700) and loads its mails in order.
    /// Files that cannot be read are renamed `NAME.bad` and reported in
    /// the returned warnings, so one bad file never blocks the rest. `dir`
    /// or an entry in it that is not what failoverd writes (a symbolic
    /// link, a FIFO, a folder, ...) is an error naming it: never followed.
    pub fn open(dir: &Path) -> io::Result<(Spool, Vec<String>)> {
        let folder = Folder::open(dir)?;
        if let Some(first) = files::foreign_entries(dir)?.first() {
            return Err(files::planted(Path::new(first), "in the mail spool"));
        }
        let mut warnings = Vec::new();
        let mut entries = Vec::new();
        for item in std::fs::read_dir(dir)? {
            let name = item?.file_name().to_str().unwrap_or_default().to_owned();
            if name.starts_with('.') && name.ends_with(".tmp") {
                // A write that never reached its rename: never attempted.
                let _ = folder.remove(&name);
                continue;
            }
            let Some(seq) = seq_of(&name) else { continue };
            match load(&folder, &name) {
                Ok(mail) => entries.push(Entry { seq, mail }),
                Err(e) => warnings.push(set_aside(&folder, dir, &name, &e)),
            }
        }
        entries.sort_by_key(|e| e.seq);
        let (unsent, warning) = pending::load(&folder, dir, &entries);
        warnings.extend(warning);
        let mut spool = Spool {
            next_seq: entries.last().map_or(1, |e| e.seq + 1),
            dir: Some(folder),
            entries: entries.into(),
            pending_on_disk: true,
            unsent: Unsent::default(),
        };
        // Rewritten without the events spooled mails already report, so
        // that those mails, once sent, are never sent again from here.
        if let Err(e) = spool.save_unsent(&unsent) {
            warnings.push(format!("cannot rewrite {}: {e}", dir.join(pending::NAME).display()));
        }
        spool.unsent = unsent;
        Ok((spool, warnings))
    }

    /// A spool that keeps mails in memory only: for logged mail (no
    /// `[mail]`), which has nothing to survive a restart for.
    pub fn memory() -> Spool {
        Spool {
            dir: None,
            entries: VecDeque::new(),
            next_seq: 1,
            unsent: Unsent::default(),
            pending_on_disk: false,
        }
    }

    /// The events found in `pending.jsonl` at open (none the second time):
    /// logged before a crash, not yet in a spooled mail.
    pub fn take_unsent(&mut self) -> Unsent {
        std::mem::take(&mut self.unsent)
    }

    /// Records the events not yet in a mail (fsynced), replacing the last
    /// record; none removes the file.
    pub fn save_unsent(&mut self, unsent: &Unsent) -> io::Result<()> {
        let Some(dir) = &self.dir else { return Ok(()) };
        if unsent.is_empty() {
            if self.pending_on_disk {
                match dir.remove(pending::NAME) {
                    Ok(()) => dir.sync()?,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
                self.pending_on_disk = false;
            }
            return Ok(());
        }
        dir.write_atomic(pending::NAME, &pending::encode(unsent))?;
        self.pending_on_disk = true;
        Ok(())
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
        match dir.remove(&file_name(seq)) {
            Ok(()) => dir.sync(),
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
        dir.write_atomic(&file_name(seq), &bytes)
    }
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

fn load(dir: &Folder, name: &str) -> Result<Mail, String> {
    let bytes = dir.read(name).map_err(|e| e.to_string())?;
    let stored: Stored = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    if stored.version != VERSION {
        return Err(format!("unknown spool file version {}", stored.version));
    }
    Ok(stored.mail)
}

/// Renames an unreadable spool file `NAME.bad`; the warning says so.
fn set_aside(dir: &Folder, path: &Path, name: &str, why: &str) -> String {
    let bad = format!("{name}.bad");
    let (path, shown) = (path.join(name), path.join(&bad));
    match dir.rename(name, &bad) {
        Ok(()) => format!(
            "spooled mail {} unreadable ({why}); kept as {}",
            path.display(),
            shown.display()
        ),
        Err(e) => format!(
            "spooled mail {} unreadable ({why}) and not set aside: {e}",
            path.display()
        ),
    }
}

#[cfg(test)]
mod safety_tests;
#[cfg(test)]
mod tests;
