//! # comet-server
//!
//! The multi-tenant server of Comet: accounts and devices, protected items, schedules and
//! retention, job history, e-mail reports, the web interface, the admin API and storage buckets.
//! Built in steps: today it has its configuration ([`config`]), its SQLite state with versioned
//! migrations ([`db`]), administrators and users with Argon2id hashes, session keys and login
//! rate limiting ([`auth`]), the Comet-style admin and user API with devices, install tokens and
//! job history ([`api`]), the agent API that devices speak ([`agent_api`]), storage buckets
//! ([`storage`]) and the binary's start and graceful stop ([`server`]); all of it is documented
//! in `docs/api.md`.
//!
//! **Zero knowledge by construction.** This crate depends on `comet-protocol` and
//! `comet-storage`, never on `comet-core`: the code that could decrypt a vault is not linked
//! into the server. `tests/dependencies.rs` keeps it that way.

pub mod agent_api;
pub mod api;
pub mod auth;
pub mod config;
pub mod db;
pub mod email;
pub mod live;
pub mod server;
pub mod storage;
pub mod totp;
pub mod watch;
pub mod web;

pub use comet_protocol::PROTOCOL_VERSION;
