//! The core's side of `state.json` (docs/state-file.md): what goes into it
//! before a write, and what a write's outcome changes. The shell writes.

use super::{Core, Effect};
use crate::daemon::persist::{self, Clocks};

impl Core {
    /// Folds health and rule memory into the state file and asks for a
    /// write (once per batch of effects: the write that comes first writes
    /// everything decided before the shell performs it). In dry run,
    /// beliefs and histories stay as they were.
    pub(super) fn save(&mut self, clocks: Clocks) {
        let health = self.engine.persisted();
        let dry = self.dry();
        for (i, g) in self.plan.groups.iter().enumerate() {
            let gs = self.state.groups.entry(g.name().to_string()).or_default();
            if let Some(h) = health.get(g.name()) {
                if dry {
                    gs.group = persist::word(h.group);
                } else {
                    persist::save(gs, h, &self.pushes.groups[i].policy, &clocks);
                }
            }
        }
        if !dry {
            // Decided DeActives not yet mailed: the next start mails them.
            let decided = self.decided.iter().map(|(g, d)| (g.clone(), d.restart)).collect();
            self.firewall_mut().decided = decided;
        }
        if !self.effects.contains(&Effect::Save) {
            self.effects.push(Effect::Save);
        }
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
}
