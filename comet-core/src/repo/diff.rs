//! Comparing two snapshots.

use serde::Serialize;

use super::IndexedRepository;
use crate::error::Result;
use crate::id::TreeId;
use crate::tree::{Node, NodeKind, Tree};

/// How an entry differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum DiffKind {
    /// Only in the second snapshot.
    Added,
    /// Only in the first snapshot.
    Removed,
    /// In both, with other contents.
    Modified,
    /// In both, same contents, other metadata (mode, owner, times, xattrs).
    Metadata,
    /// In both, of another kind (file became a directory, ...).
    TypeChanged,
}

impl DiffKind {
    /// One-character marker, as `diff` prints it.
    pub fn marker(self) -> char {
        match self {
            Self::Added => '+',
            Self::Removed => '-',
            Self::Modified => 'M',
            Self::Metadata => 'U',
            Self::TypeChanged => 'T',
        }
    }
}

/// One difference.
#[derive(Clone, Debug, Serialize)]
pub struct DiffEntry {
    /// What changed.
    pub kind: DiffKind,
    /// Path inside the snapshots, lossily decoded; directories end with `/`.
    pub path: String,
}

fn same_metadata(a: &Node, b: &Node) -> bool {
    a.mode == b.mode && a.uid == b.uid && a.gid == b.gid && a.mtime_ns == b.mtime_ns && a.xattrs == b.xattrs
}

impl IndexedRepository {
    /// Differences between the trees `a` and `b`, in path order.
    pub async fn diff(&self, first: &TreeId, second: &TreeId) -> Result<Vec<DiffEntry>> {
        let mut out = Vec::new();
        let mut stack = vec![(Some(*first), Some(*second), String::new())];
        while let Some((ta, tb, dir)) = stack.pop() {
            if ta == tb {
                continue;
            }
            let load = |id: Option<TreeId>| async move {
                match id {
                    Some(id) => self.read_tree(&id).await,
                    None => Ok(Tree::default()),
                }
            };
            let (left, right) = (load(ta).await?, load(tb).await?);
            let (mut i, mut j) = (0, 0);
            while i < left.nodes.len() || j < right.nodes.len() {
                let order = match (left.nodes.get(i), right.nodes.get(j)) {
                    (Some(l), Some(r)) => l.name.cmp(&r.name),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    _ => std::cmp::Ordering::Greater,
                };
                let (l, r) = match order {
                    std::cmp::Ordering::Less => (left.nodes.get(i), None),
                    std::cmp::Ordering::Greater => (None, right.nodes.get(j)),
                    std::cmp::Ordering::Equal => (left.nodes.get(i), right.nodes.get(j)),
                };
                i += usize::from(l.is_some());
                j += usize::from(r.is_some());
                let node = l.or(r).expect("one side is present");
                let mut path = format!("{dir}{}", node.name_lossy());
                if node.kind == NodeKind::Dir {
                    path.push('/');
                }
                let kind = match (l, r) {
                    (Some(_), None) => Some(DiffKind::Removed),
                    (None, Some(_)) => Some(DiffKind::Added),
                    (Some(l), Some(r)) if l.kind != r.kind => Some(DiffKind::TypeChanged),
                    (Some(l), Some(r)) if l.kind == NodeKind::Dir => {
                        (!same_metadata(l, r)).then_some(DiffKind::Metadata)
                    }
                    (Some(l), Some(r)) if l.content != r.content || l.link_target != r.link_target => {
                        Some(DiffKind::Modified)
                    }
                    (Some(l), Some(r)) => (!same_metadata(l, r)).then_some(DiffKind::Metadata),
                    (None, None) => None,
                };
                if let Some(kind) = kind {
                    out.push(DiffEntry { kind, path: path.clone() });
                }
                let sub = |n: Option<&Node>| n.filter(|n| n.kind == NodeKind::Dir).and_then(|n| n.subtree);
                let (sa, sb) = (sub(l), sub(r));
                if (sa.is_some() || sb.is_some()) && sa != sb {
                    stack.push((sa, sb, path));
                }
            }
        }
        out.sort_by(|x, y| x.path.cmp(&y.path));
        Ok(out)
    }
}
