//! The shell's own firewall tasks besides pushes: the read-only Get every
//! `check_every`, the sync of definitions (docs/firewall-api.md) and, with
//! `[snmp]`, the walk of the tunnel table every `interval` (docs/health.md,
//! "The firewall's own view"). All are owned: never two of a kind at once,
//! cancelled at a reload (the Get of the old settings gives way to one of
//! the new at once) and at shutdown. The walk runs apart from the loop, so
//! a slow or dead agent delays no probe, push or mail.

use std::collections::VecDeque;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::core::Core;
use super::core::definitions::SyncNote;
use crate::config::Plan;
use crate::control::Reply;
use crate::firewall::api::Api;
use crate::firewall::sync::{Gate, Permit, SlotRequest};

pub struct Reads {
    /// The API for the Get and the sync, when a password is at hand.
    api: Option<Api>,
    next_get: Instant,
    get: Option<JoinHandle<()>>,
    /// Syncs under way (`sync = true`'s and those `failoverd sync` asked
    /// for), each sending one group after the other.
    syncs: Vec<JoinHandle<()>>,
    /// What the syncs tell the core: definitions accepted, requests over.
    synced: mpsc::UnboundedSender<SyncNote>,
    /// The syncs ask here for a slot before each request; granted at the
    /// tick, within `max_in_flight` beside the pushes.
    gate: Gate,
    grants: mpsc::UnboundedReceiver<SlotRequest>,
    pending: VecDeque<SlotRequest>,
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
    pub fn new(plan: &Plan, synced: mpsc::UnboundedSender<SyncNote>, walks: mpsc::Sender<Read>) -> Reads {
        let (gate, grants) = Gate::new();
        Reads {
            gate,
            grants,
            pending: VecDeque::new(),
            api: api_for(plan),
            next_get: Instant::now(),
            get: None,
            syncs: Vec::new(),
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
            for task in self.get.take().into_iter().chain(self.syncs.drain(..)) {
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
    /// Returns how many sync requests it granted a slot (see [`grant`](Self::grant)).
    pub fn tick(&mut self, core: &Core, now: Instant) -> usize {
        let granted = self.grant(core);
        let plan = core.plan();
        if now < self.next_get || !core.may_call_firewall() {
            return granted;
        }
        self.next_get = crate::time::mono_add(now, plan.settings.firewall.check_every);
        let running = self.get.as_ref().is_some_and(|t| !t.is_finished());
        if let Some(api) = self.api.clone().filter(|_| !running) {
            let defs = plan.groups.iter().map(|g| g.def.clone()).collect();
            self.get = Some(super::api_check::spawn(api, defs, self.walks.clone()));
        }
        granted
    }

    /// Grants waiting sync requests a slot, oldest first, while the core
    /// allows (a free slot within `max_in_flight`, no push of that group
    /// out); each permit, dropped, tells the core its slot is free. The
    /// core counts the returned number at once, before it decides pushes.
    fn grant(&mut self, core: &Core) -> usize {
        while let Ok(r) = self.grants.try_recv() {
            self.pending.push_back(r);
        }
        let mut granted = 0;
        let mut waiting = VecDeque::new();
        while let Some((group, tx)) = self.pending.pop_front() {
            if tx.is_closed() {
                continue;
            }
            if !core.may_define(&group, granted) {
                waiting.push_back((group, tx));
                continue;
            }
            let done = self.synced.clone();
            // Counted even if the task is gone: the dropped permit says Done.
            granted += 1;
            let _ = tx.send(Permit::new(move || {
                let _ = done.send(SyncNote::Done);
            }));
        }
        self.pending = waiting;
        granted
    }

    /// A standby sends nothing: syncs under way stop when the host
    /// becomes standby.
    pub fn sync(&mut self, core: &Core) {
        if !core.may_sync() {
            for old in self.syncs.drain(..) {
                old.abort();
            }
        }
    }

    /// `sync = true`: sends `groups`' definitions (the core chose them),
    /// beside any sync still under way.
    pub fn define(&mut self, core: &Core, groups: Vec<String>) {
        self.syncs.retain(|t| !t.is_finished());
        let Some(api) = self.api.clone().filter(|_| core.may_sync()) else {
            return;
        };
        let dry = core.plan().settings.firewall.dry_run;
        let gate = self.gate.clone();
        let task = super::api_check::spawn_sync(api, groups, dry, gate, self.synced.clone());
        self.syncs.push(task);
    }

    /// A `failoverd sync` routed through the daemon: run as the command
    /// would (src/firewall/sync.rs), its outcome the reply.
    pub fn manual(
        &mut self,
        core: &Core,
        group: Option<String>,
        changed_only: bool,
        reply: Option<oneshot::Sender<Reply>>,
    ) {
        self.syncs.retain(|t| !t.is_finished());
        let Some(api) = self.api.clone() else {
            let _ = reply.map(|r| r.send(Reply::err("the daemon has no firewall password to send with")));
            return;
        };
        let plan = core.plan();
        let defs: Vec<_> = plan.groups.iter().map(|g| g.def.clone()).collect();
        let dry = plan.settings.firewall.dry_run;
        let gate = self.gate.clone();
        self.syncs.push(tokio::spawn(async move {
            let only = group.as_deref();
            let ask = crate::firewall::sync::Ask {
                only,
                changed_only,
                dry,
            };
            let outcome = crate::firewall::sync::run(&api, &defs, ask, Some(&gate)).await;
            for l in &outcome.lines {
                tracing::info!(GROUP = %l.group, EVENT = "sync", ok = l.ok, "failoverd sync: {}: {}", l.group, l.text);
            }
            let body = serde_json::to_value(&outcome).unwrap_or_default();
            let _ = reply.map(|r| r.send(Reply::ok(body)));
        }));
    }

    pub fn stop(&mut self) {
        let tasks = [self.get.take(), self.walker.take()].into_iter().flatten();
        for task in tasks.chain(self.syncs.drain(..)) {
            task.abort();
        }
    }
}

impl Drop for Reads {
    fn drop(&mut self) {
        self.stop();
    }
}
