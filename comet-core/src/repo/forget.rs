//! `forget`: removing snapshots. Only the `snapshots/<id>` objects go; the data they referenced
//! stays until a prune finds it unreferenced.

use comet_storage::{ObjectKey, ObjectKind};
use futures::StreamExt;

use super::{LOAD_CONCURRENCY, Repository};
use crate::error::Result;
use crate::id::SnapshotId;

impl Repository {
    /// Deletes the snapshots `ids` (and their cached copies). Idempotent: a snapshot already
    /// gone, for instance removed by a concurrent `forget`, counts as removed. Returns how many
    /// distinct snapshots are now gone.
    ///
    /// Each deletion is atomic on its own; if one fails, the others may or may not have been
    /// removed, and running the same call again finishes the work.
    pub async fn forget_snapshots(&self, ids: &[SnapshotId]) -> Result<usize> {
        let mut unique = ids.to_vec();
        unique.sort();
        unique.dedup();
        let results: Vec<Result<()>> = futures::stream::iter(&unique)
            .map(|id| async move {
                let key = ObjectKey::new(ObjectKind::Snapshot, *id);
                match self.vault.delete(&key).await {
                    Ok(()) => {}
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e.into()),
                }
                self.forget_cached(&key);
                Ok(())
            })
            .buffer_unordered(LOAD_CONCURRENCY)
            .collect()
            .await;
        results.into_iter().collect::<Result<Vec<()>>>()?;
        Ok(unique.len())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use comet_storage::{InMemoryVault, ObjectKey, ObjectKind, Vault};

    use crate::{BackupOptions, InitOptions, KdfParams, Repository, SnapshotId};

    #[tokio::test]
    async fn forgets_snapshots_idempotently() {
        let source = tempfile::tempdir().unwrap();
        std::fs::write(source.path().join("f"), b"forget me").unwrap();
        let cache = tempfile::tempdir().unwrap();
        let vault = Arc::new(InMemoryVault::new());
        let options = InitOptions::default().kdf(KdfParams::FLOOR);
        let (repo, _) = Repository::init(vault.clone(), b"pw", &options).await.unwrap();
        let mut repo = repo.with_cache(cache.path()).load_index().await.unwrap();
        let first = repo.backup(&BackupOptions::new([source.path()])).await.unwrap().id;
        let second = repo.backup(&BackupOptions::new([source.path()])).await.unwrap().id;
        assert_eq!(repo.snapshots().await.unwrap().len(), 2);
        let cached = |id| {
            let key = ObjectKey::new(ObjectKind::Snapshot, id);
            cache.path().join(repo.config().id_hex()).join(key.path()).exists()
        };
        assert!(cached(first) && cached(second));

        // The same id twice, and an id that was never stored: all count as done.
        let missing = SnapshotId::of(b"never stored");
        assert_eq!(repo.forget_snapshots(&[first, first, missing]).await.unwrap(), 2);
        let left: Vec<SnapshotId> = repo.snapshots().await.unwrap().into_iter().map(|(id, _)| id).collect();
        assert_eq!(left, [second]);
        assert!(!cached(first), "the forgotten snapshot is still cached");
        assert!(cached(second));

        // Again: nothing left to do, still a success.
        assert_eq!(repo.forget_snapshots(&[first]).await.unwrap(), 1);
        assert_eq!(vault.list(ObjectKind::Snapshot).await.unwrap().len(), 1);
    }
}
