//! Shared helpers: vaults, trees on disk, and comparing trees.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use comet_core::crypto::MasterKey;
use comet_core::keyslot::KeySlot;
use comet_core::{IndexedRepository, InitOptions, KdfParams, Repository};
use comet_storage::{InMemoryVault, ObjectKey, ObjectKind, Vault};

pub(crate) const PASSWORD: &[u8] = b"integration password";

/// A fresh in-memory vault with a repository (fast KDF), index loaded.
pub(crate) async fn memory_repo() -> (Arc<InMemoryVault>, IndexedRepository) {
    let vault = Arc::new(InMemoryVault::new());
    let repo = init(vault.clone()).await;
    (vault, repo)
}

/// Initialises `vault` with [`PASSWORD`] and the floor KDF.
pub(crate) async fn init(vault: Arc<dyn Vault>) -> IndexedRepository {
    let options = InitOptions::default().kdf(KdfParams::FLOOR);
    let (repo, _) = Repository::init(vault, PASSWORD, &options).await.unwrap();
    repo.load_index().await.unwrap()
}

/// One hour.
pub(crate) const HOUR: std::time::Duration = std::time::Duration::from_secs(3600);

/// Opens `vault` with time from `clock` and sessions that beat every 20 ms (expiring after an
/// hour), for tests that move time.
pub(crate) async fn at(vault: Arc<dyn Vault>, clock: &Arc<comet_core::clock::ManualClock>) -> Repository {
    let sessions = comet_core::SessionSettings { heartbeat: std::time::Duration::from_millis(20), expiry: HOUR };
    Repository::open(vault, PASSWORD).await.unwrap().with_clock(clock.clone()).with_session_settings(sessions)
}

/// [`at`], with the index loaded.
pub(crate) async fn indexed_at(
    vault: Arc<dyn Vault>,
    clock: &Arc<comet_core::clock::ManualClock>,
) -> IndexedRepository {
    at(vault, clock).await.load_index().await.unwrap()
}

/// Re-opens `vault` (as a new process would).
pub(crate) async fn reopen(vault: Arc<dyn Vault>) -> IndexedRepository {
    Repository::open(vault, PASSWORD).await.unwrap().load_index().await.unwrap()
}

/// The master key, as an attacker who knows the password would have it (to craft objects).
pub(crate) async fn master_key(vault: &Arc<InMemoryVault>) -> MasterKey {
    for meta in vault.list(ObjectKind::Key).await.unwrap() {
        let slot = KeySlot::decode(&vault.get(&meta.key).await.unwrap()).unwrap();
        if let Some(key) = slot.unwrap_key(PASSWORD).unwrap() {
            return key;
        }
    }
    panic!("no key slot opens");
}

/// Deterministic pseudo-random bytes (xorshift64*), so tests and golden vectors are seeded.
pub(crate) fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Where a source path lands under a restore target (paths are stored as given; absolute ones
/// keep their components).
pub(crate) fn restored_path(target: &Path, source: &Path) -> PathBuf {
    target.join(source.strip_prefix("/").unwrap_or(source))
}

/// What a tree entry looks like, for comparing a source with its restore.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    kind: &'static str,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime_ns: i64,
    size: u64,
    content_hash: Option<blake3::Hash>,
    link: Option<Vec<u8>>,
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    /// Index of the first entry sharing this inode (hard links), if any.
    hardlink_group: Option<String>,
}

/// Everything under `root`, keyed by relative path bytes. Metadata is read before contents (so
/// reading does not disturb what is compared).
pub(crate) fn snapshot_tree(root: &Path) -> BTreeMap<Vec<u8>, Entry> {
    let mut out = BTreeMap::new();
    let mut inodes: BTreeMap<u64, String> = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut names: Vec<_> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        names.sort();
        for path in names {
            let meta = fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().as_os_str().as_bytes().to_vec();
            let ft = meta.file_type();
            let kind = if ft.is_dir() {
                "dir"
            } else if ft.is_symlink() {
                "symlink"
            } else if ft.is_file() {
                "file"
            } else {
                "other"
            };
            let hardlink_group = (kind == "file" && meta.nlink() > 1).then(|| {
                inodes.entry(meta.ino()).or_insert_with(|| String::from_utf8_lossy(&rel).into_owned()).clone()
            });
            let mut xattrs: Vec<(Vec<u8>, Vec<u8>)> = xattr::list(&path)
                .unwrap()
                .map(|n| (n.as_bytes().to_vec(), xattr::get(&path, &n).unwrap().unwrap_or_default()))
                .collect();
            xattrs.sort();
            let link = ft.is_symlink().then(|| fs::read_link(&path).unwrap().as_os_str().as_bytes().to_vec());
            let entry = Entry {
                kind,
                mode: meta.mode(),
                uid: meta.uid(),
                gid: meta.gid(),
                mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
                size: if kind == "file" { meta.size() } else { 0 },
                content_hash: None,
                link,
                xattrs,
                hardlink_group,
            };
            out.insert(rel.clone(), entry);
            if ft.is_dir() {
                stack.push(path);
            }
        }
    }
    for (rel, entry) in &mut out {
        if entry.kind == "file" {
            let path = root.join(std::ffi::OsStr::from_bytes(rel));
            entry.content_hash = Some(blake3::hash(&fs::read(path).unwrap()));
        }
    }
    out
}

/// Asserts two trees are identical, naming the first difference.
pub(crate) fn assert_same_tree(a: &Path, b: &Path) {
    let (left, right) = (snapshot_tree(a), snapshot_tree(b));
    let lk: Vec<_> = left.keys().map(|k| String::from_utf8_lossy(k).into_owned()).collect();
    let rk: Vec<_> = right.keys().map(|k| String::from_utf8_lossy(k).into_owned()).collect();
    assert_eq!(lk, rk, "different entries");
    for (k, l) in &left {
        assert_eq!(Some(l), right.get(k), "entry {:?} differs", String::from_utf8_lossy(k));
    }
}

/// A vault that stops accepting changes after a number of them, as if the process had been
/// killed right after its `limit`-th put or delete: later puts and deletes fail, reads work.
#[derive(Debug)]
pub(crate) struct CrashVault {
    pub(crate) inner: Arc<dyn Vault>,
    left: std::sync::atomic::AtomicI64,
}

impl CrashVault {
    /// Crashes after `limit` successful puts or deletes.
    pub(crate) fn new(inner: Arc<dyn Vault>, limit: i64) -> Self {
        Self { inner, left: std::sync::atomic::AtomicI64::new(limit) }
    }

    /// Whether the crash point was reached.
    pub(crate) fn crashed(&self) -> bool {
        self.left.load(std::sync::atomic::Ordering::SeqCst) < 0
    }

    fn mutate(&self) -> comet_storage::Result<()> {
        if self.left.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) <= 0 {
            return Err(comet_storage::Error::new(comet_storage::ErrorKind::Permanent, "crashed")
                .with_message("test crash point"));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Vault for CrashVault {
    async fn put(&self, key: &ObjectKey, data: bytes::Bytes) -> comet_storage::Result<()> {
        self.mutate()?;
        self.inner.put(key, data).await
    }
    async fn get(&self, key: &ObjectKey) -> comet_storage::Result<bytes::Bytes> {
        self.inner.get(key).await
    }
    async fn get_range(&self, key: &ObjectKey, range: std::ops::Range<u64>) -> comet_storage::Result<bytes::Bytes> {
        self.inner.get_range(key, range).await
    }
    async fn head(&self, key: &ObjectKey) -> comet_storage::Result<comet_storage::ObjectMeta> {
        self.inner.head(key).await
    }
    async fn list(&self, kind: ObjectKind) -> comet_storage::Result<Vec<comet_storage::ObjectMeta>> {
        self.inner.list(kind).await
    }
    fn location(&self) -> String {
        self.inner.location()
    }
    async fn delete(&self, key: &ObjectKey) -> comet_storage::Result<()> {
        self.mutate()?;
        self.inner.delete(key).await
    }
}

/// A vault whose puts of one kind wait until the gate opens (to hold a backup mid-way).
#[derive(Debug)]
pub(crate) struct GateVault {
    pub(crate) inner: Arc<dyn Vault>,
    kind: ObjectKind,
    open: tokio::sync::watch::Sender<bool>,
    /// Set when a put reached the gate.
    pub(crate) reached: tokio::sync::watch::Sender<bool>,
}

impl GateVault {
    /// Holds puts of `kind`.
    pub(crate) fn new(inner: Arc<dyn Vault>, kind: ObjectKind) -> Self {
        Self { inner, kind, open: tokio::sync::watch::channel(false).0, reached: tokio::sync::watch::channel(false).0 }
    }

    /// Lets held puts through.
    pub(crate) fn open(&self) {
        self.open.send_replace(true);
    }

    /// Waits until a put is held.
    pub(crate) async fn wait_reached(&self) {
        let mut rx = self.reached.subscribe();
        rx.wait_for(|r| *r).await.unwrap();
    }
}

#[async_trait::async_trait]
impl Vault for GateVault {
    async fn put(&self, key: &ObjectKey, data: bytes::Bytes) -> comet_storage::Result<()> {
        if key.kind() == self.kind {
            self.reached.send_replace(true);
            let mut rx = self.open.subscribe();
            rx.wait_for(|o| *o).await.unwrap();
        }
        self.inner.put(key, data).await
    }
    async fn get(&self, key: &ObjectKey) -> comet_storage::Result<bytes::Bytes> {
        self.inner.get(key).await
    }
    async fn get_range(&self, key: &ObjectKey, range: std::ops::Range<u64>) -> comet_storage::Result<bytes::Bytes> {
        self.inner.get_range(key, range).await
    }
    async fn head(&self, key: &ObjectKey) -> comet_storage::Result<comet_storage::ObjectMeta> {
        self.inner.head(key).await
    }
    async fn list(&self, kind: ObjectKind) -> comet_storage::Result<Vec<comet_storage::ObjectMeta>> {
        self.inner.list(kind).await
    }
    fn location(&self) -> String {
        self.inner.location()
    }
    async fn delete(&self, key: &ObjectKey) -> comet_storage::Result<()> {
        self.inner.delete(key).await
    }
}

/// Writes `files` files of `size` pseudo-random bytes under `dir`, seeded by `seed`.
pub(crate) fn write_files(dir: &Path, files: usize, size: usize, seed: u64) {
    fs::create_dir_all(dir).unwrap();
    for i in 0..files {
        fs::write(dir.join(format!("f{i:03}")), pseudo_random(size, seed * 1000 + i as u64)).unwrap();
    }
}
