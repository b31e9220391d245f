//! The outbox: the daemon's one handle on mail. Events go in through a
//! [`Mailer`] that never blocks; a background task (see `delivery`) paces,
//! renders, spools and sends them with retries. Also `mail_test` for the
//! `failoverd mail-test` command.
//!
//! The channel is unbounded, on purpose: events are state changes (behind
//! fall/rise hysteresis), so they come at a human rate; every one of them
//! matters (a bounded channel with `try_send` would drop an alert exactly
//! when things go wrong); and the task drains it without waiting on the
//! network, since SMTP runs in its own task. So a probe or push that hands
//! over an event never waits and never loses it.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::delivery::Task;
use super::digest;
use super::event::Event;
use super::render::{Context, LocalZone, Stamp, message_domain};
use super::smtp::Client;
use super::spool::Spool;
use super::types::MailSettings;

pub use super::deliver::{Deliver, Limits, LogOnly, Retry, Status, log_mail};

/// Hands events to the outbox; cheap to clone, never blocks.
#[derive(Clone, Debug)]
pub struct Mailer {
    tx: mpsc::UnboundedSender<(Event, Instant)>,
}

impl Mailer {
    /// A mailer onto `tx` (tests).
    #[cfg(test)]
    pub(crate) fn from_sender(tx: mpsc::UnboundedSender<(Event, Instant)>) -> Mailer {
        Mailer { tx }
    }

    /// Queues `e` for mail. Never waits; after shutdown the event is only
    /// logged. The coalesce window counts from this call, not from when
    /// the outbox task gets to the event.
    pub fn send(&self, e: Event) {
        // History records are never mailed (docs/history.md).
        if e.kind.history_only() {
            return;
        }
        if let Err(mpsc::error::SendError((e, _))) = self.tx.send((e, Instant::now())) {
            tracing::warn!(event = ?e.kind, group = ?e.group, reason = %e.reason, "mail outbox stopped; event not mailed");
        }
    }
}

/// The running outbox.
#[derive(Debug)]
pub struct Outbox {
    mailer: Mailer,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
    status: watch::Receiver<Status>,
}

/// Starts the outbox for `settings` (`None`: no `[mail]`, mails are logged),
/// spooling in `state_dir/spool`. `Err` names a settings problem (an
/// unreadable `ca_file`) or a spool folder that cannot be opened.
pub fn start(settings: Option<&MailSettings>, ctx: Context, state_dir: &Path) -> Result<Outbox, String> {
    let Some(s) = settings else {
        return Ok(Outbox::with(
            LogOnly,
            Spool::memory(),
            Limits::default(),
            Retry::default(),
            ctx,
        ));
    };
    let client = Client::new(s, &ctx.host).map_err(|e| e.to_string())?;
    let dir = state_dir.join("spool");
    let (spool, warnings) = Spool::open(&dir).map_err(|e| spool_error(&dir, &e))?;
    for w in warnings {
        tracing::warn!("{w}");
    }
    Ok(Outbox::with(client, spool, Limits::from(s), Retry::default(), ctx))
}

fn spool_error(dir: &Path, e: &io::Error) -> String {
    format!("cannot open the mail spool {}: {e}", dir.display())
}

impl Outbox {
    /// Starts the delivery task on the current tokio runtime with any
    /// [`Deliver`]; mails already in `spool` are sent first, in order.
    pub fn with<D: Deliver>(deliver: D, spool: Spool, limits: Limits, retry: Retry, ctx: Context) -> Outbox {
        let (tx, rx) = mpsc::unbounded_channel();
        let (stop, stopped) = oneshot::channel();
        let (status_tx, status) = watch::channel(Status {
            queued: spool.len(),
            ..Status::default()
        });
        let task = Task::new(Arc::new(deliver), spool, limits, retry, ctx, status_tx);
        let task = tokio::spawn(task.run(rx, stopped));
        Outbox {
            mailer: Mailer { tx },
            stop,
            task,
            status,
        }
    }

    pub fn mailer(&self) -> Mailer {
        self.mailer.clone()
    }

    pub fn status(&self) -> watch::Receiver<Status> {
        self.status.clone()
    }

    /// Stops: events already handed over and mails not yet accepted are
    /// written to the spool for the next start; a send in flight gets up
    /// to 2 s to finish, else it is abandoned (its mail stays spooled, so
    /// it is sent again: at least once).
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        if let Err(e) = self.task.await {
            tracing::error!("mail outbox task failed: {e}");
        }
    }
}

/// `failoverd mail-test`: one test mail, sent at once, no spool. `Ok` is
/// the server's answer, `Err` the reason it was not accepted.
pub async fn mail_test(settings: &MailSettings, host: &str) -> Result<String, String> {
    let ctx = Context {
        host: host.to_owned(),
        zone: LocalZone::System,
    };
    let client = Client::new(settings, host).map_err(|e| e.to_string())?;
    let mail = digest::test_mail(
        settings,
        &ctx,
        Stamp::new(&message_domain(&settings.from), SystemTime::now()),
    );
    client.send(&mail).await.map_err(|e| e.to_string())
}

#[cfg(test)]
mod crash_tests;
#[cfg(test)]
mod tests;
