//! The running check streams, by key. A reload keeps every stream whose key
//! is unchanged running as it was (its in-flight check, ICMP sequence
//! state, DNS cache and tick phase: a check of an unchanged target never
//! comes early or late because of a reload), stops the streams no longer
//! needed and starts the new ones (docs/service.md, "Reload").
//!
//! The new streams of an apply that share a start instant and an interval
//! run in one task (`schedule::spawn_group`); a stream stops on its own,
//! and the task ends with its last stream.
//!
//! A stream reports under a tag that never changes while it runs; the
//! engine's stream ids change with each plan, so the tag is translated to
//! the current id before the engine sees an observation.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::config::settings::ProbeDefaults as Probe;
use crate::engine::Engine;
use crate::probe::schedule::{Group, Member, Observation, Resolving, StreamId, offset, slot_len, spawn_group};
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
    running: BTreeMap<Arc<StreamKey>, Running>,
    /// The tasks, each running the streams of one slot.
    groups: HashMap<u64, Live>,
    next_group: u64,
    /// Tag of a running stream → its id in the current engine.
    ids: HashMap<StreamId, StreamId>,
    next_tag: StreamId,
}

/// A running stream: its tag, its group and its place in the group.
struct Running {
    tag: StreamId,
    group: u64,
    index: usize,
}

/// A group's task and how many of its streams still run.
struct Live {
    group: Group,
    streams: usize,
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
            groups: HashMap::new(),
            next_group: 0,
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
        let keys: Vec<&Arc<StreamKey>> = engine.stream_keys().collect();
        let mut done = Restarted::default();
        let wanted: BTreeMap<&StreamKey, usize> = keys.iter().enumerate().map(|(i, k)| (&***k, i)).collect();
        let gone: Vec<Arc<StreamKey>> = self
            .running
            .keys()
            .filter(|k| !wanted.contains_key(&***k))
            .cloned()
            .collect();
        for k in gone {
            if let Some(r) = self.running.remove(&k) {
                self.stop(&r);
                done.stopped += 1;
            }
        }
        let now = Instant::now();
        // New streams by start instant and interval: each such slot is one task.
        let mut slots: BTreeMap<(Instant, Duration), Vec<Member>> = BTreeMap::new();
        for (i, key) in keys.iter().enumerate() {
            if let Some(r) = self.running.get(&***key) {
                self.ids.insert(r.tag, i);
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
            self.ids.insert(tag, i);
            slots.entry((start, key.interval)).or_default().push(Member {
                stream: tag,
                // The engine's own copy: a reload that keeps the stream
                // keeps this one (Engine::adopt_counts).
                key: Arc::clone(key),
            });
            done.started += 1;
        }
        for ((start, _), members) in slots {
            let id = self.next_group;
            self.next_group += 1;
            for (index, m) in members.iter().enumerate() {
                let r = Running {
                    tag: m.stream,
                    group: id,
                    index,
                };
                self.running.insert(m.key.clone(), r);
            }
            let streams = members.len();
            let group = spawn_group(members, start, self.checker.clone(), self.resolving, self.tx.clone());
            self.groups.insert(id, Live { group, streams });
        }
        done
    }

    /// Stops one stream; its group's task ends with its last stream.
    fn stop(&mut self, r: &Running) {
        self.ids.remove(&r.tag);
        if let Some(live) = self.groups.get_mut(&r.group) {
            live.group.stops.stop(r.index);
            live.streams -= 1;
            if live.streams == 0 {
                live.group.task.abort();
                self.groups.remove(&r.group);
            }
        }
    }

    /// The current engine's id of the stream reporting as `tag`; `None`
    /// for a stream stopped since.
    pub fn id(&self, tag: StreamId) -> Option<StreamId> {
        self.ids.get(&tag).copied()
    }

    pub fn stop_all(&mut self) {
        for (_, live) in std::mem::take(&mut self.groups) {
            live.group.task.abort();
        }
        self.running.clear();
        self.ids.clear();
    }
}

impl<C: Check> Drop for Streams<C> {
    fn drop(&mut self) {
        self.stop_all();
    }
}

#[cfg(test)]
mod tests;
