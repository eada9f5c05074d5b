//! `prune`: mark unused packs, delete packs marked long enough ago, repack wasteful ones.

use comet_core::{PackCount, PruneOptions, PruneReport};

use crate::cli::{PruneArgs, PruneTuning};
use crate::context::Context;
use crate::error::{Outcome, Result};
use crate::output::{Printer, human_bytes};

/// The core options the command line asks for.
pub(super) fn options(tuning: &PruneTuning, dry_run: bool) -> PruneOptions {
    PruneOptions::default()
        .grace(tuning.grace)
        .max_unused(tuning.max_unused)
        .max_repack(tuning.max_repack)
        .dry_run(dry_run)
        .clock_skew(tuning.clock_skew)
        .mark_write_limit(tuning.mark_write_limit)
}

pub(super) async fn run(context: &Context, args: &PruneArgs, printer: &mut Printer<'_>) -> Result<Outcome> {
    let repo = context.open().await?;
    let report = repo.prune(&options(&args.tuning, args.dry_run)).await?;
    if printer.json {
        printer.json(&report)?;
    } else {
        print_report(&report, printer)?;
    }
    Ok(outcome(&report))
}

/// Warnings when some pack could not be repacked.
pub(super) fn outcome(report: &PruneReport) -> Outcome {
    if report.repack_failed.is_empty() { Outcome::Success } else { Outcome::Warnings }
}

pub(super) fn print_report(r: &PruneReport, printer: &mut Printer<'_>) -> Result<()> {
    let count = |c: &PackCount| format!("{} packs, {}", c.packs, human_bytes(c.bytes));
    let would = if r.dry_run { "would be " } else { "" };
    printer.line(format_args!(
        "{} snapshots use {} blobs ({}) in a vault of {}",
        r.snapshots,
        r.used_blobs,
        human_bytes(r.used_bytes),
        count(&r.total)
    ))?;
    let mut rows: Vec<(String, String)> = vec![
        ("kept".into(), count(&r.kept)),
        (format!("{would}marked for deletion"), count(&r.marked)),
        (format!("{would}revived"), count(&r.revived)),
        (format!("{would}repacked"), format!("{} (into {})", count(&r.repacked), count(&r.written))),
        (format!("{would}deleted"), count(&r.deleted)),
        ("marked, waiting".into(), count(&r.waiting)),
    ];
    if r.unindexed_marked.packs > 0 {
        rows.push((format!("unindexed, {would}marked"), count(&r.unindexed_marked)));
    }
    if r.unindexed_left.packs > 0 {
        rows.push(("unindexed, left to their backup".into(), count(&r.unindexed_left)));
    }
    let width = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0);
    for (label, value) in rows {
        printer.line(format_args!("{label:<width$}  {value}"))?;
    }
    if r.waiting.packs > 0 {
        printer.line("(marked packs are deleted by a prune run after the grace period, --grace)")?;
    }
    if r.live_sessions > 0 {
        printer.line(format_args!("{} backups are running: their data is kept until they end", r.live_sessions))?;
    }
    for pack in &r.repack_failed {
        eprintln!("warning: pack {pack} is damaged and was not repacked: run `check --read-data`");
    }
    Ok(())
}
