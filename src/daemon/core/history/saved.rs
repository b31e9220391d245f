//! The page history's file format (docs/state-file.md, "page-history.bin"):
//! the charts' points written to and read from a byte stream, so that a
//! restart or an upgrade keeps the page's last hour. Pure: the caller
//! opens the file and passes the clocks.
//!
//! Layout, little-endian: [`MAGIC`] (its last byte the version), the wall
//! time of the save (u64 Unix seconds), the step (u32 seconds), the points
//! per chart (u32), the number of streams (u32); then per stream the
//! FNV-1a hash of its key (u64), a count `n` (u8, at most [`POINTS`]) and
//! its last `n` points, oldest first, the last one the step that held the
//! save: `good` (u8), `lost` (u8), RTT (u16, [`Rtt`]-coded); then [`END`].
//! A stream is named by a hash so that the file stays small (8 bytes
//! instead of the key's text) and the load needs no copy of every key.
//!
//! Written straight into the writer and read straight from the reader,
//! a stream at a time: neither builds a copy of the whole history.

use std::io::{self, Read, Write};
use std::time::SystemTime;

use super::point::{Point, Rtt, Rtt14};
use super::rings::Rings;
use super::{History, Open, POINTS, STEP, Series, secs};
use crate::daemon::persist::Clocks;
use crate::probe::StreamKey;

/// The file's first bytes; the last one is the format's version.
pub const MAGIC: [u8; 8] = *b"FOVDPH\n\x01";
/// The file's last bytes: a file cut short anywhere is seen as such.
const END: [u8; 4] = *b"END\n";
/// More streams than this is damage, not a history.
const MAX_STREAMS: u32 = 1 << 20;

/// What a load found, for the log.
#[derive(Debug, Default, PartialEq)]
pub struct Restored {
    /// Streams whose points were kept.
    pub streams: usize,
    /// Streams of the file that no longer exist.
    pub dropped: usize,
}

/// A stable 64-bit name of a stream key (FNV-1a over its parts): the
/// same key gives the same hash in every version and on every machine.
pub fn key_hash(k: &StreamKey) -> u64 {
    use std::fmt::Write as _;
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    let _ = write!(
        h,
        "{}|{}|{:?}|{:?}|{:?}|{}|{}",
        k.protocol,
        k.target,
        k.family,
        k.source,
        k.interface,
        k.interval.as_millis(),
        k.timeout.as_millis()
    );
    h.0
}

/// FNV-1a over the text written into it (no copy of the text).
struct Fnv(u64);

impl std::fmt::Write for Fnv {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        for b in s.bytes() {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        Ok(())
    }
}

fn wall_step(t: SystemTime) -> u64 {
    secs(t) / STEP.as_secs()
}

/// One stream's record: hash, count, points.
const RECORD: usize = 9 + 4 * POINTS;

impl Series {
    /// The point of step `k` as the chart up to `now_step` shows it.
    fn point_at(&self, rings: &Rings, k: u64) -> Point {
        let head = self.head();
        if k == head {
            self.open.close()
        } else if k < head && head - k < POINTS as u64 {
            rings.get(self.ring, (k % POINTS as u64) as usize)
        } else {
            Point::default()
        }
    }

    /// This stream's record into `buf`: the points from the first step
    /// with a check up to `now_step` (the open step closed), oldest
    /// first. Returns its length.
    fn encode(&self, rings: &Rings, hash: u64, now_step: u64, buf: &mut [u8; RECORD]) -> usize {
        let oldest = (now_step + 1).saturating_sub(POINTS as u64);
        let first = (oldest..=now_step).find(|&k| {
            let p = self.point_at(rings, k);
            p.good > 0 || p.lost > 0
        });
        let steps = first.map_or(0..0, |f| f..now_step + 1);
        buf[..8].copy_from_slice(&hash.to_le_bytes());
        buf[8] = steps.clone().count() as u8;
        let mut at = 9;
        for k in steps {
            let p = self.point_at(rings, k);
            let [a, b] = p.rtt.to_file().0.to_le_bytes();
            buf[at..at + 4].copy_from_slice(&[p.good, p.lost, a, b]);
            at += 4;
        }
        at
    }
}

impl History {
    /// Writes every stream's last hour to `w`; `keys`: the current
    /// engine's stream keys, by id. Returns the streams written.
    pub fn save_to(&self, w: &mut impl Write, keys: &[&StreamKey], clocks: Clocks) -> io::Result<usize> {
        let now_step = self.step(clocks.mono);
        let kept = || {
            keys.iter()
                .zip(&self.series)
                .filter_map(|(k, s)| Some((k, s.as_ref()?)))
        };
        let count = kept().count();
        w.write_all(&MAGIC)?;
        w.write_all(&secs(clocks.wall).to_le_bytes())?;
        w.write_all(&(STEP.as_secs() as u32).to_le_bytes())?;
        w.write_all(&(POINTS as u32).to_le_bytes())?;
        w.write_all(&(count as u32).to_le_bytes())?;
        let mut buf = [0u8; RECORD];
        for (key, s) in kept() {
            let len = s.encode(&self.rings, key_hash(key), now_step, &mut buf);
            w.write_all(&buf[..len])?;
        }
        w.write_all(&END)?;
        Ok(count)
    }

    /// Reads a saved history from `r` into this (fresh) history: the
    /// points of each stream whose key still exists, at their wall-clock
    /// age; points older than the hour, or ahead of `clocks.wall` (a clock
    /// stepped back since), are dropped. An error says why the file is not
    /// a history of this version; nothing is kept then.
    pub fn restore_from(&mut self, r: &mut impl Read, keys: &[&StreamKey], clocks: Clocks) -> Result<Restored, String> {
        let mut ids: std::collections::HashMap<u64, usize> =
            keys.iter().enumerate().map(|(i, k)| (key_hash(k), i)).collect();
        let mut magic = [0u8; 8];
        read(r, &mut magic)?;
        if magic[..7] != MAGIC[..7] {
            return Err("not a failoverd page history".into());
        }
        if magic[7] != MAGIC[7] {
            return Err(format!(
                "unknown version {} (this failoverd reads {})",
                magic[7], MAGIC[7]
            ));
        }
        let saved_at = u64::from_le_bytes(bytes(r)?);
        let (step, points, count) = (u32_of(r)?, u32_of(r)?, u32_of(r)?);
        if u64::from(step) != STEP.as_secs() || points as usize != POINTS {
            return Err(format!(
                "points of {step} s, {points} a chart (this failoverd keeps {POINTS} of {} s)",
                STEP.as_secs()
            ));
        }
        if count > MAX_STREAMS {
            return Err(format!("{count} streams: more than {MAX_STREAMS}"));
        }
        // Steps between the save's step and now: negative when the clock
        // went back since the save.
        let lag = i128::from(wall_step(clocks.wall)) - i128::from(saved_at / STEP.as_secs());
        let now_step = self.step(clocks.mono);
        // The rings of a refused file are dropped with it.
        let mut rings = Rings::default();
        let mut series = Vec::new();
        let mut found = Restored::default();
        for _ in 0..count {
            let hash = u64::from_le_bytes(bytes(r)?);
            let s = read_series(r, &mut rings, self.streams, lag, now_step)?;
            match ids.remove(&hash) {
                Some(id) => series.push((id, s)),
                None => {
                    rings.release(s.ring);
                    found.dropped += 1;
                }
            }
        }
        if bytes::<4>(r)? != END {
            return Err("no end marker: not a whole file".into());
        }
        found.streams = series.len();
        self.series.clear();
        self.series.resize_with(self.streams, || None);
        self.rings = rings;
        for (id, s) in series {
            if let Some(slot) = self.series.get_mut(id) {
                *slot = Some(s);
            }
        }
        Ok(found)
    }
}

/// One stream's count and points, `lag` steps old, into a series at
/// `now_step` with a ring from `rings` (of an engine with `streams`).
fn read_series(
    r: &mut impl Read,
    rings: &mut Rings,
    streams: usize,
    lag: i128,
    now_step: u64,
) -> Result<Series, String> {
    let [n] = bytes::<1>(r)?;
    if usize::from(n) > POINTS {
        return Err(format!("a stream of {n} points: more than {POINTS}"));
    }
    let mut s = Series::new(now_step, rings, streams);
    for i in 0..n {
        let [good, lost, a, b] = bytes(r)?;
        let p = Point {
            good,
            lost,
            rtt: Rtt14::from_file(Rtt(u16::from_le_bytes([a, b]))),
        };
        s.place(rings, lag + i128::from(n - 1 - i), now_step, p);
    }
    Ok(s)
}

impl Series {
    /// Puts saved point `p`, `age` steps before `now_step` (the series'
    /// head), in place; outside the hour, or in the future, it is dropped.
    fn place(&mut self, rings: &mut Rings, age: i128, now_step: u64, p: Point) {
        match u64::try_from(age) {
            Ok(0) => {
                self.open = Open {
                    good: p.good.into(),
                    lost: p.lost.into(),
                    rtt_sum_us: u64::from(p.rtt.micros()) * u64::from(p.good),
                    ..Open::new(now_step)
                }
            }
            Ok(a) if a < POINTS as u64 && a <= now_step => {
                rings.set(&mut self.ring, ((now_step - a) % POINTS as u64) as usize, p);
            }
            _ => {}
        }
    }
}

fn read(r: &mut impl Read, buf: &mut [u8]) -> Result<(), String> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => "cut short: not a whole file".to_string(),
        _ => format!("cannot read it: {e}"),
    })
}

fn bytes<const N: usize>(r: &mut impl Read) -> Result<[u8; N], String> {
    let mut b = [0u8; N];
    read(r, &mut b)?;
    Ok(b)
}

fn u32_of(r: &mut impl Read) -> Result<u32, String> {
    Ok(u32::from_le_bytes(bytes(r)?))
}

#[cfg(test)]
mod tests;
