//! Checking a vault: structure, snapshots and trees, and (optionally) every byte of data.
//!
//! Layers, cheapest first: index files decode; every indexed pack exists and every pack is
//! indexed; every snapshot decodes and every tree under it reads, with every blob it names in
//! the index; with `read_data`, packs are downloaded, their hash compared with their name,
//! their header with the index, and every blob decrypted and verified. The report names each
//! damaged object, and the snapshots and files that lose data because of it.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use comet_storage::{ObjectKey, ObjectKind};
use futures::StreamExt;
use serde::Serialize;

use super::{IndexedRepository, Repository, get_hashed};
use crate::blob::BlobOpener;
use crate::error::{Error, Result, object_name};
use crate::id::{BlobId, BlobKind, PackId, SnapshotId, TreeId};
use crate::index::{Index, IndexFile};
use crate::pack;
use crate::snapshot::Snapshot;
use crate::tree::NodeKind;

/// A pack read by `check --read-data`: its number, id, and blobs and bytes read (or the damage).
type PackResult = (u32, PackId, Result<(u64, u64)>);

/// Packs downloaded and verified at the same time by `check --read-data`.
const READ_CONCURRENCY: usize = 4;

/// Which packs `check` downloads and verifies.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum ReadData {
    /// None: structure only.
    #[default]
    None,
    /// Every pack.
    All,
    /// Subset `n` of `t` (1-based): subsets 1..=t are disjoint and together cover every indexed
    /// pack (packs in no index are reported as notices, not read).
    Subset {
        /// Which subset.
        n: u32,
        /// How many subsets.
        t: u32,
    },
    /// A random sample of this percentage of the packs (at least one).
    Percent(f64),
}

impl ReadData {
    /// Parses `n/t` or `x%`.
    pub fn parse_subset(text: &str) -> std::result::Result<Self, String> {
        if let Some(p) = text.strip_suffix('%') {
            let p: f64 = p.trim().parse().map_err(|_| format!("invalid percentage {text:?}"))?;
            if !(p > 0.0 && p <= 100.0) {
                return Err(format!("percentage {text:?} must be in (0, 100]"));
            }
            return Ok(Self::Percent(p));
        }
        let (n, t) = text.split_once('/').ok_or_else(|| format!("invalid subset {text:?}: give n/t or x%"))?;
        let (n, t): (u32, u32) = (
            n.trim().parse().map_err(|_| format!("invalid subset {text:?}"))?,
            t.trim().parse().map_err(|_| format!("invalid subset {text:?}"))?,
        );
        if t == 0 || n == 0 || n > t {
            return Err(format!("invalid subset {text:?}: need 1 <= n <= t"));
        }
        Ok(Self::Subset { n, t })
    }

    /// Whether pack `id` is read.
    fn selects(self, id: &PackId) -> bool {
        match self {
            Self::None => false,
            Self::All => true,
            Self::Subset { n, t } => {
                let b = id.as_bytes();
                u32::from_le_bytes([b[0], b[1], b[2], b[3]]) % t == n - 1
            }
            Self::Percent(p) => {
                let mut r = [0u8; 4];
                crate::crypto::random_bytes(&mut r);
                f64::from(u32::from_le_bytes(r)) < p / 100.0 * f64::from(u32::MAX)
            }
        }
    }
}

/// Options of [`Repository::check`].
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct CheckOptions {
    /// Which packs to download and verify.
    pub read_data: ReadData,
}

impl CheckOptions {
    /// Sets which packs are read.
    #[must_use]
    pub fn read_data(mut self, read_data: ReadData) -> Self {
        self.read_data = read_data;
        self
    }
}

/// What kind of problem `check` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// An index file cannot be read or decoded.
    CorruptIndex,
    /// An indexed pack is not in the vault.
    MissingPack,
    /// A pack's bytes, header or blobs fail verification.
    CorruptPack,
    /// The index and a pack disagree (offsets past the end, header differs).
    IndexMismatch,
    /// A snapshot cannot be read or decoded.
    CorruptSnapshot,
    /// A tree cannot be read or decoded.
    CorruptTree,
    /// A snapshot or tree names a blob that no index lists.
    MissingBlob,
    /// A pack in the vault that no index lists (not an error: prune marks and removes it).
    UnindexedPack,
    /// A pack marked for deletion is already gone (not an error).
    MarkedPackMissing,
    /// A pack is listed by several index files (not an error: prune merges them).
    ObsoleteIndex,
    /// Blobs stored more than once (not an error: prune removes the copies).
    DuplicateBlobs,
}

impl ProblemKind {
    /// Whether the problem loses data (or could); the others are only wasted space.
    pub fn is_error(self) -> bool {
        !matches!(self, Self::UnindexedPack | Self::MarkedPackMissing | Self::ObsoleteIndex | Self::DuplicateBlobs)
    }
}

/// One problem, naming the object concerned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckProblem {
    /// What is wrong.
    pub kind: ProblemKind,
    /// The object (`data/ab/ab…`, `index/…`, `snapshots/…`, `tree …`).
    pub object: String,
    /// Details.
    pub message: String,
}

/// Files of one snapshot that lost data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AffectedSnapshot {
    /// The snapshot.
    pub snapshot: String,
    /// Paths in the snapshot (as `ls` prints them) whose contents or subtree are damaged.
    pub paths: Vec<String>,
}

/// What [`Repository::check`] found.
#[derive(Clone, Debug, Default, Serialize)]
#[non_exhaustive]
pub struct CheckReport {
    /// Every problem, errors and notices.
    pub problems: Vec<CheckProblem>,
    /// Snapshots that lose data, with the files concerned.
    pub affected: Vec<AffectedSnapshot>,
    /// Snapshots checked.
    pub snapshots: usize,
    /// Distinct trees read.
    pub trees: usize,
    /// Packs in the vault.
    pub packs: usize,
    /// Packs downloaded and verified.
    pub packs_read: usize,
    /// Blobs decrypted and verified.
    pub blobs_read: u64,
    /// Bytes downloaded.
    pub bytes_read: u64,
}

impl CheckReport {
    /// Problems that lose data.
    pub fn errors(&self) -> impl Iterator<Item = &CheckProblem> {
        self.problems.iter().filter(|p| p.kind.is_error())
    }

    /// Whether no problem loses data (notices about unreferenced data allowed).
    pub fn is_clean(&self) -> bool {
        self.errors().next().is_none()
    }

    /// The problems of one kind.
    pub fn of_kind(&self, kind: ProblemKind) -> impl Iterator<Item = &CheckProblem> {
        self.problems.iter().filter(move |p| p.kind == kind)
    }

    fn add(&mut self, kind: ProblemKind, object: impl Into<String>, message: impl Into<String>) {
        self.problems.push(CheckProblem { kind, object: object.into(), message: message.into() });
    }
}

impl Repository {
    /// Checks the vault (see the module documentation). Damage is reported, not returned as
    /// an error; `Err` means the check itself could not run (storage unreachable). Everything
    /// is read from the vault, never from the local cache.
    pub async fn check(&self, options: &CheckOptions) -> Result<CheckReport> {
        let mut report = CheckReport::default();
        let vault = &self.vault;

        // Index files, one by one: a damaged one is reported and the rest still used.
        let mut files = Vec::new();
        for meta in vault.list(ObjectKind::Index).await? {
            match get_hashed(&self.vault, &meta.key).await.and_then(|bytes| {
                IndexFile::open(&self.cipher, &bytes).map_err(|r| Error::corrupted(object_name(&meta.key), r))
            }) {
                Ok(file) => files.push(file),
                Err(Error::Storage(e)) if e.is_not_found() => {}
                Err(e) => report.add(ProblemKind::CorruptIndex, object_name(&meta.key), e.to_string()),
            }
        }
        let index = Index::from_files(&files);
        let mut listings: HashMap<PackId, usize> = HashMap::new();
        let mut listed_entries = 0usize;
        for file in &files {
            for p in &file.packs {
                let n = listings.entry(p.id).or_default();
                *n += 1;
                if *n == 1 {
                    listed_entries += p.blobs.len();
                }
            }
        }
        drop(files);
        for (id, n) in &listings {
            if *n > 1 {
                report.add(
                    ProblemKind::ObsoleteIndex,
                    object_name(&ObjectKey::pack(*id)),
                    format!("listed by {n} index files"),
                );
            }
        }
        let unique = index.blob_count(BlobKind::Data) + index.blob_count(BlobKind::Tree);
        if listed_entries > unique {
            report.add(
                ProblemKind::DuplicateBlobs,
                "index",
                format!("{} blobs are stored more than once", listed_entries - unique),
            );
        }

        // Packs as stored against the index.
        let stored: HashMap<PackId, u64> =
            vault.list(ObjectKind::Pack).await?.into_iter().map(|m| (m.key.id(), m.size)).collect();
        report.packs = stored.len();
        let mut damaged: HashSet<u32> = HashSet::new();
        for (n, id) in index.packs().iter().enumerate() {
            if !stored.contains_key(id) {
                if index.marked_ns(n as u32).is_some() {
                    report.add(ProblemKind::MarkedPackMissing, object_name(&ObjectKey::pack(*id)), "already deleted");
                } else {
                    report.add(
                        ProblemKind::MissingPack,
                        object_name(&ObjectKey::pack(*id)),
                        "indexed but not in the vault",
                    );
                    damaged.insert(n as u32);
                }
            }
        }
        for (id, size) in &stored {
            if !index.has_pack(id) {
                report.add(
                    ProblemKind::UnindexedPack,
                    object_name(&ObjectKey::pack(*id)),
                    format!("{size} bytes in no index (left by an interrupted backup, or `repair index` needed)"),
                );
            }
        }
        for kind in [BlobKind::Data, BlobKind::Tree] {
            for e in index.entries(kind) {
                let id = index.pack(e.pack);
                if let Some(&size) = stored.get(&id)
                    && u64::from(e.offset) + u64::from(e.length) + 4 > size
                    && damaged.insert(e.pack)
                {
                    report.add(
                        ProblemKind::IndexMismatch,
                        object_name(&ObjectKey::pack(id)),
                        format!("the index places blob {} past the end of the pack ({size} bytes)", e.id.short()),
                    );
                }
            }
        }

        // Snapshots and every tree under them.
        let mut snapshots: Vec<(SnapshotId, Snapshot)> = Vec::new();
        for meta in vault.list(ObjectKind::Snapshot).await? {
            match get_hashed(&self.vault, &meta.key).await.and_then(|bytes| {
                Snapshot::open(&self.cipher, &bytes).map_err(|r| Error::corrupted(object_name(&meta.key), r))
            }) {
                Ok(snap) => snapshots.push((meta.key.id(), snap)),
                Err(Error::Storage(e)) if e.is_not_found() => {}
                Err(e) => report.add(ProblemKind::CorruptSnapshot, object_name(&meta.key), e.to_string()),
            }
        }
        snapshots.sort_by_key(|(_, s)| s.time_ns);
        report.snapshots = snapshots.len();
        let indexed = self.with_index(index);
        let mut bad_trees: HashSet<TreeId> = HashSet::new();
        let mut missing_blobs: HashSet<BlobId> = HashSet::new();
        let mut seen: HashSet<TreeId> = HashSet::new();
        let mut stack: Vec<TreeId> = snapshots.iter().map(|(_, s)| s.tree).collect();
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            report.trees += 1;
            if !indexed.index.contains_any(BlobKind::Tree, &id) {
                report.add(ProblemKind::MissingBlob, format!("tree {}", id.short()), "used by a snapshot, in no index");
                bad_trees.insert(id);
                continue;
            }
            match indexed.read_tree(&id).await {
                Ok(tree) => {
                    for node in &tree.nodes {
                        match node.kind {
                            NodeKind::Dir => stack.extend(node.subtree),
                            NodeKind::File => {
                                for c in &node.content {
                                    if !indexed.index.contains_any(BlobKind::Data, c) && missing_blobs.insert(*c) {
                                        report.add(
                                            ProblemKind::MissingBlob,
                                            format!("data blob {}", c.short()),
                                            "used by a file, in no index",
                                        );
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                }
                Err(Error::Storage(e)) if e.is_not_found() => {
                    // The pack is missing: reported above, affected files found below.
                    bad_trees.insert(id);
                }
                Err(e) => {
                    report.add(ProblemKind::CorruptTree, format!("tree {}", id.short()), e.to_string());
                    bad_trees.insert(id);
                }
            }
        }

        // Data: whole packs downloaded and verified.
        let selected: Vec<(u32, PackId)> = indexed
            .index
            .packs()
            .iter()
            .enumerate()
            .filter(|(_, id)| stored.contains_key(*id) && options.read_data.selects(id))
            .map(|(n, id)| (n as u32, *id))
            .collect();
        let selected = if selected.is_empty() && matches!(options.read_data, ReadData::Percent(_)) {
            // At least one pack.
            indexed
                .index
                .packs()
                .iter()
                .enumerate()
                .find(|(_, id)| stored.contains_key(*id))
                .map(|(n, id)| vec![(n as u32, *id)])
                .unwrap_or_default()
        } else {
            selected
        };
        let results: Vec<PackResult> = futures::stream::iter(selected)
            .map(|(n, id)| {
                let indexed = &indexed;
                async move { (n, id, indexed.verify_pack_counted(&id).await) }
            })
            .buffer_unordered(READ_CONCURRENCY)
            .collect()
            .await;
        for (n, id, result) in results {
            report.packs_read += 1;
            match result {
                Ok((blobs, bytes)) => {
                    report.blobs_read += blobs;
                    report.bytes_read += bytes;
                }
                Err(Error::Storage(e)) if !e.is_not_found() => return Err(e.into()),
                Err(e) => {
                    report.add(ProblemKind::CorruptPack, object_name(&ObjectKey::pack(id)), e.to_string());
                    damaged.insert(n);
                }
            }
        }

        // Which snapshots and files lose data.
        if !damaged.is_empty() || !bad_trees.is_empty() || !missing_blobs.is_empty() {
            let lost = |kind: BlobKind, id: &BlobId| match indexed.index.get_entry(kind, id) {
                Some(e) => damaged.contains(&e.pack),
                None => true,
            };
            for (snap_id, snap) in &snapshots {
                let paths = indexed.damaged_paths(&snap.tree, &lost, &bad_trees).await;
                if !paths.is_empty() {
                    report.affected.push(AffectedSnapshot { snapshot: snap_id.to_hex(), paths });
                }
            }
        }
        report.problems.sort_by(|a, b| (a.kind, &a.object).cmp(&(b.kind, &b.object)));
        Ok(report)
    }

    /// Wraps this repository's keys around an index already built, without the local cache:
    /// a check reads what the vault holds, not what was cached from it.
    fn with_index(&self, index: Index) -> IndexedRepository {
        let repo = Repository {
            vault: self.vault.clone(),
            key: self.key.clone(),
            key_id: self.key_id,
            cipher: self.cipher.clone(),
            config: self.config.clone(),
            cache: None,
            clock: self.clock.clone(),
            sessions: self.sessions,
        };
        let source = repo.blob_source();
        IndexedRepository { repo, index, loaded: BTreeSet::new(), source }
    }
}

impl IndexedRepository {
    /// Reads a whole pack and checks everything in it: its bytes against its id, its header
    /// against the index, and every blob (authentication, decompression, id).
    pub async fn verify_pack(&self, id: &PackId) -> Result<()> {
        self.verify_pack_counted(id).await.map(|_| ())
    }

    /// [`verify_pack`](Self::verify_pack), returning the blobs and bytes read.
    async fn verify_pack_counted(&self, id: &PackId) -> Result<(u64, u64)> {
        let key = ObjectKey::pack(*id);
        let bytes = get_hashed(&self.vault, &key).await?;
        let corrupted = |reason: String| Error::corrupted(object_name(&key), reason);
        let header = pack::read_header(&self.cipher, &bytes).map_err(corrupted)?;
        for b in &header.blobs {
            match self.index.get(b.kind, &b.id) {
                Some(loc)
                    if loc.pack == *id
                        && (loc.offset, loc.length, loc.raw_length) != (b.offset, b.length, b.raw_length) =>
                {
                    return Err(corrupted(format!("header and index disagree on blob {}", b.id.short())));
                }
                _ => {}
            }
        }
        let (master, cipher) = (self.key.clone(), self.cipher.clone());
        let len = bytes.len() as u64;
        let count = header.blobs.len() as u64;
        tokio::task::spawn_blocking(move || {
            let mut bytes = bytes.try_into_mut().unwrap_or_else(|shared| bytes::BytesMut::from(&shared[..]));
            let mut opener = BlobOpener::new();
            for b in &header.blobs {
                let stored = &mut bytes[b.offset as usize..(b.offset + b.length) as usize];
                opener.open(&master, &cipher, b.kind, &b.id, b.raw_length, stored).map_err(|e| {
                    Error::corrupted(
                        format!("{} blob {} in {}", b.kind, b.id.short(), object_name(&key)),
                        e.to_string(),
                    )
                })?;
            }
            Ok::<_, Error>(())
        })
        .await
        .expect("verification does not panic")?;
        Ok((count, len))
    }

    /// Paths under `root` whose data is lost: files with a lost blob, directories whose tree
    /// is unreadable.
    async fn damaged_paths(
        &self,
        root: &TreeId,
        lost: &(dyn Fn(BlobKind, &BlobId) -> bool + Sync),
        bad_trees: &HashSet<TreeId>,
    ) -> Vec<String> {
        let mut out = BTreeSet::new();
        let mut stack: Vec<(TreeId, PathBuf)> = vec![(*root, PathBuf::from("/"))];
        while let Some((id, path)) = stack.pop() {
            if bad_trees.contains(&id) || lost(BlobKind::Tree, &id) {
                out.insert(path.to_string_lossy().into_owned());
                continue;
            }
            let Ok(tree) = self.read_tree(&id).await else {
                out.insert(path.to_string_lossy().into_owned());
                continue;
            };
            for node in &tree.nodes {
                let child = path.join(std::ffi::OsStr::from_bytes(&node.name));
                match node.kind {
                    NodeKind::Dir => stack.extend(node.subtree.map(|t| (t, child))),
                    NodeKind::File if node.content.iter().any(|c| lost(BlobKind::Data, c)) => {
                        out.insert(child.to_string_lossy().into_owned());
                    }
                    _ => {}
                }
            }
        }
        out.into_iter().collect()
    }
}
