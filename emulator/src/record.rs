//! What the emulator remembers for tests: every request it received (time,
//! peer, transport, decoded XML, the actions per group and what became of
//! the answer), and how many requests were in flight per group at once, so
//! a test can assert "never two requests in flight for a group".

use crate::api::GroupAction;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};
use tokio::sync::Notify;

/// How the `reqxml` field arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A GET (or POST) query string.
    Query,
    /// `application/x-www-form-urlencoded` POST body.
    Form,
    /// `multipart/form-data` POST body.
    Multipart,
}

/// What the client got back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// HTTP 200 with this XML body.
    Answered(String),
    /// An HTTP error status (fault), nothing applied.
    HttpStatus(u16),
    /// Applied, then no answer (hang fault).
    Hung,
    /// Applied, then the connection was closed (drop fault).
    Dropped,
    /// Applied, then answered with a hostile body (the fault named).
    Hostile(String),
}

/// One request as the emulator saw it. `xml` holds the password: it is
/// for tests to inspect; `Debug` shows it with the password blanked.
#[derive(Clone)]
pub struct Recorded {
    pub at: SystemTime,
    pub peer: IpAddr,
    pub transport: Transport,
    pub xml: String,
    pub actions: Vec<GroupAction>,
    pub outcome: Outcome,
}

impl std::fmt::Debug for Recorded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorded")
            .field("at", &self.at)
            .field("peer", &self.peer)
            .field("transport", &self.transport)
            .field("xml", &redact(&self.xml))
            .field("actions", &self.actions)
            .field("outcome", &self.outcome)
            .finish()
    }
}

/// The document with every `<Password>` content replaced by `********`.
pub fn redact(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(start) = rest.find("<Password>") {
        let open_end = start + "<Password>".len();
        out.push_str(&rest[..open_end]);
        out.push_str("********");
        rest = match rest[open_end..].find("</Password>") {
            Some(close) => &rest[open_end + close..],
            None => "",
        };
    }
    out.push_str(rest);
    out
}

/// Per-group counts of requests being handled: (now, most ever).
#[derive(Debug, Default)]
pub struct InFlight {
    counts: Mutex<HashMap<String, (usize, usize)>>,
    /// Woken whenever a request ends, for `wait_idle`.
    ended: Notify,
}

/// Ends a request's part of the count when dropped, whatever the ending:
/// answered, dropped, or the client leaving a hung request.
#[derive(Debug)]
pub struct InFlightGuard {
    owner: Arc<InFlight>,
    names: Vec<String>,
}

impl InFlight {
    /// Counts a request for each named group until the guard drops.
    pub fn enter(self: &Arc<Self>, names: Vec<String>) -> InFlightGuard {
        let mut counts = lock(&self.counts);
        for name in &names {
            let entry = counts.entry(name.clone()).or_default();
            entry.0 += 1;
            entry.1 = entry.1.max(entry.0);
        }
        InFlightGuard {
            owner: self.clone(),
            names,
        }
    }

    /// Requests for `group` being handled now.
    pub fn current(&self, group: &str) -> usize {
        lock(&self.counts).get(group).map_or(0, |c| c.0)
    }

    /// The most requests for `group` ever handled at once.
    pub fn max(&self, group: &str) -> usize {
        lock(&self.counts).get(group).map_or(0, |c| c.1)
    }

    /// Waits until no request for `group` is being handled, at most
    /// `limit`; says whether it got there.
    pub async fn wait_idle(&self, group: &str, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let ended = self.ended.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            if self.current(group) == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, ended).await.is_err() {
                return self.current(group) == 0;
            }
        }
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        let mut counts = lock(&self.owner.counts);
        for name in &self.names {
            if let Some(entry) = counts.get_mut(name) {
                entry.0 -= 1;
            }
        }
        drop(counts);
        self.owner.ended.notify_waiters();
    }
}

/// Locks a mutex, carrying on after a panic elsewhere (test tool state is
/// still usable).
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_blanked_in_debug() {
        let xml = "<Login><Password>a&lt;b</Password></Login><Password>x";
        assert_eq!(
            redact(xml),
            "<Login><Password>********</Password></Login><Password>********"
        );
        let entry = Recorded {
            at: SystemTime::now(),
            peer: [127, 0, 0, 1].into(),
            transport: Transport::Form,
            xml: xml.to_string(),
            actions: Vec::new(),
            outcome: Outcome::Dropped,
        };
        assert!(!format!("{entry:?}").contains("a&lt;b"));
    }

    #[test]
    fn counts_overlap_per_group() {
        let flight = Arc::new(InFlight::default());
        let a = flight.enter(vec!["G".into()]);
        let b = flight.enter(vec!["G".into(), "H".into()]);
        assert_eq!((flight.current("G"), flight.max("G"), flight.max("H")), (2, 2, 1));
        drop(a);
        drop(b);
        let _c = flight.enter(vec!["G".into()]);
        assert_eq!((flight.current("G"), flight.max("G"), flight.current("H")), (1, 2, 0));
        assert_eq!(flight.max("none"), 0);
    }
}
