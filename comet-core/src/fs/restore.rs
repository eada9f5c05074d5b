//! Creating restored entries without ever writing outside the target.
//!
//! Every name was validated when its tree was decoded (no `/`, `.`, `..`, NUL, empty, nor
//! duplicate), every directory on the way is one this restore created or checked to be a real
//! directory (`lstat`, never a symlink), and files are opened with `O_NOFOLLOW`: an entry that
//! already exists at a path is replaced, never written through.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use nix::sys::stat::{Mode, SFlag, UtimensatFlags, utimensat};
use nix::sys::time::TimeSpec;

use crate::tree::{Node, NodeKind};

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Makes `path` a real directory: creates it, or checks the existing entry is one (a symlink or
/// file there is removed first).
pub(crate) fn ensure_dir(path: &Path) -> io::Result<()> {
    match fs::create_dir(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let meta = fs::symlink_metadata(path)?;
            if meta.is_dir() {
                return Ok(());
            }
            fs::remove_file(path)?;
            fs::create_dir(path)
        }
        Err(e) => Err(e),
    }
}

/// Creates (or truncates) a regular file of `size` bytes, without following a symlink planted at
/// `path`. The file is sized up front so that chunks of zeros need not be written: they stay
/// holes, and sparse files come back sparse.
pub(crate) fn create_file(path: &Path, size: u64) -> io::Result<()> {
    let open_new =
        || OpenOptions::new().write(true).create_new(true).mode(0o600).custom_flags(nix::libc::O_NOFOLLOW).open(path);
    let file = match open_new() {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let meta = fs::symlink_metadata(path)?;
            if meta.is_dir() {
                return Err(io::Error::new(io::ErrorKind::AlreadyExists, "a directory is in the way"));
            }
            // Whatever is there (symlink, hard-linked file, device) is replaced, not written
            // through: a hard-linked sibling outside the target must not change.
            fs::remove_file(path)?;
            open_new()?
        }
        Err(e) => return Err(e),
    };
    file.set_len(size)
}

/// Opens a file this restore created, for writing its contents.
pub(crate) fn open_for_contents(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).custom_flags(nix::libc::O_NOFOLLOW).open(path)
}

/// Removes what is at `path` unless it is a directory (an error then).
pub(crate) fn remove_non_dir(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => Err(io::Error::new(io::ErrorKind::AlreadyExists, "a directory is in the way")),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates a symlink, FIFO or device node. Sockets are not recreated (`Ok(false)`).
pub(crate) fn create_special(path: &Path, node: &Node) -> io::Result<bool> {
    remove_non_dir(path)?;
    let perm = Mode::from_bits_truncate(node.mode & 0o7777);
    match node.kind {
        NodeKind::Symlink => {
            std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(&node.link_target), path)?;
        }
        NodeKind::Fifo => nix::unistd::mkfifo(path, perm)?,
        NodeKind::CharDevice | NodeKind::BlockDevice => {
            let kind = if node.kind == NodeKind::CharDevice { SFlag::S_IFCHR } else { SFlag::S_IFBLK };
            nix::sys::stat::mknod(path, kind, perm, node.rdev)?;
        }
        NodeKind::Socket => return Ok(false),
        NodeKind::File | NodeKind::Dir => unreachable!("not a special node"),
    }
    Ok(true)
}

/// Applies ownership (when root), xattrs, permissions and times. Times last, since every other
/// change touches ctime/mtime. Returns the problems met, as messages.
pub(crate) fn apply_metadata(path: &Path, node: &Node) -> Vec<String> {
    let mut problems = Vec::new();
    let mut note = |what: &str, e: &dyn std::fmt::Display| problems.push(format!("{}: {what}: {e}", path.display()));
    if is_root()
        && let Err(e) = std::os::unix::fs::lchown(path, Some(node.uid), Some(node.gid))
    {
        note("setting owner", &e);
    }
    for x in &node.xattrs {
        if let Err(e) = xattr::set(path, std::ffi::OsStr::from_bytes(&x.name), &x.value) {
            note("setting extended attribute", &e);
        }
    }
    if node.kind != NodeKind::Symlink
        && let Err(e) = fs::set_permissions(path, fs::Permissions::from_mode(node.mode & 0o7777))
    {
        note("setting permissions", &e);
    }
    let ts = |ns: i64| TimeSpec::new(ns.div_euclid(1_000_000_000), ns.rem_euclid(1_000_000_000));
    if let Err(e) =
        utimensat(nix::fcntl::AT_FDCWD, path, &ts(node.atime_ns), &ts(node.mtime_ns), UtimensatFlags::NoFollowSymlink)
    {
        note("setting times", &e);
    }
    problems
}
