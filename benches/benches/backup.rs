//! End to end: backup of a 256 MiB mixed tree into an `InMemoryVault` (first and unchanged),
//! and restore of its snapshot into an empty directory. Only the backup or restore call is
//! timed: creating the vault, generating the tree and the `sync` before each restore are not.
//! Restored trees stay on disk (256 MiB each, about 12 of them) until the process ends.
//!
//! The tree (`write_mixed_tree`): half 4 MiB random files, half 4–64 KiB text files. It is
//! written once into a temporary directory and stays in the page cache.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use comet_benches::{MIB, TreeStats, write_mixed_tree};
use comet_core::{BackupOptions, IndexedRepository, InitOptions, KdfParams, Repository, RestoreOptions};
use comet_storage::InMemoryVault;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokio::runtime::Runtime;

const TREE_LEN: usize = 256 * MIB;
const SAMPLES: usize = 10;

/// A new, empty vault with its index loaded.
fn fresh_repo(runtime: &Runtime) -> IndexedRepository {
    runtime.block_on(async {
        let options = InitOptions::default().kdf(KdfParams::FLOOR);
        let (repo, _) =
            Repository::init(Arc::new(InMemoryVault::new()), b"pw", &options).await.expect("init of a memory vault");
        repo.load_index().await.expect("loading an empty index")
    })
}

fn backup(runtime: &Runtime, repo: &mut IndexedRepository, options: &BackupOptions) -> comet_core::BackupOutcome {
    let outcome = runtime.block_on(repo.backup(options)).expect("backup");
    assert!(outcome.warnings.is_empty(), "backup warnings: {:?}", outcome.warnings);
    outcome
}

fn end_to_end(c: &mut Criterion) {
    let runtime = Runtime::new().expect("tokio runtime");
    let source = tempfile::tempdir().expect("temporary directory");
    let tree: PathBuf = source.path().join("tree");
    std::fs::create_dir(&tree).expect("creating the tree root");
    let stats: TreeStats = write_mixed_tree(&tree, TREE_LEN, 0xBAC_C0FF).expect("writing the tree");
    eprintln!("tree: {} files, {} bytes", stats.files, stats.bytes);
    let options = BackupOptions::new([&tree]);

    let mut group = c.benchmark_group("backup");
    group.sample_size(SAMPLES).throughput(Throughput::Bytes(stats.bytes));
    group.bench_function("first/256MiB", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let mut repo = fresh_repo(&runtime);
                let start = Instant::now();
                let outcome = backup(&runtime, &mut repo, &options);
                timed += start.elapsed();
                black_box(outcome);
            }
            timed
        });
    });

    // One repository for the rest: its first snapshot is the parent of every unchanged backup.
    let mut repo = fresh_repo(&runtime);
    let first = report_cpu("cpu first backup", || backup(&runtime, &mut repo, &options));
    report_cpu("cpu unchanged backup", || backup(&runtime, &mut repo, &options));
    // Restored trees are kept until the end: ext4 scans for recently deleted inodes (< 35 s)
    // when it allocates new ones, which made restores right after a removal 2-4× slower.
    let mut restored = Vec::new();
    let target = tempfile::tempdir().expect("temporary directory");
    sync_disks();
    report_cpu("cpu restore", || runtime.block_on(repo.restore(&first.snapshot, &RestoreOptions::new(target.path()))))
        .expect("restore");
    restored.push(target);
    let summary = &first.snapshot.summary;
    eprintln!(
        "first backup: {} files, {} data blobs, {} tree blobs, {} packs, {} bytes stored of {} new",
        summary.total_files,
        summary.data_blobs_added,
        summary.tree_blobs_added,
        summary.packs_added,
        summary.bytes_added_stored,
        summary.bytes_added
    );
    group.bench_function("unchanged/256MiB", |b| {
        b.iter(|| {
            let outcome = backup(&runtime, &mut repo, &options);
            assert_eq!(outcome.snapshot.summary.files_unmodified, stats.files, "every file is unchanged");
            outcome
        });
    });
    group.finish();

    let mut group = c.benchmark_group("restore");
    group.sample_size(SAMPLES).throughput(Throughput::Bytes(stats.bytes));
    let mut checked = false;
    group.bench_function("full/256MiB", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let target = tempfile::tempdir().expect("temporary directory");
                sync_disks();
                let start = Instant::now();
                let outcome = runtime
                    .block_on(repo.restore(&first.snapshot, &RestoreOptions::new(target.path())))
                    .expect("restore");
                timed += start.elapsed();
                assert!(outcome.warnings.is_empty(), "restore warnings: {:?}", outcome.warnings);
                assert_eq!((outcome.files, outcome.bytes), (stats.files, stats.bytes));
                if !checked {
                    check_restored(&tree, target.path());
                    checked = true;
                }
                restored.push(target);
            }
            timed
        });
    });
    group.finish();
    eprintln!("removing {} restored trees", restored.len());
}

/// Flushes dirty pages (the files of the previous restore) to disk before a timed step, as the
/// peer benchmark does, so one iteration's write-back does not slow the next.
fn sync_disks() {
    // `sync` is in every Unix base system; where it is missing, the run is only noisier.
    let _ = std::process::Command::new("sync").status();
}

/// CPU time (user + system, all threads) this process has used so far, from `/proc/self/stat`
/// (clock ticks of 10 ms on Linux); `None` elsewhere.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// Runs `work` once and reports its wall time, CPU time and the cores it kept busy.
fn report_cpu<T>(what: &str, work: impl FnOnce() -> T) -> T {
    let cpu = cpu_seconds();
    let start = Instant::now();
    let out = work();
    let wall = start.elapsed().as_secs_f64();
    if let (Some(before), Some(after)) = (cpu, cpu_seconds()) {
        let used = after - before;
        eprintln!("{what}: wall {wall:.3} s, CPU {used:.2} s (user + system), {:.2} cores", used / wall);
    }
    out
}

/// Compares a few restored files with their source, once.
fn check_restored(tree: &Path, target: &Path) {
    let restored = target.join(tree.strip_prefix("/").expect("an absolute temporary path"));
    for file in ["random/000.bin", "text/000/00000.txt"] {
        let same = std::fs::read(tree.join(file)).expect("source file")
            == std::fs::read(restored.join(file)).expect("restored file");
        assert!(same, "{file} restored with different contents");
    }
}

criterion_group!(benches, end_to_end);
criterion_main!(benches);
