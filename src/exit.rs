//! Exit codes of the process (docs/service.md): a leaf, so the daemon
//! and the commands share them without one importing the other.

/// Success.
pub const OK: i32 = 0;
/// Invalid configuration (check), or a failed operation.
pub const FAILED: i32 = 1;
/// Settings unreadable, bad arguments, cannot start as configured.
pub const CONFIG: i32 = 2;
