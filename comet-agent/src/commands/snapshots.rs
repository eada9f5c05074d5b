//! `snapshots`: list the snapshots, oldest first.

use comet_core::snapshot::format_time;
use comet_core::{BackupSummary, Snapshot, SnapshotId};
use serde::Serialize;

use crate::cli::SnapshotsArgs;
use crate::context::Context;
use crate::error::{Outcome, Result};
use crate::output::{Printer, human_bytes, rfc3339};

/// A snapshot as JSON output shows it: ids in hex, times in RFC 3339 and in ns.
#[derive(Serialize)]
pub(super) struct SnapshotJson<'a> {
    id: String,
    short_id: String,
    time: String,
    time_ns: i64,
    hostname: &'a str,
    username: &'a str,
    paths: &'a [String],
    tags: &'a [String],
    tree: String,
    parent: Option<String>,
    device_id: Option<&'a str>,
    protected_item: Option<&'a str>,
    program: &'a str,
    summary: &'a BackupSummary,
}

impl<'a> SnapshotJson<'a> {
    pub(super) fn new(id: &SnapshotId, snap: &'a Snapshot) -> Self {
        Self {
            id: id.to_hex(),
            short_id: id.short(),
            time: rfc3339(snap.time_ns),
            time_ns: snap.time_ns,
            hostname: &snap.hostname,
            username: &snap.username,
            paths: &snap.paths,
            tags: &snap.tags,
            tree: snap.tree.to_hex(),
            parent: snap.parent.map(|p| p.to_hex()),
            device_id: snap.device_id.as_deref(),
            protected_item: snap.protected_item.as_deref(),
            program: &snap.program,
            summary: &snap.summary,
        }
    }
}

/// Whether `snap` passes the filters: a host among `hosts` (if any), and all the tags of at
/// least one comma-separated group of `tag_groups` (if any).
fn selected(snap: &Snapshot, hosts: &[String], tag_groups: &[String]) -> bool {
    let host_ok = hosts.is_empty() || hosts.contains(&snap.hostname);
    let tags_ok = tag_groups.is_empty()
        || tag_groups.iter().any(|group| {
            group.split(',').filter(|t| !t.is_empty()).all(|tag| snap.tags.iter().any(|have| have == tag))
        });
    host_ok && tags_ok
}

pub(super) async fn run(context: &Context, args: &SnapshotsArgs, printer: &mut Printer<'_>) -> Result<Outcome> {
    let repo = context.open().await?;
    let snaps: Vec<(SnapshotId, Snapshot)> =
        repo.snapshots().await?.into_iter().filter(|(_, s)| selected(s, &args.hosts, &args.tags)).collect();
    if printer.json {
        let list: Vec<SnapshotJson<'_>> = snaps.iter().map(|(id, s)| SnapshotJson::new(id, s)).collect();
        printer.json(&list)?;
        return Ok(Outcome::Success);
    }
    let rows: Vec<Vec<String>> = snaps
        .iter()
        .map(|(id, s)| {
            vec![
                id.short(),
                format_time(s.time_ns),
                s.hostname.clone(),
                s.tags.join(","),
                s.paths.join(", "),
                human_bytes(s.summary.total_bytes),
            ]
        })
        .collect();
    printer.table(&["ID", "Time (UTC)", "Host", "Tags", "Paths", "Size"], &rows)?;
    printer.line(format_args!("{} snapshot{}", snaps.len(), if snaps.len() == 1 { "" } else { "s" }))?;
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(host: &str, tags: &[&str]) -> Snapshot {
        Snapshot {
            version: comet_core::snapshot::SNAPSHOT_VERSION,
            time_ns: 0,
            hostname: host.into(),
            username: "u".into(),
            paths: vec!["p".into()],
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            tree: comet_core::TreeId::default(),
            parent: None,
            device_id: None,
            protected_item: None,
            summary: BackupSummary::default(),
            program: "test".into(),
        }
    }

    #[test]
    fn filters() {
        let s = snap("box", &["a", "b"]);
        let strings = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert!(selected(&s, &[], &[]));
        assert!(selected(&s, &strings(&["other", "box"]), &[]));
        assert!(!selected(&s, &strings(&["other"]), &[]));
        assert!(selected(&s, &[], &strings(&["a,b"])));
        assert!(!selected(&s, &[], &strings(&["a,c"])));
        assert!(selected(&s, &[], &strings(&["a,c", "b"])));
        assert!(!selected(&s, &strings(&["other"]), &strings(&["a"])));
    }
}
