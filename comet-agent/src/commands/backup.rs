//! `backup`: store paths as a new snapshot and print what the backup did.

use std::sync::Arc;

use comet_core::{BackupOptions, BackupOutcome, BackupProgress, BackupSummary, FilterOptions};
use serde::Serialize;

use crate::cli::BackupArgs;
use crate::context::Context;
use crate::error::{Error, Outcome, Result};
use crate::output::{Printer, human_bytes, human_duration, print_warnings, rfc3339};
use crate::progress;

#[derive(Serialize)]
struct BackupReport<'a> {
    snapshot_id: String,
    short_id: String,
    time: String,
    hostname: &'a str,
    paths: &'a [String],
    tags: &'a [String],
    parent: Option<String>,
    summary: &'a BackupSummary,
    duration_seconds: f64,
    recovered_packs: usize,
    warnings: &'a [String],
}

/// The backup options the flags give (paths aside).
pub(crate) fn options(args: &BackupArgs) -> BackupOptions {
    let mut filter = FilterOptions::default();
    filter.exclude.clone_from(&args.exclude);
    filter.iexclude.clone_from(&args.iexclude);
    filter.exclude_regex.clone_from(&args.exclude_regex);
    filter.exclude_larger_than = args.exclude_larger_than;
    filter.exclude_if_present.clone_from(&args.exclude_if_present);
    let mut options = BackupOptions::new(args.paths.iter().cloned())
        .tags(args.tags.iter().filter(|t| !t.is_empty()).cloned())
        .filter(filter)
        .force(args.force);
    options.hostname.clone_from(&args.host);
    options
}

pub(super) async fn run(context: &Context, args: &BackupArgs, printer: &mut Printer<'_>) -> Result<Outcome> {
    if let Some(item) = &args.item {
        return crate::managed::backup_item(context, item, args, printer).await;
    }
    // A missing path among others is a warning (the engine's); when none exists there is
    // nothing to back up, and an empty snapshot would only hide the mistake.
    if !args.paths.iter().any(|p| p.symlink_metadata().is_ok()) {
        let shown: Vec<String> = args.paths.iter().map(|p| p.display().to_string()).collect();
        return Err(Error::NothingToBackUp(shown.join(", ")));
    }
    let mut repo = context.open_indexed().await?;
    let mut options = options(args);
    if let Some(parent) = &args.parent {
        options.parent = Some(repo.find_snapshot(parent).await?.0);
    }
    let live = Arc::new(BackupProgress::default());
    options.progress = Some(live.clone());
    let ticker = context.show_progress().then(|| progress::backup(&live));
    let result = repo.backup(&options).await;
    progress::finish(ticker);
    let backup = result?;
    print_backup(context, &backup, printer)
}

/// Prints what a backup did; the outcome says whether it had warnings.
pub(crate) fn print_backup(context: &Context, backup: &BackupOutcome, printer: &mut Printer<'_>) -> Result<Outcome> {
    print_warnings(&backup.warnings);
    if backup.recovered_packs > 0 && context.chatty() {
        eprintln!("indexed {} packs left behind by an interrupted backup", backup.recovered_packs);
    }
    let snap = &backup.snapshot;
    let s = &snap.summary;
    let duration_ns = s.end_ns.saturating_sub(s.start_ns).max(0);
    if printer.json {
        printer.json(&BackupReport {
            snapshot_id: backup.id.to_hex(),
            short_id: backup.id.short(),
            time: rfc3339(snap.time_ns),
            hostname: &snap.hostname,
            paths: &snap.paths,
            tags: &snap.tags,
            parent: snap.parent.map(|p| p.to_hex()),
            summary: s,
            duration_seconds: duration_ns as f64 / 1e9,
            recovered_packs: backup.recovered_packs,
            warnings: &backup.warnings,
        })?;
    } else {
        if let Some(parent) = snap.parent {
            printer.line(format_args!("parent:    snapshot {}", parent.short()))?;
        }
        printer.line(format_args!(
            "Files:     {} new, {} changed, {} unmodified",
            s.files_new, s.files_changed, s.files_unmodified
        ))?;
        printer.line(format_args!("Dirs:      {}", s.dirs))?;
        if s.others > 0 {
            printer.line(format_args!("Others:    {} (links, devices, ...)", s.others))?;
        }
        printer.line(format_args!(
            "Added:     {} ({} stored) in {} packs",
            human_bytes(s.bytes_added),
            human_bytes(s.bytes_added_stored),
            s.packs_added
        ))?;
        printer.line(format_args!(
            "Processed: {} files, {} in {}",
            s.total_files,
            human_bytes(s.total_bytes),
            human_duration(s.start_ns, s.end_ns)
        ))?;
        if !backup.warnings.is_empty() {
            printer.line(format_args!("Warnings:  {} (printed above)", backup.warnings.len()))?;
        }
        printer.line(format_args!("snapshot {} saved", backup.id.short()))?;
    }
    Ok(if backup.warnings.is_empty() { Outcome::Success } else { Outcome::Warnings })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    #[test]
    fn flags_become_options() {
        let line = "comet-agent backup a b --tag x,y --tag z --exclude *.tmp --iexclude *.BAK --exclude-regex ^/tmp \
                    --exclude-larger-than 1k --exclude-if-present .nobackup --force --host box";
        let cli = Cli::parse_from(line.split_whitespace());
        let Command::Backup(args) = cli.command else { panic!("not a backup") };
        let o = options(&args);
        assert_eq!(o.paths, [std::path::PathBuf::from("a"), "b".into()]);
        assert_eq!(o.tags, ["x", "y", "z"]);
        assert_eq!(o.filter.exclude, ["*.tmp"]);
        assert_eq!(o.filter.iexclude, ["*.BAK"]);
        assert_eq!(o.filter.exclude_regex, ["^/tmp"]);
        assert_eq!(o.filter.exclude_larger_than, Some(1024));
        assert_eq!(o.filter.exclude_if_present, [".nobackup"]);
        assert!(o.force);
        assert_eq!(o.hostname.as_deref(), Some("box"));
    }
}
