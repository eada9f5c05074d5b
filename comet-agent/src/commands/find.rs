//! `find`: entries of snapshots whose name (or path) matches glob patterns.

use std::collections::HashMap;

use comet_core::snapshot::format_time;
use comet_core::{FindMatch, FindOptions, Snapshot, SnapshotId};
use serde::Serialize;

use crate::cli::FindArgs;
use crate::context::Context;
use crate::error::{Outcome, Result};
use crate::output::{Printer, kind_name, mode_string, rfc3339};

#[derive(Serialize)]
struct FindJson<'a> {
    snapshot: String,
    path: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    /// Permission bits (with setuid, setgid, sticky), without the file type.
    mode: u32,
    permissions: String,
    size: u64,
    mtime: String,
    mtime_ns: i64,
}

impl<'a> FindJson<'a> {
    fn new(found: &'a FindMatch) -> Self {
        Self {
            snapshot: found.snapshot.to_hex(),
            path: &found.path,
            kind: kind_name(found.kind),
            mode: found.mode & 0o7777,
            permissions: mode_string(found.kind, found.mode),
            size: found.size,
            mtime: rfc3339(found.mtime_ns),
            mtime_ns: found.mtime_ns,
        }
    }
}

/// The matching paths, each once, depth first in name order.
fn unique_paths(found: &[FindMatch]) -> Vec<&str> {
    let mut paths: Vec<&str> = found.iter().map(|f| f.path.as_str()).collect();
    paths.sort_by(|a, b| a.split('/').cmp(b.split('/')));
    paths.dedup();
    paths
}

/// The text output: per snapshot with matches a heading, then `ls -l`-like lines (mode, size,
/// modification time, path), sizes aligned; a count at the end.
fn text_lines(found: &[FindMatch], snapshots: &HashMap<SnapshotId, Snapshot>) -> Vec<String> {
    let size_width = found.iter().map(|f| f.size.to_string().len()).max().unwrap_or(0);
    let mut lines = Vec::new();
    let mut groups = 0;
    for (i, f) in found.iter().enumerate() {
        if i == 0 || found[i - 1].snapshot != f.snapshot {
            if i > 0 {
                lines.push(String::new());
            }
            let (time, host) = snapshots
                .get(&f.snapshot)
                .map_or_else(Default::default, |s| (format_time(s.time_ns), s.hostname.clone()));
            lines.push(format!("snapshot {} of {time} on {host}:", f.snapshot.short()));
            groups += 1;
        }
        lines.push(format!(
            "{} {:>size_width$} {} {}",
            mode_string(f.kind, f.mode),
            f.size,
            format_time(f.mtime_ns),
            f.path
        ));
    }
    if !found.is_empty() {
        lines.push(String::new());
    }
    let matches = if found.len() == 1 { "1 match".to_owned() } else { format!("{} matches", found.len()) };
    lines.push(format!("{matches} in {groups} snapshot{}", if groups == 1 { "" } else { "s" }));
    lines
}

pub(super) async fn run(context: &Context, args: &FindArgs, printer: &mut Printer<'_>) -> Result<Outcome> {
    let repo = context.open().await?;
    let snapshots: Vec<(SnapshotId, Snapshot)> = if args.snapshots.is_empty() {
        repo.snapshots().await?
    } else {
        let mut found = Vec::new();
        for reference in &args.snapshots {
            found.push(repo.find_snapshot(reference).await?);
        }
        found
    };
    let repo = repo.load_index().await?;
    let ids: Vec<SnapshotId> = snapshots.iter().map(|(id, _)| *id).collect();
    let options = FindOptions::new(args.patterns.iter().cloned()).ignore_case(args.ignore_case);
    let found = repo.find(&options, &ids).await?;
    match (printer.json, args.path_only) {
        (true, true) => printer.json(&unique_paths(&found))?,
        (true, false) => printer.json(&found.iter().map(FindJson::new).collect::<Vec<_>>())?,
        (false, true) => {
            for path in unique_paths(&found) {
                printer.line(path)?;
            }
        }
        (false, false) => {
            let by_id: HashMap<SnapshotId, Snapshot> = snapshots.into_iter().collect();
            for line in text_lines(&found, &by_id) {
                printer.line(line)?;
            }
        }
    }
    Ok(Outcome::Success)
}
