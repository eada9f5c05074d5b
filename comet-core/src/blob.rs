//! Turning a blob's plaintext into its stored form and back: zstd, then XChaCha20-Poly1305.
//!
//! Stored blob = `seal(purpose, id, payload)` where `payload` is either the zstd frame of the
//! plaintext or, when zstd does not make it strictly smaller, the plaintext itself. No flag is
//! stored: the index records the plaintext length (`raw_length`) and the stored length, and a
//! payload is compressed exactly when `stored_length - 40 < raw_length`.

use crate::crypto::{Cipher, Purpose, SEAL_OVERHEAD};
use crate::id::{BlobId, BlobKind};

/// Default zstd level: 3 (zstd's own default), ~3× on text at ~0.25 GB/s a core here.
pub const DEFAULT_COMPRESSION_LEVEL: i32 = 3;

/// Largest blob plaintext accepted when reading (tree blobs may be larger than data chunks).
pub const MAX_BLOB_LEN: usize = crate::codec::MAX_ENCODED;

pub(crate) fn purpose(kind: BlobKind) -> Purpose {
    match kind {
        BlobKind::Data => Purpose::DataBlob,
        BlobKind::Tree => Purpose::TreeBlob,
    }
}

/// Compresses and seals blobs. One per worker thread: it holds a zstd context.
pub struct BlobSealer {
    cipher: Cipher,
    compressor: Option<zstd::bulk::Compressor<'static>>,
}

impl std::fmt::Debug for BlobSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobSealer").field("compress", &self.compressor.is_some()).finish_non_exhaustive()
    }
}

impl BlobSealer {
    /// A sealer; `level` 0 disables compression.
    pub fn new(cipher: Cipher, level: i32) -> Self {
        let compressor = (level != 0).then(|| zstd::bulk::Compressor::new(level).expect("zstd context"));
        Self { cipher, compressor }
    }

    /// The stored form of `plaintext`.
    pub fn seal(&mut self, kind: BlobKind, id: &BlobId, plaintext: &[u8]) -> Vec<u8> {
        let mut buf = Vec::with_capacity(plaintext.len() + SEAL_OVERHEAD);
        self.seal_into(kind, id, plaintext, &mut buf);
        buf
    }

    /// Like [`BlobSealer::seal`], into `buf` (cleared first), so buffers can be reused.
    pub fn seal_into(&mut self, kind: BlobKind, id: &BlobId, plaintext: &[u8], buf: &mut Vec<u8>) {
        buf.clear();
        buf.reserve(plaintext.len() + SEAL_OVERHEAD);
        buf.resize(24 + plaintext.len().saturating_sub(1), 0);
        let compressed = match (&mut self.compressor, plaintext.len()) {
            (Some(c), 2..) => c.compress_to_buffer(plaintext, &mut buf[24..]).ok(),
            _ => None,
        };
        if let Some(n) = compressed {
            buf.truncate(24 + n);
        } else {
            buf.truncate(24);
            buf.extend_from_slice(plaintext);
        }
        self.cipher.seal_in_place(purpose(kind), &id.0, buf);
    }
}

/// Why a stored blob was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum OpenError {
    /// Authentication failed: tampered, truncated, swapped or wrong key.
    Authentication,
    /// The zstd frame is invalid or does not give `raw_length` bytes.
    Decompression,
    /// The plaintext does not hash to the blob's id.
    IdMismatch,
    /// Lengths outside the accepted bounds.
    Length,
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Authentication => "authentication failed",
            Self::Decompression => "invalid compressed payload",
            Self::IdMismatch => "contents do not match the blob id",
            Self::Length => "length out of bounds",
        })
    }
}

/// Opens many blobs with one zstd context and one output buffer: no allocation per blob.
pub struct BlobOpener {
    decompressor: zstd::bulk::Decompressor<'static>,
    out: Vec<u8>,
}

impl std::fmt::Debug for BlobOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobOpener").finish_non_exhaustive()
    }
}

impl Default for BlobOpener {
    fn default() -> Self {
        Self::new()
    }
}

impl BlobOpener {
    /// An opener with a fresh zstd context.
    pub fn new() -> Self {
        Self { decompressor: zstd::bulk::Decompressor::new().expect("zstd context"), out: Vec::new() }
    }

    /// Decrypts `stored` in place, decompresses it if needed and verifies its id, like
    /// [`open_blob`]. The plaintext borrows from `stored` or from this opener.
    pub fn open<'a>(
        &'a mut self,
        master: &crate::crypto::MasterKey,
        cipher: &Cipher,
        kind: BlobKind,
        id: &BlobId,
        raw_length: u32,
        stored: &'a mut [u8],
    ) -> Result<&'a [u8], OpenError> {
        let raw_length = raw_length as usize;
        if raw_length > MAX_BLOB_LEN || stored.len() < SEAL_OVERHEAD || stored.len() - SEAL_OVERHEAD > raw_length {
            return Err(OpenError::Length);
        }
        let payload = cipher.open_in_place(purpose(kind), &id.0, stored).ok_or(OpenError::Authentication)?;
        let plain: &[u8] = if payload.len() < raw_length {
            self.out.clear();
            self.out.reserve(raw_length);
            let n =
                self.decompressor.decompress_to_buffer(payload, &mut self.out).map_err(|_| OpenError::Decompression)?;
            if n != raw_length {
                return Err(OpenError::Decompression);
            }
            &self.out
        } else {
            payload
        };
        if master.blob_id(plain) != *id {
            return Err(OpenError::IdMismatch);
        }
        Ok(plain)
    }
}

/// Decrypts, decompresses and verifies a stored blob.
///
/// `raw_length` comes from the index; decompression never produces more than that.
pub fn open_blob(
    master: &crate::crypto::MasterKey,
    cipher: &Cipher,
    kind: BlobKind,
    id: &BlobId,
    raw_length: u32,
    stored: &[u8],
) -> Result<Vec<u8>, OpenError> {
    let raw_length = raw_length as usize;
    if raw_length > MAX_BLOB_LEN || stored.len() < SEAL_OVERHEAD || stored.len() - SEAL_OVERHEAD > raw_length {
        return Err(OpenError::Length);
    }
    let payload = cipher.open(purpose(kind), &id.0, stored).ok_or(OpenError::Authentication)?;
    let plain = if payload.len() < raw_length {
        let out = zstd::bulk::decompress(&payload, raw_length).map_err(|_| OpenError::Decompression)?;
        if out.len() != raw_length {
            return Err(OpenError::Decompression);
        }
        out
    } else {
        payload
    };
    if master.blob_id(&plain) != *id {
        return Err(OpenError::IdMismatch);
    }
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MasterKey;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn seal_open_round_trip(data in proptest::collection::vec(any::<u8>(), 0..5000), repeat in 1usize..4, level in 0i32..4) {
            let key = MasterKey::generate();
            let mut sealer = BlobSealer::new(key.cipher(), level);
            let plain: Vec<u8> = data.iter().copied().cycle().take(data.len() * repeat).collect();
            let id = key.blob_id(&plain);
            let stored = sealer.seal(BlobKind::Data, &id, &plain);
            prop_assert!(stored.len() <= plain.len() + SEAL_OVERHEAD);
            let back = open_blob(&key, &key.cipher(), BlobKind::Data, &id, plain.len() as u32, &stored).unwrap();
            prop_assert_eq!(back, plain);
        }
    }

    #[test]
    fn compressible_data_shrinks_and_kind_is_bound() {
        let key = MasterKey::generate();
        let mut sealer = BlobSealer::new(key.cipher(), 3);
        let plain = vec![b'a'; 100_000];
        let id = key.blob_id(&plain);
        let stored = sealer.seal(BlobKind::Data, &id, &plain);
        assert!(stored.len() < 1000);
        let c = key.cipher();
        assert_eq!(open_blob(&key, &c, BlobKind::Tree, &id, 100_000, &stored), Err(OpenError::Authentication));
        assert_eq!(open_blob(&key, &c, BlobKind::Data, &id, 99_999, &stored), Err(OpenError::Decompression));
        assert_eq!(open_blob(&key, &c, BlobKind::Data, &id, u32::MAX, &stored), Err(OpenError::Length));
    }
}
