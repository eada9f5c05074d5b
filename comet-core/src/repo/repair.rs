//! Repairs: the index rebuilt from pack headers; snapshots rewritten around lost data.
//!
//! `repair_index` needs nothing but the packs, which describe themselves. `repair_snapshots`
//! keeps everything that can still be restored: a file whose chunks are partly lost is cut
//! before the first lost chunk, a directory whose tree is lost becomes empty, and both are
//! marked with the extended attribute [`DAMAGED_XATTR`] saying what was lost, so the mark
//! travels with the restored file. The new snapshot is tagged [`REPAIRED_TAG`] and names the
//! original as its parent.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use bytes::Bytes;
use comet_storage::{ObjectKey, ObjectKind};
use futures::StreamExt;
use serde::Serialize;

use super::session::{self, Session, SessionKind};
use super::{IndexedRepository, Repository, put_object};
use crate::blob::BlobSealer;
use crate::error::{Error, Result};
use crate::id::{BlobKind, PackId, SnapshotId, TreeId};
use crate::index::IndexPack;
use crate::pack::PackWriter;
use crate::snapshot::Snapshot;
use crate::tree::{Node, NodeKind, Tree, Xattr};

/// Extended attribute set on files and directories whose data `repair snapshots` found lost.
pub const DAMAGED_XATTR: &[u8] = b"user.comet.damaged";

/// Tag of snapshots written by `repair snapshots`.
pub const REPAIRED_TAG: &str = "repaired";

/// Pack headers read at the same time by `repair index`.
const HEADER_CONCURRENCY: usize = 8;

/// Most blobs listed in one index file.
const MAX_INDEX_BLOBS: usize = 200_000;

/// What `repair index` did.
#[derive(Clone, Debug, Default, Serialize)]
#[non_exhaustive]
pub struct RepairIndexReport {
    /// Packs read and indexed.
    pub packs_indexed: usize,
    /// Blobs in them.
    pub blobs: usize,
    /// Packs whose header could not be read (left out of the index), with the reason.
    pub unreadable: Vec<(String, String)>,
    /// Index files written.
    pub index_files_written: usize,
    /// Old index files removed.
    pub index_files_removed: usize,
}

/// What `repair snapshots` did for one snapshot.
#[derive(Clone, Debug, Serialize)]
pub struct RepairedSnapshot {
    /// The damaged snapshot.
    pub original: String,
    /// The snapshot written in its place (none in a dry run).
    pub repaired: Option<String>,
    /// Paths (as `ls` prints them) whose data is lost, fully or partly.
    pub lost: Vec<String>,
}

/// What `repair snapshots` did.
#[derive(Clone, Debug, Default, Serialize)]
#[non_exhaustive]
pub struct RepairSnapshotsReport {
    /// Snapshots examined.
    pub snapshots: usize,
    /// The damaged ones and what became of them.
    pub repaired: Vec<RepairedSnapshot>,
    /// Whether the originals were removed.
    pub forgot_originals: bool,
}

impl Repository {
    /// Rebuilds the index from the headers of every pack in the vault, then removes the old
    /// index files. Packs marked for deletion become live again (a later prune marks them anew).
    pub async fn repair_index(&self) -> Result<RepairIndexReport> {
        // Exclusive with prune, which also replaces index files.
        let session = Session::start(&self.vault, &self.cipher, &self.clock, self.sessions, SessionKind::Prune).await?;
        let result = self.repair_index_in_session(&session).await;
        session.end(&self.vault).await;
        result
    }

    async fn repair_index_in_session(&self, session: &Session) -> Result<RepairIndexReport> {
        let vault = &self.vault;
        let others = session::other_sessions(vault, &self.cipher, session, self.clock.now_ns()).await?;
        if others.iter().any(|s| !s.stale && s.is_prune()) {
            return Err(Error::Busy("a prune or repair is running; try again when it has finished".into()));
        }
        let mut report = RepairIndexReport::default();
        // Index files first: every pack they list was written before them, so it is listed below.
        let old: Vec<ObjectKey> = vault.list(ObjectKind::Index).await?.into_iter().map(|m| m.key).collect();
        let packs = vault.list(ObjectKind::Pack).await?;
        let headers: Vec<_> = futures::stream::iter(packs)
            .map(|meta| async move {
                let result = session::read_pack_header(vault, &self.cipher, &meta.key, meta.size).await;
                (meta.key, result)
            })
            .buffer_unordered(HEADER_CONCURRENCY)
            .collect()
            .await;
        let mut batch = Vec::new();
        let mut batch_blobs = 0;
        let mut written = BTreeSet::new();
        for (key, result) in headers {
            match result {
                Ok(blobs) => {
                    report.packs_indexed += 1;
                    report.blobs += blobs.len();
                    batch_blobs += blobs.len();
                    batch.push(IndexPack::live(key.id(), blobs));
                }
                Err(Error::Storage(e)) if e.is_not_found() => {}
                Err(Error::Storage(e)) => return Err(e.into()),
                Err(e) => report.unreadable.push((key.path(), e.to_string())),
            }
            if batch_blobs >= MAX_INDEX_BLOBS {
                written.insert(self.write_index_file(std::mem::take(&mut batch), session).await?);
                batch_blobs = 0;
            }
        }
        if !batch.is_empty() {
            written.insert(self.write_index_file(batch, session).await?);
        }
        report.index_files_written = written.len();
        let written: Vec<ObjectKey> = written.into_iter().collect();
        report.index_files_removed = self.remove_index_files(old, &written).await?;
        Ok(report)
    }
}

/// Rewrites trees, remembering each tree's result (trees are shared between snapshots).
struct TreeRepairer<'a> {
    repo: &'a IndexedRepository,
    /// Packs that are gone from the vault (their blobs are lost).
    missing_packs: HashSet<PackId>,
    /// Tree id → (new id, whether anything under it was lost, whether the tree itself was).
    done: HashMap<TreeId, (TreeId, bool, bool)>,
    /// New trees to store.
    new_trees: Vec<(TreeId, Vec<u8>)>,
}

impl TreeRepairer<'_> {
    fn lost(&self, kind: BlobKind, id: &crate::id::BlobId) -> bool {
        match self.repo.index.get(kind, id) {
            None => true,
            Some(loc) => self.missing_packs.contains(&loc.pack),
        }
    }

    /// Repairs the tree `id` found at `path`; lost paths go to `lost`.
    async fn repair(&mut self, root: TreeId, lost: &mut Vec<String>) -> Result<TreeId> {
        // Iterative post-order walk: a directory is rebuilt after its children.
        enum Step {
            Enter(TreeId, PathBuf),
            Leave(TreeId, PathBuf, Tree),
        }
        let mut stack = vec![Step::Enter(root, PathBuf::from("/"))];
        while let Some(step) = stack.pop() {
            match step {
                Step::Enter(id, path) => {
                    if self.done.contains_key(&id) {
                        if self.done[&id].1 {
                            // Shared and damaged: list its lost paths for this snapshot too.
                            self.collect_lost(id, &path, lost).await;
                        }
                        continue;
                    }
                    let tree = if self.lost(BlobKind::Tree, &id) { None } else { self.repo.read_tree(&id).await.ok() };
                    let Some(tree) = tree else {
                        lost.push(path.to_string_lossy().into_owned());
                        let empty = self.store(&Tree::new(Vec::new()));
                        self.done.insert(id, (empty, true, true));
                        continue;
                    };
                    let children: Vec<(TreeId, PathBuf)> = tree
                        .nodes
                        .iter()
                        .filter(|n| n.kind == NodeKind::Dir)
                        .filter_map(|n| n.subtree.map(|s| (s, path.join(std::ffi::OsStr::from_bytes(&n.name)))))
                        .collect();
                    stack.push(Step::Leave(id, path, tree));
                    for (child, child_path) in children {
                        stack.push(Step::Enter(child, child_path));
                    }
                }
                Step::Leave(id, path, tree) => {
                    let mut damaged = false;
                    let mut nodes = Vec::with_capacity(tree.nodes.len());
                    for mut node in tree.nodes {
                        let child_path = path.join(std::ffi::OsStr::from_bytes(&node.name));
                        match node.kind {
                            NodeKind::Dir => {
                                if let Some(sub) = node.subtree {
                                    let (new, sub_damaged, sub_lost) = self.done[&sub];
                                    damaged |= sub_damaged;
                                    if sub_lost {
                                        mark(&mut node, "directory contents lost");
                                    }
                                    node.subtree = Some(new);
                                }
                            }
                            NodeKind::File => {
                                if let Some(first) = node.content.iter().position(|c| self.lost(BlobKind::Data, c)) {
                                    damaged = true;
                                    lost.push(child_path.to_string_lossy().into_owned());
                                    let total = node.content.len();
                                    node.content.truncate(first);
                                    node.size = node
                                        .content
                                        .iter()
                                        .filter_map(|c| self.repo.index.get(BlobKind::Data, c))
                                        .map(|l| u64::from(l.raw_length))
                                        .sum();
                                    let what = format!(
                                        "contents lost from chunk {} of {total}; kept {} bytes",
                                        first + 1,
                                        node.size
                                    );
                                    mark(&mut node, &what);
                                }
                            }
                            _ => {}
                        }
                        nodes.push(node);
                    }
                    let new = if damaged { self.store(&Tree::new(nodes)) } else { id };
                    self.done.insert(id, (new, damaged, false));
                }
            }
        }
        Ok(self.done[&root].0)
    }

    /// Lost paths under an already repaired tree (for a second snapshot sharing it).
    async fn collect_lost(&self, id: TreeId, path: &std::path::Path, lost: &mut Vec<String>) {
        if self.done.get(&id).is_some_and(|d| d.2) {
            lost.push(path.to_string_lossy().into_owned());
            return;
        }
        let mut stack = vec![(id, path.to_path_buf())];
        while let Some((id, path)) = stack.pop() {
            let Ok(tree) = self.repo.read_tree(&id).await else {
                lost.push(path.to_string_lossy().into_owned());
                continue;
            };
            for node in &tree.nodes {
                let child = path.join(std::ffi::OsStr::from_bytes(&node.name));
                match node.kind {
                    NodeKind::Dir => {
                        if let Some(sub) = node.subtree
                            && self.done.get(&sub).is_some_and(|d| d.1)
                        {
                            if self.done[&sub].2 {
                                lost.push(child.to_string_lossy().into_owned());
                            } else {
                                stack.push((sub, child));
                            }
                        }
                    }
                    NodeKind::File if node.content.iter().any(|c| self.lost(BlobKind::Data, c)) => {
                        lost.push(child.to_string_lossy().into_owned());
                    }
                    _ => {}
                }
            }
        }
    }

    fn store(&mut self, tree: &Tree) -> TreeId {
        let bytes = tree.encode();
        let id = self.repo.key.blob_id(&bytes);
        self.new_trees.push((id, bytes));
        id
    }
}

fn mark(node: &mut Node, what: &str) {
    node.xattrs.retain(|x| x.name != DAMAGED_XATTR);
    node.xattrs.push(Xattr { name: DAMAGED_XATTR.to_vec(), value: format!("comet repair: {what}").into_bytes() });
    node.xattrs.sort_by(|a, b| a.name.cmp(&b.name));
}

impl IndexedRepository {
    /// Rewrites every snapshot whose trees refer to lost data (blobs in no index, or in packs
    /// gone from the vault) so that the rest stays restorable; see the module documentation.
    /// With `forget`, the damaged originals are removed once their replacements are stored.
    pub async fn repair_snapshots(&self, dry_run: bool, forget: bool) -> Result<RepairSnapshotsReport> {
        let stored: HashSet<PackId> =
            self.vault.list(ObjectKind::Pack).await?.into_iter().map(|m| m.key.id()).collect();
        let missing_packs = self.index.packs().iter().filter(|p| !stored.contains(p)).copied().collect();
        let snapshots = self.snapshots().await?;
        let mut report = RepairSnapshotsReport {
            snapshots: snapshots.len(),
            forgot_originals: forget && !dry_run,
            ..Default::default()
        };
        let mut repairer = TreeRepairer { repo: self, missing_packs, done: HashMap::new(), new_trees: Vec::new() };
        let mut rewritten: Vec<(SnapshotId, Snapshot)> = Vec::new();
        for (id, snap) in &snapshots {
            let mut lost = Vec::new();
            let root = repairer.repair(snap.tree, &mut lost).await?;
            if root == snap.tree {
                continue;
            }
            lost.sort();
            lost.dedup();
            let mut new = snap.clone();
            new.tree = root;
            new.parent = Some(*id);
            if !new.tags.iter().any(|t| t == REPAIRED_TAG) {
                new.tags.push(REPAIRED_TAG.to_owned());
            }
            rewritten.push((*id, new));
            report.repaired.push(RepairedSnapshot { original: id.to_hex(), repaired: None, lost });
        }
        if dry_run || rewritten.is_empty() {
            return Ok(report);
        }
        let session =
            Session::start(&self.vault, &self.cipher, &self.clock, self.sessions, SessionKind::Backup).await?;
        let result = self.store_repairs(repairer.new_trees, &rewritten, forget, &session, &mut report).await;
        session.end(&self.vault).await;
        result.map(|()| report)
    }

    async fn store_repairs(
        &self,
        trees: Vec<(TreeId, Vec<u8>)>,
        rewritten: &[(SnapshotId, Snapshot)],
        forget: bool,
        session: &Session,
        report: &mut RepairSnapshotsReport,
    ) -> Result<()> {
        // Trees first (a pack, then its index), snapshots next, originals last.
        let mut sealer = BlobSealer::new(self.cipher.clone(), self.config.compression_level);
        let mut writer = PackWriter::new(BlobKind::Tree, self.config.pack_size as usize);
        let mut seen = HashSet::new();
        let mut packs = Vec::new();
        for (id, bytes) in &trees {
            if !seen.insert(*id) || self.index.contains(BlobKind::Tree, id) {
                continue;
            }
            writer.add(*id, &sealer.seal(BlobKind::Tree, id, bytes), bytes.len() as u32);
            if writer.len() >= self.config.pack_size as usize {
                let full =
                    std::mem::replace(&mut writer, PackWriter::new(BlobKind::Tree, self.config.pack_size as usize));
                packs.push(self.store_tree_pack(full).await?);
            }
        }
        if !writer.is_empty() {
            packs.push(self.store_tree_pack(writer).await?);
        }
        if !packs.is_empty() {
            self.write_index_file(packs, session).await?;
        }
        for ((original, snap), entry) in rewritten.iter().zip(&mut report.repaired) {
            session.check_fresh()?;
            let id = put_object(&self.vault, ObjectKind::Snapshot, Bytes::from(snap.seal(&self.cipher))).await?;
            entry.repaired = Some(id.to_hex());
            if forget {
                let key = ObjectKey::new(ObjectKind::Snapshot, *original);
                match self.vault.delete(&key).await {
                    Ok(()) => {}
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e.into()),
                }
                self.forget_cached(&key);
            }
        }
        Ok(())
    }

    async fn store_tree_pack(&self, writer: PackWriter) -> Result<IndexPack> {
        let finished = writer.finish(&self.cipher);
        let id = put_object(&self.vault, ObjectKind::Pack, Bytes::from(finished.bytes)).await?;
        Ok(IndexPack::live(id, finished.blobs))
    }
}
