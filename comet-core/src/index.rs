//! The index: which pack holds each blob, where, and how long it is.
//!
//! Stored as index files (`index/<id>`), each `seal(Index, 0, zstd(encode(IndexFile)))`, listing
//! packs and their blobs. A backup writes a new index file every few packs, so an interrupted
//! backup leaves its finished packs indexed. In memory all index files merge into one [`Index`]:
//! per blob kind a table sorted by id of 48-byte entries (id 32, pack number 4, offset 4,
//! length 4, raw length 4), binary-searched, plus a small hash map for blobs added since the
//! last compaction.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::codec;
use crate::crypto::{Cipher, NO_ID, Purpose};
use crate::id::{BlobId, BlobKind, PackId};
use crate::pack::PackBlob;

/// Format version of index files.
pub const INDEX_VERSION: u32 = 1;

/// Largest decompressed index file accepted.
const MAX_INDEX_PLAIN: usize = codec::MAX_ENCODED;

/// The packs one index file describes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexFile {
    /// [`INDEX_VERSION`].
    pub version: u32,
    /// Packs and their blobs.
    pub packs: Vec<IndexPack>,
}

/// One pack in an index file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexPack {
    /// The pack.
    #[serde(with = "crate::id::object_id_serde")]
    pub id: PackId,
    /// Its blobs, as in its header.
    pub blobs: Vec<PackBlob>,
}

impl IndexFile {
    /// Stored bytes: compressed, then sealed.
    pub fn seal(&self, cipher: &Cipher) -> Vec<u8> {
        let plain = codec::encode(self);
        let compressed = zstd::bulk::compress(&plain, 3).expect("zstd on memory");
        let mut framed = Vec::with_capacity(compressed.len() + 4);
        framed.extend_from_slice(&(plain.len() as u32).to_le_bytes());
        framed.extend_from_slice(&compressed);
        cipher.seal(Purpose::Index, &NO_ID, &framed)
    }

    /// Opens stored bytes.
    pub fn open(cipher: &Cipher, stored: &[u8]) -> Result<Self, String> {
        let framed = cipher.open(Purpose::Index, &NO_ID, stored).ok_or("authentication failed")?;
        let (len, compressed) = framed.split_at_checked(4).ok_or("too short")?;
        let len = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
        if len > MAX_INDEX_PLAIN {
            return Err(format!("declared size {len} over the limit"));
        }
        let plain = zstd::bulk::decompress(compressed, len).map_err(|e| format!("decompression: {e}"))?;
        if plain.len() != len {
            return Err("decompressed size mismatch".into());
        }
        let file: Self = codec::decode(&plain)?;
        if file.version != INDEX_VERSION {
            return Err(format!("unsupported index version {}", file.version));
        }
        Ok(file)
    }
}

/// Where a blob is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlobLocation {
    /// The pack.
    pub pack: PackId,
    /// Offset in the pack.
    pub offset: u32,
    /// Stored length.
    pub length: u32,
    /// Plaintext length.
    pub raw_length: u32,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    id: BlobId,
    pack: u32,
    offset: u32,
    length: u32,
    raw_length: u32,
}

#[derive(Debug, Default)]
struct Table {
    sorted: Vec<Entry>,
    recent: HashMap<BlobId, Entry>,
}

/// Blobs added since the last compaction before the recent map is merged into the sorted table.
const COMPACT_AT: usize = 1 << 16;

impl Table {
    fn get(&self, id: &BlobId) -> Option<&Entry> {
        if let Ok(i) = self.sorted.binary_search_by(|e| e.id.cmp(id)) {
            return Some(&self.sorted[i]);
        }
        self.recent.get(id)
    }

    fn insert(&mut self, e: Entry) {
        if self.get(&e.id).is_none() {
            self.recent.insert(e.id, e);
            if self.recent.len() >= COMPACT_AT {
                self.compact();
            }
        }
    }

    fn compact(&mut self) {
        if self.recent.is_empty() {
            return;
        }
        self.sorted.extend(self.recent.drain().map(|(_, e)| e));
        self.sorted.sort_unstable_by_key(|e| e.id);
        self.sorted.dedup_by(|a, b| a.id == b.id);
        self.sorted.shrink_to_fit();
    }

    fn len(&self) -> usize {
        self.sorted.len() + self.recent.len()
    }
}

/// All index files merged: the in-memory map from blob id to location.
#[derive(Debug, Default)]
pub struct Index {
    packs: Vec<PackId>,
    pack_numbers: HashMap<PackId, u32>,
    data: Table,
    tree: Table,
}

impl Index {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    fn table(&self, kind: BlobKind) -> &Table {
        match kind {
            BlobKind::Data => &self.data,
            BlobKind::Tree => &self.tree,
        }
    }

    /// Adds every blob of `pack`. A blob already known keeps its first location.
    pub fn add_pack(&mut self, pack: PackId, blobs: &[PackBlob]) {
        let number = *self.pack_numbers.entry(pack).or_insert_with(|| {
            self.packs.push(pack);
            (self.packs.len() - 1) as u32
        });
        for b in blobs {
            let e = Entry { id: b.id, pack: number, offset: b.offset, length: b.length, raw_length: b.raw_length };
            match b.kind {
                BlobKind::Data => self.data.insert(e),
                BlobKind::Tree => self.tree.insert(e),
            }
        }
    }

    /// Adds an index file.
    pub fn add_file(&mut self, file: &IndexFile) {
        for p in &file.packs {
            self.add_pack(p.id, &p.blobs);
        }
    }

    /// Sorts recently added blobs into the compact tables (call after bulk loading).
    pub fn compact(&mut self) {
        self.data.compact();
        self.tree.compact();
    }

    /// Where blob `id` of `kind` is.
    pub fn get(&self, kind: BlobKind, id: &BlobId) -> Option<BlobLocation> {
        self.table(kind).get(id).map(|e| BlobLocation {
            pack: self.packs[e.pack as usize],
            offset: e.offset,
            length: e.length,
            raw_length: e.raw_length,
        })
    }

    /// Whether blob `id` of `kind` is indexed.
    pub fn contains(&self, kind: BlobKind, id: &BlobId) -> bool {
        self.table(kind).get(id).is_some()
    }

    /// Whether `pack` is indexed.
    pub fn has_pack(&self, pack: &PackId) -> bool {
        self.pack_numbers.contains_key(pack)
    }

    /// Number of indexed blobs of `kind`.
    pub fn blob_count(&self, kind: BlobKind) -> usize {
        self.table(kind).len()
    }

    /// Number of indexed packs.
    pub fn pack_count(&self) -> usize {
        self.packs.len()
    }

    /// Every indexed pack.
    pub fn packs(&self) -> &[PackId] {
        &self.packs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MasterKey;

    fn blob(kind: BlobKind, n: u8, offset: u32) -> PackBlob {
        PackBlob { kind, id: BlobId([n; 32]), offset, length: 100, raw_length: 200 }
    }

    #[test]
    fn file_round_trip_and_tamper() {
        let key = MasterKey::generate();
        let file = IndexFile {
            version: INDEX_VERSION,
            packs: vec![IndexPack {
                id: PackId::of(b"p"),
                blobs: vec![blob(BlobKind::Data, 1, 0), blob(BlobKind::Tree, 2, 100)],
            }],
        };
        let sealed = file.seal(&key.cipher());
        assert_eq!(IndexFile::open(&key.cipher(), &sealed).unwrap(), file);
        let mut bad = sealed.clone();
        bad[30] ^= 4;
        assert!(IndexFile::open(&key.cipher(), &bad).is_err());
    }

    #[test]
    fn lookups_across_compaction() {
        let mut index = Index::new();
        let p1 = PackId::of(b"1");
        index.add_pack(p1, &[blob(BlobKind::Data, 1, 0), blob(BlobKind::Tree, 1, 100)]);
        index.compact();
        index.add_pack(PackId::of(b"2"), &[blob(BlobKind::Data, 3, 0), blob(BlobKind::Data, 1, 100)]);
        assert_eq!(index.get(BlobKind::Data, &BlobId([1; 32])).unwrap().pack, p1, "first location wins");
        assert!(index.contains(BlobKind::Data, &BlobId([3; 32])));
        assert!(index.contains(BlobKind::Tree, &BlobId([1; 32])));
        assert!(!index.contains(BlobKind::Tree, &BlobId([3; 32])), "kinds are separate");
        assert_eq!(index.blob_count(BlobKind::Data), 2);
        index.compact();
        assert_eq!(index.get(BlobKind::Data, &BlobId([3; 32])).unwrap().offset, 0);
        assert_eq!(index.pack_count(), 2);
    }
}
