//! # comet-protocol: what the agent and the server say to each other
//!
//! This crate holds the types both sides must agree on. Today that is the job status
//! vocabulary, with the numeric codes of Comet Server (so reports and admin tools that know
//! Comet read ours unchanged); the request and live-connection messages join it with the
//! server (issue 4).

pub mod account;
pub mod api;
pub mod profile;
mod status;

pub use status::JobStatus;

/// Version of the agent–server protocol. Bumped on any incompatible change of a wire type.
pub const PROTOCOL_VERSION: u32 = 1;
