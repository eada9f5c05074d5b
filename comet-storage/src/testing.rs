//! The test kit (feature `testing`): wrappers that misbehave or watch on command, and the
//! conformance suite every vault must pass.
//!
//! - [`FaultyVault`]: injected errors (by operation, call index, kind or key), delays, lost
//!   replies, bit flips, truncation, "disk full after N puts", and counters of calls and bytes.
//! - [`RecordingVault`]: a log of every call with its key, size and outcome.
//! - [`conformance::run`]: the [`Vault`](crate::Vault) contract as executable checks.
//!
//! [`InMemoryVault`](crate::InMemoryVault) is not here: it is always available.

pub mod conformance;
mod faulty;
mod recording;

pub use faulty::{BitFlip, Fault, FaultRule, FaultyVault, Operation};
pub use recording::{RecordedCall, RecordingVault};
