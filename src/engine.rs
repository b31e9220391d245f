//! The engine: the only owner of health state. Observations from the check
//! streams come in; target verdicts, member and group states and the events
//! between them go out. No I/O and no clock of its own (observations carry
//! their time), so tests feed it sequences directly.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::Plan;
use crate::config::settings::Target;
use crate::health::group::{Event, EventKind, GroupHealth, Persisted};
use crate::health::member::{ConditionReport, MemberReport, TargetStatus};
use crate::health::outcome::Outcome;
use crate::health::target::{State, TargetHealth};
use crate::probe::schedule::{Observation, Report, StreamId};
use crate::probe::{Protocol, StreamKey};

mod build;
use build::Builder;
pub use build::anchor_keys;

/// A group event, with names resolved for logs and mail.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupEvent {
    pub group: String,
    pub kind: EventKind,
    pub member: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub reason: String,
    pub while_stopped: bool,
    /// The expected active member after the event.
    pub expected_active: Option<String>,
    /// One line for a person: "member 'HQ_Primary' down: ...".
    pub text: String,
    pub at: Instant,
}

/// What the engine tells the rest of the daemon.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    Event(GroupEvent),
    /// A stream's ticks were late by more than three intervals: every group
    /// must be disarmed (docs/safety.md, Late ticks).
    Gap {
        stream: StreamId,
        late_by: Duration,
    },
    /// Group `group` (index in the plan) is now in `state`; also when the
    /// change is silent (leaving unknown), so the push side always knows.
    GroupState {
        group: usize,
        state: State,
    },
}

/// Who reads a stream: indices as `u32`, so a reader is 12 bytes and a
/// stream's first one fits in the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reader {
    /// Slot `slot` (`condition × targets + target`) of member `member` of
    /// group `group`.
    Target {
        group: u32,
        member: u32,
        slot: u32,
    },
    Anchor(u32),
}

/// A stream's readers: most streams have one, kept inline (no allocation).
struct Readers {
    first: Reader,
    more: Box<[Reader]>,
}

impl Readers {
    fn iter(&self) -> impl Iterator<Item = Reader> + '_ {
        std::iter::once(self.first).chain(self.more.iter().copied())
    }
}

struct StreamRt {
    /// Shared with the probe task that runs the stream
    /// ([`Engine::stream_keys`]), and with the next engine at a reload
    /// that keeps it: one copy per running stream (issue #30).
    key: Arc<StreamKey>,
    readers: Readers,
    /// The last check, for status.
    last: Option<(Outcome, Instant)>,
    counts: Counts,
}

/// Upper bounds of the RTT histogram buckets, in seconds.
pub const RTT_BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// Check counts and an RTT histogram of one stream, for /metrics.
///
/// 64-bit on purpose: `interval` may be as short as 10 ms, and 32-bit
/// counters would reach their bound after 497 days there (a counter that
/// stops or wraps breaks `rate()` and the promise that a counter never
/// goes back, docs/metrics.md).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counts {
    pub good: u64,
    pub failed: u64,
    pub error: u64,
    /// Cumulative counts per [`RTT_BUCKETS`] bound.
    pub rtt_buckets: [u64; 10],
    pub rtt_sum: f64,
}

impl Counts {
    fn add(&mut self, o: &Outcome) {
        match o {
            Outcome::Good { rtt } => {
                self.good += 1;
                let secs = rtt.as_secs_f64();
                self.rtt_sum += secs;
                for (b, bound) in self.rtt_buckets.iter_mut().zip(RTT_BUCKETS) {
                    if secs <= bound {
                        *b += 1;
                    }
                }
            }
            Outcome::Failed { .. } => self.failed += 1,
            Outcome::Error { .. } => self.error += 1,
        }
    }
}

/// One target of one member's condition, for status.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetView {
    pub condition: String,
    pub target: String,
    pub state: State,
    pub reason: String,
    pub last: Option<(Outcome, Instant)>,
}

/// How big the plan is, for sizing the /metrics page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shape {
    pub groups: usize,
    pub members: usize,
    pub targets: usize,
}

/// One target's state, borrowed, for /metrics.
#[derive(Clone, Copy, Debug)]
pub struct TargetState<'a> {
    pub group: &'a str,
    pub member: &'a str,
    pub condition: Protocol,
    /// The stream's own target (the engine keeps no text copy of it).
    pub target: &'a Target,
    pub state: State,
}

/// One member, for status.
#[derive(Clone, Debug, PartialEq)]
pub struct MemberView {
    pub name: String,
    pub state: State,
    pub targets: Vec<TargetView>,
    /// Unknown past its patience (`fall × interval + timeout`): skipped
    /// like a down member when the expected active one is chosen; the
    /// patience it had.
    pub passed_over: Option<Duration>,
}

/// One member: its name is the group machine's ([`GroupHealth::name`]),
/// its targets' names their streams' keys'.
struct MemberRt {
    quorum: u32,
    /// Targets per condition (its connection's).
    width: u32,
    /// `[condition × width + target]`, in one allocation.
    slots: Box<[Slot]>,
}

/// One target of one member's condition.
struct Slot {
    health: TargetHealth,
    /// The stream it reads.
    stream: StreamId,
}

impl MemberRt {
    /// Slot `i`'s condition and target index.
    fn place(&self, i: usize) -> (usize, usize) {
        let w = self.width().max(1);
        (i / w, i % w)
    }

    /// The slots of condition `c`.
    fn row(&self, c: usize) -> &[Slot] {
        let w = self.width();
        self.slots.get(c * w..(c + 1) * w).unwrap_or_default()
    }

    fn width(&self) -> usize {
        self.width as usize
    }
}

/// A group's conditions: one (the common case) inline, more boxed.
type Conditions = crate::one_or_many::OneOrMany<Protocol>;

struct GroupRt {
    /// The plan's copy.
    name: crate::config::names::Name,
    conditions: Conditions,
    members: Box<[MemberRt]>,
    health: GroupHealth,
    /// The latest moment before which the newest good check of any of the
    /// group's targets cannot have been sent (its end minus its timeout):
    /// "seen up" after a disarm needs a check sent after it.
    good_sent_after: Option<Instant>,
}

/// An anchor's last check, for the guard.
#[derive(Clone, Debug, PartialEq)]
pub struct AnchorStatus {
    pub key: StreamKey,
    pub last: Option<(Outcome, Instant)>,
    /// The last check that failed or could not be made.
    pub last_bad: Option<Instant>,
}

/// Health of every group, fed by observations.
pub struct Engine {
    streams: Vec<StreamRt>,
    groups: Vec<GroupRt>,
    /// Indices in `groups`, sorted by name (names are unique): a lookup
    /// by binary search, without a copy of every name.
    by_name: Box<[u32]>,
    anchors: Vec<AnchorStatus>,
    /// How many groups are in each state, kept as states change, so a
    /// status line never walks every group.
    tally: Tally,
}

/// Groups by state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub up: usize,
    pub down: usize,
    pub unknown: usize,
}

impl Tally {
    fn count(states: impl Iterator<Item = State>) -> Tally {
        let mut t = Tally::default();
        for s in states {
            *t.slot(s) += 1;
        }
        t
    }

    fn slot(&mut self, s: State) -> &mut usize {
        match s {
            State::Up => &mut self.up,
            State::Down => &mut self.down,
            State::Unknown => &mut self.unknown,
        }
    }

    /// One group went from `before` to `after`.
    fn shift(&mut self, before: State, after: State) {
        *self.slot(before) = self.slot(before).saturating_sub(1);
        *self.slot(after) += 1;
    }

    pub fn total(&self) -> usize {
        self.up + self.down + self.unknown
    }
}

impl Engine {
    /// Builds the stream table and the health machines of `plan`; persisted
    /// states (by group name) let a restart report what changed meanwhile.
    pub fn new(plan: &Plan, persisted: &BTreeMap<String, Persisted>) -> Engine {
        let anchors = anchor_keys(plan);
        let mut b = Builder::new(plan, anchors.len());
        for (gi, g) in plan.groups.iter().enumerate() {
            let group = b.group(plan, gi, persisted.get(g.name()).cloned());
            b.groups.push(group);
        }
        for (i, key) in anchors.iter().enumerate() {
            b.read(key.clone(), Reader::Anchor(i as u32));
        }
        let anchors = anchors
            .into_iter()
            .map(|key| AnchorStatus {
                key,
                last: None,
                last_bad: None,
            })
            .collect();
        let (streams, groups) = b.finish();
        let mut by_name: Box<[u32]> = (0..groups.len() as u32).collect();
        by_name.sort_unstable_by(|a, b| groups[*a as usize].name.cmp(&groups[*b as usize].name));
        let tally = Tally::count(groups.iter().map(|g| g.health.state()));
        Engine {
            streams,
            groups,
            by_name,
            anchors,
            tally,
        }
    }

    /// Index of group `name` in `groups`.
    fn index_of(&self, name: &str) -> Option<usize> {
        let groups = &self.groups;
        let at = self
            .by_name
            .binary_search_by(|i| groups[*i as usize].name.as_ref().cmp(name))
            .ok()?;
        Some(self.by_name[at] as usize)
    }

    /// How many groups are up, down and unknown.
    pub fn tally(&self) -> Tally {
        self.tally
    }

    /// Every stream with its counts, for /metrics (no allocation).
    pub fn stream_counts(&self) -> impl ExactSizeIterator<Item = (&StreamKey, &Counts)> + '_ {
        self.streams.iter().map(|s| (&*s.key, &s.counts))
    }

    /// How many groups, members and targets (one per target of each
    /// member's condition) there are, for sizing the /metrics page.
    pub fn shape(&self) -> Shape {
        let mut s = Shape {
            groups: self.groups.len(),
            ..Shape::default()
        };
        for g in &self.groups {
            s.members += g.members.len();
            s.targets += g.members.iter().map(|m| m.slots.len()).sum::<usize>();
        }
        s
    }

    /// Every group's name and state, in plan order, for /metrics (no
    /// allocation, unlike [`Engine::group_state`]).
    pub fn group_states(&self) -> impl Iterator<Item = (&str, State)> + '_ {
        self.groups.iter().map(|g| (&*g.name, g.health.state()))
    }

    /// Every member's group, name and state, for /metrics (no allocation,
    /// unlike [`Engine::members`]).
    pub fn member_states(&self) -> impl Iterator<Item = (&str, &str, State)> + '_ {
        self.groups
            .iter()
            .flat_map(|g| (0..g.members.len()).map(move |mi| (&*g.name, g.health.name(mi), g.health.member_state(mi))))
    }

    /// Every target of every member's condition with its state, for
    /// /metrics (no allocation).
    pub fn target_states(&self) -> impl Iterator<Item = TargetState<'_>> + '_ {
        self.groups.iter().flat_map(move |g| {
            g.members.iter().enumerate().flat_map(move |(mi, m)| {
                m.slots.iter().enumerate().map(move |(i, slot)| TargetState {
                    group: &g.name,
                    member: g.health.name(mi),
                    condition: g.conditions[m.place(i).0],
                    target: &self.streams[slot.stream].key.target,
                    state: slot.health.state(),
                })
            })
        })
    }

    /// The streams to run, by id.
    pub fn streams(&self) -> Vec<&StreamKey> {
        self.streams.iter().map(|s| &*s.key).collect()
    }

    /// Every stream's key as the engine shares it, by stream id: the probe
    /// task of a stream holds a clone, not a copy.
    pub fn stream_keys(&self) -> impl ExactSizeIterator<Item = &Arc<StreamKey>> + '_ {
        self.streams.iter().map(|s| &s.key)
    }

    /// Whether stream `id` is read by an anchor.
    pub fn is_anchor(&self, id: StreamId) -> bool {
        self.streams
            .get(id)
            .is_some_and(|s| s.readers.iter().any(|r| matches!(r, Reader::Anchor(_))))
    }

    /// Group `name`'s state alone (no allocation).
    pub fn group_health(&self, name: &str) -> Option<State> {
        Some(self.groups[self.index_of(name)?].health.state())
    }

    pub fn anchors(&self) -> &[AnchorStatus] {
        &self.anchors
    }

    /// Number of readers of stream `id` (for tests and status).
    pub fn readers(&self, id: StreamId) -> usize {
        self.streams.get(id).map_or(0, |s| 1 + s.readers.more.len())
    }

    /// Group `i`'s newest good check was sent after this moment (see
    /// `GroupRt::good_sent_after`); `None` before any good check.
    pub fn good_sent_after(&self, i: usize) -> Option<Instant> {
        self.groups.get(i).and_then(|g| g.good_sent_after)
    }

    /// Group `name`'s state and expected active member.
    pub fn group_state(&self, name: &str) -> Option<(State, Option<String>)> {
        let g = &self.groups[self.index_of(name)?];
        let active = g.health.expected_active().map(|i| g.health.name(i).to_string());
        Some((g.health.state(), active))
    }

    /// Group `name`'s members and targets as they stand, for status.
    pub fn members(&self, name: &str) -> Vec<MemberView> {
        let Some(gi) = self.index_of(name) else {
            return Vec::new();
        };
        let g = &self.groups[gi];
        g.members
            .iter()
            .enumerate()
            .map(|(mi, m)| {
                let targets = m.slots.iter().enumerate().map(|(i, slot)| {
                    let s = &self.streams[slot.stream];
                    TargetView {
                        condition: g.conditions[m.place(i).0].to_string(),
                        target: s.key.target.to_string(),
                        state: slot.health.state(),
                        reason: slot.health.last_reason().to_string(),
                        last: s.last.clone(),
                    }
                });
                let state = g.health.member_state(mi);
                let passed_over = (state == State::Unknown && g.health.passed_over(mi))
                    .then(|| g.health.patience(mi))
                    .flatten();
                MemberView {
                    name: g.health.name(mi).to_string(),
                    state,
                    targets: targets.collect(),
                    passed_over,
                }
            })
            .collect()
    }

    /// The stream each target of group `name` reads, per member, in the
    /// order of [`Engine::members`] (for the status page's charts).
    pub fn member_streams(&self, name: &str) -> Vec<Vec<StreamId>> {
        let Some(gi) = self.index_of(name) else {
            return Vec::new();
        };
        let g = &self.groups[gi];
        g.members
            .iter()
            .map(|m| m.slots.iter().map(|s| s.stream).collect())
            .collect()
    }

    /// After a reload: takes over the health of every reader whose group,
    /// member, condition and target are the same by name and whose stream
    /// is unchanged (new rules apply from the next check), and the group
    /// state machine of groups whose member list and failback are
    /// unchanged. Everything else starts afresh.
    pub fn adopt(&mut self, old: &Engine) {
        for gi in 0..self.groups.len() {
            let Some(ogi) = old.index_of(&self.groups[gi].name) else {
                continue;
            };
            self.adopt_group(gi, old, ogi);
        }
        self.tally = Tally::count(self.groups.iter().map(|g| g.health.state()));
        self.adopt_counts(old);
    }

    /// [`Engine::adopt`] for group `gi`, which is `old`'s group `ogi`.
    fn adopt_group(&mut self, gi: usize, old: &Engine, ogi: usize) {
        let (g, og) = (&mut self.groups[gi], &old.groups[ogi]);
        if og.health.names().eq(g.health.names()) && og.health.failback() == g.health.failback() {
            g.health.take_state(&og.health);
        }
        for mi in 0..g.members.len() {
            let Some(omi) = og.health.names().position(|o| o == g.health.name(mi)) else {
                continue;
            };
            let (m, om) = (&mut g.members[mi], &og.members[omi]);
            for i in 0..m.slots.len() {
                let (ci, _) = m.place(i);
                let Some(oci) = og.conditions.iter().position(|p| *p == g.conditions[ci]) else {
                    continue;
                };
                let key = &self.streams[m.slots[i].stream].key;
                let row = om.row(oci);
                // The first old target of that name; adopted if its stream
                // is the same.
                let Some(prev) = row.iter().find(|s| old.streams[s.stream].key.target == key.target) else {
                    continue;
                };
                if old.streams[prev.stream].key == *key {
                    let th = &mut m.slots[i].health;
                    let rules = std::sync::Arc::clone(th.shared_rules());
                    *th = prev.health.clone();
                    th.set_rules(rules);
                }
            }
        }
    }

    /// A stream kept across a reload keeps its counts and last check:
    /// counters on /metrics count from the process's start and never go
    /// back at a reload (Prometheus's `rate()` would read a reset). It
    /// also takes the old engine's key, which its running probe task
    /// shares, so that the new copy is freed.
    fn adopt_counts(&mut self, old: &Engine) {
        let before: BTreeMap<&StreamKey, &StreamRt> = old.streams.iter().map(|s| (&*s.key, s)).collect();
        for s in &mut self.streams {
            if let Some(o) = before.get(&*s.key) {
                s.counts.clone_from(&o.counts);
                s.last.clone_from(&o.last);
                s.key = Arc::clone(&o.key);
            }
        }
    }

    /// What to persist for each group.
    pub fn persisted(&self) -> BTreeMap<String, Persisted> {
        self.groups
            .iter()
            .map(|g| (g.name.to_string(), g.health.persisted()))
            .collect()
    }

    /// What to persist of group `name`, at `index` in the plan's order
    /// (`None` if the group there has another name): for the state file's
    /// save after every change, without [`Engine::persisted`]'s copy of
    /// every group's name (2,500 groups: 5,000 allocations a save).
    pub fn persisted_at(&self, index: usize, name: &str) -> Option<Persisted> {
        let g = self.groups.get(index).filter(|g| &*g.name == name)?;
        Some(g.health.persisted())
    }

    /// Feeds one observation; returns what it caused, causes first.
    pub fn observe(&mut self, obs: &Observation) -> Vec<Output> {
        let Some(stream) = self.streams.get_mut(obs.stream) else {
            return Vec::new();
        };
        // Borrowed out and put back: no allocation per observation.
        let more = std::mem::take(&mut stream.readers.more);
        let readers = Readers {
            first: stream.readers.first,
            more,
        };
        let out = self.apply(obs, &readers);
        self.streams[obs.stream].readers = readers;
        out
    }

    fn apply(&mut self, obs: &Observation, readers: &Readers) -> Vec<Output> {
        match &obs.report {
            Report::Gap { late_by } => {
                for r in readers.iter() {
                    if let Reader::Target { group, member, slot } = r {
                        self.slot(group, member, slot).health.discard_recent();
                    }
                }
                vec![Output::Gap {
                    stream: obs.stream,
                    late_by: *late_by,
                }]
            }
            Report::Check { outcome, .. } => {
                let mut sent_after = None;
                if let Some(s) = self.streams.get_mut(obs.stream) {
                    s.last = Some((outcome.clone(), obs.at));
                    s.counts.add(outcome);
                    if matches!(outcome, Outcome::Good { .. }) {
                        sent_after = obs.at.checked_sub(s.key.timeout);
                    }
                }
                if let Some(t) = sent_after {
                    for r in readers.iter() {
                        if let Reader::Target { group, .. } = r {
                            let g = &mut self.groups[group as usize];
                            g.good_sent_after = g.good_sent_after.max(Some(t));
                        }
                    }
                }
                self.check(readers, outcome, obs.at)
            }
        }
    }

    fn slot(&mut self, group: u32, member: u32, slot: u32) -> &mut Slot {
        &mut self.groups[group as usize].members[member as usize].slots[slot as usize]
    }

    fn check(&mut self, readers: &Readers, outcome: &Outcome, at: Instant) -> Vec<Output> {
        let mut touched: Vec<usize> = Vec::new();
        for r in readers.iter() {
            match r {
                Reader::Anchor(i) => {
                    let a = &mut self.anchors[i as usize];
                    if !matches!(outcome, Outcome::Good { .. }) {
                        a.last_bad = Some(at);
                    }
                    a.last = Some((outcome.clone(), at));
                }
                Reader::Target { group, member, slot } => {
                    let verdict = self.slot(group, member, slot).health.observe(outcome).is_some();
                    let g = &mut self.groups[group as usize];
                    // Any check (an error too) starts the member's patience.
                    g.health.checks_began(member as usize, at);
                    let choose_again = g.health.tick(at);
                    let group = group as usize;
                    if (verdict || choose_again) && !touched.contains(&group) {
                        touched.push(group);
                    }
                }
            }
        }
        let mut out = Vec::new();
        for gi in touched {
            let before = self.groups[gi].health.state();
            let events = self.groups[gi].update(&self.streams, at);
            out.extend(events.into_iter().map(Output::Event));
            let after = self.groups[gi].health.state();
            if after != before {
                self.tally.shift(before, after);
                out.push(Output::GroupState {
                    group: gi,
                    state: after,
                });
            }
        }
        out
    }
}

impl GroupRt {
    /// Re-evaluates every member and the group; returns the events.
    fn update(&mut self, streams: &[StreamRt], at: Instant) -> Vec<GroupEvent> {
        let reports: Vec<(State, String)> = self
            .members
            .iter()
            .map(|m| m.report(&self.conditions, streams))
            .collect();
        let events = self.health.update(&reports);
        events.into_iter().map(|e| self.named(e, at)).collect()
    }

    fn named(&self, e: Event, at: Instant) -> GroupEvent {
        let name = |i: Option<usize>| i.map(|i| self.health.name(i).to_string());
        GroupEvent {
            group: self.name.to_string(),
            kind: e.kind,
            member: name(e.member),
            from: name(e.from),
            to: name(e.to),
            text: self.health.describe(&e),
            reason: e.reason,
            while_stopped: e.while_stopped,
            expected_active: name(self.health.expected_active()),
            at,
        }
    }
}

impl MemberRt {
    /// The member's state and reason. Target names are rendered here, at
    /// a re-evaluation, rather than kept as text for every target.
    fn report(&self, conditions: &[Protocol], streams: &[StreamRt]) -> (State, String) {
        let names: Vec<String> = self.slots[..self.width().min(self.slots.len())]
            .iter()
            .map(|s| streams[s.stream].key.target.to_string())
            .collect();
        let reports: Vec<ConditionReport> = conditions
            .iter()
            .enumerate()
            .map(|(ci, proto)| (proto, self.row(ci)))
            .map(|(proto, row)| {
                let statuses: Vec<TargetStatus<'_>> = row
                    .iter()
                    .zip(&names)
                    .map(|(s, name)| TargetStatus {
                        name,
                        state: s.health.state(),
                        reason: s.health.last_reason(),
                    })
                    .collect();
                ConditionReport::evaluate(&proto.to_string(), self.quorum as usize, &statuses)
            })
            .collect();
        let m = MemberReport::evaluate(&reports);
        (m.state, m.reason)
    }
}
