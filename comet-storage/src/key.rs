//! Object keys: what kind of object, and its id. The layout of keys in a bucket is decided here
//! and nowhere else.
//!
//! ```text
//! config                 the vault configuration (one object)
//! keys/<id>              key slots (the master key wrapped by a password)
//! data/<2 hex>/<id>      packs, fanned out by the first byte of their id
//! index/<id>             index files
//! snapshots/<id>         snapshots
//! sessions/<id>          live writer sessions (the only kind that is ever replaced)
//! ```
//!
//! Ids are 32 bytes written as 64 lower-case hex characters. Parsing is strict (no upper case,
//! no other length, nothing but hex) so a crafted key can never escape its folder.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, ErrorKind};

/// The 32-byte identifier of a stored object.
///
/// For packs, index files, snapshots and key slots it is the BLAKE3 hash of the stored
/// (encrypted) bytes, so anybody can verify an object at rest without keys.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ObjectId([u8; 32]);

impl ObjectId {
    /// Length of an id in bytes.
    pub const LEN: usize = 32;

    /// Wraps raw id bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The id of `data`: its unkeyed BLAKE3 hash.
    pub fn of(data: &[u8]) -> Self {
        Self(*blake3_hash(data).as_bytes())
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Full lower-case hex form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The first 8 hex characters, as shown in listings.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..4])
    }
}

fn blake3_hash(data: &[u8]) -> blake3::Hash {
    blake3::hash(data)
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({})", self.short())
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl FromStr for ObjectId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let invalid = || Error::new(ErrorKind::Invalid, s).with_message("not a 64-character lower-case hex id");
        if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(invalid());
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| invalid())?;
        Ok(Self(out))
    }
}

/// The kinds of objects a vault holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ObjectKind {
    /// The single `config` object.
    Config,
    /// A key slot under `keys/`.
    Key,
    /// A pack under `data/`.
    Pack,
    /// An index file under `index/`.
    Index,
    /// A snapshot under `snapshots/`.
    Snapshot,
    /// A writer session under `sessions/`.
    Session,
}

impl ObjectKind {
    /// Every kind, in the order a vault is usually inspected.
    pub const ALL: [Self; 6] = [Self::Config, Self::Key, Self::Pack, Self::Index, Self::Snapshot, Self::Session];

    /// The folder (or, for config, the name) of this kind.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::Key => "keys",
            Self::Pack => "data",
            Self::Index => "index",
            Self::Snapshot => "snapshots",
            Self::Session => "sessions",
        }
    }

    /// Lower-case singular name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::Key => "key",
            Self::Pack => "pack",
            Self::Index => "index",
            Self::Snapshot => "snapshot",
            Self::Session => "session",
        }
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The address of one object: its kind and, except for `config`, its id.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    kind: ObjectKind,
    id: ObjectId,
}

impl ObjectKey {
    /// The key of the `config` object.
    pub const CONFIG: Self = Self { kind: ObjectKind::Config, id: ObjectId([0; 32]) };

    /// The key of object `id` of `kind`. For [`ObjectKind::Config`] the id is ignored.
    pub fn new(kind: ObjectKind, id: ObjectId) -> Self {
        if kind == ObjectKind::Config {
            return Self::CONFIG;
        }
        Self { kind, id }
    }

    /// Shorthand for a pack key.
    pub fn pack(id: ObjectId) -> Self {
        Self::new(ObjectKind::Pack, id)
    }

    /// The kind of object.
    pub fn kind(&self) -> ObjectKind {
        self.kind
    }

    /// The id (all zeros for config).
    pub fn id(&self) -> ObjectId {
        self.id
    }

    /// The relative path of the object in a bucket, e.g. `data/ab/ab01...`.
    pub fn path(&self) -> String {
        match self.kind {
            ObjectKind::Config => "config".to_owned(),
            ObjectKind::Pack => {
                let hex = self.id.to_hex();
                format!("data/{}/{hex}", &hex[..2])
            }
            kind => format!("{}/{}", kind.prefix(), self.id.to_hex()),
        }
    }

    /// Parses a relative path made by [`ObjectKey::path`]. Anything else is `Invalid`.
    pub fn parse(path: &str) -> Result<Self, Error> {
        let invalid = || Error::new(ErrorKind::Invalid, path).with_message("not a vault object path");
        if path == "config" {
            return Ok(Self::CONFIG);
        }
        let (prefix, rest) = path.split_once('/').ok_or_else(invalid)?;
        let kind = match prefix {
            "keys" => ObjectKind::Key,
            "data" => ObjectKind::Pack,
            "index" => ObjectKind::Index,
            "snapshots" => ObjectKind::Snapshot,
            "sessions" => ObjectKind::Session,
            _ => return Err(invalid()),
        };
        let id_hex = if kind == ObjectKind::Pack {
            let (fan, id) = rest.split_once('/').ok_or_else(invalid)?;
            if fan.len() != 2 || !id.starts_with(fan) {
                return Err(invalid());
            }
            id
        } else {
            rest
        };
        let id = id_hex.parse().map_err(|_| invalid())?;
        Ok(Self { kind, id })
    }
}

impl fmt::Debug for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectKey({})", self.path())
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip() {
        let id = ObjectId::of(b"hello");
        for kind in ObjectKind::ALL {
            let key = ObjectKey::new(kind, id);
            assert_eq!(ObjectKey::parse(&key.path()).unwrap(), key);
        }
        assert!(ObjectKey::pack(id).path().starts_with(&format!("data/{}/", &id.to_hex()[..2])));
    }

    #[test]
    fn hostile_paths_are_rejected() {
        let hex = ObjectId::of(b"x").to_hex();
        for bad in [
            String::new(),
            "config/".to_owned(),
            format!("keys/../{hex}"),
            format!("keys/{}", hex.to_uppercase()),
            format!("keys/{hex}0"),
            format!("data/{hex}"),
            format!("data/zz/{hex}"),
            format!("index/{hex}/x"),
            format!("other/{hex}"),
        ] {
            assert!(ObjectKey::parse(&bad).is_err(), "{bad:?} accepted");
        }
    }
}
