//! The runner task and the hooks' queues: [`dispatch`] takes each event
//! from the tap, skips it on a standby, and hands it to the queue of every
//! hook that asks for its kind without waiting (a full queue drops it for
//! that hook, counted, said once per streak); one worker per hook runs its
//! queue in order, one run at a time, and logs a failure streak once and
//! its end once.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use super::run::Outcome;
use super::{Counts, QUEUE};
use crate::config::settings::Hook;
use crate::daemon::taps::{Receiver, Recorded};

/// One run in progress.
pub type Running = Pin<Box<dyn Future<Output = Outcome> + Send>>;
/// Runs one hook for one event (the real program, or a test's stand-in).
pub type Runner = Arc<dyn Fn(Arc<Hook>, Arc<Recorded>) -> Running + Send + Sync>;

/// An event in a hook's queue, with the hook's settings when it was queued.
type Job = (Arc<Hook>, Arc<Recorded>);

/// A hook's queue, as the runner task sees it.
struct Queue {
    tx: mpsc::Sender<Job>,
    /// In a streak of drops (said once, until an event fits again).
    dropping: u64,
}

/// The runner task: until the tap closes (the daemon stopped).
pub async fn dispatch(
    mut rx: Receiver,
    mut list: watch::Receiver<Arc<Vec<Arc<Hook>>>>,
    counts: Arc<Counts>,
    runner: Runner,
) {
    let mut queues: BTreeMap<String, Queue> = BTreeMap::new();
    while let Some(recorded) = rx.recv().await {
        let hooks = list.borrow_and_update().clone();
        // A hook gone from the list: its worker runs what it holds, then ends.
        queues.retain(|name, _| hooks.iter().any(|h| &h.name == name));
        // Standby: no hook runs, nothing is counted (docs/hooks.md); the
        // history's own records (PushDecided, FirewallSwitched) are not
        // events and reach no hook.
        if !recorded.active || recorded.event.kind.history_only() {
            continue;
        }
        for hook in hooks.iter().filter(|h| wants(h, &recorded)) {
            let q = queues
                .entry(hook.name.clone())
                .or_insert_with(|| spawn(&hook.name, &counts, &runner));
            offer(q, &hook.name, (hook.clone(), recorded.clone()), &counts);
        }
    }
}

fn wants(hook: &Hook, r: &Recorded) -> bool {
    hook.events.as_ref().is_none_or(|k| k.contains(&r.event.kind))
}

/// Queues `job` for `name` without waiting.
fn offer(q: &mut Queue, name: &str, job: Job, counts: &Counts) {
    match q.tx.try_send(job) {
        Ok(()) => {
            if q.dropping > 0 {
                tracing::info!(
                    EVENT = "hook_queue_room",
                    HOOK = name,
                    dropped = q.dropping,
                    "hook {name}: its queue has room again after {} dropped event(s)",
                    q.dropping
                );
            }
            q.dropping = 0;
        }
        Err(_) => {
            if q.dropping == 0 {
                tracing::warn!(
                    EVENT = "hook_queue_full",
                    HOOK = name,
                    "hook {name}: {QUEUE} events wait for it; new events are dropped for it until it catches up"
                );
            }
            q.dropping += 1;
            counts.add(name, "dropped");
        }
    }
}

fn spawn(name: &str, counts: &Arc<Counts>, runner: &Runner) -> Queue {
    let (tx, rx) = mpsc::channel(QUEUE);
    tokio::spawn(work(name.to_string(), rx, counts.clone(), runner.clone()));
    Queue { tx, dropping: 0 }
}

/// One hook's worker: its queue in order, one run at a time.
async fn work(name: String, mut rx: mpsc::Receiver<Job>, counts: Arc<Counts>, runner: Runner) {
    let mut failing = 0u64;
    while let Some((hook, recorded)) = rx.recv().await {
        let kind = recorded.event.kind.name();
        let outcome = runner(hook, recorded.clone()).await;
        counts.add(&name, outcome.result());
        match (&outcome, failing) {
            (Outcome::Ok, 0) => {
                tracing::debug!(EVENT = "hook_ran", HOOK = %name, KIND = kind, "hook {name} ran for {kind}")
            }
            (Outcome::Ok, n) => {
                tracing::info!(EVENT = "hook_recovered", HOOK = %name, KIND = kind, failed = n, "hook {name} ran for {kind} again after {n} failed run(s)");
            }
            (Outcome::Failed(why) | Outcome::Timeout(why), 0) => {
                let result = outcome.result();
                tracing::warn!(EVENT = "hook_failed", HOOK = %name, KIND = kind, RESULT = result, "hook {name} failed for {kind}: {why}; further failures are not logged until it succeeds again");
            }
            (Outcome::Failed(why) | Outcome::Timeout(why), _) => {
                tracing::debug!(EVENT = "hook_failed", HOOK = %name, KIND = kind, "hook {name} failed for {kind}: {why}");
            }
        }
        failing = if outcome == Outcome::Ok { 0 } else { failing + 1 };
    }
}
