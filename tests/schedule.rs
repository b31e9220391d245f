//! The stream scheduler on tokio's paused clock: spread start times, a
//! steady pace, no burst after a late tick, and gaps reported instead of
//! the checks that straddle them. The checker is scripted: what is tested
//! here is timing, not sockets (those have their own tests).

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use failoverd::config::settings::{Family, Target};
use failoverd::health::outcome::Outcome;
use failoverd::probe::schedule::{Member, Observation, PER_SLOT, Report, Resolving, SLOT, offset, spawn, spawn_group};
use failoverd::probe::{Check, Protocol, StreamKey};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Answers good after the next scripted delay (none left: at once),
/// recording when each check started.
struct Scripted {
    delays: Mutex<VecDeque<Duration>>,
    starts: Mutex<Vec<Instant>>,
}

impl Scripted {
    fn new() -> Arc<Self> {
        Arc::new(Scripted {
            delays: Mutex::new(VecDeque::new()),
            starts: Mutex::new(Vec::new()),
        })
    }
}

impl Check for Scripted {
    type State = ();
    fn state(&self, _key: &StreamKey) {}
    fn check<'a>(
        &'a self,
        _key: &'a StreamKey,
        _addr: IpAddr,
        _state: &'a mut (),
    ) -> impl std::future::Future<Output = Outcome> + Send + 'a {
        self.starts.lock().unwrap().push(Instant::now());
        let delay = self.delays.lock().unwrap().pop_front().unwrap_or_default();
        async move {
            tokio::time::sleep(delay).await;
            Outcome::Good { rtt: delay }
        }
    }
}

fn key(n: u8) -> StreamKey {
    StreamKey {
        protocol: Protocol::Icmp,
        target: Target::Ip(IpAddr::from([127, 0, 0, n])),
        family: Family::Any,
        source: None,
        interface: None,
        interval: Duration::from_secs(1),
        timeout: Duration::from_secs(1),
    }
}

const RESOLVING: Resolving = Resolving {
    every: Duration::from_secs(300),
    stale: Duration::from_secs(3600),
    timeout: Duration::from_secs(5),
};

#[tokio::test(start_paused = true)]
async fn streams_start_spread_and_keep_their_pace() {
    let checker = Scripted::new();
    let (tx, mut rx) = mpsc::channel::<Observation>(256);
    let t0 = Instant::now();
    // 64 streams at 1 s: four slots of 16 (PER_SLOT), 250 ms apart.
    let count = 64;
    for i in 0..count {
        let start = t0 + offset(i, count, Duration::from_secs(1));
        spawn(i, key(i as u8 + 1), start, checker.clone(), RESOLVING, tx.clone());
    }
    let mut seen = vec![Vec::new(); count];
    for _ in 0..count * 3 {
        let o = rx.recv().await.unwrap();
        assert!(matches!(o.report, Report::Check { .. }));
        seen[o.stream].push((o.at - t0).as_millis());
    }
    for (i, at) in seen.iter().enumerate() {
        let first = 250 * (i as u128 / 16);
        assert_eq!(at, &[first, first + 1000, first + 2000], "stream {i}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_late_tick_is_a_gap_and_never_a_burst() {
    let checker = Scripted::new();
    let (tx, mut rx) = mpsc::channel::<Observation>(64);
    let t0 = Instant::now();
    spawn(0, key(1), t0, checker.clone(), RESOLVING, tx);
    assert!(matches!(rx.recv().await.unwrap().report, Report::Check { .. }));
    // The process stands still for 10 s (as under SIGSTOP).
    tokio::time::advance(Duration::from_secs(10)).await;
    let gap = rx.recv().await.unwrap();
    assert_eq!(
        gap.report,
        Report::Gap {
            late_by: Duration::from_secs(9)
        }
    );
    let mut after = Vec::new();
    for _ in 0..4 {
        let o = rx.recv().await.unwrap();
        assert!(matches!(o.report, Report::Check { .. }), "{o:?}");
        after.push((o.at - t0).as_millis());
    }
    // One check at once, then one a second: the 9 missed ticks are skipped.
    assert_eq!(after, [10_000, 11_000, 12_000, 13_000]);
    assert_eq!(checker.starts.lock().unwrap().len(), 5);
}

#[tokio::test(start_paused = true)]
async fn a_check_that_straddles_a_pause_is_discarded() {
    let checker = Scripted::new();
    let (tx, mut rx) = mpsc::channel::<Observation>(64);
    let t0 = Instant::now();
    checker.delays.lock().unwrap().push_back(Duration::from_secs(30));
    spawn(0, key(1), t0, checker.clone(), RESOLVING, tx);
    let o = rx.recv().await.unwrap();
    assert_eq!(
        o.report,
        Report::Gap {
            late_by: Duration::from_secs(30)
        }
    );
    let o = rx.recv().await.unwrap();
    assert!(matches!(o.report, Report::Check { .. }), "{o:?}");
    assert_eq!((o.at - t0).as_secs(), 30);
}

#[tokio::test]
async fn a_name_that_does_not_exist_is_a_failed_check_and_the_stream_goes_on() {
    let checker = Scripted::new();
    let (tx, mut rx) = mpsc::channel::<Observation>(64);
    let mut k = key(1);
    k.target = Target::Name("failoverd-test.invalid".into());
    spawn(0, k, Instant::now(), checker.clone(), RESOLVING, tx);
    let o = rx.recv().await.unwrap();
    match o.report {
        Report::Check {
            outcome: Outcome::Failed { reason },
            addr: None,
        } => {
            assert_eq!(reason, "name failoverd-test.invalid does not exist")
        }
        // Without any resolver configured the lookup fails locally instead.
        Report::Check {
            outcome: Outcome::Error { reason },
            addr: None,
        } => {
            assert!(reason.contains("failoverd-test.invalid"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert!(
        checker.starts.lock().unwrap().is_empty(),
        "nothing to probe without an address"
    );
}

fn members(keys: Vec<StreamKey>) -> Vec<Member> {
    keys.into_iter()
        .enumerate()
        .map(|(stream, key)| Member {
            stream,
            key: Arc::new(key),
        })
        .collect()
}

/// When each stream of `count` reported, over the next `n` observations.
async fn seen(rx: &mut mpsc::Receiver<Observation>, count: usize, n: usize, t0: Instant) -> Vec<Vec<(u128, bool)>> {
    let mut seen = vec![Vec::new(); count];
    for _ in 0..n {
        let o = rx.recv().await.unwrap();
        let check = matches!(o.report, Report::Check { .. });
        seen[o.stream].push(((o.at - t0).as_millis(), check));
    }
    seen
}

#[tokio::test(start_paused = true)]
async fn a_slow_check_delays_no_other_stream_of_its_slot() {
    let checker = Scripted::new();
    // The first check (stream 0's) takes 2.5 s at a 1 s interval.
    checker.delays.lock().unwrap().push_back(Duration::from_millis(2500));
    let (tx, mut rx) = mpsc::channel::<Observation>(64);
    let t0 = Instant::now();
    spawn_group(
        members(vec![key(1), key(2), key(3)]),
        t0,
        checker.clone(),
        RESOLVING,
        tx,
    );
    let seen = seen(&mut rx, 3, 11, t0).await;
    // The others keep their pace; stream 0 is checked again as soon as its
    // slow check ends (its ticks at 1 s and 2 s came while it ran), once,
    // then on the pace again.
    let pace: Vec<(u128, bool)> = [0, 1000, 2000, 3000].map(|t| (t, true)).to_vec();
    assert_eq!(seen[1], pace);
    assert_eq!(seen[2], pace);
    assert_eq!(seen[0], [(2500, true), (2500, true), (3000, true)]);
}

#[tokio::test(start_paused = true)]
async fn a_stopped_stream_stops_and_its_slot_goes_on() {
    let checker = Scripted::new();
    let (tx, mut rx) = mpsc::channel::<Observation>(64);
    let t0 = Instant::now();
    let group = spawn_group(members(vec![key(1), key(2)]), t0, checker.clone(), RESOLVING, tx);
    assert_eq!(seen(&mut rx, 2, 2, t0).await, [[(0, true)], [(0, true)]]);
    group.stops.stop(1);
    let after = seen(&mut rx, 2, 3, t0).await;
    assert_eq!(after[0], [(1000, true), (2000, true), (3000, true)]);
    assert!(after[1].is_empty(), "{after:?}");
    assert_eq!(checker.starts.lock().unwrap().len(), 5);
    group.task.abort();
}

#[tokio::test(start_paused = true)]
async fn a_check_running_through_a_pause_is_reported_as_the_gap() {
    let checker = Scripted::new();
    // Stream 0's first check takes 4.8 s; its timeout (2 s) keeps that
    // under three intervals and a timeout, so only the late tick tells.
    checker.delays.lock().unwrap().push_back(Duration::from_millis(4800));
    let mut slow = key(1);
    slow.timeout = Duration::from_secs(2);
    let (tx, mut rx) = mpsc::channel::<Observation>(64);
    let t0 = Instant::now();
    spawn_group(members(vec![slow, key(2)]), t0, checker.clone(), RESOLVING, tx);
    assert_eq!(seen(&mut rx, 2, 1, t0).await[1], [(0, true)]);
    // The process stands still for 4.5 s: the next tick is 3.5 s late.
    tokio::time::advance(Duration::from_millis(4500)).await;
    let gap = Report::Gap {
        late_by: Duration::from_millis(3500),
    };
    let o = rx.recv().await.unwrap();
    assert_eq!((o.stream, &o.report), (1, &gap));
    let o = rx.recv().await.unwrap();
    assert_eq!((o.stream, (o.at - t0).as_millis()), (1, 4500));
    assert!(matches!(o.report, Report::Check { .. }), "{o:?}");
    // Stream 0's check ends at 4.8 s: the gap instead of its result, then
    // a check of its own at once.
    let o = rx.recv().await.unwrap();
    assert_eq!((o.stream, &o.report, (o.at - t0).as_millis()), (0, &gap, 4800));
    let o = rx.recv().await.unwrap();
    assert_eq!((o.stream, (o.at - t0).as_millis()), (0, 4800));
    assert!(matches!(o.report, Report::Check { .. }), "{o:?}");
}

#[test]
fn offsets_share_slots() {
    let second = Duration::from_secs(1);
    // 5,000 streams over a second: slots of 10 ms (SLOT), 50 to a slot.
    let offsets: Vec<Duration> = (0..5000).map(|i| offset(i, 5000, second)).collect();
    assert!(
        offsets
            .iter()
            .all(|o| o.as_nanos() % SLOT.as_nanos() == 0 && *o < second)
    );
    let mut slots = offsets.clone();
    slots.dedup();
    assert_eq!(slots.len(), 100);
    assert_eq!(offsets.iter().filter(|o| **o == Duration::from_millis(990)).count(), 50);
    // 1,000: 16 ms slots of at most 16 (PER_SLOT).
    let offsets: Vec<Duration> = (0..1000).map(|i| offset(i, 1000, second)).collect();
    let mut counts = std::collections::BTreeMap::new();
    for o in &offsets {
        *counts.entry(*o).or_insert(0) += 1;
    }
    assert!(counts.values().all(|&n| n <= PER_SLOT), "{counts:?}");
    assert!(counts.keys().all(|o| o.as_micros() % 16_000 == 0));
    // 20 streams: two wake-ups a second, not twenty.
    let offsets: Vec<Duration> = (0..20).map(|i| offset(i, 20, second)).collect();
    assert_eq!(offsets.iter().filter(|o| o.is_zero()).count(), 16);
    assert_eq!(offsets.iter().filter(|o| **o == Duration::from_millis(800)).count(), 4);
    assert_eq!(offset(0, 1, second), Duration::ZERO);
}
