//! The firewall side: what to push for each group (the safety rules), and,
//! later, the Sophos XML API client and the push loop.

pub mod decide;
pub mod guard;
pub mod slot;
