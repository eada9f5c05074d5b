//! The local file system side: reading entries into [`Node`](crate::tree::Node)s for backup,
//! and creating them safely on restore.

pub(crate) mod restore;
pub(crate) mod source;
