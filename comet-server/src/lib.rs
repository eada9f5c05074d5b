//! # comet-server
//!
//! The multi-tenant server of Comet: accounts and devices, protected items, schedules and
//! retention, job history, e-mail reports, the web interface, the admin API and storage buckets.
//! It is built in issue 4 and later; today this crate only fixes its place in the workspace.
//!
//! **Zero knowledge by construction.** This crate depends on `comet-protocol` and
//! `comet-storage`, never on `comet-core`: the code that could decrypt a vault is not linked
//! into the server. `tests/dependencies.rs` keeps it that way.

pub use comet_protocol::PROTOCOL_VERSION;
