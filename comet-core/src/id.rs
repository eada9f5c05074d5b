//! Identifiers of blobs, and the aliases that name what an [`ObjectId`] points at.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use comet_storage::ObjectId;

/// Id of a pack: the BLAKE3 hash of the pack's stored bytes.
pub type PackId = ObjectId;
/// Id of a snapshot object: the BLAKE3 hash of its stored bytes.
pub type SnapshotId = ObjectId;
/// Id of an index file: the BLAKE3 hash of its stored bytes.
pub type IndexId = ObjectId;

/// Id of a blob (a chunk of file data or a serialised tree): BLAKE3 keyed with the vault's
/// chunk-id key over the plaintext, so ids reveal nothing to somebody without the key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct BlobId(pub [u8; 32]);

/// Id of a chunk of file contents.
pub type ChunkId = BlobId;
/// Id of a serialised directory tree.
pub type TreeId = BlobId;

impl BlobId {
    /// Full lower-case hex form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The first 8 hex characters.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..4])
    }
}

impl fmt::Debug for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobId({})", self.short())
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl FromStr for BlobId {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let id: ObjectId = s.parse()?;
        Ok(Self(*id.as_bytes()))
    }
}

/// The kind of a blob. Data and tree blobs live in separate packs and separate index tables;
/// the kind is bound into each blob's encryption, so a blob of one kind never opens as another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum BlobKind {
    /// A chunk of file contents.
    Data,
    /// A serialised directory tree.
    Tree,
}

impl fmt::Display for BlobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl BlobKind {
    /// Lower-case name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Data => "data",
            Self::Tree => "tree",
        }
    }
}

/// Serde for [`ObjectId`] (a 32-byte array), which comet-storage keeps free of serde.
pub(crate) mod object_id_serde {
    use super::ObjectId;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(crate) fn serialize<S: Serializer>(id: &ObjectId, s: S) -> Result<S::Ok, S::Error> {
        id.as_bytes().serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ObjectId, D::Error> {
        <[u8; 32]>::deserialize(d).map(ObjectId::from_bytes)
    }

    /// The same for `Option<ObjectId>`.
    pub(crate) mod option {
        use super::ObjectId;
        use serde::{Deserialize, Deserializer, Serialize, Serializer};

        #[allow(clippy::ref_option, reason = "serde's `with` passes `&Option<T>`")]
        pub(crate) fn serialize<S: Serializer>(id: &Option<ObjectId>, s: S) -> Result<S::Ok, S::Error> {
            id.map(|i| *i.as_bytes()).serialize(s)
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ObjectId>, D::Error> {
            Option::<[u8; 32]>::deserialize(d).map(|o| o.map(ObjectId::from_bytes))
        }
    }
}
