//! `check`: report damage, naming every damaged object and the files it costs.

use comet_core::{CheckOptions, ReadData};

use crate::cli::CheckArgs;
use crate::context::Context;
use crate::error::{Error, Outcome, Result};
use crate::output::{Printer, human_bytes};

pub(super) async fn run(context: &Context, args: &CheckArgs, printer: &mut Printer<'_>) -> Result<Outcome> {
    let repo = context.open().await?;
    let read_data = match (args.read_data, args.read_data_subset) {
        (true, _) => ReadData::All,
        (false, Some(subset)) => subset,
        (false, None) => ReadData::None,
    };
    let report = repo.check(&CheckOptions::default().read_data(read_data)).await?;
    let errors = report.errors().count();
    if printer.json {
        printer.json(&report)?;
    } else {
        printer.line(format_args!(
            "checked {} snapshots, {} trees, {} packs{}",
            report.snapshots,
            report.trees,
            report.packs,
            if report.packs_read > 0 {
                format!(
                    "; read {} packs ({}), {} blobs",
                    report.packs_read,
                    human_bytes(report.bytes_read),
                    report.blobs_read
                )
            } else {
                String::new()
            }
        ))?;
        for p in &report.problems {
            let level = if p.kind.is_error() { "error" } else { "notice" };
            printer.line(format_args!("{level}: {}: {}", p.object, p.message))?;
        }
        for a in &report.affected {
            printer.line(format_args!(
                "snapshot {} loses data in {} paths:",
                &a.snapshot[..8.min(a.snapshot.len())],
                a.paths.len()
            ))?;
            for path in &a.paths {
                printer.line(format_args!("  {path}"))?;
            }
        }
        if errors == 0 {
            printer.line("no errors were found")?;
        }
    }
    if errors > 0 {
        printer.flush()?;
        return Err(Error::Damaged(format!(
            "{errors} errors found: see above; `repair index` or `repair snapshots` can save the rest"
        )));
    }
    Ok(Outcome::Success)
}
