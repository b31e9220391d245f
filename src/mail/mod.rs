//! Mail for failoverd: events in, paced and rendered mails out, spooled in
//! the state directory and delivered over SMTP at least once.
//!
//! Module map (data flows down the list):
//! - [`event`]: what the daemon hands over ([`event::Event`]).
//! - [`pace`]: coalescing, `max_per_hour`, push-trouble streaks (pure).
//! - [`render`], [`digest`]: subjects and bodies (pure).
//! - [`spool`]: `spool/` in the state directory, atomic files, folding,
//!   the events not yet in a mail (`pending.jsonl`), no link followed.
//! - [`smtp`], [`smtp_errors`]: one delivery with lettre, readable errors.
//! - [`outbox`], [`delivery`]: the handle and the background task;
//!   [`deliver`]: what the two share (the delivery seam, retry, limits).
//! - [`types`]: the `[mail]` settings as delivery needs them.

pub mod deliver;
pub mod delivery;
pub mod digest;
pub mod event;
pub mod outbox;
pub mod pace;
pub mod render;
pub mod smtp;
pub mod smtp_errors;
pub mod spool;
pub mod types;
