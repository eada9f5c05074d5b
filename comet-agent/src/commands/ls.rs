//! `ls`: list the entries of a snapshot, with full paths inside it.

use comet_core::LsEntry;
use comet_core::snapshot::format_time;
use comet_core::tree::NodeKind;
use serde::Serialize;

use crate::cli::LsArgs;
use crate::context::Context;
use crate::error::{Outcome, Result};
use crate::output::{Printer, kind_name, mode_string};

#[derive(Serialize)]
struct LsJson<'a> {
    path: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    /// Permission bits (with setuid, setgid, sticky), without the file type.
    mode: u32,
    permissions: String,
    uid: u32,
    gid: u32,
    user: Option<&'a str>,
    group: Option<&'a str>,
    size: u64,
    mtime: String,
    mtime_ns: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    link_target: Option<String>,
}

impl<'a> LsJson<'a> {
    fn new(entry: &'a LsEntry) -> Self {
        let node = &entry.node;
        Self {
            path: &entry.path,
            kind: kind_name(node.kind),
            mode: node.mode & 0o7777,
            permissions: mode_string(node.kind, node.mode),
            uid: node.uid,
            gid: node.gid,
            user: node.user.as_deref(),
            group: node.group.as_deref(),
            size: node.size,
            mtime: crate::output::rfc3339(node.mtime_ns),
            mtime_ns: node.mtime_ns,
            link_target: (node.kind == NodeKind::Symlink)
                .then(|| String::from_utf8_lossy(&node.link_target).into_owned()),
        }
    }
}

/// `ls -l` lines: mode, user, group, size, mtime, path, and `-> target` for symlinks, with
/// the owner and size columns aligned.
fn long_lines(entries: &[LsEntry]) -> Vec<String> {
    let owner = |name: &Option<String>, id: u32| name.clone().unwrap_or_else(|| id.to_string());
    let cells: Vec<(String, String, String)> = entries
        .iter()
        .map(|e| (owner(&e.node.user, e.node.uid), owner(&e.node.group, e.node.gid), e.node.size.to_string()))
        .collect();
    let width = |pick: fn(&(String, String, String)) -> &String| cells.iter().map(|c| pick(c).len()).max().unwrap_or(0);
    let (wu, wg, ws) = (width(|c| &c.0), width(|c| &c.1), width(|c| &c.2));
    entries
        .iter()
        .zip(&cells)
        .map(|(e, (user, group, size))| {
            let mut line = format!(
                "{} {user:<wu$} {group:<wg$} {size:>ws$} {} {}",
                mode_string(e.node.kind, e.node.mode),
                format_time(e.node.mtime_ns),
                e.path
            );
            if e.node.kind == NodeKind::Symlink {
                line.push_str(" -> ");
                line.push_str(&String::from_utf8_lossy(&e.node.link_target));
            }
            line
        })
        .collect()
}

pub(super) async fn run(context: &Context, args: &LsArgs, printer: &mut Printer<'_>) -> Result<Outcome> {
    let repo = context.open().await?;
    let (_, snap) = repo.find_snapshot(&args.snapshot).await?;
    let repo = repo.load_index().await?;
    let start = args.path.clone().unwrap_or_default();
    let recursive = args.path.is_none() || args.recursive;
    let entries = repo.ls(&snap.tree, &start, recursive).await?;
    if printer.json {
        let list: Vec<LsJson<'_>> = entries.iter().map(LsJson::new).collect();
        printer.json(&list)?;
    } else if args.long {
        for line in long_lines(&entries) {
            printer.line(line)?;
        }
    } else {
        for entry in &entries {
            printer.line(&entry.path)?;
        }
    }
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use comet_core::tree::Node;

    use super::*;

    #[test]
    fn long_format_aligns_and_shows_link_targets() {
        let mut file = Node::new(b"f".to_vec(), NodeKind::File);
        file.mode = 0o100_644;
        file.size = 12345;
        file.user = Some("alice".into());
        file.gid = 100;
        let mut link = Node::new(b"l".to_vec(), NodeKind::Symlink);
        link.mode = 0o120_777;
        link.link_target = b"f".to_vec();
        let entries = [LsEntry { path: "d/f".into(), node: file }, LsEntry { path: "d/l".into(), node: link }];
        let lines = long_lines(&entries);
        assert_eq!(lines[0], "-rw-r--r-- alice 100 12345 1970-01-01 00:00:00 d/f");
        assert_eq!(lines[1], "lrwxrwxrwx 0     0       0 1970-01-01 00:00:00 d/l -> f");
    }
}
