//! The engine: the only owner of health state. Observations from the check
//! streams come in; target verdicts, member and group states and the events
//! between them go out. No I/O and no clock of its own (observations carry
//! their time), so tests feed it sequences directly.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use tokio::time::Instant;

use crate::config::Plan;
use crate::config::settings::{Family, Target};
use crate::config::targets::parse_target;
use crate::health::group::{Event, EventKind, GroupHealth, Persisted};
use crate::health::member::{ConditionReport, MemberReport, TargetStatus};
use crate::health::outcome::Outcome;
use crate::health::target::{State, TargetHealth, TargetRules};
use crate::probe::schedule::{Observation, Report, StreamId};
use crate::probe::{Protocol, StreamKey};

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

/// Who reads a stream.
#[derive(Clone, Copy, Debug)]
enum Reader {
    Target {
        group: usize,
        member: usize,
        condition: usize,
        target: usize,
    },
    Anchor(usize),
}

struct StreamRt {
    key: StreamKey,
    readers: Vec<Reader>,
    /// The last check, for status.
    last: Option<(Outcome, Instant)>,
    counts: Counts,
}

/// Upper bounds of the RTT histogram buckets, in seconds.
pub const RTT_BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// Check counts and an RTT histogram of one stream, for /metrics.
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
    pub target: &'a str,
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

struct MemberRt {
    name: String,
    quorum: usize,
    targets: Vec<String>,
    /// `[condition][target]`.
    health: Vec<Vec<TargetHealth>>,
    /// The stream each target reads, `[condition][target]`.
    streams: Vec<Vec<StreamId>>,
}

struct GroupRt {
    name: String,
    conditions: Vec<Protocol>,
    members: Vec<MemberRt>,
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
    /// Index in `groups` by name (names are unique).
    by_name: HashMap<String, usize>,
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
        let mut b = Builder::default();
        for (gi, g) in plan.groups.iter().enumerate() {
            let conditions: Vec<Protocol> = g.def.conditions.iter().map(|c| Protocol::of(*c)).collect();
            // Every Vec sized exactly: a first push reserves room for four,
            // and with one target per member most of that room is waste.
            let mut members = Vec::with_capacity(g.def.members.len());
            let mut patience = Vec::with_capacity(g.def.members.len());
            for (mi, m) in g.def.members.iter().enumerate() {
                let Some(c) = plan.settings.connections.get(&m.name) else {
                    continue;
                };
                // Every target of a member shares its connection's timing.
                let t = &c.timing;
                patience.push(t.interval.saturating_mul(t.fall).saturating_add(t.timeout));
                let rules = TargetRules {
                    fall: c.timing.fall,
                    rise: c.timing.rise,
                    quality: c.timing.quality.clone(),
                };
                let mut health = Vec::with_capacity(conditions.len());
                let mut streams = Vec::with_capacity(conditions.len());
                for (ci, proto) in conditions.iter().enumerate() {
                    let mut row = Vec::with_capacity(c.targets.len());
                    let mut ids = Vec::with_capacity(c.targets.len());
                    for (ti, t) in c.targets.iter().enumerate() {
                        let key = StreamKey::new(*proto, t, c);
                        let id = b.read(
                            key,
                            Reader::Target {
                                group: gi,
                                member: mi,
                                condition: ci,
                                target: ti,
                            },
                        );
                        row.push(TargetHealth::new(rules.clone()));
                        ids.push(id);
                    }
                    health.push(row);
                    streams.push(ids);
                }
                let targets = c.targets.iter().map(Target::to_string).collect();
                members.push(MemberRt {
                    name: m.name.clone(),
                    quorum: c.quorum,
                    targets,
                    health,
                    streams,
                });
            }
            let names = members.iter().map(|m| m.name.clone()).collect();
            let mut health = GroupHealth::new(names, g.def.failback, persisted.get(g.name()).cloned());
            health.set_patience(patience);
            b.groups.push(GroupRt {
                name: g.name().to_string(),
                conditions,
                members,
                health,
                good_sent_after: None,
            });
        }
        let anchors = anchor_keys(plan);
        for (i, key) in anchors.iter().enumerate() {
            b.read(key.clone(), Reader::Anchor(i));
        }
        let anchors = anchors
            .into_iter()
            .map(|key| AnchorStatus {
                key,
                last: None,
                last_bad: None,
            })
            .collect();
        let by_name = b.groups.iter().enumerate().map(|(i, g)| (g.name.clone(), i)).collect();
        b.streams.shrink_to_fit();
        b.groups.shrink_to_fit();
        let tally = Tally::count(b.groups.iter().map(|g| g.health.state()));
        Engine {
            streams: b.streams,
            groups: b.groups,
            by_name,
            anchors,
            tally,
        }
    }

    /// How many groups are up, down and unknown.
    pub fn tally(&self) -> Tally {
        self.tally
    }

    /// Every stream with its counts, for /metrics (no allocation).
    pub fn stream_counts(&self) -> impl ExactSizeIterator<Item = (&StreamKey, &Counts)> + '_ {
        self.streams.iter().map(|s| (&s.key, &s.counts))
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
            s.targets += g.members.iter().flat_map(|m| &m.health).map(Vec::len).sum::<usize>();
        }
        s
    }

    /// Every group's name and state, in plan order, for /metrics (no
    /// allocation, unlike [`Engine::group_state`]).
    pub fn group_states(&self) -> impl Iterator<Item = (&str, State)> + '_ {
        self.groups.iter().map(|g| (g.name.as_str(), g.health.state()))
    }

    /// Every member's group, name and state, for /metrics (no allocation,
    /// unlike [`Engine::members`]).
    pub fn member_states(&self) -> impl Iterator<Item = (&str, &str, State)> + '_ {
        self.groups.iter().flat_map(|g| {
            g.members
                .iter()
                .enumerate()
                .map(move |(mi, m)| (g.name.as_str(), m.name.as_str(), g.health.member_state(mi)))
        })
    }

    /// Every target of every member's condition with its state, for
    /// /metrics (no allocation).
    pub fn target_states(&self) -> impl Iterator<Item = TargetState<'_>> + '_ {
        self.groups.iter().flat_map(|g| {
            g.members.iter().flat_map(move |m| {
                m.health.iter().enumerate().flat_map(move |(ci, row)| {
                    row.iter().zip(&m.targets).map(move |(th, target)| TargetState {
                        group: &g.name,
                        member: &m.name,
                        condition: g.conditions[ci],
                        target,
                        state: th.state(),
                    })
                })
            })
        })
    }

    /// The streams to run, by id.
    pub fn streams(&self) -> Vec<&StreamKey> {
        self.streams.iter().map(|s| &s.key).collect()
    }

    /// Whether stream `id` is read by an anchor.
    pub fn is_anchor(&self, id: StreamId) -> bool {
        self.streams
            .get(id)
            .is_some_and(|s| s.readers.iter().any(|r| matches!(r, Reader::Anchor(_))))
    }

    /// Group `name`'s state alone (no allocation).
    pub fn group_health(&self, name: &str) -> Option<State> {
        Some(self.groups[*self.by_name.get(name)?].health.state())
    }

    pub fn anchors(&self) -> &[AnchorStatus] {
        &self.anchors
    }

    /// Number of readers of stream `id` (for tests and status).
    pub fn readers(&self, id: StreamId) -> usize {
        self.streams.get(id).map_or(0, |s| s.readers.len())
    }

    /// Group `i`'s newest good check was sent after this moment (see
    /// `GroupRt::good_sent_after`); `None` before any good check.
    pub fn good_sent_after(&self, i: usize) -> Option<Instant> {
        self.groups.get(i).and_then(|g| g.good_sent_after)
    }

    /// Group `name`'s state and expected active member.
    pub fn group_state(&self, name: &str) -> Option<(State, Option<String>)> {
        let g = &self.groups[*self.by_name.get(name)?];
        let active = g.health.expected_active().map(|i| g.health.name(i).to_string());
        Some((g.health.state(), active))
    }

    /// Group `name`'s members and targets as they stand, for status.
    pub fn members(&self, name: &str) -> Vec<MemberView> {
        let Some(&gi) = self.by_name.get(name) else {
            return Vec::new();
        };
        let g = &self.groups[gi];
        let states = g.health.member_states();
        g.members
            .iter()
            .enumerate()
            .map(|(mi, m)| {
                let mut targets = Vec::new();
                for (ci, row) in m.health.iter().enumerate() {
                    for (ti, th) in row.iter().enumerate() {
                        let last = self.reader_last(gi, mi, ci, ti);
                        targets.push(TargetView {
                            condition: g.conditions[ci].to_string(),
                            target: m.targets[ti].clone(),
                            state: th.state(),
                            reason: th.last_reason().to_string(),
                            last,
                        });
                    }
                }
                let state = states.get(mi).copied().unwrap_or_default();
                let passed_over = (state == State::Unknown && g.health.passed_over(mi))
                    .then(|| g.health.patience().get(mi).copied())
                    .flatten();
                MemberView {
                    name: m.name.clone(),
                    state,
                    targets,
                    passed_over,
                }
            })
            .collect()
    }

    /// The stream each target of group `name` reads, per member, in the
    /// order of [`Engine::members`] (for the status page's charts).
    pub fn member_streams(&self, name: &str) -> Vec<Vec<StreamId>> {
        let Some(&gi) = self.by_name.get(name) else {
            return Vec::new();
        };
        let g = &self.groups[gi];
        g.members
            .iter()
            .map(|m| m.streams.iter().flatten().copied().collect())
            .collect()
    }

    fn reader_last(&self, g: usize, m: usize, c: usize, t: usize) -> Option<(Outcome, Instant)> {
        self.stream_of(g, m, c, t).and_then(|s| s.last.clone())
    }

    /// The stream read by target `t` of condition `c` of member `m` of
    /// group `g`.
    fn stream_of(&self, g: usize, m: usize, c: usize, t: usize) -> Option<&StreamRt> {
        let id = *self.groups.get(g)?.members.get(m)?.streams.get(c)?.get(t)?;
        self.streams.get(id)
    }

    /// After a reload: takes over the health of every reader whose group,
    /// member, condition and target are the same by name and whose stream
    /// is unchanged (new rules apply from the next check), and the group
    /// state machine of groups whose member list and failback are
    /// unchanged. Everything else starts afresh.
    pub fn adopt(&mut self, old: &Engine) {
        let keys: BTreeMap<(usize, usize, usize, usize), StreamKey> = self
            .groups
            .iter()
            .enumerate()
            .flat_map(|(gi, g)| {
                g.members.iter().enumerate().flat_map(move |(mi, m)| {
                    m.health
                        .iter()
                        .enumerate()
                        .flat_map(move |(ci, row)| (0..row.len()).map(move |ti| (gi, mi, ci, ti)))
                })
            })
            .filter_map(|k| self.stream_of(k.0, k.1, k.2, k.3).map(|s| (k, s.key.clone())))
            .collect();
        let old_key = |g, m, c, t| old.stream_of(g, m, c, t).map(|s| &s.key);
        for (gi, g) in self.groups.iter_mut().enumerate() {
            let Some(&ogi) = old.by_name.get(&g.name) else {
                continue;
            };
            let og = &old.groups[ogi];
            let same_members = og.members.iter().map(|m| &m.name).eq(g.members.iter().map(|m| &m.name));
            if same_members && og.health.failback() == g.health.failback() {
                let patience = g.health.patience().to_vec();
                g.health = og.health.clone();
                g.health.set_patience(patience);
            }
            for (mi, m) in g.members.iter_mut().enumerate() {
                let Some((omi, om)) = og.members.iter().enumerate().find(|(_, o)| o.name == m.name) else {
                    continue;
                };
                for (ci, row) in m.health.iter_mut().enumerate() {
                    let Some(oci) = og.conditions.iter().position(|p| *p == g.conditions[ci]) else {
                        continue;
                    };
                    for (ti, th) in row.iter_mut().enumerate() {
                        let Some(oti) = om.targets.iter().position(|t| *t == m.targets[ti]) else {
                            continue;
                        };
                        let (Some(new), Some(prev)) = (keys.get(&(gi, mi, ci, ti)), old_key(ogi, omi, oci, oti)) else {
                            continue;
                        };
                        if new == prev {
                            let rules = th.rules().clone();
                            *th = om.health[oci][oti].clone();
                            th.set_rules(rules);
                        }
                    }
                }
            }
        }
        self.tally = Tally::count(self.groups.iter().map(|g| g.health.state()));
        self.adopt_counts(old);
    }

    /// A stream kept across a reload keeps its counts and last check:
    /// counters on /metrics count from the process's start and never go
    /// back at a reload (Prometheus's `rate()` would read a reset).
    fn adopt_counts(&mut self, old: &Engine) {
        let before: BTreeMap<&StreamKey, &StreamRt> = old.streams.iter().map(|s| (&s.key, s)).collect();
        for s in &mut self.streams {
            if let Some(o) = before.get(&s.key) {
                s.counts.clone_from(&o.counts);
                s.last.clone_from(&o.last);
            }
        }
    }

    /// What to persist for each group.
    pub fn persisted(&self) -> BTreeMap<String, Persisted> {
        self.groups
            .iter()
            .map(|g| (g.name.clone(), g.health.persisted()))
            .collect()
    }

    /// Feeds one observation; returns what it caused, causes first.
    pub fn observe(&mut self, obs: &Observation) -> Vec<Output> {
        let Some(stream) = self.streams.get_mut(obs.stream) else {
            return Vec::new();
        };
        // Borrowed out and put back: no allocation per observation.
        let readers = std::mem::take(&mut stream.readers);
        let out = self.apply(obs, &readers);
        self.streams[obs.stream].readers = readers;
        out
    }

    fn apply(&mut self, obs: &Observation, readers: &[Reader]) -> Vec<Output> {
        match &obs.report {
            Report::Gap { late_by } => {
                for r in readers {
                    if let Reader::Target {
                        group,
                        member,
                        condition,
                        target,
                    } = *r
                    {
                        self.groups[group].members[member].health[condition][target].discard_recent();
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
                    for r in readers {
                        if let Reader::Target { group, .. } = *r {
                            let g = &mut self.groups[group];
                            g.good_sent_after = g.good_sent_after.max(Some(t));
                        }
                    }
                }
                self.check(readers, outcome, obs.at)
            }
        }
    }

    fn check(&mut self, readers: &[Reader], outcome: &Outcome, at: Instant) -> Vec<Output> {
        let mut touched: Vec<usize> = Vec::new();
        for r in readers {
            match *r {
                Reader::Anchor(i) => {
                    let a = &mut self.anchors[i];
                    if !matches!(outcome, Outcome::Good { .. }) {
                        a.last_bad = Some(at);
                    }
                    a.last = Some((outcome.clone(), at));
                }
                Reader::Target {
                    group,
                    member,
                    condition,
                    target,
                } => {
                    let g = &mut self.groups[group];
                    let verdict = g.members[member].health[condition][target].observe(outcome).is_some();
                    // Any check (an error too) starts the member's patience.
                    g.health.checks_began(member, at);
                    let choose_again = g.health.tick(at);
                    if (verdict || choose_again) && !touched.contains(&group) {
                        touched.push(group);
                    }
                }
            }
        }
        let mut out = Vec::new();
        for gi in touched {
            let before = self.groups[gi].health.state();
            out.extend(self.groups[gi].update(at).into_iter().map(Output::Event));
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
    fn update(&mut self, at: Instant) -> Vec<GroupEvent> {
        let reports: Vec<(State, String)> = self.members.iter().map(|m| m.report(&self.conditions)).collect();
        let events = self.health.update(&reports);
        events.into_iter().map(|e| self.named(e, at)).collect()
    }

    fn named(&self, e: Event, at: Instant) -> GroupEvent {
        let name = |i: Option<usize>| i.map(|i| self.health.name(i).to_string());
        GroupEvent {
            group: self.name.clone(),
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
    fn report(&self, conditions: &[Protocol]) -> (State, String) {
        let reports: Vec<ConditionReport> = conditions
            .iter()
            .zip(&self.health)
            .map(|(proto, row)| {
                let statuses: Vec<TargetStatus<'_>> = row
                    .iter()
                    .zip(&self.targets)
                    .map(|(th, name)| TargetStatus {
                        name,
                        state: th.state(),
                        reason: th.last_reason(),
                    })
                    .collect();
                ConditionReport::evaluate(&proto.to_string(), self.quorum, &statuses)
            })
            .collect();
        let m = MemberReport::evaluate(&reports);
        (m.state, m.reason)
    }
}

#[derive(Default)]
struct Builder {
    streams: Vec<StreamRt>,
    index: BTreeMap<StreamKey, StreamId>,
    groups: Vec<GroupRt>,
}

impl Builder {
    fn read(&mut self, key: StreamKey, reader: Reader) -> StreamId {
        let id = *self.index.entry(key.clone()).or_insert_with(|| {
            self.streams.push(StreamRt {
                key,
                // Most streams have one reader.
                readers: Vec::with_capacity(1),
                last: None,
                counts: Counts::default(),
            });
            self.streams.len() - 1
        });
        self.streams[id].readers.push(reader);
        id
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
