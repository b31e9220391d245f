//! The status page's memory (docs/status-page.md, "History"): per check
//! stream one point per 20 s step for the last hour, and the last 24 hours of
//! group events, at most [`EVENTS`]. Bounded: a stream's points are a fixed
//! ring of 3-byte points ([`point`]), taken at its first check from one
//! table of every stream's ring ([`rings`]); events beyond the
//! count or the age are dropped, oldest first. Pure: every input carries
//! its time. A reload keeps the points of every stream whose key is
//! unchanged, and every event. The points are saved in the state
//! directory and read back at start ([`saved`]).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::daemon::persist::Clocks;
use crate::engine::{Engine, GroupEvent, Output};
use crate::health::outcome::Outcome;
use crate::page::{self, POINTS, STEP_SECS};
use crate::probe::schedule::{Observation, Report, StreamId};
use point::{Point, Rtt14};
use rings::{RingId, Rings};

/// Events kept at most.
pub const EVENTS: usize = 1000;
/// Events kept at most this long.
pub const EVENT_AGE: Duration = Duration::from_secs(24 * 3600);
const STEP: Duration = Duration::from_secs(STEP_SECS);
/// How often the points are saved (and at stop).
pub const SAVE_EVERY: Duration = Duration::from_secs(300);
/// Steps are counted from this long before the history's start, so that
/// the points of the hour before a restart have a place.
const BEFORE: Duration = Duration::from_secs((POINTS as u64 + 1) * STEP_SECS);

/// The step being filled, at full precision: 16 bytes with its number, so
/// that a [`Series`] is 32.
#[derive(Clone, Copy, Debug, Default)]
struct Open {
    /// The step, counted from the history's origin (20 s steps: u32 lasts
    /// 2,700 years).
    step: u32,
    /// Exact: a step holds at most about 2,000 checks (a 10 ms interval).
    good: u16,
    lost: u16,
    rtt_sum_us: u64,
}

impl Open {
    fn new(step: u64) -> Open {
        Open {
            step: u32::try_from(step).unwrap_or(u32::MAX),
            ..Open::default()
        }
    }

    fn close(self) -> Point {
        let mean = self.rtt_sum_us.checked_div(u64::from(self.good)).unwrap_or(0);
        Point {
            good: self.good.min(255) as u8,
            lost: self.lost.min(255) as u8,
            rtt: Rtt14::new(mean),
        }
    }

    fn page(self) -> page::Point {
        let p = self.close();
        page::Point {
            good: self.good,
            lost: self.lost,
            rtt_us: p.rtt.micros(),
        }
    }
}

/// One stream's last hour: 24 bytes, and its ring in [`Rings`].
#[derive(Debug)]
struct Series {
    /// The step being filled (the series' head).
    open: Open,
    /// Closed steps, step `k` at `k % POINTS`; those older than `head -
    /// POINTS` are stale and never read.
    ring: RingId,
}

impl Series {
    /// A series at `step` with an empty ring from `rings` (of an engine
    /// with `streams` streams).
    fn new(step: u64, rings: &mut Rings, streams: usize) -> Series {
        Series {
            open: Open::new(step),
            ring: rings.take(streams),
        }
    }

    /// The step `open` belongs to.
    fn head(&self) -> u64 {
        self.open.step.into()
    }

    fn add(&mut self, rings: &mut Rings, step: u64, outcome: &Outcome) {
        let head = self.head();
        if step > head {
            rings.set(&mut self.ring, (head % POINTS as u64) as usize, self.open.close());
            // Steps with no check at all are gaps.
            for k in (head + 1..step).take(POINTS) {
                rings.set(&mut self.ring, (k % POINTS as u64) as usize, Point::default());
            }
            self.open = Open::new(step);
        }
        match outcome {
            Outcome::Good { rtt } => {
                self.open.good = self.open.good.saturating_add(1);
                self.open.rtt_sum_us += rtt.as_micros().min(u128::from(u32::MAX)) as u64;
            }
            Outcome::Failed { .. } => self.open.lost = self.open.lost.saturating_add(1),
            // A local fault says nothing about the target.
            Outcome::Error { .. } => {}
        }
    }

    /// The [`POINTS`] steps up to `now_step`, oldest first.
    fn chart(&self, rings: &Rings, now_step: u64) -> page::Chart {
        let points = (0..POINTS as u64)
            .map(|j| {
                // Steps before the origin are as empty as steps with no check.
                let Some(k) = (now_step + 1 + j).checked_sub(POINTS as u64) else {
                    return page::Point::default();
                };
                let head = self.head();
                if k == head {
                    self.open.page()
                } else if k < head && head - k < POINTS as u64 {
                    let p = rings.get(self.ring, (k % POINTS as u64) as usize);
                    page::Point {
                        good: p.good.into(),
                        lost: p.lost.into(),
                        rtt_us: p.rtt.micros(),
                    }
                } else {
                    page::Point::default()
                }
            })
            .collect();
        page::Chart { points }
    }
}

/// The page's history of every stream and the group events.
#[derive(Debug)]
pub struct History {
    /// Steps count from here.
    origin: Instant,
    /// By the current engine's stream id.
    series: Vec<Option<Series>>,
    /// The series' rings.
    rings: Rings,
    /// How many streams the current engine has: a report of any other id
    /// is not recorded (and allocates nothing).
    streams: usize,
    events: VecDeque<page::Event>,
    /// When the points were last saved (or first asked whether due).
    saved: Option<Instant>,
}

impl History {
    /// An empty history of an engine with `streams` streams; steps are
    /// [`STEP`]s from `origin` (a whole number of steps before it, so
    /// that saved points from before `origin` find their place).
    pub fn new(origin: Instant, streams: usize) -> History {
        History {
            origin: origin.checked_sub(BEFORE).unwrap_or(origin),
            series: Vec::new(),
            rings: Rings::default(),
            streams,
            events: VecDeque::new(),
            saved: None,
        }
    }

    /// Whether the points are due to be saved at `now` ([`SAVE_EVERY`]
    /// after the last save, or after the first call: the daemon's first
    /// tick); `true` starts the next period.
    pub fn save_due(&mut self, now: Instant) -> bool {
        let since = *self.saved.get_or_insert(now);
        let due = now.saturating_duration_since(since) >= SAVE_EVERY;
        if due {
            self.saved = Some(now);
        }
        due
    }

    /// Events from before the start (the event history), oldest first,
    /// for the page's list: those older than 24 hours or beyond the
    /// count are dropped, as live ones are.
    pub fn seed_events(&mut self, events: impl IntoIterator<Item = page::Event>, now: SystemTime) {
        let live = std::mem::take(&mut self.events);
        self.events.extend(events);
        self.events.extend(live);
        self.prune(now);
    }

    fn step(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.origin).as_secs() / STEP.as_secs()
    }

    /// One observation and what the engine made of it (the core's hook in
    /// `observe`).
    pub fn record(&mut self, obs: &Observation, outputs: &[Output], clocks: Clocks) {
        if let Report::Check { outcome, .. } = &obs.report
            && obs.stream < self.streams
        {
            let step = self.step(obs.at);
            if self.series.len() <= obs.stream {
                // Sized once for every stream of the engine: growing by
                // doubling as streams report left holes of the old tables.
                self.series.reserve_exact(self.streams - self.series.len());
                self.series.resize_with(obs.stream + 1, || None);
            }
            let rings = &mut self.rings;
            self.series[obs.stream]
                .get_or_insert_with(|| Series::new(step, rings, self.streams))
                .add(rings, step, outcome);
            // Streams checked more often than every 650 ms widen their
            // rings one by one: once most narrow rings are left free, the
            // table is cut to the held ones (as after a reload), so that a
            // short interval costs 4-byte points and not 3 + 4.
            self.rings.shrink(self.series.iter_mut().flatten().map(|s| &mut s.ring));
        }
        for o in outputs {
            if let Output::Event(e) = o {
                self.event(e, clocks);
            }
        }
    }

    fn event(&mut self, e: &GroupEvent, clocks: Clocks) {
        let (kind, bad) = e.kind.page_label();
        self.events.push_back(page::Event {
            at: secs(clocks.to_wall(e.at)),
            group: e.group.clone(),
            kind: kind.to_string(),
            bad,
            text: e.text.clone(),
        });
        self.prune(clocks.wall);
    }

    fn prune(&mut self, now: SystemTime) {
        let oldest = secs(now).saturating_sub(EVENT_AGE.as_secs());
        while self.events.len() > EVENTS || self.events.front().is_some_and(|e| e.at < oldest) {
            self.events.pop_front();
        }
    }

    /// A reload: each stream of `new` keeps the points it had under `old`
    /// if its key is unchanged (the core's hook in `reload`).
    pub fn carry(&mut self, old: &Engine, new: &Engine) {
        let mut by_key: HashMap<_, _> = old
            .streams()
            .into_iter()
            .zip(std::mem::take(&mut self.series))
            .filter_map(|(k, s)| Some((k, s?)))
            .collect();
        self.series = new.streams().into_iter().map(|k| by_key.remove(k)).collect();
        self.streams = self.series.len();
        for gone in by_key.into_values() {
            self.rings.release(gone.ring);
        }
        self.rings.shrink(self.series.iter_mut().flatten().map(|s| &mut s.ring));
    }

    /// Stream `id`'s last hour as of `now`.
    pub fn chart(&self, id: StreamId, now: Instant) -> page::Chart {
        match self.series.get(id).and_then(Option::as_ref) {
            Some(s) => s.chart(&self.rings, self.step(now)),
            None => page::Chart {
                points: vec![page::Point::default(); POINTS],
            },
        }
    }

    /// The events of the 24 hours before `now`, oldest first.
    pub fn events(&self, now: SystemTime) -> Vec<page::Event> {
        let oldest = secs(now).saturating_sub(EVENT_AGE.as_secs());
        self.events.iter().filter(|e| e.at >= oldest).cloned().collect()
    }
}

/// `clocks.mono` moved back to the start of its wall-clock step, so that
/// the history's steps are the wall clock's 20 s steps (saved points come
/// back to the step they were taken in).
pub fn aligned(clocks: Clocks) -> Instant {
    let into = clocks.wall.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let into = Duration::from_nanos((into.as_nanos() % STEP.as_nanos()) as u64);
    clocks.mono.checked_sub(into).unwrap_or(clocks.mono)
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

mod point;
mod rings;
pub mod saved;

#[cfg(test)]
mod tests;
