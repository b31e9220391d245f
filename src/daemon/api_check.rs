//! The read-only Get at start, after a reload and every `check_every`: it
//! spots API problems (a changed password, API access switched off, our
//! address no longer allowed) before a failover needs the API, and groups
//! the firewall does not know. READY never waits for it; it changes
//! nothing on the firewall, so it runs in dry run too.

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::core::definitions::{Compared, SyncNote};
use crate::config::groups::GroupDef;
use crate::firewall::api::Api;
use crate::firewall::compare;
use crate::firewall::slot::Class;
use crate::firewall::sync::Gate;

/// Makes the Get in the background; what it met is logged here, and its
/// outcome goes to the core through `done` (the API's health and its
/// episode: core/api_health.rs, which mails), with the comparison of the
/// firewall's definitions with `defs` when the Get was accepted
/// (core/definitions.rs): compared here, off the loop. The daemon owns
/// the task: one at a time, aborted at a reload and at shutdown.
pub fn spawn(api: Api, defs: Vec<GroupDef>, done: mpsc::Sender<Read>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let (outcome, compared) = match api.get_groups().await {
            Ok((reply, fw)) => {
                tracing::info!(
                    EVENT = "api_check",
                    records = reply.records.len(),
                    "the firewall API answers"
                );
                let compared = fw
                    .map_err(|e| e.to_string())
                    .and_then(|fw| compare::compare(&defs, &fw));
                (Ok(()), Some(compared))
            }
            Err(answer) => {
                tracing::warn!(
                    EVENT = "api_check",
                    "the read-only Get was not accepted: {}",
                    answer.text
                );
                (Err(answer), None)
            }
        };
        let _ = done.send(Read::Got(outcome, compared)).await;
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
    /// The Get's outcome and, when it was accepted, the comparison.
    Got(Got, Option<Compared>),
}

/// `sync = true`: the groups whose definition differed at two Gets in a
/// row (core/definitions.rs) are sent (Add, Update on 502), retried like a
/// push while the answer is transient; each one accepted goes back
/// through `done` with the firewall's answer. The daemon owns the task: a
/// reload aborts it (the next Gets find what is still different), and so
/// does shutdown.
pub fn spawn_sync(
    api: Api,
    groups: Vec<String>,
    dry: bool,
    gate: Gate,
    done: tokio::sync::mpsc::UnboundedSender<SyncNote>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        for group in groups {
            if dry {
                tracing::info!(GROUP = %group, EVENT = "sync", dry_run = true, "dry run: would send the definition of {group}");
                continue;
            }
            let mut wait = std::time::Duration::from_secs(1);
            loop {
                // A slot within max_in_flight, beside the pushes.
                let Some(permit) = gate.acquire(&group).await else {
                    return;
                };
                let (_, answer) = api.define(&group).await;
                drop(permit);
                match answer.class {
                    Class::Accepted => {
                        tracing::info!(GROUP = %group, EVENT = "sync", "definition sent: {}", answer.text);
                        let _ = done.send(SyncNote::Accepted(group, answer.text));
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
