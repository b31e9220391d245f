//! The daemon's one loop: observations into the engine, events out to the
//! log and mail, group health into the push loop, answers back, signals,
//! the systemd watchdog, and state saved as it changes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};

use super::notify::Notifier;
use super::orphans::Orphans;
use super::persist::{self, Clocks};
use super::pushes::{Note, Pushes};
use super::send::{DryRun, Live, Push, Sender};
use super::status::{self, whole_secs};
use crate::config::Plan;
use crate::control::{self, Reply, Request};
use crate::engine::{Engine, GroupEvent, Output};
use crate::exit;
use crate::firewall::api::{Answer, Api};
use crate::firewall::decide::Want;
use crate::health::target::State;
use crate::mail::outbox::{self, Mailer, Outbox};
use crate::mail::render::{Context, LocalZone};
use crate::mail::types::MailSettings;
use crate::probe::Prober;
use crate::probe::schedule::{Observation, Resolving, offset, spawn};
use crate::state::{Belief, Hold, StateDir, StateFile};
use std::collections::HashMap;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long the push in flight gets at SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(5);
const TICK: Duration = Duration::from_millis(100);

/// A `failoverd push` routed through the daemon.
pub(super) struct Manual {
    want: Want,
    hold: Duration,
    reply: oneshot::Sender<Reply>,
}

pub(super) struct Daemon {
    pub(super) plan: Plan,
    pub(super) dir: StateDir,
    pub(super) state: StateFile,
    pub(super) url: String,
    pub(super) engine: Engine,
    pub(super) pushes: Pushes,
    pub(super) sender: Arc<dyn Sender>,
    pub(super) notifier: Notifier,
    pub(super) done_tx: mpsc::UnboundedSender<(String, Answer)>,
    pub(super) mailer: Mailer,
    pub(super) outbox: Option<Outbox>,
    /// Manual pushes waiting for their group's slot, and those in flight.
    pub(super) manual: HashMap<String, Manual>,
    pub(super) manual_in_flight: HashMap<String, Manual>,
    pub(super) dirty: bool,
    /// Whether the last write of state.json worked, and when to try again.
    pub(super) saving: persist::Saving,
    /// Where the settings came from, for reloads, and `--dry-run`.
    pub(super) config: PathBuf,
    pub(super) dry_flag: bool,
    pub(super) streams: Vec<JoinHandle<()>>,
    /// DeActives failoverd decided, by group, mailed once the firewall gave
    /// a final answer, or once an Active is wanted instead (so the mail
    /// names the push and its answer, once per decision, not once per
    /// retry). Saved with the state, so a crash does not lose the mail.
    pub(super) decided: HashMap<String, Decided>,
    /// Groups dropped by a reload during a restart, until their Active is
    /// accepted.
    pub(super) orphans: Orphans<Arc<dyn Sender>>,
    /// Pushes answered, by group and class, for /metrics.
    pub(super) push_counts: BTreeMap<(String, String), u64>,
    /// Definitions the daemon's own sync got accepted, with their hashes.
    pub(super) synced_tx: mpsc::UnboundedSender<(String, String)>,
    /// The read-only Get: the API (when a password is at hand) and when next.
    pub(super) get_api: Option<Api>,
    pub(super) next_get: Instant,
    /// The Get and the sync running now: owned, never two of a kind at
    /// once, aborted at a reload (the sync; the Get too) and at shutdown.
    pub(super) get_task: Option<JoinHandle<()>>,
    pub(super) sync_task: Option<JoinHandle<()>>,
    /// Something the push decisions depend on changed (a group's state, an
    /// anchor's check, an answer): decide again as soon as the queues of
    /// observations and answers are drained, not at the next tick.
    pub(super) decide_soon: bool,
}

/// A DeActive failoverd decided whose mail has not gone yet.
#[derive(Debug, Default)]
pub(super) struct Decided {
    /// For a tunnel restart.
    restart: bool,
    /// The answer to the last try, when it will be tried again.
    last_answer: Option<String>,
}

/// The sender the plan asks for.
pub(super) fn make_sender(plan: &Plan) -> Result<Arc<dyn Sender>, String> {
    if plan.settings.firewall.dry_run {
        return Ok(Arc::new(DryRun));
    }
    Api::new(plan).map(|api| Arc::new(Live(api)) as Arc<dyn Sender>)
}

/// The push loop's state for `plan`: beliefs of its firewall URL, rule
/// memory and holds from `state`.
pub(super) fn build_pushes(plan: &Plan, state: &StateFile, clocks: &Clocks) -> Pushes {
    let fw = state
        .firewalls
        .get(&plan.settings.firewall.url)
        .cloned()
        .unwrap_or_default();
    let mut pushes = Pushes::new(plan, |g| fw.beliefs.get(g).copied().unwrap_or(Belief::Unknown));
    for (i, g) in plan.groups.iter().enumerate() {
        if let Some(gs) = state.groups.get(g.name()) {
            persist::restore(gs, &mut pushes.groups[i].policy, clocks);
            pushes.groups[i].policy.held = gs.hold.as_ref().is_some_and(|h| h.until > clocks.wall);
        }
    }
    pushes
}

pub async fn run(plan: Plan, dir: StateDir, config: PathBuf, dry_flag: bool) -> i32 {
    let sender = match make_sender(&plan) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot reach the firewall as configured: {e}");
            return exit::CONFIG;
        }
    };
    if plan.settings.firewall.tls == crate::config::settings::TlsMode::Insecure {
        tracing::warn!("[firewall] insecure = true: the firewall's certificate is not checked; set pin_sha256 instead");
    }
    let (mut state, warning) = dir.load();
    if let Some(w) = warning {
        tracing::warn!("{w}");
    }
    let clocks = Clocks::now();
    let url = plan.settings.firewall.url.clone();
    let persisted = state
        .groups
        .iter()
        .map(|(k, g)| (k.clone(), persist::persisted(g)))
        .collect();
    let engine = Engine::new(&plan, &persisted);
    state.firewalls.entry(url.clone()).or_default();
    let pushes = build_pushes(&plan, &state, &clocks);
    let mail_settings = plan.settings.mail.as_ref().map(MailSettings::from_config);
    let ctx = Context {
        host: hostname(),
        zone: LocalZone::System,
    };
    let outbox = match outbox::start(mail_settings.as_ref(), ctx, &dir.path) {
        Ok(o) => o,
        Err(e) => {
            tracing::error!("mail: {e}");
            return exit::CONFIG;
        }
    };
    let (obs_tx, obs_rx) = mpsc::channel(4096);
    let streams = start_streams(&plan, &engine, obs_tx);
    let (done_tx, done_rx) = mpsc::unbounded_channel();
    let (synced_tx, synced_rx) = mpsc::unbounded_channel();
    let mut d = Daemon {
        plan,
        dir,
        state,
        url,
        engine,
        pushes,
        sender,
        notifier: Notifier::from_env(),
        done_tx,
        mailer: outbox.mailer(),
        outbox: Some(outbox),
        manual: HashMap::new(),
        manual_in_flight: HashMap::new(),
        dirty: true,
        saving: persist::Saving::default(),
        config,
        dry_flag,
        streams,
        get_api: None,
        next_get: Instant::now(),
        get_task: None,
        sync_task: None,
        decided: HashMap::new(),
        synced_tx,
        push_counts: BTreeMap::new(),
        orphans: Orphans::default(),
        decide_soon: false,
    };
    d.get_api = d.api_for_get();
    d.mail_decided_before_stop();
    let (ctl_tx, ctl_rx) = mpsc::channel(16);
    let http = match d.plan.settings.http_listen {
        Some(addr) => match super::http::serve(addr, ctl_tx.clone()).await {
            Ok(task) => Some(task),
            Err(e) => {
                tracing::error!(error = %e, "cannot listen on [http] listen = {addr}");
                return exit::CONFIG;
            }
        },
        None => None,
    };
    let control = match control::serve(&control::socket_path(&d.dir.path), ctl_tx) {
        Ok(task) => task,
        Err(e) => {
            tracing::error!(error = %e, "cannot open the control socket in {}", d.dir.path.display());
            return exit::FAILED;
        }
    };
    d.notifier.send(&format!("READY=1\nSTATUS={}", d.status_line()));
    d.start_sync();
    tracing::info!(
        groups = d.plan.groups.len(),
        streams = d.engine.streams().len(),
        "probing started"
    );
    let code = d.serve(obs_rx, done_rx, ctl_rx, synced_rx).await;
    control.abort();
    if let Some(h) = http {
        h.abort();
    }
    let _ = std::fs::remove_file(control::socket_path(&d.dir.path));
    code
}

pub(super) fn start_streams(plan: &Plan, engine: &Engine, tx: mpsc::Sender<Observation>) -> Vec<JoinHandle<()>> {
    let prober = Arc::new(Prober::new());
    let p = &plan.settings.probe;
    let resolving = Resolving {
        every: p.resolve_every,
        stale: p.dns_stale,
        timeout: Duration::from_secs(5),
    };
    let keys: Vec<_> = engine.streams().into_iter().cloned().collect();
    let now = Instant::now();
    keys.iter()
        .enumerate()
        .map(|(i, k)| {
            let start = now + offset(i, keys.len(), k.interval);
            spawn(i, k.clone(), start, prober.clone(), resolving, tx.clone())
        })
        .collect()
}

impl Daemon {
    async fn serve(
        &mut self,
        mut obs_rx: mpsc::Receiver<Observation>,
        mut done_rx: mpsc::UnboundedReceiver<(String, Answer)>,
        mut ctl_rx: mpsc::Receiver<control::Call>,
        mut synced_rx: mpsc::UnboundedReceiver<(String, String)>,
    ) -> i32 {
        let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::hangup()),
        ) else {
            tracing::error!("cannot install signal handlers");
            return exit::FAILED;
        };
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let watchdog = Notifier::watchdog_every();
        let mut last_watchdog = Instant::now();
        loop {
            if self.decide_soon && obs_rx.is_empty() && done_rx.is_empty() {
                self.decide(Instant::now());
            }
            tokio::select! {
                Some(obs) = obs_rx.recv() => self.observe(&obs),
                Some((group, answer)) = done_rx.recv() => self.answered(&group, answer),
                Some((req, reply)) = ctl_rx.recv() => self.control(req, reply),
                Some((group, hash)) = synced_rx.recv() => {
                    self.state.firewalls.entry(self.url.clone()).or_default().sync_hashes.insert(group, hash);
                    self.dirty = true;
                }
                _ = tick.tick() => {
                    self.tick();
                    if watchdog.is_some_and(|w| last_watchdog.elapsed() >= w) {
                        self.notifier.send("WATCHDOG=1");
                        last_watchdog = Instant::now();
                    }
                }
                _ = hup.recv() => {
                    if let Some(rx) = self.reload().await {
                        obs_rx = rx;
                    }
                }
                _ = term.recv() => break,
                _ = int.recv() => break,
            }
        }
        self.stop(&mut done_rx).await;
        exit::OK
    }

    fn observe(&mut self, obs: &Observation) {
        let outputs = self.engine.observe(obs);
        if self.engine.is_anchor(obs.stream) {
            // The guard may have waited for this check.
            self.decide_soon = true;
        }
        if outputs.is_empty() {
            return;
        }
        let mut gap = false;
        let mut changed = false;
        for o in outputs {
            match o {
                Output::Event(e) => self.event(&e),
                Output::Gap { .. } => gap = true,
                Output::GroupState { group, state } => {
                    self.pushes.health(group, state, obs.at);
                    self.decide_soon = true;
                    let name = self.plan.groups[group].name().to_string();
                    self.state.groups.entry(name).or_default().since = Some(SystemTime::now());
                    changed = true;
                }
            }
        }
        if changed {
            self.notifier.send(&format!("STATUS={}", self.status_line()));
        }
        if gap {
            tracing::warn!(
                EVENT = "late_tick",
                "checks were late by more than three intervals (paused?); every group is disarmed"
            );
            self.pushes.disarm_all(tokio::time::Instant::now());
        }
        self.dirty = true;
    }

    fn event(&mut self, e: &GroupEvent) {
        let member = e.member.as_deref().or(e.to.as_deref()).unwrap_or("");
        tracing::info!(GROUP = %e.group, MEMBER = member, EVENT = ?e.kind, ACTIVE = e.expected_active.as_deref().unwrap_or(""), "{}: {}", e.group, e.text);
        let g = self.plan.groups.iter().find(|g| g.name() == e.group);
        if g.is_some_and(|g| g.def.mail && g.intent().is_none()) {
            self.mailer.send(super::mailing::group_event(e));
        }
    }

    fn note(&mut self, n: &Note) {
        if let Note::DeactiveDecided { group, restart } = n {
            let first = !self.decided.contains_key(group);
            self.decided.entry(group.clone()).or_default().restart = *restart;
            if first {
                tracing::warn!(EVENT = "daemon", GROUP = %group, restart = *restart, "failoverd decided a DeActive of {group}");
            } else {
                tracing::info!(GROUP = %group, EVENT = "push_retry", "trying the DeActive of {group} again");
            }
            return;
        }
        if let Note::FlapDamped { group, hold } = n {
            let f = &self.plan.settings.firewall;
            tracing::warn!(
                EVENT = "flap_damped",
                GROUP = %group,
                "{group} is up, but flap damping holds its Active until it has been up for {} ({} DeActives within flap_window {}, flap_limit {}): the Active goes in {} if it stays up",
                whole_secs(hold.hold),
                hold.deactives,
                whole_secs(f.flap_window),
                f.flap_limit,
                whole_secs(hold.remaining),
            );
            return;
        }
        let Some(event) = super::mailing::note(n) else { return };
        tracing::warn!(
            EVENT = "daemon",
            GROUP = event.group.as_deref().unwrap_or(""),
            "{}",
            event.reason
        );
        self.mailer.send(event);
    }

    /// `sync = true`: sends the definitions that changed since the firewall
    /// last accepted them from failoverd.
    pub(super) fn start_sync(&mut self) {
        if !self.plan.settings.firewall.sync {
            return;
        }
        let Some(api) = self.get_api.clone() else { return };
        let fw = self.state.firewalls.entry(self.url.clone()).or_default();
        let changed: Vec<(String, String)> = self
            .plan
            .groups
            .iter()
            .filter_map(|g| api.definition_hash(g.name()).map(|h| (g.name().to_string(), h)))
            .filter(|(g, h)| fw.sync_hashes.get(g) != Some(h))
            .collect();
        if let Some(old) = self.sync_task.take() {
            old.abort();
        }
        if !changed.is_empty() {
            let task = super::api_check::spawn_sync(api, changed, self.sender.dry(), self.synced_tx.clone());
            self.sync_task = Some(task);
        }
    }

    /// The API for the read-only Get, if the settings allow one.
    pub(super) fn api_for_get(&self) -> Option<Api> {
        match Api::new(&self.plan) {
            Ok(a) => Some(a),
            Err(e) => {
                tracing::info!(EVENT = "api_check", "no read-only Get of the firewall: {e}");
                None
            }
        }
    }

    fn tick(&mut self) {
        let clocks = Clocks::now();
        if clocks.mono >= self.next_get {
            self.next_get = clocks.mono + self.plan.settings.firewall.check_every;
            let running = self.get_task.as_ref().is_some_and(|t| !t.is_finished());
            if let Some(api) = self.get_api.clone().filter(|_| !running) {
                let groups = self.plan.groups.iter().map(|g| g.name().to_string()).collect();
                self.get_task = Some(super::api_check::spawn(api, groups, self.mailer.clone()));
            }
        }
        self.end_holds(&clocks);
        let engine = &self.engine;
        for i in self.pushes.rearm(|i| engine.good_sent_after(i)) {
            let name = self.plan.groups[i].name();
            tracing::info!(GROUP = %name, EVENT = "armed", "{name} was seen up since it was disarmed: armed again");
        }
        self.decide(clocks.mono);
        // A write that failed is tried again after a minute, not each tick;
        // a push still writes its belief first, whatever the schedule.
        if self.saving.due(self.dirty, clocks.mono) {
            self.save(&clocks);
        }
    }

    /// Decides every group's push now and starts those due, manual ones too.
    fn decide(&mut self, now: Instant) {
        self.decide_soon = false;
        // An orphaned restart's Active first, within max_in_flight; it goes
        // even after SIGTERM (it completes a restart).
        for (group, sender) in self.orphans.due(now, self.pushes.free()) {
            self.pushes.started_elsewhere();
            self.send_with(
                sender,
                Push {
                    group,
                    want: Want::Active,
                },
            );
        }
        let (sends, notes) = self.pushes.due(self.engine.anchors(), now);
        for n in &notes {
            self.note(n);
        }
        for (i, want) in sends {
            self.send(i, want);
        }
        let waiting: Vec<String> = self.manual.keys().cloned().collect();
        for name in waiting {
            let want = self.manual[&name].want;
            let Some(i) = self.index(&name) else {
                if let Some(m) = self.manual.remove(&name) {
                    let _ = m.reply.send(Reply::err(format!("group {name} is gone after a reload")));
                }
                continue;
            };
            if self.pushes.start_manual(i, want) {
                let m = self.manual.remove(&name).expect("present");
                self.manual_in_flight.insert(name, m);
                self.send(i, want);
            }
        }
    }

    fn end_holds(&mut self, clocks: &Clocks) {
        // Every tick: a walk over the saved groups without a lookup by
        // name; only a hold that ends looks its group up in the plan.
        let ended: Vec<String> = self
            .state
            .groups
            .iter()
            .filter(|(_, gs)| gs.hold.as_ref().is_some_and(|h| h.until <= clocks.wall))
            .map(|(name, _)| name.clone())
            .collect();
        for name in ended {
            let Some(i) = self.index(&name) else { continue };
            if let Some(gs) = self.state.groups.get_mut(&name) {
                gs.hold = None;
            }
            let p = &mut self.pushes.groups[i].policy;
            p.held = false;
            p.disarm(clocks.mono);
            tracing::info!(GROUP = %name, EVENT = "hold_ended", "hold ended; the group is disarmed until seen up");
            self.dirty = true;
        }
    }

    fn send(&mut self, i: usize, want: Want) {
        let group = self.plan.groups[i].name().to_string();
        if want == Want::Active {
            // A decided DeActive that was never taken: the group is wanted
            // Active again, so its mail goes now, with the last answer.
            if let Some(d) = self.decided.remove(&group) {
                let answer = format!(
                    "not taken; failoverd now wants the group Active again (last answer: {})",
                    d.last_answer.as_deref().unwrap_or("none")
                );
                self.mail_decided(&group, d.restart, &answer);
            }
        }
        if !self.sender.dry() {
            // Before sending, the belief is written as unknown (fsynced).
            let fw = self.state.firewalls.entry(self.url.clone()).or_default();
            fw.beliefs.insert(group.clone(), Belief::Unknown);
            self.save(&Clocks::now());
        }
        // MEMBER: the member an Active hands the group to (the expected
        // active one); none for a DeActive, which takes every member down.
        let member = match want {
            Want::Active => self.engine.group_state(&group).and_then(|(_, m)| m),
            Want::DeActive => None,
        };
        let push = Push { group, want };
        tracing::info!(GROUP = %push.group, MEMBER = member.as_deref().unwrap_or(""), EVENT = "push", "pushing {push}");
        self.send_with(self.sender.clone(), push);
    }

    /// Sends `push` through `sender`; the answer comes back to the loop.
    fn send_with(&self, sender: Arc<dyn Sender>, push: Push) {
        let tx = self.done_tx.clone();
        tokio::spawn(async move {
            let group = push.group.clone();
            let answer = sender.send(push).await;
            let _ = tx.send((group, answer));
        });
    }

    /// Index of group `name` in the current plan.
    pub(super) fn index(&self, name: &str) -> Option<usize> {
        self.plan.groups.iter().position(|g| g.name() == name)
    }

    fn answered(&mut self, group: &str, answer: Answer) {
        let now = Instant::now();
        let Some(i) = self.index(group) else {
            tracing::warn!(GROUP = %group, "answer for a group no longer configured: {}", answer.text);
            let accepted = answer.class == crate::firewall::slot::Class::Accepted;
            if self.orphans.answered(group, accepted, now) {
                self.pushes.answered_elsewhere();
                self.decide_soon = true;
            }
            return;
        };
        let group = group.to_string();
        tracing::info!(GROUP = %group, EVENT = "push_answer", "the firewall answered: {}", answer.text);
        let class = answer.class;
        let jitter = f64::from(
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .subsec_micros()
                % 1000,
        ) / 1000.0;
        let accepted = class == crate::firewall::slot::Class::Accepted;
        *self
            .push_counts
            .entry((group.clone(), class.label().to_owned()))
            .or_default() += 1;
        let notes = self.pushes.finish(i, class, now, jitter);
        // A decided DeActive ends when it is accepted or refused for good
        // (its tries used up); every other answer is tried again.
        let over = accepted || notes.iter().any(|n| matches!(n, Note::Refused { .. }));
        for n in &notes {
            self.note(n);
        }
        // A slot is free again: the next push need not wait for a tick.
        self.decide_soon = true;
        if over && let Some(d) = self.decided.remove(&group) {
            self.mail_decided(&group, d.restart, &answer.text);
        } else if let Some(d) = self.decided.get_mut(&group) {
            d.last_answer = Some(answer.text.clone());
        }
        if let Some(m) = self.manual_in_flight.remove(&group) {
            self.hold_group(&group, m.hold, &format!("manual push of {}", m.want));
            let _ = m.reply.send(Reply::ok(
                serde_json::json!({"accepted": accepted, "answer": answer.text}),
            ));
        }
        if !self.sender.dry() {
            let belief = self.pushes.groups[i].slot.belief;
            let fw = self.state.firewalls.entry(self.url.clone()).or_default();
            fw.beliefs.insert(group.clone(), belief);
            fw.set_at.insert(group, SystemTime::now());
        }
        self.dirty = true;
    }

    /// The mail of a DeActive failoverd decided, with the firewall's answer.
    fn mail_decided(&mut self, group: &str, restart: bool, answer: &str) {
        let note = Note::DeactiveDecided {
            group: group.to_string(),
            restart,
        };
        let push = format!("DeActive {group}");
        if let Some(event) = super::mailing::note(&note) {
            self.mailer.send(event.with_push(&push, answer));
        }
    }

    /// DeActives decided by an earlier run that stopped or crashed before
    /// the firewall answered: their mails, with the outcome unknown.
    fn mail_decided_before_stop(&mut self) {
        let fw = self.state.firewalls.entry(self.url.clone()).or_default();
        let decided = std::mem::take(&mut fw.decided);
        for (group, restart) in decided {
            tracing::warn!(EVENT = "daemon", GROUP = %group, restart, "a DeActive of {group} failoverd decided was not taken when it stopped");
            self.mail_decided(
                &group,
                restart,
                "unknown: failoverd stopped before the firewall took it",
            );
            self.dirty = true;
        }
    }

    fn control(&mut self, req: Request, reply: oneshot::Sender<Reply>) {
        let names = |gs: &[String]| -> Result<Vec<usize>, String> {
            if gs.is_empty() {
                return Ok((0..self.plan.groups.len()).collect());
            }
            gs.iter()
                .map(|g| {
                    self.plan
                        .groups
                        .iter()
                        .position(|x| x.name() == g)
                        .ok_or(format!("unknown group {g:?}"))
                })
                .collect()
        };
        let answer = match req {
            Request::Metrics => {
                let groups: Vec<String> = self.plan.groups.iter().map(|g| g.name().to_string()).collect();
                let spool_depth = self.outbox.as_ref().map_or(0, |o| o.status().borrow().queued);
                let extra = super::metrics::Extra {
                    groups: &groups,
                    pushes: &self.push_counts,
                    guard_tripped: self.pushes.guard.tripped,
                    spool_depth,
                };
                Reply::ok(serde_json::Value::String(super::metrics::render(&self.engine, &extra)))
            }
            Request::Status => {
                let problems = self.problems();
                Reply::ok(status::build(
                    &self.plan,
                    &self.engine,
                    &self.pushes,
                    &self.state,
                    &self.url,
                    &problems,
                ))
            }
            Request::Hold {
                groups,
                for_secs,
                reason,
            } => match names(&groups) {
                Err(e) => Reply::err(e),
                Ok(idx) => {
                    let mut deactivated = Vec::new();
                    for i in idx {
                        let name = self.plan.groups[i].name().to_string();
                        self.hold_group(&name, Duration::from_secs(for_secs), &reason);
                        if self.pushes.groups[i].slot.belief == Belief::DeActive {
                            deactivated.push(name);
                        }
                    }
                    Reply::ok(serde_json::json!({"deactivated": deactivated}))
                }
            },
            Request::Release { groups } => match names(&groups) {
                Err(e) => Reply::err(e),
                Ok(idx) => {
                    for i in idx {
                        let name = self.plan.groups[i].name().to_string();
                        self.state.groups.entry(name.clone()).or_default().hold = None;
                        let p = &mut self.pushes.groups[i].policy;
                        p.held = false;
                        p.disarm(tokio::time::Instant::now());
                        tracing::info!(GROUP = %name, EVENT = "release", "hold released; the group is disarmed until seen up");
                    }
                    self.dirty = true;
                    Reply::ok(serde_json::Value::Null)
                }
            },
            Request::Push { group, want, hold_secs } => match names(std::slice::from_ref(&group)) {
                Err(e) => Reply::err(e),
                Ok(_) if self.sender.dry() => Reply::err("daemon in dry run"),
                Ok(_) => {
                    self.manual.insert(
                        group,
                        Manual {
                            want,
                            hold: Duration::from_secs(hold_secs),
                            reply,
                        },
                    );
                    return;
                }
            },
        };
        let _ = reply.send(answer);
    }

    /// Holds `name` for `dur` from now; never shortens a hold in place.
    fn hold_group(&mut self, name: &str, dur: Duration, reason: &str) {
        let until = SystemTime::now() + dur;
        let gs = self.state.groups.entry(name.to_string()).or_default();
        if gs.hold.as_ref().is_none_or(|h| h.until < until) {
            gs.hold = Some(Hold {
                until,
                reason: reason.to_string(),
            });
        }
        if let Some(g) = self.pushes.groups.iter_mut().find(|g| g.name == name) {
            g.policy.held = true;
        }
        tracing::info!(GROUP = %name, EVENT = "hold", "held for {}: {reason}", humantime::format_duration(dur));
        self.dirty = true;
    }

    fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if !self.saving.ok() {
            p.push(format!(
                "state not persisted: cannot write {}",
                self.dir.file().display()
            ));
        }
        if let Some(r) = &self.pushes.pause.reason {
            p.push(format!("the firewall API refuses us: {r}"));
        }
        if self.pushes.guard.tripped {
            p.push("the guard holds: DeActives are withheld".into());
        }
        p
    }

    /// Saves state.json; in dry run beliefs and histories stay as they were.
    pub(super) fn save(&mut self, clocks: &Clocks) {
        let health = self.engine.persisted();
        for (i, g) in self.plan.groups.iter().enumerate() {
            let gs = self.state.groups.entry(g.name().to_string()).or_default();
            if let Some(h) = health.get(g.name()) {
                if self.sender.dry() {
                    gs.group = persist_word(h.group);
                } else {
                    persist::save(gs, h, &self.pushes.groups[i].policy, clocks);
                }
            }
        }
        if !self.sender.dry() {
            // Decided DeActives not yet mailed: the next start mails them.
            let fw = self.state.firewalls.entry(self.url.clone()).or_default();
            fw.decided = self.decided.iter().map(|(g, d)| (g.clone(), d.restart)).collect();
        }
        match self.dir.save(&self.state) {
            Ok(()) => {
                if !self.saving.ok() {
                    tracing::info!(EVENT = "daemon", "state is persisted again");
                }
                self.saving.wrote(true, clocks.mono);
                self.dirty = false;
            }
            Err(e) => {
                if self.saving.ok() {
                    let why = format!(
                        "state not persisted: cannot write {}: {e}; running on in memory",
                        self.dir.file().display()
                    );
                    tracing::error!(EVENT = "daemon", "{why}");
                    self.mailer.send(crate::mail::event::Event::new(
                        crate::mail::event::Kind::Daemon(crate::mail::event::DaemonKind::StateDirFailure),
                        why,
                        SystemTime::now(),
                    ));
                }
                self.saving.wrote(false, clocks.mono);
            }
        }
    }

    /// "3 groups: 1 up, 1 down, 1 unknown", from the engine's tally (no
    /// walk over the groups on each change).
    pub(super) fn status_line(&self) -> String {
        let t = self.engine.tally();
        format!(
            "{} groups: {} up, {} down, {} unknown",
            t.total(),
            t.up,
            t.down,
            t.unknown
        )
    }

    /// SIGTERM/SIGINT: no new push starts; the one in flight (and the Active
    /// completing a restart) get up to 5 s; what is left is recorded.
    async fn stop(&mut self, done_rx: &mut mpsc::UnboundedReceiver<(String, Answer)>) {
        self.notifier.send("STOPPING=1");
        self.pushes.open = false;
        for task in [self.get_task.take(), self.sync_task.take()].into_iter().flatten() {
            task.abort();
        }
        let deadline = Instant::now() + STOP_GRACE;
        loop {
            self.tick();
            if self.pushes.in_flight() == 0 {
                break;
            }
            match tokio::time::timeout_at(deadline, done_rx.recv()).await {
                Ok(Some((group, answer))) => self.answered(&group, answer),
                _ => break,
            }
        }
        self.record_unconfirmed();
        self.save(&Clocks::now());
        if let Some(o) = self.outbox.take() {
            o.shutdown().await;
        }
        tracing::info!("stopped");
    }

    fn record_unconfirmed(&mut self) {
        if self.sender.dry() {
            return;
        }
        let now = Instant::now();
        let mut unconfirmed = BTreeMap::new();
        for g in &mut self.pushes.groups {
            let d = g.policy.decide(now, true);
            if let Some(w) = d.want.filter(|w| !g.slot.belief.is(*w)) {
                unconfirmed.insert(g.name.clone(), w);
            }
        }
        self.state.firewalls.entry(self.url.clone()).or_default().unconfirmed = unconfirmed;
    }
}

/// This host's name, for mails and Message-IDs.
pub(super) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

fn persist_word(s: State) -> Option<String> {
    match s {
        State::Up => Some("up".into()),
        State::Down => Some("down".into()),
        State::Unknown => None,
    }
}
