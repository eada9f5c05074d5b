//! Writer sessions and the recovery of packs an interrupted backup left unindexed.
//!
//! Every backup announces itself with a `sessions/<id>` object while it runs and deletes it at
//! the end. A session object left behind means a writer died (or is still running elsewhere):
//! packs it uploaded after its last index file are in the vault but in no index. The next
//! backup then lists the packs, reads the headers of the unindexed ones (packs are
//! self-describing) and writes an index file for them, so their blobs are re-used instead of
//! uploaded again. Prune (later) uses live sessions to never delete what a writer still needs.

use std::sync::Arc;

use bytes::Bytes;
use comet_storage::{ObjectKey, ObjectKind, Vault};
use serde::{Deserialize, Serialize};

use crate::codec;
use crate::crypto::{Cipher, NO_ID, Purpose};
use crate::error::{Error, Result, object_name};
use crate::index::{Index, IndexPack};
use crate::pack;
use crate::repo::backup::pipeline::write_index_now;
use crate::repo::put_object;

/// What a session object says (sealed: host names are not for the storage provider).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct SessionInfo {
    pub(crate) version: u32,
    pub(crate) hostname: String,
    pub(crate) pid: u32,
    pub(crate) start_ns: i64,
    pub(crate) nonce: [u8; 16],
}

/// A running session; [`Session::end`] removes its marker.
#[derive(Debug)]
pub(crate) struct Session {
    key: ObjectKey,
}

impl Session {
    /// Announces a writer.
    pub(crate) async fn start(vault: &Arc<dyn Vault>, cipher: &Cipher) -> Result<Self> {
        let mut nonce = [0u8; 16];
        crate::crypto::random_bytes(&mut nonce);
        let info = SessionInfo {
            version: 1,
            hostname: crate::snapshot::hostname(),
            pid: std::process::id(),
            start_ns: crate::snapshot::now_ns(),
            nonce,
        };
        let sealed = cipher.seal(Purpose::Session, &NO_ID, &codec::encode(&info));
        let id = put_object(vault, ObjectKind::Session, Bytes::from(sealed)).await?;
        Ok(Self { key: ObjectKey::new(ObjectKind::Session, id) })
    }

    /// Removes the marker. A failure is logged, not fatal: a leftover marker only triggers a
    /// recovery scan next time.
    pub(crate) async fn end(self, vault: &Arc<dyn Vault>) {
        if let Err(e) = vault.delete(&self.key).await {
            tracing::warn!("could not remove session marker {}: {e}", self.key);
        }
    }
}

/// Sessions other than `own`, with what they say (unreadable ones are reported as `None`).
pub(crate) async fn other_sessions(
    vault: &Arc<dyn Vault>,
    cipher: &Cipher,
    own: &Session,
) -> Result<Vec<(ObjectKey, Option<SessionInfo>)>> {
    let mut out = Vec::new();
    for meta in vault.list(ObjectKind::Session).await? {
        if meta.key == own.key {
            continue;
        }
        let info = match vault.get(&meta.key).await {
            Ok(bytes) => cipher.open(Purpose::Session, &NO_ID, &bytes).and_then(|p| codec::decode(&p).ok()),
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(e.into()),
        };
        out.push((meta.key, info));
    }
    Ok(out)
}

/// Whether a session of this host belongs to a process that is gone.
pub(crate) fn is_dead_local(info: &SessionInfo) -> bool {
    if info.hostname != crate::snapshot::hostname() || info.pid == std::process::id() {
        return false;
    }
    let pid = nix::unistd::Pid::from_raw(info.pid as i32);
    matches!(nix::sys::signal::kill(pid, None), Err(nix::errno::Errno::ESRCH))
}

/// Indexes every pack of the vault that no index file lists. Returns how many were recovered.
pub(crate) async fn recover_unindexed_packs(
    vault: &Arc<dyn Vault>,
    cipher: &Cipher,
    index: &mut Index,
) -> Result<usize> {
    let mut recovered = Vec::new();
    for meta in vault.list(ObjectKind::Pack).await? {
        let id = meta.key.id();
        if index.has_pack(&id) {
            continue;
        }
        match read_pack_header(vault, cipher, &meta.key, meta.size).await {
            Ok(blobs) => recovered.push(IndexPack { id, blobs }),
            // A damaged orphan is left for `check` to report; the backup goes on without it.
            Err(e) => tracing::warn!("not re-indexing {}: {e}", meta.key),
        }
    }
    let count = recovered.len();
    if count > 0 {
        for p in &recovered {
            index.add_pack(p.id, &p.blobs);
        }
        index.compact();
        write_index_now(vault, cipher, recovered).await?;
    }
    Ok(count)
}

/// Reads and opens the header of a stored pack of `size` bytes with two ranged reads.
pub(crate) async fn read_pack_header(
    vault: &Arc<dyn Vault>,
    cipher: &Cipher,
    key: &ObjectKey,
    size: u64,
) -> Result<Vec<pack::PackBlob>> {
    let corrupted = |reason: String| Error::corrupted(object_name(key), reason);
    if size < 4 {
        return Err(corrupted("shorter than its trailer".into()));
    }
    let trailer = vault.get_range(key, size - 4..size).await?;
    let trailer: [u8; 4] = trailer.as_ref().try_into().map_err(|_| corrupted("short trailer read".into()))?;
    let range = pack::header_range(size, trailer).map_err(corrupted)?;
    let blobs_len = range.start;
    let sealed = vault.get_range(key, range).await?;
    Ok(pack::open_header(cipher, &sealed, blobs_len).map_err(corrupted)?.blobs)
}
