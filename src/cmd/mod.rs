//! The commands of the `failoverd` binary, as library functions that
//! return the process exit code, so tests call exactly what users run.

pub mod check;
pub mod control;
pub mod firewall;
pub mod mail_test;
pub mod probe;

/// Exit codes shared by the commands (docs/service.md).
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// Invalid configuration (check), or a failed operation.
    pub const FAILED: i32 = 1;
    /// Settings unreadable, bad arguments, cannot start as configured.
    pub const CONFIG: i32 = 2;
}
