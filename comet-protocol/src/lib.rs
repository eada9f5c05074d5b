//! # comet-protocol: what the agent and the server say to each other
//!
//! This crate holds what both sides must agree on:
//! - [`JobStatus`], with the numeric codes of Comet Server (reports and admin tools that know
//!   Comet read ours unchanged);
//! - [`profile`]: the user profile document and its compare-and-swap hash;
//! - [`account`]: the login secret and wrapping key an account password gives, wrapped vault
//!   secrets and install tokens (the zero-knowledge model);
//! - [`api`]: JSON answers of the admin and user web API;
//! - [`schedule`]: when protected items run, one pure function shared by agent and server;
//! - [`agent`] and [`wire`]: the agent API, bincode frames with a version header and size
//!   limits; [`client`] (feature `client`) is its typed async client;
//! - [`live`]: the live connection (WebSocket) between an online device and its server.

pub mod account;
pub mod agent;
pub mod api;
#[cfg(feature = "client")]
pub mod client;
pub mod live;
pub mod profile;
pub mod schedule;
mod status;
pub mod wire;

pub use status::JobStatus;

/// Version of the agent–server protocol. Bumped on any incompatible change of a wire type.
pub const PROTOCOL_VERSION: u32 = 1;
