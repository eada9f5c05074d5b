//! Acceptance 1: a tree with every kind of entry, odd names, empty and sparse files restores
//! identical in contents and metadata.

use std::fs::{self, File};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::Path;

use comet_core::{BackupOptions, RestoreOptions};
use nix::sys::stat::{Mode, UtimensatFlags, utimensat};
use nix::sys::time::TimeSpec;

use super::common::{assert_same_tree, memory_repo, pseudo_random, restored_path};

fn set_mtime(path: &Path, ns: i64) {
    let t = TimeSpec::new(ns / 1_000_000_000, ns % 1_000_000_000);
    utimensat(nix::fcntl::AT_FDCWD, path, &t, &t, UtimensatFlags::NoFollowSymlink).unwrap();
}

const GIB: u64 = 1 << 30;

/// Builds the tree of every kind of entry under `root/work`.
fn build_tree(root: &Path) -> std::path::PathBuf {
    let work = root.join("work");
    let sub = work.join("sub/deeper");
    fs::create_dir_all(&sub).unwrap();
    fs::write(work.join("a.txt"), b"hello comet\n".repeat(1000)).unwrap();
    fs::write(work.join("empty"), b"").unwrap();
    fs::write(work.join("big.bin"), pseudo_random(5 << 20, 7)).unwrap();
    fs::write(sub.join("x"), b"deep").unwrap();
    fs::write(work.join(std::ffi::OsStr::from_bytes(b"non-utf8-\xff\xfe.bin")), b"raw name").unwrap();
    fs::write(work.join("cafe\u{301}.txt"), b"NFD name").unwrap();
    fs::write(work.join("caf\u{e9}.txt"), b"NFC name").unwrap();
    std::os::unix::fs::symlink("a.txt", work.join("link")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/target", work.join("dangling")).unwrap();
    fs::write(work.join("hard1"), b"shared inode").unwrap();
    fs::hard_link(work.join("hard1"), work.join("hard2")).unwrap();
    nix::unistd::mkfifo(&work.join("pipe"), Mode::from_bits_truncate(0o640)).unwrap();
    xattr::set(work.join("a.txt"), "user.comet", b"value\0with nul").unwrap();
    xattr::set(&sub, "user.dir", b"on a dir").unwrap();
    fs::set_permissions(work.join("a.txt"), fs::Permissions::from_mode(0o640)).unwrap();
    fs::set_permissions(work.join("big.bin"), fs::Permissions::from_mode(0o4755)).unwrap();
    fs::set_permissions(&sub, fs::Permissions::from_mode(0o700)).unwrap();
    if nix::unistd::geteuid().is_root() {
        std::os::unix::fs::lchown(work.join("empty"), Some(1234), Some(4321)).unwrap();
        std::os::unix::fs::lchown(work.join("link"), Some(1235), Some(4322)).unwrap();
    }
    // A 1 GiB sparse file with three data blocks.
    let sparse = File::create(work.join("sparse.img")).unwrap();
    sparse.set_len(GIB).unwrap();
    for offset in [0, GIB / 2 + 12_345, GIB - 4096] {
        sparse.write_all_at(&pseudo_random(4096, offset), offset).unwrap();
    }
    drop(sparse);
    // Nanosecond mtimes, set last (children first, since creating entries touches directories).
    for (i, path) in ["a.txt", "empty", "big.bin", "link", "dangling", "hard1", "pipe", "sparse.img", "sub/deeper/x"]
        .iter()
        .enumerate()
    {
        set_mtime(&work.join(path), 1_600_000_000_123_456_789 + i as i64 * 1_000_000_007);
    }
    set_mtime(&sub, 1_500_000_000_000_000_001);
    set_mtime(&work.join("sub"), 1_500_000_000_000_000_002);
    work
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_entry_round_trips() {
    let src = tempfile::tempdir().unwrap();
    let work = build_tree(src.path());
    let (_vault, mut repo) = memory_repo().await;
    let outcome = repo.backup(&BackupOptions::new([&work])).await.unwrap();
    assert!(outcome.warnings.is_empty(), "{:?}", outcome.warnings);
    assert_eq!(outcome.snapshot.paths, vec![work.to_string_lossy().into_owned()]);

    let target = tempfile::tempdir().unwrap();
    let restored = repo.restore(&outcome.snapshot, &RestoreOptions::new(target.path())).await.unwrap();
    assert!(restored.warnings.is_empty(), "{:?}", restored.warnings);
    let restored_work = restored_path(target.path(), &work);
    assert_same_tree(&work, &restored_work);

    // Sparse: the 1 GiB file takes a few blocks, not a gigabyte.
    let meta = fs::metadata(restored_work.join("sparse.img")).unwrap();
    assert_eq!(meta.len(), GIB);
    assert!(meta.blocks() * 512 < 64 << 20, "sparse file restored dense: {} bytes allocated", meta.blocks() * 512);
    // The vault holds it compactly too.
    assert!(outcome.snapshot.summary.bytes_added < 64 << 20, "zeros stored: {}", outcome.snapshot.summary.bytes_added);
    // Hard links are links again.
    let (h1, h2) =
        (fs::metadata(restored_work.join("hard1")).unwrap(), fs::metadata(restored_work.join("hard2")).unwrap());
    assert_eq!(h1.ino(), h2.ino());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_files_are_not_read_again_and_restore_identically() {
    let src = tempfile::tempdir().unwrap();
    let work = src.path().join("w");
    fs::create_dir(&work).unwrap();
    for i in 0..50u64 {
        fs::write(work.join(format!("f{i}")), pseudo_random(10_000 + i as usize, i)).unwrap();
    }
    let (_vault, mut repo) = memory_repo().await;
    let first = repo.backup(&BackupOptions::new([&work])).await.unwrap();
    assert_eq!(first.snapshot.summary.files_new, 50);
    fs::write(work.join("f3"), b"changed").unwrap();
    fs::write(work.join("new"), b"new file").unwrap();
    let second = repo.backup(&BackupOptions::new([&work])).await.unwrap();
    let s = &second.snapshot.summary;
    assert_eq!((s.files_new, s.files_changed, s.files_unmodified), (1, 1, 49));
    assert_eq!(second.snapshot.parent, Some(first.id));
    let target = tempfile::tempdir().unwrap();
    repo.restore(&second.snapshot, &RestoreOptions::new(target.path())).await.unwrap();
    assert_same_tree(&work, &restored_path(target.path(), &work));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn include_restores_only_the_named_subtree() {
    let src = tempfile::tempdir().unwrap();
    let work = build_tree(src.path());
    let (_vault, mut repo) = memory_repo().await;
    let outcome = repo.backup(&BackupOptions::new([&work])).await.unwrap();
    let inside = work.join("sub").strip_prefix("/").unwrap().to_path_buf();
    let target = tempfile::tempdir().unwrap();
    repo.restore(&outcome.snapshot, &RestoreOptions::new(target.path()).include(&inside)).await.unwrap();
    let restored_work = restored_path(target.path(), &work);
    assert_same_tree(&work.join("sub"), &restored_work.join("sub"));
    assert!(!restored_work.join("a.txt").exists());
    assert!(!restored_work.join("sparse.img").exists());
}
