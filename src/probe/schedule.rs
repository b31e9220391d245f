//! The scheduler of check streams: one tokio task per stream (no thread
//! each), started at a spread offset inside the first interval, ticking on
//! the monotonic clock without ever bursting to catch up, and reporting a
//! gap instead of a check when the process was paused for more than three
//! intervals (the checks that straddle the gap are discarded).

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

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

/// Starts a stream's task; it ends when the receiver is dropped or the
/// handle is aborted.
pub fn spawn<C: Check>(
    stream: StreamId,
    key: StreamKey,
    start: Instant,
    checker: Arc<C>,
    resolving: Resolving,
    tx: mpsc::Sender<Observation>,
) -> JoinHandle<()> {
    tokio::spawn(run(stream, key, start, checker, resolving, tx))
}

async fn run<C: Check>(
    stream: StreamId,
    key: StreamKey,
    start: Instant,
    checker: Arc<C>,
    resolving: Resolving,
    tx: mpsc::Sender<Observation>,
) {
    let interval = key.interval;
    let gap_limit = interval * 3;
    let mut ticker = tokio::time::interval_at(start, interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut state = checker.state(&key);
    let mut address = Address::new(key.target.clone(), key.family, start);
    let mut previous: Option<Instant> = None;
    loop {
        let scheduled = ticker.tick().await;
        let now = Instant::now();
        let late_by = previous.map_or(now.saturating_duration_since(scheduled), |p| {
            now.saturating_duration_since(p).saturating_sub(interval)
        });
        previous = Some(now);
        if late_by > gap_limit && !send(&tx, stream, now, Report::Gap { late_by }).delivered().await {
            return;
        }
        // Boxed: the check's future (socket, timers, resolver) is most of a
        // stream's size but lives only while a check runs; each of
        // thousands of idle streams then holds a few hundred bytes.
        let (outcome, addr) = Box::pin(one_check(&key, &mut address, &*checker, &mut state, resolving)).await;
        let end = Instant::now();
        let took = end.saturating_duration_since(now);
        let report = if took > gap_limit + key.timeout {
            // Paused during the check: its result says nothing about the peer.
            previous = Some(end);
            Report::Gap { late_by: took }
        } else {
            Report::Check { outcome, addr }
        };
        if !send(&tx, stream, end, report).delivered().await {
            return;
        }
    }
}

/// Hands a report on; false once nobody receives. Queued at once when
/// there is room (nearly always); only a full queue waits, in a boxed
/// future, so that each of thousands of idle streams does not carry a
/// channel send (over 300 bytes) in its own state.
fn send(tx: &mpsc::Sender<Observation>, stream: StreamId, at: Instant, report: Report) -> Sent<'_> {
    use mpsc::error::TrySendError;
    match tx.try_send(Observation { stream, at, report }) {
        Ok(()) => Sent::Done(true),
        Err(TrySendError::Full(obs)) => Sent::Wait(Box::pin(tx.send(obs))),
        Err(TrySendError::Closed(_)) => Sent::Done(false),
    }
}

type Sending<'a> = std::pin::Pin<Box<dyn Future<Output = Result<(), mpsc::error::SendError<Observation>>> + Send + 'a>>;

/// A report handed on, or waiting for room.
enum Sent<'a> {
    Done(bool),
    Wait(Sending<'a>),
}

impl Sent<'_> {
    async fn delivered(self) -> bool {
        match self {
            Sent::Done(ok) => ok,
            Sent::Wait(f) => f.await.is_ok(),
        }
    }
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
    let answer = match address.due(now) {
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
