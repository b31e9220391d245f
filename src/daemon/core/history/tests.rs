//! The history on hand-made observations with time passed in: steps,
//! gaps, the hour's bound, the events' bounds, and a reload's carry-over.

use std::time::{Duration, SystemTime};

use super::*;
use crate::health::group::EventKind;
use crate::probe::schedule::{Observation, Report};

fn clocks(t0: Instant, secs: f64) -> Clocks {
    Clocks {
        mono: t0 + Duration::from_secs_f64(secs),
        wall: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000) + Duration::from_secs_f64(secs),
    }
}

fn check(stream: usize, at: Instant, outcome: Outcome) -> Observation {
    Observation {
        stream,
        at,
        report: Report::Check { outcome, addr: None },
    }
}

fn good(ms: u64) -> Outcome {
    Outcome::good(Duration::from_millis(ms))
}

#[test]
fn points_are_steps_with_gaps() {
    let t0 = Instant::now();
    let mut h = History::new(t0, 4);
    // Step 0: two good (1 ms, 3 ms), one failed, one local error.
    for (s, o) in [
        (0.0, good(1)),
        (1.0, good(3)),
        (2.0, Outcome::failed("x")),
        (3.0, Outcome::error("e")),
    ] {
        h.record(&check(0, clocks(t0, s).mono, o), &[], clocks(t0, s));
    }
    // Nothing in steps 1 and 2; step 3 one good check of 40 ms.
    let step = STEP_SECS as f64;
    let at = 3.5 * step;
    h.record(&check(0, clocks(t0, at).mono, good(40)), &[], clocks(t0, at));
    let c = h.chart(0, clocks(t0, 3.9 * step).mono);
    assert_eq!(c.points.len(), POINTS);
    let tail = &c.points[POINTS - 4..];
    assert_eq!(
        tail[0],
        page::Point {
            good: 2,
            lost: 1,
            rtt_us: 2000
        }
    );
    assert_eq!(tail[1], page::Point::default());
    assert_eq!(tail[2], page::Point::default());
    assert_eq!(
        tail[3],
        page::Point {
            good: 1,
            lost: 0,
            rtt_us: 40_000
        }
    );
    assert!(c.points[..POINTS - 4].iter().all(|p| p.checks() == 0));
    // A page drawn six steps later shows the same points, six steps back.
    let c = h.chart(0, clocks(t0, 9.9 * step).mono);
    assert_eq!(
        c.points[POINTS - 7],
        page::Point {
            good: 1,
            lost: 0,
            rtt_us: 40_000
        }
    );
    // An unknown stream draws an empty hour, and its reports are not kept.
    assert!(h.chart(7, t0).points.iter().all(|p| p.checks() == 0));
    h.record(&check(usize::MAX, t0, good(1)), &[], clocks(t0, 0.0));
    h.record(&check(4, t0, good(1)), &[], clocks(t0, 0.0));
    assert_eq!(h.series.len(), 1);
}

#[test]
fn an_hour_is_kept_and_no_more() {
    let t0 = Instant::now();
    let mut h = History::new(t0, 4);
    // One check a step for two hours, RTT = the step number in µs.
    let (step, points) = (STEP_SECS as f64, POINTS as u64);
    for k in 0..2 * points {
        let c = clocks(t0, k as f64 * step);
        h.record(&check(0, c.mono, Outcome::good(Duration::from_micros(k))), &[], c);
    }
    let c = h.chart(0, clocks(t0, 7200.0 - step / 2.0).mono);
    let rtts: Vec<u32> = c.points.iter().map(|p| p.rtt_us).collect();
    assert_eq!(rtts, (POINTS as u32..2 * POINTS as u32).collect::<Vec<u32>>());
    // After a silence of more than an hour, nothing old shows.
    let later = clocks(t0, 7200.0 + 4000.0);
    h.record(&check(0, later.mono, good(2)), &[], later);
    let c = h.chart(0, later.mono);
    assert_eq!(c.points.iter().filter(|p| p.checks() > 0).count(), 1);
}

fn event(group: &str, kind: EventKind, at: Instant) -> Output {
    Output::Event(GroupEvent {
        group: group.into(),
        kind,
        member: None,
        from: None,
        to: None,
        reason: String::new(),
        while_stopped: false,
        expected_active: None,
        text: format!("{group} {kind:?}"),
        at,
    })
}

#[test]
fn events_are_bounded_by_count_and_by_age() {
    let t0 = Instant::now();
    let mut h = History::new(t0, 4);
    let gap = Observation {
        stream: 0,
        at: t0,
        report: Report::Gap {
            late_by: Duration::ZERO,
        },
    };
    for i in 0..1500u64 {
        let c = clocks(t0, i as f64);
        h.record(&gap, &[event(&format!("g{i}"), EventKind::MemberDown, c.mono)], c);
    }
    let ev = h.events(clocks(t0, 1500.0).wall);
    assert_eq!(ev.len(), EVENTS);
    assert_eq!(ev[0].group, "g500", "the oldest were dropped");
    assert_eq!(ev[999].group, "g1499");
    assert!(ev[0].bad && ev[0].kind == "member down");
    assert_eq!(ev[0].at, 1_800_000_500);
    // A day later only the newest are younger than 24 h.
    let next_day = clocks(t0, 1000.0 + 86_400.0);
    let ev = h.events(next_day.wall);
    assert_eq!(ev.first().map(|e| e.group.as_str()), Some("g1000"));
    // Recording drops them for good.
    let c = clocks(t0, 1500.0 + 86_400.0);
    h.record(&gap, &[event("new", EventKind::GroupUp, c.mono)], c);
    assert_eq!(h.events.len(), 1, "only the new event is left");
    assert!(!h.events[0].bad);
}

#[test]
fn the_points_are_due_for_saving_every_five_minutes() {
    let t0 = Instant::now();
    let mut h = History::new(t0, 1);
    let at = |s: u64| t0 + Duration::from_secs(s);
    // (second, due?)
    for (s, due) in [
        (0, false),
        (299, false),
        (300, true),
        (301, false),
        (599, false),
        (600, true),
    ] {
        assert_eq!(h.save_due(at(s)), due, "at {s} s");
    }
}

#[test]
fn seeded_events_come_before_live_ones_within_the_same_bounds() {
    let t0 = Instant::now();
    let mut h = History::new(t0, 1);
    let c = clocks(t0, 0.0);
    h.record(&check(0, t0, good(1)), &[event("live", EventKind::GroupUp, t0)], c);
    let old = |group: &str, ago: u64| page::Event {
        at: 1_800_000_000 - ago,
        group: group.into(),
        kind: "group down".into(),
        bad: true,
        text: String::new(),
    };
    h.seed_events([old("too old", 90_000), old("kept", 3_600)], c.wall);
    let groups: Vec<String> = h.events(c.wall).into_iter().map(|e| e.group).collect();
    assert_eq!(groups, ["kept", "live"]);
}

#[test]
fn a_stream_costs_24_bytes_and_its_ring_540_in_one_table() {
    // 5,000 streams: 120 kB of table, 2.7 MB of rings (3-byte points) in
    // one allocation.
    assert_eq!(std::mem::size_of::<Option<Series>>(), 24);
    let t0 = Instant::now();
    let mut h = History::new(t0, 3);
    for stream in [2, 0] {
        h.record(&check(stream, t0, good(1)), &[], clocks(t0, 0.0));
    }
    assert_eq!(h.series.capacity(), 3);
    let ids: Vec<_> = h.series.iter().map(|s| s.as_ref().map(|s| s.ring)).collect();
    assert!(matches!(ids[..], [Some(_), None, Some(_)]));
}

/// An engine of group G with members A and B probing `a` and `b`.
fn engine(a: &str, b: &str) -> Engine {
    let dir = tempfile::tempdir().unwrap();
    let settings = format!(
        "groups = [\"g.xml\"]\nstate_dir = \"state\"\n[firewall]\nurl = \"https://127.0.0.1:9\"\nusername = \"t\"\ndry_run = true\n\
         [connections.A]\ntargets = [{a}]\n[connections.B]\ntargets = [{b}]\n"
    );
    std::fs::write(dir.path().join("failoverd.toml"), settings).unwrap();
    std::fs::write(
        dir.path().join("g.xml"),
        "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection>\
         <Connection>B</Connection></MemberConnections><FailoverCondition><FailoverIF><Protocol>PING</Protocol>\
         </FailoverIF></FailoverCondition></GroupDetail></VPNFailoverGroup>",
    )
    .unwrap();
    let loaded = crate::config::load(&dir.path().join("failoverd.toml")).unwrap();
    Engine::new(&loaded.plan.expect("valid"), &std::collections::BTreeMap::new())
}

fn id_of(e: &Engine, ip: &str) -> usize {
    e.streams().iter().position(|k| k.target.to_string() == ip).unwrap()
}

#[test]
fn a_reload_that_drops_most_streams_keeps_the_rest_in_a_smaller_table() {
    let old = engine(
        "\"192.0.2.1\", \"192.0.2.2\", \"192.0.2.3\"",
        "\"192.0.2.4\", \"192.0.2.5\"",
    );
    let t0 = Instant::now();
    let mut h = History::new(t0, old.streams().len());
    // Step 0: stream of 192.0.2.N one check of N ms; step 1 opens them.
    for n in 1..=5 {
        let id = id_of(&old, &format!("192.0.2.{n}"));
        for s in [0.0, STEP_SECS as f64] {
            h.record(&check(id, clocks(t0, s).mono, good(n)), &[], clocks(t0, s));
        }
    }
    let new = engine("\"192.0.2.4\"", "\"192.0.2.6\"");
    h.carry(&old, &new);
    assert_eq!(h.rings.sizes().0, 1, "4 of 5 rings were free: the table shrank");
    let now = clocks(t0, 1.5 * STEP_SECS as f64).mono;
    let kept = h.chart(id_of(&new, "192.0.2.4"), now).points;
    assert_eq!(kept[POINTS - 2].rtt_us, 4000, "the kept stream's closed step");
    assert_eq!(kept[POINTS - 1].checks(), 1, "and its open one");
    let fresh = id_of(&new, "192.0.2.6");
    assert!(h.chart(fresh, now).points.iter().all(|p| p.checks() == 0));
    let c = clocks(t0, 2.0 * STEP_SECS as f64);
    h.record(&check(fresh, c.mono, good(6)), &[], c);
    h.record(&check(fresh, clocks(t0, 3.0 * STEP_SECS as f64).mono, good(6)), &[], c);
    let later = clocks(t0, 3.5 * STEP_SECS as f64).mono;
    assert_eq!(h.chart(fresh, later).points[POINTS - 2].rtt_us, 6000);
    assert_eq!(h.chart(id_of(&new, "192.0.2.4"), later).points[POINTS - 3].rtt_us, 4000);
}

/// Streams checked every 200 ms (100 checks a step) all widen their rings:
/// the narrow rings they leave are given back, not kept beside the wide
/// ones, and every point stays exact.
#[test]
fn streams_that_all_widen_keep_only_their_wide_rings() {
    let t0 = Instant::now();
    let n = 10;
    let mut h = History::new(t0, n);
    for step in 0..3u64 {
        for k in 0..100u64 {
            let at = step as f64 * STEP_SECS as f64 + k as f64 * 0.2;
            for s in 0..n {
                h.record(&check(s, clocks(t0, at).mono, good(2)), &[], clocks(t0, at));
            }
        }
    }
    let (narrow, wide, free) = h.rings.sizes();
    assert_eq!(wide, n, "every stream's ring is wide");
    assert!(
        narrow + wide - free <= n && free * 2 <= narrow + wide,
        "{narrow} narrow, {wide} wide, {free} free"
    );
    assert!(narrow <= n / 2 + 1, "{narrow} narrow rings kept for {n} wide streams");
    let c = h.chart(3, clocks(t0, 2.5 * STEP_SECS as f64).mono);
    let closed = &c.points[POINTS - 3..POINTS - 1];
    assert!(closed.iter().all(|p| p.good == 100 && p.rtt_us == 2000), "{closed:?}");
}
