//! The read-only Get at start, after a reload and every `check_every`: it
//! spots API problems (a changed password, API access switched off, our
//! address no longer allowed) before a failover needs the API, and groups
//! the firewall does not know. READY never waits for it; it changes
//! nothing on the firewall, so it runs in dry run too.

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::firewall::api::Api;
use crate::firewall::slot::Class;

/// Makes the Get in the background; what it met is logged here, and its
/// outcome goes to the core through `done` (the API's health and its
/// episode: core/api_health.rs, which mails). The daemon owns the task:
/// one at a time, aborted at a reload and at shutdown.
pub fn spawn(api: Api, groups: Vec<String>, done: mpsc::Sender<Read>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let outcome = match api.get().await {
            Ok(reply) => {
                tracing::info!(
                    EVENT = "api_check",
                    records = reply.records.len(),
                    "the firewall API answers"
                );
                for g in reply.missing(groups.iter().map(String::as_str)) {
                    tracing::warn!(GROUP = %g, EVENT = "api_check", "group {g} is not defined on the firewall: run failoverd sync");
                }
                Ok(())
            }
            Err(answer) => {
                tracing::warn!(
                    EVENT = "api_check",
                    "the read-only Get was not accepted: {}",
                    answer.text
                );
                Err(answer)
            }
        };
        let _ = done.send(Read::Got(outcome)).await;
    })
}

/// The Get's outcome, for the core.
pub type Got = Result<(), crate::firewall::api::Answer>;

/// One walk's outcome (`[snmp]`), for the core.
pub type Walk = Result<Vec<crate::firewall::view::Row>, crate::firewall::view::WalkError>;

/// What a read brought back, for the core: the shell's reads (walks and
/// Gets, src/daemon/reads.rs) share one channel into the loop.
pub enum Read {
    Walk(Walk),
    Got(Got),
}

/// `sync = true`: after READY (and after a reload), the definitions that
/// differ from what the firewall last accepted from failoverd are sent
/// (Add, Update on 502), retried like a push while the answer is transient.
/// Returns, through `done`, each group accepted with its definition hash.
/// The daemon owns the task: a reload aborts it before starting the next
/// (a definition cut off is sent again, Add then Update on 502), and so
/// does shutdown.
pub fn spawn_sync(
    api: Api,
    changed: Vec<(String, String)>,
    dry: bool,
    done: tokio::sync::mpsc::UnboundedSender<(String, String)>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        for (group, hash) in changed {
            if dry {
                tracing::info!(GROUP = %group, EVENT = "sync", dry_run = true, "dry run: would send the definition of {group}");
                continue;
            }
            let mut wait = std::time::Duration::from_secs(1);
            loop {
                let (_, answer) = api.define(&group).await;
                match answer.class {
                    Class::Accepted => {
                        tracing::info!(GROUP = %group, EVENT = "sync", "definition sent: {}", answer.text);
                        let _ = done.send((group, hash));
                        break;
                    }
                    Class::Transient(_) | Class::Unknown(_) => {
                        tracing::warn!(GROUP = %group, EVENT = "sync", "definition not sent yet: {}", answer.text);
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(std::time::Duration::from_secs(60));
                    }
                    _ => {
                        tracing::warn!(GROUP = %group, EVENT = "sync", "the firewall refused the definition: {}", answer.text);
                        break;
                    }
                }
            }
        }
    })
}
