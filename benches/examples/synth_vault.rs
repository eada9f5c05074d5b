//! Writes a synthetic vault of N data blobs, for measuring prune and check at scale without
//! storing N chunks of data.
//!
//! ```text
//! cargo run --release -p comet-benches --example synth_vault -- DIR [BLOBS] [UNUSED_PERCENT]
//! COMET_VAULT=DIR COMET_PASSWORD=synthetic /usr/bin/time -v target/release/comet-agent prune
//! ```
//!
//! Everything prune reads is real: key slot, config, index files (N blobs in packs of 4,000),
//! trees (files of 1,000 chunks, 100 files a directory) sealed in tree packs, one snapshot.
//! Data packs are stand-ins: small objects the index describes as holding their blobs. Prune
//! reads no data pack unless it repacks one, and the packs here are either fully used or fully
//! unused (the last `UNUSED_PERCENT`, default 10, are referenced by no tree), so it repacks none.

use std::sync::Arc;

use bytes::Bytes;
use comet_core::blob::BlobSealer;
use comet_core::crypto::MasterKey;
use comet_core::index::{IndexFile, IndexPack};
use comet_core::keyslot::KeySlot;
use comet_core::pack::{PackBlob, PackWriter};
use comet_core::snapshot::{BackupSummary, SNAPSHOT_VERSION, Snapshot};
use comet_core::tree::{Node, NodeKind, Tree};
use comet_core::{BlobId, BlobKind, KdfParams, ObjectId, VaultConfig};
use comet_storage::{ObjectKey, ObjectKind, Vault};

const PASSWORD: &[u8] = b"synthetic";
const BLOBS_PER_PACK: usize = 4_000;
const PACKS_PER_INDEX: usize = 50;
const CHUNKS_PER_FILE: usize = 1_000;
const FILES_PER_DIR: usize = 100;
const CHUNK: u32 = 1 << 20;

fn blob_id(n: usize) -> BlobId {
    BlobId(*blake3::hash(&(n as u64).to_le_bytes()).as_bytes())
}

async fn put(vault: &Arc<dyn Vault>, kind: ObjectKind, bytes: Vec<u8>) -> ObjectId {
    let id = ObjectId::of(&bytes);
    vault.put(&ObjectKey::new(kind, id), Bytes::from(bytes)).await.expect("put");
    id
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = args.get(1).expect("usage: synth_vault DIR [BLOBS] [UNUSED_PERCENT]");
    let blobs: usize = args.get(2).map_or(10_000_000, |s| s.parse().expect("BLOBS"));
    let unused_percent: usize = args.get(3).map_or(10, |s| s.parse().expect("UNUSED_PERCENT"));
    std::fs::create_dir_all(dir).expect("create DIR");
    let vault = comet_storage::open_vault(dir).expect("open vault");

    let key = MasterKey::generate();
    let cipher = key.cipher();
    let slot = KeySlot::wrap(&key, PASSWORD, KdfParams::FLOOR).expect("key slot");
    put(&vault, ObjectKind::Key, slot.encode()).await;
    let config = VaultConfig::new();
    vault.put(&ObjectKey::CONFIG, Bytes::from(config.seal(&cipher))).await.expect("config");

    // Data packs (stand-ins) and their index files.
    let packs = blobs.div_ceil(BLOBS_PER_PACK);
    let mut listed = Vec::new();
    for p in 0..packs {
        let id = put(&vault, ObjectKind::Pack, format!("synthetic data pack {p}").into_bytes()).await;
        let first = p * BLOBS_PER_PACK;
        let entries = (first..blobs.min(first + BLOBS_PER_PACK))
            .enumerate()
            .map(|(i, n)| PackBlob {
                kind: BlobKind::Data,
                id: blob_id(n),
                offset: i as u32 * 1024,
                length: 1024,
                raw_length: CHUNK,
            })
            .collect();
        listed.push(IndexPack::live(id, entries));
        if listed.len() == PACKS_PER_INDEX || p + 1 == packs {
            put(&vault, ObjectKind::Index, IndexFile::new(std::mem::take(&mut listed)).seal(&cipher)).await;
        }
    }

    // Trees: the used blobs in files of CHUNKS_PER_FILE chunks, FILES_PER_DIR files a directory.
    let used_packs = packs - packs * unused_percent / 100;
    let used = (used_packs * BLOBS_PER_PACK).min(blobs);
    let mut sealer = BlobSealer::new(cipher.clone(), 3);
    let mut writer = PackWriter::new(BlobKind::Tree, 16 << 20);
    let mut tree_packs = Vec::new();
    let mut store = |tree: Tree, writer: &mut PackWriter, done: &mut Vec<comet_core::pack::FinishedPack>| {
        let bytes = tree.encode();
        let id = key.blob_id(&bytes);
        writer.add(id, &sealer.seal(BlobKind::Tree, &id, &bytes), bytes.len() as u32);
        if writer.len() >= 16 << 20 {
            let full = std::mem::replace(writer, PackWriter::new(BlobKind::Tree, 16 << 20));
            done.push(full.finish(&cipher));
        }
        id
    };
    let mut finished = Vec::new();
    let mut dirs = Vec::new();
    let mut files = Vec::new();
    for (f, start) in (0..used).step_by(CHUNKS_PER_FILE).enumerate() {
        let mut node = Node::new(format!("file{f:07}").into_bytes(), NodeKind::File);
        node.mode = 0o100_644;
        node.content = (start..used.min(start + CHUNKS_PER_FILE)).map(blob_id).collect();
        node.size = node.content.len() as u64 * u64::from(CHUNK);
        files.push(node);
        if files.len() == FILES_PER_DIR || start + CHUNKS_PER_FILE >= used {
            let id = store(Tree::new(std::mem::take(&mut files)), &mut writer, &mut finished);
            let mut dir = Node::new(format!("dir{:05}", dirs.len()).into_bytes(), NodeKind::Dir);
            dir.mode = 0o040_755;
            dir.subtree = Some(id);
            dirs.push(dir);
        }
    }
    let mut top = Node::new(b"data".to_vec(), NodeKind::Dir);
    top.mode = 0o040_755;
    top.subtree = Some(store(Tree::new(dirs), &mut writer, &mut finished));
    let root = store(Tree::new(vec![top]), &mut writer, &mut finished);
    if !writer.is_empty() {
        finished.push(writer.finish(&cipher));
    }
    for pack in finished {
        put(&vault, ObjectKind::Pack, pack.bytes).await;
        tree_packs.push(IndexPack::live(pack.id, pack.blobs));
    }
    put(&vault, ObjectKind::Index, IndexFile::new(tree_packs).seal(&cipher)).await;

    let snapshot = Snapshot {
        version: SNAPSHOT_VERSION,
        time_ns: comet_core::snapshot::now_ns(),
        hostname: "synthetic".into(),
        username: "bench".into(),
        paths: vec!["data".into()],
        tags: vec![],
        tree: root,
        parent: None,
        device_id: None,
        protected_item: None,
        summary: BackupSummary::default(),
        program: "synth_vault".into(),
    };
    put(&vault, ObjectKind::Snapshot, snapshot.seal(&cipher)).await;
    println!("{dir}: {blobs} data blobs in {packs} packs, {used} used by the snapshot");
}
