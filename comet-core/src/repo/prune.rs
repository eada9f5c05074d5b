//! Prune: give back the space of data no snapshot needs, without ever blocking a backup.
//!
//! Deletion is two-phase. A prune *marks* packs that hold nothing any snapshot uses (recorded in
//! the index files it writes, with a time stamp); a later prune deletes a marked pack only when
//! it is still unused and its mark is older than both the grace period and the oldest live
//! writer session (minus an allowance for clock skew). In between, backups never deduplicate
//! against a marked pack, and a marked pack that a snapshot uses again (a backup that started
//! before the mark referred to it) is revived.
//!
//! Why this is safe: a backup could only have referred to a marked pack if it loaded the index
//! before the mark was visible, so it started before the mark's stamp (stamps are set to a time
//! by which the index file carrying them is certainly written). While it runs, its session
//! keeps the cutoff below the stamp; once it has ended, its snapshot and index files exist, and
//! the prune reads them because it lists sessions first, then snapshots, then index files.
//! Writers whose heartbeat is too old refuse to write (see `session`), so a session a prune
//! treats as gone writes nothing afterwards.
//!
//! Steps, each safe to interrupt: (1) repacked packs are uploaded, (2) new index files are
//! written, (3) the index files read at the start are deleted, (4) packs whose marks matured
//! are deleted, (5) stale session objects are removed. Only one prune runs at a time: a second
//! one sees the first one's live session and stops.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use comet_storage::{ObjectKey, ObjectKind};

use super::session::{self, SeenSession, Session, SessionKind};
use super::{Repository, get_hashed, put_object};
use crate::clock::duration_ns;
use crate::error::{Error, Result, object_name};
use crate::id::{BlobId, BlobKind, PackId, TreeId};
use crate::index::{Index, IndexFile, IndexPack};
use crate::pack::{self, PackBlob, PackWriter};
use crate::tree::NodeKind;

/// Most blobs listed in one index file written by prune.
const MAX_INDEX_BLOBS: usize = 200_000;

/// Options of [`Repository::prune`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PruneOptions {
    /// How long a pack stays marked before it may be deleted (default 24 h).
    pub grace: Duration,
    /// A pack with more than this fraction of unused bytes is repacked (default 0.05).
    pub max_unused: f64,
    /// Stop repacking after this many bytes of packs per run (default: no bound).
    pub max_repack: Option<u64>,
    /// Plan and report only; change nothing.
    pub dry_run: bool,
    /// Marks are stamped this far ahead of the time their index file is started; if writing
    /// the index takes longer, the marks are withdrawn (default 10 min).
    pub mark_write_limit: Duration,
    /// How far the clocks of the machines sharing the vault may disagree (default 5 min).
    pub clock_skew: Duration,
}

impl Default for PruneOptions {
    fn default() -> Self {
        Self {
            grace: Duration::from_secs(24 * 3600),
            max_unused: 0.05,
            max_repack: None,
            dry_run: false,
            mark_write_limit: Duration::from_secs(600),
            clock_skew: Duration::from_secs(300),
        }
    }
}

impl PruneOptions {
    /// Sets the grace period.
    #[must_use]
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Sets the unused fraction above which a pack is repacked.
    #[must_use]
    pub fn max_unused(mut self, fraction: f64) -> Self {
        self.max_unused = fraction;
        self
    }

    /// Bounds the bytes of packs repacked per run.
    #[must_use]
    pub fn max_repack(mut self, bytes: Option<u64>) -> Self {
        self.max_repack = bytes;
        self
    }

    /// Plans only.
    #[must_use]
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Sets the clock-skew allowance.
    #[must_use]
    pub fn clock_skew(mut self, skew: Duration) -> Self {
        self.clock_skew = skew;
        self
    }

    /// Sets the time allowed for writing the index that carries new marks.
    #[must_use]
    pub fn mark_write_limit(mut self, limit: Duration) -> Self {
        self.mark_write_limit = limit;
        self
    }
}

/// A count of packs and their stored bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PackCount {
    /// Packs.
    pub packs: u64,
    /// Their stored bytes.
    pub bytes: u64,
}

impl PackCount {
    fn add(&mut self, bytes: u64) {
        self.packs += 1;
        self.bytes += bytes;
    }
}

/// What a prune found and did.
#[derive(Clone, Debug, Default, serde::Serialize)]
#[non_exhaustive]
pub struct PruneReport {
    /// Whether this was a dry run (nothing changed).
    pub dry_run: bool,
    /// Snapshots whose data was kept.
    pub snapshots: usize,
    /// Blobs snapshots use, and their stored bytes.
    pub used_blobs: u64,
    /// Stored bytes of the used blobs.
    pub used_bytes: u64,
    /// Packs in the vault before the prune.
    pub total: PackCount,
    /// Packs kept as they are.
    pub kept: PackCount,
    /// Packs newly marked for deletion.
    pub marked: PackCount,
    /// Marked packs used again, now live.
    pub revived: PackCount,
    /// Marked packs waiting for the grace period or a live session.
    pub waiting: PackCount,
    /// Packs deleted.
    pub deleted: PackCount,
    /// Packs rewritten (their used blobs copied to new packs, the old ones marked).
    pub repacked: PackCount,
    /// New packs written by repacking.
    pub written: PackCount,
    /// Packs in no index file found and marked (left by writers that died).
    pub unindexed_marked: PackCount,
    /// Packs in no index file left alone because a live writer may still index them.
    pub unindexed_left: PackCount,
    /// Indexed packs already gone from the vault that nothing uses (dropped from the index).
    pub missing_unused: u64,
    /// Packs that could not be repacked (damaged), left as they are.
    pub repack_failed: Vec<String>,
    /// Index files written and removed.
    pub index_files_written: usize,
    /// Index files removed.
    pub index_files_removed: usize,
    /// Stale session objects removed.
    pub sessions_removed: usize,
    /// Live writer sessions seen (they hold back deletions).
    pub live_sessions: usize,
}

/// What happens to one indexed pack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    Keep,
    Revive,
    Mark,
    KeepMarked(i64),
    Delete,
    Repack,
    /// Gone from the vault and unused: leave it out of the new index.
    Drop,
}

/// A fixed-size bit set over blob positions.
struct BitSet(Vec<u64>);

impl BitSet {
    fn new(len: usize) -> Self {
        Self(vec![0; len.div_ceil(64)])
    }
    /// Sets bit `i`; returns whether it was already set.
    fn set(&mut self, i: usize) -> bool {
        let (word, bit) = (i / 64, 1u64 << (i % 64));
        let was = self.0[word] & bit != 0;
        self.0[word] |= bit;
        was
    }
    fn get(&self, i: usize) -> bool {
        self.0[i / 64] & (1u64 << (i % 64)) != 0
    }
}

/// Blobs that snapshots use, as bit sets over the index's blob positions.
pub(crate) struct UsedBlobs {
    data: BitSet,
    tree: BitSet,
}

impl UsedBlobs {
    fn bits(&self, kind: BlobKind) -> &BitSet {
        match kind {
            BlobKind::Data => &self.data,
            BlobKind::Tree => &self.tree,
        }
    }
}

impl Repository {
    /// Removes data no snapshot uses, in two phases (see the module documentation). Runs
    /// alongside backups from any number of processes or machines; refuses to run alongside
    /// another prune.
    pub async fn prune(&self, options: &PruneOptions) -> Result<PruneReport> {
        if !(0.0..=1.0).contains(&options.max_unused) {
            return Err(Error::InvalidOption("max-unused must be between 0% and 100%".into()));
        }
        let session = Session::start(&self.vault, &self.cipher, &self.clock, self.sessions, SessionKind::Prune).await?;
        let result = self.prune_in_session(options, &session).await;
        session.end(&self.vault).await;
        result
    }

    async fn prune_in_session(&self, options: &PruneOptions, session: &Session) -> Result<PruneReport> {
        let vault = &self.vault;
        let mut report = PruneReport { dry_run: options.dry_run, ..PruneReport::default() };
        let started_at = std::time::Instant::now();

        // 1. Sessions first: everything a session that ends after this point writes is read below.
        let now = self.clock.now_ns();
        let others = session::other_sessions(vault, &self.cipher, session, now).await?;
        if let Some(other) = others.iter().find(|s| !s.stale && s.is_prune()) {
            let (host, started) = other.info.as_ref().map_or(("?".into(), 0), |i| (i.hostname.clone(), i.start_ns));
            return Err(Error::Busy(format!(
                "another prune is running (host {host}, started {} UTC); try again when it has finished",
                crate::snapshot::format_time(started)
            )));
        }
        let live: Vec<&SeenSession> = others.iter().filter(|s| !s.stale).collect();
        report.live_sessions = live.len();
        let grace_cutoff = now.saturating_sub(duration_ns(options.grace));
        let cutoff = live
            .iter()
            // An unreadable live session protects everything.
            .map(|s| s.start_ns().map_or(i64::MIN, |t| t.saturating_sub(duration_ns(options.clock_skew))))
            .fold(grace_cutoff, i64::min);

        // 2. Snapshots, then the index, then the packs as stored.
        let snapshots = self.snapshots().await?;
        report.snapshots = snapshots.len();
        let (index, index_files) = self.read_index().await?;
        tracing::debug!("prune: index of {} packs loaded in {:?}", index.pack_count(), started_at.elapsed());
        let listed_packs = vault.list(ObjectKind::Pack).await?;
        let stored: HashMap<PackId, u64> = listed_packs.iter().map(|m| (m.key.id(), m.size)).collect();

        // 3. Mark what snapshots use.
        let roots: Vec<TreeId> = snapshots.iter().map(|(_, s)| s.tree).collect();
        let used = self.used_blobs(&index, &roots).await?;
        tracing::debug!("prune: used blobs marked in {:?}", started_at.elapsed());

        // 4. Decide the fate of every pack.
        let packs = index.pack_count();
        let mut used_bytes = vec![0u64; packs];
        let mut used_count = vec![0u32; packs];
        let mut blob_count = vec![0u32; packs];
        // Where the blobs of each pack end: what follows is its header, which is not waste.
        let mut blobs_end = vec![0u64; packs];
        for kind in [BlobKind::Data, BlobKind::Tree] {
            let bits = used.bits(kind);
            for (pos, e) in index.entries(kind).enumerate() {
                blob_count[e.pack as usize] += 1;
                let end = &mut blobs_end[e.pack as usize];
                *end = (*end).max(u64::from(e.offset) + u64::from(e.length));
                if bits.get(pos) {
                    used_bytes[e.pack as usize] += u64::from(e.length);
                    used_count[e.pack as usize] += 1;
                    report.used_blobs += 1;
                    report.used_bytes += u64::from(e.length);
                }
            }
        }
        let mut fates = vec![Fate::Keep; packs];
        let mut repack_budget = options.max_repack.unwrap_or(u64::MAX);
        // Most wasteful packs are repacked first when the budget is bounded.
        let mut order: Vec<usize> = (0..packs).collect();
        order.sort_by_key(|&p| std::cmp::Reverse(blobs_end[p].saturating_sub(used_bytes[p])));
        for p in order {
            let id = index.pack(p as u32);
            let mark = index.marked_ns(p as u32);
            let Some(&size) = stored.get(&id) else {
                if used_count[p] > 0 {
                    return Err(Error::Damaged(format!(
                        "pack {} is missing, yet snapshots use {} of its blobs: run `check`, then `repair snapshots`",
                        id.short(),
                        used_count[p]
                    )));
                }
                fates[p] = Fate::Drop;
                report.missing_unused += 1;
                continue;
            };
            report.total.add(size);
            fates[p] = if used_count[p] == 0 {
                match mark {
                    None => Fate::Mark,
                    Some(t) if t < cutoff => Fate::Delete,
                    Some(t) => Fate::KeepMarked(t),
                }
            } else {
                let unused = blobs_end[p].saturating_sub(used_bytes[p]);
                if unused as f64 > options.max_unused * blobs_end[p] as f64 && size <= repack_budget {
                    repack_budget -= size;
                    Fate::Repack
                } else if mark.is_some() {
                    Fate::Revive
                } else {
                    Fate::Keep
                }
            };
            tracing::debug!(
                "pack {}: {:?} ({} of {} blobs used, mark {mark:?}, cutoff {cutoff})",
                id.short(),
                fates[p],
                used_count[p],
                blob_count[p]
            );
            match fates[p] {
                Fate::Keep => report.kept.add(size),
                Fate::Revive => report.revived.add(size),
                Fate::Mark => report.marked.add(size),
                Fate::KeepMarked(_) => report.waiting.add(size),
                Fate::Delete => report.deleted.add(size),
                Fate::Repack => report.repacked.add(size),
                Fate::Drop => {}
            }
        }

        // Packs in no index: left by writers that died, or being written by a live one. Marking
        // them is always safe (a snapshot using them revives them); it is done only when no
        // writer could still index them, to avoid needless revivals.
        let old_enough = |meta_age: Option<i64>| meta_age.is_some_and(|age| age > duration_ns(self.sessions.expiry));
        let mut unindexed = Vec::new();
        for meta in listed_packs {
            let id = meta.key.id();
            if index.has_pack(&id) {
                continue;
            }
            let age = meta.last_modified.and_then(|t| t.elapsed().ok()).map(duration_ns);
            if live.is_empty() || old_enough(age) {
                report.total.add(meta.size);
                report.unindexed_marked.add(meta.size);
                unindexed.push(meta);
            } else {
                report.unindexed_left.add(meta.size);
            }
        }
        tracing::debug!("prune: plan made in {:?}", started_at.elapsed());
        if options.dry_run {
            return Ok(report);
        }

        // 5. Repack: used blobs of wasteful packs are copied, still encrypted, into new packs.
        let mut new_packs = Vec::new();
        let to_repack: Vec<u32> = (0..packs as u32).filter(|&p| fates[p as usize] == Fate::Repack).collect();
        if !to_repack.is_empty() {
            let failed = self.repack(&index, &used, &to_repack, &mut new_packs).await?;
            for p in failed {
                report.repack_failed.push(index.pack(p).to_hex());
                let size = stored[&index.pack(p)];
                report.repacked.packs -= 1;
                report.repacked.bytes -= size;
                fates[p as usize] = if index.marked_ns(p).is_some() { Fate::Revive } else { Fate::Keep };
                if fates[p as usize] == Fate::Revive { report.revived.add(size) } else { report.kept.add(size) }
            }
            for p in &new_packs {
                report.written.add(p.1);
            }
        }

        // 6. The new index: every pack but the deleted ones, marks stamped ahead.
        let started = self.clock.now_ns();
        let stamp = started.saturating_add(duration_ns(options.mark_write_limit));
        let mut written = Vec::new();
        let mut batch: Vec<IndexPack> = new_packs.into_iter().map(|(p, _)| p).collect();
        let mut batch_blobs: usize = batch.iter().map(|p| p.blobs.len()).sum();
        for meta in unindexed {
            let blobs = match session::read_pack_header(vault, &self.cipher, &meta.key, meta.size).await {
                Ok(blobs) => blobs,
                Err(e) => {
                    tracing::warn!("marking damaged unindexed pack {}: {e}", meta.key);
                    Vec::new()
                }
            };
            batch_blobs += blobs.len();
            batch.push(IndexPack { id: meta.key.id(), blobs, marked_ns: Some(stamp) });
            if batch_blobs >= MAX_INDEX_BLOBS {
                written.push(self.write_index_file(std::mem::take(&mut batch), session).await?);
                batch_blobs = 0;
            }
        }
        let mut start = 0u32;
        while (start as usize) < packs {
            // Packs whose blobs fit one file, taken in one pass over the index.
            let mut end = start;
            let mut blobs = 0usize;
            while (end as usize) < packs
                && (end == start || blobs + (blob_count[end as usize] as usize) <= MAX_INDEX_BLOBS)
            {
                blobs += blob_count[end as usize] as usize;
                end += 1;
            }
            for (offset, pack_blobs) in index.blobs_of_packs(start..end).into_iter().enumerate() {
                let p = start as usize + offset;
                let marked_ns = match fates[p] {
                    Fate::Keep | Fate::Revive => None,
                    Fate::KeepMarked(t) => Some(t),
                    Fate::Mark | Fate::Repack => Some(stamp),
                    Fate::Delete | Fate::Drop => continue,
                };
                batch_blobs += pack_blobs.len();
                batch.push(IndexPack { id: index.pack(p as u32), blobs: pack_blobs, marked_ns });
                if batch_blobs >= MAX_INDEX_BLOBS {
                    written.push(self.write_index_file(std::mem::take(&mut batch), session).await?);
                    batch_blobs = 0;
                }
            }
            start = end;
        }
        if !batch.is_empty() {
            written.push(self.write_index_file(batch, session).await?);
        }
        if self.clock.now_ns() > stamp {
            // A backup may have loaded the index before these marks became visible yet after
            // the stamp: withdraw them (the old index files stay; nothing is lost).
            for key in &written {
                let _ = vault.delete(key).await;
            }
            return Err(Error::Busy(format!(
                "writing the index took longer than {:?}; marks withdrawn, nothing deleted: run prune again",
                options.mark_write_limit
            )));
        }
        report.index_files_written = written.len();

        // 7. The index files read at the start are now superseded.
        let superseded: Vec<ObjectKey> = index_files.iter().map(|id| ObjectKey::new(ObjectKind::Index, *id)).collect();
        report.index_files_removed = self.remove_index_files(superseded, &written).await?;

        // 8. Matured marks: delete the packs (no index file lists them any more).
        session.check_fresh()?;
        for (p, fate) in fates.iter().enumerate() {
            if *fate == Fate::Delete {
                match vault.delete(&ObjectKey::pack(index.pack(p as u32))).await {
                    Ok(()) => {}
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }

        // 9. Sessions of writers that are gone.
        let stale: Vec<SeenSession> = others.into_iter().filter(|s| s.stale).collect();
        report.sessions_removed = stale.iter().map(|s| s.keys.len()).sum();
        session::remove_stale(vault, &stale).await;
        Ok(report)
    }

    /// Deletes the index files `old` but those in `kept` (just written with the same bytes),
    /// and their cached copies. Returns how many were deleted (prune, repair).
    pub(crate) async fn remove_index_files(
        &self,
        old: impl IntoIterator<Item = ObjectKey>,
        kept: &[ObjectKey],
    ) -> Result<usize> {
        let mut removed = 0;
        for key in old.into_iter().filter(|k| !kept.contains(k)) {
            match self.vault.delete(&key).await {
                Ok(()) => removed += 1,
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
            self.forget_cached(&key);
        }
        Ok(removed)
    }

    /// Writes one index file, if the session is still fresh (prune, repair).
    pub(crate) async fn write_index_file(&self, packs: Vec<IndexPack>, session: &Session) -> Result<ObjectKey> {
        session.check_fresh()?;
        let file = IndexFile::new(packs);
        let id = put_object(&self.vault, ObjectKind::Index, Bytes::from(file.seal(&self.cipher))).await?;
        Ok(ObjectKey::new(ObjectKind::Index, id))
    }

    /// Walks every tree under `roots` once and marks the blobs used. A blob missing from the
    /// index is damage: prune stops rather than guess.
    pub(crate) async fn used_blobs(&self, index: &Index, roots: &[TreeId]) -> Result<UsedBlobs> {
        let mut used = UsedBlobs {
            data: BitSet::new(index.blob_count(BlobKind::Data)),
            tree: BitSet::new(index.blob_count(BlobKind::Tree)),
        };
        let source = self.blob_source();
        let missing = |kind: &str, id: &BlobId| {
            Error::Damaged(format!(
                "{kind} blob {} is used by a snapshot but in no index: run `check`, then `repair index` or `repair snapshots`",
                id.short()
            ))
        };
        let mut stack: Vec<TreeId> = roots.to_vec();
        let mut reading = std::time::Duration::ZERO;
        while let Some(id) = stack.pop() {
            let pos = index.position(BlobKind::Tree, &id).ok_or_else(|| missing("tree", &id))?;
            if used.tree.set(pos) {
                continue;
            }
            let t0 = std::time::Instant::now();
            let tree = source.read_tree(index, &id).await?;
            reading += t0.elapsed();
            for node in &tree.nodes {
                match node.kind {
                    NodeKind::File => {
                        for c in &node.content {
                            let pos = index.position(BlobKind::Data, c).ok_or_else(|| missing("data", c))?;
                            used.data.set(pos);
                        }
                    }
                    NodeKind::Dir => stack.extend(node.subtree),
                    _ => {}
                }
            }
        }
        tracing::debug!("prune: {reading:?} spent reading trees");
        Ok(used)
    }

    /// Copies the used blobs of `packs` into new packs. Returns the packs that could not be
    /// read (left as they are); the new packs go to `out` with their sizes.
    async fn repack(
        &self,
        index: &Index,
        used: &UsedBlobs,
        packs: &[u32],
        out: &mut Vec<(IndexPack, u64)>,
    ) -> Result<Vec<u32>> {
        let source = self.blob_source();
        let capacity = self.config.pack_size as usize;
        let mut writers: HashMap<BlobKind, PackWriter> = HashMap::new();
        let mut failed = Vec::new();
        for &p in packs {
            let id = index.pack(p);
            let key = ObjectKey::pack(id);
            let bytes = match get_hashed(&self.vault, &key).await {
                Ok(bytes) => bytes,
                Err(e) => {
                    tracing::warn!("not repacking {}: {e}", object_name(&key));
                    failed.push(p);
                    continue;
                }
            };
            let header = match pack::read_header(&self.cipher, &bytes) {
                Ok(h) => h,
                Err(reason) => {
                    tracing::warn!("not repacking {}: {reason}", object_name(&key));
                    failed.push(p);
                    continue;
                }
            };
            let mut copies: Vec<(&PackBlob, &[u8])> = Vec::new();
            let mut damaged = false;
            for b in &header.blobs {
                // Only the copy the index points at, and only if used.
                let Some(pos) = index.position(b.kind, &b.id) else { continue };
                let entry = index.entry_at(b.kind, pos);
                if entry.pack != p || entry.offset != b.offset || !used.bits(b.kind).get(pos) {
                    continue;
                }
                let stored = &bytes[b.offset as usize..(b.offset + b.length) as usize];
                // Verified before it is copied: damage is never propagated.
                if let Err(e) = source.open(b.kind, &b.id, b.raw_length, stored, &key) {
                    tracing::warn!("not repacking {}: {e}", object_name(&key));
                    damaged = true;
                    break;
                }
                copies.push((b, stored));
            }
            if damaged {
                failed.push(p);
                continue;
            }
            for (b, stored) in copies {
                let writer = writers.entry(b.kind).or_insert_with(|| PackWriter::new(b.kind, capacity + (1 << 20)));
                writer.add(b.id, stored, b.raw_length);
                if writer.len() >= capacity {
                    let full = writers.remove(&b.kind).expect("present");
                    out.push(self.store_pack(full).await?);
                }
            }
        }
        for (_, writer) in writers {
            if !writer.is_empty() {
                out.push(self.store_pack(writer).await?);
            }
        }
        Ok(failed)
    }

    async fn store_pack(&self, writer: PackWriter) -> Result<(IndexPack, u64)> {
        let finished = writer.finish(&self.cipher);
        let size = finished.bytes.len() as u64;
        let id = put_object(&self.vault, ObjectKind::Pack, Bytes::from(finished.bytes)).await?;
        Ok((IndexPack::live(id, finished.blobs), size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_set() {
        let mut b = BitSet::new(130);
        assert!(!b.set(0));
        assert!(b.set(0));
        assert!(!b.set(129));
        assert!(b.get(129) && b.get(0) && !b.get(64));
    }

    #[test]
    fn default_options_match_the_documentation() {
        let o = PruneOptions::default();
        assert_eq!(o.grace, Duration::from_secs(86_400));
        assert!((o.max_unused - 0.05).abs() < f64::EPSILON);
        assert_eq!(o.max_repack, None);
    }
}
