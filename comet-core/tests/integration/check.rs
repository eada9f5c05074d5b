//! Check: what it reports on damaged and wasteful vaults, which packs `--read-data` reads, and
//! how its findings line up with what prune does.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use comet_core::clock::ManualClock;
use comet_core::index::IndexFile;
use comet_core::{
    AffectedSnapshot, BackupOptions, BlobKind, CheckOptions, CheckReport, Error, ObjectId, PackId, ProblemKind,
    PruneOptions, PruneReport, ReadData, RestoreOptions, SnapshotId,
};
use comet_storage::testing::{Operation, RecordingVault};
use comet_storage::{HashCheck, InMemoryVault, ObjectKey, ObjectKind, Vault, verify_object};

use super::common::{HOUR, assert_same_tree, at, indexed_at, init, master_key, restored_path, write_files};

async fn backup(vault: &Arc<InMemoryVault>, clock: &Arc<ManualClock>, dir: &Path) -> SnapshotId {
    let mut repo = indexed_at(vault.clone(), clock).await;
    repo.backup(&BackupOptions::new([dir])).await.unwrap().id
}

async fn check(vault: &Arc<InMemoryVault>, clock: &Arc<ManualClock>, read_data: ReadData) -> CheckReport {
    at(vault.clone(), clock).await.check(&CheckOptions::default().read_data(read_data)).await.unwrap()
}

async fn prune(vault: &Arc<InMemoryVault>, clock: &Arc<ManualClock>) -> Result<PruneReport, Error> {
    at(vault.clone(), clock).await.prune(&PruneOptions::default()).await
}

fn keys_of(vault: &InMemoryVault, kind: ObjectKind) -> BTreeSet<ObjectKey> {
    vault.keys().into_iter().filter(|k| k.kind() == kind).collect()
}

/// The kind of blobs each indexed pack holds, read from the index files with the master key.
async fn pack_kinds(vault: &Arc<InMemoryVault>) -> HashMap<PackId, BlobKind> {
    let cipher = master_key(vault).await.cipher();
    let mut out = HashMap::new();
    for key in keys_of(vault, ObjectKind::Index) {
        let file = IndexFile::open(&cipher, &vault.get(&key).await.unwrap()).unwrap();
        for p in file.packs {
            if let Some(b) = p.blobs.first() {
                out.insert(p.id, b.kind);
            }
        }
    }
    out
}

/// The data packs among `packs`.
async fn data_packs(vault: &Arc<InMemoryVault>, packs: &BTreeSet<ObjectKey>) -> Vec<ObjectKey> {
    let kinds = pack_kinds(vault).await;
    packs.iter().filter(|k| kinds.get(&k.id()) == Some(&BlobKind::Data)).copied().collect()
}

/// Copies every object of `from` into a new vault.
async fn copy(from: &InMemoryVault) -> Arc<InMemoryVault> {
    let to = Arc::new(InMemoryVault::new());
    for key in from.keys() {
        to.put(&key, from.get(&key).await.unwrap()).await.unwrap();
    }
    to
}

/// The file paths under `dir`, as check prints them.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path().to_string_lossy().into_owned()).collect();
    out.sort();
    out
}

/// Flips one bit in the middle of `key`, in place (bypassing the create-only rule).
async fn corrupt(vault: &InMemoryVault, key: &ObjectKey) -> Bytes {
    let mut bytes = vault.get(key).await.unwrap().to_vec();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    let bytes = Bytes::from(bytes);
    vault.raw_replace(key, bytes.clone());
    bytes
}

/// A vault of five small backups (a data pack and a tree pack each) whose third backup's data
/// pack is corrupted in the middle.
struct CorruptVault {
    vault: Arc<InMemoryVault>,
    clock: Arc<ManualClock>,
    _src: tempfile::TempDir,
    /// The damaged pack.
    pack: ObjectKey,
    /// Its bytes after the damage.
    damaged: Bytes,
    /// The snapshot whose data it held, and the files it held.
    snapshot: SnapshotId,
    files: Vec<String>,
}

async fn corrupt_vault() -> CorruptVault {
    let vault = Arc::new(InMemoryVault::new());
    init(vault.clone()).await;
    let clock = ManualClock::starting_now();
    let src = tempfile::tempdir().unwrap();
    let mut target = None;
    for d in 0..5u64 {
        let dir = src.path().join(format!("d{d}"));
        write_files(&dir, 3, 20_000, 40 + d);
        let before = keys_of(&vault, ObjectKind::Pack);
        let id = backup(&vault, &clock, &dir).await;
        if d == 2 {
            let new: BTreeSet<ObjectKey> = keys_of(&vault, ObjectKind::Pack).difference(&before).copied().collect();
            let data = data_packs(&vault, &new).await;
            assert_eq!(data.len(), 1, "one backup of three small files writes one data pack: {new:?}");
            target = Some((data[0], id, files_under(&dir)));
        }
    }
    let (pack, snapshot, files) = target.unwrap();
    assert_eq!(files.len(), 3);
    let damaged = corrupt(&vault, &pack).await;
    CorruptVault { vault, clock, _src: src, pack, damaged, snapshot, files }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_data_subsets_partition_the_packs() {
    let CorruptVault { vault, clock, pack, snapshot, files, .. } = corrupt_vault().await;
    let all_packs = keys_of(&vault, ObjectKind::Pack);
    assert!(all_packs.len() >= 8, "only {} packs", all_packs.len());
    let pack_name = pack.path();
    assert!(pack_name.starts_with(&format!("data/{}/", &pack.id().to_hex()[..2])), "{pack_name}");

    // Structure alone cannot see damage inside a pack: sizes and index agree.
    let structure = check(&vault, &clock, ReadData::None).await;
    assert!(structure.problems.is_empty(), "{:#?}", structure.problems);
    assert!(structure.is_clean() && structure.affected.is_empty());
    assert_eq!((structure.packs, structure.packs_read, structure.snapshots), (all_packs.len(), 0, 5));

    // Reading everything finds exactly the damaged pack, the snapshot and the files it held.
    let full = check(&vault, &clock, ReadData::All).await;
    assert!(!full.is_clean());
    assert_eq!(full.problems.len(), 1, "{:#?}", full.problems);
    assert_eq!(
        (full.problems[0].kind, full.problems[0].object.as_str()),
        (ProblemKind::CorruptPack, pack_name.as_str())
    );
    assert_eq!(full.affected, vec![AffectedSnapshot { snapshot: snapshot.to_hex(), paths: files.clone() }]);
    assert_eq!(full.packs_read, all_packs.len());
    assert!(full.blobs_read > 0 && full.bytes_read > 0);

    // Subsets 1..=5 of 5: disjoint, together every pack, the damage found by exactly one.
    let mut read_by: Vec<BTreeSet<ObjectKey>> = Vec::new();
    let mut finders = Vec::new();
    let mut total_read = 0;
    for n in 1..=5u32 {
        let recording = Arc::new(RecordingVault::new(vault.clone()));
        let repo = at(recording.clone(), &clock).await;
        recording.clear();
        let report = repo.check(&CheckOptions::default().read_data(ReadData::Subset { n, t: 5 })).await.unwrap();
        let gets: Vec<ObjectKey> = recording
            .calls()
            .into_iter()
            .filter(|c| c.operation == Operation::Get && c.kind == ObjectKind::Pack)
            .filter_map(|c| c.key)
            .collect();
        let read: BTreeSet<ObjectKey> = gets.iter().copied().collect();
        assert_eq!(gets.len(), read.len(), "subset {n}/5 read a pack twice");
        assert_eq!(report.packs_read, read.len(), "subset {n}/5 counts the packs it read");
        total_read += report.packs_read;
        let corrupt_found: Vec<_> = report.of_kind(ProblemKind::CorruptPack).collect();
        if read.contains(&pack) {
            assert_eq!(corrupt_found.len(), 1, "subset {n}/5 read the damaged pack: {:#?}", report.problems);
            assert_eq!(corrupt_found[0].object, pack_name);
            assert_eq!(report.problems.len(), 1);
            assert_eq!(report.affected, full.affected);
            finders.push(n);
        } else {
            assert!(report.problems.is_empty(), "subset {n}/5: {:#?}", report.problems);
            assert!(report.affected.is_empty());
        }
        read_by.push(read);
    }
    assert_eq!(total_read, all_packs.len(), "subsets read {read_by:?}");
    for (i, a) in read_by.iter().enumerate() {
        for b in &read_by[i + 1..] {
            assert!(a.is_disjoint(b), "subsets overlap: {a:?} and {b:?}");
        }
    }
    let union: BTreeSet<ObjectKey> = read_by.iter().flatten().copied().collect();
    assert_eq!(union, all_packs);
    assert_eq!(finders.len(), 1, "the damage is found by subsets {finders:?}");

    // A percentage reads at least one pack.
    let sample = check(&vault, &clock, ReadData::Percent(10.0)).await;
    assert!(sample.packs_read >= 1 && sample.packs_read <= all_packs.len(), "{}", sample.packs_read);
    let everything = check(&vault, &clock, ReadData::Percent(100.0)).await;
    assert!(everything.packs_read >= all_packs.len() - 1, "100% read {} packs", everything.packs_read);

    // Parsing.
    assert_eq!(ReadData::parse_subset("2/5"), Ok(ReadData::Subset { n: 2, t: 5 }));
    assert_eq!(ReadData::parse_subset("5/5"), Ok(ReadData::Subset { n: 5, t: 5 }));
    assert_eq!(ReadData::parse_subset("10%"), Ok(ReadData::Percent(10.0)));
    assert_eq!(ReadData::parse_subset("100%"), Ok(ReadData::Percent(100.0)));
    for bad in ["0/5", "6/5", "1/0", "x", "2/", "/5", "0%", "101%", "-5%", "x%", ""] {
        assert!(ReadData::parse_subset(bad).is_err(), "{bad:?} parsed as {:?}", ReadData::parse_subset(bad));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_less_hash_check_flags_exactly_the_damaged_pack() {
    let CorruptVault { vault, pack, damaged, .. } = corrupt_vault().await;
    let packs = keys_of(&vault, ObjectKind::Pack);
    assert!(packs.len() >= 8);
    let mut sound = 0;
    for key in &packs {
        let found = verify_object(vault.as_ref(), key).await.unwrap();
        if *key == pack {
            assert_eq!(found, HashCheck::Mismatch { actual: ObjectId::of(&damaged) });
        } else {
            assert_eq!(found, HashCheck::Sound, "{key}");
            sound += 1;
        }
    }
    assert_eq!(sound, packs.len() - 1);
    // Every other hash-named object is sound too; config cannot be checked without a key.
    for key in vault.keys().into_iter().filter(|k| k.kind() != ObjectKind::Pack) {
        let expected = if key == ObjectKey::CONFIG { HashCheck::NotHashNamed } else { HashCheck::Sound };
        assert_eq!(verify_object(vault.as_ref(), &key).await.unwrap(), expected, "{key}");
    }
}

/// One row of the golden table: a fixture vault and what check and prune make of it.
struct Row {
    fixture: &'static str,
    clean: bool,
    kinds: &'static [ProblemKind],
    prune: &'static str,
}

/// The source directories of the base vault (and of `c`, backed up by some fixtures).
struct Sources {
    _dir: tempfile::TempDir,
    a: PathBuf,
    b: PathBuf,
    c: PathBuf,
}

impl Sources {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (dir.path().join("a"), dir.path().join("b"), dir.path().join("c"));
        write_files(&a, 3, 30_000, 11);
        write_files(&b, 4, 25_000, 12);
        write_files(&c, 2, 40_000, 13);
        Self { _dir: dir, a, b, c }
    }

    /// The directory a snapshot backed up.
    fn of(&self, paths: &[String]) -> &Path {
        assert_eq!(paths.len(), 1, "{paths:?}");
        [&self.a, &self.b, &self.c].into_iter().find(|d| d.to_string_lossy() == paths[0]).expect("a known source")
    }
}

/// What the fixture builder records for the row's own assertions.
#[derive(Default)]
struct Built {
    /// `pack-missing`: the deleted pack; `unreferenced-pack`: the unindexed packs.
    packs: Vec<ObjectKey>,
    /// `pack-missing`: the snapshot that lost data and its files.
    affected: Vec<AffectedSnapshot>,
    /// `obsolete-index`: the packs listed twice.
    listed_twice: BTreeSet<String>,
}

/// The base vault: one backup of `a`, one of `b`.
struct Base {
    vault: Arc<InMemoryVault>,
    a_snap: SnapshotId,
    /// The data pack of `a`'s backup.
    a_data: ObjectKey,
}

async fn base(src: &Sources) -> Base {
    let vault = Arc::new(InMemoryVault::new());
    init(vault.clone()).await;
    let clock = ManualClock::starting_now();
    let a_snap = backup(&vault, &clock, &src.a).await;
    let a_packs = keys_of(&vault, ObjectKind::Pack);
    let a_data = data_packs(&vault, &a_packs).await;
    assert_eq!(a_data.len(), 1, "{a_packs:?}");
    backup(&vault, &clock, &src.b).await;
    assert!(keys_of(&vault, ObjectKind::Pack).len() >= 4);
    Base { vault, a_snap, a_data: a_data[0] }
}

async fn build(fixture: &str, base: &Base, src: &Sources, clock: &Arc<ManualClock>) -> (Arc<InMemoryVault>, Built) {
    let vault = copy(&base.vault).await;
    let mut built = Built::default();
    match fixture {
        "clean" => {}
        "index-missing" => {
            for key in keys_of(&vault, ObjectKind::Index) {
                vault.delete(&key).await.unwrap();
            }
        }
        "pack-missing" => {
            vault.delete(&base.a_data).await.unwrap();
            built.packs = vec![base.a_data];
            built.affected = vec![AffectedSnapshot { snapshot: base.a_snap.to_hex(), paths: files_under(&src.a) }];
        }
        "unreferenced-pack" => {
            let (index_before, packs_before) = (keys_of(&vault, ObjectKind::Index), keys_of(&vault, ObjectKind::Pack));
            let c_snap = backup(&vault, clock, &src.c).await;
            vault.delete(&ObjectKey::new(ObjectKind::Snapshot, c_snap)).await.unwrap();
            let new_index: Vec<ObjectKey> =
                keys_of(&vault, ObjectKind::Index).difference(&index_before).copied().collect();
            assert!(!new_index.is_empty());
            for key in &new_index {
                vault.delete(key).await.unwrap();
            }
            built.packs = keys_of(&vault, ObjectKind::Pack).difference(&packs_before).copied().collect();
            assert!(!built.packs.is_empty());
        }
        "duplicate-blobs" => {
            let mut saved = Vec::new();
            for key in keys_of(&vault, ObjectKind::Index) {
                saved.push((key, vault.get(&key).await.unwrap()));
                vault.delete(&key).await.unwrap();
            }
            // With no index the data of `a` is stored again (force: no parent to trust).
            let mut repo = indexed_at(vault.clone(), clock).await;
            let again = repo.backup(&BackupOptions::new([&src.a]).force(true)).await.unwrap();
            assert!(again.snapshot.summary.data_blobs_added >= 3, "{:?}", again.snapshot.summary);
            for (key, bytes) in saved {
                vault.put(&key, bytes).await.unwrap();
            }
        }
        "obsolete-index" => {
            let cipher = master_key(&vault).await.cipher();
            let first = *keys_of(&vault, ObjectKind::Index).iter().next().unwrap();
            let file = IndexFile::open(&cipher, &vault.get(&first).await.unwrap()).unwrap();
            assert!(!file.packs.is_empty());
            built.listed_twice = file.packs.iter().map(|p| ObjectKey::pack(p.id).path()).collect();
            let bytes = file.seal(&cipher);
            let copy = ObjectKey::new(ObjectKind::Index, ObjectId::of(&bytes));
            assert_ne!(copy, first, "a new seal has a new nonce");
            vault.put(&copy, Bytes::from(bytes)).await.unwrap();
        }
        other => panic!("unknown fixture {other}"),
    }
    (vault, built)
}

/// Restores every snapshot of `vault` and compares it with its source.
async fn assert_restores(vault: &Arc<InMemoryVault>, clock: &Arc<ManualClock>, src: &Sources, fixture: &str) {
    let repo = indexed_at(vault.clone(), clock).await;
    let snaps = repo.snapshots().await.unwrap();
    assert!(snaps.len() >= 2, "{fixture}: {} snapshots", snaps.len());
    for (id, snap) in &snaps {
        let source = src.of(&snap.paths);
        let target = tempfile::tempdir().unwrap();
        let outcome = repo.restore(snap, &RestoreOptions::new(target.path())).await.unwrap();
        assert!(outcome.warnings.is_empty(), "{fixture}: snapshot {id}: {:?}", outcome.warnings);
        assert_same_tree(source, &restored_path(target.path(), source));
    }
}

fn objects(report: &CheckReport, kind: ProblemKind) -> BTreeSet<String> {
    report.of_kind(kind).map(|p| p.object.clone()).collect()
}

fn paths(keys: &[ObjectKey]) -> BTreeSet<String> {
    keys.iter().map(ObjectKey::path).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_vaults_give_the_expected_check_and_prune_results() {
    use ProblemKind::{DuplicateBlobs, MissingBlob, MissingPack, ObsoleteIndex, UnindexedPack};
    #[rustfmt::skip]
    let golden = vec![
        Row { fixture: "clean",             clean: true,  kinds: &[],                           prune: "ok" },
        Row { fixture: "index-missing",     clean: false, kinds: &[MissingBlob, UnindexedPack], prune: "damaged" },
        Row { fixture: "pack-missing",      clean: false, kinds: &[MissingPack],                prune: "damaged" },
        Row { fixture: "unreferenced-pack", clean: true,  kinds: &[UnindexedPack],              prune: "ok" },
        Row { fixture: "duplicate-blobs",   clean: true,  kinds: &[DuplicateBlobs],             prune: "ok" },
        Row { fixture: "obsolete-index",    clean: true,  kinds: &[ObsoleteIndex],              prune: "ok" },
    ];
    let src = Sources::new();
    let base = base(&src).await;
    for row in &golden {
        let name = row.fixture;
        let clock = ManualClock::starting_now();
        let (vault, built) = build(name, &base, &src, &clock).await;

        // Check, without and with reading the data (no pack is damaged inside: same findings).
        let report = check(&vault, &clock, ReadData::None).await;
        let kinds: BTreeSet<ProblemKind> = report.problems.iter().map(|p| p.kind).collect();
        assert_eq!(report.is_clean(), row.clean, "{name}: {:#?}", report.problems);
        assert_eq!(kinds, row.kinds.iter().copied().collect(), "{name}: {:#?}", report.problems);
        let full = check(&vault, &clock, ReadData::All).await;
        assert_eq!(full.problems, report.problems, "{name}: read-data finds something else");
        assert_eq!(full.affected, report.affected, "{name}: read-data");
        let all_packs = keys_of(&vault, ObjectKind::Pack);
        assert_eq!(report.packs, all_packs.len(), "{name}");
        match name {
            "clean" | "duplicate-blobs" | "obsolete-index" | "unreferenced-pack" => {
                assert!(report.affected.is_empty(), "{name}: {:#?}", report.affected);
                assert_eq!(full.packs_read, all_packs.len() - built.packs.len(), "{name}: every indexed pack read");
            }
            _ => {}
        }
        match name {
            "clean" => assert_eq!(report.snapshots, 2),
            "index-missing" => {
                // Every snapshot's root tree is in no index; every pack is unindexed.
                assert_eq!(report.of_kind(MissingBlob).count(), 2, "{:#?}", report.problems);
                assert!(report.of_kind(MissingBlob).all(|p| p.object.starts_with("tree ")));
                assert_eq!(objects(&report, UnindexedPack), paths(&all_packs.iter().copied().collect::<Vec<_>>()));
                assert_eq!(report.affected.len(), 2);
                assert!(report.affected.iter().all(|a| a.paths == ["/"]), "{:#?}", report.affected);
            }
            "pack-missing" => {
                assert_eq!(objects(&report, MissingPack), paths(&built.packs));
                assert_eq!(report.affected, built.affected);
            }
            "unreferenced-pack" => assert_eq!(objects(&report, UnindexedPack), paths(&built.packs)),
            "duplicate-blobs" => assert_eq!(report.problems.len(), 1, "{:#?}", report.problems),
            "obsolete-index" => assert_eq!(objects(&report, ObsoleteIndex), built.listed_twice),
            _ => unreachable!(),
        }

        // Prune.
        let index_before = keys_of(&vault, ObjectKind::Index);
        let result = prune(&vault, &clock).await;
        let outcome = match &result {
            Ok(_) => "ok".to_owned(),
            Err(Error::Damaged(_)) => "damaged".to_owned(),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(outcome, row.prune, "{name}: {result:?}");
        let Ok(pruned) = result else {
            // A damaged vault is left as it was.
            assert_eq!(keys_of(&vault, ObjectKind::Pack), all_packs, "{name}");
            assert_eq!(keys_of(&vault, ObjectKind::Index), index_before, "{name}");
            continue;
        };
        assert_eq!(pruned.deleted.packs, 0, "{name}: deleted before the grace period: {pruned:#?}");
        match name {
            "clean" | "obsolete-index" => {
                let changed = pruned.marked.packs + pruned.repacked.packs + pruned.unindexed_marked.packs;
                assert_eq!(changed, 0, "{name}: {pruned:#?}");
                assert_eq!(keys_of(&vault, ObjectKind::Pack), all_packs, "{name}");
                let after = check(&vault, &clock, ReadData::None).await;
                assert!(after.problems.is_empty(), "{name}: {:#?}", after.problems);
                if name == "obsolete-index" {
                    assert!(keys_of(&vault, ObjectKind::Index).len() < index_before.len(), "{name}: not merged");
                }
            }
            "unreferenced-pack" | "duplicate-blobs" => {
                if name == "unreferenced-pack" {
                    assert_eq!(pruned.unindexed_marked.packs, built.packs.len() as u64, "{pruned:#?}");
                    assert!(pruned.unindexed_marked.packs >= 1);
                } else {
                    assert!(pruned.marked.packs + pruned.repacked.packs >= 1, "{name}: {pruned:#?}");
                }
                // Marked, waiting for the grace period: nothing left to report.
                let mid = check(&vault, &clock, ReadData::None).await;
                assert!(mid.problems.is_empty(), "{name}: after the first prune: {:#?}", mid.problems);
                clock.advance(25 * HOUR);
                let later = prune(&vault, &clock).await.unwrap();
                assert!(later.deleted.packs >= 1, "{name}: {later:#?}");
                let remaining = keys_of(&vault, ObjectKind::Pack);
                assert!(remaining.len() < all_packs.len(), "{name}: nothing deleted");
                assert!(built.packs.iter().all(|k| !remaining.contains(k)), "{name}: unindexed pack left");
                let after = check(&vault, &clock, ReadData::All).await;
                assert!(after.problems.is_empty(), "{name}: {:#?}", after.problems);
            }
            _ => unreachable!(),
        }
        assert_restores(&vault, &clock, &src, name).await;
    }
}
