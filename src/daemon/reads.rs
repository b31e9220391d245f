//! The shell's own firewall tasks besides pushes: the read-only Get every
//! `check_every`, the sync of definitions (docs/firewall-api.md) and, with
//! `[snmp]`, the walk of the tunnel table every `interval` (docs/health.md,
//! "The firewall's own view"). All are owned: never two of a kind at once,
//! cancelled at a reload (the Get of the old settings gives way to one of
//! the new at once) and at shutdown. The walk runs apart from the loop, so
//! a slow or dead agent delays no probe, push or mail.

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::core::Core;
use crate::config::Plan;
use crate::firewall::api::Api;

pub struct Reads {
    /// The API for the Get and the sync, when a password is at hand.
    api: Option<Api>,
    next_get: Instant,
    get: Option<JoinHandle<()>>,
    sync: Option<JoinHandle<()>>,
    /// Definitions the sync got accepted, with their hashes, for the core.
    synced: mpsc::UnboundedSender<(String, String)>,
    walker: Option<JoinHandle<()>>,
    /// Each walk's and each Get's outcome, for the core.
    walks: mpsc::Sender<Read>,
}

pub use super::api_check::Read;

/// Walks the table every `interval` (each walk bounded by it) and hands
/// each outcome over; a full channel drops the outcome rather than wait.
fn walker(snmp: crate::config::settings::Snmp, tx: mpsc::Sender<Read>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(snmp.interval);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let outcome = crate::firewall::view::walk::walk(&snmp).await.map(|w| w.rows);
            if tx.try_send(Read::Walk(outcome)).is_err() && tx.is_closed() {
                return;
            }
        }
    })
}

fn api_for(plan: &Plan) -> Option<Api> {
    match Api::new(plan) {
        Ok(a) => Some(a),
        Err(e) => {
            tracing::info!(EVENT = "api_check", "no read-only Get of the firewall: {e}");
            None
        }
    }
}

impl Reads {
    pub fn new(plan: &Plan, synced: mpsc::UnboundedSender<(String, String)>, walks: mpsc::Sender<Read>) -> Reads {
        Reads {
            api: api_for(plan),
            next_get: Instant::now(),
            get: None,
            sync: None,
            synced,
            walker: plan.settings.snmp.clone().map(|s| walker(s, walks.clone())),
            walks,
        }
    }

    /// The settings were reloaded, `api` built for them off the loop.
    /// `fresh` (the firewall or the groups changed): the Get and sync stop
    /// and the next Get goes at once; otherwise they keep their schedule, so
    /// that reloads of unchanged settings log in to the firewall no more.
    /// `walk` (`[snmp]` changed): the walker starts again, its first walk at
    /// once.
    pub fn reload(&mut self, plan: &Plan, api: Option<Api>, fresh: bool, walk: bool) {
        if fresh {
            for task in [self.get.take(), self.sync.take()].into_iter().flatten() {
                task.abort();
            }
            self.next_get = Instant::now();
        }
        self.api = api;
        if walk {
            if let Some(old) = self.walker.take() {
                old.abort();
            }
            self.walker = plan.settings.snmp.clone().map(|s| walker(s, self.walks.clone()));
        }
    }

    /// Starts the Get when due and none is running. A standby makes no
    /// Get (it sends the firewall nothing); the first tick after it became
    /// active does.
    pub fn tick(&mut self, core: &Core, now: Instant) {
        let plan = core.plan();
        if now < self.next_get || !core.may_call_firewall() {
            return;
        }
        self.next_get = crate::time::mono_add(now, plan.settings.firewall.check_every);
        let running = self.get.as_ref().is_some_and(|t| !t.is_finished());
        if let Some(api) = self.api.clone().filter(|_| !running) {
            let groups = plan.groups.iter().map(|g| g.name().to_string()).collect();
            self.get = Some(super::api_check::spawn(api, groups, self.walks.clone()));
        }
    }

    /// `sync = true`: sends the definitions that changed since the firewall
    /// last accepted them from failoverd (a sync still running stops first),
    /// when the core allows it (a standby syncs nothing).
    pub fn sync(&mut self, core: &Core) {
        let (plan, state) = (core.plan(), core.state());
        if !core.may_sync() {
            // Became standby: a sync under way stops, no request follows.
            if let Some(old) = self.sync.take() {
                old.abort();
            }
            return;
        }
        if !plan.settings.firewall.sync {
            return;
        }
        let Some(api) = self.api.clone() else { return };
        let fw = state.firewalls.get(&plan.settings.firewall.url);
        let changed: Vec<(String, String)> = plan
            .groups
            .iter()
            .filter_map(|g| api.definition_hash(g.name()).map(|h| (g.name().to_string(), h)))
            .filter(|(g, h)| fw.and_then(|f| f.sync_hashes.get(g)) != Some(h))
            .collect();
        if let Some(old) = self.sync.take() {
            old.abort();
        }
        if !changed.is_empty() {
            let dry = plan.settings.firewall.dry_run;
            self.sync = Some(super::api_check::spawn_sync(api, changed, dry, self.synced.clone()));
        }
    }

    pub fn stop(&mut self) {
        for task in [self.get.take(), self.sync.take(), self.walker.take()]
            .into_iter()
            .flatten()
        {
            task.abort();
        }
    }
}

impl Drop for Reads {
    fn drop(&mut self) {
        self.stop();
    }
}
