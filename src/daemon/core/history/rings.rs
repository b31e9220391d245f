//! Every stream's ring of closed steps in one table: the narrow rings
//! (3-byte points, [`super::point`]) side by side in one allocation, so that a
//! stream's 540 bytes carry no allocation header and rounding of their own
//! (a 560-byte chunk each from glibc), and a stream names its ring by a
//! 4-byte [`RingId`] instead of a pointer. A ring no stream holds (a
//! reload dropped its stream, or it widened) is reused first.

use std::num::NonZeroU32;

use super::point::{Packed, Point};
use crate::page::POINTS;

/// A ring's place: `1 + index` of a narrow ring, or of a wide one with
/// [`WIDE`] set. Never 0, so that an `Option<Series>` needs no tag.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RingId(NonZeroU32);

const WIDE: u32 = 1 << 31;

impl RingId {
    fn new(index: usize, wide: bool) -> RingId {
        let n = u32::try_from(index + 1)
            .ok()
            .filter(|n| n & WIDE == 0)
            .expect("fewer than 2^31 rings");
        RingId(NonZeroU32::new(if wide { n | WIDE } else { n }).expect("index + 1 > 0"))
    }

    /// (index, wide).
    fn place(self) -> (usize, bool) {
        let n = self.0.get();
        (((n & !WIDE) - 1) as usize, n & WIDE != 0)
    }
}

/// Closed steps, step `k` of a stream at `k % POINTS` of its ring.
#[derive(Debug, Default)]
pub struct Rings {
    /// Rings whose every step so far had at most 31 good and 31 failed checks.
    narrow: Vec<[Packed; POINTS]>,
    /// Rings of a stream that had more in a step: 4-byte points from then
    /// on (for the stream's life).
    wide: Vec<[Point; POINTS]>,
    /// Rings no stream holds.
    free: Vec<RingId>,
    /// How many of `free` are narrow.
    free_narrow: usize,
}

impl Rings {
    /// An empty ring (every point a gap) for a new stream; `streams`: how
    /// many the engine has, so that the table is sized once for all.
    pub fn take(&mut self, streams: usize) -> RingId {
        if let Some(id) = self.free.pop() {
            self.free_narrow -= usize::from(!id.place().1);
            for i in 0..POINTS {
                self.set_in(id, i, Point::default());
            }
            return id;
        }
        let held = self.narrow.len() + self.wide.len() - self.free.len();
        if self.narrow.len() == self.narrow.capacity() {
            self.narrow.reserve_exact(streams.saturating_sub(held).max(1));
        }
        self.narrow.push([Packed::default(); POINTS]);
        RingId::new(self.narrow.len() - 1, false)
    }

    /// Ring `id` is no longer held.
    pub fn release(&mut self, id: RingId) {
        self.free_narrow += usize::from(!id.place().1);
        self.free.push(id);
    }

    /// After a reload or a widening: when more than half the rings are
    /// free (the engine shrank, or most streams widened), moves the held
    /// ones, `ids`, into tables of exactly their number and renames them,
    /// so that a smaller engine keeps a smaller table. Otherwise nothing
    /// (one comparison).
    pub fn shrink<'a>(&mut self, ids: impl Iterator<Item = &'a mut RingId>) {
        let free_wide = self.free.len() - self.free_narrow;
        if self.free_narrow * 2 <= self.narrow.len() && free_wide * 2 <= self.wide.len() {
            return;
        }
        let ids: Vec<&mut RingId> = ids.collect();
        let wide = ids.iter().filter(|id| id.place().1).count();
        let mut kept = Rings {
            narrow: Vec::with_capacity(ids.len() - wide),
            wide: Vec::with_capacity(wide),
            free: Vec::new(),
            free_narrow: 0,
        };
        for id in ids {
            *id = match id.place() {
                (r, false) => {
                    kept.narrow.push(self.narrow[r]);
                    RingId::new(kept.narrow.len() - 1, false)
                }
                (r, true) => {
                    kept.wide.push(self.wide[r]);
                    RingId::new(kept.wide.len() - 1, true)
                }
            };
        }
        *self = kept;
    }

    /// Narrow and wide rings held or free, and free ones.
    #[cfg(test)]
    pub fn sizes(&self) -> (usize, usize, usize) {
        (self.narrow.len(), self.wide.len(), self.free.len())
    }

    pub fn get(&self, id: RingId, i: usize) -> Point {
        match id.place() {
            (r, false) => self.narrow[r][i].point(),
            (r, true) => self.wide[r][i],
        }
    }

    /// Sets point `i` of ring `*id`; a point a narrow ring cannot hold
    /// moves the ring to a wide one (`*id` changes).
    pub fn set(&mut self, id: &mut RingId, i: usize, p: Point) {
        if !self.set_in(*id, i, p) {
            let (r, _) = id.place();
            let mut wide: [Point; POINTS] = std::array::from_fn(|j| self.narrow[r][j].point());
            wide[i] = p;
            self.wide.push(wide);
            self.release(*id);
            *id = RingId::new(self.wide.len() - 1, true);
        }
    }

    /// False when ring `id` is narrow and `p` does not fit.
    fn set_in(&mut self, id: RingId, i: usize, p: Point) -> bool {
        match id.place() {
            (r, false) => match Packed::new(p) {
                Some(packed) => self.narrow[r][i] = packed,
                None => return false,
            },
            (r, true) => self.wide[r][i] = p,
        }
        true
    }
}

#[cfg(test)]
mod tests;
