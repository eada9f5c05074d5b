//! Embedding Comet: back up a folder into an in-memory vault, restore it elsewhere, and check
//! that every file came back identical. Uses only the public APIs of comet-core and
//! comet-storage.
//!
//! `cargo run -p embed-backup [FOLDER]` (default: a small generated folder).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, ensure};
use comet_core::{BackupOptions, InitOptions, KdfParams, Repository, RestoreOptions};
use comet_storage::InMemoryVault;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let scratch = tempfile::tempdir()?;
    let source = match std::env::args_os().nth(1) {
        Some(folder) => std::path::absolute(PathBuf::from(folder))?,
        None => sample_folder(scratch.path())?,
    };

    // A vault in memory; any `comet_storage::Vault` works the same (see `open_vault`).
    let vault = Arc::new(InMemoryVault::new());
    let options = InitOptions::default().kdf(KdfParams::FLOOR);
    let (repo, _) = Repository::init(vault.clone(), b"an example password", &options).await?;
    let mut repo = repo.load_index().await?;

    let backup = repo.backup(&BackupOptions::new([&source])).await?;
    let summary = &backup.snapshot.summary;
    println!(
        "snapshot {}: {} files, {} bytes read, {} bytes stored in {} objects",
        backup.id.short(),
        summary.total_files,
        summary.total_bytes,
        vault.total_bytes(),
        vault.len()
    );

    let target = scratch.path().join("restored");
    repo.restore(&backup.snapshot, &RestoreOptions::new(&target)).await?;
    let restored = target.join(source.strip_prefix("/").unwrap_or(&source));
    let compared = compare(&source, &restored)?;
    println!("restored into {} and compared {compared} files: identical", target.display());
    Ok(())
}

fn sample_folder(root: &Path) -> anyhow::Result<PathBuf> {
    let folder = root.join("documents");
    std::fs::create_dir_all(folder.join("reports"))?;
    std::fs::write(folder.join("notes.txt"), "Comet keeps what matters.\n".repeat(500))?;
    let mut csv = String::new();
    for i in 0..10_000 {
        writeln!(csv, "{i},{}", i * 7)?;
    }
    std::fs::write(folder.join("reports/q3.csv"), csv)?;
    std::fs::write(folder.join("empty"), b"")?;
    Ok(folder)
}

/// Compares two trees file by file; returns how many files matched.
fn compare(a: &Path, b: &Path) -> anyhow::Result<usize> {
    let mut count = 0;
    for entry in std::fs::read_dir(a)? {
        let entry = entry?;
        let other = b.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            count += compare(&entry.path(), &other)?;
        } else if entry.file_type()?.is_file() {
            let (x, y) =
                (std::fs::read(entry.path())?, std::fs::read(&other).with_context(|| other.display().to_string())?);
            ensure!(x == y, "{} differs after restore", other.display());
            count += 1;
        }
    }
    Ok(count)
}
