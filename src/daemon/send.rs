//! How a push leaves: to the firewall's API, or, in dry run, to the log.
//! Either way the answer comes back classified for the push slot.

use std::future::Future;
use std::pin::Pin;

use crate::firewall::api::{Answer, Api};
use crate::firewall::decide::Want;
use crate::firewall::slot::Class;

/// A push to make: the group and the state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Push {
    pub group: String,
    pub want: Want,
}

impl std::fmt::Display for Push {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let w = match self.want {
            Want::Active => "Active",
            Want::DeActive => "DeActive",
        };
        write!(f, "{w} {}", self.group)
    }
}

/// Sends pushes; the answer is classified.
pub trait Sender: Send + Sync + 'static {
    fn send(&self, push: Push) -> Pin<Box<dyn Future<Output = Answer> + Send + '_>>;
    /// Whether pushes are only logged.
    fn dry(&self) -> bool;
}

/// Dry run: every would-be push is logged once and counts as accepted at
/// once, in memory only.
pub struct DryRun;

impl Sender for DryRun {
    fn send(&self, push: Push) -> Pin<Box<dyn Future<Output = Answer> + Send + '_>> {
        Box::pin(async move {
            tracing::info!(GROUP = %push.group, EVENT = "push", dry_run = true, "dry run: would push {push}");
            Answer {
                class: Class::Accepted,
                text: "dry run: not sent".into(),
            }
        })
    }

    fn dry(&self) -> bool {
        true
    }
}

/// The firewall's API.
pub struct Live(pub Api);

impl Sender for Live {
    fn send(&self, push: Push) -> Pin<Box<dyn Future<Output = Answer> + Send + '_>> {
        Box::pin(async move { self.0.push(&push.group, push.want).await })
    }

    fn dry(&self) -> bool {
        false
    }
}
