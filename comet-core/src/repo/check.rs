//! Verifying stored objects.

use comet_storage::ObjectKey;

use super::IndexedRepository;
use crate::error::{Error, Result, object_name};
use crate::id::PackId;
use crate::pack;

impl IndexedRepository {
    /// Reads a whole pack and checks everything in it: its bytes against its id, its header
    /// against the index, and every blob (authentication, decompression, id).
    pub async fn verify_pack(&self, id: &PackId) -> Result<()> {
        let key = ObjectKey::pack(*id);
        let bytes = super::get_hashed(&self.vault, &key).await?;
        let corrupted = |reason: String| Error::corrupted(object_name(&key), reason);
        let header = pack::read_header(&self.cipher, &bytes).map_err(corrupted)?;
        let source = self.blob_source();
        for b in &header.blobs {
            match self.index.get(b.kind, &b.id) {
                Some(loc)
                    if loc.pack == *id
                        && (loc.offset, loc.length, loc.raw_length) != (b.offset, b.length, b.raw_length) =>
                {
                    return Err(corrupted(format!("header and index disagree on blob {}", b.id.short())));
                }
                _ => {}
            }
            let stored = &bytes[b.offset as usize..b.offset as usize + b.length as usize];
            source.open(b.kind, &b.id, b.raw_length, stored, &key)?;
        }
        Ok(())
    }
}
