//! The daemon's shell around the [core](super::core): it selects over
//! observations, push answers, control requests, reloads, the tick and the
//! shutdown, hands each to the core, and carries out the effects the core
//! answers with (push, save, mail, notify systemd, reply). It decides
//! nothing and writes no policy field (docs/daemon.md).
//!
//! [`serve`] takes its dependencies (the stream checker, the push senders,
//! the notifier, the reload requests) and a shutdown future, so tests run
//! the whole daemon in-process on tokio's paused clock; [`run`] is the
//! thin wrapper that reads the files and installs the signal handlers.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, MissedTickBehavior};

use super::core::{Core, Effect, Generation, ReplyTo};
pub(super) use super::mailing::hostname;
use super::pair_tasks::{PairTasks, PeerRead};
use super::send::{DryRun, Live, Push, Sender};
use super::{VERSION, api_check::Read, notify::Notifier, persist::Clocks, reads::Reads, streams::Streams};
use crate::control::{self, Reply};
use crate::firewall::api::{Answer, Api};
use crate::mail::outbox::{Mailer, Outbox};
use crate::probe::{Check, schedule::Observation};
use crate::{config::Plan, exit, state::StateDir};

/// How long the push in flight gets at SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(5);
const TICK: Duration = Duration::from_millis(100);

/// Makes the push sender of a plan (the firewall's API, or dry run).
pub type SenderFactory = Box<dyn Fn(&Plan) -> Result<Arc<dyn Sender>, String> + Send + Sync>;

/// What [`serve`] runs with.
pub struct Deps<C: Check> {
    pub dir: StateDir,
    /// Makes every check of every stream.
    pub checker: Arc<C>,
    pub senders: SenderFactory,
    pub notifier: Notifier,
    /// Each message: reload the settings from `config` (SIGHUP).
    pub reloads: mpsc::Receiver<()>,
    /// Where the settings came from, and whether `--dry-run` was given.
    pub config: PathBuf,
    pub dry_flag: bool,
}

/// The sender the plan asks for.
pub fn make_sender(plan: &Plan) -> Result<Arc<dyn Sender>, String> {
    if plan.settings.firewall.dry_run {
        return Ok(Arc::new(DryRun));
    }
    Api::new(plan).map(|api| Arc::new(Live(api)) as Arc<dyn Sender>)
}

/// The daemon, with its dependencies injected, until `shutdown` resolves.
pub async fn serve<C: Check>(plan: Plan, deps: Deps<C>, shutdown: impl Future<Output = ()>) -> i32 {
    let sender = match (deps.senders)(&plan) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot reach the firewall as configured: {e}");
            return exit::CONFIG;
        }
    };
    if plan.settings.firewall.tls == crate::config::settings::TlsMode::Insecure {
        tracing::warn!("[firewall] insecure = true: the firewall's certificate is not checked; set pin_sha256 instead");
    }
    let Some(state) = super::persist::load_at_start(&deps.dir, &plan) else {
        return exit::CONFIG;
    };
    let outbox = match super::mailing::start_outbox(&plan, &deps.dir.path) {
        Ok(o) => o,
        Err(e) => {
            tracing::error!("mail: {e}");
            return exit::CONFIG;
        }
    };
    let (ctl_tx, ctl_rx) = mpsc::channel(16);
    let listeners = match super::http::Listeners::open(&plan, &deps.dir, ctl_tx).await {
        Ok(l) => l,
        Err(code) => return code,
    };
    let (obs_tx, obs_rx) = mpsc::channel(4096);
    let (answer_tx, answer_rx) = mpsc::unbounded_channel();
    let (synced_tx, synced_rx) = mpsc::unbounded_channel();
    let (peer_tx, peer_rx) = mpsc::channel(4);
    let (walks_tx, walks_rx) = mpsc::channel(2);
    let mut streams = Streams::new(deps.checker.clone(), &plan.settings.probe, obs_tx);
    let (mut taps, _history, seed) = crate::history::writer::start(&deps.dir.path, &plan);
    let mut core = super::page_history::core_with_history(plan, state, &deps.dir);
    core.seed_history(seed, std::time::SystemTime::now());
    let hooks = crate::hooks::start(&mut taps, &core.plan().settings.hooks);
    streams.apply(core.engine(), &core.plan().settings.probe);
    let mut shell = Shell {
        reads: Reads::new(core.plan(), synced_tx, walks_tx),
        core,
        streams,
        senders: BTreeMap::from([(0, sender)]),
        reloading: super::reloading::Reloading::new(deps.senders, deps.reloads),
        dir: deps.dir,
        notifier: deps.notifier,
        mailer: outbox.mailer(),
        taps,
        hooks,
        outbox: Some(outbox),
        answers: answer_tx,
        replies: HashMap::new(),
        next_reply: 0,
        next_generation: 1,
        config: deps.config,
        dry_flag: deps.dry_flag,
        pair: PairTasks::new(peer_tx),
        page_history: super::page_history::Writer::default(),
    };
    // The first role before anything is decided ([ha] only).
    shell.pair_apply().await;
    let effects = shell.core.start();
    shell.perform(effects);
    tracing::info!(
        groups = shell.core.plan().groups.len(),
        streams = shell.core.engine().streams().len(),
        "failoverd {VERSION} probing started"
    );
    let inputs = Inputs {
        obs: obs_rx,
        answers: answer_rx,
        control: ctl_rx,
        synced: synced_rx,
        walks: walks_rx,
        peer: peer_rx,
    };
    shell.serve(inputs, shutdown).await;
    drop(listeners);
    exit::OK
}

/// The answer to a push: group, the generation it went through, answer.
type Answered = (String, Generation, Answer);

struct Inputs {
    obs: mpsc::Receiver<Observation>,
    answers: mpsc::UnboundedReceiver<Answered>,
    control: mpsc::Receiver<control::Call>,
    synced: mpsc::UnboundedReceiver<super::core::definitions::SyncNote>,
    walks: mpsc::Receiver<Read>,
    peer: mpsc::Receiver<PeerRead>,
}

pub(super) struct Shell<C: Check> {
    pub(super) core: Core,
    pub(super) streams: Streams<C>,
    pub(super) reads: Reads,
    /// Push senders by generation: the current settings' and those
    /// orphaned restarts still need.
    pub(super) senders: BTreeMap<Generation, Arc<dyn Sender>>,
    pub(super) reloading: super::reloading::Reloading,
    pub(super) dir: StateDir,
    pub(super) notifier: Notifier,
    pub(super) mailer: Mailer,
    /// The history's and the hooks' queues (daemon/taps.rs).
    pub(super) taps: super::taps::Taps,
    pub(super) hooks: crate::hooks::Hooks,
    pub(super) outbox: Option<Outbox>,
    answers: mpsc::UnboundedSender<Answered>,
    replies: HashMap<ReplyTo, oneshot::Sender<Reply>>,
    next_reply: ReplyTo,
    pub(super) next_generation: Generation,
    pub(super) config: PathBuf,
    pub(super) dry_flag: bool,
    /// The role watcher and the peer's reader ([ha]).
    pub(super) pair: PairTasks,
    page_history: super::page_history::Writer,
}

/// Observations come in bursts: after one, up to this many already queued
/// are taken without going round every input again.
const OBSERVATION_BATCH: usize = 63;

impl<C: Check> Shell<C> {
    async fn serve(&mut self, mut i: Inputs, shutdown: impl Future<Output = ()>) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let watchdog = Notifier::watchdog_every();
        let mut last_watchdog = Instant::now();
        tokio::pin!(shutdown);
        loop {
            if self.core.wants_decision() && i.obs.is_empty() && i.answers.is_empty() {
                let e = self.core.decide_now(Clocks::now());
                self.perform(e);
            }
            tokio::select! {
                Some(obs) = i.obs.recv() => {
                    self.observe(obs);
                    // Those already queued too, a batch at most (see the const).
                    for _ in 0..OBSERVATION_BATCH {
                        let Ok(obs) = i.obs.try_recv() else { break };
                        self.observe(obs);
                    }
                }
                Some((group, via, answer)) = i.answers.recv() => {
                    let e = self.core.answered(&group, via, answer, Clocks::now());
                    self.perform(e);
                }
                Some((req, reply)) = i.control.recv() => self.control(req, reply),
                Some(note) = i.synced.recv() => self.core.synced(note),
                Some(read) = i.walks.recv() => {
                    let e = match read {
                        Read::Walk(walk) => self.core.walked(walk, Clocks::now()),
                        Read::Got(got, defs) => self.core.api_got(got, defs, Clocks::now()),
                    };
                    self.perform(e);
                }
                _ = tick.tick() => {
                    self.tick();
                    if watchdog.is_some_and(|w| last_watchdog.elapsed() >= w) {
                        self.notifier.send("WATCHDOG=1");
                        last_watchdog = Instant::now();
                    }
                }
                step = self.reloading.next() => self.reload_step(step).await,
                role = self.pair.changed() => self.role(&role),
                Some(read) = i.peer.recv() => {
                    let e = self.core.peer(read, Clocks::now());
                    self.perform(e);
                }
                () = &mut shutdown => break,
            }
        }
        self.stop(&mut i.answers).await;
    }

    fn observe(&mut self, mut obs: Observation) {
        // From a stream a reload stopped: nothing reads it any more.
        let Some(id) = self.streams.id(obs.stream) else { return };
        obs.stream = id;
        let e = self.core.observe(&obs, Clocks::now());
        self.perform(e);
    }

    fn tick(&mut self) {
        let clocks = Clocks::now();
        self.core.defines_started(self.reads.tick(&self.core, clocks.mono));
        let e = self.core.tick(clocks);
        self.perform(e);
    }

    fn control(&mut self, req: control::Request, reply: oneshot::Sender<Reply>) {
        let to = self.next_reply;
        self.next_reply += 1;
        self.replies.insert(to, reply);
        let spool = self.outbox.as_ref().map_or(0, |o| o.status().borrow().queued);
        let process = matches!(req, control::Request::Metrics).then(super::process::Process::read);
        let mut e = self.core.control(req, to, Clocks::now(), spool);
        self.hooks
            .append(&mut e, to, process.is_some(), self.taps.dropped(crate::hooks::TAP));
        process.inspect(|p| super::process::append(&mut e, to, p));
        self.perform(e);
    }

    /// The role watcher's news: to the core; a host that became active
    /// runs its sync (standby runs none).
    pub(super) fn role(&mut self, role: &crate::ha::Role) {
        let before = self.core.may_sync();
        let e = self.core.role(role, Clocks::now());
        self.perform(e);
        if before != self.core.may_sync() {
            self.reads.sync(&self.core);
        }
    }

    /// Starts or restarts the pair's tasks for the current `[ha]`.
    pub(super) async fn pair_apply(&mut self) {
        let ha = self.core.plan().settings.ha.clone();
        if let Some(first) = self.pair.apply(ha.as_ref()).await {
            self.role(&first);
        }
    }

    /// Carries out the core's effects in order (a write's outcome may add
    /// more).
    pub(super) fn perform(&mut self, effects: Vec<Effect>) {
        let mut queue = VecDeque::from(effects);
        while let Some(e) = queue.pop_front() {
            match e {
                Effect::Push { push, via } => self.send(push, via),
                Effect::Save => {
                    let r = self.dir.save(self.core.state()).map_err(|e| e.to_string());
                    queue.extend(self.core.saved(r, Clocks::now()));
                }
                Effect::SaveHistory { last } => self.page_history.save(&self.dir, &self.core, last),
                Effect::Mail(event) => self.mailer.send(*event),
                Effect::Record(r) => self.taps.send(*r),
                Effect::Notify(line) => self.notifier.send(&line),
                Effect::Define(groups) => self.reads.define(&self.core, groups),
                Effect::Sync {
                    to,
                    group,
                    changed_only,
                } => {
                    let reply = self.replies.remove(&to);
                    self.reads.manual(&self.core, group, changed_only, reply);
                }
                Effect::Reply { to, reply } => {
                    if let Some(tx) = self.replies.remove(&to) {
                        let _ = tx.send(reply);
                    }
                }
            }
        }
    }

    /// Sends `push`; the answer comes back to the loop.
    fn send(&self, push: Push, via: Generation) {
        let Some(sender) = self.senders.get(&via).cloned() else {
            tracing::error!(GROUP = %push.group, "no sender for the settings the push came from: {push} not sent");
            return;
        };
        let tx = self.answers.clone();
        tokio::spawn(async move {
            let group = push.group.clone();
            let answer = sender.send(push).await;
            let _ = tx.send((group, via, answer));
        });
    }

    /// SIGTERM/SIGINT: no new push starts; the one in flight (and the Active
    /// completing a restart) get up to 5 s; what is left is recorded.
    async fn stop(&mut self, answers: &mut mpsc::UnboundedReceiver<Answered>) {
        let e = self.core.stopping();
        self.perform(e);
        self.reads.stop();
        self.pair.stop();
        let deadline = Instant::now() + STOP_GRACE;
        loop {
            let e = self.core.tick(Clocks::now());
            self.perform(e);
            if self.core.in_flight() == 0 {
                break;
            }
            match tokio::time::timeout_at(deadline, answers.recv()).await {
                Ok(Some((group, via, answer))) => {
                    let e = self.core.answered(&group, via, answer, Clocks::now());
                    self.perform(e);
                }
                _ => break,
            }
        }
        let e = self.core.stopped(Clocks::now());
        self.perform(e);
        self.streams.stop_all();
        if let Some(o) = self.outbox.take() {
            o.shutdown().await;
        }
        tracing::info!("failoverd {VERSION} stopped");
    }
}
