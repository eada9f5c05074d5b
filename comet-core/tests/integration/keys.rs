//! Key slots: several passwords open one vault; the slot in use and the last slot are never
//! removed; changing the password leaves the data readable with the new one only.

use std::fs;
use std::sync::Arc;

use comet_core::{BackupOptions, Error, KdfParams, Repository, RestoreOptions};
use comet_storage::Vault;

use super::common::{PASSWORD, memory_repo, restored_path};

const SECOND: &[u8] = b"a second password";

#[tokio::test]
async fn an_added_key_opens_the_vault_as_well() {
    let (vault, repo) = memory_repo().await;
    let vault: Arc<dyn Vault> = vault;
    let first = repo.key_id();
    let second = repo.add_key(SECOND, KdfParams::FLOOR).await.unwrap();
    assert_ne!(first, second);

    let by_first = Repository::open(vault.clone(), PASSWORD).await.unwrap();
    let by_second = Repository::open(vault.clone(), SECOND).await.unwrap();
    assert_eq!((by_first.key_id(), by_second.key_id()), (first, second));
    assert_eq!(by_first.config().id_hex(), by_second.config().id_hex());

    let keys = by_second.list_keys().await.unwrap();
    assert_eq!(keys.iter().map(|k| k.id).collect::<Vec<_>>(), [first, second], "oldest first");
    assert_eq!(keys.iter().map(|k| k.current).collect::<Vec<_>>(), [false, true]);
    assert_eq!(keys[1].kdf, KdfParams::FLOOR);
    assert!(!keys[0].hostname.is_empty() && !keys[0].username.is_empty());
}

#[tokio::test]
async fn the_key_in_use_and_the_last_key_are_not_removed() {
    let (vault, repo) = memory_repo().await;
    let vault: Arc<dyn Vault> = vault;
    let first = repo.key_id();
    let err = repo.remove_key(&first.to_hex()).await.unwrap_err();
    assert!(err.to_string().contains("currently used"), "{err}");

    let second = repo.add_key(SECOND, KdfParams::FLOOR).await.unwrap();
    let by_second = Repository::open(vault.clone(), SECOND).await.unwrap();
    // A prefix is enough.
    assert_eq!(by_second.remove_key(&first.to_hex()[..8]).await.unwrap(), first);
    assert!(matches!(Repository::open(vault.clone(), PASSWORD).await, Err(Error::WrongPassword)));

    // `repo` still holds the removed slot as its own: the other slot is the vault's last.
    let err = repo.remove_key(&second.to_hex()).await.unwrap_err();
    assert!(err.to_string().contains("last key"), "{err}");
    Repository::open(vault.clone(), SECOND).await.unwrap();

    let err = by_second.remove_key("0000").await.unwrap_err();
    assert!(err.to_string().contains("no key slot has this id"), "{err}");
    let err = by_second.remove_key("ab").await.unwrap_err();
    assert!(err.to_string().contains("at least 4 hex characters"), "{err}");
}

#[tokio::test]
async fn a_changed_password_replaces_the_old_one() {
    let src = tempfile::tempdir().unwrap();
    let work = src.path().join("w");
    fs::create_dir(&work).unwrap();
    fs::write(work.join("note.txt"), b"still readable").unwrap();
    let (vault, mut repo) = memory_repo().await;
    let vault: Arc<dyn Vault> = vault;
    repo.backup(&BackupOptions::new([&work])).await.unwrap();
    let old = repo.key_id();
    drop(repo);

    let mut repo = Repository::open(vault.clone(), PASSWORD).await.unwrap();
    let new = repo.change_password(SECOND, KdfParams::FLOOR).await.unwrap();
    assert_ne!(new, old);
    assert_eq!(repo.key_id(), new, "the repository now uses the new slot");
    let keys = repo.list_keys().await.unwrap();
    assert_eq!(keys.len(), 1);
    assert!(keys[0].current && keys[0].id == new);

    assert!(matches!(Repository::open(vault.clone(), PASSWORD).await, Err(Error::WrongPassword)));
    let repo = Repository::open(vault.clone(), SECOND).await.unwrap();
    let (_, snapshot) = repo.find_snapshot("latest").await.unwrap();
    let repo = repo.load_index().await.unwrap();
    let target = tempfile::tempdir().unwrap();
    repo.restore(&snapshot, &RestoreOptions::new(target.path())).await.unwrap();
    let restored = restored_path(target.path(), &work).join("note.txt");
    assert_eq!(fs::read(restored).unwrap(), b"still readable");
}
