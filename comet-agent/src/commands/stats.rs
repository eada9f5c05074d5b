//! `stats`: what the snapshots hold (restore size) or reference (raw data), and the vault's
//! totals.

use comet_core::{SnapshotId, Stats};
use serde::Serialize;

use crate::cli::{StatsArgs, StatsMode};
use crate::context::Context;
use crate::error::{Outcome, Result};
use crate::output::{Printer, human_bytes};

/// Everything `stats` counted, as JSON (both modes: one walk computes them).
#[derive(Serialize)]
struct StatsJson<'a> {
    /// `restore-size` or `raw-data`, as asked.
    mode: &'static str,
    #[serde(flatten)]
    stats: &'a Stats,
    /// Restore size over the plaintext of the distinct data blobs.
    dedup_ratio: Option<f64>,
    /// Plaintext over stored bytes of the distinct blobs.
    compression_ratio: Option<f64>,
}

/// `1.5 KiB (1536 bytes)`.
fn bytes(n: u64) -> String {
    if n < 1024 { format!("{n} B") } else { format!("{} ({n} bytes)", human_bytes(n)) }
}

fn ratio(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |r| format!("{r:.2}"))
}

/// The text lines: a label and a value, per line.
fn lines(stats: &Stats, mode: StatsMode) -> Vec<(&'static str, String)> {
    let mut out = vec![("Snapshots", stats.snapshots.to_string())];
    match mode {
        StatsMode::RestoreSize => {
            let size = &stats.restore_size;
            out.push(("Files", size.files.to_string()));
            out.push(("Directories", size.dirs.to_string()));
            out.push(("Other entries", size.others.to_string()));
            out.push(("Total size", bytes(size.bytes)));
        }
        StatsMode::RawData => {
            let raw = &stats.raw_data;
            out.push(("Data blobs", raw.data_blobs.to_string()));
            out.push(("Tree blobs", raw.tree_blobs.to_string()));
            out.push(("Plaintext size", bytes(raw.bytes())));
            out.push(("Stored size", bytes(raw.stored_bytes())));
            out.push(("Restore size", bytes(stats.restore_size.bytes)));
            out.push(("Deduplication ratio", ratio(stats.dedup_ratio())));
            out.push(("Compression ratio", ratio(stats.compression_ratio())));
            if raw.missing_blobs > 0 {
                out.push(("Missing blobs", format!("{} (the vault is damaged: run a check)", raw.missing_blobs)));
            }
        }
    }
    let vault = &stats.vault;
    out.push((
        "Vault",
        format!(
            "{} snapshots, {} packs, {}, {} data blobs, {} tree blobs",
            vault.snapshots,
            vault.packs,
            human_bytes(vault.pack_bytes),
            vault.data_blobs,
            vault.tree_blobs
        ),
    ));
    out
}

pub(super) async fn run(context: &Context, args: &StatsArgs, printer: &mut Printer<'_>) -> Result<Outcome> {
    let repo = context.open().await?;
    let ids: Vec<SnapshotId> = if args.snapshots.is_empty() {
        repo.snapshots().await?.into_iter().map(|(id, _)| id).collect()
    } else {
        let mut ids = Vec::new();
        for reference in &args.snapshots {
            ids.push(repo.find_snapshot(reference).await?.0);
        }
        ids
    };
    let repo = repo.load_index().await?;
    let stats = repo.stats(&ids).await?;
    if printer.json {
        let mode = match args.mode {
            StatsMode::RestoreSize => "restore-size",
            StatsMode::RawData => "raw-data",
        };
        printer.json(&StatsJson {
            mode,
            stats: &stats,
            dedup_ratio: stats.dedup_ratio(),
            compression_ratio: stats.compression_ratio(),
        })?;
        return Ok(Outcome::Success);
    }
    let lines = lines(&stats, args.mode);
    let width = lines.iter().map(|(label, _)| label.len()).max().unwrap_or(0) + 1;
    for (label, value) in lines {
        printer.line(format_args!("{:<width$} {value}", format!("{label}:")))?;
    }
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_ratios_read_well() {
        assert_eq!(bytes(12), "12 B");
        assert_eq!(bytes(1536), "1.5 KiB (1536 bytes)");
        assert_eq!(ratio(Some(2.0)), "2.00");
        assert_eq!(ratio(None), "-");
    }
}
