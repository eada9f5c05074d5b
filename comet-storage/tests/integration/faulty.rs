//! `FaultyVault`: every kind of fault, the call-index and key filters, and the counters.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use comet_storage::testing::{BitFlip, Fault, FaultRule, FaultyVault, Operation, conformance};
use comet_storage::{ErrorKind, InMemoryVault, ObjectId, ObjectKey, ObjectKind, Vault};

fn pack(name: &str) -> ObjectKey {
    ObjectKey::pack(ObjectId::of(name.as_bytes()))
}

async fn vault_with(objects: &[(&ObjectKey, &'static [u8])]) -> FaultyVault<InMemoryVault> {
    let inner = InMemoryVault::new();
    for (key, data) in objects {
        inner.put(key, Bytes::from_static(data)).await.unwrap();
    }
    FaultyVault::new(inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faulty_vault_without_faults_conforms() {
    conformance::run(Arc::new(FaultyVault::new(InMemoryVault::new()))).await;
}

#[tokio::test]
async fn errors_hit_the_chosen_calls_only() {
    let key = pack("a");
    let vault = vault_with(&[(&key, b"data")]).await;
    vault.inject(FaultRule::new(Operation::Get, Fault::Error(ErrorKind::Transient)).on_calls(1..3));
    let outcomes: Vec<_> = futures_outcomes(&vault, &key, 5).await;
    assert_eq!(outcomes, [None, Some(ErrorKind::Transient), Some(ErrorKind::Transient), None, None]);
    assert_eq!(vault.calls(Operation::Get), 5, "failed calls are counted too");
}

async fn futures_outcomes(vault: &FaultyVault<InMemoryVault>, key: &ObjectKey, calls: usize) -> Vec<Option<ErrorKind>> {
    let mut outcomes = Vec::new();
    for _ in 0..calls {
        outcomes.push(vault.get(key).await.err().map(|error| error.kind()));
    }
    outcomes
}

#[tokio::test]
async fn rules_can_target_a_key_or_a_kind() {
    let (a, b) = (pack("a"), pack("b"));
    let snapshot = ObjectKey::new(ObjectKind::Snapshot, ObjectId::of(b"s"));
    let vault = vault_with(&[(&a, b"a"), (&b, b"b"), (&snapshot, b"s")]).await;
    vault.inject(FaultRule::new(Operation::Get, Fault::Error(ErrorKind::Permanent)).for_key(b));
    vault.inject(FaultRule::new(Operation::Head, Fault::Error(ErrorKind::Forbidden)).for_kind(ObjectKind::Snapshot));
    vault.inject(FaultRule::new(Operation::List, Fault::Error(ErrorKind::Transient)).for_kind(ObjectKind::Index));
    assert!(vault.get(&a).await.is_ok());
    assert_eq!(vault.get(&b).await.unwrap_err().kind(), ErrorKind::Permanent);
    assert!(vault.head(&a).await.is_ok());
    assert_eq!(vault.head(&snapshot).await.unwrap_err().kind(), ErrorKind::Forbidden);
    assert_eq!(vault.list(ObjectKind::Pack).await.unwrap().len(), 2);
    assert_eq!(vault.list(ObjectKind::Index).await.unwrap_err().kind(), ErrorKind::Transient);
    vault.clear_faults();
    assert!(vault.get(&b).await.is_ok());
}

#[tokio::test]
async fn call_indexes_count_matching_calls_from_when_the_rule_was_added() {
    let (a, b) = (pack("a"), pack("b"));
    let vault = vault_with(&[(&a, b"a"), (&b, b"b")]).await;
    vault.get(&b).await.unwrap();
    vault.inject(FaultRule::new(Operation::Get, Fault::Error(ErrorKind::Transient)).for_key(b).on_call(1));
    vault.get(&a).await.unwrap();
    vault.get(&b).await.unwrap();
    vault.get(&a).await.unwrap();
    assert_eq!(vault.get(&b).await.unwrap_err().kind(), ErrorKind::Transient, "second get of b since the rule");
    vault.get(&b).await.unwrap();
}

#[tokio::test]
async fn full_disk_after_n_puts() {
    let vault = FaultyVault::new(InMemoryVault::new());
    vault.fail_puts_after(3, ErrorKind::NoSpace);
    for name in ["1", "2", "3"] {
        vault.put(&pack(name), Bytes::from_static(b"12345")).await.unwrap();
    }
    let error = vault.put(&pack("4"), Bytes::from_static(b"12345")).await.unwrap_err();
    assert!(error.is_no_space(), "{error}");
    assert!(vault.put(&pack("5"), Bytes::new()).await.unwrap_err().is_no_space());
    assert_eq!(vault.inner().len(), 3, "failed puts store nothing");
    assert_eq!(vault.bytes_put(), 15);
    assert_eq!(vault.calls(Operation::Put), 5);
}

#[tokio::test]
async fn lost_replies_apply_the_operation() {
    let vault = FaultyVault::new(InMemoryVault::new());
    vault.inject(FaultRule::new(Operation::Put, Fault::ErrorAfterApplying(ErrorKind::Transient)).on_call(0));
    let key = pack("lost");
    let error = vault.put(&key, Bytes::from_static(b"stored")).await.unwrap_err();
    assert!(error.is_retryable());
    assert_eq!(vault.inner().get(&key).await.unwrap(), "stored", "the put happened");
    assert!(vault.put(&key, Bytes::from_static(b"stored")).await.unwrap_err().is_already_exists());
}

#[tokio::test]
async fn delays_slow_calls_down() {
    let key = pack("slow");
    let vault = vault_with(&[(&key, b"x")]).await;
    vault.inject(FaultRule::new(Operation::Head, Fault::Delay(Duration::from_millis(60))));
    let started = Instant::now();
    vault.head(&key).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(60));
}

#[tokio::test]
async fn bit_flips_on_reads_at_a_chosen_bit() {
    let key = pack("flip");
    let vault = vault_with(&[(&key, b"\x00\x00\x00\x00")]).await;
    vault.inject(FaultRule::new(Operation::Get, Fault::FlipBit(BitFlip::At(9))).on_call(0));
    assert_eq!(vault.get(&key).await.unwrap(), &b"\x00\x40\x00\x00"[..]);
    assert_eq!(vault.get(&key).await.unwrap(), &b"\x00\x00\x00\x00"[..], "only the first get");
    assert_eq!(vault.inner().get(&key).await.unwrap(), &b"\x00\x00\x00\x00"[..], "stored bytes untouched");
}

#[tokio::test]
async fn seeded_bit_flips_are_reproducible() {
    let key = pack("seeded");
    let data: &'static [u8] = &[0; 1024];
    let flipped = |seed| async move {
        let vault = vault_with(&[(&key, data)]).await;
        vault.inject(FaultRule::new(Operation::GetRange, Fault::FlipBit(BitFlip::Seeded(seed))));
        vault.get_range(&key, 0..1024).await.unwrap()
    };
    let first = flipped(1).await;
    assert_eq!(first, flipped(1).await);
    assert_ne!(first, flipped(2).await);
    assert_eq!(first.iter().map(|byte| byte.count_ones()).sum::<u32>(), 1);
}

#[tokio::test]
async fn corruption_on_put_is_stored() {
    let vault = FaultyVault::new(InMemoryVault::new());
    vault.inject(FaultRule::new(Operation::Put, Fault::Truncate(3)));
    let key = pack("torn");
    vault.put(&key, Bytes::from_static(b"abcdef")).await.unwrap();
    assert_eq!(vault.inner().get(&key).await.unwrap(), "abc");
    assert_eq!(vault.bytes_put(), 3, "counts what reached the inner vault");
}

#[tokio::test]
async fn truncated_reads_and_read_counters() {
    let key = pack("cut");
    let vault = vault_with(&[(&key, b"abcdef")]).await;
    vault.inject(FaultRule::new(Operation::Get, Fault::Truncate(2)).on_call(0));
    assert_eq!(vault.get(&key).await.unwrap(), "ab");
    assert_eq!(vault.get_range(&key, 1..4).await.unwrap(), "bcd");
    assert_eq!(vault.bytes_read(), 5);
    vault.reset_counters();
    assert_eq!((vault.bytes_read(), vault.calls(Operation::Get)), (0, 0));
}
