//! failoverd: keeps Sophos Firewall VPN failover groups honest.
//!
//! Module map (data flows one way, see docs/README.md, Data flow):
//! - [`config`]: settings (TOML) and group definitions (XML), validated once
//!   into an immutable [`config::Plan`], every problem located.
//! - [`probe`]: ICMP and TCP checks, name resolution, the stream scheduler.
//! - [`engine`]: observations in, target/member/group states and events out.
//! - [`health`]: pure state machines from check outcomes to events.
//! - [`ha`]: an active/standby pair: the role, the peer's holds, the policy.
//! - [`daemon`]: `failoverd run`, a pure core and the shell that performs its effects.
//! - [`view`]: the typed status `/status` serves and `failoverd status` reads.
//! - [`page`]: the status page `GET /` serves, rendered from a view and its history.
//! - [`cmd`]: the commands' work, called by the thin binary in `main.rs`.
// Two audited exceptions: ha::socket (binding a netlink socket to its
// notification groups) and mail::spool::files (openat, renameat and
// unlinkat through the spool folder's descriptor, which std lacks).
#![deny(unsafe_code)]

pub mod cli;
pub mod cmd;
pub mod config;
pub mod control;
pub mod daemon;
pub mod engine;
pub mod exit;
pub mod firewall;
pub mod ha;
pub mod health;
pub mod history;
pub mod hooks;
pub mod logging;
pub mod mail;
pub mod one_or_many;
pub mod page;
pub mod probe;
pub mod state;
pub mod time;
pub mod view;
