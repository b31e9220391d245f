//! Seeding this run's in-memory views from the history file at start
//! (history/writer.rs `start`, docs/history.md): the status page's
//! event list (the last 24 hours of group events, as
//! daemon/core/history.rs shows them) and the shadow report's records
//! (history/recent.rs). Pure: records in, views out.

use std::time::{Duration, SystemTime};

use super::Record;
use crate::health::group::EventKind;
use crate::page;

/// The page's label for a record of a group event, and whether it is bad
/// (the same labels the live page gives them); `None` for other records.
fn label(event: &str) -> Option<(&'static str, bool)> {
    EventKind::ALL
        .into_iter()
        .find(|k| k.name() == event)
        .map(EventKind::page_label)
}

/// The page's events of the 24 hours before `now`, from `records` (in the
/// file's order, oldest first).
pub fn page_events(records: &[Record], now: SystemTime) -> Vec<page::Event> {
    let oldest = super::millis(crate::time::wall_sub(now, Duration::from_secs(24 * 3600)));
    records
        .iter()
        .filter(|r| r.t >= oldest)
        .filter_map(|r| {
            let (kind, bad) = label(&r.event)?;
            Some(page::Event {
                at: r.t / 1000,
                group: r.group.clone().unwrap_or_default(),
                kind: kind.to_owned(),
                bad,
                text: r.text.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_last_days_group_events_seed_the_page() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(10 * 24 * 3600);
        let mk = |ago: u64, e: &str| {
            let mut r = Record::new(e, format!("{e} {ago}"), now - Duration::from_secs(ago));
            r.group = Some("G".into());
            r
        };
        let records = [
            mk(90_000, "GroupDown"),
            mk(60, "Failover"),
            mk(30, "PushDecided"),
            mk(10, "GroupUp"),
        ];
        let got: Vec<(String, bool)> = page_events(&records, now)
            .into_iter()
            .map(|e| (e.kind, e.bad))
            .collect();
        assert_eq!(got, [("failover".to_owned(), true), ("group up".to_owned(), false)]);
    }
}
