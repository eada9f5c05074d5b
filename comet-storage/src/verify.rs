//! Checking objects at rest without any key.
//!
//! Every object but `config` is named by the BLAKE3 hash of its stored bytes, so whoever holds
//! the bytes (a storage server, a monitoring job) can tell a damaged object from a sound one
//! without being able to read it.

use crate::error::Result;
use crate::key::{ObjectId, ObjectKey, ObjectKind};
use crate::vault::Vault;

/// What [`verify_object`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashCheck {
    /// The bytes hash to the object's name.
    Sound,
    /// They do not: the object was damaged or replaced.
    Mismatch {
        /// The hash of the bytes read.
        actual: ObjectId,
    },
    /// The object is not named by a hash (`config`): nothing to check without a key.
    NotHashNamed,
}

/// Reads `key` and compares the hash of its bytes with its name.
pub async fn verify_object(vault: &dyn Vault, key: &ObjectKey) -> Result<HashCheck> {
    if key.kind() == ObjectKind::Config {
        return Ok(HashCheck::NotHashNamed);
    }
    let bytes = vault.get(key).await?;
    let actual = ObjectId::of(&bytes);
    Ok(if actual == key.id() { HashCheck::Sound } else { HashCheck::Mismatch { actual } })
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::InMemoryVault;

    #[tokio::test]
    async fn sound_damaged_and_config() {
        let vault = InMemoryVault::new();
        let good = ObjectKey::pack(ObjectId::of(b"pack bytes"));
        vault.put(&good, Bytes::from_static(b"pack bytes")).await.unwrap();
        assert_eq!(verify_object(&vault, &good).await.unwrap(), HashCheck::Sound);
        vault.raw_replace(&good, Bytes::from_static(b"pack bytez"));
        assert_eq!(
            verify_object(&vault, &good).await.unwrap(),
            HashCheck::Mismatch { actual: ObjectId::of(b"pack bytez") }
        );
        vault.put(&ObjectKey::CONFIG, Bytes::from_static(b"sealed")).await.unwrap();
        assert_eq!(verify_object(&vault, &ObjectKey::CONFIG).await.unwrap(), HashCheck::NotHashNamed);
        let missing = ObjectKey::pack(ObjectId::of(b"none"));
        assert!(verify_object(&vault, &missing).await.unwrap_err().is_not_found());
    }
}
