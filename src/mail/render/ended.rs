//! Whether the trouble an event reports is over by the end of its mail
//! ("HQ_VPN down, up again after 5 s"): what undoes each kind, what
//! repeats it, and the words for its end. Used by the subject's summary.

use crate::mail::event::{DaemonKind, Event, Kind};

/// Whether the trouble `events[i]` reports is over by the last event, and
/// if so, the words for the end and how long after `events[i]` it came.
/// Over means: an event that undoes it (for the same group, and member)
/// comes later, with no repeat of the trouble after the last such event.
pub(super) fn ended(events: &[Event], i: usize) -> Option<(String, std::time::Duration)> {
    use DaemonKind as D;
    let e = &events[i];
    let back_on = |x: &Event| matches!(x.kind, Kind::Failover | Kind::Failback) && x.to.is_some() && x.to == e.from;
    let moved = |x: &Event| matches!(x.kind, Kind::Failover | Kind::Failback) && x.to != e.from;
    let is = |k: Kind| move |x: &Event| x.kind == k;
    // What undoes it, what repeats it, the words, and whether only events
    // of the same group count (a guard trip's end names no group).
    type Test<'a> = Box<dyn Fn(&Event) -> bool + 'a>;
    let (undoes, repeats, words, scoped): (Test, Test, String, bool) = match e.kind {
        Kind::GroupDown => (
            Box::new(is(Kind::GroupUp)),
            Box::new(is(Kind::GroupDown)),
            "up again".into(),
            true,
        ),
        Kind::MemberDown => (
            Box::new(|x: &Event| x.kind == Kind::MemberUp && x.member == e.member),
            Box::new(|x: &Event| x.kind == Kind::MemberDown && x.member == e.member),
            "up again".into(),
            true,
        ),
        Kind::Failover => (
            Box::new(back_on),
            Box::new(moved),
            format!("back on {}", e.from.as_deref()?),
            true,
        ),
        Kind::Daemon(D::ApiUnusable) => (
            Box::new(is(Kind::Daemon(D::ApiUsable))),
            Box::new(is(e.kind)),
            "usable again".into(),
            false,
        ),
        Kind::Daemon(D::PushRefused) => (
            Box::new(is(Kind::Daemon(D::PushRecovered))),
            Box::new(is(e.kind)),
            "accepted again".into(),
            true,
        ),
        Kind::Daemon(D::SnmpUnusable) => (
            Box::new(is(Kind::Daemon(D::SnmpUsable))),
            Box::new(is(e.kind)),
            "read again".into(),
            false,
        ),
        Kind::Daemon(D::FirewallDisagrees) => (
            Box::new(is(Kind::Daemon(D::FirewallAgrees))),
            Box::new(is(e.kind)),
            "agrees again".into(),
            true,
        ),
        Kind::Daemon(D::DefinitionDiffers) => (
            Box::new(is(Kind::Daemon(D::DefinitionInStep))),
            Box::new(is(e.kind)),
            "in step again".into(),
            true,
        ),
        Kind::Daemon(D::GuardTrip) => (
            Box::new(is(Kind::Daemon(D::GuardTripEnded))),
            Box::new(is(e.kind)),
            "trip ended".into(),
            false,
        ),
        _ => return None,
    };
    let mut over_at = None;
    for x in events[i + 1..].iter().filter(|x| !scoped || x.group == e.group) {
        if undoes(x) {
            over_at = Some(x.at);
        } else if repeats(x) {
            over_at = None;
        }
    }
    over_at.map(|t| (words, t.duration_since(e.at).unwrap_or_default()))
}
