//! Managing key slots: listing them, adding a password, removing one, changing the password.
//!
//! Every slot wraps the same master key, so adding or removing a slot re-encrypts nothing. The
//! slot that opened a [`Repository`] is never removed through it, and neither is the last slot:
//! either would leave a vault nobody can open.

use comet_storage::{ObjectKey, ObjectKind};

use super::{Repository, read_slots};
use crate::crypto::kdf::KdfParams;
use crate::error::{Error, Result};
use crate::id::ObjectId;

/// One key slot, as [`Repository::list_keys`] shows it (nothing secret).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyInfo {
    /// The slot's id (`keys/<id>`).
    pub id: ObjectId,
    /// When the slot was made, ns since the epoch.
    pub created_ns: i64,
    /// Host that made it.
    pub hostname: String,
    /// User that made it.
    pub username: String,
    /// Its Argon2id cost.
    pub kdf: KdfParams,
    /// Whether this repository was opened with this slot.
    pub current: bool,
}

impl Repository {
    /// The key slot this repository was opened (or created) with.
    pub fn key_id(&self) -> ObjectId {
        self.key_id
    }

    /// Every key slot, oldest first.
    pub async fn list_keys(&self) -> Result<Vec<KeyInfo>> {
        let mut keys: Vec<KeyInfo> = read_slots(&self.vault)
            .await?
            .into_iter()
            .map(|(id, slot)| KeyInfo {
                id,
                created_ns: slot.created_ns,
                hostname: slot.hostname,
                username: slot.username,
                kdf: slot.kdf,
                current: id == self.key_id,
            })
            .collect();
        keys.sort_by(|a, b| a.created_ns.cmp(&b.created_ns).then(a.id.cmp(&b.id)));
        Ok(keys)
    }

    /// Resolves a full id or a prefix of at least 4 hex characters to one key slot.
    pub async fn find_key(&self, reference: &str) -> Result<ObjectId> {
        let err = |reason: &str| Error::InvalidOption(format!("key {reference:?}: {reason}"));
        if reference.len() < 4 || !reference.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(err("give at least 4 hex characters of a key id"));
        }
        let lower = reference.to_ascii_lowercase();
        let listed = self.vault.list(ObjectKind::Key).await?;
        let mut found = listed.iter().map(|m| m.key.id()).filter(|id| id.to_hex().starts_with(&lower));
        match (found.next(), found.next()) {
            (Some(one), None) => Ok(one),
            (None, _) => Err(err("no key slot has this id")),
            (Some(_), Some(_)) => Err(err("more than one key slot matches: give more characters")),
        }
    }

    /// Removes the key slot `reference` (a full id or a prefix of at least 4 hex characters).
    ///
    /// # Errors
    /// [`Error::InvalidOption`] when no slot or several match, when the slot is the one this
    /// repository was opened with, or when it is the last slot of the vault.
    pub async fn remove_key(&self, reference: &str) -> Result<ObjectId> {
        let id = self.find_key(reference).await?;
        if id == self.key_id {
            return Err(Error::InvalidOption(format!(
                "refusing to remove key {}: it is the key currently used to open the vault (use another password)",
                id.short()
            )));
        }
        if self.vault.list(ObjectKind::Key).await?.len() <= 1 {
            return Err(Error::InvalidOption(format!(
                "refusing to remove key {}: it is the last key of the vault",
                id.short()
            )));
        }
        self.vault.delete(&ObjectKey::new(ObjectKind::Key, id)).await?;
        Ok(id)
    }

    /// Replaces the password this repository was opened with by `new_password`: adds a slot for
    /// it, then removes the current slot, and from then on uses the new one. Returns the new
    /// slot's id.
    ///
    /// The new slot is written first, so a crash in between leaves both passwords working,
    /// never none. When the removal fails, the new slot is already the current one and the
    /// error is returned; the old slot is still there.
    pub async fn change_password(&mut self, new_password: &[u8], kdf: KdfParams) -> Result<ObjectId> {
        let old = self.key_id;
        let new = self.add_key(new_password, kdf).await?;
        self.key_id = new;
        match self.vault.delete(&ObjectKey::new(ObjectKind::Key, old)).await {
            Ok(()) => Ok(new),
            // Somebody else removed it already: the outcome is the same.
            Err(e) if e.is_not_found() => Ok(new),
            Err(e) => Err(e.into()),
        }
    }
}
