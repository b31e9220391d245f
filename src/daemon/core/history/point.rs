//! A closed step of a stream's chart and how a ring ([`super::rings`])
//! holds it: 3 bytes a point (5-bit counts, a 14-bit RTT), 540 bytes a
//! stream, and 4 bytes a point only for a stream that had 32 good or 32
//! failed checks in a step.
//!
//! Counts: `[probe] interval` may be as short as 10 ms
//! (`config::settings_read::timing` reads it with a 10 ms minimum, not the
//! 1 s of `[snmp]`), so a step of 20 s may hold up to about 2,000 checks.
//! At the usual intervals (1 s or more: at most 21 checks a step, 22 when
//! a check's end falls on the step's edge; the scheduler never bursts,
//! src/probe/schedule.rs) 5 bits are exact; a stream with a step of 32
//! good or 32 failed checks (an interval below about 650 ms) gets a ring
//! of 4-byte points (a wide ring), so that every count up to 255 stays
//! exact, as before this coding. Counts saturate at 255.

/// A mean RTT in 14 bits, as a small float: the code of a value below
/// 2,048 µs is the value itself (exact); above, the code is `1024 * s + m`
/// for the value `m << s`, `m` in 1,024..2,048 (10 significant bits after
/// the leading one), rounded to the nearest: a relative error of at most
/// 1/2,048 (0.05 %). Saturates at 32.767 s, the largest RTT of the file's
/// coding ([`Rtt`]), so that the two codings cover the same range: the
/// largest code, 16,336, reads back as exactly 32.767 s.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rtt14(u16);

/// The largest RTT either coding holds, in µs.
const RTT_MAX_US: u64 = 32_767_000;

impl Rtt14 {
    pub fn new(us: u64) -> Rtt14 {
        let us = us.min(RTT_MAX_US);
        if us < 2048 {
            return Rtt14(us as u16);
        }
        let shift = us.ilog2() - 10;
        // Rounding up to 2,048 << shift is the next binade's first code.
        let m = (us + (1 << (shift - 1))) >> shift;
        Rtt14((u64::from(shift) * 1024 + m) as u16)
    }

    pub fn micros(self) -> u32 {
        let c = u32::from(self.0);
        if c < 2048 {
            return c;
        }
        let shift = c / 1024 - 1;
        ((c - shift * 1024) << shift).min(RTT_MAX_US as u32)
    }

    /// From the file's coding (the nearest value of this one).
    pub fn from_file(r: Rtt) -> Rtt14 {
        Rtt14::new(u64::from(r.micros()))
    }

    /// Into the file's coding: exact below 32,768 µs, the nearest whole
    /// ms above (so that a file's point read and saved again keeps its ms
    /// wherever this coding's step is below 1 ms, up to about 1 s).
    pub fn to_file(self) -> Rtt {
        let us = u64::from(self.micros());
        if us < 32_768 {
            Rtt::new(us)
        } else {
            Rtt::new((us + 500) / 1000 * 1000)
        }
    }
}

/// The page history file's RTT coding (saved.rs), 16 bits: exact in µs
/// below 32,768 µs, in whole ms above (up to 32.767 s, more than any
/// timeout).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rtt(pub u16);

impl Rtt {
    pub fn new(us: u64) -> Rtt {
        if us < 32_768 {
            Rtt(us as u16)
        } else {
            Rtt(32_768 + (us / 1000).min(32_767) as u16)
        }
    }

    pub fn micros(self) -> u32 {
        match self.0 {
            v @ 0..32_768 => u32::from(v),
            v => u32::from(v - 32_768) * 1000,
        }
    }
}

/// One closed step: its good and failed checks (saturated at 255) and the
/// mean RTT of the good ones. The element of a wide ring.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Point {
    pub good: u8,
    pub lost: u8,
    pub rtt: Rtt14,
}

/// The largest count a 3-byte point holds.
const NARROW_MAX: u8 = 31;

/// A point in 3 bytes, little-endian bits: `good` 0..5, `lost` 5..10, RTT
/// 10..24. Only for counts up to [`NARROW_MAX`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Packed([u8; 3]);

impl Packed {
    pub fn new(p: Point) -> Option<Packed> {
        if p.good > NARROW_MAX || p.lost > NARROW_MAX {
            return None;
        }
        let v = u32::from(p.good) | u32::from(p.lost) << 5 | u32::from(p.rtt.0) << 10;
        let [a, b, c, _] = v.to_le_bytes();
        Some(Packed([a, b, c]))
    }

    pub fn point(self) -> Point {
        let [a, b, c] = self.0;
        let v = u32::from_le_bytes([a, b, c, 0]);
        Point {
            good: (v & 31) as u8,
            lost: (v >> 5 & 31) as u8,
            rtt: Rtt14((v >> 10) as u16),
        }
    }
}

#[cfg(test)]
mod tests;
