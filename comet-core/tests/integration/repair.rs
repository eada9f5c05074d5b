//! Repairs: the index from pack headers; snapshots around a lost pack; restores that save
//! everything still there.

use std::collections::BTreeSet;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use comet_core::tree::NodeKind;
use comet_core::{
    BackupOptions, BlobKind, CheckOptions, DAMAGED_XATTR, IndexedRepository, InitOptions, KdfParams, PackId,
    PruneOptions, REPAIRED_TAG, ReadData, Repository, RestoreOptions, Snapshot, VaultConfig,
};
use comet_storage::{InMemoryVault, ObjectKey, ObjectKind, Vault};

use super::common::{PASSWORD, assert_same_tree, init, reopen, restored_path, write_files};

/// A vault with 1 MiB packs, so one pack holds only some of the files.
async fn small_pack_repo() -> (Arc<InMemoryVault>, IndexedRepository) {
    let vault = Arc::new(InMemoryVault::new());
    let mut config = VaultConfig::new();
    config.pack_size = 1 << 20;
    let options = InitOptions::default().kdf(KdfParams::FLOOR).config(config);
    let (repo, _) = Repository::init(vault.clone(), PASSWORD, &options).await.unwrap();
    (vault, repo.load_index().await.unwrap())
}

/// Files of `snapshot` (as restored under `/`) that have a chunk in `pack`.
async fn files_in_pack(repo: &IndexedRepository, snapshot: &Snapshot, pack: PackId) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![(snapshot.tree, PathBuf::from("/"))];
    while let Some((id, path)) = stack.pop() {
        let tree = repo.read_tree(&id).await.unwrap();
        for node in &tree.nodes {
            let child = path.join(std::ffi::OsStr::from_bytes(&node.name));
            match node.kind {
                NodeKind::Dir => stack.push((node.subtree.unwrap(), child)),
                NodeKind::File
                    if node.content.iter().any(|c| repo.index().get(BlobKind::Data, c).unwrap().pack == pack) =>
                {
                    out.insert(child.to_string_lossy().into_owned());
                }
                _ => {}
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repair_index_rebuilds_it_from_the_packs() {
    let vault = Arc::new(InMemoryVault::new());
    let mut repo = init(vault.clone()).await;
    let src = tempfile::tempdir().unwrap();
    let (a, b) = (src.path().join("a"), src.path().join("b"));
    write_files(&a, 3, 300_000, 11);
    write_files(&b, 3, 300_000, 12);
    let sa = repo.backup(&BackupOptions::new([&a])).await.unwrap();
    let sb = repo.backup(&BackupOptions::new([&b])).await.unwrap();
    let packs = vault.keys().into_iter().filter(|k| k.kind() == ObjectKind::Pack).count();

    for key in vault.keys().into_iter().filter(|k| k.kind() == ObjectKind::Index) {
        vault.delete(&key).await.unwrap();
    }
    let broken = reopen(vault.clone()).await;
    let target = tempfile::tempdir().unwrap();
    assert!(broken.restore(&sa.snapshot, &RestoreOptions::new(target.path())).await.is_err());
    assert!(!broken.check(&CheckOptions::default()).await.unwrap().is_clean());

    let report = broken.repair_index().await.unwrap();
    assert_eq!(report.packs_indexed, packs);
    assert!(report.unreadable.is_empty());

    let mut repo = reopen(vault.clone()).await;
    let check = repo.check(&CheckOptions::default().read_data(ReadData::All)).await.unwrap();
    assert!(check.is_clean() && check.problems.is_empty(), "{:#?}", check.problems);
    for (outcome, dir) in [(&sa, &a), (&sb, &b)] {
        let target = tempfile::tempdir().unwrap();
        let restored = repo.restore(&outcome.snapshot, &RestoreOptions::new(target.path())).await.unwrap();
        assert!(restored.warnings.is_empty());
        assert_same_tree(dir, &restored_path(target.path(), dir));
    }
    // Deduplication works again: nothing is stored twice.
    let again = repo.backup(&BackupOptions::new([&a])).await.unwrap();
    assert_eq!(again.snapshot.summary.data_blobs_added, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_pack_costs_only_the_files_in_it() {
    let (vault, mut repo) = small_pack_repo().await;
    let src = tempfile::tempdir().unwrap();
    let dir = src.path().join("data");
    write_files(&dir, 12, 300_000, 13);
    let outcome = repo.backup(&BackupOptions::new([&dir])).await.unwrap();
    let data_packs: Vec<ObjectKey> = {
        let mut packs = BTreeSet::new();
        for key in vault.keys().into_iter().filter(|k| k.kind() == ObjectKind::Pack) {
            // Data packs are the ones the index places data blobs in.
            if repo.index().packs().contains(&key.id()) {
                packs.insert(key);
            }
        }
        packs.into_iter().collect()
    };
    let mut victim = None;
    for key in &data_packs {
        let files = files_in_pack(&repo, &outcome.snapshot, key.id()).await;
        if files.len() >= 2 {
            victim = Some((*key, files));
            break;
        }
    }
    let (victim, lost) = victim.expect("a data pack holding several files");
    assert!(lost.len() < 12, "the victim pack holds every file");
    vault.delete(&victim).await.unwrap();

    // Restore: every other file comes back byte-exact, the damaged ones are named.
    let repo = reopen(vault.clone()).await;
    let target = tempfile::tempdir().unwrap();
    let restored = repo.restore(&outcome.snapshot, &RestoreOptions::new(target.path())).await.unwrap();
    let incomplete: BTreeSet<String> =
        restored.incomplete.iter().map(|p| format!("/{}", p.strip_prefix(target.path()).unwrap().display())).collect();
    assert_eq!(incomplete, lost);
    assert_eq!(restored.warnings.len(), lost.len());
    assert_intact_except(&dir, &restored_path(target.path(), &dir), &lost, &dir);

    // check names the pack, the snapshot and exactly those files.
    let check = repo.check(&CheckOptions::default()).await.unwrap();
    assert!(!check.is_clean());
    assert!(check.errors().any(|p| p.object == victim.path()), "{:#?}", check.problems);
    assert_eq!(check.affected.len(), 1);
    assert_eq!(check.affected[0].snapshot, outcome.id.to_hex());
    assert_eq!(check.affected[0].paths.iter().cloned().collect::<BTreeSet<_>>(), lost);

    // Prune refuses to run on a vault missing data that snapshots need.
    assert!(matches!(repo.prune(&PruneOptions::default()).await, Err(comet_core::Error::Damaged(_))));

    // repair snapshots: a new snapshot without the lost data, which restores cleanly.
    let report = repo.repair_snapshots(false, true).await.unwrap();
    assert_eq!(report.repaired.len(), 1);
    assert_eq!(report.repaired[0].lost.iter().cloned().collect::<BTreeSet<_>>(), lost);
    let repo = reopen(vault.clone()).await;
    let snaps = repo.snapshots().await.unwrap();
    assert_eq!(snaps.len(), 1, "the damaged original was forgotten");
    let (_, repaired) = &snaps[0];
    assert!(repaired.tags.iter().any(|t| t == REPAIRED_TAG));
    assert_eq!(repaired.parent, Some(outcome.id));
    let target = tempfile::tempdir().unwrap();
    let restored = repo.restore(repaired, &RestoreOptions::new(target.path())).await.unwrap();
    assert!(restored.incomplete.is_empty(), "{:?}", restored.warnings);
    let root = restored_path(target.path(), &dir);
    assert_intact_except(&dir, &root, &lost, &dir);
    for path in &lost {
        let file = target.path().join(path.trim_start_matches('/'));
        let mark = xattr::get(&file, std::ffi::OsStr::from_bytes(DAMAGED_XATTR)).unwrap();
        assert!(mark.is_some_and(|m| m.starts_with(b"comet repair: contents lost")), "{path} is not marked");
    }

    // With the original gone, prune drops the lost pack from the index and the vault checks clean.
    repo.prune(&PruneOptions::default()).await.unwrap();
    let check = reopen(vault.clone()).await.check(&CheckOptions::default().read_data(ReadData::All)).await.unwrap();
    assert!(check.is_clean(), "{:#?}", check.problems);
}

/// Every file under `source` but the `lost` ones (absolute paths as the snapshot has them) is
/// identical under `restored`.
fn assert_intact_except(source: &Path, restored: &Path, lost: &BTreeSet<String>, dir: &Path) {
    let mut seen = 0;
    for entry in std::fs::read_dir(source).unwrap() {
        let path = entry.unwrap().path();
        let abs = format!("/{}", path.strip_prefix("/").unwrap().display());
        let copy = restored.join(path.strip_prefix(dir).unwrap());
        if lost.contains(&abs) {
            continue;
        }
        assert_eq!(std::fs::read(&path).unwrap(), std::fs::read(&copy).unwrap(), "{abs} differs");
        seen += 1;
    }
    assert_eq!(seen + lost.len(), std::fs::read_dir(source).unwrap().count());
}
