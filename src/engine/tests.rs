//! The engine's own parts, alone.

use super::*;

/// A counter at its 32-bit bound stays there: /metrics would read a
/// wrap as a reset.
#[test]
fn counts_saturate_at_their_bound() {
    let mut c = Counts {
        good: u32::MAX,
        failed: u32::MAX - 1,
        error: u32::MAX,
        rtt_buckets: [u32::MAX; 10],
        rtt_sum: 0.0,
    };
    c.add(&Outcome::good(Duration::from_millis(3)));
    c.add(&Outcome::failed("x"));
    c.add(&Outcome::failed("x"));
    c.add(&Outcome::error("e"));
    assert_eq!((c.good, c.failed, c.error), (u32::MAX, u32::MAX, u32::MAX));
    assert_eq!(c.rtt_buckets, [u32::MAX; 10]);
    assert!((c.rtt_sum - 0.003).abs() < 1e-9);
    let mut fresh = Counts::default();
    fresh.add(&Outcome::good(Duration::from_millis(3)));
    assert_eq!(fresh.rtt_buckets, [0, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
}
