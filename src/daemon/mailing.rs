//! From the daemon's events to mail events: group events of groups with
//! MailNotification on, and daemon events whenever `[mail]` is set.

use std::time::SystemTime;

use super::pushes::Note;
use crate::engine::GroupEvent;
use crate::health::group::EventKind;
use crate::mail::event::{DaemonKind, Event, Kind};

pub fn group_event(e: &GroupEvent) -> Event {
    let kind = match e.kind {
        EventKind::MemberDown => Kind::MemberDown,
        EventKind::MemberUp => Kind::MemberUp,
        EventKind::Failover => Kind::Failover,
        EventKind::Failback => Kind::Failback,
        EventKind::GroupDown => Kind::GroupDown,
        EventKind::GroupUp => Kind::GroupUp,
    };
    let mut m = Event::new(kind, e.reason.clone(), SystemTime::now()).with_group(&e.group);
    if let Some(member) = &e.member {
        m = m.with_member(member);
    }
    if let (Some(from), Some(to)) = (&e.from, &e.to) {
        m = m.with_change(from, to);
    }
    if let Some(active) = &e.expected_active {
        m = m.with_expected(active);
    }
    if e.while_stopped { m.stopped() } else { m }
}

/// The mail of a daemon event; `None` for notes that are logged only.
pub fn note(n: &Note) -> Option<Event> {
    let now = SystemTime::now();
    let event = match n {
        Note::DeactiveDecided { group, restart: true } => Event::new(
            Kind::GroupRestart,
            "down for restart_after: restarting the group (DeActive, then Active at once)",
            now,
        )
        .with_group(group),
        Note::DeactiveDecided { group, restart: false } => Event::new(
            Kind::Daemon(DaemonKind::DeactivateDecided),
            "every member is down: failoverd deactivates the group",
            now,
        )
        .with_group(group),
        Note::GuardTrip { group, reason } => Event::new(
            Kind::Daemon(DaemonKind::GuardTrip),
            format!("DeActive withheld: {reason}; this looks like the monitoring host's own fault"),
            now,
        )
        .with_group(group),
        Note::GuardTripEnded => Event::new(
            Kind::Daemon(DaemonKind::GuardTripEnded),
            "the guard no longer holds; every group is disarmed until seen up",
            now,
        ),
        Note::Refused { group, want, answer } => Event::new(
            Kind::Daemon(DaemonKind::PushRefused),
            format!("the firewall refused {want} three times: {answer}"),
            now,
        )
        .with_group(group)
        .with_push(&format!("{want} {group}"), answer),
        Note::Recovered { group } => Event::new(
            Kind::Daemon(DaemonKind::PushRecovered),
            "pushes are accepted again",
            now,
        )
        .with_group(group),
        Note::ApiUnusable { reason } => Event::new(
            Kind::Daemon(DaemonKind::ApiUnusable),
            format!("the firewall API refuses us: {reason}"),
            now,
        ),
        Note::ApiUsable => Event::new(
            Kind::Daemon(DaemonKind::ApiUsable),
            "the firewall API answers again",
            now,
        ),
        Note::FlapDamped { .. } | Note::HoldWithholds { .. } => return None,
    };
    Some(event)
}

/// The outbox of `plan`'s `[mail]` (mails only logged without it), on the
/// spool in `state_dir`, naming this host in the system's time zone.
pub(super) fn start_outbox(
    plan: &crate::config::Plan,
    state_dir: &std::path::Path,
) -> Result<crate::mail::outbox::Outbox, String> {
    let mail = plan
        .settings
        .mail
        .as_ref()
        .map(crate::mail::types::MailSettings::from_config);
    let ctx = crate::mail::render::Context {
        host: hostname(),
        zone: crate::mail::render::LocalZone::System,
    };
    crate::mail::outbox::start(mail.as_ref(), ctx, state_dir)
}

/// This host's name, for mails and Message-IDs.
pub(super) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}
