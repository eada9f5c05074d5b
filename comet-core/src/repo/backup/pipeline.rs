//! The back half of a backup: seal (compress + encrypt) on worker threads, pack on one thread,
//! upload concurrently on the async runtime, write index files as packs land.
//!
//! ```text
//! walker ──SealJob──▶ sealers ×N ──Sealed──▶ packer ──FinishedPack──▶ uploader ──▶ Vault
//!   (bounded channels everywhere: a slow vault slows the walker, memory stays flat)
//! ```
//! Write order: a pack is recorded for an index file only once its put returned `Ok`, and the
//! index file is written after the packs it lists; the snapshot comes after the last index.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use comet_storage::{ObjectKind, Vault};
use crossbeam_channel::{Receiver, Sender};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::mpsc;

use crate::blob::BlobSealer;
use crate::crypto::{Cipher, MasterKey};
use crate::error::{Error, Result};
use crate::id::{BlobId, BlobKind, PackId};
use crate::index::{IndexFile, IndexPack};
use crate::pack::{FinishedPack, PackBlob, PackWriter};
use crate::repo::put_object;
use crate::repo::session::SessionGuard;

/// A blob for the sealers.
pub(crate) struct SealJob {
    pub(crate) kind: BlobKind,
    pub(crate) id: BlobId,
    pub(crate) plaintext: Vec<u8>,
}

struct Sealed {
    kind: BlobKind,
    id: BlobId,
    stored: Vec<u8>,
    raw_length: u32,
}

/// Packs uploaded concurrently. Two keep a local disk or a network link busy while a third is
/// being filled; each costs a pack of memory.
const UPLOADS_IN_FLIGHT: usize = 2;
/// Most blobs listed in one index file: keeps every index file far below the decoding limits
/// (an entry is ~50 bytes encoded) whatever the blob sizes.
const MAX_INDEX_BLOBS: usize = 200_000;

/// Most blobs in one pack: keeps its header (~50 bytes a blob) far below its 64 MiB limit
/// however small the blobs are.
const MAX_PACK_BLOBS: usize = 100_000;

/// Tries of a put that fails with a transient error.
const PUT_ATTEMPTS: u32 = 4;

/// Settings of the pipeline.
#[derive(Clone, Debug)]
pub(crate) struct PipelineConfig {
    pub(crate) sealers: usize,
    pub(crate) compression_level: i32,
    pub(crate) pack_size: usize,
    /// Write an index file after this many packs...
    pub(crate) flush_packs: usize,
    /// ...or when the oldest unindexed pack is this old.
    pub(crate) flush_interval: Duration,
    /// The writer's session: no index file is written once it may be considered gone.
    pub(crate) guard: Option<SessionGuard>,
}

/// Counters shared with the caller's progress display.
#[derive(Debug, Default)]
pub(crate) struct UploadCounters {
    pub(crate) packs: AtomicU64,
    pub(crate) bytes: AtomicU64,
}

/// What the uploads did.
#[derive(Debug, Default)]
pub(crate) struct UploadOutcome {
    pub(crate) packs: Vec<IndexPack>,
    pub(crate) bytes_stored: u64,
}

/// Spare buffers handed back by the stage that consumed them to the stage that fills them.
///
/// Recycling keeps the pipeline from allocating and freeing megabyte buffers across threads,
/// which makes glibc's malloc grow per-thread arenas (and peak memory) and serialises the
/// threads on `mmap`/`munmap`.
#[derive(Clone)]
pub(crate) struct BufferPool {
    tx: Sender<Vec<u8>>,
    rx: Receiver<Vec<u8>>,
}

impl BufferPool {
    fn new(capacity: usize) -> Self {
        let (tx, rx) = crossbeam_channel::bounded(capacity);
        Self { tx, rx }
    }

    /// A spare buffer, or a new empty one.
    pub(crate) fn take(&self) -> Vec<u8> {
        self.rx.try_recv().unwrap_or_default()
    }

    /// Gives a buffer back (dropped when the pool is full).
    pub(crate) fn give(&self, mut buf: Vec<u8>) {
        buf.clear();
        let _ = self.tx.try_send(buf);
    }
}

/// The running back half. Feed it with [`Pipeline::sender`], then [`Pipeline::finish`].
pub(crate) struct Pipeline {
    sender: Option<Sender<SealJob>>,
    chunk_buffers: BufferPool,
    threads: Vec<std::thread::JoinHandle<()>>,
    uploader: tokio::task::JoinHandle<Result<UploadOutcome>>,
}

impl Pipeline {
    /// Starts the sealer and packer threads and the upload task on `runtime`.
    pub(crate) fn start(
        runtime: &tokio::runtime::Handle,
        vault: Arc<dyn Vault>,
        key: &MasterKey,
        config: &PipelineConfig,
        counters: Arc<UploadCounters>,
    ) -> Self {
        // Queues are short: enough to keep every thread busy, small enough that memory stays flat
        // (chunks are up to 4 MiB, packs 16 MiB).
        let (seal_tx, seal_rx) = crossbeam_channel::bounded::<SealJob>(config.sealers * 2);
        let (pack_tx, pack_rx) = crossbeam_channel::bounded::<Sealed>(config.sealers * 2);
        let (upload_tx, upload_rx) = mpsc::channel::<FinishedPack>(1);
        // Every buffer in a queue or a stage can be a spare one.
        let chunk_buffers = BufferPool::new(config.sealers * 4 + 2);
        let sealed_buffers = BufferPool::new(config.sealers * 4 + 2);
        let pack_buffers = BufferPool::new(UPLOADS_IN_FLIGHT + 3);
        let mut threads = Vec::new();
        for n in 0..config.sealers {
            let rx = seal_rx.clone();
            let tx = pack_tx.clone();
            let sealer = BlobSealer::new(key.cipher(), config.compression_level);
            let pools = (chunk_buffers.clone(), sealed_buffers.clone());
            threads.push(
                std::thread::Builder::new()
                    .name(format!("comet-seal-{n}"))
                    .spawn(move || seal_loop(sealer, &rx, &tx, &pools.0, &pools.1))
                    .expect("spawning a thread"),
            );
        }
        drop(pack_tx);
        let cipher = key.cipher();
        let pack_size = config.pack_size;
        let pools = (sealed_buffers, pack_buffers.clone());
        threads.push(
            std::thread::Builder::new()
                .name("comet-pack".into())
                .spawn(move || pack_loop(&pack_rx, &upload_tx, &cipher, pack_size, &pools.0, &pools.1))
                .expect("spawning a thread"),
        );
        let uploader =
            runtime.spawn(upload_loop(vault, key.cipher(), upload_rx, config.clone(), counters, pack_buffers));
        Self { sender: Some(seal_tx), chunk_buffers, threads, uploader }
    }

    /// Spare buffers for the walker's chunk copies.
    pub(crate) fn chunk_buffers(&self) -> BufferPool {
        self.chunk_buffers.clone()
    }

    /// Where the walker sends new blobs.
    pub(crate) fn sender(&self) -> Sender<SealJob> {
        self.sender.clone().expect("pipeline not finished")
    }

    /// Closes the input, waits for every pack and index file to be stored.
    pub(crate) async fn finish(mut self) -> Result<UploadOutcome> {
        drop(self.sender.take());
        let threads = std::mem::take(&mut self.threads);
        let joined =
            tokio::task::spawn_blocking(move || threads.into_iter().all(|t| t.join().is_ok())).await.unwrap_or(false);
        let outcome =
            (&mut self.uploader).await.map_err(|e| Error::InvalidOption(format!("upload task failed: {e}")))?;
        assert!(joined, "a sealer or packer thread panicked");
        outcome
    }

    /// Stops after an error elsewhere: closes the input and waits; returns the uploader's own
    /// error if it had one (it is usually the cause).
    pub(crate) async fn abort(self) -> Option<Error> {
        self.finish().await.err()
    }
}

fn seal_loop(
    mut sealer: BlobSealer,
    rx: &Receiver<SealJob>,
    tx: &Sender<Sealed>,
    chunk_buffers: &BufferPool,
    sealed_buffers: &BufferPool,
) {
    for job in rx {
        let mut stored = sealed_buffers.take();
        sealer.seal_into(job.kind, &job.id, &job.plaintext, &mut stored);
        let sealed = Sealed { kind: job.kind, id: job.id, stored, raw_length: job.plaintext.len() as u32 };
        chunk_buffers.give(job.plaintext);
        if tx.send(sealed).is_err() {
            return;
        }
    }
}

fn pack_loop(
    rx: &Receiver<Sealed>,
    tx: &mpsc::Sender<FinishedPack>,
    cipher: &Cipher,
    pack_size: usize,
    sealed_buffers: &BufferPool,
    pack_buffers: &BufferPool,
) {
    let new_data_pack = || {
        let mut buf = pack_buffers.take();
        buf.reserve(pack_size + (1 << 20));
        PackWriter::with_buffer(BlobKind::Data, buf)
    };
    let mut data = new_data_pack();
    let mut tree = PackWriter::new(BlobKind::Tree, 1 << 20);
    for blob in rx {
        let writer = match blob.kind {
            BlobKind::Data => &mut data,
            BlobKind::Tree => &mut tree,
        };
        writer.add(blob.id, &blob.stored, blob.raw_length);
        sealed_buffers.give(blob.stored);
        if writer.len() >= pack_size || writer.blob_count() >= MAX_PACK_BLOBS {
            let next =
                if blob.kind == BlobKind::Data { new_data_pack() } else { PackWriter::new(BlobKind::Tree, 1 << 20) };
            let full = std::mem::replace(writer, next);
            if tx.blocking_send(full.finish(cipher)).is_err() {
                return;
            }
        }
    }
    for writer in [data, tree] {
        if !writer.is_empty() && tx.blocking_send(writer.finish(cipher)).is_err() {
            return;
        }
    }
}

async fn put_with_retry(vault: &Arc<dyn Vault>, kind: ObjectKind, bytes: Bytes) -> Result<PackId> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match put_object(vault, kind, bytes.clone()).await {
            Err(e) if e.is_retryable() && attempt < PUT_ATTEMPTS => {
                tracing::warn!("retrying {kind} upload after: {e}");
                tokio::time::sleep(Duration::from_millis(100 << (2 * attempt))).await;
            }
            other => return other,
        }
    }
}

async fn upload_loop(
    vault: Arc<dyn Vault>,
    cipher: Cipher,
    mut rx: mpsc::Receiver<FinishedPack>,
    config: PipelineConfig,
    counters: Arc<UploadCounters>,
    pack_buffers: BufferPool,
) -> Result<UploadOutcome> {
    let mut outcome = UploadOutcome::default();
    let mut unindexed: Vec<IndexPack> = Vec::new();
    let mut oldest_unindexed: Option<Instant> = None;
    let mut in_flight = FuturesUnordered::new();
    let mut input_open = true;
    let mut unindexed_blobs = 0;
    let result: Result<()> = async {
        loop {
            tokio::select! {
                biased;
                done = in_flight.next(), if !in_flight.is_empty() => {
                    let (id, blobs, len): (PackId, Vec<PackBlob>, u64) = done.expect("non-empty")?;
                    counters.packs.fetch_add(1, Ordering::Relaxed);
                    counters.bytes.fetch_add(len, Ordering::Relaxed);
                    outcome.bytes_stored += len;
                    unindexed_blobs += blobs.len();
                    unindexed.push(IndexPack::live(id, blobs));
                    oldest_unindexed.get_or_insert_with(Instant::now);
                    let due = oldest_unindexed.is_some_and(|t| t.elapsed() >= config.flush_interval);
                    if unindexed.len() >= config.flush_packs || unindexed_blobs >= MAX_INDEX_BLOBS || due {
                        write_index(&vault, &cipher, &mut unindexed, &mut outcome, config.guard.as_ref()).await?;
                        oldest_unindexed = None;
                        unindexed_blobs = 0;
                    }
                }
                pack = rx.recv(), if input_open && in_flight.len() < UPLOADS_IN_FLIGHT => {
                    match pack {
                        Some(pack) => {
                            let vault = vault.clone();
                            let pack_buffers = pack_buffers.clone();
                            in_flight.push(async move {
                                let len = pack.bytes.len() as u64;
                                let bytes = Bytes::from(pack.bytes);
                                let id = put_with_retry(&vault, ObjectKind::Pack, bytes.clone()).await?;
                                debug_assert_eq!(id, pack.id);
                                // The vault let go of its copy: the buffer serves the next pack.
                                if let Ok(buf) = bytes.try_into_mut() {
                                    pack_buffers.give(buf.into());
                                }
                                Ok::<_, Error>((id, pack.blobs, len))
                            });
                        }
                        None => input_open = false,
                    }
                }
                else => break,
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        // Index what did reach the vault, so a retry re-uses it instead of uploading it again.
        while let Some(done) = in_flight.next().await {
            if let Ok((id, blobs, _)) = done {
                unindexed.push(IndexPack::live(id, blobs));
            }
        }
        if let Err(index_error) =
            write_index(&vault, &cipher, &mut unindexed, &mut outcome, config.guard.as_ref()).await
        {
            tracing::warn!("could not index the packs stored before the failure: {index_error}");
        }
        return Err(e);
    }
    write_index(&vault, &cipher, &mut unindexed, &mut outcome, config.guard.as_ref()).await?;
    Ok(outcome)
}

async fn write_index(
    vault: &Arc<dyn Vault>,
    cipher: &Cipher,
    unindexed: &mut Vec<IndexPack>,
    outcome: &mut UploadOutcome,
    guard: Option<&SessionGuard>,
) -> Result<()> {
    if unindexed.is_empty() {
        return Ok(());
    }
    // An index file written by a session a prune already treats as gone could list a pack that
    // prune deletes: never write one.
    if let Some(guard) = guard {
        guard.check_fresh()?;
    }
    let file = IndexFile::new(std::mem::take(unindexed));
    put_with_retry(vault, ObjectKind::Index, Bytes::from(file.seal(cipher))).await?;
    outcome.packs.extend(file.packs);
    Ok(())
}

/// Index files listing `packs`, written now (used to re-index packs found unindexed); split so
/// that no file lists more than [`MAX_INDEX_BLOBS`] blobs.
pub(crate) async fn write_index_now(
    vault: &Arc<dyn Vault>,
    cipher: &Cipher,
    packs: Vec<IndexPack>,
    guard: Option<&SessionGuard>,
) -> Result<()> {
    let mut outcome = UploadOutcome::default();
    let mut batch = Vec::new();
    let mut blobs = 0;
    for pack in packs {
        blobs += pack.blobs.len();
        batch.push(pack);
        if blobs >= MAX_INDEX_BLOBS {
            write_index(vault, cipher, &mut batch, &mut outcome, guard).await?;
            blobs = 0;
        }
    }
    write_index(vault, cipher, &mut batch, &mut outcome, guard).await
}
