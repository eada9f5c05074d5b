//! `restore`: recreate a snapshot, or the paths `--include` names, under a target directory.

use std::sync::Arc;

use comet_core::{RestoreOptions, RestoreOutcome, RestoreProgress, SnapshotId};
use serde::Serialize;

use crate::cli::RestoreArgs;
use crate::context::Context;
use crate::error::{Outcome, Result};
use crate::output::{Printer, human_bytes, human_duration, print_warnings};
use crate::progress;

#[derive(Serialize)]
struct RestoreReport<'a> {
    snapshot_id: String,
    target: String,
    files: u64,
    dirs: u64,
    others: u64,
    bytes: u64,
    duration_seconds: f64,
    warnings: &'a [String],
    /// Files and directories whose data is lost or damaged in the vault.
    incomplete: Vec<String>,
}

pub(super) async fn run(context: &Context, args: &RestoreArgs, printer: &mut Printer<'_>) -> Result<Outcome> {
    if let Some(item) = &args.item {
        return crate::managed::restore_item(context, item, args, printer).await;
    }
    let started = comet_core::snapshot::now_ns();
    let repo = context.open().await?;
    let reference = args.snapshot.as_deref().unwrap_or("latest");
    let (id, snap) = repo.find_snapshot(reference).await?;
    let repo = repo.load_index().await?;
    let live = Arc::new(RestoreProgress::default());
    let options =
        args.include.iter().fold(RestoreOptions::new(&args.target), RestoreOptions::include).progress(live.clone());
    let ticker = context.show_progress().then(|| progress::restore(&live));
    let result = repo.restore(&snap, &options).await;
    progress::finish(ticker);
    let restored = result?;
    print_restore(id, &args.target, &restored, started, printer)
}

/// Prints what a restore did; the outcome says whether it had warnings.
pub(crate) fn print_restore(
    id: SnapshotId,
    target: &std::path::Path,
    restored: &RestoreOutcome,
    started: i64,
    printer: &mut Printer<'_>,
) -> Result<Outcome> {
    let ended = comet_core::snapshot::now_ns();
    print_warnings(&restored.warnings);
    if printer.json {
        printer.json(&RestoreReport {
            snapshot_id: id.to_hex(),
            target: target.display().to_string(),
            files: restored.files,
            dirs: restored.dirs,
            others: restored.others,
            bytes: restored.bytes,
            duration_seconds: ended.saturating_sub(started) as f64 / 1e9,
            warnings: &restored.warnings,
            incomplete: restored.incomplete.iter().map(|p| p.display().to_string()).collect(),
        })?;
    } else {
        printer.line(format_args!(
            "restored snapshot {} to {}: {} files, {} dirs, {} others, {} in {}",
            id.short(),
            target.display(),
            restored.files,
            restored.dirs,
            restored.others,
            human_bytes(restored.bytes),
            human_duration(started, ended)
        ))?;
        if !restored.incomplete.is_empty() {
            printer.line(format_args!(
                "{} files or directories are incomplete: their data is damaged or lost in the vault (listed above)",
                restored.incomplete.len()
            ))?;
        }
        if !restored.warnings.is_empty() {
            printer.line(format_args!("{} warnings (printed above)", restored.warnings.len()))?;
        }
    }
    Ok(if restored.warnings.is_empty() { Outcome::Success } else { Outcome::Warnings })
}
