//! The outcome of one check (one ICMP echo or one TCP connect), as the prober
//! hands it to the health state machines.

use std::time::Duration;

/// What one check found.
///
/// The three-way split matters: only `Good` and `Failed` say something about
/// the network. An `Error` is a fault on this host (no socket, no route table,
/// permission denied, ...) and must not make a remote target look bad or good,
/// so the state machines ignore it entirely.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// An answer arrived; `rtt` is the measured round-trip (or connect) time.
    Good { rtt: Duration },
    /// The network answered negatively: no reply in time, refused,
    /// unreachable, name does not exist. `reason` is shown to humans.
    Failed { reason: String },
    /// The check could not be made here (local fault).
    Error { reason: String },
}

impl Outcome {
    /// Shorthand used by tests and the prober.
    pub fn good(rtt: Duration) -> Self {
        Outcome::Good { rtt }
    }

    /// Shorthand for a failed check with a reason.
    pub fn failed(reason: impl Into<String>) -> Self {
        Outcome::Failed { reason: reason.into() }
    }

    /// Shorthand for a local error with a reason.
    pub fn error(reason: impl Into<String>) -> Self {
        Outcome::Error { reason: reason.into() }
    }
}
