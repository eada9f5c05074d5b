//! Frames of the agent protocol: how a message becomes bytes on the wire and back.
//!
//! ```text
//! frame = "CMTP" (4 bytes) ‖ protocol version (u32, little-endian) ‖ bincode 2 of the message
//! ```
//!
//! The magic and the version come first and are checked before anything is decoded, so a
//! client or server of another version is refused with a message that says so instead of a
//! decoding error. Bincode is the `standard` configuration (little-endian, variable-length
//! integers) in serde mode, with an allocation budget: a frame can never make the reader
//! allocate more than a few times its own size, whatever lengths it claims. Never bincode 3
//! (an empty crate).

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::PROTOCOL_VERSION;

/// First bytes of every frame.
pub const MAGIC: [u8; 4] = *b"CMTP";

/// Bytes before the message: magic and version.
pub const HEADER_LEN: usize = 8;

/// Largest request frame a server accepts (1 MiB): profiles and log batches fit many times.
pub const MAX_REQUEST_BYTES: usize = 1 << 20;

/// Largest answer frame a client accepts (8 MiB: the largest profiles).
pub const MAX_RESPONSE_BYTES: usize = 8 << 20;

/// Bincode's allocation budget while decoding one frame.
const DECODE_BUDGET: usize = 4 * MAX_RESPONSE_BYTES;

type Config = bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<DECODE_BUDGET>,
>;

const fn config() -> Config {
    bincode::config::standard().with_limit::<DECODE_BUDGET>()
}

/// Why a frame was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// It does not start with [`MAGIC`]: not a Comet frame at all.
    #[error("not a Comet agent-protocol frame (no CMTP header)")]
    NotAFrame,
    /// It was written for another protocol version.
    #[error("protocol version {theirs} is not spoken here (this side speaks version {ours})")]
    Version {
        /// The frame's version.
        theirs: u32,
        /// Ours.
        ours: u32,
    },
    /// It is larger than allowed.
    #[error("frame of {size} bytes is over the {limit}-byte limit")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The message does not decode.
    #[error("malformed frame: {0}")]
    Malformed(String),
}

/// Encodes `message` as a frame of the current version.
pub fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
    bincode::serde::encode_into_std_write(message, &mut out, config()).expect("encoding into a Vec cannot fail");
    out
}

/// The protocol version a frame claims, once its magic is checked.
pub fn version_of(frame: &[u8]) -> Result<u32, FrameError> {
    if frame.len() < HEADER_LEN || frame[..4] != MAGIC {
        return Err(FrameError::NotAFrame);
    }
    Ok(u32::from_le_bytes(frame[4..8].try_into().expect("four bytes")))
}

/// Decodes a frame of at most `limit` bytes holding exactly one `T` of the current version.
pub fn decode<T: DeserializeOwned>(frame: &[u8], limit: usize) -> Result<T, FrameError> {
    if frame.len() > limit {
        return Err(FrameError::TooLarge { size: frame.len(), limit });
    }
    let theirs = version_of(frame)?;
    if theirs != PROTOCOL_VERSION {
        return Err(FrameError::Version { theirs, ours: PROTOCOL_VERSION });
    }
    let body = &frame[HEADER_LEN..];
    let (value, used) =
        bincode::serde::decode_from_slice(body, config()).map_err(|e| FrameError::Malformed(e.to_string()))?;
    if used != body.len() {
        return Err(FrameError::Malformed(format!("{} trailing bytes", body.len() - used)));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::agent::{JobLog, LogEntry, Severity};

    fn sample() -> JobLog {
        JobLog {
            job_id: "0123456789abcdef0123456789abcdef".into(),
            entries: vec![LogEntry { time: 1_700_000_000, severity: Severity::Warning, message: "x".into() }],
            progress: None,
        }
    }

    #[test]
    fn round_trip_and_refusals() {
        let frame = encode(&sample());
        assert_eq!(&frame[..4], b"CMTP");
        assert_eq!(decode::<JobLog>(&frame, MAX_REQUEST_BYTES).unwrap(), sample());

        let mut other = frame.clone();
        other[4..8].copy_from_slice(&(PROTOCOL_VERSION + 1).to_le_bytes());
        assert_eq!(
            decode::<JobLog>(&other, MAX_REQUEST_BYTES),
            Err(FrameError::Version { theirs: PROTOCOL_VERSION + 1, ours: PROTOCOL_VERSION })
        );
        assert_eq!(decode::<JobLog>(b"{\"json\": 1}", MAX_REQUEST_BYTES), Err(FrameError::NotAFrame));
        assert_eq!(decode::<JobLog>(b"CMT", MAX_REQUEST_BYTES), Err(FrameError::NotAFrame));
        assert!(matches!(decode::<JobLog>(&frame, 8), Err(FrameError::TooLarge { .. })));
        let mut trailing = frame.clone();
        trailing.push(0);
        assert!(matches!(decode::<JobLog>(&trailing, MAX_REQUEST_BYTES), Err(FrameError::Malformed(_))));
        assert!(matches!(
            decode::<JobLog>(&frame[..frame.len() - 1], MAX_REQUEST_BYTES),
            Err(FrameError::Malformed(_))
        ));
    }

    #[test]
    fn a_huge_claimed_length_is_refused_without_allocating_it() {
        // A job id claiming 2^62 bytes.
        let mut frame = MAGIC.to_vec();
        frame.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
        frame.push(255);
        frame.extend_from_slice(&(1u64 << 62).to_le_bytes());
        assert!(matches!(decode::<JobLog>(&frame, MAX_REQUEST_BYTES), Err(FrameError::Malformed(_))));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut frame = MAGIC.to_vec();
            frame.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
            frame.extend_from_slice(&body);
            let _ = decode::<JobLog>(&frame, MAX_REQUEST_BYTES);
            let _ = decode::<crate::agent::RegisterRequest>(&frame, MAX_REQUEST_BYTES);
            let _ = decode::<JobLog>(&body, MAX_REQUEST_BYTES);
        }
    }
}
