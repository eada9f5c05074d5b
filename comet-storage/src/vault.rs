//! The [`Vault`] trait: the only way Comet touches stored bytes.

use std::fmt::Debug;
use std::ops::Range;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::Result;
use crate::key::{ObjectKey, ObjectKind};

/// What a vault knows about one stored object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Where the object is.
    pub key: ObjectKey,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written, if the backend reports it.
    pub last_modified: Option<SystemTime>,
}

/// A storage vault: a flat, create-only store of immutable objects addressed by [`ObjectKey`].
///
/// # Contract
/// Every implementation must pass the conformance suite (`testing::conformance`, behind the
/// `testing` feature). In words:
///
/// - **Create-only.** [`put`](Vault::put) never replaces an object: when the key exists it fails
///   with [`ErrorKind::AlreadyExists`](crate::ErrorKind::AlreadyExists) and leaves the stored
///   object untouched. Writing the same bytes twice is therefore detectable, never silent.
/// - **Atomic.** A reader sees either no object or the whole object, never a prefix. A put that
///   fails or is interrupted leaves no object behind.
/// - **Durable.** When `put` returns `Ok`, the object survives a crash of the process and, for
///   local disks, of the machine (files and their directory are synced).
/// - **Idempotent reads and deletes.** `get`, `head` and `list` do not change anything;
///   `delete` of a missing object is `NotFound` and changes nothing.
/// - **Listing** returns the objects of one kind that were completely written when the listing
///   started; objects written during the listing may or may not appear.
/// - Implementations are `Send + Sync` and every method may be called concurrently.
///
/// The trait is object-safe: callers hold an `Arc<dyn Vault>` and layers wrap one another.
#[async_trait]
pub trait Vault: Send + Sync + Debug + 'static {
    /// Stores `data` under `key`, failing with `AlreadyExists` if the key is taken.
    async fn put(&self, key: &ObjectKey, data: Bytes) -> Result<()>;

    /// Reads a whole object.
    async fn get(&self, key: &ObjectKey) -> Result<Bytes>;

    /// Reads `range` of an object. A range reaching past the end is an `Invalid` error, never a
    /// short read.
    async fn get_range(&self, key: &ObjectKey, range: Range<u64>) -> Result<Bytes>;

    /// Size and modification time of an object.
    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta>;

    /// Every object of `kind`, in no particular order. Foreign files in the kind's folder (names
    /// that are not valid object keys) are skipped.
    async fn list(&self, kind: ObjectKind) -> Result<Vec<ObjectMeta>>;

    /// Removes an object.
    async fn delete(&self, key: &ObjectKey) -> Result<()>;

    /// A short description of where the vault is (path or URL, without credentials).
    fn location(&self) -> String;
}

#[async_trait]
impl<V: Vault + ?Sized> Vault for Arc<V> {
    async fn put(&self, key: &ObjectKey, data: Bytes) -> Result<()> {
        (**self).put(key, data).await
    }
    async fn get(&self, key: &ObjectKey) -> Result<Bytes> {
        (**self).get(key).await
    }
    async fn get_range(&self, key: &ObjectKey, range: Range<u64>) -> Result<Bytes> {
        (**self).get_range(key, range).await
    }
    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta> {
        (**self).head(key).await
    }
    async fn list(&self, kind: ObjectKind) -> Result<Vec<ObjectMeta>> {
        (**self).list(kind).await
    }
    async fn delete(&self, key: &ObjectKey) -> Result<()> {
        (**self).delete(key).await
    }
    fn location(&self) -> String {
        (**self).location()
    }
}
