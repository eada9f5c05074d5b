//! Writer sessions and the recovery of packs an interrupted backup left unindexed.
//!
//! Every backup and prune announces itself with a `sessions/<id>` object while it runs and
//! deletes it at the end. Objects are immutable, so a heartbeat writes a fresh object for the
//! same session (same random session id, later `heartbeat_ns`) and deletes the previous one. A
//! session whose last heartbeat is older than the expiry is *stale*: its writer is gone (or cut
//! off), and prune stops protecting it. A writer therefore refuses to commit (write its
//! snapshot) once its own last heartbeat is older than half the expiry: by then a prune may
//! have treated it as gone.
//!
//! A session object left behind means a writer died: packs it uploaded after its last index
//! file are in the vault but in no index. The next backup then lists the packs, reads the
//! headers of the unindexed ones (packs are self-describing) and writes an index file for
//! them, so their blobs are re-used instead of uploaded again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use comet_storage::{ObjectKey, ObjectKind, Vault};
use serde::{Deserialize, Serialize};

use crate::clock::{Clock, duration_ns};
use crate::codec;
use crate::crypto::{Cipher, NO_ID, Purpose};
use crate::error::{Error, Result, object_name};
use crate::index::{Index, IndexPack};
use crate::pack;
use crate::repo::backup::pipeline::write_index_now;
use crate::repo::put_object;

/// Format version of session objects.
const SESSION_VERSION: u32 = 2;

/// How often sessions beat and when they expire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionSettings {
    /// Time between heartbeats.
    pub heartbeat: Duration,
    /// A session whose last heartbeat is older than this is stale. Clocks of the machines
    /// sharing a vault must agree within half of it.
    pub expiry: Duration,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self { heartbeat: Duration::from_secs(5 * 60), expiry: Duration::from_secs(60 * 60) }
    }
}

/// What a session does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SessionKind {
    /// A backup (or anything else that adds data and relies on the index).
    Backup,
    /// A prune: at most one runs at a time.
    Prune,
}

/// What a session object says (sealed: host names are not for the storage provider).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct SessionInfo {
    pub(crate) version: u32,
    pub(crate) kind: SessionKind,
    /// Random identity of the session, the same in all its heartbeat objects.
    pub(crate) session: [u8; 16],
    pub(crate) hostname: String,
    pub(crate) pid: u32,
    pub(crate) start_ns: i64,
    pub(crate) heartbeat_ns: i64,
}

#[derive(Debug)]
struct Beat {
    key: ObjectKey,
    at_ns: i64,
}

/// A running session; [`Session::end`] stops its heartbeat and removes its object.
#[derive(Debug)]
pub(crate) struct Session {
    info: SessionInfo,
    last: Arc<Mutex<Beat>>,
    clock: Arc<dyn Clock>,
    settings: SessionSettings,
    heart: tokio::task::JoinHandle<()>,
}

impl Session {
    /// Announces a writer and starts its heartbeat.
    pub(crate) async fn start(
        vault: &Arc<dyn Vault>,
        cipher: &Cipher,
        clock: &Arc<dyn Clock>,
        settings: SessionSettings,
        kind: SessionKind,
    ) -> Result<Self> {
        let mut session = [0u8; 16];
        crate::crypto::random_bytes(&mut session);
        let now = clock.now_ns();
        let info = SessionInfo {
            version: SESSION_VERSION,
            kind,
            session,
            hostname: crate::snapshot::hostname(),
            pid: std::process::id(),
            start_ns: now,
            heartbeat_ns: now,
        };
        let key = write_beat(vault, cipher, &info).await?;
        let last = Arc::new(Mutex::new(Beat { key, at_ns: now }));
        let heart = tokio::spawn(heartbeat_loop(
            vault.clone(),
            cipher.clone(),
            clock.clone(),
            settings,
            info.clone(),
            last.clone(),
        ));
        Ok(Self { info, last, clock: clock.clone(), settings, heart })
    }

    /// The session's identity.
    pub(crate) fn id(&self) -> [u8; 16] {
        self.info.session
    }

    /// Fails when the last successful heartbeat is so old that a prune may consider this
    /// session gone: call before writing anything that relies on the index loaded earlier.
    pub(crate) fn check_fresh(&self) -> Result<()> {
        self.guard().check_fresh()
    }

    /// A handle for [`check_fresh`](Self::check_fresh) that other tasks can own.
    pub(crate) fn guard(&self) -> SessionGuard {
        SessionGuard { last: self.last.clone(), clock: self.clock.clone(), expiry: self.settings.expiry }
    }

    /// Stops the heartbeat and removes the session object. A failure is logged, not fatal: a
    /// leftover object expires, and triggers a recovery scan meanwhile.
    pub(crate) async fn end(self, vault: &Arc<dyn Vault>) {
        self.heart.abort();
        let _ = self.heart.await;
        let key = self.last.lock().unwrap_or_else(PoisonError::into_inner).key;
        if let Err(e) = vault.delete(&key).await
            && !e.is_not_found()
        {
            tracing::warn!("could not remove session object {key}: {e}");
        }
    }
}

/// Checks that a session is still fresh (see [`Session::check_fresh`]).
#[derive(Clone, Debug)]
pub(crate) struct SessionGuard {
    last: Arc<Mutex<Beat>>,
    clock: Arc<dyn Clock>,
    expiry: Duration,
}

impl SessionGuard {
    /// Fails when the last successful heartbeat is older than half the expiry.
    pub(crate) fn check_fresh(&self) -> Result<()> {
        let at = self.last.lock().unwrap_or_else(PoisonError::into_inner).at_ns;
        let age = self.clock.now_ns().saturating_sub(at);
        if age > duration_ns(self.expiry) / 2 {
            return Err(Error::SessionExpired { seconds: age / 1_000_000_000 });
        }
        Ok(())
    }
}

async fn write_beat(vault: &Arc<dyn Vault>, cipher: &Cipher, info: &SessionInfo) -> Result<ObjectKey> {
    let sealed = cipher.seal(Purpose::Session, &NO_ID, &codec::encode(info));
    let id = put_object(vault, ObjectKind::Session, Bytes::from(sealed)).await?;
    Ok(ObjectKey::new(ObjectKind::Session, id))
}

async fn heartbeat_loop(
    vault: Arc<dyn Vault>,
    cipher: Cipher,
    clock: Arc<dyn Clock>,
    settings: SessionSettings,
    mut info: SessionInfo,
    last: Arc<Mutex<Beat>>,
) {
    loop {
        tokio::time::sleep(settings.heartbeat).await;
        info.heartbeat_ns = clock.now_ns();
        match write_beat(&vault, &cipher, &info).await {
            Ok(key) => {
                let old = std::mem::replace(
                    &mut *last.lock().unwrap_or_else(PoisonError::into_inner),
                    Beat { key, at_ns: info.heartbeat_ns },
                );
                // A failed delete leaves an older beat of the same session: harmless, the
                // newest one counts and prune removes the others.
                let _ = vault.delete(&old.key).await;
            }
            Err(e) => tracing::warn!("session heartbeat failed (will retry): {e}"),
        }
    }
}

/// One session seen in the vault: its newest heartbeat object and the older ones.
#[derive(Debug)]
pub(crate) struct SeenSession {
    /// What it says (`None`: unreadable, e.g. written with another key or version).
    pub(crate) info: Option<SessionInfo>,
    /// Its objects, newest heartbeat first.
    pub(crate) keys: Vec<ObjectKey>,
    /// Whether it is stale (last heartbeat older than the expiry).
    pub(crate) stale: bool,
}

impl SeenSession {
    /// When it started, if readable.
    pub(crate) fn start_ns(&self) -> Option<i64> {
        self.info.as_ref().map(|i| i.start_ns)
    }

    /// Whether it is a prune.
    pub(crate) fn is_prune(&self) -> bool {
        self.info.as_ref().is_some_and(|i| i.kind == SessionKind::Prune)
    }
}

/// Sessions other than `own`, grouped by identity, with staleness judged at `now_ns`.
pub(crate) async fn other_sessions(
    vault: &Arc<dyn Vault>,
    cipher: &Cipher,
    own: &Session,
    now_ns: i64,
) -> Result<Vec<SeenSession>> {
    let expiry = duration_ns(own.settings.expiry);
    let mut grouped: HashMap<[u8; 16], Vec<(ObjectKey, SessionInfo)>> = HashMap::new();
    let mut out = Vec::new();
    for meta in vault.list(ObjectKind::Session).await? {
        let bytes = match vault.get(&meta.key).await {
            Ok(bytes) => bytes,
            // Ended (or renewed) since the listing.
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(e.into()),
        };
        let info: Option<SessionInfo> = cipher
            .open(Purpose::Session, &NO_ID, &bytes)
            .and_then(|p| codec::decode_prefix::<u32>(&p).ok().filter(|v| *v == SESSION_VERSION).map(|_| p))
            .and_then(|p| codec::decode(&p).ok());
        match info {
            Some(info) if info.session == own.id() => {}
            Some(info) => grouped.entry(info.session).or_default().push((meta.key, info)),
            None => {
                // Unreadable: judged by the storage's modification time, live when unknown.
                let stale =
                    meta.last_modified.and_then(|t| t.elapsed().ok()).is_some_and(|age| age > own.settings.expiry);
                out.push(SeenSession { info: None, keys: vec![meta.key], stale });
            }
        }
    }
    for (_, mut beats) in grouped {
        beats.sort_by_key(|(_, info)| std::cmp::Reverse(info.heartbeat_ns));
        let newest = beats[0].1.clone();
        let stale = now_ns.saturating_sub(newest.heartbeat_ns) > expiry || is_dead_local(&newest);
        out.push(SeenSession { info: Some(newest), keys: beats.into_iter().map(|(k, _)| k).collect(), stale });
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

/// Removes the objects of stale sessions, and superseded heartbeats of live ones.
pub(crate) async fn remove_stale(vault: &Arc<dyn Vault>, sessions: &[SeenSession]) {
    for s in sessions {
        let keys = if s.stale { &s.keys[..] } else { s.keys.get(1..).unwrap_or_default() };
        for key in keys {
            if let Err(e) = vault.delete(key).await
                && !e.is_not_found()
            {
                tracing::warn!("could not remove stale session object {key}: {e}");
            }
        }
    }
}

/// Indexes every pack of the vault that no index file lists. Returns how many were recovered.
pub(crate) async fn recover_unindexed_packs(
    vault: &Arc<dyn Vault>,
    cipher: &Cipher,
    index: &mut Index,
    guard: &SessionGuard,
) -> Result<usize> {
    let mut recovered = Vec::new();
    for meta in vault.list(ObjectKind::Pack).await? {
        let id = meta.key.id();
        if index.has_pack(&id) {
            continue;
        }
        match read_pack_header(vault, cipher, &meta.key, meta.size).await {
            Ok(blobs) => recovered.push(IndexPack::live(id, blobs)),
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
        write_index_now(vault, cipher, recovered, Some(guard)).await?;
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
