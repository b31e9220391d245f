//! Building the engine's tables from a plan: one stream per distinct
//! [`StreamKey`], one slot per target of each member's condition, and the
//! rules shared by every target of the connections with the same timing.
//!
//! Sized for one-target members (issue #30): every table is allocated at
//! its final size, a member's slots in one allocation, and the index that
//! finds a stream already made holds hashes, not copies of the keys.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Arc;

use super::{Conditions, Counts, GroupRt, MemberRt, Reader, Readers, Slot, StreamRt};
use crate::config::Plan;
use crate::config::settings::{Connection, Family, ProbeTiming};
use crate::config::targets::parse_target;
use crate::health::group::{GroupHealth, Persisted};
use crate::health::target::{TargetHealth, TargetRules};
use crate::probe::schedule::StreamId;
use crate::probe::{Protocol, StreamKey};

pub(super) struct Builder {
    pub(super) groups: Vec<GroupRt>,
    streams: Vec<StreamRt>,
    /// A stream by its key's hash. Two keys of one hash are rare: the
    /// later ones are in `spill`, searched in full.
    index: HashMap<u64, StreamId>,
    spill: Vec<StreamId>,
    hasher: RandomState,
    /// The rules of each connection timing (by its address in the plan).
    rules: HashMap<*const ProbeTiming, Arc<TargetRules>>,
}

impl Builder {
    /// Room for every target's stream and `anchors` more: the exact size
    /// unless streams are shared (no copy to shrink it).
    pub(super) fn new(plan: &Plan, anchors: usize) -> Builder {
        let s = &plan.settings;
        let targets: usize = plan
            .groups
            .iter()
            .map(|g| {
                let members = g.def.members.iter().filter_map(|m| s.connections.get(&m.name));
                g.def.conditions.len() * members.map(|c| c.targets.len()).sum::<usize>()
            })
            .sum();
        let streams = targets + anchors;
        Builder {
            groups: Vec::with_capacity(plan.groups.len()),
            streams: Vec::with_capacity(streams),
            index: HashMap::with_capacity(streams),
            spill: Vec::new(),
            hasher: RandomState::new(),
            rules: HashMap::new(),
        }
    }

    /// Group `gi` of `plan`, its streams added.
    pub(super) fn group(&mut self, plan: &Plan, gi: usize, persisted: Option<Persisted>) -> GroupRt {
        let g = &plan.groups[gi];
        let conditions = match g.def.conditions.as_slice() {
            [one] => Conditions::One(Protocol::of(*one)),
            all => Conditions::Many(all.iter().map(|c| Protocol::of(*c)).collect()),
        };
        let n = g.def.members.len();
        let (mut members, mut patience) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for (mi, m) in g.def.members.iter().enumerate() {
            let Some(c) = plan.settings.connections.get(&m.name) else {
                continue;
            };
            // Every target of a member shares its connection's timing.
            let t = &c.timing;
            patience.push(t.interval.saturating_mul(t.fall).saturating_add(t.timeout));
            members.push(self.member(gi, mi, &conditions, c));
        }
        let connections = &plan.settings.connections;
        let known = g.def.members.iter().filter(|m| connections.contains_key(&m.name));
        let names = known.map(|m| m.name.clone());
        let mut health = GroupHealth::with_shared(names, g.def.failback, persisted);
        health.set_patience(patience);
        GroupRt {
            name: g.shared_name(),
            conditions,
            members: members.into_boxed_slice(),
            health,
            good_sent_after: None,
        }
    }

    fn member(&mut self, gi: usize, mi: usize, conditions: &[Protocol], c: &Connection) -> MemberRt {
        let rules = self.rules(c);
        let width = c.targets.len();
        let mut slots = Vec::with_capacity(conditions.len() * width);
        for proto in conditions {
            for t in &c.targets {
                let reader = Reader::Target {
                    group: gi as u32,
                    member: mi as u32,
                    slot: slots.len() as u32,
                };
                let stream = self.read(StreamKey::new(*proto, t, c), reader);
                let health = TargetHealth::new(Arc::clone(&rules));
                slots.push(Slot { health, stream });
            }
        }
        MemberRt {
            quorum: u32::try_from(c.quorum).unwrap_or(u32::MAX),
            width: u32::try_from(width).unwrap_or(u32::MAX),
            slots: slots.into_boxed_slice(),
        }
    }

    /// The rules of `c`'s targets, one copy per timing.
    fn rules(&mut self, c: &Connection) -> Arc<TargetRules> {
        let t = &c.timing;
        let rules = self.rules.entry(Arc::as_ptr(t)).or_insert_with(|| {
            Arc::new(TargetRules {
                fall: t.fall,
                rise: t.rise,
                quality: t.quality.clone(),
            })
        });
        Arc::clone(rules)
    }

    /// The stream of `key`, made if new, with `reader` added.
    pub(super) fn read(&mut self, key: StreamKey, reader: Reader) -> StreamId {
        let hash = self.hasher.hash_one(&key);
        let found = match self.index.get(&hash) {
            Some(&id) if *self.streams[id].key == key => Some(id),
            Some(_) => self.spill.iter().copied().find(|&id| *self.streams[id].key == key),
            None => None,
        };
        if let Some(id) = found {
            let more = &mut self.streams[id].readers.more;
            let mut all = std::mem::take(more).into_vec();
            all.push(reader);
            *more = all.into_boxed_slice();
            return id;
        }
        let id = self.streams.len();
        self.streams.push(StreamRt {
            key: Arc::new(key),
            readers: Readers {
                first: reader,
                more: Box::default(),
            },
            last: None,
            counts: Counts::default(),
        });
        if *self.index.entry(hash).or_insert(id) != id {
            self.spill.push(id);
        }
        id
    }

    /// The streams and groups made.
    pub(super) fn finish(self) -> (Vec<StreamRt>, Vec<GroupRt>) {
        let mut streams = self.streams;
        streams.shrink_to_fit();
        (streams, self.groups)
    }
}

/// The guard's anchors: a TCP connect to the API host (unless dry run) and
/// an ICMP echo to each `anchors` entry, at the `[probe]` pace.
pub fn anchor_keys(plan: &Plan) -> Vec<StreamKey> {
    let s = &plan.settings;
    let t = &s.probe.timing;
    let key = |protocol, target| StreamKey {
        protocol,
        target,
        family: Family::Any,
        source: None,
        interface: None,
        interval: t.interval,
        timeout: t.timeout,
    };
    let mut keys = Vec::new();
    if !s.firewall.dry_run && !s.firewall.host.is_empty() {
        let host = s.firewall.host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(target) = parse_target(host) {
            keys.push(key(Protocol::Tcp(s.firewall.port), target));
        }
    }
    keys.extend(s.guard.anchors.iter().map(|a| key(Protocol::Icmp, a.clone())));
    keys
}
