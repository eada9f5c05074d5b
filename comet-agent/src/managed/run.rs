//! Running protected items as jobs: [`prepare`] finds the item and vault in the profile and
//! records the job on the server; [`run_backup`] and [`run_restore`] do the work, stream the log
//! and end the job with its status. The command line and the daemon share them.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use comet_core::{
    BackupOptions, BackupOutcome, BackupProgress, FilterOptions, RestoreOptions, RestoreOutcome, RestoreProgress,
    SnapshotId,
};
use comet_protocol::JobStatus;
use comet_protocol::agent::{JobProgress, JobStartRequest, JobTotals, Severity, classification};
use comet_protocol::client::AgentClient;
use comet_protocol::profile::SourceConfig;

use super::home::Credentials;
use super::job::Job;
use super::vault::{ensure_vault, fetch_profile, find_destination, find_item};
use crate::error::{Error, Result, display_chain};
use crate::progress;

/// This agent's version, as reported to the server.
pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What every job needs.
#[derive(Clone, Debug)]
pub(crate) struct JobEnv {
    /// The server, as this device.
    pub(crate) client: AgentClient,
    /// This device's credentials.
    pub(crate) credentials: Credentials,
    /// Local cache of vault metadata.
    pub(crate) cache_root: Option<PathBuf>,
    /// Draw progress bars (a terminal, not the daemon).
    pub(crate) show_progress: bool,
}

/// The operating system and architecture, as reported to the server.
pub(crate) fn platform() -> String {
    format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH)
}

/// A job recorded on the server, about to run.
pub(crate) struct Prepared {
    /// The job.
    pub(crate) job: Job,
    /// Protected item id.
    pub(crate) item_id: String,
    item: SourceConfig,
    /// Storage vault id.
    pub(crate) destination_id: String,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared").field("job", &self.job).field("item", &self.item_id).finish_non_exhaustive()
    }
}

/// What kind of job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A backup of an item of this device.
    Backup,
    /// A restore of an item of any device of the account.
    Restore,
}

/// Finds the item and its vault, and records the job on the server (running).
pub(crate) async fn prepare(
    env: &JobEnv,
    item_ref: &str,
    destination_ref: Option<&str>,
    kind: Kind,
    backup_rule_id: &str,
) -> Result<Prepared> {
    let (profile, _) = fetch_profile(&env.client).await?;
    let (item_id, item) = find_item(&profile, item_ref)?;
    let (item_id, item) = (item_id.to_owned(), item.clone());
    if kind == Kind::Backup && !item.owner_device.is_empty() && item.owner_device != env.credentials.device_id {
        return Err(Error::Managed(format!(
            "protected item {:?} belongs to device {}: run it there (this is {})",
            item.description, item.owner_device, env.credentials.device_id
        )));
    }
    let destination_id = find_destination(&profile, &item_id, destination_ref)?;
    let destination = &profile.destinations[&destination_id];
    if kind == Kind::Restore && !destination.is_initialised() {
        return Err(Error::Managed(format!("storage vault {destination_id} holds no backup yet")));
    }
    let request = JobStartRequest {
        classification: match kind {
            Kind::Backup => classification::BACKUP,
            Kind::Restore => classification::RESTORE,
        },
        source_id: item_id.clone(),
        destination_id: destination_id.clone(),
        backup_rule_id: backup_rule_id.to_owned(),
        client_version: VERSION.into(),
    };
    let job = Job::start(&env.client, request).await?;
    let what = match kind {
        Kind::Backup => "Backup",
        Kind::Restore => "Restore",
    };
    job.log(
        Severity::Info,
        format!(
            "{what} of {:?} {} storage vault {:?} started on device {:?} (agent {VERSION}, {})",
            item.description,
            if kind == Kind::Backup { "to" } else { "from" },
            destination.description,
            env.credentials.device_name,
            platform()
        ),
    );
    Ok(Prepared { job, item_id, item, destination_id })
}

/// Ends a job that could not start its work because the same item is already running.
pub(crate) async fn skip(prepared: Prepared, running: &str) -> Result<String> {
    let id = prepared.job.id().to_owned();
    prepared.job.log(Severity::Warning, format!("Skipped: job {running} of this protected item is still running"));
    prepared.job.end(JobStatus::AlreadyRunning, JobTotals::default(), "").await?;
    Ok(id)
}

/// Comet's engine properties of a files-and-folders item: `INCLUDE<n>` paths, `EXCLUDE<n>`
/// globs, `REXCLUDE<n>` regular expressions.
fn item_paths_and_filter(item: &SourceConfig) -> (Vec<PathBuf>, FilterOptions) {
    let mut filter = FilterOptions::default();
    let mut paths = Vec::new();
    for (key, value) in &item.engine_props {
        if value.is_empty() {
            continue;
        }
        if key.starts_with("INCLUDE") {
            paths.push(value.into());
        } else if key.starts_with("EXCLUDE") {
            filter.exclude.push(value.clone());
        } else if key.starts_with("REXCLUDE") {
            filter.exclude_regex.push(value.clone());
        }
    }
    (paths, filter)
}

/// How a job's work ended.
pub(crate) enum Ended<T> {
    /// Done (success or warnings).
    Done(T),
    /// Cancelled on request.
    Cancelled,
}

/// Ends `job` after `result`: the status, sizes and snapshot on success; the error lines on
/// failure. A failure to report does not hide the job's own error.
async fn finish<T>(job: Job, result: Result<Option<(T, JobStatus, JobTotals, String)>>) -> Result<Ended<T>> {
    match result {
        Ok(Some((value, status, totals, snapshot))) => {
            job.end(status, totals, &snapshot).await?;
            Ok(Ended::Done(value))
        }
        Ok(None) => {
            job.log(Severity::Warning, "Cancelled on request");
            job.end(JobStatus::Cancelled, JobTotals::default(), "").await?;
            Ok(Ended::Cancelled)
        }
        Err(e) => {
            for line in display_chain(&e).lines() {
                job.log(Severity::Error, line.trim());
            }
            if let Err(report) = job.end(JobStatus::Error, JobTotals::default(), "").await {
                eprintln!("warning: the server was not told that the job failed: {report}");
            }
            Err(e)
        }
    }
}

async fn open_repo(env: &JobEnv, destination_id: &str) -> Result<comet_core::Repository> {
    let wrapping_key = env.credentials.wrapping_key()?;
    let opened = ensure_vault(&env.client, destination_id, &wrapping_key).await?;
    let repo = opened.repository().await?;
    Ok(match &env.cache_root {
        Some(dir) => repo.with_cache(dir),
        None => repo,
    })
}

/// Backs up a prepared item; `template` carries the command line's flags (tags, force, ...).
pub(crate) async fn run_backup(
    env: &JobEnv,
    prepared: Prepared,
    template: BackupOptions,
) -> Result<Ended<BackupOutcome>> {
    let Prepared { job, item_id, item, destination_id } = prepared;
    let work = async {
        let (paths, filter) = item_paths_and_filter(&item);
        if paths.is_empty() {
            return Err(Error::Managed(format!("protected item {:?} includes no path", item.description)));
        }
        let mut repo = open_repo(env, &destination_id).await?.load_index().await?;
        let mut options = template;
        options.paths = paths;
        options.filter.exclude.extend(filter.exclude);
        options.filter.exclude_regex.extend(filter.exclude_regex);
        options.device_id = Some(env.credentials.device_id.clone());
        options.protected_item = Some(item_id.clone());
        let live = Arc::new(BackupProgress::default());
        options.progress = Some(live.clone());
        job.set_progress({
            let live = live.clone();
            Arc::new(move || JobProgress {
                bytes_done: live.bytes_processed.load(Ordering::Relaxed),
                items_done: live.entries.load(Ordering::Relaxed),
            })
        });
        let ticker = env.show_progress.then(|| progress::backup(&live));
        let outcome = tokio::select! {
            result = repo.backup(&options) => Some(result),
            () = job.cancelled() => None,
        };
        progress::finish(ticker);
        let Some(backup) = outcome.transpose()? else { return Ok(None) };
        let s = &backup.snapshot.summary;
        if !backup.warnings.is_empty() {
            // Paths stay on the device: the server keeps no file names.
            job.log(
                Severity::Warning,
                format!(
                    "{} entries were not backed up completely (unreadable, vanished or changed while read); the \
                     device's output lists them",
                    backup.warnings.len()
                ),
            );
        }
        job.log(
            Severity::Info,
            format!(
                "Snapshot {}: {} files ({} new, {} changed, {} unmodified), {} directories, {} bytes; {} bytes \
                 uploaded in {} packs",
                backup.id.short(),
                s.total_files,
                s.files_new,
                s.files_changed,
                s.files_unmodified,
                s.dirs,
                s.total_bytes,
                s.bytes_added_stored,
                s.packs_added
            ),
        );
        let status = if backup.warnings.is_empty() { JobStatus::Success } else { JobStatus::Warning };
        let totals = JobTotals {
            directories: s.dirs,
            files: s.total_files,
            size: s.total_bytes,
            upload_size: s.bytes_added_stored,
            download_size: 0,
        };
        let snapshot = backup.id.to_hex();
        Ok(Some((backup, status, totals, snapshot)))
    };
    let result = work.await;
    finish(job, result).await
}

/// What to restore.
#[derive(Clone, Debug, Default)]
pub(crate) struct RestoreSpec {
    /// Snapshot id prefix; `None` or `latest`: the item's latest.
    pub(crate) snapshot: Option<String>,
    /// Directory to restore into.
    pub(crate) target: PathBuf,
    /// Paths inside the snapshot; empty: everything.
    pub(crate) include: Vec<PathBuf>,
}

/// Restores a prepared item's snapshot.
pub(crate) async fn run_restore(
    env: &JobEnv,
    prepared: Prepared,
    spec: &RestoreSpec,
) -> Result<Ended<(SnapshotId, RestoreOutcome)>> {
    let Prepared { job, item_id, item, destination_id } = prepared;
    let work = async {
        let repo = open_repo(env, &destination_id).await?;
        let (id, snap) = find_item_snapshot(&repo, &item_id, &item.description, spec.snapshot.as_deref()).await?;
        job.log(
            Severity::Info,
            format!("Restoring snapshot {} of {}", id.short(), comet_core::snapshot::format_time(snap.time_ns)),
        );
        let repo = repo.load_index().await?;
        let live = Arc::new(RestoreProgress::default());
        let options =
            spec.include.iter().fold(RestoreOptions::new(&spec.target), RestoreOptions::include).progress(live.clone());
        job.set_progress({
            let live = live.clone();
            Arc::new(move || JobProgress { bytes_done: live.bytes_done.load(Ordering::Relaxed), items_done: 0 })
        });
        let ticker = env.show_progress.then(|| progress::restore(&live));
        let outcome = tokio::select! {
            result = repo.restore(&snap, &options) => Some(result),
            () = job.cancelled() => None,
        };
        progress::finish(ticker);
        let Some(restored) = outcome.transpose()? else { return Ok(None) };
        if !restored.warnings.is_empty() {
            job.log(
                Severity::Warning,
                format!(
                    "{} problems while restoring ({} files incomplete); the device's output lists them",
                    restored.warnings.len(),
                    restored.incomplete.len()
                ),
            );
        }
        job.log(
            Severity::Info,
            format!("Restored {} files, {} directories, {} bytes", restored.files, restored.dirs, restored.bytes),
        );
        let status = if restored.warnings.is_empty() { JobStatus::Success } else { JobStatus::Warning };
        let totals = JobTotals {
            directories: restored.dirs,
            files: restored.files,
            size: restored.bytes,
            upload_size: 0,
            download_size: 0,
        };
        Ok(Some(((id, restored), status, totals, id.to_hex())))
    };
    let result = work.await;
    finish(job, result).await
}

/// The snapshot of item `item_id` that `reference` names (`None`/`latest`: its newest).
async fn find_item_snapshot(
    repo: &comet_core::Repository,
    item_id: &str,
    item_name: &str,
    reference: Option<&str>,
) -> Result<(SnapshotId, comet_core::snapshot::Snapshot)> {
    match reference {
        None | Some("" | "latest") => {
            let mut snapshots: Vec<_> = repo
                .snapshots()
                .await?
                .into_iter()
                .filter(|(_, s)| s.protected_item.as_deref() == Some(item_id))
                .collect();
            snapshots.sort_by_key(|(_, s)| s.time_ns);
            snapshots
                .pop()
                .ok_or_else(|| Error::Managed(format!("protected item {item_name:?} has no snapshot in this vault")))
        }
        Some(prefix) => {
            let found = repo.find_snapshot(prefix).await?;
            if found.1.protected_item.as_deref() != Some(item_id) {
                return Err(Error::Managed(format!(
                    "snapshot {} is not of protected item {item_name:?}",
                    found.0.short()
                )));
            }
            Ok(found)
        }
    }
}

/// The snapshots of a vault, oldest first (the daemon's `GetSnapshots`).
pub(crate) async fn list_snapshots(
    env: &JobEnv,
    destination_id: &str,
) -> Result<Vec<(SnapshotId, comet_core::snapshot::Snapshot)>> {
    let repo = open_repo(env, destination_id).await?;
    let mut snapshots = repo.snapshots().await?;
    snapshots.sort_by_key(|(_, s)| s.time_ns);
    Ok(snapshots)
}

/// The entries of directory `path` inside a snapshot of a vault (the daemon's `BrowseSnapshot`),
/// by name, at most [`comet_protocol::live::MAX_BROWSE_ENTRIES`] (then `true`). A `path` that
/// names a file lists just that file.
pub(crate) async fn browse_snapshot(
    env: &JobEnv,
    destination_id: &str,
    snapshot: &str,
    path: &str,
) -> Result<(Vec<comet_protocol::live::FsEntry>, bool)> {
    use comet_protocol::live::{FsEntry, MAX_BROWSE_ENTRIES};
    let repo = open_repo(env, destination_id).await?;
    let (_, snap) = repo.find_snapshot(snapshot).await?;
    let repo = repo.load_index().await?;
    let mut entries = repo.ls(&snap.tree, std::path::Path::new(path), false).await?;
    let truncated = entries.len() > MAX_BROWSE_ENTRIES;
    entries.truncate(MAX_BROWSE_ENTRIES);
    let listed = entries
        .into_iter()
        .map(|e| FsEntry {
            name: e.path.rsplit('/').next().unwrap_or_default().to_owned(),
            is_dir: e.node.kind == comet_core::tree::NodeKind::Dir,
            size: e.node.size,
            modify_time: e.node.mtime_ns.div_euclid(1_000_000_000),
        })
        .collect();
    Ok((listed, truncated))
}

/// Starts a retention pass (4003) of vault `destination_id` on the server.
pub(crate) async fn prepare_retention(env: &JobEnv, destination_id: &str) -> Result<(Job, String)> {
    let (profile, _) = fetch_profile(&env.client).await?;
    let destination = profile
        .destinations
        .get(destination_id)
        .ok_or_else(|| Error::Managed(format!("no storage vault {destination_id} in the profile")))?;
    let request = JobStartRequest {
        classification: classification::RETENTION,
        source_id: String::new(),
        destination_id: destination_id.to_owned(),
        backup_rule_id: String::new(),
        client_version: VERSION.into(),
    };
    let job = Job::start(&env.client, request).await?;
    job.log(
        Severity::Info,
        format!(
            "Retention pass of storage vault {:?} started on device {:?} (agent {VERSION})",
            destination.description, env.credentials.device_name
        ),
    );
    Ok((job, destination_id.to_owned()))
}

/// The engine's policy for Comet's retention ranges.
fn policy_of(ranges: &[comet_protocol::profile::RetentionRange]) -> Result<comet_core::retention::Policy> {
    use comet_core::retention::{Duration, Policy};
    let mut policy = Policy::default();
    for r in ranges {
        policy = match r.range_type {
            900 => policy.keep_last(r.jobs),
            901 => policy.keep_after_ns(r.timestamp.saturating_mul(1_000_000_000)),
            902 => policy.keep_newer_than(Duration::new(r.years, r.months, r.days + 7 * r.weeks, 0)),
            907 => policy.keep_daily(r.jobs),
            908 => policy.keep_weekly(r.jobs),
            909 => policy.keep_monthly(r.jobs),
            910 => policy.keep_yearly(r.jobs),
            other => {
                return Err(Error::Managed(format!(
                    "retention range type {other} is not supported (900, 901, 902, 907 to 910 are)"
                )));
            }
        };
    }
    Ok(policy)
}

/// What a retention pass did.
#[derive(Debug, Default)]
pub(crate) struct RetentionOutcome {
    /// Snapshots removed.
    pub(crate) removed: usize,
    /// Snapshots kept.
    pub(crate) kept: usize,
}

/// Applies the vault's retention policy, per protected item, then prunes.
pub(crate) async fn run_retention(env: &JobEnv, job: Job, destination_id: &str) -> Result<Ended<RetentionOutcome>> {
    use comet_core::retention::{Candidate, GroupBy};
    let work = async {
        let (profile, _) = fetch_profile(&env.client).await?;
        let Some(destination) = profile.destinations.get(destination_id) else {
            return Err(Error::Managed(format!("no storage vault {destination_id} in the profile")));
        };
        if !destination.is_initialised() {
            job.log(Severity::Info, "The vault holds no backup yet: nothing to do");
            return Ok(Some((RetentionOutcome::default(), JobStatus::Success, JobTotals::default(), String::new())));
        }
        let retention = destination.default_retention.clone();
        if retention.mode != comet_protocol::profile::RETENTION_DELETE_EXCEPT || retention.ranges.is_empty() {
            job.log(Severity::Info, "The vault's policy keeps every snapshot: nothing to do");
            return Ok(Some((RetentionOutcome::default(), JobStatus::Success, JobTotals::default(), String::new())));
        }
        let policy = policy_of(&retention.ranges)?;
        if destination.append_only {
            let grant = env
                .client
                .call::<comet_protocol::agent::DeleteGrant>(&comet_protocol::agent::DeleteGrantRequest {
                    job_id: job.id().to_owned(),
                })
                .await?;
            job.log(Severity::Info, format!("Append-only vault: the server allows deletes until {}", grant.until));
        }
        let repo = open_repo(env, destination_id).await?;
        // One group per protected item: each keeps what the policy says, whatever the others do.
        let candidates: Vec<Candidate<SnapshotId>> = repo
            .snapshots()
            .await?
            .iter()
            .map(|(id, s)| {
                let item = s.protected_item.clone().unwrap_or_else(|| s.hostname.clone());
                Candidate::new(*id, s.time_ns, item)
            })
            .collect();
        let now_ns = comet_core::snapshot::now_ns();
        let group_by = GroupBy { host: true, paths: false, tags: false };
        let mut outcome = RetentionOutcome::default();
        let mut remove = Vec::new();
        for decision in policy.apply(&candidates, group_by, now_ns, 0) {
            if decision.removes_all() {
                job.log(Severity::Warning, "The policy would remove every snapshot of an item: its snapshots are kept");
                outcome.kept += decision.remove.len();
                continue;
            }
            outcome.kept += decision.keep.len();
            remove.extend(decision.remove.iter().map(|c| c.id));
        }
        outcome.removed = repo.forget_snapshots(&remove).await?;
        job.log(Severity::Info, format!("Removed {} snapshots, kept {}", outcome.removed, outcome.kept));
        let report = repo.prune(&comet_core::PruneOptions::default()).await?;
        job.log(
            Severity::Info,
            format!("Unused data: {} packs marked for deletion, {} deleted", report.marked.packs, report.deleted.packs),
        );
        Ok(Some((outcome, JobStatus::Success, JobTotals::default(), String::new())))
    };
    let result = tokio::select! {
        r = work => r,
        () = job.cancelled() => Ok(None),
    };
    finish(job, result).await
}
