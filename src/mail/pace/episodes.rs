//! The recovery exception of `max_per_hour` (contract section 7): which
//! events open and end an *episode* (group down until up, API or SNMP
//! unusable until usable, a disagreement until agreement), and which open
//! episodes had their first mail go out. A recovery that ends such an
//! episode is never held for the hourly digest, so the admin's last mail
//! never says DOWN for an hour after the site is back.

use std::collections::HashSet;

use crate::mail::event::{DaemonKind, Event, Kind};

/// An episode: the kind that opened it, and its group where it has one
/// (the API and SNMP are one episode for the whole firewall).
type Episode = (Kind, Option<String>);

/// The open episodes whose opening event went out in a mail (a batch or a
/// digest). Not persisted: after a restart no hour of mail history
/// survives either, so nothing is held that this would let through.
#[derive(Debug, Default)]
pub struct Episodes {
    mailed: HashSet<Episode>,
}

/// The episode `e` opens (`true`) or ends (`false`), if any.
fn role(e: &Event) -> Option<(Episode, bool)> {
    use DaemonKind as D;
    let (opener, opens, scoped) = match e.kind {
        Kind::GroupDown => (Kind::GroupDown, true, true),
        Kind::GroupUp => (Kind::GroupDown, false, true),
        Kind::Daemon(D::ApiUnusable) => (e.kind, true, false),
        Kind::Daemon(D::ApiUsable) => (Kind::Daemon(D::ApiUnusable), false, false),
        Kind::Daemon(D::SnmpUnusable) => (e.kind, true, false),
        Kind::Daemon(D::SnmpUsable) => (Kind::Daemon(D::SnmpUnusable), false, false),
        Kind::Daemon(D::FirewallDisagrees) => (e.kind, true, true),
        Kind::Daemon(D::FirewallAgrees) => (Kind::Daemon(D::FirewallDisagrees), false, true),
        Kind::Daemon(D::DefinitionDiffers) => (e.kind, true, true),
        Kind::Daemon(D::DefinitionInStep) => (Kind::Daemon(D::DefinitionDiffers), false, true),
        _ => return None,
    };
    let scope = if scoped { e.group.clone() } else { None };
    Some(((opener, scope), opens))
}

impl Episodes {
    /// `e` went out in a mail: an opener's episode now had its first mail;
    /// a recovery closes its episode.
    pub fn mailed(&mut self, e: &Event) {
        match role(e) {
            Some((ep, true)) => {
                self.mailed.insert(ep);
            }
            Some((ep, false)) => {
                self.mailed.remove(&ep);
            }
            None => {}
        }
    }

    /// `e` was held back for a digest: an episode it opens has had no
    /// mail (yet); one it ends is over.
    pub fn held(&mut self, e: &Event) {
        if let Some((ep, _)) = role(e) {
            self.mailed.remove(&ep);
        }
    }

    /// Whether `e` is a recovery that ends an episode whose first mail
    /// went out: it goes with the next coalesced mail, whatever the limit.
    pub fn ends_mailed(&self, e: &Event) -> bool {
        matches!(role(e), Some((ep, false)) if self.mailed.contains(&ep))
    }
}
