//! The saved history on hand-made checks with both clocks passed in: a
//! restart keeps the points at their age, drops those older than the hour,
//! those of streams that are gone and those ahead of a clock stepped back;
//! damaged, cut-short and other-version files are refused whole.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::*;
use crate::config::settings::{Family, Target};
use crate::daemon::core::history::aligned;
use crate::health::outcome::Outcome;
use crate::page::STEP_SECS;
use crate::probe::Protocol;
use crate::probe::schedule::{Observation, Report};

/// Wall time of run 1's start: on a step's boundary.
const WALL0: u64 = 1_800_000_000;

fn key(ip: &str) -> StreamKey {
    StreamKey {
        protocol: Protocol::Icmp,
        target: Target::Ip(ip.parse().unwrap()),
        family: Family::Any,
        source: None,
        interface: None,
        interval: Duration::from_secs(1),
        timeout: Duration::from_secs(1),
    }
}

/// A run's clocks `secs` after its start at wall time `wall0`.
fn at(t0: Instant, wall0: u64, secs: u64) -> Clocks {
    Clocks {
        mono: t0 + Duration::from_secs(secs),
        wall: SystemTime::UNIX_EPOCH + Duration::from_secs(wall0 + secs),
    }
}

fn record(h: &mut History, stream: usize, c: Clocks, rtt_us: u64) {
    let obs = Observation {
        stream,
        at: c.mono,
        report: Report::Check {
            outcome: Outcome::good(Duration::from_micros(rtt_us)),
            addr: None,
        },
    };
    h.record(&obs, &[], c);
}

/// Run 1: streams a, b; one check per step for `steps` steps, RTT = 100 +
/// step (µs) on a, 5000 + step on b. Returns the saved bytes.
fn run1(steps: u64) -> Vec<u8> {
    let (a, b) = (key("192.0.2.1"), key("192.0.2.2"));
    let t0 = Instant::now();
    let mut h = History::new(aligned(at(t0, WALL0, 0)), 2);
    for k in 0..steps {
        let c = at(t0, WALL0, k * STEP_SECS);
        record(&mut h, 0, c, 100 + k);
        record(&mut h, 1, c, 5000 + k);
    }
    let mut bytes = Vec::new();
    let end = at(t0, WALL0, (steps - 1) * STEP_SECS + 1);
    assert_eq!(h.save_to(&mut bytes, &[&a, &b], end).unwrap(), 2);
    bytes
}

/// Run 2 starting `gap` seconds after run 1's last step began, streams
/// `keys`: the history it loads, and its clocks at start.
fn run2(bytes: &[u8], gap: u64, keys: &[&StreamKey], steps: u64) -> (Result<Restored, String>, History, Clocks) {
    let t1 = Instant::now() + Duration::from_secs(10_000);
    let c = at(t1, WALL0 + (steps - 1) * STEP_SECS + gap, 0);
    let mut h = History::new(aligned(c), keys.len());
    let r = h.restore_from(&mut &bytes[..], keys, c);
    (r, h, c)
}

fn rtts(h: &History, id: usize, now: Instant) -> Vec<u32> {
    h.chart(id, now)
        .points
        .iter()
        .filter(|p| p.checks() > 0)
        .map(|p| p.rtt_us)
        .collect()
}

#[test]
fn a_restart_keeps_each_point_at_its_age_and_drops_gone_streams() {
    let bytes = run1(30);
    let (a, c) = (key("192.0.2.1"), key("192.0.2.3"));
    // 2 steps later: b is gone, c is new, a's points moved two steps back.
    let (r, h, now) = run2(&bytes, 2 * STEP_SECS, &[&c, &a], 30);
    assert_eq!(r, Ok(Restored { streams: 1, dropped: 1 }));
    assert_eq!(rtts(&h, 1, now.mono), (100..130).collect::<Vec<u32>>());
    let chart = h.chart(1, now.mono).points;
    assert_eq!(chart[POINTS - 3].rtt_us, 129, "the last saved step, two steps ago");
    assert_eq!(chart[POINTS - 1].checks(), 0, "nothing yet in the step of the start");
    assert!(rtts(&h, 0, now.mono).is_empty(), "a new stream starts empty");
}

#[test]
fn points_older_than_the_hour_are_dropped_and_new_checks_follow_the_old() {
    let bytes = run1(30);
    let a = key("192.0.2.1");
    // 170 steps later only the newest 10 points are within the hour.
    let (r, mut h, now) = run2(&bytes, 170 * STEP_SECS, &[&a], 30);
    assert_eq!(r, Ok(Restored { streams: 1, dropped: 1 }));
    assert_eq!(rtts(&h, 0, now.mono), (120..130).collect::<Vec<u32>>());
    record(&mut h, 0, now, 777);
    let later = Clocks {
        mono: now.mono + Duration::from_secs(STEP_SECS),
        ..now
    };
    let mut all = (121..130).collect::<Vec<u32>>();
    all.push(777);
    assert_eq!(rtts(&h, 0, later.mono), all);
    // A restart after more than an hour keeps nothing.
    let (_, h, now) = run2(&bytes, 3600 + STEP_SECS, &[&a], 30);
    assert!(rtts(&h, 0, now.mono).is_empty());
}

#[test]
fn a_clock_stepped_back_drops_the_points_ahead_of_it() {
    let bytes = run1(30);
    let a = key("192.0.2.1");
    // The clock is 10 steps behind the save: the newest 10 points would be
    // in the future.
    let t1 = Instant::now();
    let c = at(t1, WALL0 + 19 * STEP_SECS, 0);
    let mut h = History::new(aligned(c), 1);
    assert!(h.restore_from(&mut &bytes[..], &[&a], c).is_ok());
    assert_eq!(rtts(&h, 0, c.mono), (100..120).collect::<Vec<u32>>());
    // A clock before 1970 or far behind: no panic, nothing kept.
    let c = Clocks {
        mono: t1,
        wall: SystemTime::UNIX_EPOCH,
    };
    let mut h = History::new(aligned(c), 1);
    assert!(h.restore_from(&mut &bytes[..], &[&a], c).is_ok());
    assert!(rtts(&h, 0, c.mono).is_empty());
}

#[test]
fn damaged_cut_short_and_other_version_files_are_refused_whole() {
    let bytes = run1(30);
    let a = key("192.0.2.1");
    let refused = |b: &[u8]| {
        let (r, h, now) = run2(b, STEP_SECS, &[&a], 30);
        assert!(rtts(&h, 0, now.mono).is_empty(), "nothing kept from a refused file");
        r.unwrap_err()
    };
    for cut in [0, 7, 20, 31, bytes.len() / 2, bytes.len() - 1] {
        let why = refused(&bytes[..cut]);
        assert!(why.contains("cut short") || why.contains("no end"), "{cut}: {why}");
    }
    let mut other = bytes.clone();
    other[7] = 2;
    assert!(refused(&other).contains("unknown version 2"));
    assert!(refused(b"{\"version\":1}\n...........................").contains("not a failoverd page history"));
    let mut huge = bytes.clone();
    huge[24..28].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(refused(&huge).contains("streams: more than"));
    let mut steps = bytes.clone();
    steps[16..20].copy_from_slice(&10u32.to_le_bytes());
    assert!(refused(&steps).contains("points of 10 s"));
    let mut points = bytes.clone();
    points[28 + 8] = 200;
    assert!(refused(&points).contains("200 points"));
}

#[test]
fn keys_hash_the_same_every_time_and_differ_by_any_part() {
    let a = key("192.0.2.1");
    assert_eq!(key_hash(&a), key_hash(&a.clone()));
    // Fixed: a saved file names streams across versions and machines.
    let mut b = a.clone();
    b.interval = Duration::from_secs(2);
    let mut c = a.clone();
    c.interface = Some("eth1".into());
    let hashes = [key_hash(&a), key_hash(&b), key_hash(&c), key_hash(&key("192.0.2.2"))];
    // FNV-1a of "PING|192.0.2.1|Any|None|None|1000|1000": fixed forever.
    assert_eq!(hashes[0], fnv(b"PING|192.0.2.1|Any|None|None|1000|1000"));
    for (i, x) in hashes.iter().enumerate() {
        assert!(hashes[i + 1..].iter().all(|y| y != x));
    }
}

fn fnv(text: &[u8]) -> u64 {
    text.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A file as this format's first writer (4-byte points, the 16-bit RTT
/// coding) writes it: stream `a` with `points` (good, lost, RTT code),
/// the last one the step of the save at wall time `saved_at`.
fn file_of(a: &StreamKey, saved_at: u64, points: &[(u8, u8, u16)]) -> Vec<u8> {
    let mut b = MAGIC.to_vec();
    b.extend(saved_at.to_le_bytes());
    b.extend(20u32.to_le_bytes());
    b.extend(180u32.to_le_bytes());
    b.extend(1u32.to_le_bytes());
    b.extend(key_hash(a).to_le_bytes());
    b.push(points.len() as u8);
    for &(good, lost, rtt) in points {
        b.extend([good, lost]);
        b.extend(rtt.to_le_bytes());
    }
    b.extend(*b"END\n");
    b
}

/// The file's RTT coding, read as the format says (state-file.md).
fn file_micros(code: u16) -> u64 {
    match code {
        0..32_768 => code.into(),
        v => u64::from(v - 32_768) * 1000,
    }
}

/// Within the page's coding error (1/2,048) of `us`.
fn near(back: u64, us: u64) -> bool {
    back.abs_diff(us) * 2048 <= us
}

#[test]
fn a_file_of_4_byte_points_loads_with_the_same_page_and_saves_back_the_same() {
    let a = key("192.0.2.1");
    // (good, lost, RTT code): more than 31 checks (an interval of 100 ms),
    // a gap, losses only, µs and ms codes up to the largest.
    let points = [
        (200, 3, 850),
        (21, 1, 1_999),
        (0, 0, 0),
        (31, 31, 12_345),
        (0, 5, 0),
        (18, 2, 32_768 + 40),
        (19, 1, 32_768 + 1_234),
        (20, 0, u16::MAX),
    ];
    let saved_at = WALL0 + 7 * STEP_SECS + 3;
    let bytes = file_of(&a, saved_at, &points);
    let c = at(Instant::now(), saved_at, 0);
    let mut h = History::new(aligned(c), 1);
    assert_eq!(
        h.restore_from(&mut &bytes[..], &[&a], c),
        Ok(Restored { streams: 1, dropped: 0 })
    );
    let chart = h.chart(0, c.mono).points;
    let shown = &chart[POINTS - points.len()..];
    for (p, &(good, lost, rtt)) in shown.iter().zip(&points) {
        assert_eq!(
            (p.good, p.lost),
            (good.into(), lost.into()),
            "counts are exact, above 31 too"
        );
        if good > 0 {
            assert!(near(p.rtt_us.into(), file_micros(rtt)), "{rtt}: {}", p.rtt_us);
        }
    }
    assert_eq!(shown[0].rtt_us, 850, "exact below 2,048 µs");
    assert_eq!(shown[5].rtt_us, 40_000, "whole ms where the coding's step divides them");
    assert_eq!(shown[7].rtt_us, 32_767_000, "the largest is kept");
    // Saved again: the same file but for the RTTs this coding rounds.
    let mut again = Vec::new();
    h.save_to(&mut again, &[&a], c).unwrap();
    let mut expected = points;
    expected[3].2 = 12_344;
    assert_eq!(again, file_of(&a, saved_at, &expected));
}

#[test]
fn a_saved_file_reads_as_the_format_says_within_the_codings_error() {
    let a = key("192.0.2.1");
    let t0 = Instant::now();
    let mut h = History::new(aligned(at(t0, WALL0, 0)), 1);
    // Step 0: 40 checks of 250 µs and 3 of 3,001,000 µs (mean 209,572 µs),
    // more than a 3-byte point counts; step 1: one of 12,345 µs; step 2
    // (the save's): one of 999 µs.
    for i in 0..43 {
        let c = at(t0, WALL0, 0);
        let us = if i < 40 { 250 } else { 3_001_000 };
        record(
            &mut h,
            0,
            Clocks {
                mono: c.mono + Duration::from_millis(i * 100),
                ..c
            },
            us,
        );
    }
    record(&mut h, 0, at(t0, WALL0, STEP_SECS), 12_345);
    record(&mut h, 0, at(t0, WALL0, 2 * STEP_SECS), 999);
    let mut bytes = Vec::new();
    h.save_to(&mut bytes, &[&a], at(t0, WALL0, 2 * STEP_SECS + 1)).unwrap();
    let record_at = 28 + 8;
    assert_eq!(bytes[record_at], 3, "three points");
    let point = |i: usize| {
        let p = &bytes[record_at + 1 + 4 * i..record_at + 5 + 4 * i];
        (p[0], p[1], file_micros(u16::from_le_bytes([p[2], p[3]])))
    };
    let (good, lost, rtt) = point(0);
    assert_eq!((good, lost), (43, 0));
    let mean = (40 * 250 + 3 * 3_001_000) / 43;
    assert!(rtt.abs_diff(mean) <= 500 + mean / 2048, "{rtt} for {mean}");
    let (good, lost, rtt) = point(1);
    assert_eq!((good, lost), (1, 0));
    assert!(near(rtt, 12_345), "{rtt}");
    assert_eq!(point(2), (1, 0, 999));
}
