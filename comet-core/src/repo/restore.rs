//! Restore: recreate a snapshot (or part of it) under a target directory.
//!
//! 1. Read the trees needed (async).
//! 2. Create directories, empty sized files, links and special files (blocking thread).
//! 3. Fetch each pack that holds wanted chunks once, with one ranged read covering them, open
//!    the chunks on worker threads and write them where they belong; chunks of zeros are
//!    skipped, leaving holes.
//! 4. Apply metadata: files first, then directories deepest first.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use comet_storage::{ErrorKind as StorageErrorKind, ObjectKey};
use futures::{StreamExt, TryStreamExt};

use super::{BlobSource, IndexedRepository};
use crate::blob::BlobOpener;
use crate::error::{Error, Result};
use crate::fs::restore as fsr;
use crate::id::{BlobId, BlobKind, PackId, TreeId};
use crate::snapshot::Snapshot;
use crate::tree::{Node, NodeKind, Tree};

/// Pack ranges fetched and opened at the same time: one being read while others are opened and
/// written, on two cores.
const PACKS_IN_FLIGHT: usize = 3;

/// Largest range of a pack read at once (a chunk larger than this is read alone).
const READ_SPAN: u64 = 4 << 20;

/// Options of a restore.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct RestoreOptions {
    /// Directory to restore into (created if missing).
    pub target: PathBuf,
    /// Restore only these paths of the snapshot (and what is under them); empty = everything.
    pub include: Vec<PathBuf>,
    /// Live counters for a progress display.
    pub progress: Option<Arc<RestoreProgress>>,
}

impl RestoreOptions {
    /// Restore everything into `target`.
    pub fn new(target: impl Into<PathBuf>) -> Self {
        Self { target: target.into(), ..Self::default() }
    }

    /// Restore only `path` (a path inside the snapshot, as `ls` shows it).
    #[must_use]
    pub fn include(mut self, path: impl Into<PathBuf>) -> Self {
        self.include.push(path.into());
        self
    }

    /// Sets a progress sink.
    #[must_use]
    pub fn progress(mut self, progress: Arc<RestoreProgress>) -> Self {
        self.progress = Some(progress);
        self
    }
}

/// Live counters of a running restore.
#[derive(Debug, Default)]
pub struct RestoreProgress {
    /// Bytes of file contents to restore.
    pub bytes_total: AtomicU64,
    /// Bytes restored so far.
    pub bytes_done: AtomicU64,
}

/// What a restore did.
#[derive(Debug, Default)]
pub struct RestoreOutcome {
    /// Regular files restored.
    pub files: u64,
    /// Directories restored.
    pub dirs: u64,
    /// Other entries restored.
    pub others: u64,
    /// Bytes of file contents.
    pub bytes: u64,
    /// Problems that did not stop the restore.
    pub warnings: Vec<String>,
    /// Files and directories restored incompletely because their data is lost or damaged in
    /// the vault (each also has a warning saying why). Everything else was restored.
    pub incomplete: Vec<PathBuf>,
}

/// One chunk to place: where it is stored and where it goes.
#[derive(Debug, Clone)]
struct ChunkJob {
    id: BlobId,
    offset: u32,
    length: u32,
    raw_length: u32,
    targets: Vec<(u32, u64)>,
}

/// Includes as component lists.
fn include_lists(include: &[PathBuf]) -> Vec<Vec<Vec<u8>>> {
    use std::os::unix::ffi::OsStrExt;
    include
        .iter()
        .map(|p| {
            p.components()
                .filter_map(|c| match c {
                    std::path::Component::Normal(n) => Some(n.as_bytes().to_vec()),
                    _ => None,
                })
                .collect()
        })
        .collect()
}

/// Whether a node at `path` is wanted: `Some(true)` whole, `Some(false)` only as an ancestor
/// of something wanted, `None` not at all.
fn wanted(includes: &[Vec<Vec<u8>>], path: &[Vec<u8>]) -> Option<bool> {
    if includes.is_empty() {
        return Some(true);
    }
    let mut ancestor = false;
    for inc in includes {
        if path.starts_with(inc) {
            return Some(true);
        }
        if inc.starts_with(path) {
            ancestor = true;
        }
    }
    ancestor.then_some(false)
}

impl IndexedRepository {
    /// Restores `snapshot` as `options` say.
    pub async fn restore(&self, snapshot: &Snapshot, options: &RestoreOptions) -> Result<RestoreOutcome> {
        let includes = include_lists(&options.include);
        let (trees, lost_trees) = self.collect_trees(&snapshot.tree, &includes).await?;
        let target = options.target.clone();
        let root = snapshot.tree;
        // Phase 2: the skeleton.
        let skeleton = tokio::task::spawn_blocking(move || {
            let mut s = Skeleton { lost_trees, ..Skeleton::default() };
            std::fs::create_dir_all(&target).map_err(|e| Error::io(&target, e))?;
            s.dir(&trees, &root, &target, &mut Vec::new(), &includes)?;
            Ok::<_, Error>(s)
        })
        .await
        .expect("restore skeleton does not panic")?;
        let Skeleton { files, file_nodes, dir_nodes, mut outcome, contents, .. } = skeleton;

        // Phase 3: the contents, pack by pack.
        let mut plan: BTreeMap<PackId, HashMap<BlobId, ChunkJob>> = BTreeMap::new();
        let mut damaged: BTreeMap<u32, String> = BTreeMap::new();
        for (file, content) in contents {
            let mut offset = 0u64;
            for id in content {
                let Some(loc) = self.index.get(BlobKind::Data, &id) else {
                    // Where later chunks go depends on this one's length: the file stops here.
                    damaged.entry(file).or_insert_with(|| format!("data blob {} is in no index", id.short()));
                    break;
                };
                plan.entry(loc.pack)
                    .or_default()
                    .entry(id)
                    .or_insert_with(|| ChunkJob {
                        id,
                        offset: loc.offset,
                        length: loc.length,
                        raw_length: loc.raw_length,
                        targets: Vec::new(),
                    })
                    .targets
                    .push((file, offset));
                offset += u64::from(loc.raw_length);
            }
        }
        let progress = options.progress.clone().unwrap_or_default();
        progress.bytes_total.store(outcome.bytes, Ordering::Relaxed);
        let files = Arc::new(files);
        let source = self.blob_source();
        // Each pack is read in ranges of at most READ_SPAN bytes: one request per range, and
        // memory bounded by READ_SPAN × PACKS_IN_FLIGHT whatever the pack size.
        let reads = plan.into_iter().flat_map(|(pack, jobs)| {
            let mut jobs: Vec<ChunkJob> = jobs.into_values().collect();
            jobs.sort_by_key(|j| j.offset);
            let mut groups: Vec<(PackId, Vec<ChunkJob>)> = Vec::new();
            let mut span_start = 0u64;
            for job in jobs {
                let job_end = u64::from(job.offset) + u64::from(job.length);
                match groups.last_mut() {
                    Some((_, group)) if job_end - span_start <= READ_SPAN => group.push(job),
                    _ => {
                        span_start = u64::from(job.offset);
                        groups.push((pack, vec![job]));
                    }
                }
            }
            groups
        });
        let failed = futures::stream::iter(reads)
            .map(|(pack, jobs)| {
                let files = files.clone();
                let source = source.clone();
                let progress = progress.clone();
                async move { restore_pack(source, pack, jobs, files, progress).await }
            })
            .buffer_unordered(PACKS_IN_FLIGHT)
            .try_collect::<Vec<Vec<(u32, String)>>>()
            .await?;
        for (file, reason) in failed.into_iter().flatten() {
            damaged.entry(file).or_insert(reason);
        }
        for (file, reason) in damaged {
            let path = &files[file as usize];
            outcome.warnings.push(format!("{}: incomplete: {reason}", path.display()));
            outcome.incomplete.push(path.clone());
        }

        // Phase 4: metadata.
        let warnings = tokio::task::spawn_blocking(move || {
            let mut warnings = Vec::new();
            // Directories were listed after their contents (post-order): deepest first, so setting a
            // child never changes a parent already done.
            for (path, node) in file_nodes.iter().chain(dir_nodes.iter()) {
                warnings.extend(fsr::apply_metadata(path, node));
            }
            warnings
        })
        .await
        .expect("metadata phase does not panic");
        outcome.warnings.extend(warnings);
        Ok(outcome)
    }

    /// Reads every tree under `root` that the includes need.
    /// Trees that cannot be read (other than the root) are returned apart, with the reason.
    async fn collect_trees(
        &self,
        root: &TreeId,
        includes: &[Vec<Vec<u8>>],
    ) -> Result<(HashMap<TreeId, Tree>, HashMap<TreeId, String>)> {
        let mut trees = HashMap::new();
        let mut lost = HashMap::new();
        let mut queue = vec![(*root, Vec::<Vec<u8>>::new())];
        while let Some((id, path)) = queue.pop() {
            if trees.contains_key(&id) && includes.is_empty() {
                continue;
            }
            let tree = match trees.get(&id) {
                Some(t) => Tree::clone(t),
                None => match self.read_tree(&id).await {
                    Ok(tree) => tree,
                    // The root is needed; a lost or damaged subtree costs only its directory's
                    // contents. (Hostile names stop the restore: that is an attack, not damage.)
                    Err(e) if id != *root && e.is_data_loss() => {
                        lost.insert(id, e.to_string());
                        continue;
                    }
                    Err(e) => return Err(e),
                },
            };
            for node in &tree.nodes {
                let mut child = path.clone();
                child.push(node.name.clone());
                if let (Some(_), Some(sub)) = (wanted(includes, &child), node.subtree) {
                    queue.push((sub, child));
                }
            }
            trees.insert(id, tree);
        }
        Ok((trees, lost))
    }
}

#[derive(Default)]
struct Skeleton {
    files: Vec<PathBuf>,
    contents: Vec<(u32, Vec<BlobId>)>,
    file_nodes: Vec<(PathBuf, Node)>,
    dir_nodes: Vec<(PathBuf, Node)>,
    hardlinks: HashMap<(u64, u64), PathBuf>,
    outcome: RestoreOutcome,
    /// Trees that could not be read, with the reason: their directories stay empty.
    lost_trees: HashMap<TreeId, String>,
}

impl Skeleton {
    fn dir(
        &mut self,
        trees: &HashMap<TreeId, Tree>,
        id: &TreeId,
        dir: &Path,
        path: &mut Vec<Vec<u8>>,
        includes: &[Vec<Vec<u8>>],
    ) -> Result<()> {
        let Some(tree) = trees.get(id) else {
            if let Some(reason) = self.lost_trees.get(id) {
                self.outcome.warnings.push(format!("{}: incomplete: directory contents lost: {reason}", dir.display()));
                self.outcome.incomplete.push(dir.to_path_buf());
                return Ok(());
            }
            return Err(Error::MissingBlob { id: id.to_hex() });
        };
        for node in &tree.nodes {
            path.push(node.name.clone());
            if let Some(whole) = wanted(includes, path) {
                let target = dir.join(OsStr::from_bytes(&node.name));
                self.node(trees, node, &target, path, includes, whole)?;
            }
            path.pop();
        }
        Ok(())
    }

    fn node(
        &mut self,
        trees: &HashMap<TreeId, Tree>,
        node: &Node,
        target: &Path,
        path: &mut Vec<Vec<u8>>,
        includes: &[Vec<Vec<u8>>],
        whole: bool,
    ) -> Result<()> {
        let io = |e| Error::io(target, e);
        match node.kind {
            NodeKind::Dir => {
                fsr::ensure_dir(target).map_err(io)?;
                if let Some(sub) = &node.subtree {
                    self.dir(trees, sub, target, path, includes)?;
                }
                self.dir_nodes.push((target.to_path_buf(), node.clone()));
                self.outcome.dirs += 1;
            }
            _ if !whole => {}
            NodeKind::File => {
                if node.is_hardlinked()
                    && let Some(first) = self.hardlinks.get(&(node.device, node.inode))
                {
                    fsr::remove_non_dir(target).map_err(io)?;
                    std::fs::hard_link(first, target).map_err(io)?;
                    self.outcome.files += 1;
                    return Ok(());
                }
                fsr::create_file(target, node.size).map_err(io)?;
                if node.is_hardlinked() {
                    self.hardlinks.insert((node.device, node.inode), target.to_path_buf());
                }
                if !node.content.is_empty() {
                    let n =
                        u32::try_from(self.files.len()).map_err(|_| Error::InvalidOption("too many files".into()))?;
                    self.files.push(target.to_path_buf());
                    self.contents.push((n, node.content.clone()));
                }
                self.file_nodes.push((target.to_path_buf(), node.clone()));
                self.outcome.files += 1;
                self.outcome.bytes += node.size;
            }
            _ => match fsr::create_special(target, node) {
                Ok(true) => {
                    self.file_nodes.push((target.to_path_buf(), node.clone()));
                    self.outcome.others += 1;
                }
                Ok(false) => {}
                Err(e) => self.outcome.warnings.push(format!("{}: {e}", target.display())),
            },
        }
        Ok(())
    }
}

async fn restore_pack(
    source: BlobSource,
    pack: PackId,
    jobs: Vec<ChunkJob>,
    files: Arc<Vec<PathBuf>>,
    progress: Arc<RestoreProgress>,
) -> Result<Vec<(u32, String)>> {
    let start = u64::from(jobs[0].offset);
    let end = jobs.iter().map(|j| u64::from(j.offset) + u64::from(j.length)).max().unwrap_or(start);
    let key = ObjectKey::pack(pack);
    let all_failed = |jobs: &[ChunkJob], reason: String| {
        jobs.iter().flat_map(|j| j.targets.iter().map(|&(file, _)| (file, reason.clone()))).collect::<Vec<_>>()
    };
    let bytes = match source.vault.get_range(&key, start..end).await {
        Ok(bytes) => bytes,
        // Damaged or missing data costs the files that need it, not the whole restore.
        Err(e) if matches!(e.kind(), StorageErrorKind::NotFound | StorageErrorKind::Invalid) => {
            return Ok(all_failed(&jobs, format!("{}: {e}", key.path())));
        }
        Err(e) => return Err(e.into()),
    };
    tokio::task::spawn_blocking(move || {
        // Blobs are decrypted in place in the fetched range; without a copy when the vault
        // handed over the only reference.
        let mut bytes = bytes.try_into_mut().unwrap_or_else(|shared| bytes::BytesMut::from(&shared[..]));
        let mut opener = BlobOpener::new();
        let (master, cipher) = source.keys();
        let mut failed = Vec::new();
        for job in &jobs {
            let from = (u64::from(job.offset) - start) as usize;
            let Some(stored) = bytes.get_mut(from..from + job.length as usize) else {
                failed.extend(all_failed(std::slice::from_ref(job), format!("{}: short read", key.path())));
                continue;
            };
            let plain = match opener.open(master, cipher, BlobKind::Data, &job.id, job.raw_length, stored) {
                Ok(plain) => plain,
                Err(e) => {
                    let reason = format!("data blob {} in {} is corrupted: {e}", job.id.short(), key.path());
                    failed.extend(all_failed(std::slice::from_ref(job), reason));
                    continue;
                }
            };
            let zeros = plain.iter().all(|&b| b == 0);
            for &(file, offset) in &job.targets {
                if !zeros {
                    let path = &files[file as usize];
                    let f = fsr::open_for_contents(path).map_err(|e| Error::io(path, e))?;
                    f.write_all_at(plain, offset).map_err(|e| Error::io(path, e))?;
                }
                progress.bytes_done.fetch_add(plain.len() as u64, Ordering::Relaxed);
            }
        }
        Ok(failed)
    })
    .await
    .expect("restore worker does not panic")
}
