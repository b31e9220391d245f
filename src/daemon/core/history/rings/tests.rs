//! The one table of rings: sized once, a point too large for 3 bytes
//! widens its ring without losing any, and released rings are reused.

use super::*;
use crate::daemon::core::history::point::Rtt14;

fn p(good: u8, lost: u8, us: u64) -> Point {
    Point {
        good,
        lost,
        rtt: Rtt14::new(us),
    }
}

#[test]
fn the_table_is_sized_once_for_every_stream() {
    let mut rings = Rings::default();
    let ids: Vec<RingId> = (0..100).map(|_| rings.take(100)).collect();
    assert_eq!(rings.narrow.capacity(), 100, "one allocation");
    assert_eq!(ids[99].place(), (99, false));
    // A reload to 110 streams: 10 more, once.
    rings.take(110);
    assert_eq!(rings.narrow.capacity(), 110);
    assert_eq!(std::mem::size_of::<Option<RingId>>(), 4);
}

#[test]
fn a_ring_widens_for_a_32nd_check_and_keeps_its_points() {
    let mut rings = Rings::default();
    let (mut a, mut b) = (rings.take(2), rings.take(2));
    let samples = [
        p(31, 31, 32_767_000),
        p(0, 0, 0),
        p(21, 1, 12_345),
        p(1, 30, 999),
        p(0, 31, 0),
    ];
    for (i, &s) in samples.iter().enumerate() {
        rings.set(&mut a, i, s);
    }
    rings.set(&mut b, 0, p(20, 0, 5));
    assert_eq!(a.place(), (0, false));
    rings.set(&mut a, 7, p(32, 255, 5_000));
    assert_eq!(a.place(), (0, true), "now a wide ring");
    assert_eq!(rings.get(a, 7), p(32, 255, 5_000));
    for (i, &s) in samples.iter().enumerate() {
        assert_eq!(rings.get(a, i), s);
    }
    assert_eq!(rings.get(a, 100), Point::default());
    assert_eq!(rings.get(b, 0), p(20, 0, 5), "the other ring is untouched");
    // The narrow ring it left is the next stream's, empty.
    let c = rings.take(2);
    assert_eq!(c.place(), (0, false));
    assert!((0..POINTS).all(|i| rings.get(c, i) == Point::default()));
}

#[test]
fn a_released_ring_is_reused_empty() {
    let mut rings = Rings::default();
    let mut a = rings.take(1);
    rings.set(&mut a, 3, p(2, 1, 700));
    rings.set(&mut a, 4, p(40, 0, 700));
    rings.release(a);
    // Both the wide ring and the narrow one it left are free; whichever
    // comes back holds nothing.
    for _ in 0..2 {
        let b = rings.take(1);
        assert!((0..POINTS).all(|i| rings.get(b, i) == Point::default()));
    }
    assert_eq!((rings.narrow.len(), rings.wide.len()), (1, 1), "nothing new allocated");
}

#[test]
fn a_table_more_than_half_free_shrinks_to_the_held_rings() {
    let mut rings = Rings::default();
    let mut ids: Vec<RingId> = (0..10).map(|_| rings.take(10)).collect();
    for (i, id) in ids.iter_mut().enumerate() {
        rings.set(id, 0, p(i as u8, 0, 100 + i as u64));
    }
    rings.set(&mut ids[9], 1, p(40, 0, 5));
    // Half the narrow rings free (5 of 10, one the narrow ring 9 left): kept.
    for id in ids.drain(..4) {
        rings.release(id);
    }
    rings.shrink(ids.iter_mut());
    assert_eq!(rings.narrow.len(), 10);
    // More than half: the 5 held rings move into tables of exactly their
    // number, renamed, their points kept.
    rings.release(ids.remove(0));
    rings.shrink(ids.iter_mut());
    assert_eq!(
        (rings.narrow.len(), rings.narrow.capacity(), rings.wide.len()),
        (4, 4, 1)
    );
    assert!(rings.free.is_empty());
    let firsts: Vec<Point> = ids.iter().map(|&id| rings.get(id, 0)).collect();
    assert_eq!(firsts, (5..10).map(|i| p(i, 0, 100 + u64::from(i))).collect::<Vec<_>>());
    assert_eq!(rings.get(ids[4], 1), p(40, 0, 5));
    assert_eq!(ids[4].place(), (0, true));
}
