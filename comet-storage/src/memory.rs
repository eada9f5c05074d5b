//! [`InMemoryVault`]: a complete vault in a map, for tests, examples and embedding.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::{Error, ErrorKind, Result};
use crate::key::{ObjectKey, ObjectKind};
use crate::vault::{ObjectMeta, Vault};

/// One stored object: its bytes and when they were written.
#[derive(Clone, Debug)]
struct StoredObject {
    data: Bytes,
    written: SystemTime,
}

/// A vault held in memory: a sorted map from [`ObjectKey`] to bytes behind a lock.
///
/// It keeps the whole [`Vault`] contract except durability (everything is gone when it is
/// dropped): puts are create-only and atomic (an object is inserted whole, under the lock),
/// reads hand out cheap clones of the stored [`Bytes`]. Besides the trait it offers a few
/// inspection methods that tests use ([`len`](Self::len), [`total_bytes`](Self::total_bytes),
/// [`keys`](Self::keys)) and one tampering hook, [`raw_replace`](Self::raw_replace).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use bytes::Bytes;
/// use comet_storage::{InMemoryVault, ObjectId, ObjectKey, Vault};
///
/// let vault = InMemoryVault::new();
/// let key = ObjectKey::pack(ObjectId::of(b"pack"));
/// vault.put(&key, Bytes::from_static(b"pack")).await?;
/// assert!(vault.put(&key, Bytes::from_static(b"other")).await.unwrap_err().is_already_exists());
/// assert_eq!(vault.get(&key).await?, "pack");
/// assert_eq!(vault.total_bytes(), 4);
/// # Ok::<(), comet_storage::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Default)]
pub struct InMemoryVault {
    objects: RwLock<BTreeMap<ObjectKey, StoredObject>>,
}

impl InMemoryVault {
    /// An empty vault.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of objects stored.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether no object is stored.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// Sum of the sizes of all stored objects, in bytes.
    pub fn total_bytes(&self) -> u64 {
        self.read().values().map(|object| object.data.len() as u64).sum()
    }

    /// Every stored key, sorted (by kind, then id).
    pub fn keys(&self) -> Vec<ObjectKey> {
        self.read().keys().copied().collect()
    }

    /// Whether an object is stored under `key`.
    pub fn contains(&self, key: &ObjectKey) -> bool {
        self.read().contains_key(key)
    }

    /// For tests: stores `data` under `key` whether or not the key is taken, bypassing the
    /// create-only rule. Tampering and corruption tests use it to rewrite stored objects.
    /// Returns the bytes that were replaced, if any.
    pub fn raw_replace(&self, key: &ObjectKey, data: Bytes) -> Option<Bytes> {
        let object = StoredObject { data, written: SystemTime::now() };
        self.write().insert(*key, object).map(|old| old.data)
    }

    fn read(&self) -> RwLockReadGuard<'_, BTreeMap<ObjectKey, StoredObject>> {
        // A panic while holding the lock cannot leave the map half-updated (every update is a
        // single insert or remove), so a poisoned lock is safe to keep using.
        self.objects.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<ObjectKey, StoredObject>> {
        self.objects.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn object(&self, key: &ObjectKey) -> Result<StoredObject> {
        self.read().get(key).cloned().ok_or_else(|| Error::new(ErrorKind::NotFound, key.path()))
    }
}

fn meta(key: ObjectKey, object: &StoredObject) -> ObjectMeta {
    ObjectMeta { key, size: object.data.len() as u64, last_modified: Some(object.written) }
}

/// The part of `data` covered by `range`, or an `Invalid` error naming `target` when the range
/// is reversed or reaches past the end.
pub(crate) fn slice_range(data: &Bytes, range: &Range<u64>, target: &str) -> Result<Bytes> {
    let size = data.len() as u64;
    if range.start > range.end || range.end > size {
        return Err(Error::new(ErrorKind::Invalid, target)
            .with_message(format!("range {}..{} is outside the object of {size} bytes", range.start, range.end)));
    }
    // Both bounds are at most `data.len()`, so they fit in usize.
    Ok(data.slice(range.start as usize..range.end as usize))
}

#[async_trait]
impl Vault for InMemoryVault {
    async fn put(&self, key: &ObjectKey, data: Bytes) -> Result<()> {
        let mut objects = self.write();
        if objects.contains_key(key) {
            return Err(Error::new(ErrorKind::AlreadyExists, key.path()));
        }
        objects.insert(*key, StoredObject { data, written: SystemTime::now() });
        Ok(())
    }

    async fn get(&self, key: &ObjectKey) -> Result<Bytes> {
        Ok(self.object(key)?.data)
    }

    async fn get_range(&self, key: &ObjectKey, range: Range<u64>) -> Result<Bytes> {
        let object = self.object(key)?;
        slice_range(&object.data, &range, &key.path())
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta> {
        Ok(meta(*key, &self.object(key)?))
    }

    async fn list(&self, kind: ObjectKind) -> Result<Vec<ObjectMeta>> {
        Ok(self.read().iter().filter(|(key, _)| key.kind() == kind).map(|(key, object)| meta(*key, object)).collect())
    }

    async fn delete(&self, key: &ObjectKey) -> Result<()> {
        match self.write().remove(key) {
            Some(_) => Ok(()),
            None => Err(Error::new(ErrorKind::NotFound, key.path())),
        }
    }

    fn location(&self) -> String {
        "memory://".to_owned()
    }
}
