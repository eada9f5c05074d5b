//! The single place where structures become bytes and back.
//!
//! Everything stored (trees, snapshots, index files, pack headers, config, key slots) goes
//! through [`encode`] and [`decode`], so the binary codec can be swapped without touching
//! callers. Today it is bincode 2 (serde mode, the `standard` configuration: little-endian,
//! variable-length integers). Never bincode 3: that crate is empty.
//!
//! Decoding is strict: input longer than [`MAX_ENCODED`] is refused before parsing, claimed
//! lengths beyond the [`DECODE_BUDGET`] are refused before allocating, and trailing bytes are an
//! error.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Largest encoded structure accepted (64 MiB). Trees of huge directories are the biggest
/// structures (~110 bytes a node: some 600,000 entries in one directory); writers refuse to
/// produce anything larger, so whatever is written can be read.
pub(crate) const MAX_ENCODED: usize = 64 << 20;

/// Bincode's allocation budget while decoding. It counts in-memory sizes (8 bytes per length
/// prefix or u64, 4 per u32 or enum tag, plus byte strings), which run up to about 3x the
/// encoded size for trees; 4x [`MAX_ENCODED`] covers any structure within that size.
pub(crate) const DECODE_BUDGET: usize = 4 * MAX_ENCODED;

type Config = bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<DECODE_BUDGET>,
>;

const fn config() -> Config {
    bincode::config::standard().with_limit::<DECODE_BUDGET>()
}

/// Encodes `value`. Encoding our own in-memory structures cannot fail.
pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    bincode::serde::encode_to_vec(value, config()).expect("encoding an in-memory structure")
}

/// Decodes a `T` from exactly `bytes`; `Err` carries a human-readable reason.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    if bytes.len() > MAX_ENCODED {
        return Err(format!("{} bytes is over the {MAX_ENCODED}-byte limit", bytes.len()));
    }
    let (value, used) = bincode::serde::decode_from_slice(bytes, config()).map_err(|e| e.to_string())?;
    if used != bytes.len() {
        return Err(format!("{} trailing bytes", bytes.len() - used));
    }
    Ok(value)
}

/// Decodes a `T` from the start of `bytes`, ignoring what follows (reads a leading version
/// field before choosing how to decode the rest).
pub(crate) fn decode_prefix<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let (value, _) = bincode::serde::decode_from_slice(bytes, config()).map_err(|e| e.to_string())?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Sample {
        a: u32,
        #[serde(with = "serde_bytes")]
        b: Vec<u8>,
    }

    #[test]
    fn round_trip_and_strictness() {
        let s = Sample { a: 7, b: vec![1, 2, 3] };
        let mut bytes = encode(&s);
        assert_eq!(decode::<Sample>(&bytes).unwrap(), s);
        bytes.push(0);
        assert!(decode::<Sample>(&bytes).unwrap_err().contains("trailing"));
    }

    #[test]
    fn huge_claimed_length_is_refused_without_allocating() {
        // a = 1, then a length prefix claiming 2^62 bytes.
        let mut bytes = vec![1u8, 0xFD];
        bytes.extend_from_slice(&(1u64 << 62).to_le_bytes());
        assert!(decode::<Sample>(&bytes).is_err());
    }
}
