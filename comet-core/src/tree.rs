//! Trees: one serialised directory listing per blob.
//!
//! A tree blob is the codec encoding of [`Tree`]: nodes sorted strictly by raw name bytes. Names
//! are raw bytes (non-UTF-8 names survive); they are validated before anything is restored.
//! The encoding is deterministic, so an unchanged directory produces the same tree id and is
//! stored once.

use serde::{Deserialize, Serialize};

use crate::codec;
use crate::error::Error;
use crate::id::{ChunkId, TreeId};

/// Format version of trees.
pub const TREE_VERSION: u32 = 1;

/// What a node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NodeKind {
    /// A regular file; `content` lists its chunks.
    File,
    /// A directory; `subtree` is its tree.
    Dir,
    /// A symbolic link; `link_target` is where it points.
    Symlink,
    /// A named pipe.
    Fifo,
    /// A character device; `rdev` is its device number.
    CharDevice,
    /// A block device; `rdev` is its device number.
    BlockDevice,
    /// A Unix socket (recorded, restored as nothing).
    Socket,
}

/// One extended attribute.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Xattr {
    /// Attribute name, raw bytes.
    #[serde(with = "serde_bytes")]
    pub name: Vec<u8>,
    /// Attribute value.
    #[serde(with = "serde_bytes")]
    pub value: Vec<u8>,
}

/// One entry of a directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// The name in its directory, raw bytes.
    #[serde(with = "serde_bytes")]
    pub name: Vec<u8>,
    /// What it is.
    pub kind: NodeKind,
    /// Permission bits and file type bits, as `st_mode`.
    pub mode: u32,
    /// Owner id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// Owner name, when known.
    pub user: Option<String>,
    /// Group name, when known.
    pub group: Option<String>,
    /// Modification time, ns since the epoch.
    pub mtime_ns: i64,
    /// Access time, ns since the epoch.
    pub atime_ns: i64,
    /// Status change time, ns since the epoch.
    pub ctime_ns: i64,
    /// Size in bytes (files) or 0.
    pub size: u64,
    /// Inode number at backup time (for change detection and hard links).
    pub inode: u64,
    /// Device of the file system at backup time.
    pub device: u64,
    /// Number of hard links at backup time.
    pub links: u64,
    /// Device number of device nodes.
    pub rdev: u64,
    /// Chunks of a file, in order.
    pub content: Vec<ChunkId>,
    /// Tree of a directory.
    pub subtree: Option<TreeId>,
    /// Target of a symlink, raw bytes.
    #[serde(with = "serde_bytes")]
    pub link_target: Vec<u8>,
    /// Extended attributes, sorted by name.
    pub xattrs: Vec<Xattr>,
}

impl Node {
    /// A node with `name` and `kind` and every other field zero or empty.
    pub fn new(name: Vec<u8>, kind: NodeKind) -> Self {
        Self {
            name,
            kind,
            mode: 0,
            uid: 0,
            gid: 0,
            user: None,
            group: None,
            mtime_ns: 0,
            atime_ns: 0,
            ctime_ns: 0,
            size: 0,
            inode: 0,
            device: 0,
            links: 0,
            rdev: 0,
            content: Vec::new(),
            subtree: None,
            link_target: Vec::new(),
            xattrs: Vec::new(),
        }
    }

    /// The name, lossily decoded for display.
    pub fn name_lossy(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }

    /// Whether this node shares its inode with others (a hard link).
    pub fn is_hardlinked(&self) -> bool {
        self.kind != NodeKind::Dir && self.links > 1
    }
}

/// A directory listing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tree {
    /// [`TREE_VERSION`].
    pub version: u32,
    /// Entries, sorted strictly by name.
    pub nodes: Vec<Node>,
}

impl Tree {
    /// A tree of `nodes`, sorted by name.
    pub fn new(mut nodes: Vec<Node>) -> Self {
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        Self { version: TREE_VERSION, nodes }
    }

    /// Plaintext of the tree blob.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Parses a tree blob and checks its version, order and names.
    pub fn decode(bytes: &[u8], id: &TreeId) -> Result<Self, Error> {
        let tree: Self = codec::decode(bytes).map_err(|r| Error::corrupted(format!("tree {}", id.short()), r))?;
        if tree.version != TREE_VERSION {
            return Err(Error::UnsupportedVersion {
                object: format!("tree {}", id.short()),
                found: tree.version,
                supported: TREE_VERSION,
            });
        }
        for pair in tree.nodes.windows(2) {
            if pair[0].name >= pair[1].name {
                return Err(Error::InvalidName { name: pair[1].name_lossy(), reason: "duplicate or unsorted name" });
            }
        }
        for node in &tree.nodes {
            validate_name(&node.name)?;
        }
        Ok(tree)
    }

    /// The node named `name`.
    pub fn find(&self, name: &[u8]) -> Option<&Node> {
        self.nodes.binary_search_by(|n| n.name.as_slice().cmp(name)).ok().map(|i| &self.nodes[i])
    }
}

/// Refuses names that could address anything but a new entry of the directory being restored.
pub fn validate_name(name: &[u8]) -> Result<(), Error> {
    let reason = if name.is_empty() {
        "empty name"
    } else if name == b"." || name == b".." {
        "relative directory name"
    } else if name.contains(&b'/') {
        "name contains a path separator"
    } else if name.contains(&0) {
        "name contains a NUL byte"
    } else {
        return Ok(());
    };
    Err(Error::InvalidName { name: String::from_utf8_lossy(name).into_owned(), reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_is_deterministic_and_validated() {
        let a = Tree::new(vec![Node::new(b"b".to_vec(), NodeKind::File), Node::new(vec![0xff, 0xfe], NodeKind::Dir)]);
        let bytes = a.encode();
        assert_eq!(bytes, Tree::new(a.nodes.clone()).encode());
        assert_eq!(Tree::decode(&bytes, &TreeId::default()).unwrap(), a);
        assert!(a.find(&[0xff, 0xfe]).is_some());
        for bad in [&b""[..], b".", b"..", b"a/b", b"/abs", b"x\0y"] {
            let t = Tree { version: TREE_VERSION, nodes: vec![Node::new(bad.to_vec(), NodeKind::File)] };
            assert!(matches!(Tree::decode(&t.encode(), &TreeId::default()), Err(Error::InvalidName { .. })), "{bad:?}");
        }
        let dup = Tree {
            version: TREE_VERSION,
            nodes: vec![Node::new(b"x".to_vec(), NodeKind::Symlink), Node::new(b"x".to_vec(), NodeKind::Dir)],
        };
        assert!(Tree::decode(&dup.encode(), &TreeId::default()).is_err());
    }
}
