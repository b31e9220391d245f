//! SIGHUP, the shell's side: everything is loaded and validated first, away
//! from the loop (a blocking task reads the files, parses, validates and
//! builds the new firewall client), so checks, pushes and the listeners go
//! on meanwhile; signals that arrive while a load runs make one more reload
//! after it, not one each. An invalid result is logged in full (and
//! mailed), STATUS says "reload rejected", and the old settings keep
//! running. A valid one goes to the core as a typed difference (see
//! `core::reload` and `changes`); the shell then keeps every unchanged
//! stream running, stops and starts only those that changed, restarts the
//! outbox if `[mail]` changed (on the same spool: nothing queued is lost),
//! and makes a Get and sync only when the firewall or the groups changed.
//! `state_dir` and `[http] listen` change only at a restart
//! (docs/service.md, "Reload").

use std::time::SystemTime;

use super::changes::Changes;
use super::event_loop::{Shell, hostname};
use super::persist::Clocks;
use super::reloading::{Loaded, Step};
use crate::config::Plan;
use crate::firewall::api::Api;
use crate::mail::event::{DaemonKind, Event, Kind};
use crate::mail::outbox;
use crate::mail::render::{Context, LocalZone};
use crate::mail::types::MailSettings;
use crate::probe::Check;

impl<C: Check> Shell<C> {
    /// A rejected reload: logged, mailed (a daemon event, with the errors:
    /// at most 50 lines), in STATUS, status, the page and /metrics until a
    /// reload succeeds; the old settings keep running.
    fn reject(&mut self, why: &str, errors: &[String]) {
        tracing::error!(
            EVENT = "ReloadRejected",
            "reload rejected: {why}; the old settings keep running"
        );
        let mut text = format!("reload rejected: {why}; the old settings keep running");
        for e in errors {
            text.push_str("\n      ");
            text.push_str(e);
        }
        let event = Event::new(Kind::Daemon(DaemonKind::ReloadRejected), text, SystemTime::now());
        let active = self.core.mails_new_events();
        self.taps.send(crate::daemon::taps::Recorded {
            event: event.clone(),
            active,
        });
        // Standby: logged, not mailed (docs/ha.md).
        if active {
            self.mailer.send(event);
        }
        self.core.reload_rejected(why, SystemTime::now());
        self.notifier.send(&format!("READY=1\nSTATUS=reload rejected: {why}"));
    }

    pub(super) async fn reload_step(&mut self, step: Step) {
        match step {
            Step::Asked => self.reload_asked(),
            Step::Loaded(loaded) => self.reload_loaded(*loaded).await,
        }
    }

    /// A SIGHUP: a load starts off the loop, or, while one runs, one more
    /// is noted (however many signals come meanwhile).
    fn reload_asked(&mut self) {
        if self.reloading.loading() {
            if !self.reloading.again {
                tracing::info!(EVENT = "reload", "SIGHUP while loading: one more reload follows");
            }
            self.reloading.again = true;
            return;
        }
        self.notifier.send("RELOADING=1");
        tracing::info!(EVENT = "reload", "SIGHUP: reloading {}", self.config.display());
        let running = self.core.plan().clone();
        self.reloading
            .start(self.config.clone(), self.dry_flag, running, hostname());
    }

    /// The load ended: applied or rejected; then the reload noted
    /// meanwhile, if any, starts.
    async fn reload_loaded(&mut self, loaded: Loaded) {
        self.apply(loaded).await;
        if std::mem::take(&mut self.reloading.again) {
            self.reload_asked();
        }
    }

    async fn apply(&mut self, loaded: Loaded) {
        let plan = match self.candidate(loaded.plan) {
            Ok(p) => p,
            Err(why) => return self.reject(&why, &loaded.errors),
        };
        let sender = match loaded.sender {
            Ok(s) => s,
            // Valid settings that cannot be used (e.g. a ca_file holding no
            // certificate): rejected, and mailed, like invalid ones.
            Err(why) => return self.reject(&why, &[]),
        };
        let mail = plan.settings.mail.as_ref().map(MailSettings::from_config);
        // An outbox that could not start at the last reload is tried again.
        let mail_changed = plan.settings.mail != self.core.plan().settings.mail || self.outbox.is_none();
        if let (true, Some(_), Err(why)) = (mail_changed, &mail, &loaded.mail) {
            // Checked before anything changes: an unusable [mail] (an
            // unreadable ca_file) is rejected like an unusable [firewall].
            return self.reject(why, &[]);
        }
        let snmp_same = plan.settings.snmp == self.core.plan().settings.snmp;
        let via = self.next_generation;
        self.next_generation += 1;
        self.senders.insert(via, sender);
        // The running state_dir was kept (candidate): not a change.
        let changes = Changes {
            state_dir: false,
            ..loaded.changes
        };
        let (changes, effects) = self.core.reload_with(plan, changes, via, Clocks::now());
        self.hooks.apply(&self.core.plan().settings.hooks);
        // Between the long steps of a large reload the check tasks run (the
        // loop itself is not re-entered: nothing sees a half-applied shell).
        tokio::task::yield_now().await;
        let streams = self.streams.apply(self.core.engine(), &self.core.plan().settings.probe);
        tokio::task::yield_now().await;
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
        self.reread(loaded.api, &changes, snmp_same);
        tracing::info!(
            EVENT = "ReloadApplied",
            groups = self.core.plan().groups.len(),
            streams = self.core.engine().streams().len(),
            "reload applied: {}",
            applied(&changes, mail_changed, !snmp_same)
        );
        self.perform(effects);
        // [ha] changed: the peer's reader (and, for a new address, the
        // role watcher) start again.
        self.pair_apply().await;
    }

    /// The Get, sync and walk after a reload: again at once when the
    /// firewall or the groups changed; otherwise they keep their schedule
    /// (a burst of signals with unchanged settings logs in to the firewall
    /// no more than before it).
    fn reread(&mut self, api: Result<Api, String>, changes: &Changes, snmp_same: bool) {
        let api = api
            .map_err(|e| tracing::info!(EVENT = "api_check", "no read-only Get of the firewall: {e}"))
            .ok();
        let fresh = changes.firewall
            || !changes.groups_added.is_empty()
            || !changes.groups_removed.is_empty()
            || !changes.groups_changed.is_empty();
        self.reads.reload(self.core.plan(), api, fresh, !snmp_same);
        if fresh {
            self.reads.sync(&self.core);
        }
    }

    /// The new plan, validated; what stays until a restart is kept.
    fn candidate(&self, loaded: Result<Plan, String>) -> Result<Plan, String> {
        let mut plan = loaded?;
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

/// What a reload changed, for its `ReloadApplied` line: the groups by
/// name, the streams by count, and each part of the settings that changed.
fn applied(c: &Changes, mail: bool, snmp: bool) -> String {
    let mut parts = Vec::new();
    for (what, names) in [
        ("groups added", &c.groups_added),
        ("groups removed", &c.groups_removed),
        ("groups changed", &c.groups_changed),
    ] {
        if !names.is_empty() {
            parts.push(format!("{what}: {}", names.join(", ")));
        }
    }
    if !c.streams_added.is_empty() || !c.streams_removed.is_empty() {
        parts.push(format!(
            "check streams: {} added, {} removed",
            c.streams_added.len(),
            c.streams_removed.len()
        ));
    }
    for (changed, name) in [
        (c.firewall, "[firewall]"),
        (snmp, "[snmp]"),
        (mail, "[mail]"),
        (c.probe, "[probe]"),
        (c.guard, "[guard]"),
        (c.metrics, "[http] page keys"),
    ] {
        if changed {
            parts.push(format!("{name} changed"));
        }
    }
    if parts.is_empty() {
        "nothing changed".to_string()
    } else {
        parts.join("; ")
    }
}
