//! The core's pushes: deciding, sending, answers, the notes they raise and
//! the mails of DeActives failoverd decided (docs/safety.md).

use std::time::SystemTime;

use super::status::whole_secs;
use super::{Core, Effect, Generation, jitter};
use crate::daemon::persist::Clocks;
use crate::daemon::pushes::Note;
use crate::daemon::send::Push;
use crate::firewall::api::Answer;
use crate::firewall::decide::Want;
use crate::firewall::slot::Class;
use crate::state::Belief;

impl Core {
    /// Decides every group's push now and starts those due, manual ones too.
    pub(super) fn decide(&mut self, clocks: Clocks) {
        self.decide_soon = false;
        let now = clocks.mono;
        // An orphaned restart's Active first, within max_in_flight; it goes
        // even after SIGTERM (it completes a restart).
        let free = if self.may_push() { self.pushes.free() } else { 0 };
        for (group, via) in self.orphans.due(now, free) {
            self.pushes.started_elsewhere();
            let push = Push {
                group,
                want: Want::Active,
            };
            self.effects.push(Effect::Push { push, via });
        }
        // The effective hold: this host's own or the peer's. Most ticks no
        // group is held: then no lookup by name for each group.
        let any = self.pair.peer_holds_any() || self.state.groups.values().any(|g| g.hold.is_some());
        let held: Vec<bool> = if any {
            self.plan
                .groups
                .iter()
                .map(|g| self.held_here_or_peer(g.name()))
                .collect()
        } else {
            vec![false; self.plan.groups.len()]
        };
        let pair = &mut self.pair;
        let gate = |name: &str, want| super::pairing::gate(pair, name, want);
        let (sends, notes) = self.pushes.due(self.engine.anchors(), &held, now, gate);
        for n in &notes {
            self.note(n);
        }
        for (i, want) in sends {
            self.send(i, want, clocks);
        }
        self.start_manual(clocks);
    }

    /// Manual pushes waiting for their group's slot.
    fn start_manual(&mut self, clocks: Clocks) {
        let waiting: Vec<String> = self.manual.keys().cloned().collect();
        for name in waiting {
            let Some(&i) = self.index.get(name.as_str()) else {
                if let Some(m) = self.manual.remove(&name) {
                    let reply = crate::control::Reply::err(format!("group {name} is gone after a reload"));
                    self.effects.push(Effect::Reply { to: m.to, reply });
                }
                continue;
            };
            let want = self.manual[&name].want;
            if !self.may_push() {
                // Active, but the peer not read yet: it waits.
                continue;
            }
            if self.pushes.start_manual(i, want)
                && let Some(m) = self.manual.remove(&name)
            {
                self.manual_in_flight.insert(name, m);
                self.send(i, want, clocks);
            }
        }
    }

    fn send(&mut self, i: usize, want: Want, clocks: Clocks) {
        let group = self.plan.groups[i].name().to_string();
        if want == Want::Active {
            // A decided DeActive that was never taken: the group is wanted
            // Active again, so its mail goes now, with the last answer.
            if let Some(d) = self.decided.remove(&group) {
                let answer = format!(
                    "not taken; failoverd now wants the group Active again (last answer: {})",
                    d.last_answer.as_deref().unwrap_or("none")
                );
                self.mail_decided(&group, d.restart, &answer);
            }
        }
        if !self.dry() {
            // Before sending, the belief is written as unknown (fsynced).
            let name = self.plan.groups[i].shared_name();
            self.firewall_mut().beliefs.insert(name, Belief::Unknown);
            self.save(clocks);
        }
        // MEMBER: the member an Active hands the group to (the expected
        // active one); none for a DeActive, which takes every member down.
        let member = match want {
            Want::Active => self.engine.group_state(&group).and_then(|(_, m)| m),
            Want::DeActive => None,
        };
        let push = Push { group, want };
        tracing::info!(GROUP = %push.group, MEMBER = member.as_deref().unwrap_or(""), ROLE = self.role_word(), EVENT = "push", "pushing {push}");
        self.record_push(&push, member.as_deref(), clocks);
        let via = self.generation;
        self.effects.push(Effect::Push { push, via });
    }

    /// The history's record of a push decided (or, in dry run, one that
    /// would be sent): never mailed (docs/history.md).
    fn record_push(&mut self, push: &Push, member: Option<&str>, clocks: Clocks) {
        let dry = self.dry();
        let text = match (dry, member) {
            (true, Some(m)) => format!("dry run: failoverd would push {push} (expected active: {m})"),
            (true, None) => format!("dry run: failoverd would push {push}"),
            (false, Some(m)) => format!("failoverd pushes {push} (expected active: {m})"),
            (false, None) => format!("failoverd pushes {push}"),
        };
        let answer = if dry { "dry run: not sent" } else { "sent" };
        let mut e = crate::mail::event::Event::new(
            crate::mail::event::Kind::Daemon(crate::mail::event::DaemonKind::PushDecided),
            text,
            clocks.wall,
        )
        .with_group(&push.group)
        .with_push(&push.to_string(), answer);
        if let Some(m) = member {
            e = e.with_expected(m).with_member(m);
        }
        self.record(&e);
    }

    /// The firewall's answer to the push of `group` sent through `via`.
    pub fn answered(&mut self, group: &str, via: Generation, answer: Answer, clocks: Clocks) -> Vec<Effect> {
        let now = clocks.mono;
        let accepted = answer.class == Class::Accepted;
        let mine = via == self.generation || !self.orphans.is_orphan(group);
        let Some(&i) = self.index.get(group).filter(|_| mine) else {
            tracing::warn!(GROUP = %group, "answer for a group no longer configured: {}", answer.text);
            if self.orphans.answered(group, accepted, now) {
                self.pushes.answered_elsewhere();
                self.decide_soon = true;
            }
            return self.take();
        };
        let group = group.to_string();
        tracing::info!(GROUP = %group, EVENT = "push_answer", "the firewall answered: {}", answer.text);
        *self
            .push_counts
            .entry((self.plan.groups[i].shared_name(), answer.class.label()))
            .or_default() += 1;
        let sent = self.pushes.groups[i].slot.in_flight;
        let notes = self.pushes.finish(i, answer.class.clone(), now, jitter(clocks.wall));
        // A dry run's answers are made up (accepted at once): only the
        // read-only Get, which goes out in dry run too, tells the API's health.
        if !self.dry()
            && let Some(event) = self.api.answered(&answer.class, &answer.text, clocks.wall)
        {
            self.api_event(event);
        }
        if let Some(want) = sent.filter(|_| accepted) {
            self.view_push_accepted(&group, want, clocks);
        }
        // A decided DeActive ends when it is accepted or refused for good
        // (its tries used up); every other answer is tried again.
        let over = accepted || notes.iter().any(|n| matches!(n, Note::Refused { .. }));
        for n in &notes {
            self.note(n);
        }
        // A slot is free again: the next push need not wait for a tick.
        self.decide_soon = true;
        if over && let Some(d) = self.decided.remove(&group) {
            self.mail_decided(&group, d.restart, &answer.text);
        } else if let Some(d) = self.decided.get_mut(&group) {
            d.last_answer = Some(answer.text.clone());
        }
        if let Some(m) = self.manual_in_flight.remove(&group) {
            self.manual_answered(&group, m, &answer, clocks);
        }
        if !self.dry() {
            let belief = self.pushes.groups[i].slot.belief;
            let name = self.plan.groups[i].shared_name();
            let fw = self.firewall_mut();
            fw.beliefs.insert(name.clone(), belief);
            fw.set_at.insert(name, clocks.wall);
        }
        self.dirty = true;
        self.take()
    }

    /// Logs (and mails) what the push loop reported.
    fn note(&mut self, n: &Note) {
        match n {
            Note::DeactiveDecided { group, restart } => {
                let first = !self.decided.contains_key(group);
                self.decided.entry(group.clone()).or_default().restart = *restart;
                if first {
                    // EVENT: the kind of the mail this decision sends.
                    let kind = if *restart { "GroupRestart" } else { "DeactivateDecided" };
                    tracing::warn!(EVENT = kind, GROUP = %group, restart = *restart, "failoverd decided a DeActive of {group}");
                } else {
                    tracing::info!(GROUP = %group, EVENT = "push_retry", "trying the DeActive of {group} again");
                }
            }
            Note::HoldWithholds { group, want } => self.withheld(group, *want),
            Note::FlapDamped { group, hold } => {
                let f = &self.plan.settings.firewall;
                tracing::warn!(
                    EVENT = "flap_damped",
                    GROUP = %group,
                    "{group} is up, but flap damping holds its Active until it has been up for {} ({} DeActives within flap_window {}, flap_limit {}): the Active goes in {} if it stays up",
                    whole_secs(hold.hold),
                    hold.deactives,
                    whole_secs(f.flap_window),
                    f.flap_limit,
                    whole_secs(hold.remaining),
                );
            }
            // The API's episode has one owner, whichever request met it
            // (core/api_health.rs); the pause's own notes would repeat it.
            Note::ApiUnusable { .. } | Note::ApiUsable => {}
            _ => {
                let Some(event) = crate::daemon::mailing::note(n) else {
                    return;
                };
                tracing::warn!(
                    EVENT = event.kind.name(),
                    GROUP = event.group.as_deref().unwrap_or(""),
                    "{}",
                    event.reason
                );
                self.mail(event);
            }
        }
    }

    /// An API episode's beginning or end: logged and mailed (a daemon
    /// event).
    pub(super) fn api_event(&mut self, event: crate::mail::event::Event) {
        tracing::warn!(EVENT = event.kind.name(), "{}", event.reason);
        self.mail(event);
    }

    /// The periodic read-only Get's outcome: the API's health, and the
    /// episode it begins or ends.
    /// With it, the comparison of the definitions, when the Get got an
    /// answer (core/definitions.rs).
    pub fn api_got(
        &mut self,
        outcome: Result<(), crate::firewall::api::Answer>,
        compared: Option<super::definitions::Compared>,
        clocks: Clocks,
    ) -> Vec<Effect> {
        if let Some(event) = self.api.got(&outcome, clocks.wall) {
            self.api_event(event);
        }
        if let Some(c) = compared {
            self.definitions_compared(c, clocks);
        }
        self.take()
    }

    /// The firewall API's health, for status and /metrics.
    pub fn api_health(&self) -> &super::api_health::ApiHealth {
        &self.api
    }

    /// The mail of a DeActive failoverd decided, with the firewall's answer.
    fn mail_decided(&mut self, group: &str, restart: bool, answer: &str) {
        let note = Note::DeactiveDecided {
            group: group.to_string(),
            restart,
        };
        let push = format!("DeActive {group}");
        if let Some(event) = crate::daemon::mailing::note(&note) {
            self.mail(event.with_push(&push, answer));
        }
    }

    /// DeActives decided by an earlier run that stopped or crashed before
    /// the firewall answered: their mails, with the outcome unknown.
    pub(super) fn mail_decided_before_stop(&mut self) {
        let decided = std::mem::take(&mut self.firewall_mut().decided);
        for (group, restart) in decided {
            tracing::warn!(EVENT = "daemon", GROUP = %group, restart, "a DeActive of {group} failoverd decided was not taken when it stopped");
            self.mail_decided(
                &group,
                restart,
                "unknown: failoverd stopped before the firewall took it",
            );
            self.dirty = true;
        }
    }

    /// The state file could not be written: a daemon event, once per streak.
    pub(super) fn state_dir_failed(&mut self, why: String, wall: SystemTime) {
        use crate::mail::event::{DaemonKind, Event, Kind};
        tracing::error!(EVENT = "StateDirFailure", "{why}");
        let event = Event::new(Kind::Daemon(DaemonKind::StateDirFailure), why, wall);
        self.mail(event);
    }
}
