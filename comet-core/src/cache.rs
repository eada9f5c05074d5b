//! A local cache of objects that are read often and change never: index files, snapshots and
//! tree packs. Objects are content-addressed (id = BLAKE3 of the bytes), so an entry is valid
//! forever; every read re-checks the hash, so a damaged cache costs a download, never a wrong
//! answer.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use comet_storage::{ObjectId, ObjectKey};

/// The cache directory of one vault: `<root>/<vault id>/<object path>`.
#[derive(Clone, Debug)]
pub(crate) struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// The cache of vault `vault_id` under `root` (created on first write).
    pub(crate) fn new(root: &Path, vault_id: &str) -> Self {
        Self { dir: root.join(vault_id) }
    }

    fn path(&self, key: &ObjectKey) -> PathBuf {
        self.dir.join(key.path())
    }

    /// The cached bytes of `key`, if present and intact.
    pub(crate) fn get(&self, key: &ObjectKey) -> Option<Bytes> {
        let path = self.path(key);
        let bytes = fs::read(&path).ok()?;
        if ObjectId::of(&bytes) == key.id() {
            Some(Bytes::from(bytes))
        } else {
            let _ = fs::remove_file(&path);
            None
        }
    }

    /// Stores `bytes` for `key`. Failures are ignored: the cache is an optimisation.
    pub(crate) fn put(&self, key: &ObjectKey, bytes: &[u8]) {
        let path = self.path(key);
        let Some(parent) = path.parent() else { return };
        if fs::create_dir_all(parent).is_err() {
            return;
        }
        let Ok(mut tmp) = tempfile_in(parent) else { return };
        if tmp.1.write_all(bytes).is_ok() {
            let _ = fs::rename(&tmp.0, &path);
        } else {
            let _ = fs::remove_file(&tmp.0);
        }
    }

    /// Drops the entry of `key`, if any. Failures are ignored: an entry that stays is only
    /// unused space, since reads always go through a listing of the vault.
    pub(crate) fn remove(&self, key: &ObjectKey) {
        let _ = fs::remove_file(self.path(key));
    }
}

fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, fs::File)> {
    let mut name = [0u8; 8];
    crate::crypto::random_bytes(&mut name);
    let path = dir.join(format!(".tmp-{}", hex::encode(name)));
    let file = fs::OpenOptions::new().write(true).create_new(true).open(&path)?;
    Ok((path, file))
}

#[cfg(test)]
mod tests {
    use super::*;
    use comet_storage::ObjectKind;

    #[test]
    fn verifies_on_read() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path(), "v");
        let key = ObjectKey::new(ObjectKind::Index, ObjectId::of(b"abc"));
        assert!(cache.get(&key).is_none());
        cache.put(&key, b"abc");
        assert_eq!(cache.get(&key).unwrap(), Bytes::from_static(b"abc"));
        fs::write(cache.path(&key), b"abd").unwrap();
        assert!(cache.get(&key).is_none(), "damaged entry served");
        cache.put(&key, b"abc");
        cache.remove(&key);
        assert!(cache.get(&key).is_none(), "removed entry served");
        cache.remove(&key);
    }
}
