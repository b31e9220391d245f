//! failoverd: keeps Sophos Firewall VPN failover groups honest.
//!
//! Module map (data flows one way, see `architecture.md`):
//! - [`config`]: settings (TOML) and group definitions (XML), validated once
//!   into an immutable [`config::Plan`], every problem located.
//! - [`health`]: pure state machines from check outcomes to events.
//! - [`cmd`]: the commands' work, called by the thin binary in `main.rs`.
#![forbid(unsafe_code)]

pub mod cmd;
pub mod config;
pub mod health;
