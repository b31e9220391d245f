//! A reload's effect on the core (docs/service.md, "Reload"): health of
//! unchanged readers, beliefs, rule memory, holds and requests in flight
//! carry over; groups whose definition or connections changed lose their
//! arming; a group dropped during a tunnel restart becomes an orphan whose
//! Active is still sent through the old settings' sender.

use super::{Core, Effect, Generation, build_pushes, index};
use crate::config::Plan;
use crate::daemon::changes::{self, Changes};
use crate::daemon::persist::Clocks;
use crate::engine::Engine;

impl Core {
    /// Applies the validated `plan`, whose sender is generation `via`;
    /// returns what changed (the shell restarts only the streams and parts
    /// that did) and the effects.
    pub fn reload(&mut self, plan: Plan, via: Generation, clocks: Clocks) -> (Changes, Vec<Effect>) {
        let changes = changes::changes(&self.plan, &plan);
        self.reload_with(plan, changes, via, clocks)
    }

    /// [`Core::reload`] with the difference already computed against the
    /// running plan (the shell computes it off the loop: for thousands of
    /// streams it builds two engines).
    pub fn reload_with(
        &mut self,
        plan: Plan,
        changes: Changes,
        via: Generation,
        clocks: Clocks,
    ) -> (Changes, Vec<Effect>) {
        self.config = ConfigLoad::applied(clocks.wall);
        // What the running settings saw goes into the state file first: the
        // new settings' push state is built from it.
        self.save(clocks);
        let mut engine = Engine::new(&plan, &self.engine.persisted());
        engine.adopt(&self.engine);
        self.history.carry(&self.engine, &engine);
        let mut pushes = build_pushes(&plan, &self.state, &clocks);
        self.orphan_dropped_restarts(&plan, clocks);
        let url_same = plan.settings.firewall.url == self.plan.settings.firewall.url;
        // Orphans' requests count against max_in_flight too.
        let extra = self.orphans.in_flight() + self.defines_in_flight;
        pushes.carry_over(&self.pushes, url_same, &changes.groups_changed, extra, clocks.mono);
        self.state
            .firewalls
            .entry(plan.settings.firewall.url.clone())
            .or_default();
        let address = |p: &Plan| p.settings.ha.as_ref().map(|h| h.address);
        if address(&plan) != address(&self.plan) {
            // Another address (or none, or a first one): the role is not
            // known until the shell's new watcher reports it.
            self.pair = super::pairing::pair_for(plan.settings.ha.as_ref());
        }
        self.index = index(&plan);
        let mut view = super::firewall_view::view_of(&plan);
        if let (Some(new), Some(old)) = (view.as_mut(), self.view.as_ref()) {
            new.adopt(old);
        }
        self.view = view;
        let names: Vec<&str> = plan.groups.iter().map(|g| g.name()).collect();
        self.definitions.reloaded(&names, url_same);
        self.plan = plan;
        self.share_names();
        self.engine = engine;
        self.pushes = pushes;
        self.generation = via;
        self.decide_soon = true;
        self.dirty = true;
        let status = format!("READY=1\nSTATUS={}", self.status_line());
        self.effects.push(Effect::Notify(status));
        (changes, self.take())
    }

    /// A tunnel restart's Active is sent whatever happens, a reload that
    /// drops the group included: the group becomes an orphan that the old
    /// settings' sender finishes (after any request still in flight).
    fn orphan_dropped_restarts(&mut self, plan: &Plan, clocks: Clocks) {
        let pending: Vec<(String, bool)> = self
            .pushes
            .restarting()
            .filter(|(name, _)| !plan.groups.iter().any(|n| n.name() == *name))
            .map(|(name, in_flight)| (name.to_string(), in_flight))
            .collect();
        for (name, in_flight) in pending {
            tracing::warn!(GROUP = %name, EVENT = "push", "the group left the settings during a restart: its Active is still sent");
            self.orphans.dropped(&name, self.generation, in_flight, clocks.mono);
        }
    }
}

/// How the last load of the settings went, for status and /metrics
/// (`failoverd_config_last_reload_successful`, `..._success_timestamp_seconds`):
/// the start's load counts as the first success, as Prometheus's own
/// servers count theirs.
#[derive(Clone, Debug)]
pub struct ConfigLoad {
    pub last_success: std::time::SystemTime,
    /// The last reload was rejected: when, and why (one line).
    pub rejected: Option<(std::time::SystemTime, String)>,
}

impl ConfigLoad {
    pub fn applied(wall: std::time::SystemTime) -> ConfigLoad {
        ConfigLoad {
            last_success: wall,
            rejected: None,
        }
    }
}

impl Core {
    /// A reload was rejected (the old settings keep running): status,
    /// the page and /metrics show it until a reload succeeds.
    pub fn reload_rejected(&mut self, why: &str, wall: std::time::SystemTime) {
        self.config.rejected = Some((wall, why.to_string()));
    }

    pub fn config_load(&self) -> &ConfigLoad {
        &self.config
    }
}
