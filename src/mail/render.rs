//! Turning events into mails: the [`Mail`] that is spooled and sent, its
//! subject (the most severe event first), and the plain-text body that names
//! group, member, condition, target, reason, expected active member, push,
//! firewall answer, monitoring host and time. Pure: the Message-ID, date,
//! host and time zone are passed in. A hint many members share is said
//! once per mail ([`Notes`]).
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
use ended::ended;
pub use notes::Notes;

mod ended;
mod notes;

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
    /// `<uuid@from-domain>`, angle brackets included.
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
    /// The monitoring host's name, shown in the body (Message-IDs take the
    /// From address's domain instead, see [`message_domain`]).
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
    /// A fresh random Message-ID in `domain` (the From address's, see
    /// [`message_domain`]), dated `date`.
    pub fn new(domain: &str, date: SystemTime) -> Stamp {
        Stamp {
            message_id: message_id(domain),
            date,
        }
    }
}

/// The Message-ID domain of mails that are only logged (no `[mail]`): a
/// reserved name (RFC 2606), never the monitoring host's bare name.
pub const LOGGED_ONLY_DOMAIN: &str = "failoverd.invalid";

/// The domain of the From address (`"failoverd <f@example.com>"` gives
/// `example.com`), for Message-IDs: filters trust an id in the sender's
/// domain, and distrust one in a bare host name. A From that cannot be
/// read gives [`LOGGED_ONLY_DOMAIN`] (such a mail is refused before it is
/// sent anyway).
pub fn message_domain(from: &str) -> String {
    let address = from
        .rsplit_once('<')
        .map_or(from, |(_, a)| a.trim_end().trim_end_matches('>'));
    let domain = address.rsplit_once('@').map_or("", |(_, d)| d.trim());
    let domain: String = domain
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
        .collect();
    let domain = domain.trim_matches('.');
    if domain.is_empty() {
        LOGGED_ONLY_DOMAIN.to_owned()
    } else {
        domain.to_ascii_lowercase()
    }
}

/// Digests list at most this many events (the newest); older ones are
/// counted in [`Mail::omitted`]. Bounds the spool's size and render time.
pub const DIGEST_KEEP: usize = 200;

/// `<random-uuid@domain>`, with the domain reduced to characters a
/// Message-ID domain may hold.
pub fn message_id(domain: &str) -> String {
    let domain: String = domain
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
        .collect();
    let domain = if domain.is_empty() {
        LOGGED_ONLY_DOMAIN.to_owned()
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
    let notes = Notes::of(events);
    for (i, e) in events.iter().enumerate() {
        body.push('\n');
        let number = if n > 1 { format!("{}. ", i + 1) } else { String::new() };
        let _ = writeln!(body, "{number}{}", headline(e, false));
        body.push_str(&details(e, &ctx.zone, &notes));
    }
    body.push_str(&notes.section());
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

/// The subject of a batch: [`summary`] of its events.
pub fn subject(events: &[Event]) -> String {
    summary(events)
}

/// How a batch of events stands when its mail goes: the lead event (the
/// most severe; among equals one still standing before one already over,
/// then the earliest), said how it ended when it is over by then ("HQ_VPN
/// down, up again after 5 s"), and the number of events when there are
/// more. So a subject never shouts about a site that is already back.
pub fn summary(events: &[Event]) -> String {
    let Some(i) = lead(events) else {
        return "failoverd: no events".to_owned();
    };
    let e = &events[i];
    let n = events.len();
    let text = match ended(events, i) {
        Some((end, after)) => format!("{}, {end} {}", calm(e), after_text(after)),
        None => headline(e, n > 1),
    };
    if n > 1 { format!("{text} ({n} events)") } else { text }
}

/// The index of the lead event, see [`summary`].
fn lead(events: &[Event]) -> Option<usize> {
    (0..events.len()).min_by_key(|&i| (events[i].kind.severity(), ended(events, i).is_some(), i))
}

/// The most severe event; the earliest among equals.
pub fn most_severe(events: &[Event]) -> Option<&Event> {
    lead(events).map(|i| &events[i])
}

/// The lead's words for a subject that goes on to say how it ended: no
/// capitals, nothing that reads as an alarm.
fn calm(e: &Event) -> String {
    let g = e.group.as_deref().unwrap_or("(no group)");
    let m = e.member.as_deref().unwrap_or("(no member)");
    match e.kind {
        Kind::GroupDown => format!("{g} down"),
        Kind::MemberDown => format!("{g} member {m} down"),
        Kind::Failover => format!("{g} failed over{}", change(e)),
        _ => headline(e, true),
    }
}

/// `after 5 s`, `after 2 min 5 s`, `after 1 h 3 min`, `within 1 s`.
pub fn after_text(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => "within 1 s".to_owned(),
        1..60 => format!("after {s} s"),
        60..3600 if s.is_multiple_of(60) => format!("after {} min", s / 60),
        60..3600 => format!("after {} min {} s", s / 60, s % 60),
        _ if s % 3600 / 60 == 0 => format!("after {} h", s / 3600),
        _ => format!("after {} h {} min", s / 3600, s % 3600 / 60),
    }
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
        D::StateLost => "failoverd: state lost, every group held until released".to_owned(),
        D::SpoolOverLimit => "failoverd: mail spool over its limit".to_owned(),
        D::ReloadRejected if short => "failoverd: reload rejected".to_owned(),
        D::ReloadRejected => "failoverd: reload rejected, old settings still running".to_owned(),
        D::BecameActive => "failoverd: this host became active (it holds the pair's address)".to_owned(),
        D::BecameStandby => "failoverd: this host became standby (the pair's address left it)".to_owned(),
        D::FirewallDisagrees => format!("failoverd: the firewall disagrees{for_group}"),
        D::FirewallAgrees => format!("failoverd: the firewall agrees again{for_group}"),
        D::PushNotHonoured => match &e.push {
            Some(p) => format!("failoverd: firewall accepted {p} but did not apply it"),
            None => format!("failoverd: a push{for_group} was not honoured"),
        },
        D::SnmpUnusable => "failoverd: the firewall's tunnel table cannot be read (SNMP)".to_owned(),
        D::SnmpUsable => "failoverd: the firewall's tunnel table is read again (SNMP)".to_owned(),
        D::Test => "failoverd test mail".to_owned(),
        D::DefinitionDiffers => format!("failoverd: the definition on the firewall differs from the file{for_group}"),
        D::DefinitionInStep => format!("failoverd: the definition on the firewall is in step again{for_group}"),
        // History records, never mailed (Kind::history_only).
        D::FirewallSwitched => format!("failoverd: the firewall switched member{for_group}"),
        D::PushDecided => format!("failoverd: push decided{for_group}"),
    }
}

/// The labelled fields of one event, indented under its headline; texts
/// the mail says once are in `notes`.
pub fn details(e: &Event, zone: &LocalZone, notes: &Notes) -> String {
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
    let (reason, view) = (notes.apply(&e.reason), e.firewall.as_deref().map(|v| notes.apply(v)));
    field("Reason", Some(&reason));
    field("Expected active", e.expected_active.as_deref());
    field("Push", e.push.as_deref());
    field("Firewall answer", e.answer.as_deref());
    field("Firewall view", view.as_deref());
    field("Time", Some(&time(e.at, zone)));
    if e.while_stopped {
        field("Note", Some("changed while failoverd was stopped; found at start"));
    }
    out
}

/// `2024-05-01 12:00:05 UTC (2024-05-01 14:00:05 +02:00 local)`.
pub fn time(t: SystemTime, zone: &LocalZone) -> String {
    // A time chrono cannot hold (a damaged spool): shown, never a panic.
    let Some(utc) = crate::time::to_chrono(t) else {
        return crate::time::rfc3339(t);
    };
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
