//! Init is atomic and idempotent; opening checks the password.

use std::sync::Arc;

use comet_core::{Error, InitOptions, InitOutcome, KdfParams, Repository};
use comet_storage::testing::{Fault, FaultRule, FaultyVault, Operation};
use comet_storage::{ErrorKind, InMemoryVault, ObjectKind, Vault};

use super::common::PASSWORD;

fn options() -> InitOptions {
    InitOptions::default().kdf(KdfParams::FLOOR)
}

#[tokio::test]
async fn init_twice_changes_nothing() {
    let vault = Arc::new(InMemoryVault::new());
    let (_, first) = Repository::init(vault.clone(), PASSWORD, &options()).await.unwrap();
    assert_eq!(first, InitOutcome::Created);
    let objects = vault.keys();
    let (_, second) = Repository::init(vault.clone(), PASSWORD, &options()).await.unwrap();
    assert_eq!(second, InitOutcome::AlreadyInitialised);
    assert_eq!(vault.keys(), objects);
    assert!(matches!(Repository::init(vault.clone(), b"other", &options()).await, Err(Error::WrongPassword)));
}

#[tokio::test]
async fn crash_before_config_is_completed_by_the_next_init() {
    let vault = Arc::new(FaultyVault::new(InMemoryVault::new()));
    vault.inject(FaultRule::new(Operation::Put, Fault::Error(ErrorKind::Transient)).for_kind(ObjectKind::Config));
    assert!(Repository::init(vault.clone(), PASSWORD, &options()).await.is_err());
    // Only a key slot is there: not a vault yet, and it says so.
    assert_eq!(vault.inner().keys().len(), 1);
    assert!(matches!(Repository::open(vault.clone(), PASSWORD).await, Err(Error::NotInitialised { .. })));
    vault.clear_faults();
    let (_, outcome) = Repository::init(vault.clone(), PASSWORD, &options()).await.unwrap();
    assert_eq!(outcome, InitOutcome::Completed);
    assert_eq!(vault.inner().keys().len(), 2, "the key slot was re-used, not duplicated");
    Repository::open(vault.clone(), PASSWORD).await.unwrap();
}

#[tokio::test]
async fn lost_reply_of_the_config_put_is_harmless() {
    let vault = Arc::new(FaultyVault::new(InMemoryVault::new()));
    vault.inject(
        FaultRule::new(Operation::Put, Fault::ErrorAfterApplying(ErrorKind::Transient)).for_kind(ObjectKind::Config),
    );
    assert!(Repository::init(vault.clone(), PASSWORD, &options()).await.is_err());
    vault.clear_faults();
    let (_, outcome) = Repository::init(vault.clone(), PASSWORD, &options()).await.unwrap();
    assert_eq!(outcome, InitOutcome::AlreadyInitialised);
}

#[tokio::test]
async fn wrong_password_and_missing_vault_are_clear() {
    let vault: Arc<dyn Vault> = Arc::new(InMemoryVault::new());
    let err = Repository::open(vault.clone(), PASSWORD).await.unwrap_err();
    assert!(err.to_string().contains("run `init` first"), "{err}");
    Repository::init(vault.clone(), PASSWORD, &options()).await.unwrap();
    let err = Repository::open(vault.clone(), b"not the password").await.unwrap_err();
    assert!(matches!(err, Error::WrongPassword));
    assert!(err.to_string().contains("wrong password"));
}

#[tokio::test]
async fn a_second_password_opens_the_same_vault() {
    let vault: Arc<dyn Vault> = Arc::new(InMemoryVault::new());
    let (repo, _) = Repository::init(vault.clone(), PASSWORD, &options()).await.unwrap();
    repo.add_key(b"second", KdfParams::FLOOR).await.unwrap();
    let other = Repository::open(vault.clone(), b"second").await.unwrap();
    assert_eq!(other.config(), repo.config());
}
