//! `diff`: what changed between two snapshots, one `marker path` line per change.

use comet_core::{DiffEntry, DiffKind};
use serde::Serialize;

use crate::cli::DiffArgs;
use crate::context::Context;
use crate::error::{Outcome, Result};
use crate::output::Printer;

#[derive(Default, Serialize)]
struct Counts {
    added: u64,
    removed: u64,
    modified: u64,
    metadata: u64,
    type_changed: u64,
}

impl Counts {
    fn of(entries: &[DiffEntry]) -> Self {
        let mut counts = Self::default();
        for entry in entries {
            *match entry.kind {
                DiffKind::Added => &mut counts.added,
                DiffKind::Removed => &mut counts.removed,
                DiffKind::Modified => &mut counts.modified,
                DiffKind::Metadata => &mut counts.metadata,
                DiffKind::TypeChanged => &mut counts.type_changed,
            } += 1;
        }
        counts
    }
}

#[derive(Serialize)]
struct ChangeJson<'a> {
    kind: &'static str,
    marker: char,
    path: &'a str,
}

#[derive(Serialize)]
struct DiffReport<'a> {
    first: String,
    second: String,
    changes: Vec<ChangeJson<'a>>,
    counts: Counts,
}

fn kind_name(kind: DiffKind) -> &'static str {
    match kind {
        DiffKind::Added => "added",
        DiffKind::Removed => "removed",
        DiffKind::Modified => "modified",
        DiffKind::Metadata => "metadata",
        DiffKind::TypeChanged => "type_changed",
    }
}

pub(super) async fn run(context: &Context, args: &DiffArgs, printer: &mut Printer<'_>) -> Result<Outcome> {
    let repo = context.open().await?;
    let (first_id, first) = repo.find_snapshot(&args.first).await?;
    let (second_id, second) = repo.find_snapshot(&args.second).await?;
    let repo = repo.load_index().await?;
    let entries = repo.diff(&first.tree, &second.tree).await?;
    let counts = Counts::of(&entries);
    if printer.json {
        let changes = entries
            .iter()
            .map(|e| ChangeJson { kind: kind_name(e.kind), marker: e.kind.marker(), path: &e.path })
            .collect();
        printer.json(&DiffReport { first: first_id.to_hex(), second: second_id.to_hex(), changes, counts })?;
        return Ok(Outcome::Success);
    }
    printer.line(format_args!("comparing snapshot {} to {}:", first_id.short(), second_id.short()))?;
    printer.line("")?;
    for entry in &entries {
        printer.line(format_args!("{}    {}", entry.kind.marker(), entry.path))?;
    }
    printer.line("")?;
    printer.line(format_args!(
        "{} added, {} removed, {} modified, {} metadata only, {} type changed",
        counts.added, counts.removed, counts.modified, counts.metadata, counts.type_changed
    ))?;
    Ok(Outcome::Success)
}
