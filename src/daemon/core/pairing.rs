//! The core's side of an active/standby pair (docs/ha.md): the role and the
//! peer's holds come in as inputs; the [`Pair`] is asked before every push
//! attempt, before a sync and before a new event's mail. Standby: pushes
//! are decided and logged ("standby: would push"), never sent; a manual
//! push is not sent and places no hold: its reply names the active host.

use std::collections::BTreeSet;

use super::{Core, Effect, Manual};
use crate::config::names::Name;
use crate::control::Reply;
use crate::daemon::persist::Clocks;
use crate::firewall::decide::Want;
use crate::ha::pair::{Effect as PairEffect, HaEvent, Pair, PushGate};
use crate::ha::peer::{PeerError, PeerStatus};
use crate::ha::{Role, RoleKind};
use crate::mail::event::{DaemonKind, Event, Kind};
use crate::state::Belief;

/// The pair of `plan`'s `[ha]`: waiting for its first role, or single.
pub(super) fn pair_for(ha: Option<&crate::config::settings::Ha>) -> Pair {
    match ha {
        Some(ha) => Pair::pending(ha.address),
        None => Pair::single(),
    }
}

/// Asks the pair before a push attempt; logs the standby's would-be push.
pub(super) fn gate(pair: &mut Pair, group: &str, want: Want) -> bool {
    match pair.push(group, want) {
        PushGate::Send => true,
        PushGate::WaitForPeer => false,
        PushGate::Standby { log } => {
            if log {
                tracing::info!(GROUP = %group, ROLE = "standby", EVENT = "standby_push", "standby: would push {want} {group}");
            }
            false
        }
    }
}

impl Core {
    pub fn pair(&self) -> &Pair {
        &self.pair
    }

    /// Whether the daemon's own sync may run now (standby: no).
    pub fn may_sync(&self) -> bool {
        self.pair.may_sync()
    }

    /// Whether any request may go to the firewall (the read-only Get
    /// included): a standby sends none at all (docs/ha.md).
    pub fn may_call_firewall(&self) -> bool {
        self.pair.role() == RoleKind::Active
    }

    /// Whether a new event is mailed now (standby: logged only).
    pub fn mails_new_events(&self) -> bool {
        self.pair.mails_new_events()
    }

    /// "active" or "standby", for the ROLE field of push log lines.
    pub(super) fn role_word(&self) -> &'static str {
        match self.pair.role() {
            RoleKind::Active => "active",
            RoleKind::Standby => "standby",
        }
    }

    /// A new value of the role watcher (the first one included).
    pub fn role(&mut self, role: &Role, clocks: Clocks) -> Vec<Effect> {
        let fx = self.pair.on_role(role);
        if self.pair.role() == RoleKind::Standby {
            self.manual_to_standby();
        }
        self.pair_effects(fx, clocks);
        self.take()
    }

    /// A read of the peer's `/status` finished.
    pub fn peer(&mut self, read: Result<PeerStatus, PeerError>, clocks: Clocks) -> Vec<Effect> {
        let before = self.peer_held_groups();
        self.peer_role = read.as_ref().ok().and_then(|s| s.role.clone());
        let fx = self.pair.on_peer(read.map(|s| s.holds), clocks.wall);
        let after = self.peer_held_groups();
        // A peer hold that went (released there, or ended) disarms the
        // group here too, as the end of an own hold does.
        for g in before.difference(&after) {
            self.peer_hold_ended(g, clocks);
        }
        self.pair_effects(fx, clocks);
        self.decide_soon = true;
        self.take()
    }

    fn peer_held_groups(&self) -> BTreeSet<String> {
        self.plan
            .groups
            .iter()
            .map(|g| g.name())
            .filter(|g| self.pair.peer_held(g))
            .map(str::to_string)
            .collect()
    }

    /// Peer holds whose time is up end, each disarming its group (a tick).
    pub(super) fn end_peer_holds(&mut self, clocks: Clocks) {
        for g in self.pair.expire_peer(clocks.wall) {
            self.peer_hold_ended(&g, clocks);
        }
    }

    fn peer_hold_ended(&mut self, group: &str, clocks: Clocks) {
        if let Some(&i) = self.index.get(group) {
            self.pushes.disarm(i, clocks.mono);
            tracing::info!(GROUP = %group, EVENT = "hold_ended", "the peer's hold ended; the group is disarmed until seen up");
        }
    }

    /// The effective hold: this host's own or the peer's.
    pub(super) fn held_here_or_peer(&self, name: &str) -> bool {
        self.held(name) || self.pair.peer_held(name)
    }

    fn pair_effects(&mut self, fx: Vec<PairEffect>, clocks: Clocks) {
        for e in fx {
            match e {
                PairEffect::Event { event, mail } => self.pair_event(event, mail, clocks),
                PairEffect::ForgetBeliefs => {
                    for i in 0..self.pushes.groups.len() {
                        self.forget_belief(i);
                    }
                }
                PairEffect::ForgetBelief { group } => {
                    if let Some(&i) = self.index.get(group.as_str()) {
                        self.forget_belief(i);
                    }
                }
            }
        }
    }

    /// Group `i`'s belief becomes unknown, so its wanted state is sent once
    /// (persisted like any belief change).
    fn forget_belief(&mut self, i: usize) {
        let g = &mut self.pushes.groups[i];
        g.slot.belief = Belief::Unknown;
        let name = g.name.clone();
        if !self.dry() {
            self.firewall_mut().beliefs.insert(name, Belief::Unknown);
        }
        self.dirty = true;
        self.decide_soon = true;
    }

    fn pair_event(&mut self, event: HaEvent, mail: bool, clocks: Clocks) {
        let kind = match &event {
            HaEvent::BecameActive { .. } => Some(DaemonKind::BecameActive),
            HaEvent::LostAddress { .. } => Some(DaemonKind::BecameStandby),
            _ => None,
        };
        match (&event, kind) {
            (HaEvent::PeerUnreadable { .. }, _) => {
                tracing::warn!(EVENT = event.kind(), ROLE = self.role_word(), "{event}");
            }
            (_, Some(_)) => tracing::warn!(EVENT = event.kind(), ROLE = self.role_word(), "{event}"),
            _ => tracing::info!(EVENT = event.kind(), ROLE = self.role_word(), "{event}"),
        }
        // Both role changes are mailed whatever the role: if the address
        // left both hosts, no other mail would say so.
        if let Some(k) = kind {
            let e = Event::new(Kind::Daemon(k), event.to_string(), clocks.wall);
            self.record(&e);
            if mail {
                self.effects.push(Effect::Mail(Box::new(e)));
            }
        }
    }

    /// Every event, mailed or not, for the history and the hooks
    /// (daemon/taps.rs); hooks act on it only when this host is active.
    pub(super) fn record(&mut self, event: &Event) {
        let (index, connections) = (&self.index, &self.plan.settings.connections);
        let shared = |s: &str| plan_name(index, connections, s);
        self.shadow.note_shared(event, &shared);
        let recorded = crate::daemon::taps::Recorded {
            event: event.clone(),
            active: self.pair.mails_new_events(),
        };
        self.effects.push(Effect::Record(Box::new(recorded)));
    }

    /// A new event's mail: sent when active, logged only on the standby.
    pub(super) fn mail(&mut self, event: Event) {
        self.record(&event);
        if self.pair.mails_new_events() {
            self.effects.push(Effect::Mail(Box::new(event)));
        } else {
            // The event logged its own EVENT=<kind> line already; this
            // one says only that it was not mailed.
            tracing::info!(
                EVENT = "standby_not_mailed",
                KIND = event.kind.name(),
                ROLE = "standby",
                GROUP = event.group.as_deref().unwrap_or(""),
                "standby: not mailed: {}",
                event.reason
            );
        }
    }

    /// Whether a push may start now (a standby, or an active host that has
    /// not read its peer yet, starts none).
    pub(super) fn may_push(&self) -> bool {
        self.pair.may_push()
    }

    /// `failoverd push` on the standby: nothing is sent and no hold is
    /// placed (docs/ha.md); the reply is not accepted and names the active
    /// host: the peer when its status answers, else "the active host".
    pub(super) fn manual_on_standby(&mut self, group: &str, m: Manual) {
        let peer = self.plan.settings.ha.as_ref().map_or("", |h| h.peer.as_str());
        let active = if self.pair.peer_answers() {
            match self.peer_role.as_deref() {
                Some("active") => format!("the active host, the peer at {peer} (its status says active)"),
                Some("standby") => format!(
                    "the host that holds the address: the peer at {peer} says it is standby too, so neither host pushes until one of them holds it"
                ),
                _ => format!("the active host (the peer at {peer} answers but does not say its role)"),
            }
        } else {
            let why = match self.pair.peer_error() {
                Some(e) => e.to_string(),
                None => "not read yet".to_string(),
            };
            format!("the active host (the peer's status at {peer} is unknown: {why})")
        };
        let msg =
            format!("this host is standby: nothing was sent and no hold placed; run `failoverd push` on {active}");
        tracing::info!(GROUP = %group, ROLE = "standby", EVENT = "standby_push", "{msg}");
        let body = serde_json::json!({"accepted": false, "answer": msg, "hold": null, "standby": true});
        self.effects.push(Effect::Reply {
            to: m.to,
            reply: Reply::ok(body),
        });
    }

    /// Manual pushes still waiting when the address left: answered as on
    /// the standby (nothing sent, no hold).
    fn manual_to_standby(&mut self) {
        for (group, m) in std::mem::take(&mut self.manual) {
            self.manual_on_standby(&group, m);
        }
    }
}

/// The plan's copy of group or connection name `s`, if the plan has one.
pub(super) fn plan_name(
    index: &std::collections::HashMap<Name, usize>,
    connections: &crate::config::settings::Connections,
    s: &str,
) -> Option<Name> {
    let group = index.get_key_value(s).map(|(k, _)| k.clone());
    group.or_else(|| connections.get(s).map(|c| c.name.clone()))
}
