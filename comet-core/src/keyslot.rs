//! Key slots: the vault's random master key wrapped by a password.
//!
//! A slot is stored under `keys/<id>` (id = BLAKE3 of its bytes) as the codec encoding of
//! [`KeySlot`]. Several slots wrap the same master key, one per password. The wrapping key is
//! Argon2id(password, salt) with the parameters stored in the slot; the wrapped bytes are sealed
//! with XChaCha20-Poly1305 under `Purpose::KeySlot` with the
//! salt as associated id, so a slot's ciphertext cannot be moved into another slot.

use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use crate::codec;
use crate::crypto::kdf::KdfParams;
use crate::crypto::{Cipher, MASTER_KEY_LEN, MasterKey, Purpose, random_bytes};

/// Format version of key slots.
pub const KEY_SLOT_VERSION: u32 = 1;

/// One key slot.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeySlot {
    /// [`KEY_SLOT_VERSION`].
    pub version: u32,
    /// Argon2id parameters for this slot.
    pub kdf: KdfParams,
    /// Random 16-byte salt.
    pub salt: [u8; 16],
    /// The sealed 96-byte master key.
    #[serde(with = "serde_bytes")]
    pub wrapped: Vec<u8>,
    /// When the slot was made, in nanoseconds since the Unix epoch.
    pub created_ns: i64,
    /// Host that made it.
    pub hostname: String,
    /// User that made it.
    pub username: String,
}

fn salt_id(salt: &[u8; 16]) -> [u8; 32] {
    let mut id = [0u8; 32];
    id[..16].copy_from_slice(salt);
    id
}

impl KeySlot {
    /// Wraps `master` with `password`.
    pub fn wrap(master: &MasterKey, password: &[u8], kdf: KdfParams) -> Result<Self, String> {
        let mut salt = [0u8; 16];
        random_bytes(&mut salt);
        let wrapping = kdf.derive(password, &salt)?;
        let mut raw = master.to_bytes();
        let wrapped = Cipher::from_key(&wrapping).seal(Purpose::KeySlot, &salt_id(&salt), &raw);
        raw.zeroize();
        Ok(Self {
            version: KEY_SLOT_VERSION,
            kdf,
            salt,
            wrapped,
            created_ns: crate::snapshot::now_ns(),
            hostname: crate::snapshot::hostname(),
            username: crate::snapshot::username(),
        })
    }

    /// Unwraps the master key; `Ok(None)` when the password is not this slot's.
    ///
    /// The KDF parameters are checked before anything runs.
    pub fn unwrap_key(&self, password: &[u8]) -> Result<Option<MasterKey>, String> {
        if self.version != KEY_SLOT_VERSION {
            return Err(format!("unsupported key slot version {}", self.version));
        }
        let wrapping = self.kdf.derive(password, &self.salt)?;
        let Some(mut raw) = Cipher::from_key(&wrapping).open(Purpose::KeySlot, &salt_id(&self.salt), &self.wrapped)
        else {
            return Ok(None);
        };
        let key = <&[u8; MASTER_KEY_LEN]>::try_from(raw.as_slice()).map(MasterKey::from_bytes);
        raw.zeroize();
        key.map(Some).map_err(|_| "wrapped key has the wrong length".to_owned())
    }

    /// Stored bytes.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Parses stored bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        codec::decode(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_unwrap() {
        let master = MasterKey::generate();
        let slot = KeySlot::wrap(&master, b"secret", KdfParams::FLOOR).unwrap();
        let slot = KeySlot::decode(&slot.encode()).unwrap();
        let back = slot.unwrap_key(b"secret").unwrap().unwrap();
        assert_eq!(back.to_bytes(), master.to_bytes());
        assert!(slot.unwrap_key(b"wrong").unwrap().is_none());
    }
}
