//! The history file on disk: reading it back (a damaged line is skipped and
//! counted, never a reason to fail), setting a damaged or planted file
//! aside as `history.jsonl.damaged-<UTC>`, rewriting it atomically (temp,
//! fsync, rename, fsync of the folder) when compacted, and opening it to
//! append. Every open goes through state/entry.rs: no link is followed, no
//! FIFO waited for, new files belong to the directory's owner.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::{COMPACT_TO, FILE, HUGE_BYTES, KEEP, MAX_LINE, Record, VERSION};
use crate::state::entry;

/// What reading the file found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Loaded {
    /// The good records, in the file's order (the order they happened,
    /// even when the clock stepped back meanwhile).
    pub records: Vec<Record>,
    /// Lines that are not a record (broken JSON, too long, not UTF-8).
    pub bad: usize,
    /// Records of another version.
    pub other_version: usize,
    /// The last line ends without a newline (a write cut short, or one
    /// still being written by the daemon).
    pub truncated: bool,
    /// Larger than [`HUGE_BYTES`]: not read.
    pub huge: bool,
}

impl Loaded {
    /// Whether anything was not a good record (the partial last line
    /// aside).
    pub fn damaged(&self) -> bool {
        self.bad > 0 || self.other_version > 0 || self.huge
    }

    /// What was wrong, for a warning; `None` when nothing was.
    pub fn problems(&self) -> Option<String> {
        let mut p = Vec::new();
        if self.huge {
            p.push(format!("larger than {HUGE_BYTES} bytes"));
        }
        if self.bad > 0 {
            p.push(format!("{} unreadable line(s)", self.bad));
        }
        if self.other_version > 0 {
            p.push(format!(
                "{} record(s) of another version than {VERSION}",
                self.other_version
            ));
        }
        if self.truncated {
            p.push("a truncated last line".to_owned());
        }
        (!p.is_empty()).then(|| p.join(", "))
    }
}

#[derive(serde::Deserialize)]
struct VersionOnly {
    v: u32,
}

/// Parses the file's bytes; never fails.
pub fn parse(bytes: &[u8]) -> Loaded {
    let mut out = Loaded::default();
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    // After the last newline: empty, or a line cut short.
    if let Some(last) = lines.pop()
        && !last.is_empty()
    {
        out.truncated = true;
    }
    for line in lines {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if line.len() > MAX_LINE {
            out.bad += 1;
            continue;
        }
        match serde_json::from_slice::<Record>(line) {
            Ok(r) if r.v == VERSION => out.records.push(r),
            Ok(_) => out.other_version += 1,
            Err(_) => match serde_json::from_slice::<VersionOnly>(line) {
                Ok(v) if v.v != VERSION => out.other_version += 1,
                _ => out.bad += 1,
            },
        }
    }
    out
}

/// The file's path in `dir`.
pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

/// Reads the history of `dir` (absent: empty). A link, FIFO or other
/// non-file is an error naming it; a file over [`HUGE_BYTES`] is `huge`.
pub fn read(dir: &Path) -> io::Result<Loaded> {
    let p = path(dir);
    if !entry::check_entry(&p)? {
        return Ok(Loaded::default());
    }
    let f = entry::open_read(&p)?;
    if f.metadata()?.len() > HUGE_BYTES {
        return Ok(Loaded {
            huge: true,
            ..Loaded::default()
        });
    }
    match entry::read_limited(&p, HUGE_BYTES) {
        Ok(bytes) => Ok(parse(&bytes)),
        // Grew past the bound between the two looks.
        Err(e) if e.kind() == io::ErrorKind::Other => Ok(Loaded {
            huge: true,
            ..Loaded::default()
        }),
        Err(e) => Err(e),
    }
}

/// `20261206T214500Z` for the damaged file's name.
fn stamp(now: SystemTime) -> String {
    crate::time::rfc3339(now).replace(['-', ':'], "")
}

/// Moves the entry `history.jsonl` (whatever it is: rename never follows
/// a link) aside as `history.jsonl.damaged-<UTC>`; returns the new name.
pub fn set_aside(dir: &Path, now: SystemTime) -> io::Result<PathBuf> {
    let mut to = dir.join(format!("{FILE}.damaged-{}", stamp(now)));
    let mut n = 1;
    while std::fs::symlink_metadata(&to).is_ok() {
        to = dir.join(format!("{FILE}.damaged-{}-{n}", stamp(now)));
        n += 1;
    }
    std::fs::rename(path(dir), &to)?;
    entry::sync_dir(dir)?;
    Ok(to)
}

/// The records to keep at `now`: none older than [`KEEP`], and then the
/// oldest dropped until the lines fit in `max_bytes`. Records whose time
/// lies ahead of `now` (a clock stepped back) are kept.
pub fn bounded(records: Vec<Record>, now: SystemTime, max_bytes: u64) -> Vec<Record> {
    let cutoff = super::millis(crate::time::wall_sub(now, KEEP));
    let mut kept: Vec<(Record, u64)> = records
        .into_iter()
        .filter(|r| r.t >= cutoff)
        .map(|r| {
            let len = u64::try_from(r.line().len()).unwrap_or(u64::MAX);
            (r, len)
        })
        .collect();
    let mut total: u64 = kept.iter().map(|(_, l)| *l).fold(0, u64::saturating_add);
    let mut drop = 0;
    while total > max_bytes && drop < kept.len() {
        total = total.saturating_sub(kept[drop].1);
        drop += 1;
    }
    kept.drain(..drop);
    kept.into_iter().map(|(r, _)| r).collect()
}

/// Writes `records` as the whole file, atomically; returns its size.
pub fn rewrite(dir: &Path, records: &[Record]) -> io::Result<u64> {
    let mut bytes = Vec::new();
    for r in records {
        bytes.extend_from_slice(r.line().as_bytes());
    }
    entry::write_atomic(dir, FILE, &bytes)?;
    Ok(u64::try_from(bytes.len()).unwrap_or(u64::MAX))
}

/// Rewrites the file within the bound at `now` (the oldest dropped
/// first); returns the records kept and the new size.
pub fn compact(dir: &Path, records: Vec<Record>, now: SystemTime) -> io::Result<(usize, u64)> {
    let kept = bounded(records, now, COMPACT_TO);
    let size = rewrite(dir, &kept)?;
    Ok((kept.len(), size))
}

/// Opens the file to append (created for the directory's owner when
/// absent); never through a link.
pub fn open_append(dir: &Path) -> io::Result<File> {
    let p = path(dir);
    if !entry::check_entry(&p)? {
        drop(entry::create_new(dir, FILE)?);
    }
    let f = OpenOptions::new()
        .append(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&p)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => entry::planted(&p, "a symbolic link"),
            Some(libc::ENXIO) => entry::planted(&p, "a FIFO or device"),
            _ => e,
        })?;
    if !f.metadata()?.file_type().is_file() {
        return Err(entry::planted(&p, "not a regular file"));
    }
    Ok(f)
}

/// Appends `records` in one write, then fsyncs; returns the bytes added.
pub fn append(f: &mut File, records: &[Record]) -> io::Result<u64> {
    let mut bytes = Vec::new();
    for r in records {
        bytes.extend_from_slice(r.line().as_bytes());
    }
    f.write_all(&bytes)?;
    f.sync_data()?;
    Ok(u64::try_from(bytes.len()).unwrap_or(u64::MAX))
}
