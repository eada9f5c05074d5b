//! The vault config: the one `config` object, sealed with the master key.
//!
//! It is written last by `init` (after a key slot), so its presence means the vault is ready.

use serde::{Deserialize, Serialize};

use crate::blob::DEFAULT_COMPRESSION_LEVEL;
use crate::chunker::ChunkerParams;
use crate::codec;
use crate::crypto::{Cipher, NO_ID, Purpose};
use crate::pack::DEFAULT_PACK_SIZE;

/// Vault format version written by this build.
pub const FORMAT_VERSION: u32 = 1;

/// Settings fixed when a vault is created.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultConfig {
    /// [`FORMAT_VERSION`].
    pub version: u32,
    /// Random id of the vault.
    pub vault_id: [u8; 16],
    /// Chunk size bounds.
    pub chunker: ChunkerParams,
    /// Target pack size in bytes.
    pub pack_size: u32,
    /// zstd level for new blobs (0 = none).
    pub compression_level: i32,
    /// Creation time, ns since the epoch.
    pub created_ns: i64,
}

impl VaultConfig {
    /// A config with a fresh random id and default settings.
    pub fn new() -> Self {
        let mut vault_id = [0u8; 16];
        crate::crypto::random_bytes(&mut vault_id);
        Self {
            version: FORMAT_VERSION,
            vault_id,
            chunker: ChunkerParams::DEFAULT,
            pack_size: DEFAULT_PACK_SIZE,
            compression_level: DEFAULT_COMPRESSION_LEVEL,
            created_ns: crate::snapshot::now_ns(),
        }
    }

    /// Checks the settings are usable.
    pub fn check(&self) -> Result<(), String> {
        if self.version != FORMAT_VERSION {
            return Err(format!("unsupported vault format version {}", self.version));
        }
        self.chunker.check()?;
        // Up to 128 MiB (restic's maximum): pack headers stay far below their 64 MiB limit.
        if !(1 << 20..=128 << 20).contains(&self.pack_size) {
            return Err(format!("pack size {} out of bounds", self.pack_size));
        }
        if !(0..=22).contains(&self.compression_level) {
            return Err(format!("compression level {} out of bounds", self.compression_level));
        }
        Ok(())
    }

    /// Stored bytes.
    pub fn seal(&self, cipher: &Cipher) -> Vec<u8> {
        cipher.seal(Purpose::Config, &NO_ID, &codec::encode(self))
    }

    /// Opens and checks stored bytes; `None` if they were not sealed by this key.
    pub fn open(cipher: &Cipher, stored: &[u8]) -> Option<Result<Self, String>> {
        let plain = cipher.open(Purpose::Config, &NO_ID, stored)?;
        Some(codec::decode::<Self>(&plain).and_then(|c| c.check().map(|()| c)))
    }

    /// Hex form of the vault id.
    pub fn id_hex(&self) -> String {
        hex::encode(self.vault_id)
    }
}

impl Default for VaultConfig {
    fn default() -> Self {
        Self::new()
    }
}
