//! `failoverd run`: the daemon. Wires the plan's check streams into the
//! engine, the engine's events into the log (and mail), and group health
//! into the push loop; persists state; speaks systemd's notify protocol;
//! stops in order on SIGTERM/SIGINT.
//!
//! Exit codes: 0 after SIGTERM/SIGINT; 2 cannot start as configured
//! (invalid settings, PING without ICMP permission, state directory locked
//! by another `run`); 1 any other fatal error.

mod api_check;
pub mod changes;
pub mod core;
mod event_loop;
mod http;
mod mailing;
mod metrics;
pub mod notify;
mod orphans;
pub mod page_history;
mod pair_tasks;
pub mod persist;
mod process;
mod process_run;
pub mod pushes;
mod reads;
mod reload;
mod reloading;
pub mod send;
mod streams;
pub mod taps;

pub use event_loop::{Deps, SenderFactory, make_sender, serve};

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{self, Plan};
use crate::exit;
use crate::probe::Protocol;
use crate::probe::icmp::{Family as IcmpFamily, check_permission};
use crate::state::StateDir;

/// The version every start and stop line names.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// How the daemon was asked to run.
#[derive(Clone, Debug)]
pub struct Options {
    pub config: PathBuf,
    pub dry_run: bool,
    /// How long to wait for the state directory's lock (15 s: docs/state-file.md).
    pub lock_wait: Duration,
}

/// Runs the daemon until SIGTERM/SIGINT; returns the exit code.
pub fn run(opts: &Options) -> i32 {
    let Some(mut plan) = load(&opts.config) else {
        return exit::CONFIG;
    };
    if opts.dry_run {
        plan.settings.firewall.dry_run = true;
    }
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the runtime");
            return exit::FAILED;
        }
    };
    let code = rt.block_on(start(plan, opts));
    // A reload still loading on a blocking thread (a slow network file
    // system) must not hold the exit.
    rt.shutdown_timeout(Duration::from_secs(1));
    code
}

async fn start(plan: Plan, opts: &Options) -> i32 {
    let dir = StateDir::new(&plan.settings.state_dir);
    let Some(lock) = lock(&dir, opts.lock_wait).await else {
        return exit::CONFIG;
    };
    if let Err(msg) = icmp_allowed(&plan) {
        tracing::error!("{msg}");
        return exit::CONFIG;
    }
    let code = process_run::run(plan, dir, opts.config.clone(), opts.dry_run).await;
    drop(lock);
    code
}

/// Loads the plan, logging every finding; `None` if invalid.
pub fn load(path: &Path) -> Option<Plan> {
    load_or_errors(path).ok()
}

/// The most error lines a rejected reload's mail and status carry.
pub const REJECTED_LINES: usize = 50;

/// Loads the plan, logging every finding; if invalid, the errors (at most
/// [`REJECTED_LINES`], then how many more), for the reload-rejected mail.
pub fn load_or_errors(path: &Path) -> Result<Plan, Vec<String>> {
    let loaded = match config::load(path) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("{e}");
            return Err(vec![e.to_string()]);
        }
    };
    let mut errors = Vec::new();
    for d in loaded.diagnostics.sorted() {
        match d.severity {
            config::diag::Severity::Error => {
                tracing::error!("{d}");
                errors.push(d.to_string());
            }
            config::diag::Severity::Warning => tracing::warn!("{d}"),
        }
    }
    match loaded.plan {
        Some(plan) => Ok(plan),
        None => {
            tracing::error!("{}: invalid settings; failoverd check says more", path.display());
            let more = errors.len().saturating_sub(REJECTED_LINES);
            errors.truncate(REJECTED_LINES);
            if more > 0 {
                errors.push(format!(
                    "... and {more} more: failoverd check -c {} lists them all",
                    path.display()
                ));
            }
            Err(errors)
        }
    }
}

/// Takes the state directory's lock, waiting up to `wait` for another
/// `run` (or a `push`) to let go.
async fn lock(dir: &StateDir, wait: Duration) -> Option<std::fs::File> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut told = false;
    loop {
        match dir.try_lock() {
            Ok(Some(f)) => return Some(f),
            Ok(None) if tokio::time::Instant::now() < deadline => {
                if !std::mem::replace(&mut told, true) {
                    tracing::warn!(
                        "{}; waiting up to {} for it",
                        locked(dir),
                        humantime::format_duration(wait)
                    );
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Ok(None) => {
                tracing::error!(
                    "{}: stop it first (systemctl stop failoverd), or give this run a state_dir of its own",
                    locked(dir)
                );
                return None;
            }
            Err(e) => {
                tracing::error!(dir = %dir.shown().display(), error = %e, "cannot use the state directory");
                return None;
            }
        }
    }
}

/// Who holds the state directory, with its absolute path.
fn locked(dir: &StateDir) -> String {
    let lock = dir.shown().join("lock");
    match dir.holder() {
        Some(pid) => format!("{} is locked by failoverd PID {pid} (a run, or a push)", lock.display()),
        None => format!("{} is locked by another failoverd", lock.display()),
    }
}

/// PING conditions need ICMP permission; without it failoverd cannot do
/// what it is configured to do, and says what to grant.
pub(crate) fn icmp_allowed(plan: &Plan) -> Result<(), String> {
    let ping = plan
        .groups
        .iter()
        .any(|g| g.def.conditions.contains(&crate::config::groups::Condition::Ping));
    let anchors = crate::engine::anchor_keys(plan)
        .iter()
        .any(|k| k.protocol == Protocol::Icmp);
    if !ping && !anchors {
        return Ok(());
    }
    check_permission(IcmpFamily::V4).map(|_| ()).map_err(|e| e.to_string())
}
