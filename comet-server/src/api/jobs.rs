//! Job history methods: `AdminGetJobs*`, `AdminGetJobProperties`, `AdminGetJobLog[Entries]`,
//! `AdminJobCancel`, and the user's own `UserWebGetJobs`, `UserWebGetJobProperties`,
//! `UserWebGetJobLog[Entries]`, `UserWebJobCancel`.
//!
//! A job of another organization, or (for users) of another user, is answered exactly like a
//! job that does not exist.

use std::fmt::Write as _;

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use comet_protocol::agent::Severity;
use comet_protocol::api::{ApiResponse, BackupJobDetail, JobEntry};

use super::{ApiError, ApiResult, AppState, Caller, Fields, field, now_secs, ok_json, target_user};
use crate::db::{JobCancel, JobList, JobRecord};

/// How far back `AdminGetJobsRecent` looks (running jobs are listed whatever their age).
const RECENT_SECONDS: i64 = 24 * 60 * 60;

/// An admin method about jobs, within the caller's organization.
pub(super) async fn admin_method(state: &AppState, caller: &Caller, method: &str, fields: &Fields) -> ApiResult {
    let org = caller.organization.as_str();
    match method {
        "get-jobs-all" => list(state, org, JobList::All).await,
        "get-jobs-recent" => list(state, org, JobList::Recent { since: now_secs() - RECENT_SECONDS }).await,
        "get-jobs-for-user" => list(state, org, JobList::User(target_user(fields)?)).await,
        "get-jobs-for-date-range" => {
            let (start, end) = (seconds(fields, "Start")?, seconds(fields, "End")?);
            list(state, org, JobList::StartedBetween { start, end }).await
        }
        "job/cancel" => cancel(state, org, target_user(fields)?, fields).await,
        _ => one_job(state, caller, None, method, fields).await,
    }
}

/// A user method about the caller's own jobs.
pub(super) async fn user_method(state: &AppState, caller: &Caller, method: &str, fields: &Fields) -> ApiResult {
    let (org, user) = (caller.organization.as_str(), caller.username.as_str());
    match method {
        "get-jobs" => list(state, org, JobList::User(user)).await,
        "job/cancel" => cancel(state, org, user, fields).await,
        _ => one_job(state, caller, Some(user), method, fields).await,
    }
}

async fn list(state: &AppState, org: &str, which: JobList<'_>) -> ApiResult {
    let jobs: Vec<BackupJobDetail> = state.db.list_jobs(org, which).await?.iter().map(detail).collect();
    ok_json(&jobs)
}

/// `get-job-properties`, `get-job-log`, `get-job-log-entries`: one job of the organization (of
/// `user`, when given).
async fn one_job(state: &AppState, caller: &Caller, user: Option<&str>, method: &str, fields: &Fields) -> ApiResult {
    let job = find(state, &caller.organization, user, fields).await?;
    match method {
        "get-job-properties" => ok_json(&detail(&job)),
        "get-job-log" => {
            let log = state.db.job_log(&job.id, &caller.organization).await?;
            let mut text = String::new();
            for line in &log {
                // One line per entry, whatever the message holds.
                let message = line.message.replace(['\r', '\n'], " ");
                let _ = writeln!(text, "{} {} {message}", utc_text(line.time), line.severity);
            }
            Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
        }
        "get-job-log-entries" => {
            let least = match fields.get("MinSeverity").map(String::as_str) {
                None | Some("") => Severity::Debug,
                Some(letter) => Severity::from_letter(letter)
                    .ok_or_else(|| ApiError::bad_request("MinSeverity is one of D, I, W, E"))?,
            };
            let contains = fields.get("MessageContains").map_or("", String::as_str);
            let entries: Vec<JobEntry> = state
                .db
                .job_log(&job.id, &caller.organization)
                .await?
                .into_iter()
                .filter(|line| {
                    Severity::from_letter(&line.severity).is_some_and(|s| rank(s) >= rank(least))
                        && line.message.contains(contains)
                })
                .map(|line| JobEntry { time: line.time, severity: line.severity, message: line.message })
                .collect();
            ok_json(&entries)
        }
        _ => Err(ApiError::not_found(format!("no method {method:?}"))),
    }
}

/// `AdminJobCancel`, `UserWebJobCancel`: the device hears of it with its next log batch.
async fn cancel(state: &AppState, org: &str, user: &str, fields: &Fields) -> ApiResult {
    let id = job_id(fields)?;
    match state.db.cancel_job(&id, org, Some(user)).await? {
        JobCancel::Requested => {
            tracing::info!("cancellation of job {id} of user {user} requested");
            // An online device hears it at once; otherwise with its next log batch.
            if let Some(job) = state.db.job(&id, org).await? {
                state.live.push(
                    org,
                    user,
                    &job.device_id,
                    comet_protocol::live::Command::CancelJob { job_id: id.clone() },
                );
            }
            ok_json(&ApiResponse::ok())
        }
        JobCancel::Finished => Err(ApiError::bad_request(format!("job {id} has ended already"))),
        JobCancel::NotFound => Err(no_job(&id)),
    }
}

/// The job named by `JobID`, in `org`, of `user` when given.
async fn find(state: &AppState, org: &str, user: Option<&str>, fields: &Fields) -> Result<JobRecord, ApiError> {
    let id = job_id(fields)?;
    state.db.job(&id, org).await?.filter(|job| user.is_none_or(|user| user == job.username)).ok_or_else(|| no_job(&id))
}

/// The `JobID` field: 32 hex characters (lower-cased), checked before any lookup.
fn job_id(fields: &Fields) -> Result<String, ApiError> {
    let id = field(fields, "JobID")?;
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::bad_request("JobID is 32 hexadecimal characters"));
    }
    Ok(id.to_ascii_lowercase())
}

fn no_job(id: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, format!("no job {id}"))
}

fn seconds(fields: &Fields, name: &str) -> Result<i64, ApiError> {
    field(fields, name)?
        .trim()
        .parse()
        .map_err(|_| ApiError::bad_request(format!("{name} is a time in seconds since 1970-01-01 UTC")))
}

fn rank(severity: Severity) -> u8 {
    match severity {
        Severity::Debug => 0,
        Severity::Info => 1,
        Severity::Warning => 2,
        Severity::Error => 3,
    }
}

/// Comet's `BackupJobDetail` of a job record.
fn detail(job: &JobRecord) -> BackupJobDetail {
    BackupJobDetail {
        guid: job.id.clone(),
        username: job.username.clone(),
        organization_id: job.organization_id.clone(),
        classification: job.classification,
        status: job.status,
        start_time: job.start_time,
        end_time: job.end_time,
        source_guid: job.source_id.clone(),
        destination_guid: job.destination_id.clone(),
        backup_rule_guid: job.backup_rule_id.clone(),
        device_id: job.device_id.clone(),
        snapshot_id: job.snapshot_id.clone(),
        client_version: job.client_version.clone(),
        total_directories: job.totals.directories,
        total_files: job.totals.files,
        total_size: job.totals.size,
        upload_size: job.totals.upload_size,
        download_size: job.totals.download_size,
        cancellation_id: if job.is_running() { job.id.clone() } else { String::new() },
    }
}

/// `YYYY-MM-DD HH:MM:SS` in UTC of a time in seconds since the epoch (proleptic Gregorian
/// calendar, any `i64`).
pub(crate) fn utc_text(secs: i64) -> String {
    let (days, of_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}", of_day / 3600, of_day % 3600 / 60, of_day % 60)
}

/// Year, month and day of a day number (0 = 1970-01-01): Howard Hinnant's `civil_from_days`,
/// which counts in 400-year eras of 146 097 days starting on 0000-03-01, so that the leap day
/// is the last day of its year.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097); // 0..=146_096
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365; // 0..=399
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100); // 0..=365
    let month_from_march = (5 * day_of_year + 2) / 153; // 0..=11
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1; // 1..=31
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_text_of_known_times() {
        assert_eq!(utc_text(0), "1970-01-01 00:00:00");
        assert_eq!(utc_text(-1), "1969-12-31 23:59:59");
        assert_eq!(utc_text(951_782_400), "2000-02-29 00:00:00", "a leap day of a century divisible by 400");
        assert_eq!(utc_text(951_868_800), "2000-03-01 00:00:00");
        assert_eq!(utc_text(4_107_542_400), "2100-03-01 00:00:00", "2100 has no February 29");
        assert_eq!(utc_text(1_700_000_000), "2023-11-14 22:13:20");
        assert_eq!(utc_text(253_402_300_799), "9999-12-31 23:59:59");
        // Agents send any i64: no overflow, no panic.
        let _ = (utc_text(i64::MAX), utc_text(i64::MIN));
    }

    #[test]
    fn every_day_follows_the_previous_one() {
        // From 1900 to 2100: days advance one by one through months of the right length.
        let mut previous = civil_from_days(-25_567);
        assert_eq!(previous, (1900, 1, 1));
        for days in -25_566..47_482 {
            let (y, m, d) = civil_from_days(days);
            let next_day = (previous.0, previous.1, previous.2 + 1);
            let next_month = (previous.0, previous.1 + 1, 1);
            let next_year = (previous.0 + 1, 1, 1);
            assert!([next_day, next_month, next_year].contains(&(y, m, d)), "{previous:?} -> {:?}", (y, m, d));
            let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
            let length = match m {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            assert!(d <= length, "{y}-{m}-{d}");
            previous = (y, m, d);
        }
        assert_eq!(previous, (2099, 12, 31));
    }
}
