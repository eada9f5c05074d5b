//! Acceptance 2: deduplication.

use std::fs;

use comet_core::{BackupOptions, BlobKind};

use super::common::{memory_repo, pseudo_random};

/// A second backup of an unchanged 1 GiB tree adds under 1 MiB to the vault.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_gib_tree_adds_under_one_mib() {
    let src = tempfile::tempdir().unwrap();
    let work = src.path().join("tree");
    for d in 0..16 {
        let dir = work.join(format!("d{d:02}"));
        fs::create_dir_all(&dir).unwrap();
        for f in 0..16u64 {
            fs::write(dir.join(format!("f{f:02}")), pseudo_random(4 << 20, d * 100 + f)).unwrap();
        }
    }
    let (vault, mut repo) = memory_repo().await;
    repo.backup(&BackupOptions::new([&work])).await.unwrap();
    let after_first = vault.total_bytes();
    assert!(after_first > 1 << 30, "the first backup stores the GiB ({after_first} bytes)");
    let second = repo.backup(&BackupOptions::new([&work])).await.unwrap();
    let added = vault.total_bytes() - after_first;
    assert!(added < 1 << 20, "unchanged backup added {added} bytes");
    assert_eq!(second.snapshot.summary.files_unmodified, 256);
    assert_eq!(second.snapshot.summary.data_blobs_added, 0);
    // Even when every file is read again (no parent), nothing new is stored.
    let forced = repo.backup(&BackupOptions::new([&work]).force(true)).await.unwrap();
    assert_eq!(forced.snapshot.summary.data_blobs_added, 0);
    assert_eq!(forced.snapshot.summary.files_new, 256);
    assert!(vault.total_bytes() - after_first < 2 << 20);
}

/// Bytes inserted in the middle of a file re-use every chunk but the ones around the insertion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insertion_in_the_middle_reuses_other_chunks() {
    let src = tempfile::tempdir().unwrap();
    let work = src.path().join("w");
    fs::create_dir(&work).unwrap();
    let original = pseudo_random(32 << 20, 99);
    fs::write(work.join("file"), &original).unwrap();
    let (_vault, mut repo) = memory_repo().await;
    let first = repo.backup(&BackupOptions::new([&work])).await.unwrap();
    let chunks = first.snapshot.summary.data_blobs_added;
    assert!(chunks >= 16, "32 MiB should make many ~1 MiB chunks, got {chunks}");

    let mut edited = original[..16 << 20].to_vec();
    edited.extend_from_slice(b"INSERTED BYTES IN THE MIDDLE");
    edited.extend_from_slice(&original[16 << 20..]);
    fs::write(work.join("file"), &edited).unwrap();
    let second = repo.backup(&BackupOptions::new([&work])).await.unwrap();
    let new_chunks = second.snapshot.summary.data_blobs_added;
    assert!((1..=2).contains(&new_chunks), "insertion re-stored {new_chunks} of {chunks} chunks");
    assert!(second.snapshot.summary.bytes_added < 9 << 20);
    assert_eq!(repo.index().blob_count(BlobKind::Data) as u64, chunks + new_chunks);
}
