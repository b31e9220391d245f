//! The process around [`serve`](super::event_loop::serve): signal handlers
//! (SIGTERM and SIGINT stop, SIGHUP reloads) and the real dependencies
//! (the prober, the firewall's API, systemd's notify socket).

use std::path::PathBuf;
use std::sync::Arc;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use super::event_loop::{Deps, make_sender, serve};
use super::{VERSION, notify::Notifier};
use crate::probe::Prober;
use crate::state::StateDir;
use crate::{config::Plan, exit};

/// Runs the daemon on `plan` until SIGTERM/SIGINT; returns the exit code.
pub async fn run(plan: Plan, dir: StateDir, config: PathBuf, dry_flag: bool) -> i32 {
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return exit::FAILED;
    };
    let (reload_tx, reloads) = mpsc::channel(4);
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            if reload_tx.send(()).await.is_err() {
                return;
            }
        }
    });
    let shutdown = async move {
        let signal = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!(SIGNAL = signal, "{signal}: failoverd {VERSION} stopping");
    };
    let deps = Deps {
        dir,
        checker: Arc::new(Prober::new()),
        senders: Box::new(make_sender),
        notifier: Notifier::from_env(),
        reloads,
        config,
        dry_flag,
    };
    serve(plan, deps, shutdown).await
}
