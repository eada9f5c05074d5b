//! Keys and authenticated encryption.
//!
//! - [`MasterKey`]: 96 random bytes split by purpose: an encryption key (XChaCha20-Poly1305),
//!   a chunk-id key (keyed `BLAKE3`) and a chunker key (seeds the `FastCDC` gear table). Secret: no
//!   `Debug` contents, no `Copy`, no `Serialize`, zeroised on drop.
//! - [`Cipher::seal`] / [`Cipher::open`]: one object or blob → `nonce(24) ‖ ciphertext ‖ tag(16)`, a fresh
//!   random 192-bit nonce each time (no nonce state to lose or repeat across devices), with
//!   associated data binding the [`Purpose`] and the id, so a blob can neither be swapped for
//!   another nor opened as another kind of object.
//! - [`kdf`]: Argon2id password hashing for key slots, with bounds checked before running it.

pub mod kdf;

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Bytes added by [`Cipher::seal`]: a 24-byte nonce and a 16-byte tag.
pub const SEAL_OVERHEAD: usize = NONCE_LEN + TAG_LEN;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// Length of the master key material: three 32-byte keys.
pub const MASTER_KEY_LEN: usize = 96;

/// What a sealed payload is. Its byte is part of the associated data.
///
/// DO NOT MODIFY the numbers: they are part of vault format v1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Purpose {
    /// A chunk of file contents; AAD id = chunk id.
    DataBlob = 1,
    /// A serialised tree; AAD id = tree id.
    TreeBlob = 2,
    /// The header of a pack; AAD id = zero (the pack id covers the header by hash).
    PackHeader = 3,
    /// An index file; AAD id = zero.
    Index = 4,
    /// A snapshot; AAD id = zero.
    Snapshot = 5,
    /// The vault config; AAD id = zero.
    Config = 6,
    /// The master key inside a key slot; AAD id = the slot's salt padded with zeros.
    KeySlot = 7,
    /// A writer session marker; AAD id = zero.
    Session = 8,
}

/// Domain separator at the start of every associated data block.
const AAD_DOMAIN: &[u8; 8] = b"comet/v1";

fn associated_data(purpose: Purpose, id: &[u8; 32]) -> [u8; 41] {
    let mut aad = [0u8; 41];
    aad[..8].copy_from_slice(AAD_DOMAIN);
    aad[8] = purpose as u8;
    aad[9..].copy_from_slice(id);
    aad
}

/// The id used in associated data when the object has none of its own.
pub const NO_ID: [u8; 32] = [0; 32];

/// A vault's master key material. Random, never derived from a password.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MasterKey {
    encryption: [u8; 32],
    chunk_id: [u8; 32],
    chunker: [u8; 32],
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    /// Fresh random key material from the OS generator.
    pub fn generate() -> Self {
        let mut bytes = [0u8; MASTER_KEY_LEN];
        random_bytes(&mut bytes);
        let key = Self::from_bytes(&bytes);
        bytes.zeroize();
        key
    }

    /// Rebuilds a key from its 96 bytes (`encryption ‖ chunk_id ‖ chunker`).
    pub fn from_bytes(bytes: &[u8; MASTER_KEY_LEN]) -> Self {
        let mut key = Self { encryption: [0; 32], chunk_id: [0; 32], chunker: [0; 32] };
        key.encryption.copy_from_slice(&bytes[..32]);
        key.chunk_id.copy_from_slice(&bytes[32..64]);
        key.chunker.copy_from_slice(&bytes[64..]);
        key
    }

    /// The 96 bytes, for wrapping into a key slot. The caller zeroises them.
    pub(crate) fn to_bytes(&self) -> [u8; MASTER_KEY_LEN] {
        let mut out = [0u8; MASTER_KEY_LEN];
        out[..32].copy_from_slice(&self.encryption);
        out[32..64].copy_from_slice(&self.chunk_id);
        out[64..].copy_from_slice(&self.chunker);
        out
    }

    /// The keyed-BLAKE3 id of a blob's plaintext.
    pub fn blob_id(&self, plaintext: &[u8]) -> crate::BlobId {
        crate::BlobId(*blake3::keyed_hash(&self.chunk_id, plaintext).as_bytes())
    }

    /// The 64-bit `FastCDC` gear seed. Derived (not truncated) from the chunker key so that the
    /// seed reveals nothing of the key.
    pub fn chunker_seed(&self) -> u64 {
        let derived = blake3::keyed_hash(&self.chunker, b"comet fastcdc gear seed v1");
        let mut seed = [0u8; 8];
        seed.copy_from_slice(&derived.as_bytes()[..8]);
        u64::from_le_bytes(seed)
    }

    /// A cipher for this key, to reuse across many [`Cipher::seal`]/[`Cipher::open`] calls.
    pub fn cipher(&self) -> Cipher {
        Cipher(XChaCha20Poly1305::new((&self.encryption).into()))
    }
}

/// A ready XChaCha20-Poly1305 instance (key schedule done once).
#[derive(Clone)]
pub struct Cipher(XChaCha20Poly1305);

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(<redacted>)")
    }
}

impl Cipher {
    /// A cipher from a raw 32-byte key (used for key slots).
    pub(crate) fn from_key(key: &[u8; 32]) -> Self {
        Self(XChaCha20Poly1305::new(key.into()))
    }

    /// Encrypts `plaintext`: `nonce ‖ ciphertext ‖ tag`.
    pub fn seal(&self, purpose: Purpose, id: &[u8; 32], plaintext: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(plaintext.len() + SEAL_OVERHEAD);
        out.resize(NONCE_LEN, 0);
        random_bytes(&mut out[..NONCE_LEN]);
        out.extend_from_slice(plaintext);
        self.seal_in_place(purpose, id, &mut out);
        out
    }

    /// Encrypts in place a buffer laid out as `[24 bytes of room] ‖ plaintext`, fills the
    /// nonce and appends the tag. Lets the pipeline compress straight into its output buffer.
    pub fn seal_in_place(&self, purpose: Purpose, id: &[u8; 32], buf: &mut Vec<u8>) {
        assert!(buf.len() >= NONCE_LEN, "seal_in_place needs room for the nonce");
        random_bytes(&mut buf[..NONCE_LEN]);
        let nonce = *XNonce::from_slice(&buf[..NONCE_LEN]);
        let aad = associated_data(purpose, id);
        let tag = self
            .0
            .encrypt_in_place_detached(&nonce, &aad, &mut buf[NONCE_LEN..])
            .expect("XChaCha20-Poly1305 accepts any length below 256 GiB");
        buf.extend_from_slice(&tag);
    }

    /// Like [`Cipher::open`], decrypting in place: returns the plaintext as a part of `sealed`.
    pub fn open_in_place<'a>(&self, purpose: Purpose, id: &[u8; 32], sealed: &'a mut [u8]) -> Option<&'a [u8]> {
        if sealed.len() < SEAL_OVERHEAD {
            return None;
        }
        let (nonce, rest) = sealed.split_at_mut(NONCE_LEN);
        let (ciphertext, tag) = rest.split_at_mut(rest.len() - TAG_LEN);
        let aad = associated_data(purpose, id);
        self.0.decrypt_in_place_detached(XNonce::from_slice(nonce), &aad, ciphertext, Tag::from_slice(tag)).ok()?;
        Some(ciphertext)
    }

    /// Authenticates and decrypts `sealed`; `None` when it was not made by [`Cipher::seal`] with
    /// this key, purpose and id (tampering, truncation, wrong key, swapped blob).
    pub fn open(&self, purpose: Purpose, id: &[u8; 32], sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < SEAL_OVERHEAD {
            return None;
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
        let mut plain = ciphertext.to_vec();
        let aad = associated_data(purpose, id);
        self.0.decrypt_in_place_detached(XNonce::from_slice(nonce), &aad, &mut plain, Tag::from_slice(tag)).ok()?;
        Some(plain)
    }
}

/// Fills `buf` from the operating system's random generator.
pub(crate) fn random_bytes(buf: &mut [u8]) {
    getrandom::getrandom(buf).expect("the OS random generator failed");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_binds_purpose_and_id() {
        let key = MasterKey::generate();
        let c = key.cipher();
        let id = [7u8; 32];
        let sealed = c.seal(Purpose::DataBlob, &id, b"hello");
        assert_eq!(sealed.len(), 5 + SEAL_OVERHEAD);
        assert_eq!(c.open(Purpose::DataBlob, &id, &sealed).unwrap(), b"hello");
        assert!(c.open(Purpose::TreeBlob, &id, &sealed).is_none(), "type confusion accepted");
        assert!(c.open(Purpose::DataBlob, &[8u8; 32], &sealed).is_none(), "swapped id accepted");
        assert!(MasterKey::generate().cipher().open(Purpose::DataBlob, &id, &sealed).is_none());
        for i in 0..sealed.len() * 8 {
            let mut bad = sealed.clone();
            bad[i / 8] ^= 1 << (i % 8);
            assert!(c.open(Purpose::DataBlob, &id, &bad).is_none(), "bit {i} flip accepted");
        }
        assert!(c.open(Purpose::DataBlob, &id, &sealed[..sealed.len() - 1]).is_none());
        assert!(c.open(Purpose::DataBlob, &id, &[]).is_none());
    }

    #[test]
    fn nonces_differ() {
        let c = MasterKey::generate().cipher();
        let a = c.seal(Purpose::Index, &NO_ID, b"x");
        let b = c.seal(Purpose::Index, &NO_ID, b"x");
        assert_ne!(a[..24], b[..24]);
    }

    #[test]
    fn debug_is_redacted() {
        let key = MasterKey::from_bytes(&[0xAB; MASTER_KEY_LEN]);
        let s = format!("{key:?} {:?}", key.cipher());
        assert!(!s.to_lowercase().contains("ab, ") && !s.contains("171"), "{s}");
        assert!(s.contains("redacted"));
    }
}
