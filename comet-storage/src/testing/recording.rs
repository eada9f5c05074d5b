//! [`RecordingVault`]: a vault wrapper that logs every call, for tests about call order (packs
//! before index before snapshot) and about what was uploaded.

use std::fmt;
use std::ops::Range;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use bytes::Bytes;

use super::faulty::Operation;
use crate::error::{ErrorKind, Result};
use crate::key::{ObjectKey, ObjectKind};
use crate::vault::{ObjectMeta, Vault};

/// One call seen by a [`RecordingVault`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedCall {
    /// The method called.
    pub operation: Operation,
    /// The kind of object concerned (for a listing, the kind listed).
    pub kind: ObjectKind,
    /// The key, for every call but [`Operation::List`].
    pub key: Option<ObjectKey>,
    /// Bytes put or read; for a listing, the number of objects listed; `None` on failure and
    /// for head and delete.
    pub size: Option<u64>,
    /// `Ok(())`, or the kind of the error the call returned.
    pub outcome: Result<(), ErrorKind>,
}

/// A [`Vault`] wrapper that records every call, in the order the calls completed.
pub struct RecordingVault<V> {
    inner: V,
    calls: Mutex<Vec<RecordedCall>>,
}

impl<V: Vault> RecordingVault<V> {
    /// Wraps `inner` with an empty log.
    pub fn new(inner: V) -> Self {
        Self { inner, calls: Mutex::new(Vec::new()) }
    }

    /// The wrapped vault.
    pub fn inner(&self) -> &V {
        &self.inner
    }

    /// A copy of the log.
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.lock().clone()
    }

    /// The keys successfully put, in order.
    pub fn puts(&self) -> Vec<ObjectKey> {
        self.lock()
            .iter()
            .filter(|call| call.operation == Operation::Put && call.outcome.is_ok())
            .filter_map(|call| call.key)
            .collect()
    }

    /// Empties the log.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<RecordedCall>> {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn record<T>(
        &self,
        operation: Operation,
        kind: ObjectKind,
        key: Option<&ObjectKey>,
        result: &Result<T>,
        size: impl FnOnce(&T) -> Option<u64>,
    ) {
        let call = RecordedCall {
            operation,
            kind,
            key: key.copied(),
            size: result.as_ref().ok().and_then(size),
            outcome: result.as_ref().map(|_| ()).map_err(crate::Error::kind),
        };
        self.lock().push(call);
    }
}

impl<V: Vault> fmt::Debug for RecordingVault<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordingVault").field("inner", &self.inner).field("calls", &self.lock().len()).finish()
    }
}

#[async_trait]
impl<V: Vault> Vault for RecordingVault<V> {
    async fn put(&self, key: &ObjectKey, data: Bytes) -> Result<()> {
        let size = data.len() as u64;
        let result = self.inner.put(key, data).await;
        self.record(Operation::Put, key.kind(), Some(key), &result, |()| Some(size));
        result
    }

    async fn get(&self, key: &ObjectKey) -> Result<Bytes> {
        let result = self.inner.get(key).await;
        self.record(Operation::Get, key.kind(), Some(key), &result, |data| Some(data.len() as u64));
        result
    }

    async fn get_range(&self, key: &ObjectKey, range: Range<u64>) -> Result<Bytes> {
        let result = self.inner.get_range(key, range).await;
        self.record(Operation::GetRange, key.kind(), Some(key), &result, |data| Some(data.len() as u64));
        result
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta> {
        let result = self.inner.head(key).await;
        self.record(Operation::Head, key.kind(), Some(key), &result, |_| None);
        result
    }

    async fn list(&self, kind: ObjectKind) -> Result<Vec<ObjectMeta>> {
        let result = self.inner.list(kind).await;
        self.record(Operation::List, kind, None, &result, |listing| Some(listing.len() as u64));
        result
    }

    async fn delete(&self, key: &ObjectKey) -> Result<()> {
        let result = self.inner.delete(key).await;
        self.record(Operation::Delete, key.kind(), Some(key), &result, |()| None);
        result
    }

    fn location(&self) -> String {
        self.inner.location()
    }
}
