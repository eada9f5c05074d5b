//! The live connection: one WebSocket per online device, for the server to command the device
//! and to know it is alive.
//!
//! The device opens `GET /api/v1/agent/live` (WebSocket upgrade) with its device token as
//! `Authorization: Bearer ...`. Every WebSocket message is one binary [`wire`](crate::wire)
//! frame (version header, bincode, at most [`MAX_LIVE_FRAME`] bytes) of [`AgentMessage`] (device
//! to server) or [`ServerMessage`] (server to device). The device speaks first ([`AgentMessage::
//! Hello`]); the server answers [`ServerMessage::Welcome`]; then the device sends a heartbeat
//! every `heartbeat_secs`, and answers each [`ServerMessage::Command`] with one
//! [`AgentMessage::Reply`] of the same `request_id`. Jobs themselves are reported over the
//! HTTP agent API ([`crate::agent`]), as jobs run from the command line are.

use serde::{Deserialize, Serialize};

/// Path of the live connection.
pub const LIVE_PATH: &str = "/api/v1/agent/live";

/// Largest live frame either side accepts (1 MiB).
pub const MAX_LIVE_FRAME: usize = 1 << 20;

/// Most entries a browse answer carries (the rest is cut, and says so).
pub const MAX_BROWSE_ENTRIES: usize = 5000;

/// Device to server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AgentMessage {
    /// First message: who and where the device is.
    Hello {
        /// Agent version.
        agent_version: String,
        /// Operating system and architecture.
        platform: String,
        /// IANA time zone of the device.
        timezone: String,
    },
    /// "Still here", with the jobs running on the device (their server ids).
    Heartbeat {
        /// Jobs running now.
        running_jobs: Vec<String>,
    },
    /// The answer to a command.
    Reply {
        /// The command's id.
        request_id: u64,
        /// What happened.
        result: Result<CommandResult, String>,
    },
}

/// Server to device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServerMessage {
    /// The answer to [`AgentMessage::Hello`].
    Welcome {
        /// Send a heartbeat this often.
        heartbeat_secs: u32,
        /// The server's clock, seconds since the epoch.
        server_time: i64,
        /// Another connection of this device is open (a cloned machine, or the agent started
        /// twice): both stay connected and both are reported to administrators.
        duplicate: bool,
    },
    /// Do something, and [`AgentMessage::Reply`] with `request_id`.
    Command {
        /// Echoed in the reply.
        request_id: u64,
        /// What to do.
        command: Command,
    },
    /// The profile changed: fetch it again (schedules, items, vaults).
    ProfileChanged,
    /// The server closes the connection (an administrator dropped it, the device was revoked,
    /// the server stops). `reconnect_after_secs` 0: reconnect as usual.
    Goodbye {
        /// Why.
        reason: String,
        /// Wait at least this long before connecting again.
        reconnect_after_secs: u32,
    },
}

/// What the server asks a device to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Back up a protected item into a vault now (`AdminDispatcherRunBackupCustom`).
    RunBackup {
        /// Protected item id.
        source_id: String,
        /// Storage vault id.
        destination_id: String,
    },
    /// Restore a protected item's snapshot to a path on the device
    /// (`AdminDispatcherRunRestoreCustom`).
    RunRestore {
        /// Protected item id.
        source_id: String,
        /// Storage vault id.
        destination_id: String,
        /// Snapshot id or prefix; empty: the item's latest.
        snapshot: String,
        /// Directory on the device to restore into.
        target: String,
        /// Paths inside the snapshot to restore; empty: everything.
        paths: Vec<String>,
    },
    /// Apply the vault's retention rules (`AdminDispatcherApplyRetentionRules`).
    ApplyRetention {
        /// Storage vault id.
        destination_id: String,
    },
    /// List the snapshots of a vault (`AdminDispatcherGetSnapshots`).
    GetSnapshots {
        /// Storage vault id.
        destination_id: String,
    },
    /// List a directory of the device (`AdminDispatcherRequestFilesystemObjects`); an empty path
    /// lists the roots.
    Browse {
        /// Absolute path.
        path: String,
    },
    /// Cancel a running job (`AdminJobCancel` while the device is online).
    CancelJob {
        /// Its server id.
        job_id: String,
    },
    /// List a directory inside a snapshot (`AdminDispatcherRequestStoredObjects`), to pick
    /// what to restore. Added after the others: older agents answer it with an error.
    BrowseSnapshot {
        /// Storage vault id.
        destination_id: String,
        /// Snapshot id or unique prefix.
        snapshot: String,
        /// Directory inside the snapshot, `/`-separated, no leading slash; empty: its top.
        path: String,
    },
}

/// What a device answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandResult {
    /// The job was started; it reports itself over the agent API.
    Started {
        /// Its server id.
        job_id: String,
    },
    /// Snapshots of a vault, oldest first.
    Snapshots(Vec<SnapshotInfo>),
    /// Entries of a directory, sorted by name.
    Entries {
        /// The entries.
        entries: Vec<FsEntry>,
        /// More entries exist than [`MAX_BROWSE_ENTRIES`].
        truncated: bool,
    },
    /// Done (cancel requested).
    Done,
}

/// One snapshot, as `AdminDispatcherGetSnapshots` lists it (Comet's `VaultSnapshot`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    /// Snapshot id.
    pub snapshot_id: String,
    /// Protected item id.
    pub source_id: String,
    /// When it was taken, seconds since the epoch.
    pub create_time: i64,
    /// Device that made it.
    pub device_id: String,
    /// Files in it.
    pub total_files: u64,
    /// Bytes of its files.
    pub total_size: u64,
}

/// One entry of a browsed directory (Comet's `StoredObject`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FsEntry {
    /// Name (lossy UTF-8).
    pub name: String,
    /// A directory.
    pub is_dir: bool,
    /// Size in bytes (files).
    pub size: u64,
    /// Modification time, seconds since the epoch.
    pub modify_time: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire;

    #[test]
    fn messages_round_trip_as_frames() {
        let messages = [
            ServerMessage::Welcome { heartbeat_secs: 30, server_time: 1, duplicate: false },
            ServerMessage::Command {
                request_id: 7,
                command: Command::RunRestore {
                    source_id: "i".into(),
                    destination_id: "d".into(),
                    snapshot: String::new(),
                    target: "/tmp/x".into(),
                    paths: vec!["a".into()],
                },
            },
            ServerMessage::Goodbye { reason: "bye".into(), reconnect_after_secs: 0 },
        ];
        for m in messages {
            assert_eq!(wire::decode::<ServerMessage>(&wire::encode(&m), MAX_LIVE_FRAME).unwrap(), m);
        }
        let reply = AgentMessage::Reply {
            request_id: 7,
            result: Ok(CommandResult::Entries {
                entries: vec![FsEntry { name: "a".into(), is_dir: true, size: 0, modify_time: 2 }],
                truncated: false,
            }),
        };
        assert_eq!(wire::decode::<AgentMessage>(&wire::encode(&reply), MAX_LIVE_FRAME).unwrap(), reply);
    }
}
