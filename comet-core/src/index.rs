//! The index: which pack holds each blob, where, and how long it is.
//!
//! Stored as index files (`index/<id>`), each `seal(Index, 0, zstd(encode(IndexFile)))`, listing
//! packs and their blobs. A backup writes a new index file every few packs, so an interrupted
//! backup leaves its finished packs indexed. In memory all index files merge into one [`Index`]:
//! per blob kind a table sorted by id of 48-byte entries (id 32, pack number 4, offset 4,
//! length 4, raw length 4), binary-searched, plus a small hash map for blobs added since the
//! last compaction.
//!
//! A pack can be *marked* for deletion by prune (`marked_ns` set). A marked pack is still
//! readable, but a backup never deduplicates against it: its blobs count as absent. A pack
//! marked in any index file is marked, whatever other files say (see `docs/format.md`, prune).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::codec;
use crate::crypto::{Cipher, NO_ID, Purpose};
use crate::id::{BlobId, BlobKind, PackId};
use crate::pack::PackBlob;

/// Format version of index files written by this build. Version 1 (no marks) is still read.
pub const INDEX_VERSION: u32 = 2;

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
    /// Set when prune marked the pack for deletion: the time (ns since the epoch) after which
    /// the mark is certainly visible to every reader (see prune).
    pub marked_ns: Option<i64>,
}

impl IndexPack {
    /// A live (unmarked) pack.
    pub fn live(id: PackId, blobs: Vec<PackBlob>) -> Self {
        Self { id, blobs, marked_ns: None }
    }
}

/// Index files of version 1: packs without marks.
#[derive(Deserialize)]
struct IndexFileV1 {
    #[allow(dead_code)]
    version: u32,
    packs: Vec<IndexPackV1>,
}

#[derive(Deserialize)]
struct IndexPackV1 {
    #[serde(with = "crate::id::object_id_serde")]
    id: PackId,
    blobs: Vec<PackBlob>,
}

impl IndexFile {
    /// An index file of this build's version listing `packs`.
    pub fn new(packs: Vec<IndexPack>) -> Self {
        Self { version: INDEX_VERSION, packs }
    }

    /// Stored bytes: compressed, then sealed.
    pub fn seal(&self, cipher: &Cipher) -> Vec<u8> {
        let plain = codec::encode(self);
        let compressed = zstd::bulk::compress(&plain, 3).expect("zstd on memory");
        let mut framed = Vec::with_capacity(compressed.len() + 4);
        framed.extend_from_slice(&(plain.len() as u32).to_le_bytes());
        framed.extend_from_slice(&compressed);
        cipher.seal(Purpose::Index, &NO_ID, &framed)
    }

    /// Opens stored bytes (this version or version 1).
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
        // The version is the first field: read it before decoding the rest.
        match codec::decode_prefix::<u32>(&plain)? {
            1 => {
                let v1: IndexFileV1 = codec::decode(&plain)?;
                let packs = v1.packs.into_iter().map(|p| IndexPack::live(p.id, p.blobs)).collect();
                Ok(Self::new(packs))
            }
            INDEX_VERSION => codec::decode(&plain),
            other => Err(format!("unsupported index version {other} (this build reads up to {INDEX_VERSION})")),
        }
    }

    /// Number of blobs listed.
    pub fn blob_count(&self) -> usize {
        self.packs.iter().map(|p| p.blobs.len()).sum()
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

/// The first 8 bytes of an id, big-endian: ids sort like these prefixes.
fn prefix(id: &BlobId) -> u64 {
    u64::from_be_bytes(id.0[..8].try_into().expect("8 bytes"))
}

/// Finds `id` in `sorted` (as `binary_search` answers). Blob ids are keyed hashes, spread
/// uniformly, so interpolating on their first bytes lands next to the entry in a few probes
/// where a binary search over millions of entries takes twenty-odd cache misses. A few
/// interpolation rounds narrow the range; a binary search finishes it (so skewed ids cost
/// no more than a binary search).
fn search(sorted: &[Entry], id: &BlobId) -> Result<usize, usize> {
    let key = prefix(id);
    let (mut lo, mut hi) = (0usize, sorted.len());
    for _ in 0..6 {
        if hi - lo <= 16 {
            break;
        }
        let (lo_key, hi_key) = (prefix(&sorted[lo].id), prefix(&sorted[hi - 1].id));
        if key < lo_key || key > hi_key || hi_key == lo_key {
            break;
        }
        let offset = (u128::from(key - lo_key) * (hi - 1 - lo) as u128 / u128::from(hi_key - lo_key)) as usize;
        let pos = lo + offset;
        match sorted[pos].id.cmp(id) {
            std::cmp::Ordering::Equal => return Ok(pos),
            std::cmp::Ordering::Less => lo = pos + 1,
            std::cmp::Ordering::Greater => hi = pos,
        }
    }
    match sorted[lo..hi].binary_search_by(|e| e.id.cmp(id)) {
        Ok(i) => Ok(lo + i),
        Err(i) => Err(lo + i),
    }
}

impl Table {
    fn get(&self, id: &BlobId) -> Option<&Entry> {
        if let Ok(i) = search(&self.sorted, id) {
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

    /// Merges the recent entries into the sorted table: O(n + r log r), so adding a few blobs to
    /// a table of millions stays cheap.
    fn compact(&mut self) {
        if self.recent.is_empty() {
            return;
        }
        let mut recent: Vec<Entry> = self.recent.drain().map(|(_, e)| e).collect();
        recent.sort_unstable_by_key(|e| e.id);
        if self.sorted.is_empty() {
            self.sorted = recent;
            return;
        }
        let old = std::mem::take(&mut self.sorted);
        let mut merged = Vec::with_capacity(old.len() + recent.len());
        let (mut a, mut b) = (old.into_iter().peekable(), recent.into_iter().peekable());
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x.id <= y.id => a.next(),
                (Some(_) | None, Some(_)) => b.next(),
                (Some(_), None) => a.next(),
                (None, None) => break,
            };
            merged.extend(next);
        }
        self.sorted = merged;
    }

    /// Builds a table from chunks of entries: one exact allocation, one in-place sort. For an
    /// id listed more than once, the entry in a live pack (lowest pack number first) wins.
    fn from_chunks(chunks: Vec<Vec<Entry>>, marks: &[Option<i64>]) -> Self {
        let mut entries = Vec::with_capacity(chunks.iter().map(Vec::len).sum());
        for chunk in chunks {
            // Each chunk is freed as soon as it is copied: the peak stays near one table.
            entries.extend(chunk);
        }
        entries.sort_unstable_by_key(|e| (e.id, marks[e.pack as usize].is_some(), e.pack));
        entries.dedup_by(|later, first| later.id == first.id);
        entries.shrink_to_fit();
        Self { sorted: entries, recent: HashMap::new() }
    }

    fn len(&self) -> usize {
        self.sorted.len() + self.recent.len()
    }
}

/// All index files merged: the in-memory map from blob id to location.
///
/// Load live packs before marked ones ([`Index::add_file`] does it per file;
/// [`Index::from_files`] across files): a blob keeps its first location, so it is read from a
/// live pack whenever one holds it.
#[derive(Debug, Default)]
pub struct Index {
    packs: Vec<PackId>,
    /// Mark time of each pack number, `None` for live packs.
    marks: Vec<Option<i64>>,
    pack_numbers: HashMap<PackId, u32>,
    data: Table,
    tree: Table,
}

/// Merges index files one at a time into an [`Index`], so that loading holds the entries (48
/// bytes a blob) and one decoded file at a time, never every file.
///
/// A pack marked in any file is marked. When a blob is listed in several packs, the location
/// kept is in a live pack if there is one, else the pack met first.
#[derive(Debug, Default)]
pub struct IndexBuilder {
    index: Index,
    data: Vec<Vec<Entry>>,
    tree: Vec<Vec<Entry>>,
}

impl IndexBuilder {
    /// Adds one index file.
    pub fn add_file(&mut self, file: IndexFile) {
        let (mut data, mut tree) = (Vec::new(), Vec::new());
        for p in file.packs {
            let number = self.index.number(p.id);
            if let Some(t) = p.marked_ns {
                let mark = &mut self.index.marks[number as usize];
                *mark = Some(mark.map_or(t, |m| m.max(t)));
            }
            for b in p.blobs {
                let e = Entry { id: b.id, pack: number, offset: b.offset, length: b.length, raw_length: b.raw_length };
                match b.kind {
                    BlobKind::Data => data.push(e),
                    BlobKind::Tree => tree.push(e),
                }
            }
        }
        self.data.push(data);
        self.tree.push(tree);
    }

    /// The merged index.
    pub fn finish(self) -> Index {
        let Self { mut index, data, tree } = self;
        index.data = Table::from_chunks(data, &index.marks);
        index.tree = Table::from_chunks(tree, &index.marks);
        index
    }
}

/// One blob as stored in the index, with its position in the sorted table of its kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    /// The blob.
    pub id: BlobId,
    /// Its pack's number (see [`Index::pack`]).
    pub pack: u32,
    /// Offset in the pack.
    pub offset: u32,
    /// Stored length.
    pub length: u32,
    /// Plaintext length.
    pub raw_length: u32,
}

impl Index {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Merges index files (see [`IndexBuilder`]).
    pub fn from_files<'a>(files: impl IntoIterator<Item = &'a IndexFile>) -> Self {
        let mut builder = IndexBuilder::default();
        for file in files {
            builder.add_file(file.clone());
        }
        builder.finish()
    }

    fn table(&self, kind: BlobKind) -> &Table {
        match kind {
            BlobKind::Data => &self.data,
            BlobKind::Tree => &self.tree,
        }
    }

    fn number(&mut self, pack: PackId) -> u32 {
        *self.pack_numbers.entry(pack).or_insert_with(|| {
            self.packs.push(pack);
            self.marks.push(None);
            (self.packs.len() - 1) as u32
        })
    }

    /// Adds every blob of `pack`. A blob already known keeps its first location.
    pub fn add_pack(&mut self, pack: PackId, blobs: &[PackBlob]) {
        let number = self.number(pack);
        for b in blobs {
            let e = Entry { id: b.id, pack: number, offset: b.offset, length: b.length, raw_length: b.raw_length };
            match b.kind {
                BlobKind::Data => self.data.insert(e),
                BlobKind::Tree => self.tree.insert(e),
            }
        }
    }

    /// Records that `pack` is marked for deletion since `marked_ns` (known packs only).
    pub fn mark(&mut self, pack: &PackId, marked_ns: i64) {
        if let Some(&n) = self.pack_numbers.get(pack) {
            self.marks[n as usize] = Some(marked_ns);
        }
    }

    /// Adds an index file, its live packs first.
    pub fn add_file(&mut self, file: &IndexFile) {
        for p in file.packs.iter().filter(|p| p.marked_ns.is_none()) {
            self.add_pack(p.id, &p.blobs);
        }
        for p in file.packs.iter().filter(|p| p.marked_ns.is_some()) {
            self.add_pack(p.id, &p.blobs);
            self.mark(&p.id, p.marked_ns.unwrap_or_default());
        }
    }

    /// Sorts recently added blobs into the compact tables (call after bulk loading).
    pub fn compact(&mut self) {
        self.data.compact();
        self.tree.compact();
    }

    /// Where blob `id` of `kind` is (live or marked pack): for reading.
    pub fn get(&self, kind: BlobKind, id: &BlobId) -> Option<BlobLocation> {
        self.table(kind).get(id).map(|e| BlobLocation {
            pack: self.packs[e.pack as usize],
            offset: e.offset,
            length: e.length,
            raw_length: e.raw_length,
        })
    }

    /// Whether blob `id` of `kind` is in a live pack: whether a backup may refer to it instead
    /// of storing it again. Blobs only in marked packs do not count.
    pub fn contains(&self, kind: BlobKind, id: &BlobId) -> bool {
        self.table(kind).get(id).is_some_and(|e| self.marks[e.pack as usize].is_none())
    }

    /// Whether blob `id` of `kind` is indexed at all (live or marked pack): whether it can be
    /// read.
    pub fn contains_any(&self, kind: BlobKind, id: &BlobId) -> bool {
        self.table(kind).get(id).is_some()
    }

    /// The entry of blob `id` of `kind`, with its pack number.
    pub fn get_entry(&self, kind: BlobKind, id: &BlobId) -> Option<IndexEntry> {
        self.table(kind).get(id).map(|e| IndexEntry {
            id: e.id,
            pack: e.pack,
            offset: e.offset,
            length: e.length,
            raw_length: e.raw_length,
        })
    }

    /// Whether `pack` is indexed (live or marked).
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

    /// Every indexed pack (live and marked), by pack number.
    pub fn packs(&self) -> &[PackId] {
        &self.packs
    }

    /// The pack with number `n`.
    pub fn pack(&self, n: u32) -> PackId {
        self.packs[n as usize]
    }

    /// The number of `pack`, if indexed.
    pub fn pack_number(&self, pack: &PackId) -> Option<u32> {
        self.pack_numbers.get(pack).copied()
    }

    /// When pack number `n` was marked for deletion, if it was.
    pub fn marked_ns(&self, n: u32) -> Option<i64> {
        self.marks[n as usize]
    }

    /// Position of blob `id` in the sorted table of `kind` (after [`compact`](Self::compact)):
    /// a dense number in `0..blob_count(kind)`, for bit sets over blobs.
    pub fn position(&self, kind: BlobKind, id: &BlobId) -> Option<usize> {
        let table = self.table(kind);
        debug_assert!(table.recent.is_empty(), "position() needs a compacted index");
        search(&table.sorted, id).ok()
    }

    /// Every blob of `kind` in position order (after [`compact`](Self::compact)).
    pub fn entries(&self, kind: BlobKind) -> impl Iterator<Item = IndexEntry> + '_ {
        self.table(kind).sorted.iter().map(|e| IndexEntry {
            id: e.id,
            pack: e.pack,
            offset: e.offset,
            length: e.length,
            raw_length: e.raw_length,
        })
    }

    /// The blob at `position` in the sorted table of `kind`.
    pub fn entry_at(&self, kind: BlobKind, position: usize) -> IndexEntry {
        let e = &self.table(kind).sorted[position];
        IndexEntry { id: e.id, pack: e.pack, offset: e.offset, length: e.length, raw_length: e.raw_length }
    }

    /// The blobs whose location is in one of the packs numbered `packs` (sorted by offset per
    /// pack), read from the compacted tables: one pass over every entry, so callers batch
    /// packs to bound memory.
    pub fn blobs_of_packs(&self, packs: std::ops::Range<u32>) -> Vec<Vec<PackBlob>> {
        let mut out = vec![Vec::new(); packs.len()];
        for kind in [BlobKind::Data, BlobKind::Tree] {
            for e in self.entries(kind).filter(|e| packs.contains(&e.pack)) {
                out[(e.pack - packs.start) as usize].push(PackBlob {
                    kind,
                    id: e.id,
                    offset: e.offset,
                    length: e.length,
                    raw_length: e.raw_length,
                });
            }
        }
        for blobs in &mut out {
            blobs.sort_unstable_by_key(|b| b.offset);
        }
        out
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
        let file = IndexFile::new(vec![IndexPack {
            id: PackId::of(b"p"),
            blobs: vec![blob(BlobKind::Data, 1, 0), blob(BlobKind::Tree, 2, 100)],
            marked_ns: Some(7),
        }]);
        let sealed = file.seal(&key.cipher());
        assert_eq!(IndexFile::open(&key.cipher(), &sealed).unwrap(), file);
        let mut bad = sealed.clone();
        bad[30] ^= 4;
        assert!(IndexFile::open(&key.cipher(), &bad).is_err());
    }

    #[test]
    fn interpolation_search_agrees_with_binary_search() {
        let mut entries: Vec<Entry> = (0..5000u32)
            .map(|n| Entry {
                id: BlobId(*blake3::hash(&n.to_le_bytes()).as_bytes()),
                pack: 0,
                offset: n,
                length: 1,
                raw_length: 1,
            })
            .collect();
        // Skewed ids too: a run of equal prefixes.
        entries.extend((0..200u8).map(|n| {
            let mut id = [0x77; 32];
            id[31] = n;
            Entry { id: BlobId(id), pack: 0, offset: 0, length: 1, raw_length: 1 }
        }));
        entries.sort_by_key(|e| e.id);
        for probe in entries
            .iter()
            .map(|e| e.id)
            .chain((0..500u32).map(|n| BlobId(*blake3::hash(&(n + 90_000).to_le_bytes()).as_bytes())))
        {
            assert_eq!(search(&entries, &probe), entries.binary_search_by(|e| e.id.cmp(&probe)));
        }
        for edge in [BlobId([0; 32]), BlobId([0xff; 32])] {
            assert_eq!(search(&entries, &edge), entries.binary_search_by(|e| e.id.cmp(&edge)));
        }
        assert_eq!(search(&[], &BlobId([1; 32])), Err(0));
    }

    #[test]
    fn compaction_merges_in_order() {
        let mut index = Index::new();
        let p = PackId::of(b"p");
        for n in (0..=250u8).rev().step_by(3) {
            index.add_pack(p, &[blob(BlobKind::Data, n, u32::from(n))]);
        }
        index.compact();
        for n in (2..=251u8).step_by(3) {
            index.add_pack(p, &[blob(BlobKind::Data, n, u32::from(n))]);
        }
        index.compact();
        let ids: Vec<u8> = index.entries(BlobKind::Data).map(|e| e.id.0[0]).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "not sorted: {ids:?}");
        assert_eq!(ids.len(), 84 + 84);
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

    #[test]
    fn version_1_files_are_read() {
        #[derive(Serialize)]
        struct V1 {
            version: u32,
            packs: Vec<P1>,
        }
        #[derive(Serialize)]
        struct P1 {
            #[serde(with = "crate::id::object_id_serde")]
            id: PackId,
            blobs: Vec<PackBlob>,
        }
        let key = MasterKey::generate();
        let v1 = V1 { version: 1, packs: vec![P1 { id: PackId::of(b"p"), blobs: vec![blob(BlobKind::Data, 1, 0)] }] };
        let plain = codec::encode(&v1);
        let mut framed = (plain.len() as u32).to_le_bytes().to_vec();
        framed.extend_from_slice(&zstd::bulk::compress(&plain, 3).unwrap());
        let sealed = key.cipher().seal(Purpose::Index, &NO_ID, &framed);
        let file = IndexFile::open(&key.cipher(), &sealed).unwrap();
        assert_eq!(file.version, INDEX_VERSION);
        assert_eq!(file.packs, vec![IndexPack::live(PackId::of(b"p"), vec![blob(BlobKind::Data, 1, 0)])]);
    }

    #[test]
    fn marked_packs_are_readable_but_not_deduplicated_against() {
        let live = PackId::of(b"live");
        let dead = PackId::of(b"dead");
        let files = [
            // The marked copy of blob 1 comes first, yet the live copy wins.
            IndexFile::new(vec![IndexPack {
                id: dead,
                blobs: vec![blob(BlobKind::Data, 1, 0), blob(BlobKind::Data, 2, 100)],
                marked_ns: Some(5),
            }]),
            IndexFile::new(vec![IndexPack::live(live, vec![blob(BlobKind::Data, 1, 0)])]),
            // Another file still lists the dead pack as live: the mark wins.
            IndexFile::new(vec![IndexPack::live(dead, vec![blob(BlobKind::Data, 2, 100)])]),
        ];
        let index = Index::from_files(&files);
        assert_eq!(index.get(BlobKind::Data, &BlobId([1; 32])).unwrap().pack, live);
        assert!(index.contains(BlobKind::Data, &BlobId([1; 32])));
        assert_eq!(index.get(BlobKind::Data, &BlobId([2; 32])).unwrap().pack, dead, "still readable");
        assert!(!index.contains(BlobKind::Data, &BlobId([2; 32])), "never deduplicated against");
        let n = index.pack_number(&dead).unwrap();
        assert_eq!(index.marked_ns(n), Some(5));
        assert_eq!(index.marked_ns(index.pack_number(&live).unwrap()), None);
        let pos = index.position(BlobKind::Data, &BlobId([2; 32])).unwrap();
        assert_eq!(index.entries(BlobKind::Data).nth(pos).unwrap().id, BlobId([2; 32]));
        let by_pack = index.blobs_of_packs(0..index.pack_count() as u32);
        assert_eq!(by_pack[n as usize].len(), 1);
    }
}
