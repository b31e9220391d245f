//! The daemon's core: every decision and every fact the decisions rest on,
//! with no I/O. It owns group health (through the engine), the push loop's
//! rules and slots, beliefs, holds, decided DeActives, orphaned restarts,
//! manual pushes and the saved state, and answers each input (an
//! observation, a push's answer, a control request, a reload, a tick, the
//! stop) with [`Effect`]s for the shell to carry out: send a push, save,
//! mail, notify systemd, reply. Time is passed in, so every scenario is a
//! table test (docs/daemon.md).
//!
//! Each fact has one owner here: a hold is the state file's group entry
//! (the rules read it, never a copy); a decided DeActive is `decided`
//! (written into the state file only when saving); beliefs are the push
//! slots (copied into the state file as they change, for the next start).

pub mod api_health;
mod control;
pub mod definitions;
mod firewall_view;
pub mod history;
mod page_view;
mod pairing;
mod pushing;
mod reload;
pub use reload::ConfigLoad;
mod saving;
mod status;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

use super::orphans::Orphans;
use super::persist::{self, Clocks};
use super::pushes::Pushes;
use super::send::Push;
use crate::config::Plan;
use crate::config::names::Name;
use crate::control::Reply;
use crate::engine::{Engine, Output};
use crate::firewall::decide::Want;
use crate::mail::event::Event;
use crate::probe::schedule::Observation;
use crate::state::{Belief, StateFile};

/// Which settings' sender a push goes through: each applied plan gets the
/// next number, so an orphaned restart's Active still goes to the firewall
/// of the settings it came from.
pub type Generation = u64;

/// Which control request a reply answers (the shell keeps the channel).
pub type ReplyTo = u64;

/// What the core asks the shell to do, in order.
#[derive(Debug, PartialEq)]
pub enum Effect {
    /// Send `push` through the sender of generation `via`; its answer comes
    /// back through [`Core::answered`].
    Push {
        push: Push,
        via: Generation,
    },
    /// Write [`Core::state`] to `state.json` now (fsynced), and tell
    /// [`Core::saved`] how it went. Comes before any push it must precede.
    Save,
    /// Write the status page's points to `page-history.bin` (every 5
    /// minutes; `last`: at stop, waited for).
    SaveHistory {
        last: bool,
    },
    /// Boxed: an event is large and most effects are small.
    Mail(Box<Event>),
    /// Every event, mailed or not, for the history and the hooks
    /// (daemon/taps.rs).
    Record(Box<crate::daemon::taps::Recorded>),
    /// A line for systemd's notify socket ("STATUS=…", "READY=1", …).
    Notify(String),
    Reply {
        to: ReplyTo,
        reply: Reply,
    },
    /// `sync = true`: send these groups' definitions (docs/definitions.md).
    Define(Vec<String>),
    /// A `failoverd sync` routed through the daemon: run it, and reply to
    /// `to` with its outcome.
    Sync {
        to: ReplyTo,
        group: Option<String>,
        changed_only: bool,
    },
}

/// A `failoverd push` routed through the daemon.
#[derive(Debug)]
struct Manual {
    want: Want,
    hold: Duration,
    to: ReplyTo,
}

/// A DeActive failoverd decided whose mail has not gone yet.
#[derive(Debug, Default)]
struct Decided {
    /// For a tunnel restart.
    restart: bool,
    /// The answer to the last try, when it will be tried again.
    last_answer: Option<String>,
}

/// The daemon's decisions and what they rest on.
pub struct Core {
    plan: Plan,
    /// The state file's content: holds (their one owner), saved health and
    /// rule memory, beliefs per firewall URL.
    state: StateFile,
    engine: Engine,
    pushes: Pushes,
    /// Group index by name, for answers and requests that name a group.
    index: HashMap<Name, usize>,
    /// The current settings' sender.
    generation: Generation,
    /// DeActives failoverd decided, by group, mailed once the firewall gave
    /// a final answer, or once an Active is wanted instead (so the mail
    /// names the push and its answer, once per decision, not once per
    /// retry). Saved with the state, so a crash does not lose the mail.
    decided: HashMap<String, Decided>,
    /// Manual pushes waiting for their group's slot, and those in flight.
    manual: BTreeMap<String, Manual>,
    manual_in_flight: HashMap<String, Manual>,
    /// Groups a reload dropped during a restart, until their Active is
    /// accepted, with the generation of the settings they came from.
    orphans: Orphans<Generation>,
    /// Pushes answered, by group and class, for /metrics.
    push_counts: BTreeMap<(Name, &'static str), u64>,
    dirty: bool,
    /// Whether the last write of state.json worked, and when to try again.
    saving: persist::Saving,
    /// Something the push decisions depend on changed: decide again as
    /// soon as the shell has drained what is queued, not at the next tick.
    decide_soon: bool,
    /// The pair (`[ha]`): asked before every push, sync and new mail.
    pair: crate::ha::pair::Pair,
    /// The role the peer's status last said it has ("active", "standby").
    peer_role: Option<String>,
    /// The status page's last hour of checks and day of events.
    history: history::History,
    /// The firewall's own view (`[snmp]`), when set.
    view: Option<crate::firewall::view::View>,
    /// Each group's carrying member as last read (`None`: no member), for
    /// the history's FirewallSwitched records (docs/history.md).
    carrying: BTreeMap<String, Option<String>>,
    /// This run's records for the page's shadow report (history/recent.rs).
    shadow: crate::history::recent::Recent,
    /// The firewall API's health and its episode (carried across reloads).
    api: api_health::ApiHealth,
    /// The definitions on the firewall against the files (periodic Get).
    definitions: definitions::Definitions,
    /// Sync requests out now, counted in `max_in_flight` with the pushes.
    defines_in_flight: usize,
    /// How the last load of the settings went.
    config: reload::ConfigLoad,
    effects: Vec<Effect>,
}

impl Core {
    /// The core of `plan`, from the saved `state` (as loaded at start).
    pub fn new(plan: Plan, mut state: StateFile, clocks: Clocks) -> Core {
        let persisted = state
            .groups
            .iter()
            .map(|(k, g)| (k.to_string(), persist::persisted(g)))
            .collect();
        let engine = Engine::new(&plan, &persisted);
        let history = history::History::new(history::aligned(clocks), engine.streams().len());
        state.firewalls.entry(plan.settings.firewall.url.clone()).or_default();
        let pushes = build_pushes(&plan, &state, &clocks);
        let pair = pairing::pair_for(plan.settings.ha.as_ref());
        let mut core = Core {
            pair,
            peer_role: None,
            index: index(&plan),
            view: firewall_view::view_of(&plan),
            carrying: BTreeMap::new(),
            shadow: crate::history::recent::Recent::default(),
            plan,
            state,
            engine,
            pushes,
            generation: 0,
            decided: HashMap::new(),
            manual: BTreeMap::new(),
            manual_in_flight: HashMap::new(),
            orphans: Orphans::default(),
            push_counts: BTreeMap::new(),
            dirty: true,
            saving: persist::Saving::default(),
            decide_soon: false,
            history,
            api: api_health::ApiHealth::default(),
            definitions: definitions::Definitions::default(),
            defines_in_flight: 0,
            config: reload::ConfigLoad::applied(clocks.wall),
            effects: Vec::new(),
        };
        core.share_names();
        core
    }

    /// The start: mails for DeActives an earlier run decided but did not
    /// see answered, and READY for systemd.
    pub fn start(&mut self) -> Vec<Effect> {
        self.mail_state_lost(SystemTime::now());
        self.mail_decided_before_stop();
        let ready = format!("READY=1\nSTATUS={}", self.status_line());
        self.effects.push(Effect::Notify(ready));
        self.take()
    }

    fn take(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn pushes(&self) -> &Pushes {
        &self.pushes
    }

    /// What a [`Effect::Save`] writes.
    pub fn state(&self) -> &StateFile {
        &self.state
    }

    /// The current settings' generation.
    pub fn generation(&self) -> Generation {
        self.generation
    }

    /// Generations still needed: the current one and the orphans'.
    pub fn generations_in_use(&self) -> Vec<Generation> {
        let mut g = self.orphans.senders();
        g.push(self.generation);
        g
    }

    /// Requests out now (orphans' included).
    pub fn in_flight(&self) -> usize {
        self.pushes.in_flight()
    }

    /// Whether the decisions should be made again now (see `decide_soon`).
    pub fn wants_decision(&self) -> bool {
        self.decide_soon
    }

    fn dry(&self) -> bool {
        self.plan.settings.firewall.dry_run
    }

    /// Whether an admin's hold is on group `name`. A hold that ran out
    /// counts until the tick that ends it (and disarms the group), so no
    /// decision falls between the two.
    fn held(&self, name: &str) -> bool {
        self.state.groups.get(name).is_some_and(|g| g.hold.is_some())
    }

    fn firewall_mut(&mut self) -> &mut crate::state::FirewallState {
        let url = self.plan.settings.firewall.url.clone();
        self.state.firewalls.entry(url).or_default()
    }

    /// One check's result (its stream id is the current engine's).
    pub fn observe(&mut self, obs: &Observation, clocks: Clocks) -> Vec<Effect> {
        let outputs = self.engine.observe(obs);
        self.history.record(obs, &outputs, clocks);
        if self.engine.is_anchor(obs.stream) {
            // The guard may have waited for this check.
            self.decide_soon = true;
        }
        if outputs.is_empty() {
            return self.take();
        }
        let mut gap = false;
        let mut changed = false;
        for o in outputs {
            match o {
                Output::Event(e) => self.group_event(&e),
                Output::Gap { .. } => gap = true,
                Output::GroupState { group, state } => {
                    self.pushes.health(group, state, obs.at);
                    self.decide_soon = true;
                    let name = self.plan.groups[group].shared_name();
                    self.state.groups.entry(name).or_default().since = Some(clocks.wall);
                    changed = true;
                }
            }
        }
        if changed {
            self.effects
                .push(Effect::Notify(format!("STATUS={}", self.status_line())));
        }
        if gap {
            tracing::warn!(
                EVENT = "late_tick",
                "checks were late by more than three intervals (paused?); every group is disarmed"
            );
            self.pushes.disarm_all(clocks.mono);
        }
        self.dirty = true;
        self.take()
    }

    fn group_event(&mut self, e: &crate::engine::GroupEvent) {
        let member = e.member.as_deref().or(e.to.as_deref()).unwrap_or("");
        tracing::info!(GROUP = %e.group, MEMBER = member, EVENT = ?e.kind, ACTIVE = e.expected_active.as_deref().unwrap_or(""), "{}: {}", e.group, e.text);
        let g = self.index.get(e.group.as_str()).map(|&i| &self.plan.groups[i]);
        if !g.is_some_and(|g| g.def.mail && g.intent().is_none()) {
            self.record(&super::mailing::group_event(e));
        } else {
            let mut event = super::mailing::group_event(e);
            // With [snmp]: each member's firewall view at the time, and why
            // a member failoverd sees down may still look fine there.
            if let (Some(view), Some(m)) = (&self.view, e.member.as_deref())
                && e.kind == crate::health::group::EventKind::MemberDown
                && let Some(why) = view.down_reason(&e.group, m)
            {
                event.reason = format!("{}; {why}", event.reason);
            }
            let summary = self.firewall_summary(&e.group);
            self.mail(event.with_firewall(summary));
        }
    }

    /// Every 100 ms: holds that ended, groups armed again, the decisions,
    /// and state.json when due.
    pub fn tick(&mut self, clocks: Clocks) -> Vec<Effect> {
        self.end_holds(clocks);
        self.end_peer_holds(clocks);
        let engine = &self.engine;
        for i in self.pushes.rearm(|i| engine.good_sent_after(i)) {
            let name = self.plan.groups[i].name();
            tracing::info!(GROUP = %name, EVENT = "armed", "{name} was seen up since it was disarmed: armed again");
        }
        self.decide(clocks);
        // A write that failed is tried again after a minute, not each tick;
        // a push still writes its belief first, whatever the schedule.
        if self.saving.due(self.dirty, clocks.mono) {
            self.save(clocks);
        }
        if self.history.save_due(clocks.mono) {
            self.effects.push(Effect::SaveHistory { last: false });
        }
        self.take()
    }

    /// Decides now (when [`Core::wants_decision`] says so).
    pub fn decide_now(&mut self, clocks: Clocks) -> Vec<Effect> {
        self.decide(clocks);
        self.take()
    }

    /// "3 groups: 1 up, 1 down, 1 unknown", from the engine's tally (no
    /// walk over the groups on each change).
    pub fn status_line(&self) -> String {
        let t = self.engine.tally();
        format!(
            "{} groups: {} up, {} down, {} unknown",
            t.total(),
            t.up,
            t.down,
            t.unknown
        )
    }

    /// What `failoverd status` lists as problems.
    pub fn problems(&self, state_file: &std::path::Path) -> Vec<String> {
        let mut p = Vec::new();
        if !self.saving.ok() {
            p.push(format!("state not persisted: cannot write {}", state_file.display()));
        }
        p.extend(self.state_lost_problem());
        if let Some(r) = self.pushes.paused() {
            p.push(format!("the firewall API refuses us: {r}"));
        } else if let api_health::ApiState::Unusable(why) = self.api.state() {
            p.push(format!("the firewall API does not answer: {why}"));
        }
        if self.pushes.guard_tripped() {
            p.push("the guard holds: DeActives are withheld".into());
        }
        if let Some((at, why)) = &self.config.rejected {
            p.push(format!(
                "reload rejected at {}: {why}; the old settings keep running (failoverd check lists the errors)",
                crate::time::rfc3339(*at)
            ));
        }
        p
    }

    /// SIGTERM/SIGINT: no new push starts (but a restart's Active).
    pub fn stopping(&mut self) -> Vec<Effect> {
        self.effects.push(Effect::Notify("STOPPING=1".into()));
        self.pushes.close();
        // The shell aborts its syncs next: their slots are free.
        self.defines_abandoned();
        self.take()
    }

    /// The stop's end: what was wanted and not confirmed is recorded, and
    /// the state saved.
    pub fn stopped(&mut self, clocks: Clocks) -> Vec<Effect> {
        self.record_unconfirmed(clocks);
        self.save(clocks);
        self.effects.push(Effect::SaveHistory { last: true });
        self.take()
    }

    fn record_unconfirmed(&mut self, clocks: Clocks) {
        if self.dry() {
            return;
        }
        let mut unconfirmed = BTreeMap::new();
        for g in &mut self.pushes.groups {
            let d = g.policy.decide(clocks.mono, true, false);
            if let Some(w) = d.want.filter(|w| !g.slot.belief.is(*w)) {
                unconfirmed.insert(g.name.clone(), w);
            }
        }
        self.firewall_mut().unconfirmed = unconfirmed;
    }
}

/// Group index by name.
fn index(plan: &Plan) -> HashMap<Name, usize> {
    plan.groups
        .iter()
        .enumerate()
        .map(|(i, g)| (g.shared_name(), i))
        .collect()
}

/// The push loop's state for `plan`: beliefs of its firewall URL and rule
/// memory from `state`.
fn build_pushes(plan: &Plan, state: &StateFile, clocks: &Clocks) -> Pushes {
    // Borrowed: a copy of the firewall's maps (every group's belief and
    // when it was set) was built and dropped at each start and reload.
    let fw = state.firewalls.get(&plan.settings.firewall.url);
    let mut pushes = Pushes::new(plan, |g| {
        fw.and_then(|f| f.beliefs.get(g)).copied().unwrap_or(Belief::Unknown)
    });
    for (i, g) in plan.groups.iter().enumerate() {
        if let Some(gs) = state.groups.get(g.name()) {
            persist::restore(gs, &mut pushes.groups[i].policy, clocks);
        }
    }
    pushes
}

/// Wall-clock "now" as a jitter in [0, 1), for the slot's backoff.
fn jitter(wall: SystemTime) -> f64 {
    let micros = wall
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_micros();
    f64::from(micros % 1000) / 1000.0
}
