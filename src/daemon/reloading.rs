//! The loading half of a reload: the SIGHUPs, the blocking task that reads,
//! parses and validates the files and builds what the new plan needs (the
//! push sender, the API for the Get, a check of `[mail]`, the difference
//! from the running plan), and the coalescing of signals that come while it
//! runs. Nothing here touches the running daemon: `reload` applies the
//! result on the loop (docs/service.md, "Reload").

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::changes::Changes;
use super::send::Sender;
use crate::config::Plan;
use crate::firewall::api::Api;
use crate::mail::types::MailSettings;

/// Makes the push sender of a plan (the daemon's `SenderFactory`).
type Senders = Box<dyn Fn(&Plan) -> Result<Arc<dyn Sender>, String> + Send + Sync>;
/// The same, shared with the loading task.
type SharedSenders = Arc<dyn Fn(&Plan) -> Result<Arc<dyn Sender>, String> + Send + Sync>;

/// The SIGHUPs, the reload under way if any, and whether signals came
/// meanwhile.
pub(super) struct Reloading {
    signals: mpsc::Receiver<()>,
    senders: SharedSenders,
    task: Option<JoinHandle<Loaded>>,
    /// A SIGHUP came while loading: one more reload follows this one.
    pub(super) again: bool,
}

/// What happened: a SIGHUP, or the load under way ended.
pub(super) enum Step {
    Asked,
    Loaded(Box<Loaded>),
}

impl Reloading {
    pub(super) fn new(senders: Senders, signals: mpsc::Receiver<()>) -> Reloading {
        Reloading {
            signals,
            senders: senders.into(),
            task: None,
            again: false,
        }
    }

    /// Whether a load is under way.
    pub(super) fn loading(&self) -> bool {
        self.task.is_some()
    }

    /// Starts loading `config` on a blocking thread; `running` is the plan
    /// the difference is computed from, `host` this host's name.
    pub(super) fn start(&mut self, config: PathBuf, dry_flag: bool, running: Plan, host: String) {
        let senders = self.senders.clone();
        let job = move || load(&config, dry_flag, &senders, &running, &host);
        self.task = Some(tokio::task::spawn_blocking(job));
    }

    /// The next SIGHUP, or the end of the load under way.
    pub(super) async fn next(&mut self) -> Step {
        tokio::select! {
            Some(()) = self.signals.recv() => Step::Asked,
            loaded = done(&mut self.task) => Step::Loaded(Box::new(loaded)),
        }
    }
}

/// The load under way, when it ends; never, when none runs.
async fn done(task: &mut Option<JoinHandle<Loaded>>) -> Loaded {
    let Some(running) = task.as_mut() else {
        return std::future::pending().await;
    };
    let loaded = running.await;
    *task = None;
    loaded.unwrap_or_else(|e| Loaded::failed(format!("the loading task failed: {e}")))
}

/// What the loading task made of the files: the plan (or why not), and
/// what the new plan needs built off the loop.
pub(super) struct Loaded {
    pub(super) plan: Result<Plan, String>,
    /// The difference from the plan running when the load started (the
    /// only one that can be running when it ends: one load at a time).
    pub(super) changes: Changes,
    pub(super) sender: Result<Arc<dyn Sender>, String>,
    /// The API for the Get and the sync, or why there is none.
    pub(super) api: Result<Api, String>,
    /// Whether `[mail]` as loaded can make a client (an unreadable
    /// `ca_file` cannot).
    pub(super) mail: Result<(), String>,
    /// Invalid settings: each error (at most 50 lines), for the mail and
    /// status.
    pub(super) errors: Vec<String>,
}

impl Loaded {
    fn failed(why: String) -> Loaded {
        Loaded {
            plan: Err(why.clone()),
            changes: Changes::default(),
            sender: Err(why.clone()),
            api: Err(why.clone()),
            mail: Err(why),
            errors: Vec::new(),
        }
    }
}

/// Reads, parses and validates the settings and group files, and builds
/// what the new plan needs: run on a blocking thread.
fn load(config: &Path, dry_flag: bool, senders: &SharedSenders, running: &Plan, host: &str) -> Loaded {
    let mut plan = match super::load_or_errors(config) {
        Ok(plan) => plan,
        Err(errors) => {
            let n = errors.len();
            let mut loaded = Loaded::failed(format!("the settings are invalid ({n} error line(s))"));
            loaded.errors = errors;
            return loaded;
        }
    };
    if dry_flag {
        plan.settings.firewall.dry_run = true;
    }
    let changes = super::changes::changes(running, &plan);
    let sender = senders(&plan);
    let api = Api::new(&plan);
    let mail = match plan.settings.mail.as_ref().map(MailSettings::from_config) {
        Some(s) => crate::mail::smtp::Client::new(&s, host)
            .map(|_| ())
            .map_err(|e| format!("[mail]: {e}")),
        None => Ok(()),
    };
    Loaded {
        plan: Ok(plan),
        changes,
        sender,
        api,
        mail,
        errors: Vec::new(),
    }
}
