//! Jobs and their logs.
//!
//! A job is started by a device (status 6001, `end_time` 0), receives log lines while it runs,
//! and is ended once with its final status and totals. Jobs stay when their user or device goes:
//! they are the history administrators and reports read. Every query names the organization, so
//! a job id of another organization is never found.

use comet_protocol::agent::{JobTotals, LogEntry};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};

use super::{Db, DbResult};

/// The columns [`job_of`] reads, in its order.
const JOB_COLUMNS: &str = "id, organization_id, username, device_id, classification, status, start_time, end_time, \
                           source_id, destination_id, backup_rule_id, snapshot_id, client_version, total_directories, \
                           total_files, total_size, upload_size, download_size, cancel_requested, last_update";

/// A job as a device starts it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewJob {
    /// Its id (32 hex characters).
    pub id: String,
    /// Its organization.
    pub organization_id: String,
    /// Its user.
    pub username: String,
    /// The device running it.
    pub device_id: String,
    /// 4001 backup, 4002 restore, 4003 retention, ...
    pub classification: u32,
    /// Protected item id.
    pub source_id: String,
    /// Storage vault id.
    pub destination_id: String,
    /// Schedule id.
    pub backup_rule_id: String,
    /// Agent version.
    pub client_version: String,
    /// Its start, seconds since the epoch.
    pub start_time: i64,
}

/// A job's record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobRecord {
    /// Its id.
    pub id: String,
    /// Its organization.
    pub organization_id: String,
    /// Its user.
    pub username: String,
    /// The device that ran it.
    pub device_id: String,
    /// 4001 backup, 4002 restore, 4003 retention, ...
    pub classification: u32,
    /// `JobStatus` code.
    pub status: u32,
    /// Start, seconds since the epoch.
    pub start_time: i64,
    /// End, seconds since the epoch; 0 while running.
    pub end_time: i64,
    /// Protected item id.
    pub source_id: String,
    /// Storage vault id.
    pub destination_id: String,
    /// Schedule id.
    pub backup_rule_id: String,
    /// Snapshot written or read.
    pub snapshot_id: String,
    /// Agent version.
    pub client_version: String,
    /// Sizes and counts, once it ended.
    pub totals: JobTotals,
    /// Someone asked to cancel it.
    pub cancel_requested: bool,
    /// When the device last reported on it.
    pub last_update: i64,
}

impl JobRecord {
    /// Whether it is still running (not ended).
    pub fn is_running(&self) -> bool {
        self.end_time == 0
    }
}

/// Which jobs of an organization to list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobList<'a> {
    /// All of them.
    All,
    /// Those of one user.
    User(&'a str),
    /// Those started in `start..end` (seconds since the epoch).
    StartedBetween {
        /// Inclusive.
        start: i64,
        /// Exclusive.
        end: i64,
    },
    /// Those started at or after `since`, and those still running.
    Recent {
        /// Seconds since the epoch.
        since: i64,
    },
}

/// One log line of a job, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobLogRow {
    /// Seconds since the epoch, as the agent reported it.
    pub time: i64,
    /// `D`, `I`, `W` or `E`.
    pub severity: String,
    /// The text.
    pub message: String,
}

/// What appending log lines found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogAppend {
    /// Appended; whether someone asked to cancel the job.
    Appended {
        /// Someone asked to cancel the job.
        cancel_requested: bool,
    },
    /// The job has ended: nothing appended.
    Finished,
    /// No such job of this device.
    NotFound,
}

/// What ending a job found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobEnd {
    /// Ended now.
    Ended,
    /// It had ended already with the same status: nothing changed (a repeated request).
    AlreadyEnded,
    /// It had ended already with another status (given): nothing changed.
    EndedOtherwise(u32),
    /// No such job of this device.
    NotFound,
}

/// How a job ended, as its device reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JobOutcome<'a> {
    /// `JobStatus` code, not 6001.
    pub status: u32,
    /// Sizes and counts.
    pub totals: JobTotals,
    /// The snapshot written or read.
    pub snapshot_id: &'a str,
}

/// What a cancellation request found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobCancel {
    /// Recorded: the device hears of it with its next log batch.
    Requested,
    /// The job has ended.
    Finished,
    /// No such job.
    NotFound,
}

/// Who a job belongs to: the device that runs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JobOwner<'a> {
    /// The organization.
    pub organization_id: &'a str,
    /// The user.
    pub username: &'a str,
    /// The device.
    pub device_id: &'a str,
}

fn to_db(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn from_db(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn job_of(r: &SqliteRow) -> JobRecord {
    let code = |i: usize| u32::try_from(r.get::<i64, _>(i)).unwrap_or(0);
    JobRecord {
        id: r.get(0),
        organization_id: r.get(1),
        username: r.get(2),
        device_id: r.get(3),
        classification: code(4),
        status: code(5),
        start_time: r.get(6),
        end_time: r.get(7),
        source_id: r.get(8),
        destination_id: r.get(9),
        backup_rule_id: r.get(10),
        snapshot_id: r.get(11),
        client_version: r.get(12),
        totals: JobTotals {
            directories: from_db(r.get(13)),
            files: from_db(r.get(14)),
            size: from_db(r.get(15)),
            upload_size: from_db(r.get(16)),
            download_size: from_db(r.get(17)),
        },
        cancel_requested: r.get::<i64, _>(18) != 0,
        last_update: r.get(19),
    }
}

/// Appends `entries` to the log of `job_id` after its last line, inside `tx`.
async fn append_entries(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    job_id: &str,
    org: &str,
    entries: &[LogEntry],
) -> DbResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let last: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) FROM job_log WHERE job_id = ?")
        .bind(job_id)
        .fetch_one(&mut **tx)
        .await?
        .get(0);
    let mut insert =
        QueryBuilder::<Sqlite>::new("INSERT INTO job_log (job_id, seq, organization_id, time, severity, message) ");
    insert.push_values(entries.iter().zip(last + 1..), |mut row, (entry, seq)| {
        row.push_bind(job_id)
            .push_bind(seq)
            .push_bind(org)
            .push_bind(entry.time)
            .push_bind(entry.severity.letter())
            .push_bind(&entry.message);
    });
    insert.build().execute(&mut **tx).await?;
    Ok(())
}

impl Db {
    /// Records a new running job.
    pub async fn start_job(&self, job: &NewJob) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO jobs (id, start_order, organization_id, username, device_id, classification, status, \
             start_time, end_time, source_id, destination_id, backup_rule_id, snapshot_id, client_version, \
             total_directories, total_files, total_size, upload_size, download_size, cancel_requested, last_update) \
             VALUES (?, (SELECT COALESCE(MAX(start_order), 0) + 1 FROM jobs), ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, '', ?, \
             0, 0, 0, 0, 0, 0, ?)",
        )
        .bind(&job.id)
        .bind(&job.organization_id)
        .bind(&job.username)
        .bind(&job.device_id)
        .bind(i64::from(job.classification))
        .bind(i64::from(comet_protocol::JobStatus::Running.code()))
        .bind(job.start_time)
        .bind(&job.source_id)
        .bind(&job.destination_id)
        .bind(&job.backup_rule_id)
        .bind(&job.client_version)
        .bind(job.start_time)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A job of organization `org`.
    pub async fn job(&self, id: &str, org: &str) -> DbResult<Option<JobRecord>> {
        let row = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ? AND organization_id = ?"))
            .bind(id)
            .bind(org)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(job_of))
    }

    /// Jobs of organization `org`, by start time.
    pub async fn list_jobs(&self, org: &str, which: JobList<'_>) -> DbResult<Vec<JobRecord>> {
        let filter = match which {
            JobList::All => "",
            JobList::User(_) => "AND username = ?",
            JobList::StartedBetween { .. } => "AND start_time >= ? AND start_time < ?",
            JobList::Recent { .. } => "AND (start_time >= ? OR end_time = 0)",
        };
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE organization_id = ? {filter} ORDER BY start_time, start_order"
        );
        let query = sqlx::query(&sql).bind(org);
        let query = match which {
            JobList::All => query,
            JobList::User(username) => query.bind(username),
            JobList::StartedBetween { start, end } => query.bind(start).bind(end),
            JobList::Recent { since } => query.bind(since),
        };
        Ok(query.fetch_all(&self.pool).await?.iter().map(job_of).collect())
    }

    /// The log of a job of organization `org`, in order.
    pub async fn job_log(&self, id: &str, org: &str) -> DbResult<Vec<JobLogRow>> {
        let rows = sqlx::query(
            "SELECT time, severity, message FROM job_log WHERE job_id = ? AND organization_id = ? ORDER BY seq",
        )
        .bind(id)
        .bind(org)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| JobLogRow { time: r.get(0), severity: r.get(1), message: r.get(2) }).collect())
    }

    /// Appends log lines to a running job of `owner`.
    pub async fn append_job_log(
        &self,
        id: &str,
        owner: JobOwner<'_>,
        entries: &[LogEntry],
        now: i64,
    ) -> DbResult<LogAppend> {
        let mut tx = self.pool.begin().await?;
        // The write first: it takes the lock, and says whether the job is running and theirs.
        let touched = sqlx::query(
            "UPDATE jobs SET last_update = ?, status = CASE WHEN status = 7007 THEN 6001 ELSE status END, \
             end_time = CASE WHEN status = 7007 THEN 0 ELSE end_time END WHERE id = ? AND organization_id = ? \
             AND username = ? AND device_id = ? AND (end_time = 0 OR status = 7007)",
        )
        .bind(now)
        .bind(id)
        .bind(owner.organization_id)
        .bind(owner.username)
        .bind(owner.device_id)
        .execute(&mut *tx)
        .await?;
        if touched.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(match self.owned_job(id, owner).await? {
                Some(_) => LogAppend::Finished,
                None => LogAppend::NotFound,
            });
        }
        append_entries(&mut tx, id, owner.organization_id, entries).await?;
        let cancel_requested: i64 =
            sqlx::query("SELECT cancel_requested FROM jobs WHERE id = ?").bind(id).fetch_one(&mut *tx).await?.get(0);
        tx.commit().await?;
        Ok(LogAppend::Appended { cancel_requested: cancel_requested != 0 })
    }

    /// Ends a running job of `owner` with its outcome, and appends its last log lines, in one
    /// transaction. Repeating the same end changes nothing.
    pub async fn end_job(
        &self,
        id: &str,
        owner: JobOwner<'_>,
        outcome: &JobOutcome<'_>,
        entries: &[LogEntry],
        now: i64,
    ) -> DbResult<JobEnd> {
        let (status, totals) = (outcome.status, &outcome.totals);
        let mut tx = self.pool.begin().await?;
        let ended = sqlx::query(
            "UPDATE jobs SET status = ?, end_time = ?, last_update = ?, snapshot_id = ?, total_directories = ?, \
             total_files = ?, total_size = ?, upload_size = ?, download_size = ? WHERE id = ? \
             AND organization_id = ? AND username = ? AND device_id = ? AND (end_time = 0 OR status = 7007)",
        )
        .bind(i64::from(status))
        .bind(now)
        .bind(now)
        .bind(outcome.snapshot_id)
        .bind(to_db(totals.directories))
        .bind(to_db(totals.files))
        .bind(to_db(totals.size))
        .bind(to_db(totals.upload_size))
        .bind(to_db(totals.download_size))
        .bind(id)
        .bind(owner.organization_id)
        .bind(owner.username)
        .bind(owner.device_id)
        .execute(&mut *tx)
        .await?;
        if ended.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(match self.owned_job(id, owner).await? {
                Some(job) if job.status == status => JobEnd::AlreadyEnded,
                Some(job) => JobEnd::EndedOtherwise(job.status),
                None => JobEnd::NotFound,
            });
        }
        append_entries(&mut tx, id, owner.organization_id, entries).await?;
        tx.commit().await?;
        Ok(JobEnd::Ended)
    }

    /// Asks the device running a job of `org` (of `username`, when given) to cancel it.
    pub async fn cancel_job(&self, id: &str, org: &str, username: Option<&str>) -> DbResult<JobCancel> {
        let done = sqlx::query(
            "UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND organization_id = ? \
             AND username = COALESCE(?, username) AND end_time = 0",
        )
        .bind(id)
        .bind(org)
        .bind(username)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(JobCancel::Requested);
        }
        Ok(match self.job(id, org).await? {
            Some(job) if username.is_none_or(|u| u == job.username) => JobCancel::Finished,
            _ => JobCancel::NotFound,
        })
    }

    /// A job of `owner`'s device.
    async fn owned_job(&self, id: &str, owner: JobOwner<'_>) -> DbResult<Option<JobRecord>> {
        Ok(self
            .job(id, owner.organization_id)
            .await?
            .filter(|job| job.username == owner.username && job.device_id == owner.device_id))
    }
}

#[cfg(test)]
mod tests {
    use comet_protocol::agent::Severity;

    use super::*;

    fn entry(time: i64, severity: Severity, message: &str) -> LogEntry {
        LogEntry { time, severity, message: message.into() }
    }

    #[tokio::test]
    async fn a_job_runs_logs_and_ends_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.sqlite3")).await.unwrap();
        let job = NewJob {
            id: "0123456789abcdef0123456789abcdef".into(),
            organization_id: "org1".into(),
            username: "alice".into(),
            device_id: "d1".into(),
            classification: 4001,
            start_time: 100,
            ..NewJob::default()
        };
        db.start_job(&job).await.unwrap();
        let owner = JobOwner { organization_id: "org1", username: "alice", device_id: "d1" };
        let other_device = JobOwner { device_id: "d2", ..owner };
        let other_org = JobOwner { organization_id: "org2", ..owner };
        let one = [entry(101, Severity::Info, "one"), entry(102, Severity::Warning, "two")];
        assert_eq!(
            db.append_job_log(&job.id, owner, &one, 102).await.unwrap(),
            LogAppend::Appended { cancel_requested: false }
        );
        for stranger in [other_device, other_org] {
            assert_eq!(db.append_job_log(&job.id, stranger, &one, 102).await.unwrap(), LogAppend::NotFound);
            let success = JobOutcome { status: 5000, totals: JobTotals::default(), snapshot_id: "" };
            assert_eq!(db.end_job(&job.id, stranger, &success, &[], 1).await.unwrap(), JobEnd::NotFound);
        }
        assert_eq!(db.cancel_job(&job.id, "org1", Some("bob")).await.unwrap(), JobCancel::NotFound);
        assert_eq!(db.cancel_job(&job.id, "org2", None).await.unwrap(), JobCancel::NotFound);
        assert_eq!(db.cancel_job(&job.id, "org1", Some("alice")).await.unwrap(), JobCancel::Requested);
        assert_eq!(
            db.append_job_log(&job.id, owner, &[entry(103, Severity::Debug, "three")], 103).await.unwrap(),
            LogAppend::Appended { cancel_requested: true }
        );
        let totals = JobTotals { directories: 1, files: 2, size: 3, upload_size: 4, download_size: u64::MAX };
        let last = [entry(104, Severity::Error, "four")];
        let cancelled = JobOutcome { status: 7005, totals, snapshot_id: "snap" };
        assert_eq!(db.end_job(&job.id, owner, &cancelled, &last, 105).await.unwrap(), JobEnd::Ended);
        assert_eq!(db.end_job(&job.id, owner, &cancelled, &last, 106).await.unwrap(), JobEnd::AlreadyEnded);
        let success = JobOutcome { status: 5000, ..cancelled };
        assert_eq!(db.end_job(&job.id, owner, &success, &[], 106).await.unwrap(), JobEnd::EndedOtherwise(7005));
        assert_eq!(db.append_job_log(&job.id, owner, &one, 107).await.unwrap(), LogAppend::Finished);
        assert_eq!(db.cancel_job(&job.id, "org1", None).await.unwrap(), JobCancel::Finished);

        let log = db.job_log(&job.id, "org1").await.unwrap();
        let messages: Vec<&str> = log.iter().map(|l| l.message.as_str()).collect();
        assert_eq!(messages, ["one", "two", "three", "four"], "in order, the repeated end added nothing");
        assert_eq!(log[3].severity, "E");
        assert!(db.job_log(&job.id, "org2").await.unwrap().is_empty());
        let stored = db.job(&job.id, "org1").await.unwrap().unwrap();
        assert_eq!((stored.status, stored.end_time, stored.snapshot_id.as_str()), (7005, 105, "snap"));
        assert_eq!(stored.totals.download_size, i64::MAX as u64, "clamped to what SQLite holds");
        assert!(db.job(&job.id, "org2").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn lists_filter_by_organization_user_and_time() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.sqlite3")).await.unwrap();
        for (i, (org, user, start)) in
            [("org1", "alice", 300), ("org1", "bob", 100), ("org1", "alice", 200), ("org2", "carol", 150)]
                .into_iter()
                .enumerate()
        {
            let job = NewJob {
                id: format!("{i:032x}"),
                organization_id: org.into(),
                username: user.into(),
                device_id: "d".into(),
                start_time: start,
                ..NewJob::default()
            };
            db.start_job(&job).await.unwrap();
        }
        let owner = JobOwner { organization_id: "org1", username: "bob", device_id: "d" };
        let success = JobOutcome { status: 5000, totals: JobTotals::default(), snapshot_id: "" };
        db.end_job(&format!("{:032x}", 1), owner, &success, &[], 120).await.unwrap();
        let starts = |jobs: Vec<JobRecord>| jobs.iter().map(|j| j.start_time).collect::<Vec<_>>();
        assert_eq!(starts(db.list_jobs("org1", JobList::All).await.unwrap()), [100, 200, 300]);
        assert_eq!(starts(db.list_jobs("org1", JobList::User("alice")).await.unwrap()), [200, 300]);
        assert_eq!(starts(db.list_jobs("org1", JobList::User("carol")).await.unwrap()), Vec::<i64>::new());
        let range = JobList::StartedBetween { start: 100, end: 300 };
        assert_eq!(starts(db.list_jobs("org1", range).await.unwrap()), [100, 200]);
        // Bob's ended job is old; Alice's are running.
        assert_eq!(starts(db.list_jobs("org1", JobList::Recent { since: 250 }).await.unwrap()), [200, 300]);
        assert_eq!(starts(db.list_jobs("org2", JobList::All).await.unwrap()), [150]);
    }
}

/// A scheduled run nobody started, to record as Missed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissedRun<'a> {
    /// Its organization.
    pub organization_id: &'a str,
    /// Its user.
    pub username: &'a str,
    /// The device that should have run it.
    pub device_id: &'a str,
    /// Protected item id.
    pub source_id: &'a str,
    /// Storage vault id.
    pub destination_id: &'a str,
    /// Schedule id.
    pub backup_rule_id: &'a str,
    /// When it should have run, seconds since the epoch.
    pub time: i64,
}

impl Db {
    /// A heartbeat of a device: its running jobs `ids` are alive.
    pub async fn touch_jobs(
        &self,
        org: &str,
        username: &str,
        device_id: &str,
        ids: &[String],
        now: i64,
    ) -> DbResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut update = QueryBuilder::<Sqlite>::new("UPDATE jobs SET last_update = ");
        update.push_bind(now).push(" WHERE organization_id = ").push_bind(org);
        update.push(" AND username = ").push_bind(username).push(" AND device_id = ").push_bind(device_id);
        update.push(" AND end_time = 0 AND id IN (");
        let mut list = update.separated(", ");
        for id in ids {
            list.push_bind(id);
        }
        list.push_unseparated(")");
        update.build().execute(&self.pool).await?;
        Ok(())
    }

    /// Marks Abandoned (7007) every running job with no news since `stale_before`, with a log
    /// line saying why; returns them. A device reporting on one later revives it.
    pub async fn abandon_stale_jobs(&self, stale_before: i64, now: i64) -> DbResult<Vec<JobRecord>> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE end_time = 0 AND last_update < ?");
        let stale: Vec<JobRecord> =
            sqlx::query(&sql).bind(stale_before).fetch_all(&self.pool).await?.iter().map(job_of).collect();
        let mut abandoned = Vec::new();
        for job in stale {
            let mut tx = self.pool.begin().await?;
            let done = sqlx::query(
                "UPDATE jobs SET status = 7007, end_time = ? WHERE id = ? AND end_time = 0 AND last_update < ?",
            )
            .bind(now)
            .bind(&job.id)
            .bind(stale_before)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                let line = LogEntry {
                    time: now,
                    severity: comet_protocol::agent::Severity::Error,
                    message: format!(
                        "Abandoned: no news from the device for {} s (it stopped, lost its network, or crashed)",
                        now - job.last_update
                    ),
                };
                append_entries(&mut tx, &job.id, &job.organization_id, &[line]).await?;
                abandoned.push(JobRecord { status: 7007, end_time: now, ..job });
            }
            tx.commit().await?;
        }
        Ok(abandoned)
    }

    /// Whether a job of this item into this vault started between `from` and `to` (inclusive).
    pub async fn job_started_between(
        &self,
        org: &str,
        username: &str,
        source_id: &str,
        destination_id: &str,
        from: i64,
        to: i64,
    ) -> DbResult<bool> {
        let row = sqlx::query(
            "SELECT COUNT(*) FROM jobs WHERE organization_id = ? AND username = ? AND source_id = ? \
             AND destination_id = ? AND start_time >= ? AND start_time <= ?",
        )
        .bind(org)
        .bind(username)
        .bind(source_id)
        .bind(destination_id)
        .bind(from)
        .bind(to)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.get::<i64, _>(0) > 0)
    }

    /// Records a Missed (7004) job for a scheduled run that did not happen; returns its id.
    pub async fn record_missed(&self, run: &MissedRun<'_>, id: &str) -> DbResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO jobs (id, start_order, organization_id, username, device_id, classification, status, \
             start_time, end_time, source_id, destination_id, backup_rule_id, snapshot_id, client_version, \
             total_directories, total_files, total_size, upload_size, download_size, cancel_requested, last_update) \
             VALUES (?, (SELECT COALESCE(MAX(start_order), 0) + 1 FROM jobs), ?, ?, ?, 4001, 7004, ?, ?, ?, ?, ?, \
             '', '', 0, 0, 0, 0, 0, 0, ?)",
        )
        .bind(id)
        .bind(run.organization_id)
        .bind(run.username)
        .bind(run.device_id)
        .bind(run.time)
        .bind(run.time)
        .bind(run.source_id)
        .bind(run.destination_id)
        .bind(run.backup_rule_id)
        .bind(run.time)
        .execute(&mut *tx)
        .await?;
        let line = LogEntry {
            time: run.time,
            severity: comet_protocol::agent::Severity::Warning,
            message: "Missed: the schedule came and no job started (the device was off, offline, or busy)".into(),
        };
        append_entries(&mut tx, id, run.organization_id, &[line]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Until when scheduled runs were checked for misses (`None`: never).
    pub async fn missed_checked_until(&self, org: &str) -> DbResult<Option<i64>> {
        let row = sqlx::query("SELECT checked_until FROM missed_checks WHERE organization_id = ?")
            .bind(org)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Records until when scheduled runs were checked.
    pub async fn set_missed_checked_until(&self, org: &str, until: i64) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO missed_checks (organization_id, checked_until) VALUES (?, ?) \
             ON CONFLICT (organization_id) DO UPDATE SET checked_until = excluded.checked_until",
        )
        .bind(org)
        .bind(until)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

impl Db {
    /// Allows deletes in bucket `bucket_id` for retention job `job_id` until `until`.
    pub async fn grant_deletes(&self, bucket_id: &str, job_id: &str, org: &str, until: i64) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO delete_grants (bucket_id, job_id, organization_id, until) VALUES (?, ?, ?, ?) \
             ON CONFLICT (bucket_id, job_id) DO UPDATE SET until = excluded.until",
        )
        .bind(bucket_id)
        .bind(job_id)
        .bind(org)
        .bind(until)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Whether a running retention job holds a grant to delete in bucket `bucket_id` now.
    pub async fn deletes_granted(&self, bucket_id: &str, now: i64) -> DbResult<bool> {
        let row = sqlx::query(
            "SELECT COUNT(*) FROM delete_grants g JOIN jobs j ON j.id = g.job_id \
             WHERE g.bucket_id = ? AND g.until > ? AND j.end_time = 0 AND j.classification = 4003",
        )
        .bind(bucket_id)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.get::<i64, _>(0) > 0)
    }

    /// Adds log lines to a job, whatever its state (the server's own notes).
    pub async fn note_job(&self, job_id: &str, org: &str, entries: &[LogEntry]) -> DbResult<()> {
        let mut tx = self.pool.begin().await?;
        append_entries(&mut tx, job_id, org, entries).await?;
        tx.commit().await?;
        Ok(())
    }
}

impl Db {
    /// Claims the daily summary `(username, rule_index)` of `day`: true the first time only.
    pub async fn claim_summary(&self, org: &str, username: &str, rule_index: i64, day: i64) -> DbResult<bool> {
        let done = sqlx::query(
            "INSERT INTO email_summaries (organization_id, username, rule_index, day) VALUES (?, ?, ?, ?) \
             ON CONFLICT DO NOTHING",
        )
        .bind(org)
        .bind(username)
        .bind(rule_index)
        .bind(day)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
