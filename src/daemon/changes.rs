//! A reload as a typed difference: what the new plan changes against the
//! running one. Pure, so every case is table-tested; the daemon applies it.

use std::collections::{BTreeSet, HashMap};

use crate::config::settings::Connection;
use crate::config::{Group, Plan};
use crate::engine::Engine;
use crate::probe::StreamKey;

/// What a reload changes. Lists are sorted and hold names (groups) or
/// stream keys (check streams, anchors' included).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub streams_added: Vec<StreamKey>,
    pub streams_removed: Vec<StreamKey>,
    pub groups_added: Vec<String>,
    pub groups_removed: Vec<String>,
    /// Groups whose definition or whose members' connection settings
    /// changed: they lose their arming.
    pub groups_changed: Vec<String>,
    /// `[probe]` defaults.
    pub probe: bool,
    pub firewall: bool,
    pub guard: bool,
    pub mail: bool,
    /// `[http] rtt_histograms` or `target_states`: the next /metrics
    /// page shows them.
    pub metrics: bool,
    /// These two apply only at a restart.
    pub state_dir: bool,
    pub http_listen: bool,
}

impl Changes {
    /// Whether nothing at all changed.
    pub fn is_empty(&self) -> bool {
        *self == Changes::default()
    }

    /// Whether group `name` keeps running with its state but loses its arming.
    pub fn disarms(&self, name: &str) -> bool {
        self.groups_changed.iter().any(|g| g == name)
    }
}

/// The difference from `old` to `new`.
pub fn changes(old: &Plan, new: &Plan) -> Changes {
    let (streams_added, streams_removed) = added_removed(&streams(old), &streams(new));
    let names = |p: &Plan| p.groups.iter().map(|g| g.name().to_string()).collect::<BTreeSet<_>>();
    let (groups_added, groups_removed) = added_removed(&names(old), &names(new));
    // By name, looked up: linear in groups (a scan per group was quadratic).
    let by_name: HashMap<&str, &Group> = old.groups.iter().map(|g| (g.name(), g)).collect();
    let mut groups_changed: Vec<String> = new
        .groups
        .iter()
        .filter_map(|g| {
            let o = *by_name.get(g.name())?;
            let changed = o.def != g.def || connections(old, o) != connections(new, g);
            changed.then(|| g.name().to_string())
        })
        .collect();
    groups_changed.sort();
    let (o, n) = (&old.settings, &new.settings);
    Changes {
        streams_added,
        streams_removed,
        groups_added,
        groups_removed,
        groups_changed,
        probe: o.probe != n.probe,
        firewall: o.firewall != n.firewall,
        guard: o.guard != n.guard,
        mail: o.mail != n.mail,
        metrics: o.metrics != n.metrics,
        state_dir: o.state_dir != n.state_dir,
        http_listen: o.http_listen != n.http_listen,
    }
}

/// Every check stream of `plan`, as the engine would build them.
fn streams(plan: &Plan) -> BTreeSet<StreamKey> {
    Engine::new(plan, &Default::default())
        .streams()
        .into_iter()
        .cloned()
        .collect()
}

fn added_removed<T: Ord + Clone>(old: &BTreeSet<T>, new: &BTreeSet<T>) -> (Vec<T>, Vec<T>) {
    (
        new.difference(old).cloned().collect(),
        old.difference(new).cloned().collect(),
    )
}

/// A group's member connections' settings, in order.
fn connections<'a>(plan: &'a Plan, g: &Group) -> Vec<Option<&'a Connection>> {
    g.def
        .members
        .iter()
        .map(|m| plan.settings.connections.get(&m.name))
        .collect()
}
