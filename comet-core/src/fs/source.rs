//! Reading metadata of local entries into tree nodes.

use std::collections::HashMap;
use std::fs::Metadata;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use crate::tree::{Node, NodeKind, Xattr};

/// Looks up user and group names once per id.
#[derive(Debug, Default)]
pub(crate) struct Names {
    users: HashMap<u32, Option<String>>,
    groups: HashMap<u32, Option<String>>,
}

impl Names {
    fn user(&mut self, uid: u32) -> Option<String> {
        self.users
            .entry(uid)
            .or_insert_with(|| nix::unistd::User::from_uid(uid.into()).ok().flatten().map(|u| u.name))
            .clone()
    }

    fn group(&mut self, gid: u32) -> Option<String> {
        self.groups
            .entry(gid)
            .or_insert_with(|| nix::unistd::Group::from_gid(gid.into()).ok().flatten().map(|g| g.name))
            .clone()
    }
}

/// The kind of an entry, from its `lstat`.
pub(crate) fn kind_of(meta: &Metadata) -> NodeKind {
    let t = meta.file_type();
    if t.is_dir() {
        NodeKind::Dir
    } else if t.is_symlink() {
        NodeKind::Symlink
    } else if t.is_fifo() {
        NodeKind::Fifo
    } else if t.is_char_device() {
        NodeKind::CharDevice
    } else if t.is_block_device() {
        NodeKind::BlockDevice
    } else if t.is_socket() {
        NodeKind::Socket
    } else {
        NodeKind::File
    }
}

fn ns(secs: i64, nsec: i64) -> i64 {
    secs.saturating_mul(1_000_000_000).saturating_add(nsec)
}

/// A node for the entry at `path` named `name`, with everything but contents and subtree.
/// Problems reading the symlink target or xattrs are returned as warnings.
pub(crate) fn node_from_metadata(
    path: &Path,
    name: Vec<u8>,
    meta: &Metadata,
    names: &mut Names,
    warnings: &mut Vec<String>,
) -> Node {
    let kind = kind_of(meta);
    let mut node = Node::new(name, kind);
    node.mode = meta.mode();
    node.uid = meta.uid();
    node.gid = meta.gid();
    node.user = names.user(node.uid);
    node.group = names.group(node.gid);
    node.mtime_ns = ns(meta.mtime(), meta.mtime_nsec());
    node.atime_ns = ns(meta.atime(), meta.atime_nsec());
    node.ctime_ns = ns(meta.ctime(), meta.ctime_nsec());
    node.inode = meta.ino();
    node.device = meta.dev();
    node.links = meta.nlink();
    match kind {
        NodeKind::File => node.size = meta.size(),
        NodeKind::CharDevice | NodeKind::BlockDevice => node.rdev = meta.rdev(),
        NodeKind::Symlink => match std::fs::read_link(path) {
            Ok(target) => {
                use std::os::unix::ffi::OsStrExt;
                node.link_target = target.as_os_str().as_bytes().to_vec();
            }
            Err(e) => warnings.push(format!("{}: reading link target: {e}", path.display())),
        },
        _ => {}
    }
    node.xattrs = read_xattrs(path, warnings);
    node
}

fn read_xattrs(path: &Path, warnings: &mut Vec<String>) -> Vec<Xattr> {
    use std::os::unix::ffi::OsStrExt;
    let names = match xattr::list(path) {
        Ok(names) => names,
        // File systems without xattr support answer EOPNOTSUPP: nothing to record.
        Err(e) if e.raw_os_error() == Some(nix::libc::EOPNOTSUPP) => return Vec::new(),
        Err(e) => {
            warnings.push(format!("{}: listing extended attributes: {e}", path.display()));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for name in names {
        match xattr::get(path, &name) {
            Ok(Some(value)) => out.push(Xattr { name: name.as_bytes().to_vec(), value }),
            Ok(None) => {}
            Err(e) => warnings.push(format!("{}: reading extended attribute {}: {e}", path.display(), name.display())),
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Whether `node` can re-use the contents recorded in `parent`: same kind, size, mtime, ctime
/// and inode. (The device number is not compared: it changes across reboots for some file
/// systems, and inode + ctime already pin the file.)
pub(crate) fn unchanged(node: &Node, parent: &Node) -> bool {
    parent.kind == NodeKind::File
        && node.kind == NodeKind::File
        && node.size == parent.size
        && node.mtime_ns == parent.mtime_ns
        && node.ctime_ns == parent.ctime_ns
        && node.inode == parent.inode
}
