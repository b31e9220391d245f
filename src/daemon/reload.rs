//! SIGHUP, the shell's side: everything is loaded and validated first; an
//! invalid result is logged in full (and mailed), STATUS says "reload
//! rejected", and the old settings keep running. A valid one goes to the
//! core as a typed difference (see `core::reload` and `changes`); the shell
//! then keeps every unchanged stream running, stops and starts only those
//! that changed, restarts the outbox if `[mail]` changed (on the same
//! spool: nothing queued is lost) and the Get and sync. `state_dir` and
//! `[http] listen` change only at a restart (docs/service.md, "Reload").

use std::time::SystemTime;

use super::event_loop::{Shell, hostname};
use super::persist::Clocks;
use crate::config::Plan;
use crate::mail::event::{DaemonKind, Event, Kind};
use crate::mail::outbox;
use crate::mail::render::{Context, LocalZone};
use crate::mail::types::MailSettings;
use crate::probe::Check;

impl<C: Check> Shell<C> {
    /// A rejected reload: logged, mailed (a daemon event), in STATUS; the
    /// old settings keep running.
    fn reject(&mut self, why: &str) {
        tracing::error!(
            EVENT = "ReloadRejected",
            "reload rejected: {why}; the old settings keep running"
        );
        // Standby: logged, not mailed (docs/ha.md).
        if self.core.mails_new_events() {
            self.mailer.send(Event::new(
                Kind::Daemon(DaemonKind::ReloadRejected),
                format!("reload rejected: {why}; the old settings keep running"),
                SystemTime::now(),
            ));
        }
        self.notifier.send(&format!("READY=1\nSTATUS=reload rejected: {why}"));
    }

    pub(super) async fn reload(&mut self) {
        self.notifier.send("RELOADING=1");
        tracing::info!(EVENT = "reload", "SIGHUP: reloading {}", self.config.display());
        let plan = match self.candidate() {
            Ok(p) => p,
            Err(why) => return self.reject(&why),
        };
        let sender = match (self.make_sender)(&plan) {
            Ok(s) => s,
            // Valid settings that cannot be used (e.g. a ca_file holding no
            // certificate): rejected, and mailed, like invalid ones.
            Err(why) => return self.reject(&why),
        };
        let mail = plan.settings.mail.as_ref().map(MailSettings::from_config);
        // An outbox that could not start at the last reload is tried again.
        let mail_changed = plan.settings.mail != self.core.plan().settings.mail || self.outbox.is_none();
        if mail_changed
            && let Some(s) = &mail
            && let Err(e) = crate::mail::smtp::Client::new(s, &hostname())
        {
            // Checked before anything changes: an unusable [mail] (an
            // unreadable ca_file) is rejected like an unusable [firewall].
            return self.reject(&format!("[mail]: {e}"));
        }
        let via = self.next_generation;
        self.next_generation += 1;
        self.senders.insert(via, sender);
        let (changes, effects) = self.core.reload(plan, via, Clocks::now());
        let streams = self.streams.apply(self.core.engine(), &self.core.plan().settings.probe);
        let in_use = self.core.generations_in_use();
        self.senders.retain(|g, _| in_use.contains(g));
        tracing::info!(
            EVENT = "reload",
            streams_added = changes.streams_added.len(),
            streams_removed = changes.streams_removed.len(),
            streams_kept = streams.kept,
            groups_added = ?changes.groups_added,
            groups_removed = ?changes.groups_removed,
            groups_changed = ?changes.groups_changed,
            metrics_page = changes.metrics,
            "the new settings' differences"
        );
        if mail_changed {
            self.restart_outbox(mail.as_ref()).await;
        }
        self.reads.reload(self.core.plan());
        self.reads.sync(&self.core);
        tracing::info!(
            EVENT = "reload",
            groups = self.core.plan().groups.len(),
            streams = self.core.engine().streams().len(),
            "reloaded"
        );
        self.perform(effects);
        // [ha] changed: the peer's reader (and, for a new address, the
        // role watcher) start again.
        self.pair_apply().await;
    }

    /// The new plan, validated; what stays until a restart is kept.
    fn candidate(&self) -> Result<Plan, String> {
        let Some(mut plan) = super::load(&self.config) else {
            return Err("the settings are invalid (every error is logged above)".into());
        };
        if self.dry_flag {
            plan.settings.firewall.dry_run = true;
        }
        let running = &self.core.plan().settings;
        if plan.settings.state_dir != running.state_dir {
            tracing::warn!(
                "state_dir changes only at a restart; keeping {}",
                running.state_dir.display()
            );
            plan.settings.state_dir = running.state_dir.clone();
        }
        if plan.settings.http_listen != running.http_listen {
            tracing::warn!("[http] listen changes only at a restart; the old address keeps serving");
        }
        Ok(plan)
    }

    /// `[mail]` changed: the outbox stops (what it holds stays in the
    /// spool) and starts again with the new settings on the same spool, so
    /// nothing queued is lost and the next mail goes the new way.
    async fn restart_outbox(&mut self, settings: Option<&MailSettings>) {
        if let Some(old) = self.outbox.take() {
            old.shutdown().await;
        }
        let ctx = Context {
            host: hostname(),
            zone: LocalZone::System,
        };
        match outbox::start(settings, ctx, &self.dir.path) {
            Ok(o) => {
                self.mailer = o.mailer();
                self.outbox = Some(o);
            }
            Err(e) => {
                // The settings were checked before; only the spool folder
                // can fail here. Mails are logged, not sent, until a reload
                // or restart that can open it.
                tracing::error!(
                    EVENT = "daemon",
                    "mail: {e}; mails are only logged until the next reload"
                );
                return;
            }
        }
        tracing::info!(
            EVENT = "reload",
            "[mail] changed: the outbox restarted with the new settings"
        );
    }
}
