//! The commands of the `failoverd` binary, as library functions that
//! return the process exit code, so tests call exactly what users run.

pub mod check;
pub mod control;
pub mod events;
pub mod firewall;
pub mod import;
pub mod instances;
pub mod mail_test;
pub mod plugin;
pub mod probe;
pub mod report;

/// Exit codes shared by the commands; they live in the leaf [`crate::exit`].
pub use crate::exit;
