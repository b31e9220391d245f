//! Health: pure state machines from check outcomes to target, condition,
//! member and group states and the events between them (docs/health.md). No sockets, no clocks: time and outcomes are passed in, so table
//! tests can feed any sequence.
//!
//! - [`outcome`]: what one check yields (good with RTT, failed, error).
//! - [`target`]: fall/rise hysteresis, quality rules, the unstable verdict.
//! - [`member`]: conditions (quorum of targets) and members (all conditions).
//! - [`group`]: group state, the expected active member, and the events.

pub mod group;
pub mod member;
pub mod outcome;
pub mod target;
