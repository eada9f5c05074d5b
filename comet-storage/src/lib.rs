//! # comet-storage: where Comet's bytes live
//!
//! Comet stores everything as immutable objects in a *storage vault*: a local directory, an
//! S3-compatible bucket, Azure Blob Storage, Google Cloud Storage, memory, or a bucket on a Comet
//! server. This crate is the leaf of the workspace: it knows nothing of encryption or formats,
//! only of [`ObjectKey`]s and bytes.
//!
//! - [`Vault`]: one object-safe async trait with a documented contract (create-only, atomic,
//!   durable). Callers hold an `Arc<dyn Vault>`.
//! - [`ObjectStoreVault`]: a `Vault` over the `object_store` crate (local directories with
//!   `fsync`, S3, Azure, GCS), opened from a URL or path by [`open_vault`] or, with explicit
//!   configuration instead of environment variables, [`open_vault_with`]. [`VaultLocation`]
//!   parses and displays locations (never with credentials).
//! - [`InMemoryVault`]: a vault in memory, for tests, examples and embedding.
//! - [`Error`] with an [`ErrorKind`] that tells callers whether to retry (`Transient`), stop
//!   (`NoSpace`, `Forbidden`) or treat a conflict as normal (`AlreadyExists`).
//! - Feature `testing`: `testing::FaultyVault` (injected errors, delays, lost replies, bit flips,
//!   truncation, counters), `testing::RecordingVault`, and `testing::conformance`, the suite
//!   every vault must pass.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use bytes::Bytes;
//! use comet_storage::{ObjectId, ObjectKey, ObjectKind, open_vault};
//!
//! let vault = open_vault("memory://")?;
//! let data = Bytes::from_static(b"encrypted snapshot");
//! let key = ObjectKey::new(ObjectKind::Snapshot, ObjectId::of(&data));
//! vault.put(&key, data.clone()).await?;
//! assert_eq!(vault.get_range(&key, 0..9).await?, "encrypted");
//! assert_eq!(vault.list(ObjectKind::Snapshot).await?[0].key, key);
//! # Ok::<(), comet_storage::Error>(())
//! # }).unwrap();
//! ```

mod error;
mod key;
mod memory;
mod open;
mod remote;
mod store;
#[cfg(feature = "testing")]
pub mod testing;
mod vault;
mod verify;

pub use error::{BoxError, Error, ErrorKind, Result};
pub use key::{ObjectId, ObjectKey, ObjectKind};
pub use memory::InMemoryVault;
pub use open::{VaultLocation, open_vault, open_vault_with};
pub use remote::RemoteVault;
pub use store::ObjectStoreVault;
pub use vault::{ObjectMeta, Vault};
pub use verify::{HashCheck, verify_object};
