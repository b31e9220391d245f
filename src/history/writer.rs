//! The daemon's history writer: a thread of its own that takes the
//! recorded events from its tap (daemon/taps.rs) and appends them to
//! `history.jsonl`, fsynced per batch, so the daemon's loop never waits on
//! the disk. At start it reads the file back, sets a damaged one aside,
//! drops what is older than 30 days, and records the start (and, when the
//! last run ended without a stop record, that it ended unseen); at the end
//! it drains its queue and records the stop. Over the bound it rewrites
//! the file without the oldest records (docs/history.md).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, SystemTime};

use super::{CRASHED, MAX_BYTES, Record, STARTED, STOPPED, store};
use crate::daemon::taps::{Receiver, Taps};

/// The tap's queue: this many events may wait for the disk.
pub const QUEUE: usize = 4096;
/// At most this many records per write.
const BATCH: usize = 512;
/// How long the stop waits for the queue to be written.
const STOP_WAIT: Duration = Duration::from_secs(3);

/// The running writer.
pub struct Handle {
    done: std_mpsc::Receiver<()>,
}

/// What the history file held at start, for this run's in-memory views:
/// the status page's event list and the shadow report's records
/// (history/seed.rs).
pub struct Seed {
    pub page: Vec<crate::page::Event>,
    pub recent: super::recent::Recent,
}

/// The daemon's taps with the history subscribed, the writer for the
/// state directory `dir` (its start record says whether `plan` runs in dry
/// run), and the seed of the page's views. The file is read (and repaired)
/// here, before the daemon's loop starts, so the page shows the events of
/// the last run at once. Dropping the handle after the taps waits
/// (bounded) for the writer to drain its queue and record the stop.
pub fn start(dir: &Path, plan: &crate::config::Plan) -> (Taps, Handle, Seed) {
    let mut taps = Taps::default();
    let rx = taps.subscribe("history", QUEUE);
    let (tx, done) = std_mpsc::channel();
    let dir = dir.to_path_buf();
    let dry = plan.settings.firewall.dry_run;
    let now = SystemTime::now();
    let (records, rewrite) = load_repaired(&dir, now);
    let mut recent = super::recent::Recent::default();
    recent.seed(&records, now);
    let seed = Seed {
        page: super::seed::page_events(&records, now),
        recent,
    };
    let spawned = std::thread::Builder::new().name("history".into()).spawn(move || {
        run(&dir, rx, dry, (records, rewrite));
        let _ = tx.send(());
    });
    if let Err(e) = spawned {
        tracing::warn!(
            EVENT = "history_failure",
            "history: cannot start its writer: {e}; events are not kept"
        );
    }
    (taps, Handle { done }, seed)
}

impl Drop for Handle {
    /// The taps are gone (the daemon's loop ended): the writer drains what
    /// is queued and records the stop; this waits for it, bounded.
    fn drop(&mut self) {
        if let Err(std_mpsc::RecvTimeoutError::Timeout) = self.done.recv_timeout(STOP_WAIT) {
            tracing::warn!(
                EVENT = "history_failure",
                "history: the writer did not finish within {STOP_WAIT:?}"
            );
        }
    }
}

fn run(dir: &Path, mut rx: Receiver, dry: bool, loaded: (Vec<Record>, bool)) {
    let mut w = Writer::open(dir, dry, loaded);
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![Record::of_event(&first.event)];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(Record::of_event(&r.event)),
                Err(_) => break,
            }
        }
        w.write(&batch);
    }
    let stop = Record::new(STOPPED, "failoverd stopped", SystemTime::now());
    w.write(&[stop]);
}

/// The file being appended to, and its size.
struct Writer {
    dir: PathBuf,
    file: Option<File>,
    size: u64,
    /// In a streak of write failures (warned once).
    failing: bool,
}

impl Writer {
    /// Opens the file `start` read and repaired (its `records`, and whether
    /// it must be rewritten); writes the start records.
    fn open(dir: &Path, dry: bool, (records, rewrite): (Vec<Record>, bool)) -> Writer {
        let now = SystemTime::now();
        let mut first = Vec::new();
        if let Some(last) = records.last().filter(|r| r.event != STOPPED) {
            first.push(Record::new(
                CRASHED,
                format!(
                    "the previous run ended without a stop record (crash, kill -9 or power cut) after {}",
                    last.time
                ),
                now,
            ));
        }
        let mode = if dry { " in dry run" } else { "" };
        let text = format!("failoverd {} started{mode}", env!("CARGO_PKG_VERSION"));
        first.push(Record::new(STARTED, text, now));
        let size = bound_at_start(dir, records, rewrite, now);
        let mut w = Writer {
            dir: dir.to_path_buf(),
            file: None,
            size,
            failing: false,
        };
        w.write(&first);
        w
    }

    /// Appends `batch`; over the bound, rewrites without the oldest.
    fn write(&mut self, batch: &[Record]) {
        if let Err(e) = self.try_write(batch) {
            self.file = None;
            if !self.failing {
                tracing::warn!(
                    EVENT = "history_failure",
                    "history: cannot write {}: {e}; events are not kept until it can",
                    store::path(&self.dir).display()
                );
            }
            self.failing = true;
            return;
        }
        if self.failing {
            tracing::info!(
                EVENT = "history_recovered",
                "history: {} is written again",
                store::path(&self.dir).display()
            );
        }
        self.failing = false;
        if self.size > MAX_BYTES {
            self.compact();
        }
    }

    fn try_write(&mut self, batch: &[Record]) -> std::io::Result<()> {
        if self.file.is_none() {
            self.file = Some(store::open_append(&self.dir)?);
        }
        let Some(f) = self.file.as_mut() else {
            return Ok(());
        };
        self.size = self.size.saturating_add(store::append(f, batch)?);
        Ok(())
    }

    fn compact(&mut self) {
        let now = SystemTime::now();
        let result = store::read(&self.dir).and_then(|l| store::compact(&self.dir, l.records, now));
        self.file = None;
        match result {
            Ok((kept, size)) => {
                tracing::info!(
                    EVENT = "history_compacted",
                    kept,
                    bytes = size,
                    "history: over {MAX_BYTES} bytes: the oldest records dropped"
                );
                self.size = size;
            }
            Err(e) => tracing::warn!(EVENT = "history_failure", "history: cannot compact: {e}"),
        }
    }
}

/// The file's size after the start's bound: rewritten (atomically) when
/// `rewrite` says so or the bound drops records, else left as it is.
fn bound_at_start(dir: &Path, records: Vec<Record>, rewrite: bool, now: SystemTime) -> u64 {
    let all = records.len();
    let kept = store::bounded(records, now, MAX_BYTES);
    if !rewrite && kept.len() == all {
        return std::fs::symlink_metadata(store::path(dir)).map_or(0, |m| m.len());
    }
    match store::compact(dir, kept, now) {
        Ok((_, size)) => size,
        Err(e) => {
            tracing::warn!(
                EVENT = "history_failure",
                "history: cannot rewrite {}: {e}",
                store::path(dir).display()
            );
            0
        }
    }
}

/// The records of `dir`'s history, and whether the file must be
/// rewritten; a damaged file (or a non-file where it goes) is set aside
/// with a warning and its good records kept. A file that cannot be read
/// for another reason (permissions, I/O) is left as it is.
fn load_repaired(dir: &Path, now: SystemTime) -> (Vec<Record>, bool) {
    let shown = store::path(dir);
    let loaded = match store::read(dir) {
        Ok(l) => l,
        Err(e) if !crate::state::entry::is_planted(&e) => {
            tracing::warn!(
                EVENT = "history_failure",
                "history: cannot read {}: {e}; it is left as it is",
                shown.display()
            );
            return (Vec::new(), false);
        }
        Err(e) => {
            tracing::warn!(EVENT = "history_damaged", "history: {e}");
            if let Err(e) = store::set_aside(dir, now) {
                tracing::warn!(
                    EVENT = "history_failure",
                    "history: cannot set {} aside: {e}",
                    shown.display()
                );
            }
            return (Vec::new(), false);
        }
    };
    if let Some(problems) = loaded.problems() {
        if !loaded.damaged() {
            // Only the last line cut short (a crash mid-write): the rewrite
            // at start drops it.
            tracing::warn!(
                EVENT = "history_damaged",
                "history: {} had {problems}: dropped",
                shown.display()
            );
            return (loaded.records, true);
        }
        match store::set_aside(dir, now) {
            Ok(to) => tracing::warn!(
                EVENT = "history_damaged",
                "history: {} had {problems}: set aside as {}; its {} good record(s) are kept",
                shown.display(),
                to.display(),
                loaded.records.len()
            ),
            Err(e) => tracing::warn!(
                EVENT = "history_failure",
                "history: {} had {problems}; cannot set it aside: {e}",
                shown.display()
            ),
        }
        return (loaded.records, true);
    }
    (loaded.records, false)
}
