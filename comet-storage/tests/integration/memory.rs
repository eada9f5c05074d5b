//! `InMemoryVault`: the contract, and the inspection and tampering methods tests rely on.

use std::sync::Arc;

use bytes::Bytes;
use comet_storage::testing::conformance;
use comet_storage::{ErrorKind, InMemoryVault, ObjectId, ObjectKey, ObjectKind, Vault};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_vault_conforms() {
    conformance::run(Arc::new(InMemoryVault::new())).await;
}

#[tokio::test]
async fn in_memory_vault_counts_objects_and_bytes() {
    let vault = InMemoryVault::new();
    assert!(vault.is_empty());
    let pack = ObjectKey::pack(ObjectId::of(b"pack"));
    let index = ObjectKey::new(ObjectKind::Index, ObjectId::of(b"index"));
    vault.put(&pack, Bytes::from_static(b"12345")).await.unwrap();
    vault.put(&index, Bytes::from_static(b"123")).await.unwrap();
    assert_eq!(vault.len(), 2);
    assert_eq!(vault.total_bytes(), 8);
    assert_eq!(vault.keys(), vec![pack, index], "sorted by kind, then id");
    assert!(vault.contains(&pack));
    vault.delete(&pack).await.unwrap();
    assert_eq!((vault.len(), vault.total_bytes()), (1, 3));
    assert_eq!(vault.location(), "memory://");
}

#[tokio::test]
async fn raw_replace_bypasses_create_only() {
    let vault = InMemoryVault::new();
    let key = ObjectKey::new(ObjectKind::Snapshot, ObjectId::of(b"snapshot"));
    assert_eq!(vault.raw_replace(&key, Bytes::from_static(b"planted")), None);
    let error = vault.put(&key, Bytes::from_static(b"honest")).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::AlreadyExists);
    let old = vault.raw_replace(&key, Bytes::from_static(b"tampered"));
    assert_eq!(old.as_deref(), Some(&b"planted"[..]));
    assert_eq!(vault.get(&key).await.unwrap(), "tampered");
}
