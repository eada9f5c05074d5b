//! # comet-storage: where Comet's bytes live
//!
//! Comet stores everything as immutable objects in a *storage vault*: a local directory, an
//! S3-compatible bucket, Azure Blob Storage, Google Cloud Storage, memory, or a bucket on a Comet
//! server. This crate is the leaf of the workspace: it knows nothing of encryption or formats,
//! only of [`ObjectKey`]s and bytes.
//!
//! - [`Vault`]: one object-safe async trait with a documented contract (create-only, atomic,
//!   durable).
//! - [`ObjectStoreVault`]: a `Vault` over the `object_store` crate, opened from a URL or path by
//!   [`open_vault`].
//! - [`InMemoryVault`]: a vault in memory, for tests and embedding.
//! - `testing` feature: `FaultyVault` (injected errors, delays, bit flips, truncation) and the
//!   conformance suite every vault must pass.

mod error;
mod key;
mod vault;

pub use error::{BoxError, Error, ErrorKind, Result};
pub use key::{ObjectId, ObjectKey, ObjectKind};
pub use vault::{ObjectMeta, Vault};
