//! Acceptance 3: tampering is detected and named; swapped blobs are rejected.

use std::fs;
use std::sync::Arc;

use bytes::Bytes;
use comet_core::{BackupOptions, BlobKind, Error, Repository, RestoreOptions};
use comet_storage::{InMemoryVault, ObjectKey, ObjectKind, Vault};

use super::common::{PASSWORD, memory_repo, pseudo_random};

/// Reads everything a restore and a full verification read; the first error, if any.
async fn read_everything(vault: &Arc<InMemoryVault>) -> Result<(), Error> {
    let repo = Repository::open(vault.clone(), PASSWORD).await?.load_index().await?;
    for (_, snap) in repo.snapshots().await? {
        let target = tempfile::tempdir().unwrap();
        repo.restore(&snap, &RestoreOptions::new(target.path())).await?;
    }
    for pack in repo.index().packs().to_vec() {
        repo.verify_pack(&pack).await?;
    }
    Ok(())
}

async fn sample_vault() -> Arc<InMemoryVault> {
    let src = tempfile::tempdir().unwrap();
    let work = src.path().join("w");
    fs::create_dir(&work).unwrap();
    fs::write(work.join("text"), b"compressible text ".repeat(20_000)).unwrap();
    fs::write(work.join("random"), pseudo_random(600_000, 3)).unwrap();
    fs::create_dir(work.join("sub")).unwrap();
    fs::write(work.join("sub/small"), b"small").unwrap();
    let (vault, mut repo) = memory_repo().await;
    repo.backup(&BackupOptions::new([&work])).await.unwrap();
    vault
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_flipped_bit_is_detected_and_names_the_object() {
    let vault = sample_vault().await;
    read_everything(&vault).await.expect("the untouched vault reads cleanly");
    let mut checked = 0;
    for key in vault.keys() {
        if !matches!(key.kind(), ObjectKind::Pack | ObjectKind::Index | ObjectKind::Snapshot | ObjectKind::Config) {
            continue;
        }
        let original = vault.get(&key).await.unwrap();
        let bits = original.len() as u64 * 8;
        // First and last bits, and a spread of positions in between.
        let positions: Vec<u64> = (0..24).map(|i| i * (bits - 1) / 23).collect();
        for bit in positions {
            let mut bad = original.to_vec();
            bad[(bit / 8) as usize] ^= 0x80 >> (bit % 8);
            vault.raw_replace(&key, Bytes::from(bad));
            let err = read_everything(&vault).await.expect_err(&format!("flip of bit {bit} in {key} went unnoticed"));
            let message = err.to_string();
            let name = if key.kind() == ObjectKind::Config { "config".to_owned() } else { key.path() };
            assert!(message.contains(&name), "error for a flip in {key} does not name it: {message}");
            checked += 1;
        }
        vault.raw_replace(&key, original);
    }
    assert!(checked >= 24 * 5, "too few objects checked: {checked}");
    read_everything(&vault).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_swapped_between_packs_are_rejected() {
    let src = tempfile::tempdir().unwrap();
    let (a, b) = (src.path().join("a"), src.path().join("b"));
    fs::create_dir(&a).unwrap();
    fs::create_dir(&b).unwrap();
    // Same length, incompressible: stored blobs of equal size in two different packs.
    fs::write(a.join("f"), pseudo_random(100_000, 1)).unwrap();
    fs::write(b.join("f"), pseudo_random(100_000, 2)).unwrap();
    let (vault, mut repo) = memory_repo().await;
    let snap_a = repo.backup(&BackupOptions::new([&a])).await.unwrap().snapshot;
    let snap_b = repo.backup(&BackupOptions::new([&b])).await.unwrap().snapshot;
    let loc_a = only_data_blob(&repo, &snap_a).await;
    let loc_b = only_data_blob(&repo, &snap_b).await;
    assert_ne!(loc_a.pack, loc_b.pack);
    assert_eq!(loc_a.length, loc_b.length);

    let (key_a, key_b) = (ObjectKey::pack(loc_a.pack), ObjectKey::pack(loc_b.pack));
    let (pack_a, pack_b) = (vault.get(&key_a).await.unwrap(), vault.get(&key_b).await.unwrap());
    let range_a = loc_a.offset as usize..(loc_a.offset + loc_a.length) as usize;
    let range_b = loc_b.offset as usize..(loc_b.offset + loc_b.length) as usize;
    let (mut new_a, mut new_b) = (pack_a.to_vec(), pack_b.to_vec());
    new_a[range_a.clone()].copy_from_slice(&pack_b[range_b.clone()]);
    new_b[range_b].copy_from_slice(&pack_a[range_a]);
    vault.raw_replace(&key_a, Bytes::from(new_a));
    vault.raw_replace(&key_b, Bytes::from(new_b));

    // The restore saves what it can and names the file and the pack; never the wrong bytes.
    let target = tempfile::tempdir().unwrap();
    let outcome = repo.restore(&snap_a, &RestoreOptions::new(target.path())).await.unwrap();
    assert_eq!(outcome.incomplete.len(), 1, "{:?}", outcome.warnings);
    let message = &outcome.warnings[0];
    assert!(message.contains("authentication failed") && message.contains(&key_a.path()), "{message}");
    let written = std::fs::read(&outcome.incomplete[0]).unwrap_or_default();
    assert!(written.iter().all(|&b| b == 0), "plaintext of another blob was written");
}

async fn only_data_blob(
    repo: &comet_core::IndexedRepository,
    snap: &comet_core::Snapshot,
) -> comet_core::index::BlobLocation {
    let blobs: Vec<_> = repo
        .ls(&snap.tree, std::path::Path::new(""), true)
        .await
        .unwrap()
        .into_iter()
        .flat_map(|e| e.node.content)
        .collect();
    assert_eq!(blobs.len(), 1);
    repo.index().get(BlobKind::Data, &blobs[0]).unwrap()
}
