//! SIGHUP: everything is loaded and validated first; an invalid result is
//! logged in full (and mailed), STATUS says "reload rejected", and the old
//! settings keep running. A valid one is applied as a difference: readers
//! of unchanged streams keep their health, groups keep beliefs, rule memory,
//! holds and requests in flight, and only groups whose definition or
//! connections changed lose their arming. `[mail]` applies at once (the
//! outbox restarts on the same spool); `state_dir` and `[http] listen`
//! change only at a restart.

use std::time::SystemTime;

use tokio::sync::mpsc;

use super::event_loop::{Daemon, build_pushes, hostname, make_sender, start_streams};
use super::persist::Clocks;
use crate::config::Plan;
use crate::engine::Engine;
use crate::mail::event::{DaemonKind, Event, Kind};
use crate::mail::outbox;
use crate::mail::render::{Context, LocalZone};
use crate::mail::types::MailSettings;
use crate::probe::schedule::Observation;

impl Daemon {
    /// A rejected reload: logged, mailed (a daemon event), in STATUS; the
    /// old settings keep running.
    fn reject<T>(&mut self, why: &str) -> Option<T> {
        tracing::error!(
            EVENT = "reload_rejected",
            "reload rejected: {why}; the old settings keep running"
        );
        self.mailer.send(Event::new(
            Kind::Daemon(DaemonKind::ReloadRejected),
            format!("reload rejected: {why}; the old settings keep running"),
            SystemTime::now(),
        ));
        self.notifier.send(&format!("READY=1\nSTATUS=reload rejected: {why}"));
        None
    }

    /// Reloads; returns the new observation channel when applied.
    pub(super) async fn reload(&mut self) -> Option<mpsc::Receiver<Observation>> {
        self.notifier.send("RELOADING=1");
        tracing::info!(EVENT = "reload", "SIGHUP: reloading {}", self.config.display());
        let plan = match self.candidate() {
            Ok(p) => p,
            Err(why) => return self.reject(&why),
        };
        let sender = match make_sender(&plan) {
            Ok(s) => s,
            // Valid settings that cannot be used (e.g. a ca_file holding no
            // certificate): rejected, and mailed, like invalid ones.
            Err(why) => return self.reject(&why),
        };
        let mail = plan.settings.mail.as_ref().map(MailSettings::from_config);
        // An outbox that could not start at the last reload is tried again.
        let mail_changed = plan.settings.mail != self.plan.settings.mail || self.outbox.is_none();
        if mail_changed
            && let Some(s) = &mail
            && let Err(e) = crate::mail::smtp::Client::new(s, &hostname())
        {
            // Checked before anything changes: an unusable [mail] (an
            // unreadable ca_file) is rejected like an unusable [firewall].
            return self.reject(&format!("[mail]: {e}"));
        }
        let rx = self.apply(plan, sender);
        if mail_changed {
            self.restart_outbox(mail.as_ref()).await;
        }
        self.start_sync();
        tracing::info!(
            EVENT = "reload",
            groups = self.plan.groups.len(),
            streams = self.engine.streams().len(),
            "reloaded"
        );
        self.notifier.send(&format!("READY=1\nSTATUS={}", self.status_line()));
        Some(rx)
    }

    /// The new plan, validated; what stays until a restart is kept.
    fn candidate(&self) -> Result<Plan, String> {
        let Some(mut plan) = super::load(&self.config) else {
            return Err("the settings are invalid (every error is logged above)".into());
        };
        if self.dry_flag {
            plan.settings.firewall.dry_run = true;
        }
        if plan.settings.state_dir != self.plan.settings.state_dir {
            tracing::warn!(
                "state_dir changes only at a restart; keeping {}",
                self.plan.settings.state_dir.display()
            );
            plan.settings.state_dir = self.plan.settings.state_dir.clone();
        }
        Ok(plan)
    }

    fn apply(&mut self, plan: Plan, sender: std::sync::Arc<dyn super::send::Sender>) -> mpsc::Receiver<Observation> {
        let clocks = Clocks::now();
        self.save(&clocks);
        let changes = super::changes::changes(&self.plan, &plan);
        tracing::info!(
            EVENT = "reload",
            streams_added = changes.streams_added.len(),
            streams_removed = changes.streams_removed.len(),
            groups_added = ?changes.groups_added,
            groups_removed = ?changes.groups_removed,
            groups_changed = ?changes.groups_changed,
            "the new settings' differences"
        );
        let mut engine = Engine::new(&plan, &self.engine.persisted());
        engine.adopt(&self.engine);
        let mut pushes = build_pushes(&plan, &self.state, &clocks);
        let url_same = plan.settings.firewall.url == self.url;
        let mut in_flight = 0;
        for (i, g) in plan.groups.iter().enumerate() {
            let Some(oi) = self.index(g.name()) else { continue };
            let old = &self.pushes.groups[oi];
            let new = &mut pushes.groups[i];
            let kind = new.policy.kind;
            let timing = new.policy.timing;
            new.policy = old.policy.clone();
            new.policy.kind = kind;
            new.policy.timing = timing;
            new.down_since = old.down_since;
            if url_same {
                new.slot = old.slot.clone();
            }
            new.slot.clear_refused();
            in_flight += usize::from(old.slot.in_flight.is_some());
            if changes.disarms(g.name()) {
                new.policy.disarm(tokio::time::Instant::now());
            }
        }
        self.finish_dropped_restarts(&plan);
        pushes.guard.tripped = self.pushes.guard.tripped;
        // Orphans' requests count against max_in_flight too.
        pushes.set_in_flight(in_flight + self.orphans.in_flight());
        for h in self.streams.drain(..) {
            h.abort();
        }
        let (tx, rx) = mpsc::channel(4096);
        self.streams = start_streams(&plan, &engine, tx);
        self.url = plan.settings.firewall.url.clone();
        self.state.firewalls.entry(self.url.clone()).or_default();
        self.plan = plan;
        self.engine = engine;
        self.pushes = pushes;
        self.sender = sender;
        self.get_api = self.api_for_get();
        // The Get of the old settings gives way to one of the new at once.
        if let Some(old) = self.get_task.take() {
            old.abort();
        }
        self.next_get = tokio::time::Instant::now();
        self.dirty = true;
        rx
    }
}

impl Daemon {
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

    /// A tunnel restart's Active is sent whatever happens, a reload that
    /// drops the group included: the group becomes an orphan that the old
    /// settings' sender finishes (after any request still in flight).
    fn finish_dropped_restarts(&mut self, plan: &Plan) {
        let pending: Vec<(String, bool)> = self
            .pushes
            .groups
            .iter()
            .filter(|g| !plan.groups.iter().any(|n| n.name() == g.name))
            .filter(|g| g.policy.restart != crate::firewall::decide::Restart::Idle)
            .map(|g| (g.name.clone(), g.slot.in_flight.is_some()))
            .collect();
        let now = tokio::time::Instant::now();
        for (name, in_flight) in pending {
            tracing::warn!(GROUP = %name, EVENT = "push", "the group left the settings during a restart: its Active is still sent");
            self.orphans.dropped(&name, self.sender.clone(), in_flight, now);
        }
        self.decide_soon = true;
    }
}
