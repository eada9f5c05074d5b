//! Packs: many stored blobs in one object, followed by an encrypted header that lists them.
//!
//! ```text
//! blob 0 ‖ blob 1 ‖ … ‖ blob n-1 ‖ sealed header ‖ header length (u32, little-endian)
//! ```
//! The sealed header is `seal(PackHeader, 0, encode(PackHeader))`. A pack is self-describing:
//! the index can always be rebuilt from packs alone. The pack id is the BLAKE3 hash of all its
//! bytes, so a pack can be verified at rest without keys. Data and tree blobs never share a pack.

use serde::{Deserialize, Serialize};

use crate::codec;
use crate::crypto::{Cipher, NO_ID, Purpose, SEAL_OVERHEAD};
use crate::id::{BlobId, BlobKind, PackId};

/// Format version of pack headers.
pub const PACK_VERSION: u32 = 1;

/// Default target size of a pack: 16 MiB, restic's default. Big enough that per-object costs
/// (requests, inodes) vanish, small enough that a partial restore fetches little waste.
pub const DEFAULT_PACK_SIZE: u32 = 16 << 20;

/// Largest pack header accepted when reading (a header entry is ~50 bytes; this allows packs
/// of over a million blobs).
pub const MAX_HEADER_LEN: u32 = 64 << 20;

/// One blob in a pack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackBlob {
    /// Data or tree.
    pub kind: BlobKind,
    /// The blob's id.
    pub id: BlobId,
    /// Byte offset of the stored blob in the pack.
    pub offset: u32,
    /// Stored length (sealed, possibly compressed).
    pub length: u32,
    /// Plaintext length.
    pub raw_length: u32,
}

/// The header of a pack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackHeader {
    /// [`PACK_VERSION`].
    pub version: u32,
    /// The blobs, in the order they are stored.
    pub blobs: Vec<PackBlob>,
}

/// Accumulates sealed blobs into one pack.
#[derive(Debug)]
pub struct PackWriter {
    kind: BlobKind,
    buf: Vec<u8>,
    blobs: Vec<PackBlob>,
}

/// A finished pack, ready for upload.
#[derive(Debug)]
pub struct FinishedPack {
    /// Its id (hash of `bytes`).
    pub id: PackId,
    /// The stored bytes.
    pub bytes: Vec<u8>,
    /// What it holds.
    pub blobs: Vec<PackBlob>,
}

impl PackWriter {
    /// An empty pack for blobs of `kind`.
    pub fn new(kind: BlobKind, capacity: usize) -> Self {
        Self::with_buffer(kind, Vec::with_capacity(capacity))
    }

    /// An empty pack written into `buf` (cleared first; its capacity is reused).
    pub fn with_buffer(kind: BlobKind, mut buf: Vec<u8>) -> Self {
        buf.clear();
        Self { kind, buf, blobs: Vec::new() }
    }

    /// The kind of blobs this pack holds.
    pub fn kind(&self) -> BlobKind {
        self.kind
    }

    /// Bytes of blobs so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Blobs added so far.
    pub fn blob_count(&self) -> usize {
        self.blobs.len()
    }

    /// Whether no blob was added.
    pub fn is_empty(&self) -> bool {
        self.blobs.is_empty()
    }

    /// Appends a stored blob.
    pub fn add(&mut self, id: BlobId, stored: &[u8], raw_length: u32) {
        let offset = u32::try_from(self.buf.len()).expect("packs stay far below 4 GiB");
        self.buf.extend_from_slice(stored);
        self.blobs.push(PackBlob { kind: self.kind, id, offset, length: stored.len() as u32, raw_length });
    }

    /// Seals the header and returns the pack.
    pub fn finish(mut self, cipher: &Cipher) -> FinishedPack {
        let header = PackHeader { version: PACK_VERSION, blobs: self.blobs };
        let sealed = cipher.seal(Purpose::PackHeader, &NO_ID, &codec::encode(&header));
        self.buf.extend_from_slice(&sealed);
        self.buf.extend_from_slice(&(sealed.len() as u32).to_le_bytes());
        FinishedPack { id: PackId::of(&self.buf), bytes: self.buf, blobs: header.blobs }
    }
}

/// Where the sealed header of a pack of `pack_len` bytes is, given its trailer (the last 4
/// bytes). Checks every bound before anything is read or allocated.
pub fn header_range(pack_len: u64, trailer: [u8; 4]) -> Result<std::ops::Range<u64>, String> {
    let header_len = u32::from_le_bytes(trailer);
    if header_len > MAX_HEADER_LEN || (header_len as usize) < SEAL_OVERHEAD {
        return Err(format!("header length {header_len} out of bounds"));
    }
    let end = pack_len.checked_sub(4).ok_or("pack shorter than its trailer")?;
    let start = end.checked_sub(u64::from(header_len)).ok_or("header length exceeds the pack")?;
    Ok(start..end)
}

/// Opens a sealed header and checks that every blob lies inside `blobs_len` bytes, in order.
pub fn open_header(cipher: &Cipher, sealed: &[u8], blobs_len: u64) -> Result<PackHeader, String> {
    let plain = cipher.open(Purpose::PackHeader, &NO_ID, sealed).ok_or("header authentication failed")?;
    let header: PackHeader = codec::decode(&plain)?;
    if header.version != PACK_VERSION {
        return Err(format!("unsupported pack version {}", header.version));
    }
    let mut expected = 0u64;
    for b in &header.blobs {
        if u64::from(b.offset) != expected || (b.length as usize) < SEAL_OVERHEAD {
            return Err(format!("blob {} has an inconsistent offset or length", b.id.short()));
        }
        expected += u64::from(b.length);
    }
    if expected != blobs_len {
        return Err(format!("header covers {expected} bytes, pack holds {blobs_len}"));
    }
    Ok(header)
}

/// Parses a whole pack held in memory: its header, checked against the pack's size.
pub fn read_header(cipher: &Cipher, pack: &[u8]) -> Result<PackHeader, String> {
    let len = pack.len() as u64;
    let trailer: [u8; 4] =
        pack.get(pack.len().saturating_sub(4)..).and_then(|t| t.try_into().ok()).ok_or("pack too short")?;
    let range = header_range(len, trailer)?;
    open_header(cipher, &pack[range.start as usize..range.end as usize], range.start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::BlobSealer;
    use crate::crypto::MasterKey;

    #[test]
    fn write_then_read() {
        let key = MasterKey::generate();
        let mut sealer = BlobSealer::new(key.cipher(), 3);
        let mut w = PackWriter::new(BlobKind::Data, 1024);
        let mut ids = Vec::new();
        for i in 0..10u8 {
            let plain = vec![i; 1000 + usize::from(i)];
            let id = key.blob_id(&plain);
            w.add(id, &sealer.seal(BlobKind::Data, &id, &plain), plain.len() as u32);
            ids.push(id);
        }
        let pack = w.finish(&key.cipher());
        assert_eq!(pack.id, PackId::of(&pack.bytes));
        let header = read_header(&key.cipher(), &pack.bytes).unwrap();
        assert_eq!(header.blobs, pack.blobs);
        assert_eq!(header.blobs.iter().map(|b| b.id).collect::<Vec<_>>(), ids);
        // Any flipped bit in the header or trailer is refused.
        let blobs_len = pack.blobs.iter().map(|b| b.length as usize).sum::<usize>();
        for i in (blobs_len * 8..pack.bytes.len() * 8).step_by(7) {
            let mut bad = pack.bytes.clone();
            bad[i / 8] ^= 1 << (i % 8);
            assert!(read_header(&key.cipher(), &bad).is_err(), "flip at bit {i} accepted");
        }
        assert!(read_header(&key.cipher(), &pack.bytes[..3]).is_err());
        assert!(read_header(&key.cipher(), &[0xff; 64]).is_err());
    }
}
