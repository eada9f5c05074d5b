//! The live-connection dispatcher: `AdminDispatcher*` methods (and the user's own
//! `UserWebDispatcher*`), which list online devices and send them commands through their live
//! connection (`crate::live`). `TargetID` is a connection id from `dispatcher/list-active`.

use std::time::Duration;

use axum::http::StatusCode;
use comet_protocol::api::ApiResponse;
use comet_protocol::live::{Command, CommandResult};
use serde::Serialize;

use super::{ApiError, ApiResult, AppState, Caller, Fields, field, ok_json};
use crate::live::DispatchError;

/// How long a device has to answer a command that starts a job.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a device has to answer a listing (snapshots, directories).
const LIST_TIMEOUT: Duration = Duration::from_secs(120);

/// Every dispatcher method path (after `dispatcher/`).
pub(super) const METHODS: &[&str] = &[
    "dispatcher/list-active",
    "dispatcher/run-backup",
    "dispatcher/run-backup-custom",
    "dispatcher/run-restore-custom",
    "dispatcher/apply-retention-rules",
    "dispatcher/request-vault-snapshots",
    "dispatcher/request-filesystem-objects",
    "dispatcher/request-stored-objects",
    "dispatcher/refetch-profile",
    "dispatcher/drop-connection",
];

/// `DispatchWithJobIDResponse`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct WithJobId {
    status: u16,
    message: String,
    #[serde(rename = "JobID")]
    job_id: String,
}

/// `DispatcherStoredObjectsResponse`-like answer of a directory listing.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ObjectListing {
    status: u16,
    message: String,
    stored_objects: Vec<Object>,
    truncated: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Object {
    name: String,
    #[serde(rename = "Type")]
    kind: &'static str,
    size: u64,
    modify_time: i64,
}

/// One snapshot of `request-vault-snapshots`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Snapshot {
    #[serde(rename = "Snapshot")]
    id: String,
    #[serde(rename = "Source")]
    source: String,
    create_time: i64,
    #[serde(rename = "DeviceID")]
    device_id: String,
    total_files: u64,
    total_size: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SnapshotListing {
    status: u16,
    message: String,
    snapshots: Vec<Snapshot>,
}

fn dispatch_error(e: DispatchError) -> ApiError {
    match e {
        DispatchError::Offline => ApiError::not_found("no such live connection (the device is offline?)"),
        DispatchError::Timeout(_) => ApiError::new(StatusCode::GATEWAY_TIMEOUT, e.to_string()),
        DispatchError::Failed(message) => ApiError::new(StatusCode::BAD_GATEWAY, format!("the device: {message}")),
    }
}

/// A dispatcher method; `user` limits it to that user's devices (user web methods).
pub(super) async fn method(
    state: &AppState,
    caller: &Caller,
    user: Option<&str>,
    method: &str,
    fields: &Fields,
) -> ApiResult {
    let org = caller.organization.as_str();
    if method == "dispatcher/list-active" {
        return ok_json(&state.live.list(org, user));
    }
    let target = field(fields, "TargetID")?;
    let send = |command: Command, timeout: Duration| state.live.command(org, user, target, command, timeout);
    match method {
        "dispatcher/run-backup" => {
            let rule_id = field(fields, "BackupRule")?;
            let (username, _) =
                state.live.device_of(org, user, target).ok_or_else(|| dispatch_error(DispatchError::Offline))?;
            let (profile, _) =
                state.db.profile(&username, org).await?.ok_or_else(|| ApiError::not_found("no such user"))?;
            let rule = profile
                .backup_rules
                .get(rule_id)
                .ok_or_else(|| ApiError::not_found(format!("no schedule {rule_id}")))?;
            let command =
                Command::RunBackup { source_id: rule.source.clone(), destination_id: rule.destination.clone() };
            started(send(command, START_TIMEOUT).await.map_err(dispatch_error)?)
        }
        "dispatcher/run-backup-custom" => {
            let command = Command::RunBackup {
                source_id: field(fields, "Source")?.to_owned(),
                destination_id: field(fields, "Destination")?.to_owned(),
            };
            started(send(command, START_TIMEOUT).await.map_err(dispatch_error)?)
        }
        "dispatcher/run-restore-custom" => {
            let paths: Vec<String> = match fields.get("Paths") {
                Some(json) => serde_json::from_str(json)
                    .map_err(|e| ApiError::bad_request(format!("Paths must be a JSON array of strings: {e}")))?,
                None => Vec::new(),
            };
            let command = Command::RunRestore {
                source_id: field(fields, "Source")?.to_owned(),
                destination_id: field(fields, "Destination")?.to_owned(),
                snapshot: fields.get("Snapshot").cloned().unwrap_or_default(),
                target: field(fields, "Path")?.to_owned(),
                paths,
            };
            started(send(command, START_TIMEOUT).await.map_err(dispatch_error)?)
        }
        "dispatcher/apply-retention-rules" => {
            let command = Command::ApplyRetention { destination_id: field(fields, "Destination")?.to_owned() };
            started(send(command, START_TIMEOUT).await.map_err(dispatch_error)?)
        }
        "dispatcher/request-vault-snapshots" => {
            let command = Command::GetSnapshots { destination_id: field(fields, "Destination")?.to_owned() };
            match send(command, LIST_TIMEOUT).await.map_err(dispatch_error)? {
                CommandResult::Snapshots(list) => ok_json(&SnapshotListing {
                    status: 200,
                    message: "OK".into(),
                    snapshots: list
                        .into_iter()
                        .map(|s| Snapshot {
                            id: s.snapshot_id,
                            source: s.source_id,
                            create_time: s.create_time,
                            device_id: s.device_id,
                            total_files: s.total_files,
                            total_size: s.total_size,
                        })
                        .collect(),
                }),
                other => Err(unexpected(&other)),
            }
        }
        "dispatcher/request-filesystem-objects" | "dispatcher/request-stored-objects" => {
            let path = fields.get("Path").cloned().unwrap_or_default();
            let command = if method == "dispatcher/request-filesystem-objects" {
                Command::Browse { path }
            } else {
                Command::BrowseSnapshot {
                    destination_id: field(fields, "Destination")?.to_owned(),
                    snapshot: field(fields, "Snapshot")?.to_owned(),
                    path,
                }
            };
            match send(command, LIST_TIMEOUT).await.map_err(dispatch_error)? {
                CommandResult::Entries { entries, truncated } => ok_json(&ObjectListing {
                    status: 200,
                    message: "OK".into(),
                    stored_objects: entries
                        .into_iter()
                        .map(|e| Object {
                            name: e.name,
                            kind: if e.is_dir { "dir" } else { "file" },
                            size: e.size,
                            modify_time: e.modify_time,
                        })
                        .collect(),
                    truncated,
                }),
                other => Err(unexpected(&other)),
            }
        }
        "dispatcher/refetch-profile" => {
            let (username, device_id) =
                state.live.device_of(org, user, target).ok_or_else(|| dispatch_error(DispatchError::Offline))?;
            state.live.notify(org, &username, Some(&device_id), &comet_protocol::live::ServerMessage::ProfileChanged);
            ok_json(&ApiResponse::ok())
        }
        "dispatcher/drop-connection" => {
            if !state.live.drop_connection(org, user, target, &format!("dropped by {}", caller.username)) {
                return Err(dispatch_error(DispatchError::Offline));
            }
            tracing::info!("{} dropped live connection {target}", caller.username);
            ok_json(&ApiResponse::ok())
        }
        _ => Err(ApiError::not_found(format!("no dispatcher method {method:?}"))),
    }
}

#[allow(clippy::needless_pass_by_value)]
fn started(result: CommandResult) -> ApiResult {
    match result {
        CommandResult::Started { job_id } => ok_json(&WithJobId { status: 200, message: "OK".into(), job_id }),
        other => Err(unexpected(&other)),
    }
}

fn unexpected(result: &CommandResult) -> ApiError {
    tracing::warn!("a device answered a command with {result:?}");
    ApiError::new(StatusCode::BAD_GATEWAY, "the device gave an unexpected answer")
}
