//! The hooks (contract 19, docs/hooks.md): each `[[hooks]]` program runs
//! once per event it asks for, in the order events happened, one run at a
//! time per hook, on the active host only. This module owns the runner
//! task fed by the daemon's event tap (daemon/taps.rs), one queue and
//! worker per hook, the counts `/metrics` shows, and the reload of the
//! hook list. Nothing here is awaited by the daemon's loop: a slow or
//! hung hook delays only its own later events.

pub mod run;
mod worker;

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::config::settings::Hook;
use crate::daemon::core::{Effect, ReplyTo};
use crate::daemon::taps::{Receiver, Taps};
use worker::Runner;

/// The tap's name (logs, its drop count).
pub const TAP: &str = "hooks";
/// Events waiting for the runner task itself (it only sorts them into the
/// hooks' queues, so this stays nearly empty).
const TAP_CAPACITY: usize = 4096;
/// Events waiting per hook; beyond, they are dropped for that hook and
/// counted (`result="dropped"`).
pub const QUEUE: usize = 1000;

/// Runs per hook name and result, since the start.
#[derive(Debug, Default)]
pub struct Counts {
    by_hook: Mutex<BTreeMap<String, [u64; 4]>>,
}

/// The `result` labels, in the order of the counts' arrays.
const RESULTS: [&str; 4] = ["ok", "failed", "timeout", "dropped"];

impl Counts {
    pub fn add(&self, hook: &str, result: &str) {
        let Some(i) = RESULTS.iter().position(|r| *r == result) else {
            return;
        };
        if let Ok(mut m) = self.by_hook.lock() {
            let c = m.entry(hook.to_string()).or_default();
            c[i] = c[i].saturating_add(1);
        }
    }

    /// `hook`'s count of `result`.
    pub fn get(&self, hook: &str, result: &str) -> u64 {
        let i = RESULTS.iter().position(|r| *r == result).unwrap_or(0);
        self.by_hook
            .lock()
            .ok()
            .and_then(|m| m.get(hook).map(|c| c[i]))
            .unwrap_or(0)
    }
}

/// The daemon's handle on the hooks: the list (changed at a reload) and
/// the counts.
pub struct Hooks {
    list: watch::Sender<Arc<Vec<Arc<Hook>>>>,
    counts: Arc<Counts>,
}

/// Subscribes the hooks to the daemon's `taps` and starts their runner
/// with `hooks`.
pub fn start(taps: &mut Taps, hooks: &[Hook]) -> Hooks {
    let rx = taps.subscribe(TAP, TAP_CAPACITY);
    Hooks::start(rx, hooks, Arc::new(run_real))
}

fn run_real(hook: Arc<Hook>, event: Arc<crate::daemon::taps::Recorded>) -> worker::Running {
    Box::pin(async move { run::run(&hook, &event.event).await })
}

impl Hooks {
    /// Starts the runner on the events of `rx`; `runner` runs one event.
    fn start(rx: Receiver, hooks: &[Hook], runner: Runner) -> Hooks {
        let (list, watched) = watch::channel(listed(hooks));
        let counts = Arc::new(Counts::default());
        tokio::spawn(worker::dispatch(rx, watched, counts.clone(), runner));
        Hooks { list, counts }
    }

    /// A reload: events taken from the tap from now on run with `hooks`;
    /// those already in a hook's queue run as they were queued. A hook
    /// whose name is gone runs what it has queued, then stops.
    pub fn apply(&self, hooks: &[Hook]) {
        let changed = self.list.borrow().iter().map(|h| &**h).ne(hooks.iter());
        if changed {
            tracing::info!(
                EVENT = "reload",
                hooks = hooks.len(),
                "[[hooks]] changed: the new list runs from the next event"
            );
            self.list.send_replace(listed(hooks));
        }
    }

    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// The hook families of `/metrics` (none while no hook was ever set);
    /// `lost` is what the tap dropped before the runner saw it.
    pub fn metrics(&self, lost: u64) -> String {
        let mut t = String::new();
        let names: Vec<String> = self.list.borrow().iter().map(|h| h.name.clone()).collect();
        let mut by_hook = self.counts.by_hook.lock().map(|m| m.clone()).unwrap_or_default();
        if names.is_empty() && by_hook.is_empty() {
            // No hook was ever set: no family.
            return t;
        }
        t.push_str("# HELP failoverd_hook_runs_total Runs of each [[hooks]] program by result; dropped: events its full queue did not take.\n# TYPE failoverd_hook_runs_total counter\n");
        for n in names {
            by_hook.entry(n).or_default();
        }
        for (hook, c) in &by_hook {
            let label = hook.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
            for (r, v) in RESULTS.iter().zip(c) {
                let _ = writeln!(t, "failoverd_hook_runs_total{{hook=\"{label}\",result=\"{r}\"}} {v}");
            }
        }
        let _ = writeln!(
            t,
            "# HELP failoverd_hook_events_lost_total Events the hooks' runner queue dropped before any hook saw them.\n# TYPE failoverd_hook_events_lost_total counter\nfailoverd_hook_events_lost_total {lost}"
        );
        t
    }

    /// Adds the hook families to the `/metrics` reply `to` among `effects`
    /// (when `metrics`: the request was for /metrics).
    pub fn append(&self, effects: &mut [Effect], to: ReplyTo, metrics: bool, lost: u64) {
        if !metrics {
            return;
        }
        for e in effects {
            if let Effect::Reply { to: t, reply } = e
                && *t == to
                && let serde_json::Value::String(page) = &mut reply.body
            {
                page.push_str(&self.metrics(lost));
            }
        }
    }
}

fn listed(hooks: &[Hook]) -> Arc<Vec<Arc<Hook>>> {
    Arc::new(hooks.iter().cloned().map(Arc::new).collect())
}

#[cfg(test)]
mod tests;
