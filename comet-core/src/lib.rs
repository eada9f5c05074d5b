//! # comet-core: the Comet backup engine
//!
//! Deduplicated, compressed, end-to-end encrypted snapshots of file trees, stored in any
//! [`Vault`](comet_storage::Vault) (local disk, S3, Azure, GCS, memory, a Comet server).
//!
//! ```text
//! walk (filter) → read → FastCDC chunk → keyed BLAKE3 id → dedup (index)
//!   → zstd → XChaCha20-Poly1305 (AAD = purpose ‖ id) → pack
//!   → Vault::put: packs first, index files second, the snapshot last
//! ```
//!
//! The format modules ([`chunker`], [`crypto`], [`pack`], [`index`], [`tree`], [`snapshot`])
//! are synchronous and pure; only [`Repository`] and [`IndexedRepository`] await the vault.
//! The format is documented byte by byte in `docs/format.md`.
//!
//! ## Back up and restore
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use comet_core::{BackupOptions, InitOptions, KdfParams, Repository, RestoreOptions};
//! use comet_storage::InMemoryVault;
//!
//! let source = tempfile::tempdir()?;
//! std::fs::write(source.path().join("hello.txt"), b"hello, comet")?;
//!
//! let vault = Arc::new(InMemoryVault::new());
//! let options = InitOptions::default().kdf(KdfParams::FLOOR);
//! let (repo, _) = Repository::init(vault, b"correct horse", &options).await?;
//! let mut repo = repo.load_index().await?;
//!
//! let backup = repo.backup(&BackupOptions::new([source.path()])).await?;
//! println!("snapshot {}", backup.id);
//!
//! let target = tempfile::tempdir()?;
//! repo.restore(&backup.snapshot, &RestoreOptions::new(target.path())).await?;
//! let restored = target.path().join(source.path().strip_prefix("/")?).join("hello.txt");
//! assert_eq!(std::fs::read(restored)?, b"hello, comet");
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```

pub mod blob;
mod cache;
pub mod chunker;
pub mod clock;
mod codec;
pub mod config;
pub mod crypto;
mod error;
pub mod filter;
mod fs;
mod id;
pub mod index;
pub mod keyslot;
pub mod pack;
mod repo;
pub mod retention;
pub mod snapshot;
pub mod tree;

pub use chunker::ChunkerParams;
pub use config::VaultConfig;
pub use crypto::kdf::KdfParams;
pub use error::{Error, Result};
pub use filter::FilterOptions;
pub use id::{BlobId, BlobKind, ChunkId, IndexId, ObjectId, PackId, SnapshotId, TreeId};
pub use repo::{
    AffectedSnapshot, BackupOptions, BackupOutcome, BackupProgress, CheckOptions, CheckProblem, CheckReport,
    DAMAGED_XATTR, DiffEntry, DiffKind, IndexedRepository, InitOptions, InitOutcome, LsEntry, PackCount, ProblemKind,
    PruneOptions, PruneReport, REPAIRED_TAG, ReadData, RepairIndexReport, RepairSnapshotsReport, RepairedSnapshot,
    Repository, RestoreOptions, RestoreOutcome, RestoreProgress, SessionKind, SessionSettings,
};
pub use repo::{FindMatch, FindOptions, KeyInfo, RawData, RestoreSize, Stats, VaultTotals};
pub use snapshot::{BackupSummary, Snapshot};
