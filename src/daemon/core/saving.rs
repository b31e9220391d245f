//! The core's side of `state.json` (docs/state-file.md): what goes into it
//! before a write, what a write's outcome changes, and a lost state (both
//! files damaged at start): its mail and its problem line. The shell writes.

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::{Core, Effect};
use crate::config::names::Name;
use crate::daemon::persist::{self, Clocks};
use crate::state::STATE_LOST_REASON;

impl Core {
    /// Folds health and rule memory into the state file and asks for a
    /// write (once per batch of effects: the write that comes first writes
    /// everything decided before the shell performs it). In dry run,
    /// beliefs and histories stay as they were.
    pub(super) fn save(&mut self, clocks: Clocks) {
        let dry = self.dry();
        for (i, g) in self.plan.groups.iter().enumerate() {
            let name = g.name();
            // The name is copied only for a group new to the file, not at
            // every save.
            if !self.state.groups.contains_key(name) {
                self.state.groups.insert(g.shared_name(), Default::default());
            }
            let h = self.engine.persisted_at(i, name);
            let (Some(gs), Some(h)) = (self.state.groups.get_mut(name), h.as_ref()) else {
                continue;
            };
            if dry {
                persist::set_word(&mut gs.group, h.group);
            } else {
                persist::save(gs, h, &self.pushes.groups[i].policy, &clocks);
            }
        }
        if !dry {
            // Decided DeActives not yet mailed: the next start mails them.
            let decided = self
                .decided
                .iter()
                .map(|(g, d)| (self.name_key(g), d.restart))
                .collect();
            self.firewall_mut().decided = decided;
        }
        if !self.effects.contains(&Effect::Save) {
            self.effects.push(Effect::Save);
        }
    }

    /// The plan's copy of group `name` when the plan has the group, else a
    /// new one (a group state.json keeps that the plan no longer has).
    pub(super) fn name_key(&self, name: &str) -> Name {
        self.index
            .get_key_value(name)
            .map_or_else(|| Name::from(name), |(k, _)| k.clone())
    }

    /// Every long-lived name outside the plan swapped for the plan's copy
    /// (at start and after a reload): state.json's maps, the shadow
    /// report's names, /metrics' push counters. The copies read from files
    /// or kept from the settings before a reload are dropped, so each name
    /// is held once (BENCHMARKS.md, "One copy of each name"). Keys and
    /// values are unchanged.
    pub(super) fn share_names(&mut self) {
        self.share_state_names();
        let (index, connections) = (&self.index, &self.plan.settings.connections);
        self.shadow
            .share_names(&|s| super::pairing::plan_name(index, connections, s));
        let counts = std::mem::take(&mut self.push_counts);
        self.push_counts = counts
            .into_iter()
            .map(|((g, class), n)| ((self.name_key(&g), class), n))
            .collect();
    }

    /// state.json's maps keyed by the plan's copies of the names.
    fn share_state_names(&mut self) {
        let mut state = std::mem::take(&mut self.state.groups);
        state = self.rekeyed(state);
        self.state.groups = state;
        let mut firewalls = std::mem::take(&mut self.state.firewalls);
        for fw in firewalls.values_mut() {
            fw.beliefs = self.rekeyed(std::mem::take(&mut fw.beliefs));
            fw.set_at = self.rekeyed(std::mem::take(&mut fw.set_at));
            fw.unconfirmed = self.rekeyed(std::mem::take(&mut fw.unconfirmed));
            fw.decided = self.rekeyed(std::mem::take(&mut fw.decided));
        }
        self.state.firewalls = firewalls;
    }

    fn rekeyed<V>(&self, map: BTreeMap<Name, V>) -> BTreeMap<Name, V> {
        // Already in order: collecting sorted keys builds the tree in bulk.
        map.into_iter().map(|(k, v)| (self.name_key(&k), v)).collect()
    }

    /// How the write asked for went: `Err` with the reason when it failed.
    pub fn saved(&mut self, result: Result<(), String>, clocks: Clocks) -> Vec<Effect> {
        match result {
            Ok(()) => {
                if !self.saving.ok() {
                    tracing::info!(EVENT = "daemon", "state is persisted again");
                }
                self.saving.wrote(true, clocks.mono);
                self.dirty = false;
            }
            Err(e) => {
                if self.saving.ok() {
                    let file = crate::state::StateDir::new(&self.plan.settings.state_dir).file();
                    let why = format!(
                        "state not persisted: cannot write {}: {e}; running on in memory",
                        file.display()
                    );
                    self.state_dir_failed(why, clocks.wall);
                }
                self.saving.wrote(false, clocks.mono);
            }
        }
        self.take()
    }

    /// The start found the state lost (now, or a `push` without a daemon
    /// did): mailed at once, logged, and no longer pending in the file.
    pub(super) fn mail_state_lost(&mut self, wall: SystemTime) {
        use crate::mail::event::{DaemonKind, Event, Kind};
        if let Some(why) = self.state.lost.take() {
            tracing::error!(EVENT = "StateLost", "{why}");
            self.mail(Event::new(Kind::Daemon(DaemonKind::StateLost), why, wall));
            self.dirty = true;
        }
    }

    /// "state lost: ..." while a group still carries the hold the loss
    /// placed (until each is released).
    pub(super) fn state_lost_problem(&self) -> Option<String> {
        let held: Vec<&str> = self
            .plan
            .groups
            .iter()
            .map(|g| g.name())
            .filter(|g| {
                self.state
                    .groups
                    .get(*g)
                    .and_then(|s| s.hold.as_ref())
                    .is_some_and(|h| h.reason == STATE_LOST_REASON)
            })
            .collect();
        (!held.is_empty()).then(|| {
            format!(
                "state lost: state.json was damaged and no previous state could be used; held until released: {} (check the firewall, then failoverd release)",
                held.join(", ")
            )
        })
    }
}
