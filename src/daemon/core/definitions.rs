//! The definitions on the firewall against the files, as the daemon sees
//! them at each periodic Get (contract section 17, docs/definitions.md):
//! each group's last verdict for status, `/status`, the page and
//! `/metrics`, and its episode.
//!
//! A group that differs (or is missing) at two Gets in a row begins a
//! `DefinitionDiffers` episode, mailed as the group's events are, once;
//! in step again ends it with `DefinitionInStep`. With `sync = true` the
//! second Get sends the file's definition instead (once per streak) and
//! says so; only if it still differs two Gets after that is the episode
//! raised. A Get that failed, or whose reply cannot be compared, is no
//! comparison: no streak advances and nothing is sent. A name that
//! differs only in case is never sent automatically (the admin chooses).

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::{Core, Effect};
use crate::daemon::persist::Clocks;
use crate::firewall::compare::{Comparison, Verdict};
use crate::mail::event::{DaemonKind, Event, Kind};

/// A Get's comparison, or why its reply could not be compared.
pub type Compared = Result<Comparison, String>;

/// What the shell's syncs tell the core.
#[derive(Debug)]
pub enum SyncNote {
    /// `sync = true` got this group's definition accepted: the answer.
    Accepted(String, String),
    /// A request of a sync (a definition, or `sync --changed-only`'s Get)
    /// is over, answered or abandoned: its slot is free again.
    Done,
}

/// One group's record.
#[derive(Clone, Debug, Default)]
struct Track {
    verdict: Option<Verdict>,
    /// Gets in a row at which it differed.
    streak: u32,
    /// A `DefinitionDiffers` was raised and its end has not come.
    episode: bool,
    /// `sync = true` sent the definition in this streak: when, and the
    /// firewall's answer once it came.
    sent: Option<(SystemTime, Option<String>)>,
}

/// Every group's record, and why the last reply could not be compared.
#[derive(Clone, Debug, Default)]
pub struct Definitions {
    groups: BTreeMap<String, Track>,
    problem: Option<String>,
}

/// What one Get's comparison asks for.
#[derive(Debug, PartialEq)]
pub enum Step {
    /// Boxed: an event is large.
    Event(Box<Event>),
    /// `sync = true`: send this group's definition.
    Send(String),
}

impl Definitions {
    /// One Get's comparison; `sync`: the setting.
    pub fn compared(&mut self, compared: Compared, sync: bool, wall: SystemTime) -> Vec<Step> {
        let c = match compared {
            Ok(c) => c,
            Err(why) => {
                self.problem = Some(why);
                return Vec::new();
            }
        };
        self.problem = None;
        let mut steps = Vec::new();
        for (group, verdict) in c.groups {
            let t = self.groups.entry(group.clone()).or_default();
            if let Some(s) = t.step(&group, verdict, sync, wall) {
                steps.push(s);
            }
        }
        steps
    }

    /// The last verdict of `group`, if a Get compared it.
    pub fn verdict(&self, group: &str) -> Option<&Verdict> {
        self.groups.get(group)?.verdict.as_ref()
    }

    /// What `sync = true` did for `group` in this streak, for status.
    pub fn sent(&self, group: &str) -> Option<(SystemTime, Option<&str>)> {
        let (at, answer) = self.groups.get(group)?.sent.as_ref()?;
        Some((*at, answer.as_deref()))
    }

    /// Why the last reply could not be compared.
    pub fn problem(&self) -> Option<&str> {
        self.problem.as_deref()
    }

    /// The settings were reloaded: groups gone are forgotten (all of
    /// them for another firewall), and every streak starts again (a file
    /// may have changed); an episode stays until its group is in step.
    pub fn reloaded(&mut self, groups: &[&str], same_firewall: bool) {
        self.groups.retain(|g, _| same_firewall && groups.contains(&g.as_str()));
        for t in self.groups.values_mut() {
            t.streak = 0;
            t.sent = None;
        }
    }

    /// The firewall took the definition `sync = true` sent.
    pub fn accepted(&mut self, group: &str, answer: String) {
        if let Some((_, a)) = self.groups.get_mut(group).and_then(|t| t.sent.as_mut()) {
            *a = Some(answer);
        }
    }
}

impl Track {
    fn step(&mut self, group: &str, verdict: Verdict, sync: bool, wall: SystemTime) -> Option<Step> {
        let before = self.verdict.replace(verdict.clone());
        if before.as_ref() != Some(&verdict) {
            logged(group, &verdict, self.streak);
        }
        if verdict.in_step() {
            self.streak = 0;
            self.sent = None;
            return std::mem::take(&mut self.episode).then(|| Step::Event(Box::new(in_step(group, wall))));
        }
        self.streak += 1;
        if self.streak < 2 || self.episode {
            return None;
        }
        let sendable = sync && verdict.sendable();
        if sendable && self.sent.is_none() {
            self.sent = Some((wall, None));
            tracing::warn!(
                GROUP = group,
                EVENT = "definition_sync",
                "{} at two Gets in a row: sync = true sends the file's definition",
                said(group, &verdict)
            );
            return Some(Step::Send(group.to_string()));
        }
        // Sent: the episode only if it still differs two Gets later.
        if sendable && self.streak < 4 {
            return None;
        }
        self.episode = true;
        let event = differs(group, &verdict, self.sent.is_some(), wall);
        Some(Step::Event(Box::new(event)))
    }
}

/// A change of verdict, logged once.
fn logged(group: &str, verdict: &Verdict, streak: u32) {
    if verdict.in_step() {
        tracing::info!(GROUP = group, EVENT = "definition", "{}", said(group, verdict));
    } else {
        tracing::warn!(
            GROUP = group,
            EVENT = "definition",
            streak = streak + 1,
            "{}",
            said(group, verdict)
        );
    }
}

/// "HQ is missing on the firewall", "the definition of HQ on the
/// firewall differs from its file: members: file A, B, firewall B, A".
fn said(group: &str, verdict: &Verdict) -> String {
    match verdict {
        Verdict::InStep => format!("the definition of {group} on the firewall is in step with its file"),
        Verdict::Missing => format!("{group} is missing on the firewall"),
        Verdict::Differs(_) => format!(
            "the definition of {group} on the firewall {}",
            verdict.describe().replacen("differs:", "differs from its file:", 1)
        ),
    }
}

fn differs(group: &str, verdict: &Verdict, sent: bool, wall: SystemTime) -> Event {
    let fix = if verdict.sendable() {
        format!(
            "failoverd sync --group {group} (the file's definition to the firewall) or failoverd import --group {group} --force (the firewall's to the file)"
        )
    } else {
        "rename the group in its file or on the firewall, so both spell it alike".into()
    };
    let after = if sent {
        ", after sync = true sent the file's definition"
    } else {
        ""
    };
    let reason = format!(
        "{} (at two periodic Gets in a row{after}); fix: {fix}",
        said(group, verdict)
    );
    Event::new(Kind::Daemon(DaemonKind::DefinitionDiffers), reason, wall).with_group(group)
}

fn in_step(group: &str, wall: SystemTime) -> Event {
    let reason = format!("the definition of {group} on the firewall is in step with its file again");
    Event::new(Kind::Daemon(DaemonKind::DefinitionInStep), reason, wall).with_group(group)
}

impl Core {
    /// A Get's comparison: events logged and mailed as the group's events
    /// are (MailNotification on, not an intent group); with `sync = true`
    /// the groups to send, as [`Effect::Define`] (not on a standby).
    pub(super) fn definitions_compared(&mut self, compared: Compared, clocks: Clocks) {
        if let Err(why) = &compared {
            tracing::warn!(EVENT = "definition", "the definitions were not compared: {why}");
        }
        let sync = self.plan.settings.firewall.sync && self.may_sync();
        let mut send = Vec::new();
        for step in self.definitions.compared(compared, sync, clocks.wall) {
            match step {
                Step::Send(g) => send.push(g),
                Step::Event(e) => {
                    let group = e.group.clone().unwrap_or_default();
                    tracing::warn!(EVENT = e.kind.name(), GROUP = %group, "{}", e.reason);
                    if self.mails_group(&group) {
                        self.mail(*e);
                    }
                }
            }
        }
        if !send.is_empty() {
            self.effects.push(Effect::Define(send));
        }
    }

    /// The definitions as last compared, for status and metrics.
    pub fn definitions(&self) -> &Definitions {
        &self.definitions
    }

    /// A sync's news (see [`SyncNote`]).
    pub fn synced(&mut self, note: SyncNote) {
        match note {
            SyncNote::Accepted(group, answer) => self.definitions.accepted(&group, answer),
            SyncNote::Done if self.defines_in_flight > 0 => {
                self.defines_in_flight -= 1;
                self.pushes.answered_elsewhere();
                // A push may have waited for this slot.
                self.decide_soon = true;
            }
            SyncNote::Done => {}
        }
    }

    /// The shell granted `n` sync requests a slot: they count against
    /// `max_in_flight` like pushes until each one's [`SyncNote::Done`].
    pub fn defines_started(&mut self, n: usize) {
        for _ in 0..n {
            self.pushes.started_elsewhere();
        }
        self.defines_in_flight += n;
    }

    /// At shutdown, the syncs are aborted: their slots are free.
    pub(super) fn defines_abandoned(&mut self) {
        while self.defines_in_flight > 0 {
            self.synced(SyncNote::Done);
        }
    }

    /// Whether a sync request for `group` ("" for a Get) may start now:
    /// a slot within `max_in_flight` is free (beside `granted` just
    /// given), no push of the group is out, and this host may sync.
    pub fn may_define(&self, group: &str, granted: usize) -> bool {
        let pushing = self
            .index
            .get(group)
            .is_some_and(|&i| self.pushes.groups[i].slot.in_flight.is_some());
        self.pushes.free() > granted && !pushing && self.may_sync()
    }
}

#[cfg(test)]
mod tests;
