//! The running check streams, by key. A reload keeps every stream whose key
//! is unchanged running as it was (its in-flight check, ICMP sequence
//! state, DNS cache and tick phase: a check of an unchanged target never
//! comes early or late because of a reload), stops the streams no longer
//! needed and starts the new ones (docs/service.md, "Reload").
//!
//! A stream task reports under a tag that never changes while it runs; the
//! engine's stream ids change with each plan, so the tag is translated to
//! the current id before the engine sees an observation.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::settings::ProbeDefaults as Probe;
use crate::engine::Engine;
use crate::probe::schedule::{Observation, Resolving, StreamId, offset, slot_len, spawn};
use crate::probe::{Check, StreamKey};

/// What a reload did to the streams.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Restarted {
    pub kept: usize,
    pub started: usize,
    pub stopped: usize,
}

pub struct Streams<C: Check> {
    checker: Arc<C>,
    tx: mpsc::Sender<Observation>,
    resolving: Resolving,
    running: BTreeMap<StreamKey, (StreamId, JoinHandle<()>)>,
    /// Tag of a running stream → its id in the current engine.
    ids: HashMap<StreamId, StreamId>,
    next_tag: StreamId,
}

fn resolving(p: &Probe) -> Resolving {
    Resolving {
        every: p.resolve_every,
        stale: p.dns_stale,
        timeout: Duration::from_secs(5),
    }
}

impl<C: Check> Streams<C> {
    /// No stream runs yet; [`Streams::apply`] starts them.
    pub fn new(checker: Arc<C>, probe: &Probe, tx: mpsc::Sender<Observation>) -> Streams<C> {
        Streams {
            checker,
            tx,
            resolving: resolving(probe),
            running: BTreeMap::new(),
            ids: HashMap::new(),
            next_tag: 0,
        }
    }

    /// Makes the running streams those of `engine`. A change of how names
    /// are re-resolved (`[probe] resolve_every`, `dns_stale`) restarts all.
    pub fn apply(&mut self, engine: &Engine, probe: &Probe) -> Restarted {
        let r = resolving(probe);
        if (r.every, r.stale) != (self.resolving.every, self.resolving.stale) {
            self.stop_all();
            self.resolving = r;
        }
        let keys = engine.streams();
        let mut done = Restarted::default();
        let wanted: BTreeMap<&StreamKey, usize> = keys.iter().enumerate().map(|(i, k)| (*k, i)).collect();
        let gone: Vec<StreamKey> = self
            .running
            .keys()
            .filter(|k| !wanted.contains_key(k))
            .cloned()
            .collect();
        for k in gone {
            if let Some((tag, h)) = self.running.remove(&k) {
                h.abort();
                self.ids.remove(&tag);
                done.stopped += 1;
            }
        }
        let now = Instant::now();
        for (i, key) in keys.iter().enumerate() {
            if let Some((tag, _)) = self.running.get(*key) {
                self.ids.insert(*tag, i);
                done.kept += 1;
                continue;
            }
            let tag = self.next_tag;
            self.next_tag += 1;
            // An anchor never shares its slot's instant with the targets:
            // the guard wants an anchor check after a group went down, and
            // one made in the same instant may be handled just before it
            // (then the DeActive waits a whole interval).
            let mut start = now + offset(i, keys.len(), key.interval);
            if engine.is_anchor(i) {
                start += slot_len(keys.len(), key.interval) / 2;
            }
            let h = spawn(
                tag,
                (*key).clone(),
                start,
                self.checker.clone(),
                self.resolving,
                self.tx.clone(),
            );
            self.running.insert((*key).clone(), (tag, h));
            self.ids.insert(tag, i);
            done.started += 1;
        }
        done
    }

    /// The current engine's id of the stream reporting as `tag`; `None`
    /// for a stream stopped since.
    pub fn id(&self, tag: StreamId) -> Option<StreamId> {
        self.ids.get(&tag).copied()
    }

    pub fn stop_all(&mut self) {
        for (_, (_, h)) in std::mem::take(&mut self.running) {
            h.abort();
        }
        self.ids.clear();
    }
}

impl<C: Check> Drop for Streams<C> {
    fn drop(&mut self) {
        self.stop_all();
    }
}
