//! Listing the entries of a snapshot.

use std::path::{Component, Path};

use serde::Serialize;

use super::IndexedRepository;
use crate::error::{Error, Result};
use crate::id::TreeId;
use crate::tree::{Node, NodeKind};

/// One entry of a listing.
#[derive(Clone, Debug, Serialize)]
pub struct LsEntry {
    /// Path inside the snapshot, `/`-separated, lossily decoded.
    pub path: String,
    /// The node.
    #[serde(skip)]
    pub node: Node,
}

impl IndexedRepository {
    /// Every entry under `start` (a path inside the snapshot; empty = everything), depth first
    /// in name order. With `recursive` false only the direct children of `start` are listed.
    pub async fn ls(&self, root: &TreeId, start: &Path, recursive: bool) -> Result<Vec<LsEntry>> {
        use std::os::unix::ffi::OsStrExt;
        let mut tree_id = *root;
        let mut prefix = String::new();
        for component in start.components() {
            let Component::Normal(name) = component else { continue };
            let tree = self.read_tree(&tree_id).await?;
            let node = tree
                .find(name.as_bytes())
                .ok_or_else(|| Error::InvalidOption(format!("{} is not in the snapshot", start.display())))?;
            prefix = join(&prefix, &node.name);
            match (node.kind, node.subtree) {
                (NodeKind::Dir, Some(sub)) => tree_id = sub,
                _ => return Ok(vec![LsEntry { path: prefix, node: node.clone() }]),
            }
        }
        let mut out = Vec::new();
        let mut stack = vec![(tree_id, prefix)];
        while let Some((id, dir)) = stack.pop() {
            let tree = self.read_tree(&id).await?;
            let mut subdirs = Vec::new();
            for node in tree.nodes {
                let path = join(&dir, &node.name);
                if recursive && let (NodeKind::Dir, Some(sub)) = (node.kind, node.subtree) {
                    subdirs.push((sub, path.clone()));
                }
                out.push(LsEntry { path, node });
            }
            // Depth first in name order: push children reversed.
            stack.extend(subdirs.into_iter().rev());
        }
        if recursive {
            out.sort_by(|a, b| a.path.split('/').cmp(b.path.split('/')));
        }
        Ok(out)
    }
}

fn join(dir: &str, name: &[u8]) -> String {
    let name = String::from_utf8_lossy(name);
    if dir.is_empty() { name.into_owned() } else { format!("{dir}/{name}") }
}
