//! The read-only Get at start, after a reload and every `check_every`: it
//! spots API problems (a changed password, API access switched off, our
//! address no longer allowed) before a failover needs the API, and groups
//! the firewall does not know. READY never waits for it; it changes
//! nothing on the firewall, so it runs in dry run too.

use std::time::SystemTime;

use crate::firewall::api::Api;
use crate::firewall::slot::Class;
use crate::mail::event::{DaemonKind, Event, Kind};
use crate::mail::outbox::Mailer;

/// Makes the Get in the background; problems are logged, and a
/// configuration-class answer is mailed as a daemon event.
pub fn spawn(api: Api, groups: Vec<String>, mailer: Mailer) {
    tokio::spawn(async move {
        match api.get().await {
            Ok(reply) => {
                tracing::info!(
                    EVENT = "api_check",
                    records = reply.records.len(),
                    "the firewall API answers"
                );
                if !reply.records.is_empty() {
                    for g in groups.iter().filter(|g| !reply.records.contains(g)) {
                        tracing::warn!(GROUP = %g, EVENT = "api_check", "group {g} is not defined on the firewall: run failoverd sync");
                    }
                }
            }
            Err(answer) => {
                tracing::warn!(
                    EVENT = "api_check",
                    "the read-only Get was not accepted: {}",
                    answer.text
                );
                if let Class::Configuration(fix) = answer.class {
                    mailer.send(Event::new(
                        Kind::Daemon(DaemonKind::ApiUnusable),
                        format!("the firewall API refuses failoverd's read-only Get: {fix}"),
                        SystemTime::now(),
                    ));
                }
            }
        }
    });
}
