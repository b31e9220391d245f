//! Mails that summarise rather than report: the hourly digest (events held
//! back by `max_per_hour`), the spool digest (old group mails folded when the
//! spool is over `spool_max`) and the `mail-test` mail. Pure, like
//! `render`.

use std::fmt::Write as _;

use super::event::{Event, Kind};
use super::render::{self, Class, Context, DIGEST_KEEP, LocalZone, Mail, Stamp};
use super::types::{MailSettings, Security};

/// The digest of events held back for `label` (a group, or one kind of
/// daemon event) because more than `max_per_hour` mails would have gone out.
pub fn hourly(label: &str, events: &[Event], max_per_hour: u32, ctx: &Context, stamp: Stamp) -> Mail {
    let mut body = format!(
        "More than {max_per_hour} mails an hour would have gone out for {label}, so failoverd on {} \
         held back these {} and sends them as this digest.\n",
        ctx.host,
        render::count(events.len(), "event")
    );
    if let Some(last) = events.last() {
        let _ = writeln!(body, "The latest: {}.", render::headline(last, false));
    }
    body.push('\n');
    body.push_str(&lines(events, 0, &ctx.zone));
    body.push_str(&render::footer(ctx));
    let class = if events.iter().any(|e| e.kind.is_daemon()) {
        Class::Daemon
    } else {
        Class::Digest
    };
    Mail {
        message_id: stamp.message_id,
        date: stamp.date,
        subject: format!("Digest: {}", lead(events)),
        body,
        class,
        events: events.to_vec(),
        omitted: 0,
    }
}

/// One digest for group mails folded out of a full spool, oldest first.
/// Keeps the newest [`DIGEST_KEEP`] events and counts the rest.
pub fn spool(folded: &[Mail], spool_max: u32, ctx: &Context, stamp: Stamp) -> Mail {
    let mut events: Vec<Event> = folded.iter().flat_map(|m| m.events.iter().cloned()).collect();
    let mut omitted: u64 = folded.iter().map(|m| m.omitted).sum();
    if events.len() > DIGEST_KEEP {
        let drop = events.len() - DIGEST_KEEP;
        omitted += drop as u64;
        events.drain(..drop);
    }
    let mut body = format!(
        "The mail spool on {} reached spool_max = {spool_max} mails while no mail server accepted \
         mail. The {} oldest group mails were folded into this digest; mails about failoverd \
         itself are kept as they are.\n\n",
        ctx.host,
        folded.len()
    );
    body.push_str(&lines(&events, omitted, &ctx.zone));
    body.push_str(&render::footer(ctx));
    Mail {
        message_id: stamp.message_id,
        date: stamp.date,
        subject: format!(
            "failoverd: mail spool over its limit, {} folded: {}",
            render::count(folded.len(), "mail"),
            lead(&events)
        ),
        body,
        class: Class::Digest,
        events,
        omitted,
    }
}

/// The `failoverd mail-test` mail: says where it was sent from and through
/// which server, so the reader can tell which settings work. Never shows
/// the password.
pub fn test_mail(settings: &MailSettings, ctx: &Context, stamp: Stamp) -> Mail {
    let security = match settings.security {
        Security::StartTls => "STARTTLS (smtp://)",
        Security::Tls => "TLS from the start (smtps://)",
        Security::None => "plain, no TLS (smtp://...?tls=none)",
    };
    let login = match (&settings.username, settings.security) {
        (_, Security::None) => "none (never over plain SMTP)".to_owned(),
        (Some(u), _) => format!("{u} (AUTH PLAIN or LOGIN)"),
        (None, _) => "none".to_owned(),
    };
    let event = Event::new(
        Kind::Daemon(super::event::DaemonKind::Test),
        "failoverd mail-test",
        stamp.date,
    );
    let mut body = format!(
        "This test mail was sent by `failoverd mail-test` on {} at {}.\n\
         If you read it, mail from failoverd reaches you.\n\n",
        ctx.host,
        render::time(stamp.date, &ctx.zone)
    );
    let _ = writeln!(body, "   Server:  {}:{} ({security})", settings.host, settings.port);
    let _ = writeln!(body, "   Login:   {login}");
    let _ = writeln!(body, "   From:    {}", settings.from);
    let _ = writeln!(body, "   To:      {}", settings.to.join(", "));
    body.push_str(&render::footer(ctx));
    Mail {
        message_id: stamp.message_id,
        date: stamp.date,
        subject: format!("failoverd test mail from {}", ctx.host),
        body,
        class: Class::Test,
        events: vec![event],
        omitted: 0,
    }
}

/// How the events stand ([`render::summary`]: the lead, how it ended if
/// it did, and the count); one event by its short headline.
fn lead(events: &[Event]) -> String {
    match events {
        [] => "no events".to_owned(),
        [e] => render::headline(e, true),
        _ => render::summary(events),
    }
}

/// Two or three lines per event: time, headline, then the reason and the
/// check, push and answer where known.
fn lines(events: &[Event], omitted: u64, zone: &LocalZone) -> String {
    let mut out = String::new();
    if omitted > 0 {
        let _ = writeln!(out, "({omitted} earlier events are not listed.)\n");
    }
    for e in events {
        let _ = writeln!(out, "{}", render::time(e.at, zone));
        let _ = writeln!(out, "   {}", render::headline(e, false));
        let mut facts = vec![e.reason.clone()];
        if let Some(m) = e
            .member
            .as_deref()
            .filter(|_| !matches!(e.kind, Kind::MemberDown | Kind::MemberUp))
        {
            facts.push(format!("member {m}"));
        }
        if let (Some(c), Some(t)) = (&e.condition, &e.target) {
            facts.push(format!("{c} {t}"));
        }
        if let Some(a) = &e.expected_active {
            facts.push(format!("expected active {a}"));
        }
        if let Some(p) = &e.push {
            let answer = e.answer.as_deref().unwrap_or("no answer");
            facts.push(format!("push {p}: {answer}"));
        }
        let _ = writeln!(out, "   {}", facts.join("; "));
    }
    out
}

#[cfg(test)]
mod tests;
