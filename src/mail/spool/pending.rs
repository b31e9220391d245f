//! `spool/pending.jsonl`: the events failoverd logged that are not yet in
//! a spooled mail (waiting in the coalescing window, or held back for an
//! hourly digest). The outbox rewrites it atomically (fsynced) at most once
//! a second and within a second of an event, and with every mail it
//! spools; it is removed when nothing waits. The next start takes the
//! events back, dropping those a spooled mail already reports (a crash
//! between spooling a mail and rewriting this file), so a `kill -9` loses
//! no logged event and sends none twice.
//!
//! JSON lines: a header line (`{"version":1,...}`), then one line per event
//! (`{"held":null,"event":{...}}`; `held` names the digest key of an event
//! held back by `max_per_hour`). Its size is bounded by the outbox, which
//! spools everything as mails once more than
//! [`crate::mail::pace::UNSENT_MAX`] events wait.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Entry;
use super::files::Folder;
use crate::mail::event::Event;
use crate::mail::pace::{Key, Unsent};

/// The file's name in the spool folder.
pub const NAME: &str = "pending.jsonl";

/// Its format's version; another version is set aside, unread.
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Header {
    version: u32,
    what: String,
}

#[derive(Serialize, Deserialize)]
struct Line {
    held: Option<Key>,
    event: Event,
}

/// The file's bytes for `unsent`.
pub fn encode(unsent: &Unsent) -> Vec<u8> {
    let header = Header {
        version: VERSION,
        what: "failoverd: events logged, not yet in a spooled mail".to_owned(),
    };
    let mut out = line(&header);
    for e in &unsent.batch {
        out.extend(line(&Line {
            held: None,
            event: e.clone(),
        }));
    }
    for (key, events) in &unsent.held {
        for e in events {
            out.extend(line(&Line {
                held: Some(key.clone()),
                event: e.clone(),
            }));
        }
    }
    out
}

fn line<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing plain data to memory cannot fail; an empty line would
    // be skipped when read.
    let mut v = serde_json::to_vec(value).unwrap_or_default();
    v.push(b'\n');
    v
}

/// Reads the file in `dir` (none: nothing pending), leaving out events a
/// spooled mail in `entries` already reports. A damaged file is set aside
/// as `pending.jsonl.bad` with a warning, and what could be read is kept.
pub fn load(dir: &Folder, path: &Path, entries: &[Entry]) -> (Unsent, Option<String>) {
    let bytes = match dir.read(NAME) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (Unsent::default(), None),
        Err(e) => return (Unsent::default(), Some(set_aside(dir, path, &e.to_string()))),
    };
    let (mut unsent, damage) = decode(&bytes);
    let known: Vec<&Event> = entries.iter().flat_map(|e| e.mail.events.iter()).collect();
    unsent.batch.retain(|e| !known.contains(&e));
    for (_, events) in &mut unsent.held {
        events.retain(|e| !known.contains(&e));
    }
    unsent.held.retain(|(_, events)| !events.is_empty());
    (unsent, damage.map(|why| set_aside(dir, path, &why)))
}

/// The events in `bytes`, and what was wrong with it, if anything.
fn decode(bytes: &[u8]) -> (Unsent, Option<String>) {
    let mut unsent = Unsent::default();
    let mut lines = bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty());
    match lines.next().map(serde_json::from_slice::<Header>) {
        Some(Ok(h)) if h.version == VERSION => {}
        Some(Ok(h)) => return (unsent, Some(format!("unknown version {}", h.version))),
        _ => return (unsent, Some("no header line".to_owned())),
    }
    let mut damage = None;
    for (n, l) in lines.enumerate() {
        match serde_json::from_slice::<Line>(l) {
            Ok(Line { held: None, event }) => unsent.batch.push(event),
            Ok(Line { held: Some(key), event }) => match unsent.held.iter_mut().find(|(k, _)| *k == key) {
                Some((_, events)) => events.push(event),
                None => unsent.held.push((key, vec![event])),
            },
            Err(e) => {
                damage.get_or_insert_with(|| format!("line {}: {e}", n + 2));
            }
        }
    }
    (unsent, damage)
}

fn set_aside(dir: &Folder, path: &Path, why: &str) -> String {
    let bad = format!("{NAME}.bad");
    let shown = path.join(NAME);
    match dir.rename(NAME, &bad) {
        Ok(()) => format!(
            "pending mail events {} damaged ({why}); kept as {}, the readable events are mailed",
            shown.display(),
            path.join(bad).display()
        ),
        Err(e) => format!(
            "pending mail events {} damaged ({why}) and not set aside: {e}",
            shown.display()
        ),
    }
}
