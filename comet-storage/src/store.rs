//! [`ObjectStoreVault`]: the [`Vault`] over the `object_store` crate, which gives Comet local
//! directories, S3-compatible stores, Azure Blob Storage and Google Cloud Storage through one
//! adapter.

mod classify;

use std::fmt;
use std::ops::Range;
use std::path::{Component, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{GetOptions, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use self::classify::{Operation, to_vault_error};
use crate::error::{Error, ErrorKind, Result};
use crate::key::{ObjectKey, ObjectKind};
use crate::vault::{ObjectMeta, Vault};

/// A [`Vault`] over any [`ObjectStore`], optionally under a prefix (a folder of the bucket).
///
/// How the contract is kept:
///
/// - **Create-only**: every put is [`PutMode::Create`]. S3 sends `If-None-Match: *`, Azure and
///   GCS their own conditional headers, the local file system publishes with a hard link (which
///   fails when the name is taken). The store's `AlreadyExists` and `Precondition` answers become
///   [`ErrorKind::AlreadyExists`].
/// - **Atomic**: single-request puts on object stores; on local disks the bytes go to a staging
///   file next to the object first (its name ends in `#<n>`, which no listing returns).
/// - **Durable**: see [`ObjectStoreVault::local`] for local directories; object stores
///   acknowledge a put only once it is stored.
/// - **Ranges**: a range reaching past the end is an [`ErrorKind::Invalid`] error. Object stores
///   answer such a request with the bytes that exist, so the length of every answer is checked.
/// - **Delete** of a missing object is `NotFound`: object stores report success for it, so the
///   object is looked up first. Two concurrent deletes of one object may therefore both succeed.
/// - **Listing** walks the kind's folder (for packs the whole `data/` fan-out), parses each name
///   with [`ObjectKey::parse`] and skips anything else, such as staging files or a `README`.
///
/// Errors are classified from the store's error and its causes: `ENOSPC` anywhere in the chain
/// is [`ErrorKind::NoSpace`], transport failures and HTTP 5xx/429 are
/// [`ErrorKind::Transient`], missing permissions or credentials are [`ErrorKind::Forbidden`].
pub struct ObjectStoreVault {
    store: Arc<dyn ObjectStore>,
    /// Where the vault starts inside the store; empty for the store's root.
    prefix: Path,
    /// Description for humans, without credentials.
    location: String,
}

impl ObjectStoreVault {
    /// A vault at the root of `store`. `location` describes it in messages (a URL or path); it
    /// must not contain credentials.
    pub fn new(store: Arc<dyn ObjectStore>, location: impl Into<String>) -> Self {
        Self { store, prefix: Path::default(), location: location.into() }
    }

    /// Places the vault under `prefix` inside the store (e.g. `tenants/42`), replacing any
    /// previous prefix. Leading and trailing slashes are ignored; empty segments, `.` and `..`
    /// are `Invalid`.
    pub fn with_prefix(mut self, prefix: &str) -> Result<Self> {
        let trimmed = prefix.trim_matches('/');
        self.prefix = Path::parse(trimmed).map_err(|source| {
            Error::new(ErrorKind::Invalid, prefix).with_message("not a valid object prefix").with_source(source)
        })?;
        Ok(self)
    }

    /// A vault in the local directory `dir` (relative paths are resolved against the current
    /// directory now). The directory need not exist: it is created, with its parents, by the
    /// first put.
    ///
    /// Durability: this uses `object_store`'s [`LocalFileSystem`] with
    /// [`with_fsync(true)`](LocalFileSystem::with_fsync). A put writes a staging file created with
    /// `O_EXCL` next to the object, `fsync`s it, hard-links it to the object's name (which fails
    /// if the name is taken, making the put create-only without a check-then-write race), and
    /// `fsync`s the directory (and every directory it had to create), so an acknowledged object
    /// survives a power cut. That is exactly the recipe a hand-written local vault would follow,
    /// so Comet does not keep one of its own. Consequences: the file system must support hard
    /// links (any Unix file system does; some FUSE or SMB mounts do not), a crash can leave a
    /// staging file (`<object>#<n>`) behind, which listings skip, and deletes are not synced
    /// (a deleted object may reappear after a power cut, which prune tolerates).
    pub fn local(dir: impl AsRef<std::path::Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let target = || dir.display().to_string();
        let resolved =
            resolve_dir(dir).map_err(|source| Error::new(ErrorKind::from_io(&source), target()).with_source(source))?;
        let prefix = Path::from_absolute_path(&resolved).map_err(|source| {
            Error::new(ErrorKind::Invalid, target())
                .with_message("cannot be used as a vault directory")
                .with_source(source)
        })?;
        let store = LocalFileSystem::new().with_fsync(true);
        Ok(Self { store: Arc::new(store), prefix, location: resolved.display().to_string() })
    }

    /// The underlying store.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The prefix of the vault inside the store, without leading or trailing slash (empty at
    /// the root).
    pub fn prefix(&self) -> &str {
        self.prefix.as_ref()
    }

    /// Where the object of `key` lives in the store.
    fn object_path(&self, key: &ObjectKey) -> Path {
        self.child_path(&key.path())
    }

    /// `relative` (made of valid path segments) under the prefix.
    fn child_path(&self, relative: &str) -> Path {
        let relative = Path::from(relative);
        self.prefix.parts().chain(relative.parts()).collect()
    }

    /// The key of an object listed at `location`, if it is one of ours.
    fn key_of(&self, location: &Path) -> Option<ObjectKey> {
        let parts: Vec<_> = location.prefix_match(&self.prefix)?.collect();
        let relative = parts.iter().map(AsRef::as_ref).collect::<Vec<&str>>().join("/");
        ObjectKey::parse(&relative).ok()
    }
}

impl fmt::Debug for ObjectStoreVault {
    // Written by hand: the store's own `Debug` may show its configuration, credentials included.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectStoreVault")
            .field("location", &self.location)
            .field("prefix", &self.prefix.as_ref())
            .field("store", &format_args!("{}", self.store))
            .finish()
    }
}

/// The absolute form of `dir`, with symbolic links resolved in the part that exists, and `.`
/// and `..` resolved by name in the part that does not exist yet.
fn resolve_dir(dir: &std::path::Path) -> std::io::Result<PathBuf> {
    let absolute = std::path::absolute(dir)?;
    let components: Vec<Component<'_>> = absolute.components().collect();
    // The longest leading part that exists (the root always does).
    let mut existing = components.len();
    let mut resolved = loop {
        match components[..existing].iter().collect::<PathBuf>().canonicalize() {
            Ok(path) => break path,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound && existing > 1 => {
                existing -= 1;
            }
            Err(error) => return Err(error),
        }
    };
    for component in &components[existing..] {
        match component {
            Component::ParentDir => {
                resolved.pop();
            }
            Component::Normal(name) => resolved.push(name),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    Ok(resolved)
}

fn to_meta(key: ObjectKey, meta: &object_store::ObjectMeta) -> ObjectMeta {
    ObjectMeta { key, size: meta.size, last_modified: Some(SystemTime::from(meta.last_modified)) }
}

fn past_end(target: &str, range: &Range<u64>, size: u64) -> Error {
    Error::new(ErrorKind::Invalid, target)
        .with_message(format!("range {}..{} reaches past the end of the object ({size} bytes)", range.start, range.end))
}

#[async_trait]
impl Vault for ObjectStoreVault {
    async fn put(&self, key: &ObjectKey, data: Bytes) -> Result<()> {
        let options = PutOptions::from(PutMode::Create);
        self.store
            .put_opts(&self.object_path(key), PutPayload::from(data), options)
            .await
            .map(drop)
            .map_err(|error| to_vault_error(error, &key.path(), Operation::Put))
    }

    async fn get(&self, key: &ObjectKey) -> Result<Bytes> {
        let target = key.path();
        let result = self
            .store
            .get(&self.object_path(key))
            .await
            .map_err(|error| to_vault_error(error, &target, Operation::Other))?;
        let size = result.meta.size;
        let data = result.bytes().await.map_err(|error| to_vault_error(error, &target, Operation::Other))?;
        if data.len() as u64 != size {
            return Err(Error::new(ErrorKind::Transient, target)
                .with_message(format!("read {} bytes of an object of {size} bytes", data.len())));
        }
        Ok(data)
    }

    async fn get_range(&self, key: &ObjectKey, range: Range<u64>) -> Result<Bytes> {
        let target = key.path();
        if range.start > range.end {
            return Err(Error::new(ErrorKind::Invalid, target)
                .with_message(format!("range {}..{} is reversed", range.start, range.end)));
        }
        if range.is_empty() {
            // No store can be asked for zero bytes; the range is valid if it is inside the object.
            let size = self.head(key).await?.size;
            return if range.end > size { Err(past_end(&target, &range, size)) } else { Ok(Bytes::new()) };
        }
        let options = GetOptions::new().with_range(Some(range.clone()));
        let result = match self.store.get_opts(&self.object_path(key), options).await {
            Ok(result) => result,
            Err(error) => {
                let error = to_vault_error(error, &target, Operation::Other);
                if matches!(error.kind(), ErrorKind::Permanent | ErrorKind::Invalid) {
                    // Stores refuse a range starting past the end in their own ways (HTTP 416,
                    // an I/O "out of range"): the size tells whether that was the reason.
                    if let Ok(meta) = self.head(key).await
                        && range.end > meta.size
                    {
                        return Err(past_end(&target, &range, meta.size).with_source(error));
                    }
                }
                return Err(error);
            }
        };
        // Stores clip a range that starts inside the object and ends past it.
        if result.range != range || result.meta.size < range.end {
            return Err(past_end(&target, &range, result.meta.size));
        }
        let data = result.bytes().await.map_err(|error| to_vault_error(error, &target, Operation::Other))?;
        let expected = range.end - range.start;
        if data.len() as u64 != expected {
            return Err(Error::new(ErrorKind::Transient, target)
                .with_message(format!("read {} bytes of a range of {expected} bytes", data.len())));
        }
        Ok(data)
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta> {
        let meta = self
            .store
            .head(&self.object_path(key))
            .await
            .map_err(|error| to_vault_error(error, &key.path(), Operation::Other))?;
        Ok(to_meta(*key, &meta))
    }

    async fn list(&self, kind: ObjectKind) -> Result<Vec<ObjectMeta>> {
        if kind == ObjectKind::Config {
            return match self.head(&ObjectKey::CONFIG).await {
                Ok(meta) => Ok(vec![meta]),
                Err(error) if error.is_not_found() => Ok(Vec::new()),
                Err(error) => Err(error),
            };
        }
        let folder = self.child_path(kind.prefix());
        let mut listing = self.store.list(Some(&folder));
        let mut found = Vec::new();
        while let Some(entry) = listing.next().await {
            match entry {
                Ok(meta) => match self.key_of(&meta.location) {
                    Some(key) if key.kind() == kind => found.push(to_meta(key, &meta)),
                    _ => {
                        tracing::debug!(
                            vault = %self.location,
                            path = %meta.location,
                            "skipping foreign object"
                        );
                    }
                },
                // A name the store cannot even represent is not one of ours either.
                Err(object_store::Error::InvalidPath { source }) => {
                    tracing::debug!(vault = %self.location, %source, "skipping foreign object");
                }
                Err(error) => return Err(to_vault_error(error, kind.prefix(), Operation::Other)),
            }
        }
        Ok(found)
    }

    async fn delete(&self, key: &ObjectKey) -> Result<()> {
        // Object stores answer a delete of a missing object with success; the contract wants
        // NotFound, so look first.
        self.head(key).await?;
        self.store
            .delete(&self.object_path(key))
            .await
            .map_err(|error| to_vault_error(error, &key.path(), Operation::Other))
    }

    fn location(&self) -> String {
        self.location.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_directories_resolve_by_name() {
        let base = std::env::temp_dir().canonicalize().unwrap();
        let dir = base.join("comet-missing-a").join(".").join("b").join("..").join("c");
        assert_eq!(resolve_dir(&dir).unwrap(), base.join("comet-missing-a").join("c"));
    }

    #[test]
    fn prefixes_are_validated() {
        let store: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
        let vault = ObjectStoreVault::new(Arc::clone(&store), "memory").with_prefix("/a/b/").unwrap();
        assert_eq!(vault.prefix(), "a/b");
        assert_eq!(vault.object_path(&ObjectKey::CONFIG).as_ref(), "a/b/config");
        for bad in ["a//b", "a/../b", "./a"] {
            let error = ObjectStoreVault::new(Arc::clone(&store), "memory").with_prefix(bad).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::Invalid, "{bad}");
        }
    }

    #[test]
    fn listed_names_are_parsed_strictly() {
        let store: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
        let vault = ObjectStoreVault::new(store, "memory").with_prefix("p").unwrap();
        let key = ObjectKey::pack(crate::ObjectId::of(b"x"));
        assert_eq!(vault.key_of(&vault.object_path(&key)), Some(key));
        assert_eq!(vault.key_of(&Path::from(key.path())), None, "outside the prefix");
        assert_eq!(vault.key_of(&Path::from(format!("p/{}.tmp", key.path()))), None);
    }
}
