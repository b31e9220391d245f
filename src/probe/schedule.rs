//! The scheduler of check streams: streams start at a spread offset inside
//! the first interval, in slots; the streams of one slot (same start, same
//! interval) share one tokio task and one timer, each stream a small record
//! in it. They tick on the monotonic clock without ever bursting to catch
//! up, and report a gap instead of a check when the process was paused for
//! more than three intervals (the checks that straddle the gap are
//! discarded).

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use super::resolve::{Address, Use, lookup};
use super::{Check, StreamKey};
use crate::health::outcome::Outcome;

/// Index of a stream in the engine's table.
pub type StreamId = usize;

/// What a stream reports.
#[derive(Clone, Debug, PartialEq)]
pub enum Report {
    /// One check: its outcome and the address probed, if any.
    Check { outcome: Outcome, addr: Option<IpAddr> },
    /// The stream's ticks stopped for `late_by` more than an interval
    /// (suspend, SIGSTOP, a paused VM): runs must not span it.
    Gap { late_by: Duration },
}

/// A report from stream `stream`, at monotonic time `at`.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    pub stream: StreamId,
    pub at: Instant,
    pub report: Report,
}

/// How names are re-resolved.
#[derive(Clone, Copy, Debug)]
pub struct Resolving {
    pub every: Duration,
    pub stale: Duration,
    /// Bound on one lookup.
    pub timeout: Duration,
}

/// Streams start in slots of at least this length: every stream of a slot
/// starts on the same instant, so one wake-up sends all of them (and one
/// timer wheel turn times them out together) instead of one wake-up per
/// stream. Small against any interval or timeout, and the bounds count
/// from each check's own send.
pub const SLOT: Duration = Duration::from_millis(10);

/// At most about this many streams share a slot when there is room (fewer
/// streams: longer slots, down to one a interval): a burst this small
/// never fills a socket buffer or trips a rate limit on the path.
pub const PER_SLOT: usize = 16;

/// The slot of `count` streams at `interval`: `interval × PER_SLOT /
/// count`, at least [`SLOT`], at most the interval.
pub fn slot_len(count: usize, interval: Duration) -> Duration {
    SLOT.max(interval.mul_f64(PER_SLOT as f64 / count.max(1) as f64))
        .min(interval)
}

/// Spread offset of stream `index` of `count` inside `interval`, so that
/// thousands of streams do not send at the same instant; rounded down to
/// a slot of `interval × PER_SLOT / count`, at least [`SLOT`], at most the
/// interval.
pub fn offset(index: usize, count: usize, interval: Duration) -> Duration {
    if count <= 1 || interval.is_zero() {
        return Duration::ZERO;
    }
    let slot = slot_len(count, interval);
    let spread = interval.mul_f64(index as f64 / count as f64);
    let slots = spread.as_nanos() / slot.as_nanos().max(1);
    slot * u32::try_from(slots).unwrap_or(u32::MAX)
}

/// One stream of a group: the tag it reports under and what it checks.
pub struct Member {
    pub stream: StreamId,
    pub key: Arc<StreamKey>,
}

/// Stops a group's streams one at a time (the group's task runs on).
#[derive(Clone)]
pub struct Stops(Arc<[AtomicBool]>);

impl Stops {
    /// Member `index` makes no further check; a check in flight is
    /// discarded when it ends.
    pub fn stop(&self, index: usize) {
        if let Some(s) = self.0.get(index) {
            s.store(true, Ordering::Relaxed);
        }
    }

    fn stopped(&self, index: usize) -> bool {
        self.0.get(index).is_none_or(|s| s.load(Ordering::Relaxed))
    }
}

/// A running group of streams: its task (abort it to stop them all) and
/// its stops.
pub struct Group {
    pub task: JoinHandle<()>,
    pub stops: Stops,
}

/// Starts one stream (a group of one); it ends when the receiver is
/// dropped or the task is aborted.
pub fn spawn<C: Check>(
    stream: StreamId,
    key: StreamKey,
    start: Instant,
    checker: Arc<C>,
    resolving: Resolving,
    tx: mpsc::Sender<Observation>,
) -> Group {
    let member = Member {
        stream,
        key: Arc::new(key),
    };
    spawn_group(vec![member], start, checker, resolving, tx)
}

/// Starts streams that tick together: same start, same interval (the
/// first member's). One task and one timer for all of them; each check
/// runs on its own, so a slow target never delays another. Memory per
/// stream is a small record while it waits; a check's future (socket,
/// timers, resolver) exists only while the check runs.
pub fn spawn_group<C: Check>(
    members: Vec<Member>,
    start: Instant,
    checker: Arc<C>,
    resolving: Resolving,
    tx: mpsc::Sender<Observation>,
) -> Group {
    let stops = Stops(members.iter().map(|_| AtomicBool::new(false)).collect());
    let task = tokio::spawn(run(members, start, checker, resolving, tx, stops.clone()));
    Group { task, stops }
}

/// What a stream keeps between checks.
struct Idle<S> {
    address: Address,
    state: S,
}

/// One stream in its group's task.
struct Slot<S> {
    stream: StreamId,
    key: Arc<StreamKey>,
    /// `None` while its check runs (the check holds it).
    idle: Option<Idle<S>>,
    /// A tick came while its check ran: check again as soon as it ends
    /// (late, never twice), as a stream of its own would have.
    missed: bool,
    /// The process stood still for this long while its check ran: the
    /// check is reported as this gap instead.
    straddled: Option<Duration>,
}

/// A check that ended: the stream's index, what it keeps, when it began,
/// and what it found.
struct Done<S> {
    index: usize,
    idle: Idle<S>,
    began: Instant,
    outcome: Outcome,
    addr: Option<IpAddr>,
}

type Flight<S> = Pin<Box<dyn Future<Output = Done<S>> + Send>>;

fn flight<C: Check>(
    index: usize,
    key: Arc<StreamKey>,
    mut idle: Idle<C::State>,
    checker: Arc<C>,
    resolving: Resolving,
) -> Flight<C::State> {
    Box::pin(async move {
        let began = Instant::now();
        let (outcome, addr) = one_check(&key, &mut idle.address, &*checker, &mut idle.state, resolving).await;
        Done {
            index,
            idle,
            began,
            outcome,
            addr,
        }
    })
}

async fn run<C: Check>(
    members: Vec<Member>,
    start: Instant,
    checker: Arc<C>,
    resolving: Resolving,
    tx: mpsc::Sender<Observation>,
    stops: Stops,
) {
    let Some(interval) = members.first().map(|m| m.key.interval) else {
        return;
    };
    let gap_limit = interval * 3;
    let mut slots: Vec<Slot<C::State>> = members
        .into_iter()
        .map(|m| Slot {
            stream: m.stream,
            idle: Some(Idle {
                address: Address::new(&m.key.target, m.key.family, start),
                state: checker.state(&m.key),
            }),
            key: m.key,
            missed: false,
            straddled: None,
        })
        .collect();
    let mut ticker = tokio::time::interval_at(start, interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut flying: FuturesUnordered<Flight<C::State>> = FuturesUnordered::new();
    let mut previous: Option<Instant> = None;
    loop {
        tokio::select! {
            biased;
            Some(done) = flying.next(), if !flying.is_empty() => {
                let i = done.index;
                if stops.stopped(i) {
                    continue;
                }
                let end = Instant::now();
                let took = end.saturating_duration_since(done.began);
                let slot = &mut slots[i];
                let report = if let Some(late_by) = slot.straddled.take() {
                    Report::Gap { late_by }
                } else if took > gap_limit + slot.key.timeout {
                    // Paused during the check: its result says nothing about the peer.
                    Report::Gap { late_by: took }
                } else {
                    Report::Check { outcome: done.outcome, addr: done.addr }
                };
                if !deliver(&tx, slot.stream, end, report).await {
                    return;
                }
                if std::mem::take(&mut slot.missed) {
                    flying.push(flight(i, slot.key.clone(), done.idle, checker.clone(), resolving));
                } else {
                    slot.idle = Some(done.idle);
                }
            }
            scheduled = ticker.tick() => {
                let now = Instant::now();
                let late_by = previous.map_or(now.saturating_duration_since(scheduled), |p| {
                    now.saturating_duration_since(p).saturating_sub(interval)
                });
                previous = Some(now);
                let gap = late_by > gap_limit;
                for (i, slot) in slots.iter_mut().enumerate() {
                    if stops.stopped(i) {
                        continue;
                    }
                    match slot.idle.take() {
                        Some(idle) => {
                            if gap && !deliver(&tx, slot.stream, now, Report::Gap { late_by }).await {
                                return;
                            }
                            flying.push(flight(i, slot.key.clone(), idle, checker.clone(), resolving));
                        }
                        None => {
                            slot.missed = true;
                            if gap {
                                slot.straddled = Some(late_by);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Hands a report on; false once nobody receives.
async fn deliver(tx: &mpsc::Sender<Observation>, stream: StreamId, at: Instant, report: Report) -> bool {
    tx.send(Observation { stream, at, report }).await.is_ok()
}

/// Resolves when due, then checks the address.
async fn one_check<C: Check>(
    key: &StreamKey,
    address: &mut Address,
    checker: &C,
    state: &mut C::State,
    resolving: Resolving,
) -> (Outcome, Option<IpAddr>) {
    let now = Instant::now();
    let answer = match address.due(&key.target, now) {
        Some(name) => Some(lookup(name, address.family(), resolving.timeout).await),
        None => None,
    };
    match address.apply(answer, Instant::now(), resolving.every, resolving.stale) {
        Use::Probe { addr, changed } => {
            if let Some(old) = changed {
                tracing::info!(target: "failoverd::probe", TARGET = %key.target, old = %old, new = %addr, "address changed; the target keeps its state");
            }
            (checker.check(key, addr, state).await, Some(addr))
        }
        Use::Fail(reason) => (Outcome::Failed { reason }, None),
        Use::Error(reason) => (Outcome::Error { reason }, None),
    }
}
