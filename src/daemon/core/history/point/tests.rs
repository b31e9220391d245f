//! The two RTT codings (the ring's 14 bits, the file's 16) and the ring's
//! 3-byte points, exhaustively where the codes are few.

use super::*;
use crate::page::POINTS;

#[test]
fn rtt14_is_exact_below_2048_us_and_within_1_in_2048_above() {
    for us in 0..2048 {
        assert_eq!(Rtt14::new(us).micros(), us as u32);
    }
    let mut us = 2048u64;
    while us <= RTT_MAX_US {
        let back = u64::from(Rtt14::new(us).micros());
        assert!(back.abs_diff(us) * 2048 <= us, "{us} came back as {back}");
        us = us * 1001 / 1000 + 1;
    }
    // Every value up to 1 s round-trips within the bound (not only the sample).
    for us in 2048..1_000_000u64 {
        let back = u64::from(Rtt14::new(us).micros());
        assert!(back.abs_diff(us) * 2048 <= us, "{us} came back as {back}");
    }
}

#[test]
fn rtt14_saturates_at_the_file_codings_largest_rtt() {
    assert_eq!(Rtt14::new(32_767_000).micros(), 32_767_000);
    assert_eq!(Rtt14::new(40_000_000).micros(), 32_767_000);
    assert_eq!(Rtt14::new(u64::MAX), Rtt14::new(RTT_MAX_US));
    assert!(Rtt14::new(u64::MAX).0 < 1 << 14, "14 bits");
    assert_eq!(Rtt(u16::MAX).micros(), 32_767_000);
}

#[test]
fn rtt14_codes_are_monotonic_and_each_reads_back_as_itself() {
    let mut last = 0;
    for c in 0..=Rtt14::new(u64::MAX).0 {
        let us = Rtt14(c).micros();
        assert!(c == 0 || us > last, "code {c}: {us} after {last}");
        assert_eq!(Rtt14::new(u64::from(us)), Rtt14(c), "code {c}");
        last = us;
    }
    let mut last = Rtt14(0);
    for us in (0..RTT_MAX_US + 10_000).step_by(97) {
        let c = Rtt14::new(us);
        assert!(c.0 >= last.0, "{us}");
        last = c;
    }
}

#[test]
fn every_file_code_maps_into_range_and_back_within_the_error() {
    for code in 0..=u16::MAX {
        let file = Rtt(code);
        let us = u64::from(file.micros());
        let ours = Rtt14::from_file(file);
        let back = u64::from(ours.micros());
        assert!(back.abs_diff(us) * 2048 <= us, "file code {code}: {us} µs as {back}");
        // And saved again: exact below 2,048 µs; whole ms to about 1 s;
        // within this coding's step above.
        let again = u64::from(ours.to_file().micros());
        if us < 2048 || (32_768..1_000_000).contains(&us) {
            assert_eq!(again, us, "file code {code}");
        }
        assert!(
            again.abs_diff(us) * 2048 <= us + 2048 * 500,
            "file code {code}: {us} µs saved as {again}"
        );
    }
}

#[test]
fn the_file_coding_is_unchanged() {
    for (us, back) in [
        (0, 0),
        (850, 850),
        (32_767, 32_767),
        (32_768, 32_000),
        (1_234_567, 1_234_000),
    ] {
        assert_eq!(Rtt::new(us).micros(), back, "{us}");
    }
    assert_eq!(Rtt::new(u64::MAX).micros(), 32_767_000);
}

#[test]
fn points_pack_in_3_bytes_up_to_31_checks_each() {
    assert_eq!(std::mem::size_of::<Packed>(), 3);
    assert_eq!(std::mem::size_of::<[Packed; POINTS]>(), 540);
    let p = |good, lost, us| Point {
        good,
        lost,
        rtt: Rtt14::new(us),
    };
    for s in [
        p(31, 31, 32_767_000),
        p(0, 0, 0),
        p(21, 1, 12_345),
        p(1, 30, 999),
        p(0, 31, 0),
    ] {
        assert_eq!(Packed::new(s).map(Packed::point), Some(s));
    }
    assert!(Packed::new(p(32, 0, 0)).is_none());
    assert!(Packed::new(p(0, 32, 0)).is_none());
}
