//! The core's side of the firewall view (`[snmp]`, docs/health.md "The
//! firewall's own view"): walk results in, events out. Safety (contract
//! section 10): nothing here starts a push, counts as a check of a target,
//! or waits for the agent; the walk runs in a task of the shell, and a
//! walk's failure counts neither way. Disagreement and not-honoured are
//! about a group: mailed only when its MailNotification is on (never for
//! intent groups); SNMP unusable and usable again are daemon events.

use super::{Core, Effect};
use crate::daemon::persist::Clocks;
use crate::firewall::decide::Want;
use crate::firewall::view::track::Expected;
use crate::firewall::view::{Carrying, GroupMembers, Row, Timing, View, ViewEvent, WalkError};
use crate::health::target::State;
use crate::mail::event::{DaemonKind, Event, Kind};
use crate::state::Belief;

/// The view of `plan`'s groups, when `[snmp]` is set (each reload builds a
/// new one: a group's trackers start afresh).
pub(super) fn view_of(plan: &crate::config::Plan) -> Option<View> {
    let s = plan.settings.snmp.as_ref()?;
    Some(View::new(GroupMembers::of_plan(&plan.groups), Timing::of(s)))
}

/// A FirewallSwitched record: `to` is the member carried now (`None`: no
/// member), `from` the one before (`None` on the first read).
fn switch_event(
    group: &str,
    from: Option<String>,
    first: bool,
    to: Option<String>,
    expected: Option<String>,
    clocks: Clocks,
) -> Event {
    let now = to.as_deref().unwrap_or("no member");
    let text = if first {
        format!("{group}: the firewall carries {now} (first read)")
    } else {
        format!(
            "{group}: the firewall switched to {now} (was {})",
            from.as_deref().unwrap_or("no member")
        )
    };
    let mut e = Event::new(Kind::Daemon(DaemonKind::FirewallSwitched), text, clocks.wall).with_group(group);
    e.member.clone_from(&to);
    e.from = from;
    e.to = to;
    e.expected_active = expected;
    e
}

fn kind(e: &ViewEvent) -> Kind {
    Kind::Daemon(match e {
        ViewEvent::Disagreement { .. } => DaemonKind::FirewallDisagrees,
        ViewEvent::Agreement { .. } => DaemonKind::FirewallAgrees,
        ViewEvent::NotHonoured { .. } => DaemonKind::PushNotHonoured,
        ViewEvent::SnmpUnusable { .. } => DaemonKind::SnmpUnusable,
        ViewEvent::SnmpUsable { .. } => DaemonKind::SnmpUsable,
    })
}

impl Core {
    /// One walk of the tunnel table, or why it failed. Logs and mails the
    /// view's events; changes nothing else.
    pub fn walked(&mut self, result: Result<Vec<Row>, WalkError>, clocks: Clocks) -> Vec<Effect> {
        self.tell_view_what_failoverd_expects();
        let Some(view) = self.view.as_mut() else {
            return self.take();
        };
        for e in view.walked(result, clocks.mono) {
            let text = e.to_string();
            let group = e.group().map(str::to_string);
            tracing::warn!(EVENT = e.name(), GROUP = group.as_deref().unwrap_or(""), "{text}");
            let mut event = Event::new(kind(&e), text, clocks.wall);
            if let Some(g) = &group {
                event = event.with_group(g);
            }
            if let ViewEvent::NotHonoured { group, want, .. } = &e {
                event.push = Some(format!("{want} {group}"));
            }
            let summary = group.as_deref().and_then(|g| self.firewall_summary(g));
            let event = event.with_firewall(summary);
            // About a group: mailed as its group events are (contract 10);
            // recorded either way.
            if group.as_deref().is_some_and(|g| !self.mails_group(g)) {
                self.record(&event);
            } else {
                self.mail(event);
            }
        }
        self.note_switches(clocks);
        self.take()
    }

    /// Records each change of a group's carrying member (and the first
    /// read of it) for the history: never mailed (docs/history.md). An
    /// unreadable table changes nothing: the last member read stays.
    fn note_switches(&mut self, clocks: Clocks) {
        let Some(view) = self.view.as_ref() else { return };
        let mut switched = Vec::new();
        for g in &self.plan.groups {
            let Some(v) = view.group(g.name()) else { continue };
            let now = match &v.carrying {
                Carrying::Member(m) => Some(m.clone()),
                Carrying::Nobody => None,
                Carrying::Unknown => continue,
            };
            let before = self.carrying.get(g.name());
            if before == Some(&now) {
                continue;
            }
            let expected = self.engine.group_state(g.name()).and_then(|(_, m)| m);
            switched.push(switch_event(
                g.name(),
                before.cloned().flatten(),
                before.is_none(),
                now,
                expected,
                clocks,
            ));
        }
        for e in switched {
            if let Some(g) = &e.group {
                self.carrying.insert(g.clone(), e.to.clone());
            }
            tracing::info!(
                EVENT = "FirewallSwitched",
                GROUP = e.group.as_deref().unwrap_or(""),
                MEMBER = e.member.as_deref().unwrap_or(""),
                "{}",
                e.reason
            );
            self.record(&e);
        }
    }

    /// Whether `group`'s events are mailed: MailNotification on, and not
    /// an intent group. Disagreement and not-honoured follow it too.
    pub(super) fn mails_group(&self, group: &str) -> bool {
        let g = self.index.get(group).map(|&i| &self.plan.groups[i]);
        g.is_some_and(|g| g.def.mail && g.intent().is_none())
    }

    /// What failoverd believes of each group, for the disagreement check:
    /// nothing while it has no opinion (belief unknown, or held).
    fn tell_view_what_failoverd_expects(&mut self) {
        let Some(view) = self.view.as_mut() else { return };
        for (i, g) in self.plan.groups.iter().enumerate() {
            let name = g.name();
            let belief = self.pushes.groups[i].slot.belief;
            let held = self.state.groups.get(name).is_some_and(|s| s.hold.is_some());
            if belief == Belief::Unknown || held {
                view.expected(name, None);
                continue;
            }
            let (_, active) = self.engine.group_state(name).unwrap_or((State::Unknown, None));
            let members = self.engine.members(name);
            let with = |s: State| {
                members
                    .iter()
                    .filter(|m| m.state == s)
                    .map(|m| m.name.clone())
                    .collect()
            };
            let expected = Expected {
                active: if belief == Belief::DeActive { None } else { active },
                up: with(State::Up),
                down: with(State::Down),
            };
            view.expected(name, Some(expected));
        }
    }

    /// An accepted push, for the not-honoured check (never in dry run).
    pub(super) fn view_push_accepted(&mut self, group: &str, want: Want, clocks: Clocks) {
        if self.dry() {
            return;
        }
        if let Some(view) = self.view.as_mut() {
            view.push_accepted(group, want, clocks.mono);
        }
    }

    /// "carries HQ_Primary; HQ_Primary active, activated; HQ_Backup
    /// inactive", for mails and status; `None` without `[snmp]`.
    pub(super) fn firewall_summary(&self, group: &str) -> Option<String> {
        let g = self.view.as_ref()?.group(group)?;
        let members: Vec<String> = g.members.iter().map(|(m, v)| format!("{m} {v}")).collect();
        Some(format!("carries {}; {}", g.carrying, members.join("; ")))
    }

    /// The view, for status and metrics.
    pub fn firewall_view(&self) -> Option<&View> {
        self.view.as_ref()
    }
}
