//! `repair index` and `repair snapshots`.

use crate::cli::{RepairArgs, RepairCommand};
use crate::context::Context;
use crate::error::{Outcome, Result};
use crate::output::Printer;

pub(super) async fn run(context: &Context, args: &RepairArgs, printer: &mut Printer<'_>) -> Result<Outcome> {
    match args.what {
        RepairCommand::Index => {
            let repo = context.open().await?;
            let report = repo.repair_index().await?;
            for (pack, reason) in &report.unreadable {
                eprintln!("warning: {pack}: left out of the index: {reason}");
            }
            if printer.json {
                printer.json(&report)?;
            } else {
                printer.line(format_args!(
                    "indexed {} packs ({} blobs) in {} index files; removed {} old index files",
                    report.packs_indexed, report.blobs, report.index_files_written, report.index_files_removed
                ))?;
            }
            Ok(if report.unreadable.is_empty() { Outcome::Success } else { Outcome::Warnings })
        }
        RepairCommand::Snapshots { dry_run, forget } => {
            let repo = context.open_indexed().await?;
            let report = repo.repair_snapshots(dry_run, forget).await?;
            if printer.json {
                printer.json(&report)?;
            } else {
                for r in &report.repaired {
                    let new = r.repaired.as_deref().map_or_else(|| "(dry run)".to_owned(), |id| id[..8].to_owned());
                    printer.line(format_args!(
                        "snapshot {} -> {new}: {} paths lost",
                        &r.original[..8],
                        r.lost.len()
                    ))?;
                    for path in &r.lost {
                        printer.line(format_args!("  {path}"))?;
                    }
                }
                printer.line(format_args!(
                    "{} of {} snapshots {}repaired{}",
                    report.repaired.len(),
                    report.snapshots,
                    if dry_run { "would be " } else { "" },
                    if report.forgot_originals { "; the damaged originals were removed" } else { "" }
                ))?;
            }
            Ok(Outcome::Success)
        }
    }
}
