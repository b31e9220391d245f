//! Turning events into mails: the [`Mail`] that is spooled and sent, its
//! subject (the most severe event first), and the plain-text body that names
//! group, member, condition, target, reason, expected active member, push,
//! firewall answer, monitoring host and time. Pure: the Message-ID, date,
//! host and time zone are passed in.
//!
//! Local time: the caller passes a [`LocalZone`]. The daemon uses
//! [`LocalZone::System`] (the host's zone from `TZ` or `/etc/localtime`, via
//! chrono, with the offset valid at each event's time, so DST is right);
//! tests pass a fixed offset and get the same text on every machine.

use std::fmt::Write as _;
use std::time::SystemTime;

use chrono::{DateTime, FixedOffset, Local, Offset as _, Utc};
use serde::{Deserialize, Serialize};

use super::event::{DaemonKind, Event, Kind};

/// What a spooled mail reports; decides what may be folded when the spool
/// overflows (group mails and digests may, daemon mails are kept).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Class {
    Group,
    Daemon,
    Digest,
    Test,
}

/// A rendered mail, as spooled. From and To are not part of it: they come
/// from the settings at sending time, so a fixed recipient list applies to
/// mails spooled before the fix. Message-ID and Date are fixed here, so a
/// resend after a crash is recognisably the same mail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mail {
    /// `<uuid@monitoring-host>`, angle brackets included.
    pub message_id: String,
    pub date: SystemTime,
    pub subject: String,
    pub body: String,
    pub class: Class,
    /// The events it reports (at most [`DIGEST_KEEP`] for digests), kept so
    /// that a full spool can fold mails into a digest.
    pub events: Vec<Event>,
    /// Events folded into this digest earlier but no longer listed.
    pub omitted: u64,
}

/// How local time is shown beside UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalZone {
    /// The host's zone (`TZ`, else `/etc/localtime`), offset per instant.
    System,
    /// A fixed offset in seconds east of UTC (tests, or a daemon told so).
    Fixed(i32),
}

/// What every mail says about where it comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    /// The monitoring host's name, shown in the body and used in Message-IDs.
    pub host: String,
    pub zone: LocalZone,
}

/// The identity of one mail: generated once, stored with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub message_id: String,
    pub date: SystemTime,
}

impl Stamp {
    /// A fresh random Message-ID on `host`, dated `date`.
    pub fn new(host: &str, date: SystemTime) -> Stamp {
        Stamp {
            message_id: message_id(host),
            date,
        }
    }
}

/// Digests list at most this many events (the newest); older ones are
/// counted in [`Mail::omitted`]. Bounds the spool's size and render time.
pub const DIGEST_KEEP: usize = 200;

/// `<random-uuid@host>`, with the host reduced to characters a Message-ID
/// domain may hold.
pub fn message_id(host: &str) -> String {
    let domain: String = host
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
        .collect();
    let domain = if domain.is_empty() {
        "localhost".to_owned()
    } else {
        domain
    };
    format!("<{}@{domain}>", uuid::Uuid::new_v4().simple())
}

/// One mail for a batch of events (all groups, one coalesce window).
pub fn batch(events: &[Event], ctx: &Context, stamp: Stamp) -> Mail {
    let mut body = String::new();
    let n = events.len();
    let _ = writeln!(body, "failoverd on {} reports {}:", ctx.host, count(n, "event"));
    for (i, e) in events.iter().enumerate() {
        body.push('\n');
        let number = if n > 1 { format!("{}. ", i + 1) } else { String::new() };
        let _ = writeln!(body, "{number}{}", headline(e, false));
        body.push_str(&details(e, &ctx.zone));
    }
    body.push_str(&footer(ctx));
    let class = if events.iter().any(|e| e.kind.is_daemon()) {
        Class::Daemon
    } else {
        Class::Group
    };
    Mail {
        message_id: stamp.message_id,
        date: stamp.date,
        subject: subject(events),
        body,
        class,
        events: events.to_vec(),
        omitted: 0,
    }
}

/// The subject of a batch: the most severe event's headline (the earliest
/// of equals), shortened and followed by a count when there are more.
pub fn subject(events: &[Event]) -> String {
    let Some(lead) = most_severe(events) else {
        return "failoverd: no events".to_owned();
    };
    match events.len() {
        1 => headline(lead, false),
        n => format!("{} (+{})", headline(lead, true), count(n - 1, "more event")),
    }
}

/// The most severe event; the earliest among equals.
pub fn most_severe(events: &[Event]) -> Option<&Event> {
    events.iter().min_by_key(|e| e.kind.severity())
}

/// One line saying what happened, the most important words first. `short`
/// drops details that a coalesced subject has no room for.
pub fn headline(e: &Event, short: bool) -> String {
    let g = e.group.as_deref().unwrap_or("(no group)");
    let m = e.member.as_deref().unwrap_or("(no member)");
    let mut line = match e.kind {
        Kind::GroupDown if short => format!("{g} DOWN"),
        Kind::GroupDown => format!("{g} DOWN: all members unreachable"),
        Kind::GroupUp => match (&e.expected_active, short) {
            (Some(a), false) => format!("{g} UP again: {a} reachable"),
            _ => format!("{g} UP"),
        },
        Kind::Failover => format!("{g} failed over{}", change(e)),
        Kind::Failback => format!("{g} failed back{}", change(e)),
        Kind::MemberDown => format!("{g} member {m} down"),
        Kind::MemberUp => format!("{g} member {m} up"),
        Kind::GroupRestart if short => format!("{g} restarted"),
        Kind::GroupRestart => format!("{g} restarted (DeActive, then Active)"),
        Kind::Daemon(d) => daemon_headline(d, e, short),
    };
    if e.while_stopped && !short {
        line.push_str(" (changed while failoverd was stopped)");
    }
    line
}

fn change(e: &Event) -> String {
    match (&e.from, &e.to) {
        (Some(f), Some(t)) => format!(" {f} -> {t}"),
        (None, Some(t)) => format!(" to {t}"),
        _ => String::new(),
    }
}

fn daemon_headline(d: DaemonKind, e: &Event, short: bool) -> String {
    use DaemonKind as D;
    let for_group = e.group.as_deref().map(|g| format!(" for {g}")).unwrap_or_default();
    let of_group = e.group.as_deref().map(|g| format!(" of {g}")).unwrap_or_default();
    match d {
        D::ApiUnusable => "failoverd: firewall API unusable".to_owned(),
        D::ApiUsable => "failoverd: firewall API usable again".to_owned(),
        D::PushRefused => match (&e.push, short) {
            (Some(p), false) => format!("failoverd: firewall refused {p}"),
            _ => format!("failoverd: push refused{for_group}"),
        },
        D::PushRecovered => format!("failoverd: push{for_group} accepted again"),
        D::DeactivateDecided => match &e.group {
            Some(g) => format!("{g} deactivated by failoverd"),
            None => "failoverd deactivated a group".to_owned(),
        },
        D::GuardTrip => format!("failoverd: guard withheld a DeActive{of_group}"),
        D::GuardTripEnded => "failoverd: guard trip ended, groups disarmed".to_owned(),
        D::IcmpFailure => "failoverd: ICMP probing failed".to_owned(),
        D::StateDirFailure => "failoverd: state not persisted (state directory failure)".to_owned(),
        D::SpoolOverLimit => "failoverd: mail spool over its limit".to_owned(),
        D::ReloadRejected if short => "failoverd: reload rejected".to_owned(),
        D::ReloadRejected => "failoverd: reload rejected, old settings still running".to_owned(),
        D::Test => "failoverd test mail".to_owned(),
    }
}

/// The labelled fields of one event, indented under its headline.
pub fn details(e: &Event, zone: &LocalZone) -> String {
    let mut out = String::new();
    let mut field = |label: &str, value: Option<&str>| {
        if let Some(v) = value {
            let _ = writeln!(out, "   {:<17}{v}", format!("{label}:"));
        }
    };
    let change = match (&e.from, &e.to) {
        (Some(f), Some(t)) => Some(format!("{f} -> {t}")),
        _ => None,
    };
    field("Group", e.group.as_deref());
    field("Member", e.member.as_deref());
    field("Change", change.as_deref());
    field("Condition", e.condition.as_deref());
    field("Target", e.target.as_deref());
    field("Reason", Some(&e.reason));
    field("Expected active", e.expected_active.as_deref());
    field("Push", e.push.as_deref());
    field("Firewall answer", e.answer.as_deref());
    field("Time", Some(&time(e.at, zone)));
    if e.while_stopped {
        field("Note", Some("changed while failoverd was stopped; found at start"));
    }
    out
}

/// `2024-05-01 12:00:05 UTC (2024-05-01 14:00:05 +02:00 local)`.
pub fn time(t: SystemTime, zone: &LocalZone) -> String {
    let utc: DateTime<Utc> = t.into();
    let local: DateTime<FixedOffset> = match zone {
        LocalZone::System => utc.with_timezone(&Local).fixed_offset(),
        // An offset beyond ±24 h cannot be meant: show UTC again.
        LocalZone::Fixed(secs) => utc.with_timezone(&FixedOffset::east_opt(*secs).unwrap_or(Utc.fix())),
    };
    format!(
        "{} ({} local)",
        utc.format("%Y-%m-%d %H:%M:%S UTC"),
        local.format("%Y-%m-%d %H:%M:%S %:z")
    )
}

/// The closing lines every mail carries.
pub fn footer(ctx: &Context) -> String {
    format!(
        "\n-- \nfailoverd on monitoring host {}\nTimes are UTC, with the local time of {} in brackets.\n",
        ctx.host, ctx.host
    )
}

/// `1 event`, `3 events`.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests;
