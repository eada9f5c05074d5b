//! `RecordingVault`: the log of calls, in order, with sizes and outcomes.

use bytes::Bytes;
use comet_storage::testing::{Operation, RecordedCall, RecordingVault};
use comet_storage::{ErrorKind, InMemoryVault, ObjectId, ObjectKey, ObjectKind, Vault};

#[tokio::test]
async fn every_call_is_recorded_in_order() {
    let vault = RecordingVault::new(InMemoryVault::new());
    let pack = ObjectKey::pack(ObjectId::of(b"pack"));
    let index = ObjectKey::new(ObjectKind::Index, ObjectId::of(b"index"));
    vault.put(&pack, Bytes::from_static(b"12345")).await.unwrap();
    vault.put(&index, Bytes::from_static(b"12")).await.unwrap();
    vault.put(&index, Bytes::from_static(b"12")).await.unwrap_err();
    vault.get_range(&pack, 1..3).await.unwrap();
    vault.list(ObjectKind::Pack).await.unwrap();
    vault.delete(&pack).await.unwrap();

    assert_eq!(vault.puts(), vec![pack, index]);
    let calls = vault.calls();
    assert_eq!(calls.len(), 6);
    assert_eq!(
        calls[2],
        RecordedCall {
            operation: Operation::Put,
            kind: ObjectKind::Index,
            key: Some(index),
            size: None,
            outcome: Err(ErrorKind::AlreadyExists),
        }
    );
    assert_eq!((calls[3].operation, calls[3].size), (Operation::GetRange, Some(2)));
    assert_eq!((calls[4].operation, calls[4].key, calls[4].size), (Operation::List, None, Some(1)));
    vault.clear();
    assert!(vault.calls().is_empty());
}
