//! Every event the daemon records (contract 7's events: group events of
//! every group, mailed or not, and daemon events), handed in the order they
//! happened to whatever keeps or acts on them: the event history (contract
//! 18) and the hooks (contract 19). Each subscriber has a bounded queue of
//! its own; a full queue drops the event for that subscriber only, counts
//! it and says so once per streak, so no subscriber can slow the loop that
//! probes, pushes and mails.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::mail::event::Event;

/// One recorded event, and whether this host acts on new events (the
/// active host of a pair, or a host without `[ha]`): hooks run only then,
/// like mail; the history keeps events either way.
#[derive(Debug, PartialEq)]
pub struct Recorded {
    pub event: Event,
    pub active: bool,
}

/// A subscriber's end: events in the order they were recorded.
pub type Receiver = mpsc::Receiver<Arc<Recorded>>;

struct Tap {
    name: &'static str,
    tx: mpsc::Sender<Arc<Recorded>>,
    /// Events dropped because this subscriber's queue was full.
    dropped: u64,
    /// In a streak of drops (said once, until an event fits again).
    dropping: bool,
}

/// The subscribers, fed by the daemon's loop.
#[derive(Default)]
pub struct Taps {
    taps: Vec<Tap>,
}

impl Taps {
    /// A new subscriber named `name` (in logs) with a queue of `capacity`.
    pub fn subscribe(&mut self, name: &'static str, capacity: usize) -> Receiver {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        self.taps.push(Tap {
            name,
            tx,
            dropped: 0,
            dropping: false,
        });
        rx
    }

    /// Hands `recorded` to every subscriber without waiting.
    pub fn send(&mut self, recorded: Recorded) {
        let recorded = Arc::new(recorded);
        for tap in &mut self.taps {
            match tap.tx.try_send(Arc::clone(&recorded)) {
                Ok(()) => tap.dropping = false,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tap.dropped = tap.dropped.saturating_add(1);
                    if !tap.dropping {
                        tracing::warn!(
                            EVENT = "tap_full",
                            TAP = tap.name,
                            "the {} queue is full: events are dropped for it until it catches up",
                            tap.name
                        );
                    }
                    tap.dropping = true;
                }
                // The subscriber ended (its task stopped): nothing to keep.
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
    }

    /// Events dropped for the subscriber named `name` since the start.
    pub fn dropped(&self, name: &str) -> u64 {
        self.taps.iter().filter(|t| t.name == name).map(|t| t.dropped).sum()
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::mail::event::{DaemonKind, Kind};

    fn event(n: u32) -> Recorded {
        Recorded {
            event: Event::new(
                Kind::Daemon(DaemonKind::ApiUnusable),
                format!("e{n}"),
                SystemTime::UNIX_EPOCH,
            ),
            active: true,
        }
    }

    #[test]
    fn every_subscriber_gets_every_event_in_order() {
        let mut taps = Taps::default();
        let mut a = taps.subscribe("a", 8);
        let mut b = taps.subscribe("b", 8);
        for n in 0..3 {
            taps.send(event(n));
        }
        for rx in [&mut a, &mut b] {
            let got: Vec<String> = (0..3).map(|_| rx.try_recv().unwrap().event.reason.clone()).collect();
            assert_eq!(got, ["e0", "e1", "e2"]);
            assert!(rx.try_recv().is_err());
        }
    }

    #[test]
    fn a_full_queue_drops_for_that_subscriber_only_and_counts() {
        let mut taps = Taps::default();
        let mut slow = taps.subscribe("slow", 1);
        let mut fast = taps.subscribe("fast", 8);
        for n in 0..4 {
            taps.send(event(n));
        }
        assert_eq!(taps.dropped("slow"), 3);
        assert_eq!(taps.dropped("fast"), 0);
        assert_eq!(slow.try_recv().unwrap().event.reason, "e0");
        assert_eq!((0..4).filter(|_| fast.try_recv().is_ok()).count(), 4);
    }
}
