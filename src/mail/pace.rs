//! When mails go out: coalescing (events within `coalesce` of the first
//! pending one share a mail), `max_per_hour` per group over a sliding hour
//! (events beyond it fold into an hourly digest for that group), and push
//! trouble as one event per failure streak. A recovery that ends an episode
//! whose first mail went out is never held (see [`episodes`]): it goes with
//! the next coalesced mail, with what its group had waiting. Pure: time is
//! passed in, so the rules are tested with plain numbers.

mod episodes;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::event::{DaemonKind, Event, Kind};
use episodes::Episodes;

/// The sliding window of `max_per_hour`.
pub const HOUR: Duration = Duration::from_secs(3600);

/// At most this many events wait unsent (pending or held); beyond it the
/// outbox spools them all as mails at once. Bounds memory and the spool's
/// `pending.jsonl`; pacing only gives way in a storm beyond any reading.
pub const UNSENT_MAX: usize = 1000;

/// The events a [`Pacer`] holds that are not yet in a mail: what the spool
/// keeps in `pending.jsonl` so that a crash loses none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Unsent {
    /// Waiting for the coalescing window, in arrival order.
    pub batch: Vec<Event>,
    /// Held back by `max_per_hour`, per digest key.
    pub held: Vec<(Key, Vec<Event>)>,
}

impl Unsent {
    pub fn len(&self) -> usize {
        self.batch.len() + self.held.iter().map(|(_, v)| v.len()).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What `max_per_hour` counts against: a group, or one kind of daemon event
/// (so a flood of one daemon event cannot silence the others).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Key {
    Group(String),
    Daemon(DaemonKind),
}

impl Key {
    pub fn of(e: &Event) -> Key {
        match e.kind {
            Kind::Daemon(d) => Key::Daemon(d),
            _ => Key::Group(e.group.clone().unwrap_or_default()),
        }
    }

    /// How a digest names what it is about.
    pub fn label(&self) -> String {
        match self {
            Key::Group(g) => g.clone(),
            Key::Daemon(d) => format!("failoverd's \"{}\" events", Kind::Daemon(*d).label()),
        }
    }
}

/// What to render next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outgoing {
    /// One mail for events of any groups, in arrival order.
    Batch(Vec<Event>),
    /// The hourly digest of events held back for `key`.
    Digest { key: Key, events: Vec<Event> },
}

/// The pacing state of one outbox.
#[derive(Debug)]
pub struct Pacer {
    coalesce: Duration,
    max_per_hour: usize,
    pending: Vec<Event>,
    pending_since: Option<Instant>,
    /// When mails (batches and digests) went out, per key, oldest first.
    sent: HashMap<Key, VecDeque<Instant>>,
    /// Events held back for a digest, per key, and since when.
    held: BTreeMap<Key, (Instant, Vec<Event>)>,
    last_digest: HashMap<Key, Instant>,
    streaks: Streaks,
    episodes: Episodes,
}

impl Pacer {
    /// `max_per_hour` below 1 is taken as 1: a limit of none would hold
    /// every event for a digest that could never go.
    pub fn new(coalesce: Duration, max_per_hour: u32) -> Self {
        Pacer {
            coalesce,
            max_per_hour: max_per_hour.max(1) as usize,
            pending: Vec::new(),
            pending_since: None,
            sent: HashMap::new(),
            held: BTreeMap::new(),
            last_digest: HashMap::new(),
            streaks: Streaks::default(),
            episodes: Episodes::default(),
        }
    }

    /// Takes an event seen at `now`. Returns false when it is dropped as a
    /// repeat within a push-trouble streak.
    pub fn push(&mut self, e: Event, now: Instant) -> bool {
        if !self.streaks.admit(&e) {
            return false;
        }
        self.pending_since.get_or_insert(now);
        self.pending.push(e);
        true
    }

    /// The events not yet handed out, for the spool's `pending.jsonl`.
    pub fn unsent(&self) -> Unsent {
        Unsent {
            batch: self.pending.clone(),
            held: (self.held.iter())
                .map(|(k, (_, events))| (k.clone(), events.clone()))
                .collect(),
        }
    }

    /// How many events wait (pending or held).
    pub fn unsent_len(&self) -> usize {
        self.pending.len() + self.held.values().map(|(_, v)| v.len()).sum::<usize>()
    }

    /// Takes back the events a crashed run left unsent (`at` is now). They
    /// already waited before the crash: the batch is due at once, held
    /// events go as a digest at once (no hour of history survives a
    /// restart). Open push-trouble streaks are reopened, so a repeat after
    /// the restart stays quiet.
    pub fn restore(&mut self, unsent: Unsent, at: Instant) {
        for e in &unsent.batch {
            self.streaks.admit(e);
        }
        if !unsent.batch.is_empty() {
            let due = at.checked_sub(self.coalesce).unwrap_or(at);
            let since = self.pending_since.map_or(due, |t| t.min(due));
            self.pending_since = Some(since);
            self.pending.splice(0..0, unsent.batch);
        }
        for (key, events) in unsent.held {
            let held = self.held.entry(key).or_insert_with(|| (at, Vec::new()));
            held.1.splice(0..0, events);
        }
    }

    /// When [`Pacer::poll`] has something to hand out next, if ever.
    pub fn next_due(&self) -> Option<Instant> {
        let batch = self.pending_since.map(|t| t + self.coalesce);
        let digests = self.held.iter().map(|(k, (since, _))| self.digest_due(k, *since));
        batch.into_iter().chain(digests).min()
    }

    /// Everything due at `now`: digests whose hour allows them, then the
    /// pending batch once its coalesce window has passed.
    pub fn poll(&mut self, now: Instant) -> Vec<Outgoing> {
        let mut out = self.take_digests(now);
        if let Some(events) = self.take_batch(now) {
            out.push(Outgoing::Batch(events));
        }
        self.prune(now);
        out
    }

    /// Everything still held, limits ignored: at shutdown, so the spool
    /// keeps it for the next start.
    pub fn flush(&mut self) -> Vec<Outgoing> {
        let mut out: Vec<Outgoing> = std::mem::take(&mut self.held)
            .into_iter()
            .map(|(key, (_, events))| Outgoing::Digest { key, events })
            .collect();
        self.pending_since = None;
        if !self.pending.is_empty() {
            out.push(Outgoing::Batch(std::mem::take(&mut self.pending)));
        }
        out
    }

    fn take_batch(&mut self, now: Instant) -> Option<Vec<Event>> {
        let since = self.pending_since?;
        if now < since + self.coalesce {
            return None;
        }
        self.pending_since = None;
        let mut allowed: HashMap<Key, bool> = HashMap::new();
        let mut went: HashSet<Key> = HashSet::new();
        let mut batch = Vec::new();
        for e in std::mem::take(&mut self.pending) {
            let key = Key::of(&e);
            let ok = *allowed.entry(key.clone()).or_insert_with(|| self.may_send(&key, now));
            if ok || self.episodes.ends_mailed(&e) {
                if !ok {
                    // The recovery takes what its key had waiting along, in
                    // order, so no later digest says less than this mail.
                    let waiting = self.held.remove(&key).map(|(_, v)| v).unwrap_or_default();
                    waiting.iter().for_each(|w| self.episodes.mailed(w));
                    batch.extend(waiting);
                }
                self.episodes.mailed(&e);
                went.insert(key);
                batch.push(e);
            } else {
                self.episodes.held(&e);
                self.held.entry(key).or_insert_with(|| (now, Vec::new())).1.push(e);
            }
        }
        for key in went {
            self.sent.entry(key).or_default().push_back(now);
        }
        (!batch.is_empty()).then_some(batch)
    }

    fn take_digests(&mut self, now: Instant) -> Vec<Outgoing> {
        let due: Vec<Key> = (self.held.iter())
            .filter(|(k, (since, _))| self.digest_due(k, *since) <= now)
            .map(|(k, _)| k.clone())
            .collect();
        due.into_iter()
            .map(|key| {
                let events = self.held.remove(&key).map(|(_, e)| e).unwrap_or_default();
                events.iter().for_each(|e| self.episodes.mailed(e));
                self.sent.entry(key.clone()).or_default().push_back(now);
                self.last_digest.insert(key.clone(), now);
                Outgoing::Digest { key, events }
            })
            .collect()
    }

    /// A key may go into a batch when it has no digest waiting (order) and
    /// fewer than `max_per_hour` mails in the last hour.
    fn may_send(&self, key: &Key, now: Instant) -> bool {
        let recent = self
            .sent
            .get(key)
            .map_or(0, |v| v.iter().filter(|t| now - **t < HOUR).count());
        !self.held.contains_key(key) && recent < self.max_per_hour
    }

    /// The earliest time the hour window has room for `key`, and at least an
    /// hour after its last digest, so that a storm yields one digest an hour.
    fn digest_due(&self, key: &Key, held_since: Instant) -> Instant {
        let room = self
            .sent
            .get(key)
            .filter(|v| v.len() >= self.max_per_hour)
            .map(|v| v[v.len() - self.max_per_hour] + HOUR);
        let hourly = self.last_digest.get(key).map(|t| *t + HOUR);
        [room, hourly].into_iter().flatten().fold(held_since, Instant::max)
    }

    fn prune(&mut self, now: Instant) {
        for v in self.sent.values_mut() {
            while v.front().is_some_and(|t| now - *t >= HOUR) {
                v.pop_front();
            }
        }
        self.sent.retain(|_, v| !v.is_empty());
        self.last_digest.retain(|_, t| now - *t < HOUR);
    }
}

/// Push trouble is one event per failure streak: a failure opens a streak
/// and is mailed; repeats are dropped until the matching recovery, which
/// is mailed and closes it. A recovery with no open streak is dropped
/// (nothing was reported as broken). `PushRefused` streaks are per group;
/// `ApiUnusable` is one streak for the whole firewall API.
#[derive(Debug, Default)]
pub struct Streaks {
    open: HashSet<(DaemonKind, Option<String>)>,
}

impl Streaks {
    /// Whether `e` is worth a mail; updates the open streaks.
    pub fn admit(&mut self, e: &Event) -> bool {
        use DaemonKind as D;
        let (failure, opens) = match e.kind {
            Kind::Daemon(D::ApiUnusable) => (D::ApiUnusable, true),
            Kind::Daemon(D::ApiUsable) => (D::ApiUnusable, false),
            Kind::Daemon(D::PushRefused) => (D::PushRefused, true),
            Kind::Daemon(D::PushRecovered) => (D::PushRefused, false),
            _ => return true,
        };
        let scope = if failure == D::PushRefused {
            e.group.clone()
        } else {
            None
        };
        if opens {
            self.open.insert((failure, scope))
        } else {
            self.open.remove(&(failure, scope))
        }
    }
}

#[cfg(test)]
mod recovery_tests;
#[cfg(test)]
mod tests;
