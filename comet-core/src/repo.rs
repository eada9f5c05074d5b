//! The repository: a vault opened with a password. Everything here awaits the [`Vault`]; CPU
//! work is done by the sync format modules.
//!
//! Lifecycle: [`Repository::init`] or [`Repository::open`] give a [`Repository`] (keys and
//! config); [`Repository::load_index`] gives an [`IndexedRepository`], on which backup, restore,
//! `ls` and `diff` exist.

mod backup;
mod check;
mod diff;
mod find;
mod forget;
mod keys;
mod ls;
mod prune;
mod repair;
mod restore;
mod session;
mod stats;

use std::collections::{BTreeSet, HashMap};
use std::ops::Deref;
use std::sync::Arc;

use bytes::Bytes;
use comet_storage::{ObjectKey, ObjectKind, Vault};
use futures::StreamExt;

pub use backup::{BackupOptions, BackupOutcome, BackupProgress};
pub use check::{AffectedSnapshot, CheckOptions, CheckProblem, CheckReport, ProblemKind, ReadData};
pub use diff::{DiffEntry, DiffKind};
pub use find::{FindMatch, FindOptions};
pub use keys::KeyInfo;
pub use ls::LsEntry;
pub use prune::{PackCount, PruneOptions, PruneReport};
pub use repair::{DAMAGED_XATTR, REPAIRED_TAG, RepairIndexReport, RepairSnapshotsReport, RepairedSnapshot};
pub use restore::{RestoreOptions, RestoreOutcome, RestoreProgress};
pub use session::{SessionKind, SessionSettings};
pub use stats::{RawData, RestoreSize, Stats, VaultTotals};

use crate::blob::open_blob;
use crate::cache::Cache;
use crate::clock::{Clock, SystemClock};
use crate::config::VaultConfig;
use crate::crypto::kdf::KdfParams;
use crate::crypto::{Cipher, MasterKey};
use crate::error::{Error, Result, object_name};
use crate::id::{BlobId, BlobKind, ObjectId, SnapshotId, TreeId};
use crate::index::{Index, IndexBuilder, IndexFile};
use crate::keyslot::KeySlot;
use crate::snapshot::Snapshot;
use crate::tree::Tree;

/// Objects fetched concurrently when loading many small objects (index files, snapshots).
const LOAD_CONCURRENCY: usize = 8;

/// Options for [`Repository::init`].
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct InitOptions {
    /// Argon2id cost of the first key slot.
    pub kdf: KdfParams,
    /// Settings of the new vault (chunker, pack size, compression).
    pub config: VaultConfig,
}

impl InitOptions {
    /// Sets the KDF cost.
    #[must_use]
    pub fn kdf(mut self, kdf: KdfParams) -> Self {
        self.kdf = kdf;
        self
    }

    /// Sets the vault settings.
    #[must_use]
    pub fn config(mut self, config: VaultConfig) -> Self {
        self.config = config;
        self
    }
}

/// What [`Repository::init`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitOutcome {
    /// A new vault was created.
    Created,
    /// An earlier init had been interrupted after its key slot; it was completed.
    Completed,
    /// The vault already existed and opens with this password: nothing was changed.
    AlreadyInitialised,
}

/// An open vault: the master key and the config.
#[derive(Debug)]
pub struct Repository {
    vault: Arc<dyn Vault>,
    /// The key slot it was opened (or created) with.
    key_id: ObjectId,
    key: MasterKey,
    cipher: Cipher,
    config: VaultConfig,
    cache: Option<Cache>,
    clock: Arc<dyn Clock>,
    sessions: SessionSettings,
}

impl Repository {
    /// Creates a vault, or finishes one whose creation was interrupted. Idempotent: on a vault
    /// that opens with `password` it changes nothing and says so.
    ///
    /// Write order: a key slot, then `config`. The config is the commit point; a crash before it
    /// leaves only a key slot, which the next `init` with the same password re-uses.
    pub async fn init(vault: Arc<dyn Vault>, password: &[u8], options: &InitOptions) -> Result<(Self, InitOutcome)> {
        options.config.check().map_err(Error::InvalidOption)?;
        options.kdf.check().map_err(Error::InvalidOption)?;
        match vault.get(&ObjectKey::CONFIG).await {
            Ok(_) => {
                let repo = Self::open(vault, password).await?;
                return Ok((repo, InitOutcome::AlreadyInitialised));
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
        let (key_id, key, outcome) = if let Some((key_id, key)) = unlock_any_slot(&vault, password).await? {
            (key_id, key, InitOutcome::Completed)
        } else {
            {
                let key = MasterKey::generate();
                let slot = tokio::task::spawn_blocking({
                    let key = key.clone();
                    let password = password.to_vec();
                    let kdf = options.kdf;
                    move || KeySlot::wrap(&key, &password, kdf)
                })
                .await
                .expect("key wrapping does not panic")
                .map_err(Error::InvalidOption)?;
                let key_id = put_object(&vault, ObjectKind::Key, Bytes::from(slot.encode())).await?;
                (key_id, key, InitOutcome::Created)
            }
        };
        let cipher = key.cipher();
        match vault.put(&ObjectKey::CONFIG, Bytes::from(options.config.seal(&cipher))).await {
            Ok(()) => {}
            Err(e) if e.is_already_exists() => {
                // Another init won the race; use whatever it created.
                let repo = Self::open(vault, password).await?;
                return Ok((repo, InitOutcome::AlreadyInitialised));
            }
            Err(e) => return Err(e.into()),
        }
        let repo = Self {
            vault,
            key_id,
            key,
            cipher,
            config: options.config.clone(),
            cache: None,
            clock: Arc::new(SystemClock),
            sessions: SessionSettings::default(),
        };
        Ok((repo, outcome))
    }

    /// Opens a vault with `password`.
    pub async fn open(vault: Arc<dyn Vault>, password: &[u8]) -> Result<Self> {
        let config_bytes = match vault.get(&ObjectKey::CONFIG).await {
            Ok(b) => b,
            Err(e) if e.is_not_found() => return Err(Error::NotInitialised { location: vault.location() }),
            Err(e) => return Err(e.into()),
        };
        let slots = read_slots(&vault).await?;
        let mut last_error = None;
        let mut unlocked_any = false;
        for (id, slot) in slots {
            let unwrapped = {
                let password = password.to_vec();
                tokio::task::spawn_blocking(move || slot.unwrap_key(&password)).await.expect("KDF does not panic")
            };
            match unwrapped {
                Ok(Some(key)) => {
                    unlocked_any = true;
                    let cipher = key.cipher();
                    match crate::config::VaultConfig::open(&cipher, &config_bytes) {
                        Some(Ok(config)) => {
                            return Ok(Self {
                                vault,
                                key_id: id,
                                key,
                                cipher,
                                config,
                                cache: None,
                                clock: Arc::new(SystemClock),
                                sessions: SessionSettings::default(),
                            });
                        }
                        Some(Err(reason)) => return Err(Error::corrupted("config", reason)),
                        // A slot of another (abandoned) init: try the others.
                        None => {}
                    }
                }
                Ok(None) => {}
                Err(reason) => last_error = Some(Error::KdfParams { slot: id.short(), reason }),
            }
        }
        if unlocked_any {
            // The password is right for some slot, yet no slot's key authenticates the config.
            return Err(Error::corrupted("config", "authentication failed with every key this password opens"));
        }
        Err(last_error.unwrap_or(Error::WrongPassword))
    }

    /// Uses a local cache under `root` for index files, snapshots and tree packs.
    #[must_use]
    pub fn with_cache(mut self, root: &std::path::Path) -> Self {
        self.cache = Some(Cache::new(root, &self.config.id_hex()));
        self
    }

    /// Uses `clock` for session heartbeats, grace periods and snapshot times (tests move time).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Sets how often writer sessions beat and when they expire.
    #[must_use]
    pub fn with_session_settings(mut self, settings: SessionSettings) -> Self {
        self.sessions = settings;
        self
    }

    /// The clock this repository reads time from.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The vault.
    pub fn vault(&self) -> &Arc<dyn Vault> {
        &self.vault
    }

    /// The vault's settings.
    pub fn config(&self) -> &VaultConfig {
        &self.config
    }

    /// Adds a key slot for `new_password`.
    pub async fn add_key(&self, new_password: &[u8], kdf: KdfParams) -> Result<ObjectId> {
        let key = self.key.clone();
        let password = new_password.to_vec();
        let slot = tokio::task::spawn_blocking(move || KeySlot::wrap(&key, &password, kdf))
            .await
            .expect("key wrapping does not panic")
            .map_err(Error::InvalidOption)?;
        put_object(&self.vault, ObjectKind::Key, Bytes::from(slot.encode())).await
    }

    /// Reads an object whose id is the hash of its bytes, from the cache when it is cacheable,
    /// and checks the hash.
    pub(crate) async fn get_verified(&self, key: &ObjectKey) -> Result<Bytes> {
        let cacheable = matches!(key.kind(), ObjectKind::Index | ObjectKind::Snapshot);
        if cacheable && let Some(bytes) = self.cache.as_ref().and_then(|c| c.get(key)) {
            return Ok(bytes);
        }
        let bytes = get_hashed(&self.vault, key).await?;
        if cacheable && let Some(cache) = &self.cache {
            cache.put(key, &bytes);
        }
        Ok(bytes)
    }

    /// Drops an object deleted from the vault from the local cache.
    pub(crate) fn forget_cached(&self, key: &ObjectKey) {
        if let Some(cache) = &self.cache {
            cache.remove(key);
        }
    }

    /// Every snapshot, oldest first.
    pub async fn snapshots(&self) -> Result<Vec<(SnapshotId, Snapshot)>> {
        let listed = self.vault.list(ObjectKind::Snapshot).await?;
        let mut out: Vec<(SnapshotId, Snapshot)> = futures::stream::iter(listed)
            .map(|meta| async move {
                let bytes = match self.get_verified(&meta.key).await {
                    Ok(bytes) => bytes,
                    // Forgotten since the listing.
                    Err(Error::Storage(e)) if e.is_not_found() => return Ok(None),
                    Err(e) => return Err(e),
                };
                let snap =
                    Snapshot::open(&self.cipher, &bytes).map_err(|r| Error::corrupted(object_name(&meta.key), r))?;
                Ok::<_, Error>(Some((meta.key.id(), snap)))
            })
            .buffer_unordered(LOAD_CONCURRENCY)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .filter_map(Result::transpose)
            .collect::<Result<_>>()?;
        out.sort_by(|a, b| a.1.time_ns.cmp(&b.1.time_ns).then(a.0.cmp(&b.0)));
        Ok(out)
    }

    /// Resolves `latest` or an id prefix (at least 4 hex characters) to one snapshot.
    pub async fn find_snapshot(&self, reference: &str) -> Result<(SnapshotId, Snapshot)> {
        let snaps = self.snapshots().await?;
        let err = |reason: &str| Error::SnapshotRef { reference: reference.to_owned(), reason: reason.to_owned() };
        if reference == "latest" {
            return snaps.into_iter().next_back().ok_or_else(|| err("the vault has no snapshots"));
        }
        if reference.len() < 4 || !reference.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(err("give `latest` or at least 4 hex characters of an id"));
        }
        let lower = reference.to_ascii_lowercase();
        let mut found = snaps.into_iter().filter(|(id, _)| id.to_hex().starts_with(&lower));
        match (found.next(), found.next()) {
            (Some(one), None) => Ok(one),
            (None, _) => Err(err("no snapshot has this id")),
            (Some(_), Some(_)) => Err(err("more than one snapshot matches: give more characters")),
        }
    }

    /// Loads every index file into memory.
    pub async fn load_index(self) -> Result<IndexedRepository> {
        let (index, loaded) = self.read_index().await?;
        let source = self.blob_source();
        Ok(IndexedRepository { repo: self, index, loaded, source })
    }

    /// Reads every index file and merges them, one file at a time. An index file listed but
    /// gone when read was replaced by a prune meanwhile: the listing is taken again (a few
    /// times at most).
    pub(crate) async fn read_index(&self) -> Result<(Index, BTreeSet<ObjectId>)> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.merge_index_files().await {
                Ok(loaded) => return Ok(loaded),
                Err(e) if attempt < INDEX_LOAD_ATTEMPTS && matches!(&e, Error::Storage(s) if s.is_not_found()) => {
                    tracing::debug!("index file vanished while loading ({e}); listing again");
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn merge_index_files(&self) -> Result<(Index, BTreeSet<ObjectId>)> {
        let listed = self.vault.list(ObjectKind::Index).await?;
        let ids = listed.iter().map(|m| m.key.id()).collect();
        let mut files = futures::stream::iter(listed)
            .map(|meta| async move {
                let bytes = self.get_verified(&meta.key).await?;
                let cipher = self.cipher.clone();
                tokio::task::spawn_blocking(move || {
                    IndexFile::open(&cipher, &bytes).map_err(|r| Error::corrupted(object_name(&meta.key), r))
                })
                .await
                .expect("decoding an index file does not panic")
            })
            .buffer_unordered(LOAD_CONCURRENCY);
        let mut builder = IndexBuilder::default();
        while let Some(file) = files.next().await {
            builder.add_file(file?);
        }
        Ok((builder.finish(), ids))
    }
}

/// Times the index is listed again when an index file disappears while it loads.
const INDEX_LOAD_ATTEMPTS: usize = 5;

/// A repository with its index in memory: backup, restore, `ls` and `diff` live here.
#[derive(Debug)]
pub struct IndexedRepository {
    repo: Repository,
    index: Index,
    /// The index files `index` was built from.
    loaded: BTreeSet<ObjectId>,
    /// Shared by every read, so its in-memory tree packs serve them all.
    source: BlobSource,
}

impl Deref for IndexedRepository {
    type Target = Repository;
    fn deref(&self) -> &Repository {
        &self.repo
    }
}

impl IndexedRepository {
    /// The in-memory index.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// Reloads the index if index files were added or removed since it was loaded (another
    /// backup, a prune). Returns whether it changed.
    pub async fn refresh_index(&mut self) -> Result<bool> {
        let listed: BTreeSet<ObjectId> =
            self.vault.list(ObjectKind::Index).await?.into_iter().map(|m| m.key.id()).collect();
        if listed == self.loaded {
            return Ok(false);
        }
        let (index, loaded) = self.repo.read_index().await?;
        self.index = index;
        self.loaded = loaded;
        Ok(true)
    }

    /// The blob reader shared by this repository's reads.
    pub(crate) fn blob_source(&self) -> BlobSource {
        self.source.clone()
    }

    /// Reads, decrypts and verifies one blob.
    pub async fn read_blob(&self, kind: BlobKind, id: &BlobId) -> Result<Vec<u8>> {
        self.blob_source().read_blob(&self.index, kind, id).await
    }

    /// Reads and parses a tree.
    pub async fn read_tree(&self, id: &TreeId) -> Result<Tree> {
        self.blob_source().read_tree(&self.index, id).await
    }
}

/// What reading blobs needs, detached from the repository so worker threads can own it.
#[derive(Clone, Debug)]
pub(crate) struct BlobSource {
    vault: Arc<dyn Vault>,
    key: MasterKey,
    cipher: Cipher,
    cache: Option<Cache>,
    /// Tree packs read whole from the cache, kept in memory while this source lives: a backup
    /// reads many parent trees from the same few packs.
    tree_packs: Arc<std::sync::Mutex<HashMap<ObjectId, Bytes>>>,
}

/// Tree packs kept in memory by one [`BlobSource`].
const TREE_PACKS_IN_MEMORY: usize = 16;

impl Repository {
    pub(crate) fn blob_source(&self) -> BlobSource {
        BlobSource {
            vault: self.vault.clone(),
            key: self.key.clone(),
            cipher: self.cipher.clone(),
            cache: self.cache.clone(),
            tree_packs: Arc::default(),
        }
    }
}

impl BlobSource {
    /// Reads, decrypts and verifies one blob.
    pub(crate) async fn read_blob(&self, index: &Index, kind: BlobKind, id: &BlobId) -> Result<Vec<u8>> {
        let loc = index.get(kind, id).ok_or_else(|| Error::MissingBlob { id: id.to_hex() })?;
        let key = ObjectKey::pack(loc.pack);
        let range = u64::from(loc.offset)..u64::from(loc.offset) + u64::from(loc.length);
        let stored = match kind {
            BlobKind::Tree => self.tree_pack_range(&key, range).await?,
            BlobKind::Data => self.vault.get_range(&key, range).await?,
        };
        self.open(kind, id, loc.raw_length, &stored, &key)
    }

    /// The master key and cipher, for openers on worker threads.
    pub(crate) fn keys(&self) -> (&MasterKey, &Cipher) {
        (&self.key, &self.cipher)
    }

    /// Opens a stored blob read from pack `pack`.
    pub(crate) fn open(
        &self,
        kind: BlobKind,
        id: &BlobId,
        raw_length: u32,
        stored: &[u8],
        pack: &ObjectKey,
    ) -> Result<Vec<u8>> {
        open_blob(&self.key, &self.cipher, kind, id, raw_length, stored).map_err(|e| {
            Error::corrupted(format!("{kind} blob {} in {}", id.short(), object_name(pack)), e.to_string())
        })
    }

    /// Tree packs are cached whole: trees are read on every backup (parent) and listing.
    async fn tree_pack_range(&self, key: &ObjectKey, range: std::ops::Range<u64>) -> Result<Bytes> {
        let Some(cache) = &self.cache else {
            return Ok(self.vault.get_range(key, range).await?);
        };
        let memo = self.tree_packs.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&key.id()).cloned();
        let pack = if let Some(p) = memo.or_else(|| cache.get(key)) {
            p
        } else {
            let p = get_hashed(&self.vault, key).await?;
            cache.put(key, &p);
            p
        };
        {
            let mut memo = self.tree_packs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if memo.len() >= TREE_PACKS_IN_MEMORY {
                memo.clear();
            }
            memo.insert(key.id(), pack.clone());
        }
        let (start, end) = (range.start as usize, range.end as usize);
        if start > end || end > pack.len() {
            return Err(Error::corrupted(object_name(key), "index points past the end of the pack"));
        }
        Ok(pack.slice(start..end))
    }

    /// Reads and parses a tree.
    pub(crate) async fn read_tree(&self, index: &Index, id: &TreeId) -> Result<Tree> {
        let bytes = self.read_blob(index, BlobKind::Tree, id).await?;
        Tree::decode(&bytes, id)
    }
}

/// Reads an object named by the hash of its bytes and checks that hash.
pub(crate) async fn get_hashed(vault: &Arc<dyn Vault>, key: &ObjectKey) -> Result<Bytes> {
    let bytes = vault.get(key).await?;
    if ObjectId::of(&bytes) != key.id() {
        return Err(Error::corrupted(object_name(key), "contents do not match the object's id (hash)"));
    }
    Ok(bytes)
}

/// Stores `bytes` as a new object of `kind` named by its hash. An object with the same bytes
/// already there is success (the put was a retry).
pub(crate) async fn put_object(vault: &Arc<dyn Vault>, kind: ObjectKind, bytes: Bytes) -> Result<ObjectId> {
    let id = ObjectId::of(&bytes);
    match vault.put(&ObjectKey::new(kind, id), bytes).await {
        Ok(()) => Ok(id),
        Err(e) if e.is_already_exists() => Ok(id),
        Err(e) => Err(e.into()),
    }
}

async fn read_slots(vault: &Arc<dyn Vault>) -> Result<Vec<(ObjectId, KeySlot)>> {
    let mut slots = Vec::new();
    for meta in vault.list(ObjectKind::Key).await? {
        let bytes = get_hashed(vault, &meta.key).await?;
        let slot = KeySlot::decode(&bytes).map_err(|r| Error::corrupted(object_name(&meta.key), r))?;
        slots.push((meta.key.id(), slot));
    }
    Ok(slots)
}

async fn unlock_any_slot(vault: &Arc<dyn Vault>, password: &[u8]) -> Result<Option<(ObjectId, MasterKey)>> {
    for (id, slot) in read_slots(vault).await? {
        let password = password.to_vec();
        if let Ok(Some(key)) =
            tokio::task::spawn_blocking(move || slot.unwrap_key(&password)).await.expect("KDF does not panic")
        {
            return Ok(Some((id, key)));
        }
    }
    Ok(None)
}
