//! Statistics of snapshots and of the vault, in restic's two ways of counting.
//!
//! - *Restore size*: what restoring each snapshot would write, summed over the snapshots (a file
//!   in ten snapshots counts ten times).
//! - *Raw data*: the distinct blobs those snapshots reference, each counted once, with their
//!   plaintext and stored (compressed, sealed) sizes.
//!
//! Both come from one walk of the trees, which reads each distinct tree once, however many
//! snapshots and directories share it: the restore size of a tree is memoised by its id.

use std::collections::{HashMap, HashSet};
use std::ops::AddAssign;

use comet_storage::{ObjectKey, ObjectKind};
use serde::Serialize;

use super::IndexedRepository;
use crate::error::{Error, Result, object_name};
use crate::id::{BlobId, BlobKind, SnapshotId, TreeId};
use crate::snapshot::Snapshot;
use crate::tree::NodeKind;

/// What restoring the snapshots would write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RestoreSize {
    /// Regular files.
    pub files: u64,
    /// Directories.
    pub dirs: u64,
    /// Other entries (symlinks, devices, pipes, sockets).
    pub others: u64,
    /// Bytes of the regular files.
    pub bytes: u64,
}

impl AddAssign for RestoreSize {
    fn add_assign(&mut self, other: Self) {
        self.files += other.files;
        self.dirs += other.dirs;
        self.others += other.others;
        self.bytes += other.bytes;
    }
}

/// The distinct blobs the snapshots reference.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RawData {
    /// Data blobs (file chunks).
    pub data_blobs: u64,
    /// Their plaintext bytes.
    pub data_bytes: u64,
    /// The bytes they take in packs (compressed and sealed).
    pub data_stored_bytes: u64,
    /// Tree blobs (directories).
    pub tree_blobs: u64,
    /// Their plaintext bytes.
    pub tree_bytes: u64,
    /// The bytes they take in packs.
    pub tree_stored_bytes: u64,
    /// Referenced blobs the index does not know (a damaged vault: run a check).
    pub missing_blobs: u64,
}

impl RawData {
    /// Plaintext bytes of every blob.
    pub fn bytes(&self) -> u64 {
        self.data_bytes + self.tree_bytes
    }

    /// Stored bytes of every blob.
    pub fn stored_bytes(&self) -> u64 {
        self.data_stored_bytes + self.tree_stored_bytes
    }

    fn add(&mut self, kind: BlobKind, raw_length: u32, length: u32) {
        let (count, bytes, stored) = match kind {
            BlobKind::Data => (&mut self.data_blobs, &mut self.data_bytes, &mut self.data_stored_bytes),
            BlobKind::Tree => (&mut self.tree_blobs, &mut self.tree_bytes, &mut self.tree_stored_bytes),
        };
        *count += 1;
        *bytes += u64::from(raw_length);
        *stored += u64::from(length);
    }
}

/// What the vault holds, whether snapshots reference it or not.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct VaultTotals {
    /// Snapshots.
    pub snapshots: u64,
    /// Packs listed in the vault.
    pub packs: u64,
    /// Their bytes.
    pub pack_bytes: u64,
    /// Data blobs in the index.
    pub data_blobs: u64,
    /// Tree blobs in the index.
    pub tree_blobs: u64,
}

/// What [`IndexedRepository::stats`] counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Stats {
    /// Snapshots counted.
    pub snapshots: u64,
    /// What restoring them would write, summed.
    pub restore_size: RestoreSize,
    /// The distinct blobs they reference.
    pub raw_data: RawData,
    /// The whole vault.
    pub vault: VaultTotals,
}

impl Stats {
    /// Restore size over the plaintext of the distinct data blobs: how many times over
    /// deduplication stores the data (2.0 = each byte is stored once for two restored).
    /// `None` when there is no data.
    pub fn dedup_ratio(&self) -> Option<f64> {
        ratio(self.restore_size.bytes, self.raw_data.data_bytes)
    }

    /// Plaintext over stored bytes of the distinct blobs: what compression saves, net of the
    /// encryption overhead. `None` when there are no blobs.
    pub fn compression_ratio(&self) -> Option<f64> {
        ratio(self.raw_data.bytes(), self.raw_data.stored_bytes())
    }
}

fn ratio(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

/// A step of the depth-first walk: entering a tree reads it, leaving it adds up its subtrees.
enum Step {
    Enter(TreeId),
    Leave(TreeId),
}

impl IndexedRepository {
    /// Counts `snapshots` (each once, however often it is given) both ways, and the vault's
    /// totals.
    pub async fn stats(&self, snapshots: &[SnapshotId]) -> Result<Stats> {
        let mut seen = HashSet::new();
        let mut sizes: HashMap<TreeId, RestoreSize> = HashMap::new();
        let mut data_blobs: HashSet<BlobId> = HashSet::new();
        let mut stats = Stats::default();
        for id in snapshots.iter().filter(|id| seen.insert(**id)) {
            let snapshot = self.load_snapshot(id).await?;
            stats.restore_size += self.walk_sizes(snapshot.tree, &mut sizes, &mut data_blobs).await?;
            stats.snapshots += 1;
        }
        let blobs = data_blobs.iter().map(|id| (BlobKind::Data, id)).chain(sizes.keys().map(|id| (BlobKind::Tree, id)));
        for (kind, id) in blobs {
            match self.index.get(kind, id) {
                Some(loc) => stats.raw_data.add(kind, loc.raw_length, loc.length),
                None => stats.raw_data.missing_blobs += 1,
            }
        }
        let packs = self.vault.list(ObjectKind::Pack).await?;
        stats.vault = VaultTotals {
            snapshots: self.vault.list(ObjectKind::Snapshot).await?.len() as u64,
            packs: packs.len() as u64,
            pack_bytes: packs.iter().map(|m| m.size).sum(),
            data_blobs: self.index.blob_count(BlobKind::Data) as u64,
            tree_blobs: self.index.blob_count(BlobKind::Tree) as u64,
        };
        Ok(stats)
    }

    /// Reads one snapshot by id.
    pub(super) async fn load_snapshot(&self, id: &SnapshotId) -> Result<Snapshot> {
        let key = ObjectKey::new(ObjectKind::Snapshot, *id);
        let bytes = self.get_verified(&key).await?;
        Snapshot::open(&self.cipher, &bytes).map_err(|r| Error::corrupted(object_name(&key), r))
    }

    /// The restore size of the tree `root`, using and filling `sizes` (restore size of every
    /// tree already walked), and adding the data blobs of its files to `data_blobs`.
    async fn walk_sizes(
        &self,
        root: TreeId,
        sizes: &mut HashMap<TreeId, RestoreSize>,
        data_blobs: &mut HashSet<BlobId>,
    ) -> Result<RestoreSize> {
        // Trees entered and not yet left: their own entries' size and their subtrees.
        let mut open: HashMap<TreeId, (RestoreSize, Vec<TreeId>)> = HashMap::new();
        let mut stack = vec![Step::Enter(root)];
        while let Some(step) = stack.pop() {
            match step {
                Step::Enter(id) => {
                    if sizes.contains_key(&id) {
                        continue;
                    }
                    if open.contains_key(&id) {
                        // Ids are keyed hashes of the contents, so only a forged tree can do this.
                        return Err(Error::corrupted(format!("tree {}", id.short()), "a directory contains itself"));
                    }
                    let tree = self.read_tree(&id).await?;
                    let mut own = RestoreSize::default();
                    let mut subtrees = Vec::new();
                    for node in tree.nodes {
                        match node.kind {
                            NodeKind::File => {
                                own.files += 1;
                                own.bytes += node.size;
                                data_blobs.extend(node.content);
                            }
                            NodeKind::Dir => {
                                own.dirs += 1;
                                subtrees.extend(node.subtree);
                            }
                            _ => own.others += 1,
                        }
                    }
                    stack.push(Step::Leave(id));
                    stack.extend(subtrees.iter().map(|s| Step::Enter(*s)));
                    open.insert(id, (own, subtrees));
                }
                Step::Leave(id) => {
                    let (mut total, subtrees) = open.remove(&id).expect("a tree is left after it is entered");
                    for sub in subtrees {
                        total += sizes[&sub];
                    }
                    sizes.insert(id, total);
                }
            }
        }
        Ok(sizes[&root])
    }
}
