//! Prune: two phases, revival, grace against live sessions, crash at every step, space.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use comet_core::clock::ManualClock;
use comet_core::{BackupOptions, CheckOptions, Error, PruneOptions, ReadData, RestoreOptions, SnapshotId};
use comet_storage::{InMemoryVault, ObjectKey, ObjectKind, Vault};

use super::common::{CrashVault, GateVault, HOUR, assert_same_tree, at, indexed_at, init, restored_path, write_files};

async fn backup(vault: &Arc<dyn Vault>, clock: &Arc<ManualClock>, dir: &Path) -> SnapshotId {
    let mut repo = indexed_at(vault.clone(), clock).await;
    repo.backup(&BackupOptions::new([dir])).await.unwrap().id
}

async fn forget(vault: &Arc<dyn Vault>, id: SnapshotId) {
    vault.delete(&ObjectKey::new(ObjectKind::Snapshot, id)).await.unwrap();
}

/// Restores every snapshot and compares it with its source directory; checks with read-data.
async fn assert_intact(vault: &Arc<dyn Vault>, clock: &Arc<ManualClock>, expected: &[(SnapshotId, &Path)]) {
    let repo = at(vault.clone(), clock).await;
    let report = repo.check(&CheckOptions::default().read_data(ReadData::All)).await.unwrap();
    assert!(report.is_clean(), "check found damage: {:#?}", report.problems);
    let repo = repo.load_index().await.unwrap();
    let snaps = repo.snapshots().await.unwrap();
    for (id, source) in expected {
        let (_, snap) = snaps.iter().find(|(s, _)| s == id).expect("snapshot still listed");
        let target = tempfile::tempdir().unwrap();
        let outcome = repo.restore(snap, &RestoreOptions::new(target.path())).await.unwrap();
        assert!(outcome.warnings.is_empty(), "{:?}", outcome.warnings);
        assert_same_tree(source, &restored_path(target.path(), source));
    }
}

fn new_vault() -> (Arc<InMemoryVault>, Arc<dyn Vault>) {
    let mem = Arc::new(InMemoryVault::new());
    let dynv: Arc<dyn Vault> = mem.clone();
    (mem, dynv)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unused_packs_are_marked_then_deleted_after_the_grace_period() {
    let (mem, vault) = new_vault();
    init(vault.clone()).await;
    let clock = ManualClock::starting_now();
    let src = tempfile::tempdir().unwrap();
    let (a, b) = (src.path().join("a"), src.path().join("b"));
    write_files(&a, 4, 300_000, 1);
    write_files(&b, 4, 300_000, 2);
    let (s1, s1_blobs) = {
        let mut repo = indexed_at(vault.clone(), &clock).await;
        let outcome = repo.backup(&BackupOptions::new([&a])).await.unwrap();
        (outcome.id, outcome.snapshot.summary.data_blobs_added)
    };
    let s2 = backup(&vault, &clock, &b).await;
    forget(&vault, s1).await;
    let before = mem.total_bytes();

    let first = at(vault.clone(), &clock).await.prune(&PruneOptions::default()).await.unwrap();
    assert!(first.marked.packs >= 2, "{first:#?}"); // s1's data pack and tree pack
    assert_eq!(first.deleted.packs, 0);
    let data_packs = mem.keys().into_iter().filter(|k| k.kind() == ObjectKind::Pack).count();

    // While marked, a backup of the same data does not refer to the marked pack: it stores
    // the data again.
    let again = {
        let mut repo = indexed_at(vault.clone(), &clock).await;
        repo.backup(&BackupOptions::new([&a])).await.unwrap()
    };
    assert_eq!(again.snapshot.summary.data_blobs_added, s1_blobs, "data in a marked pack must be stored again");

    clock.advance(23 * HOUR);
    let early = at(vault.clone(), &clock).await.prune(&PruneOptions::default()).await.unwrap();
    assert_eq!(early.deleted.packs, 0, "deleted before the grace period: {early:#?}");
    assert!(early.waiting.packs >= 2);

    clock.advance(2 * HOUR);
    let late = at(vault.clone(), &clock).await.prune(&PruneOptions::default()).await.unwrap();
    assert_eq!(late.deleted.packs, first.marked.packs + first.repacked.packs, "{late:#?}");
    let packs_now = mem.keys().into_iter().filter(|k| k.kind() == ObjectKind::Pack).count();
    assert!(packs_now < data_packs + 2, "packs were not deleted: {packs_now}");
    assert!(mem.total_bytes() < before + 1_300_000);
    assert_intact(&vault, &clock, &[(s2, &b), (again.id, &a)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_that_refers_to_a_marked_pack_keeps_it_alive_and_revives_it() {
    let (_mem, vault) = new_vault();
    init(vault.clone()).await;
    let clock = ManualClock::starting_now();
    let src = tempfile::tempdir().unwrap();
    let a = src.path().join("a");
    write_files(&a, 4, 300_000, 3);
    let s1 = backup(&vault, &clock, &a).await;

    // Backup B loads the index while s1 exists, deduplicates everything against s1's packs and
    // is held just before writing its snapshot.
    let gate = Arc::new(GateVault::new(vault.clone(), ObjectKind::Snapshot));
    let gated: Arc<dyn Vault> = gate.clone();
    let mut b_repo = indexed_at(gated, &clock).await;
    let a2 = a.clone();
    let b = tokio::spawn(async move { b_repo.backup(&BackupOptions::new([&a2])).await });
    gate.wait_reached().await;

    // s1 is forgotten and pruned: its packs look unused and are marked.
    forget(&vault, s1).await;
    let p1 = at(vault.clone(), &clock).await.prune(&PruneOptions::default()).await.unwrap();
    assert!(p1.marked.packs >= 2, "{p1:#?}");
    assert_eq!(p1.live_sessions, 1);

    // Long past the grace period, B is still running: its session holds the packs back.
    clock.advance(25 * HOUR);
    tokio::time::sleep(Duration::from_millis(200)).await; // B's heartbeat catches up
    let p2 = at(vault.clone(), &clock).await.prune(&PruneOptions::default()).await.unwrap();
    assert_eq!(p2.deleted.packs, 0, "deleted packs a live backup refers to: {p2:#?}");
    assert!(p2.waiting.packs >= 2);

    gate.open();
    let b = b.await.unwrap().unwrap();
    assert_eq!(b.snapshot.summary.data_blobs_added, 0, "B deduplicated against s1's packs");

    // B's snapshot uses s1's data pack (and its own tree pack, marked while B was unfinished):
    // both come back. (s1's old trees, which B does not use, may go: reading the files changed
    // their access times, so B stored new trees.)
    let p3 = at(vault.clone(), &clock).await.prune(&PruneOptions::default()).await.unwrap();
    assert!(p3.revived.packs >= 2, "{p3:#?}");
    clock.advance(25 * HOUR);
    let p4 = at(vault.clone(), &clock).await.prune(&PruneOptions::default()).await.unwrap();
    assert_eq!(p4.deleted.packs, 0, "{p4:#?}");
    assert_intact(&vault, &clock, &[(b.id, &a)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_prune_refuses_while_one_runs() {
    let (_mem, vault) = new_vault();
    init(vault.clone()).await;
    let clock = ManualClock::starting_now();
    let src = tempfile::tempdir().unwrap();
    write_files(&src.path().join("a"), 2, 100_000, 4);
    let s1 = backup(&vault, &clock, &src.path().join("a")).await;
    forget(&vault, s1).await;

    let gate = Arc::new(GateVault::new(vault.clone(), ObjectKind::Index));
    let gated: Arc<dyn Vault> = gate.clone();
    let first_repo = at(gated, &clock).await;
    let first = tokio::spawn(async move { first_repo.prune(&PruneOptions::default()).await });
    gate.wait_reached().await;
    let second = at(vault.clone(), &clock).await.prune(&PruneOptions::default()).await;
    assert!(matches!(second, Err(Error::Busy(_))), "{second:?}");
    gate.open();
    first.await.unwrap().unwrap();
    // Once it finished, the next one runs.
    at(vault.clone(), &clock).await.prune(&PruneOptions::default()).await.unwrap();
}

/// Copies every object of `from` into a new vault.
async fn copy(from: &InMemoryVault) -> Arc<InMemoryVault> {
    let to = Arc::new(InMemoryVault::new());
    for key in from.keys() {
        to.put(&key, from.get(&key).await.unwrap()).await.unwrap();
    }
    to
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prune_killed_after_any_step_leaves_a_sound_vault() {
    let (mem, vault) = new_vault();
    init(vault.clone()).await;
    let clock = ManualClock::starting_now();
    let src = tempfile::tempdir().unwrap();
    let (a, b, c) = (src.path().join("a"), src.path().join("b"), src.path().join("c"));
    write_files(&a, 3, 200_000, 5);
    write_files(&b, 4, 200_000, 6);
    // c shares one file with b: after b is forgotten, b's data pack is mostly unused.
    std::fs::create_dir_all(&c).unwrap();
    std::fs::copy(b.join("f000"), c.join("f000")).unwrap();
    write_files(&c.join("new"), 1, 150_000, 7);

    let sa = backup(&vault, &clock, &a).await;
    forget(&vault, sa).await;
    at(vault.clone(), &clock).await.prune(&PruneOptions::default()).await.unwrap();
    clock.advance(25 * HOUR);
    let sb = backup(&vault, &clock, &b).await;
    let sc = backup(&vault, &clock, &c).await;
    forget(&vault, sb).await;

    // This prune deletes a's matured packs, repacks b's pack, rewrites the index.
    let mut steps = 0;
    for limit in 0.. {
        let state = copy(&mem).await;
        let inner: Arc<dyn Vault> = state.clone();
        let crash = Arc::new(CrashVault::new(inner.clone(), limit));
        let crashing: Arc<dyn Vault> = crash.clone();
        let result = at(crashing, &clock).await.prune(&PruneOptions::default()).await;
        if !crash.crashed() {
            let report = result.unwrap();
            assert!(report.deleted.packs >= 2 && report.repacked.packs >= 1, "{report:#?}");
            assert_intact(&inner, &clock, &[(sc, &c)]).await;
            break;
        }
        steps += 1;
        // Only the removal of its own session object may fail without failing the prune: the
        // work is done by then, and the object expires.
        if let Ok(report) = result {
            assert!(report.deleted.packs >= 2, "crash point {limit} went unnoticed: {report:#?}");
        }
        // The killed prune's session expires (a killed process on this host would be seen as
        // dead at once; here the process lives on).
        clock.advance(2 * HOUR);
        // Whatever step it stopped after, the vault checks clean and restores...
        assert_intact(&inner, &clock, &[(sc, &c)]).await;
        // ...and the next prune finishes the work.
        at(inner.clone(), &clock).await.prune(&PruneOptions::default()).await.unwrap();
        clock.advance(25 * HOUR);
        at(inner.clone(), &clock).await.prune(&PruneOptions::default()).await.unwrap();
        assert_intact(&inner, &clock, &[(sc, &c)]).await;
    }
    // Session start, repacked pack, index file, old index removals, pack deletions, session end.
    assert!(steps >= 6, "only {steps} crash points");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_brings_a_churned_vault_within_ten_percent_of_a_fresh_backup() {
    let (mem, vault) = new_vault();
    init(vault.clone()).await;
    let clock = ManualClock::starting_now();
    let src = tempfile::tempdir().unwrap();
    let dir = src.path().join("data");
    write_files(&dir, 20, 200_000, 100);
    let mut snaps = vec![backup(&vault, &clock, &dir).await];
    for round in 1..6u64 {
        // 30% of the files change each round.
        for i in 0..6usize {
            let n = (round as usize * 7 + i * 3) % 20;
            std::fs::write(
                dir.join(format!("f{n:03}")),
                super::common::pseudo_random(200_000, round * 10_000 + i as u64),
            )
            .unwrap();
        }
        snaps.push(backup(&vault, &clock, &dir).await);
    }
    let last = *snaps.last().unwrap();
    for id in &snaps[..snaps.len() - 1] {
        forget(&vault, *id).await;
    }
    let churned = mem.total_bytes();
    at(vault.clone(), &clock).await.prune(&PruneOptions::default()).await.unwrap();
    clock.advance(25 * HOUR);
    at(vault.clone(), &clock).await.prune(&PruneOptions::default()).await.unwrap();
    let pruned = mem.total_bytes();

    let (fresh_mem, fresh) = new_vault();
    init(fresh.clone()).await;
    backup(&fresh, &clock, &dir).await;
    let fresh_bytes = fresh_mem.total_bytes();
    assert!(churned > fresh_bytes * 2, "the dataset did not churn: {churned} vs {fresh_bytes}");
    assert!(
        pruned as f64 <= fresh_bytes as f64 * 1.10,
        "after prune {pruned} bytes, a fresh backup {fresh_bytes} bytes (churned {churned})"
    );
    assert_intact(&vault, &clock, &[(last, &dir)]).await;
}
