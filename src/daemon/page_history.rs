//! The shell's side of `page-history.bin` (docs/state-file.md): the status
//! page's last hour of points, read at start and written every 5 minutes
//! and at stop, so that a restart or an upgrade keeps the page's charts.
//!
//! Never a reason not to start: a damaged, cut-short, other-version or
//! huge file is set aside as `page-history.bin.damaged-<UTC>` with a
//! warning; an entry that is not a regular file is left alone and
//! replaced by the next save (a rename replaces the entry, never follows
//! it). Files are opened and created by [`crate::state::entry`]'s rules.
//!
//! The points are written from the loop straight into the temporary
//! file, a stream at a time (no copy of the history in memory); its
//! fsync, the rename and the folder's fsync run on a blocking thread,
//! except at stop, where the loop waits for them.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use super::core::Core;
use super::persist::Clocks;
use crate::state::{StateDir, entry, recover};

/// The file's name in the state directory.
pub const FILE: &str = "page-history.bin";
/// A larger file is not a history (5,000 targets with a full hour write 3.6 MB).
const MAX_BYTES: u64 = 64 << 20;
/// Buffer of the file's reads and writes.
const BUFFER: usize = 64 << 10;

/// The daemon's core at start, with the page's points of the last run.
pub fn core_with_history(plan: crate::config::Plan, state: crate::state::StateFile, dir: &StateDir) -> Core {
    let mut core = Core::new(plan, state, Clocks::now());
    load(dir, &mut core);
    core
}

/// Reads the saved points into `core` at start; every outcome is logged,
/// none stops the start.
pub fn load(dir: &StateDir, core: &mut Core) {
    let path = dir.path.join(FILE);
    let file = match entry::open_read(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) if entry::is_planted(&e) => {
            tracing::warn!(file = %path.display(), "page history not loaded: {e}; the next save replaces it");
            return;
        }
        Err(e) => return set_aside(dir, &path, &format!("cannot read it: {e}")),
    };
    let size = file.metadata().map_or(0, |m| m.len());
    if size > MAX_BYTES {
        return set_aside(dir, &path, &format!("{size} bytes, more than {MAX_BYTES}"));
    }
    let mut r = BufReader::with_capacity(BUFFER, file);
    match core.restore_history(&mut r, Clocks::now()) {
        Ok(found) => tracing::info!(
            file = %path.display(),
            streams = found.streams,
            dropped = found.dropped,
            "page history: the last hour's points of {} streams loaded ({} no longer exist)",
            found.streams,
            found.dropped
        ),
        Err(why) => set_aside(dir, &path, &why),
    }
}

fn set_aside(dir: &StateDir, path: &Path, why: &str) {
    match recover::set_aside(&dir.path, path, SystemTime::now()) {
        Ok(aside) => tracing::warn!(
            file = %path.display(),
            "page history is damaged ({why}): kept as {}; the page's charts start empty",
            aside.display()
        ),
        Err(e) => tracing::warn!(
            file = %path.display(),
            "page history is damaged ({why}) and cannot be set aside ({e}); the page's charts start empty"
        ),
    }
}

/// Writes the saved points; one write at a time.
#[derive(Debug, Default)]
pub struct Writer {
    /// A write's fsync and rename still run on their blocking thread.
    busy: Arc<AtomicBool>,
}

impl Writer {
    /// Saves `core`'s points in `dir`. `last` (the stop): waits for a
    /// write still finishing, then writes and waits; otherwise a write
    /// still finishing means this one is skipped (the next comes in 5
    /// minutes).
    pub fn save(&self, dir: &StateDir, core: &Core, last: bool) {
        if last {
            let until = Instant::now() + Duration::from_secs(5);
            while self.busy.load(Ordering::Acquire) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        if self.busy.swap(true, Ordering::AcqRel) {
            tracing::debug!("page history: the last save still runs; this one is skipped");
            return;
        }
        let started = Instant::now();
        let written = write_temp(&dir.path, core);
        let loop_ms = started.elapsed().as_secs_f64() * 1000.0;
        let Ok((file, tmp, streams)) = written.inspect_err(|e| warn(&dir.path, e)) else {
            self.busy.store(false, Ordering::Release);
            return;
        };
        let (path, busy) = (dir.path.clone(), self.busy.clone());
        let finish = move || {
            if let Err(e) = commit(&path, &file, &tmp) {
                let _ = std::fs::remove_file(&tmp);
                warn(&path, &e);
            }
            tracing::debug!(
                streams,
                loop_ms,
                total_ms = started.elapsed().as_secs_f64() * 1000.0,
                "page history saved"
            );
            busy.store(false, Ordering::Release);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(h) if !last => drop(h.spawn_blocking(finish)),
            _ => finish(),
        }
    }
}

/// The points into a fresh temporary file (not yet fsynced).
fn write_temp(dir: &Path, core: &Core) -> std::io::Result<(File, PathBuf, usize)> {
    let (file, tmp) = entry::create_temp(dir, FILE)?;
    let mut w = BufWriter::with_capacity(BUFFER, file);
    let streams = core
        .save_history(&mut w, Clocks::now())
        .and_then(|n| w.flush().map(|()| n));
    match streams.and_then(|n| Ok((w.into_inner().map_err(|e| e.into_error())?, n))) {
        Ok((file, n)) => Ok((file, tmp, n)),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// fsync, rename over [`FILE`], fsync of the folder.
fn commit(dir: &Path, file: &File, tmp: &Path) -> std::io::Result<()> {
    file.sync_all()?;
    std::fs::rename(tmp, dir.join(FILE))?;
    entry::sync_dir(dir)
}

fn warn(dir: &Path, e: &std::io::Error) {
    tracing::warn!(file = %dir.join(FILE).display(), "page history not saved: {e}; the page's charts are kept in memory and saved again in 5 minutes");
}
