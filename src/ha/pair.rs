//! The pair policy (docs/ha.md, What the daemon calls): pure, time passed
//! in, answering with values the daemon performs. It owns the role as the
//! daemon last acted on it and the peer's holds as last read; it decides
//! whether a push may start, whether a new event is mailed, whether sync
//! runs, and what a role change means (an event, every belief unknown).

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::time::SystemTime;

use super::peer::{PeerError, PeerHold};
use super::role::{Role, RoleKind};
use crate::firewall::decide::Want;
use crate::state::Hold;

/// A daemon event of the pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HaEvent {
    /// This host took the virtual address.
    BecameActive { address: IpAddr },
    /// This host lost it; a push already under way still finishes.
    LostAddress { address: IpAddr },
    /// The role at start (logged only: a restart is not a takeover).
    StartedAs { role: RoleKind, address: IpAddr },
    /// The peer's holds cannot be read; the ones last read are kept.
    PeerUnreadable { error: PeerError },
    /// The peer's holds can be read again.
    PeerReadable,
}

impl HaEvent {
    /// The journald EVENT value.
    pub fn kind(&self) -> &'static str {
        match self {
            // Mailed: the mail kind's name (docs/events-and-mail.md).
            HaEvent::BecameActive { .. } => "BecameActive",
            HaEvent::LostAddress { .. } => "BecameStandby",
            HaEvent::StartedAs { .. } => "ha_start",
            HaEvent::PeerUnreadable { .. } => "ha_peer_unreadable",
            HaEvent::PeerReadable => "ha_peer_readable",
        }
    }
}

impl fmt::Display for HaEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HaEvent::BecameActive { address } => write!(
                f,
                "this host is now active: it holds {address}; every group's wanted state is sent once"
            ),
            HaEvent::LostAddress { address } => write!(
                f,
                "this host is now standby: {address} is no longer here; no new push starts"
            ),
            HaEvent::StartedAs { role, address } => write!(f, "started as {role} ({address})"),
            HaEvent::PeerUnreadable { error } => {
                write!(f, "{error}; the peer's holds last read are kept until they end")
            }
            HaEvent::PeerReadable => f.write_str("the peer's holds can be read again"),
        }
    }
}

/// What the daemon does after a role change or a read of the peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// A daemon event: logged with EVENT = `kind()`; mailed when `mail`.
    Event { event: HaEvent, mail: bool },
    /// Every group's belief becomes unknown (and is persisted like any
    /// belief change), so each group's wanted state is sent once, paced by
    /// `max_in_flight`. Arming, holds and histories are left as they are.
    ForgetBeliefs,
    /// This group's belief becomes unknown: the peer holds it, and may
    /// have pushed it (a manual push places a hold), so once the hold ends
    /// its wanted state is sent again.
    ForgetBelief { group: String },
}

/// Whether a push may start now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushGate {
    /// Send it.
    Send,
    /// Standby: do not send; log "standby: would push" when `log` (once
    /// per group and wanted state, so a wanted state is not logged every
    /// tick). Beliefs stay as they are.
    Standby { log: bool },
    /// Active, but the peer has not been read once since start: wait (at
    /// most one peer timeout), so a hold placed on the peer is known
    /// before the first push.
    WaitForPeer,
}

/// Where a group's hold comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldSource {
    Own,
    Peer,
}

/// The hold in force for a group: the later-ending of this host's and the
/// peer's, so neither shortens the other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EffectiveHold {
    pub until: SystemTime,
    pub reason: String,
    pub source: HoldSource,
}

/// The pair policy. One per daemon.
#[derive(Debug)]
pub struct Pair {
    /// `None`: no `[ha]`; always active, nothing of this applies.
    address: Option<IpAddr>,
    /// The first role was seen (see [`Pair::pending`]).
    started: bool,
    role: RoleKind,
    since: SystemTime,
    /// Wanted states already logged as "standby: would push".
    logged: BTreeMap<String, Want>,
    peer: BTreeMap<String, PeerHold>,
    peer_read: bool,
    peer_error: Option<PeerError>,
}

impl Pair {
    /// A host without `[ha]`: always active.
    pub fn single() -> Pair {
        Pair {
            address: None,
            started: true,
            role: RoleKind::Active,
            since: SystemTime::UNIX_EPOCH,
            logged: BTreeMap::new(),
            peer: BTreeMap::new(),
            peer_read: true,
            peer_error: None,
        }
    }

    /// A member of a pair watching `address`, starting in `role`. Active
    /// at start forgets every belief: the peer may have pushed while this
    /// host was down.
    pub fn new(address: IpAddr, role: &Role) -> (Pair, Vec<Effect>) {
        let pair = Pair {
            address: Some(address),
            started: true,
            role: role.kind,
            since: role.since,
            logged: BTreeMap::new(),
            peer: BTreeMap::new(),
            peer_read: false,
            peer_error: None,
        };
        let mut effects = vec![Effect::Event {
            event: HaEvent::StartedAs {
                role: role.kind,
                address,
            },
            mail: false,
        }];
        if role.kind == RoleKind::Active {
            effects.push(Effect::ForgetBeliefs);
        }
        (pair, effects)
    }

    /// A member of a pair watching `address` whose first role is not known
    /// yet: standby (nothing is sent) until [`Pair::on_role`] gives it,
    /// which then answers as [`Pair::new`] does.
    pub fn pending(address: IpAddr) -> Pair {
        let (mut p, _) = Pair::new(
            address,
            &Role::new(RoleKind::Standby, SystemTime::UNIX_EPOCH, tokio::time::Instant::now()),
        );
        p.started = false;
        p
    }

    /// The address watched, when paired.
    pub fn address(&self) -> Option<IpAddr> {
        self.address
    }

    pub fn role(&self) -> RoleKind {
        self.role
    }

    /// Since when this host has had its role (wall clock, for status).
    pub fn since(&self) -> SystemTime {
        self.since
    }

    /// Whether this host is one of a pair (`[ha]` set).
    pub fn paired(&self) -> bool {
        self.address.is_some()
    }

    /// A new value from the role watcher.
    pub fn on_role(&mut self, role: &Role) -> Vec<Effect> {
        let Some(address) = self.address else {
            return Vec::new();
        };
        if !self.started {
            let (mut p, effects) = Pair::new(address, role);
            std::mem::swap(&mut p.peer, &mut self.peer);
            p.peer_read = self.peer_read;
            p.peer_error = self.peer_error.take();
            *self = p;
            return effects;
        }
        if role.kind == self.role {
            return Vec::new();
        }
        self.role = role.kind;
        self.since = role.since;
        self.logged.clear();
        match role.kind {
            RoleKind::Active => vec![
                Effect::Event {
                    event: HaEvent::BecameActive { address },
                    mail: true,
                },
                Effect::ForgetBeliefs,
            ],
            // Mailed although this host is now standby: if the address
            // left both hosts, no other mail would say so.
            RoleKind::Standby => vec![Effect::Event {
                event: HaEvent::LostAddress { address },
                mail: true,
            }],
        }
    }

    /// Before every push attempt (retries included), after the wanted
    /// state was decided and the holds checked.
    pub fn push(&mut self, group: &str, want: Want) -> PushGate {
        match self.role {
            RoleKind::Active if !self.peer_read => PushGate::WaitForPeer,
            RoleKind::Active => PushGate::Send,
            RoleKind::Standby => {
                let log = self.logged.get(group) != Some(&want);
                self.logged.insert(group.to_string(), want);
                PushGate::Standby { log }
            }
        }
    }

    /// Whether a push may start now, without asking for one group (the
    /// orphans' Actives, a manual push): active, and the peer read once.
    pub fn may_push(&self) -> bool {
        self.role == RoleKind::Active && self.peer_read
    }

    /// Whether the daemon's own sync (`sync = true`) may run.
    pub fn may_sync(&self) -> bool {
        self.role == RoleKind::Active
    }

    /// Whether a new event (group or daemon) is mailed; standby logs it.
    /// Mail already spooled is delivered whatever the role.
    pub fn mails_new_events(&self) -> bool {
        self.role == RoleKind::Active
    }

    /// A read of the peer's `/status` finished at `now`. A failure keeps
    /// the holds last read; each ends at its own time.
    pub fn on_peer(&mut self, read: Result<Vec<PeerHold>, PeerError>, now: SystemTime) -> Vec<Effect> {
        self.peer_read = true;
        let mut effects = Vec::new();
        match read {
            Ok(holds) => {
                let before = std::mem::take(&mut self.peer);
                for h in holds {
                    let later = self.peer.get(&h.group).is_none_or(|o| o.until < h.until);
                    if later {
                        self.peer.insert(h.group.clone(), h);
                    }
                }
                for (group, h) in &self.peer {
                    let new = before
                        .get(group)
                        .is_none_or(|b| b.until != h.until || b.reason != h.reason);
                    if new && h.until > now {
                        effects.push(Effect::ForgetBelief { group: group.clone() });
                    }
                }
                if self.peer_error.take().is_some() {
                    effects.push(Effect::Event {
                        event: HaEvent::PeerReadable,
                        mail: false,
                    });
                }
            }
            Err(error) => {
                if self.peer_error.is_none() {
                    effects.push(Effect::Event {
                        event: HaEvent::PeerUnreadable { error: error.clone() },
                        mail: false,
                    });
                }
                self.peer_error = Some(error);
            }
        }
        self.peer.retain(|_, h| h.until > now);
        effects
    }

    /// Whether the peer's `/status` was read and its last read worked.
    pub fn peer_answers(&self) -> bool {
        self.peer_read && self.peer_error.is_none()
    }

    /// Why the peer cannot be read, while it cannot (for status).
    pub fn peer_error(&self) -> Option<&PeerError> {
        self.peer_error.as_ref()
    }

    /// The peer's holds in force at `now` (for status, under its own key).
    pub fn peer_holds(&self, now: SystemTime) -> impl Iterator<Item = &PeerHold> {
        self.peer.values().filter(move |h| h.until > now)
    }

    /// Whether a hold of the peer's is on `group`: one that ran out counts
    /// until [`Pair::expire_peer`] ends it, as this host's own holds do.
    pub fn peer_held(&self, group: &str) -> bool {
        self.peer.contains_key(group)
    }

    /// Whether the peer holds any group (most ticks: none).
    pub fn peer_holds_any(&self) -> bool {
        !self.peer.is_empty()
    }

    /// The peer's holds that ended by `now`, removed; their groups.
    pub fn expire_peer(&mut self, now: SystemTime) -> Vec<String> {
        let ended: Vec<String> = self
            .peer
            .iter()
            .filter(|(_, h)| h.until <= now)
            .map(|(g, _)| g.clone())
            .collect();
        for g in &ended {
            self.peer.remove(g);
        }
        ended
    }

    /// The hold in force for `group` at `now`: this host's own (`own`, as
    /// state.json keeps it) or the peer's, whichever ends later.
    pub fn hold(&self, group: &str, own: Option<&Hold>, now: SystemTime) -> Option<EffectiveHold> {
        let own = own.filter(|h| h.until > now).map(|h| EffectiveHold {
            until: h.until,
            reason: h.reason.clone(),
            source: HoldSource::Own,
        });
        let peer = self.peer.get(group).filter(|h| h.until > now).map(|h| EffectiveHold {
            until: h.until,
            reason: h.reason.clone(),
            source: HoldSource::Peer,
        });
        match (own, peer) {
            (Some(o), Some(p)) if p.until > o.until => Some(p),
            (Some(o), _) => Some(o),
            (None, p) => p,
        }
    }
}

#[cfg(test)]
mod tests;
