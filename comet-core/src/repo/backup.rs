//! Backup: walk the given paths, store what is new, write a snapshot.
//!
//! The walker (one thread) reads the file system depth-first: it stats entries, skips files
//! unchanged since the parent snapshot (same size, mtime, ctime, inode), reads the others
//! through the content-defined [`Chunker`], hashes chunks with the keyed BLAKE3 and hands only
//! unknown chunks to the [`pipeline`] (compress, encrypt, pack, upload on other threads).
//! Directory trees are built bottom-up as the walk returns and stored the same way.

pub(crate) mod pipeline;

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsStr;
use std::fs::{self, File};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use comet_storage::ObjectKind;
use crossbeam_channel::Sender;

use self::pipeline::{Pipeline, PipelineConfig, SealJob, UploadCounters};
use super::session::{self, Session, SessionKind};
use super::{IndexedRepository, put_object};
use crate::chunker::Chunker;
use crate::crypto::MasterKey;
use crate::error::{Error, Result};
use crate::filter::{Filter, FilterOptions};
use crate::fs::source::{self, Names};
use crate::id::{BlobId, BlobKind, SnapshotId, TreeId};
use crate::index::Index;
use crate::snapshot::{BackupSummary, SNAPSHOT_VERSION, Snapshot};
use crate::tree::{Node, NodeKind, Tree};

/// Options of one backup.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct BackupOptions {
    /// What to back up, stored as given (relative paths stay relative).
    pub paths: Vec<PathBuf>,
    /// Tags recorded in the snapshot.
    pub tags: Vec<String>,
    /// Parent snapshot; by default the latest one of this host with the same paths.
    pub parent: Option<SnapshotId>,
    /// Read every file, ignoring any parent.
    pub force: bool,
    /// Exclusion rules.
    pub filter: FilterOptions,
    /// Host name to record (default: this machine's).
    pub hostname: Option<String>,
    /// Device id to record (managed agents).
    pub device_id: Option<String>,
    /// Protected item to record (managed agents).
    pub protected_item: Option<String>,
    /// Live counters for a progress display.
    pub progress: Option<Arc<BackupProgress>>,
    /// Seal worker threads (0: one per core).
    pub threads: usize,
}

impl BackupOptions {
    /// Options backing up `paths`.
    pub fn new(paths: impl IntoIterator<Item = impl Into<PathBuf>>) -> Self {
        Self { paths: paths.into_iter().map(Into::into).collect(), ..Self::default() }
    }

    /// Adds tags.
    #[must_use]
    pub fn tags(mut self, tags: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.tags.extend(tags.into_iter().map(Into::into));
        self
    }

    /// Sets the exclusion rules.
    #[must_use]
    pub fn filter(mut self, filter: FilterOptions) -> Self {
        self.filter = filter;
        self
    }

    /// Sets a progress sink.
    #[must_use]
    pub fn progress(mut self, progress: Arc<BackupProgress>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Reads every file even when a parent snapshot says it is unchanged.
    #[must_use]
    pub fn force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }
}

/// Live counters of a running backup.
#[derive(Debug, Default)]
pub struct BackupProgress {
    /// Entries walked.
    pub entries: AtomicU64,
    /// File bytes processed (read, or skipped as unchanged).
    pub bytes_processed: AtomicU64,
    /// Bytes of new blobs handed to the pipeline.
    pub bytes_new: AtomicU64,
    uploads: Arc<UploadCounters>,
}

impl BackupProgress {
    /// Packs stored so far.
    pub fn packs_uploaded(&self) -> u64 {
        self.uploads.packs.load(Ordering::Relaxed)
    }

    /// Bytes stored so far.
    pub fn bytes_uploaded(&self) -> u64 {
        self.uploads.bytes.load(Ordering::Relaxed)
    }
}

/// The result of a backup.
#[derive(Debug)]
pub struct BackupOutcome {
    /// Id of the new snapshot.
    pub id: SnapshotId,
    /// The snapshot.
    pub snapshot: Snapshot,
    /// Problems that did not stop the backup (unreadable files, ...).
    pub warnings: Vec<String>,
    /// Packs left unindexed by an interrupted backup, indexed at the start of this one.
    pub recovered_packs: usize,
}

impl IndexedRepository {
    /// Backs up `options.paths` and writes a snapshot.
    pub async fn backup(&mut self, options: &BackupOptions) -> Result<BackupOutcome> {
        let start_ns = self.clock.now_ns();
        if options.paths.is_empty() {
            return Err(Error::InvalidOption("nothing to back up: give at least one path".into()));
        }
        let filter = Filter::new(&options.filter)?;
        let roots = RootTrie::build(&options.paths)?;
        let vault = self.vault.clone();
        let session = Session::start(&vault, &self.cipher, &self.clock, self.sessions, SessionKind::Backup).await?;
        let result = async {
            // Index files written or replaced (by a prune) before the session existed are seen:
            // a pack marked for deletion before this point is never deduplicated against.
            self.refresh_index().await?;
            self.backup_in_session(options, filter, roots, start_ns, &session).await
        }
        .await;
        session.end(&vault).await;
        result
    }

    async fn backup_in_session(
        &mut self,
        options: &BackupOptions,
        filter: Filter,
        roots: RootTrie,
        start_ns: i64,
        session: &Session,
    ) -> Result<BackupOutcome> {
        let vault = self.vault.clone();
        // Packs left unindexed by a writer that died are indexed first, so they are re-used.
        let mut recovered_packs = 0;
        let others = session::other_sessions(&vault, &self.cipher, session, self.clock.now_ns()).await?;
        if !others.is_empty() {
            recovered_packs =
                session::recover_unindexed_packs(&vault, &self.repo.cipher, &mut self.index, &session.guard()).await?;
            session::remove_stale(&vault, &others).await;
        }

        let hostname = options.hostname.clone().unwrap_or_else(crate::snapshot::hostname);
        let paths: Vec<String> = options.paths.iter().map(|p| p.to_string_lossy().into_owned()).collect();
        let parent = self.choose_parent(options, &hostname, &paths).await?;
        let parent_root = match &parent {
            Some((_, snap)) => Some(self.read_tree(&snap.tree).await?),
            None => None,
        };

        let progress = options.progress.clone().unwrap_or_default();
        let threads = if options.threads == 0 {
            std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
        } else {
            options.threads
        };
        let config = PipelineConfig {
            sealers: threads,
            compression_level: self.config.compression_level,
            pack_size: self.config.pack_size as usize,
            flush_packs: 8,
            flush_interval: Duration::from_secs(30),
            guard: Some(session.guard()),
        };
        let runtime = tokio::runtime::Handle::current();
        let pipeline = Pipeline::start(&runtime, vault.clone(), &self.key, &config, progress.uploads.clone());

        // The walker runs on its own thread with the index moved in; it reads parent trees
        // through the runtime.
        let index = std::mem::take(&mut self.index);
        let walker = Walker {
            store: BlobStore {
                key: self.key.clone(),
                index,
                known_new: HashSet::new(),
                sender: pipeline.sender(),
                buffers: pipeline.chunk_buffers(),
                progress: progress.clone(),
                data_blobs: 0,
                tree_blobs: 0,
                bytes: 0,
            },
            chunker: Chunker::new(self.config.chunker, self.key.chunker_seed()),
            filter,
            names: Names::default(),
            summary: BackupSummary::default(),
            warnings: Vec::new(),
            progress: progress.clone(),
            reader: TreeReader { source: self.blob_source(), runtime: runtime.clone() },
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("comet-walk".into())
            .spawn(move || {
                let mut walker = walker;
                let root = walker.walk_roots(&roots, parent_root.as_ref());
                let _ = tx.send((root, walker));
            })
            .map_err(|e| Error::io("<thread>", e))?;
        let (root, walker) = rx.await.expect("walker thread does not panic");
        let Walker { store, mut summary, warnings, .. } = walker;
        // Dropping the store drops its sender: the pipeline sees the end of its input.
        let BlobStore { index, data_blobs, tree_blobs, bytes, sender, .. } = store;
        drop(sender);
        self.index = index;
        summary.data_blobs_added = data_blobs;
        summary.tree_blobs_added = tree_blobs;
        summary.bytes_added = bytes;

        let root = match root {
            Ok(root) => root,
            Err(e) => return Err(pipeline.abort().await.unwrap_or(e)),
        };
        let uploaded = pipeline.finish().await?;
        for p in &uploaded.packs {
            self.index.add_pack(p.id, &p.blobs);
        }
        self.index.compact();

        summary.packs_added = uploaded.packs.len() as u64;
        summary.bytes_added_stored = uploaded.bytes_stored;
        summary.warnings = warnings.len() as u64;
        summary.start_ns = start_ns;
        summary.end_ns = self.clock.now_ns();
        let snapshot = Snapshot {
            version: SNAPSHOT_VERSION,
            time_ns: start_ns,
            hostname,
            username: crate::snapshot::username(),
            paths,
            tags: options.tags.clone(),
            tree: root,
            parent: parent.map(|(id, _)| id),
            device_id: options.device_id.clone(),
            protected_item: options.protected_item.clone(),
            summary,
            program: concat!("comet ", env!("CARGO_PKG_VERSION")).to_owned(),
        };
        // The commit point: only while the session is certainly seen as alive by any prune.
        session.check_fresh()?;
        let id = put_object(&vault, ObjectKind::Snapshot, Bytes::from(snapshot.seal(&self.cipher))).await?;
        Ok(BackupOutcome { id, snapshot, warnings, recovered_packs })
    }

    async fn choose_parent(
        &self,
        options: &BackupOptions,
        hostname: &str,
        paths: &[String],
    ) -> Result<Option<(SnapshotId, Snapshot)>> {
        if options.force {
            return Ok(None);
        }
        if let Some(id) = options.parent {
            return self.find_snapshot(&id.to_hex()).await.map(Some);
        }
        let mut wanted: Vec<&String> = paths.iter().collect();
        wanted.sort();
        let snaps = self.snapshots().await?;
        Ok(snaps.into_iter().rev().find(|(_, s)| {
            let mut have: Vec<&String> = s.paths.iter().collect();
            have.sort();
            s.hostname == hostname && have == wanted
        }))
    }
}

/// Reads parent trees from the walker thread.
struct TreeReader {
    source: super::BlobSource,
    runtime: tokio::runtime::Handle,
}

impl TreeReader {
    fn read(&self, index: &Index, id: &TreeId) -> Result<Tree> {
        self.runtime.block_on(self.source.read_tree(index, id))
    }
}

/// The given paths as a tree of components: `a/b` and `a/c` share the node `a`.
#[derive(Debug, Default)]
struct RootTrie {
    /// The real path of this node (for stat), empty for the root.
    path: PathBuf,
    /// The same, absolute (for exclusion rules).
    abs: PathBuf,
    /// Whether everything under `path` is backed up.
    whole: bool,
    children: BTreeMap<Vec<u8>, RootTrie>,
}

impl RootTrie {
    fn build(paths: &[PathBuf]) -> Result<Self> {
        let mut root = Self::default();
        for given in paths {
            let path = if given.components().any(|c| matches!(c, Component::ParentDir))
                || given.as_os_str().is_empty()
                || given.components().all(|c| matches!(c, Component::CurDir))
            {
                std::path::absolute(given).map_err(|e| Error::io(given, e))?
            } else {
                given.clone()
            };
            let mut node = &mut root;
            let mut depth = 0;
            let mut real = PathBuf::new();
            for component in path.components() {
                match component {
                    Component::RootDir => real.push("/"),
                    Component::Normal(name) => {
                        real.push(name);
                        depth += 1;
                        node = node.children.entry(name.as_bytes().to_vec()).or_insert_with(|| RootTrie {
                            abs: std::path::absolute(&real).unwrap_or_else(|_| real.clone()),
                            path: real.clone(),
                            ..RootTrie::default()
                        });
                    }
                    Component::CurDir => {}
                    Component::ParentDir | Component::Prefix(_) => {
                        return Err(Error::InvalidOption(format!("cannot back up {}", given.display())));
                    }
                }
            }
            if depth == 0 {
                // `/` itself: every top-level entry.
                return Err(Error::InvalidOption("backing up `/` whole is not supported yet; list its folders".into()));
            }
            node.whole = true;
        }
        Ok(root)
    }
}

/// Decides which blobs are new and hands them to the pipeline.
struct BlobStore {
    key: MasterKey,
    index: Index,
    known_new: HashSet<(BlobKind, BlobId)>,
    sender: Sender<SealJob>,
    buffers: pipeline::BufferPool,
    progress: Arc<BackupProgress>,
    data_blobs: u64,
    tree_blobs: u64,
    bytes: u64,
}

impl BlobStore {
    /// Stores a blob unless the vault or this backup already has it.
    fn save(&mut self, kind: BlobKind, plaintext: &[u8]) -> Result<BlobId> {
        let id = self.key.blob_id(plaintext);
        if !self.index.contains(kind, &id) && self.known_new.insert((kind, id)) {
            let mut buf = self.buffers.take();
            buf.extend_from_slice(plaintext);
            let job = SealJob { kind, id, plaintext: buf };
            self.sender.send(job).map_err(|_| Error::Cancelled)?;
            match kind {
                BlobKind::Data => self.data_blobs += 1,
                BlobKind::Tree => self.tree_blobs += 1,
            }
            self.bytes += plaintext.len() as u64;
            self.progress.bytes_new.fetch_add(plaintext.len() as u64, Ordering::Relaxed);
        }
        Ok(id)
    }
}

struct Walker {
    store: BlobStore,
    chunker: Chunker,
    filter: Filter,
    names: Names,
    summary: BackupSummary,
    warnings: Vec<String>,
    progress: Arc<BackupProgress>,
    reader: TreeReader,
}

impl Walker {
    fn save_tree(&mut self, nodes: Vec<Node>) -> Result<TreeId> {
        let entries = nodes.len();
        let bytes = Tree::new(nodes).encode();
        if bytes.len() > crate::blob::MAX_BLOB_LEN {
            // Refused rather than stored: a tree no reader accepts would make the snapshot
            // unrestorable.
            return Err(Error::InvalidOption(format!(
                "a directory with {entries} entries encodes to {} bytes, over the {}-byte tree limit",
                bytes.len(),
                crate::blob::MAX_BLOB_LEN
            )));
        }
        self.store.save(BlobKind::Tree, &bytes)
    }

    fn warn(&mut self, message: String) {
        tracing::warn!("{message}");
        self.warnings.push(message);
    }

    fn parent_subtree(&mut self, parent: Option<&Node>) -> Option<Tree> {
        let id = parent.filter(|p| p.kind == NodeKind::Dir)?.subtree?;
        match self.reader.read(&self.store.index, &id) {
            Ok(tree) => Some(tree),
            Err(e) => {
                self.warn(format!("parent tree {} unreadable, reading files again: {e}", id.short()));
                None
            }
        }
    }

    fn walk_roots(&mut self, trie: &RootTrie, parent: Option<&Tree>) -> Result<TreeId> {
        let mut nodes = Vec::new();
        for (name, child) in &trie.children {
            let parent_node = parent.and_then(|t| t.find(name));
            let meta = match fs::symlink_metadata(&child.path) {
                Ok(m) => m,
                Err(e) => {
                    self.warn(format!("{}: {e}", child.path.display()));
                    continue;
                }
            };
            let node = if child.whole {
                self.entry(&child.path, &child.abs, name.clone(), &meta, parent_node)?
            } else {
                let mut node =
                    source::node_from_metadata(&child.path, name.clone(), &meta, &mut self.names, &mut self.warnings);
                if node.kind != NodeKind::Dir {
                    return Err(Error::InvalidOption(format!("{} is not a directory", child.path.display())));
                }
                let parent_tree = self.parent_subtree(parent_node);
                node.subtree = Some(self.walk_roots(child, parent_tree.as_ref())?);
                self.summary.dirs += 1;
                Some(node)
            };
            nodes.extend(node);
        }
        self.save_tree(nodes)
    }

    /// Backs up one entry; `None` when it is excluded or unreadable.
    fn entry(
        &mut self,
        path: &Path,
        abs: &Path,
        name: Vec<u8>,
        meta: &fs::Metadata,
        parent: Option<&Node>,
    ) -> Result<Option<Node>> {
        self.progress.entries.fetch_add(1, Ordering::Relaxed);
        let mut node = source::node_from_metadata(path, name, meta, &mut self.names, &mut self.warnings);
        match node.kind {
            NodeKind::Dir => {
                let parent_tree = self.parent_subtree(parent);
                match self.dir(path, abs, parent_tree.as_ref())? {
                    Some(tree) => node.subtree = Some(tree),
                    None => return Ok(None),
                }
                self.summary.dirs += 1;
            }
            NodeKind::File => {
                if let Some(p) = parent.filter(|p| source::unchanged(&node, p))
                    && p.content.iter().all(|id| self.store.index.contains(BlobKind::Data, id))
                {
                    node.content.clone_from(&p.content);
                    self.summary.files_unmodified += 1;
                    self.progress.bytes_processed.fetch_add(node.size, Ordering::Relaxed);
                } else {
                    match self.file(path, &mut node) {
                        Ok(()) => {}
                        Err(Error::Io { path, source }) => {
                            self.warn(format!("{}: {source}", path.display()));
                            return Ok(None);
                        }
                        Err(e) => return Err(e),
                    }
                    if parent.is_some_and(|p| p.kind == NodeKind::File) {
                        self.summary.files_changed += 1;
                    } else {
                        self.summary.files_new += 1;
                    }
                }
                self.summary.total_files += 1;
                self.summary.total_bytes += node.size;
            }
            _ => self.summary.others += 1,
        }
        Ok(Some(node))
    }

    /// Reads a file's contents into chunks.
    fn file(&mut self, path: &Path, node: &mut Node) -> Result<()> {
        let io = |e| Error::io(path, e);
        let mut file = File::options()
            .read(true)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
            .open(path)
            .map_err(io)?;
        // The entry may have been swapped for something else since it was listed.
        let meta = file.metadata().map_err(io)?;
        if !meta.is_file() {
            return Err(Error::io(path, std::io::Error::other("changed type since it was listed, not read")));
        }
        self.chunker.reset();
        let mut content = Vec::new();
        let mut size = 0u64;
        loop {
            let chunk = match self.chunker.next_chunk(&mut file) {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(e) => return Err(io(e)),
            };
            size += chunk.len() as u64;
            self.progress.bytes_processed.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            content.push(self.store.save(BlobKind::Data, chunk)?);
        }
        node.size = size;
        node.content = content;
        Ok(())
    }

    /// Backs up a directory; `None` when a marker file excludes it.
    fn dir(&mut self, path: &Path, abs: &Path, parent: Option<&Tree>) -> Result<Option<TreeId>> {
        let mut entries: Vec<(Vec<u8>, PathBuf)> = Vec::new();
        match fs::read_dir(path) {
            Ok(rd) => {
                for entry in rd {
                    match entry {
                        Ok(e) => entries.push((e.file_name().as_bytes().to_vec(), e.path())),
                        Err(e) => self.warn(format!("{}: {e}", path.display())),
                    }
                }
            }
            Err(e) => self.warn(format!("{}: {e}", path.display())),
        }
        if self.filter.excludes_dir_with(entries.iter().map(|(n, _)| n.as_slice())) {
            return Ok(None);
        }
        entries.sort();
        let mut nodes = Vec::with_capacity(entries.len());
        for (name, child) in entries {
            let meta = match fs::symlink_metadata(&child) {
                Ok(m) => m,
                Err(e) => {
                    self.warn(format!("{}: {e}", child.display()));
                    continue;
                }
            };
            let child_abs = abs.join(OsStr::from_bytes(&name));
            if self.filter.excludes(&child_abs, &name, meta.is_file().then_some(meta.len())) {
                continue;
            }
            let parent_node = parent.and_then(|t| t.find(&name));
            if let Some(node) = self.entry(&child, &child_abs, name, &meta, parent_node)? {
                nodes.push(node);
            }
        }
        self.save_tree(nodes).map(Some)
    }
}
