//! Acceptance 4: golden vectors. A change of chunk boundaries, ids, tree encoding or blob
//! encryption for a fixed key and seeded data is a format change: these values may only change
//! on purpose, together with a new format version.

use comet_core::blob::open_blob;
use comet_core::chunker::Chunker;
use comet_core::crypto::{MASTER_KEY_LEN, MasterKey};
use comet_core::tree::{Node, NodeKind, Tree};
use comet_core::{BlobKind, ChunkerParams, TreeId};

use super::common::pseudo_random;

/// Key bytes 0, 1, 2, ..., 95.
fn fixed_key() -> MasterKey {
    let mut bytes = [0u8; MASTER_KEY_LEN];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = i as u8;
    }
    MasterKey::from_bytes(&bytes)
}

#[test]
fn chunk_boundaries_and_ids_are_pinned() {
    let key = fixed_key();
    assert_eq!(key.chunker_seed(), 0x2a44_5a51_b485_64c4);
    let data = pseudo_random(24 << 20, 2024);
    let lengths = Chunker::chunk_lengths(ChunkerParams::DEFAULT, key.chunker_seed(), &data);
    assert_eq!(
        lengths,
        [
            281_709, 1_085_708, 1_282_189, 557_235, 1_946_261, 927_976, 1_273_818, 2_027_265, 2_003_613, 1_154_477,
            1_138_276, 711_766, 681_009, 1_120_201, 1_995_459, 1_049_709, 1_272_385, 2_262_847, 2_106_323, 287_598
        ]
    );
    let mut offset = 0;
    let mut ids = Vec::new();
    for l in &lengths[..3] {
        ids.push(key.blob_id(&data[offset..offset + l]).to_hex());
        offset += l;
    }
    assert_eq!(
        ids,
        [
            "389299279d01e6bcbae32f237eb268d4a65124e7a27b8ac9c69d8dfef19b1642",
            "b78cdd183813d91b689a897e87aa21a33676e87bc07c5af682d8541f0e733e43",
            "e235eeeed2af7943e9d5c794cd10267a2483403ba8a5c3331a94665305aec0df",
        ]
    );
}

#[test]
fn a_stored_blob_from_format_v1_still_opens() {
    let key = fixed_key();
    let plain = b"comet golden vector: compressible compressible compressible compressible";
    let id = key.blob_id(plain);
    assert_eq!(id.to_hex(), "ffa88e577edd6233a50f53d84baae1fefe4c91a553b4f1644b8f317f278baaa3");
    let stored = hex::decode(concat!(
        "94fa01f7df7f57fc61c5cf26ab2eb7c7929ad9eb7f96270d6dc80ada3770df1682f69e364a0024593d092abc93e4",
        "126a48ec356f84f2943a9eb7a5ec0ddc9419716358b741062af9c69fb09186ab38e373b2bd60c0138e5e0f00"
    ))
    .unwrap();
    // Shorter than the plaintext + 40: it was compressed, and must decompress the same way.
    assert!(stored.len() < plain.len() + 40);
    let opened = open_blob(&key, &key.cipher(), BlobKind::Data, &id, plain.len() as u32, &stored).unwrap();
    assert_eq!(opened, plain);
}

#[test]
fn tree_encoding_is_pinned() {
    let mut file = Node::new(b"file.txt".to_vec(), NodeKind::File);
    file.mode = 0o100_644;
    file.uid = 1000;
    file.gid = 1000;
    file.user = Some("ann".into());
    file.mtime_ns = 1_700_000_000_123_456_789;
    file.size = 5;
    file.content = vec![fixed_key().blob_id(b"hello")];
    file.xattrs = vec![comet_core::tree::Xattr { name: b"user.x".to_vec(), value: b"1".to_vec() }];
    let mut link = Node::new(vec![0xff, b'l'], NodeKind::Symlink);
    link.link_target = b"../target".to_vec();
    let tree = Tree::new(vec![link, file]);
    let bytes = tree.encode();
    assert_eq!(
        blake3::hash(&bytes).to_hex().as_str(),
        PINNED_TREE_HASH,
        "tree encoding changed ({} bytes)",
        bytes.len()
    );
    assert_eq!(Tree::decode(&bytes, &TreeId::default()).unwrap(), tree);
}

const PINNED_TREE_HASH: &str = "5ea17313fa130c3109c691b7d1341973d66714297eace849346958ecb34b19f9";
