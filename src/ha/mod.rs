//! An active/standby pair (docs/ha.md): which host holds keepalived's
//! virtual address, the other host's holds, and the pure policy that says
//! what a role change means for pushes, mail and beliefs. failoverd
//! elects nothing itself: keepalived decides, this module only looks.
//!
//! - [`role`]: the role and the pure bookkeeping of addresses.
//! - [`netlink`]: rtnetlink address messages, built and parsed (pure).
//! - [`socket`]: the audited `unsafe` bind of the netlink socket.
//! - [`watch`]: the task that keeps a `watch` channel of the role.
//! - [`peer`]: reading the other host's `/status` for its holds.
//! - [`pair`]: the pair policy, time passed in, effects out.

pub mod netlink;
pub mod pair;
pub mod peer;
pub mod role;
mod socket;
pub mod watch;

pub use role::{Role, RoleKind};
