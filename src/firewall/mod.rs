//! The firewall side: what to push for each group (the safety rules, the
//! guard, push slots), and the Sophos XML API: request documents, reply
//! parsing and classification, and the HTTPS client with its TLS modes.

pub mod api;
pub mod client;
pub mod compare;
pub mod decide;
pub mod guard;
pub mod read;
pub mod request;
pub mod response;
pub mod slot;
pub mod sync;
pub mod view;
