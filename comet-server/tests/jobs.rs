//! Jobs through the `comet-server` binary on loopback: a device starts a job, sends its log in
//! batches and ends it; administrators and the user read the history and cancel running jobs;
//! nobody reaches another user's jobs.

mod common;

use comet_protocol::agent::{
    ErrorCode, JobEnd, JobEndRequest, JobLog, JobLogMethod, JobStart, JobStartRequest, JobTotals, LogEntry,
    MAX_LOG_ENTRIES, MAX_LOG_MESSAGE, Severity, classification,
};
use comet_protocol::api::{BackupJobDetail, JobEntry};
use comet_protocol::client::{AgentClient, ClientError};
use common::{Server, register};
use serde_json::Value;

/// 2023-11-14 22:13:20 UTC.
const T0: i64 = 1_700_000_000;

fn entry(offset: i64, severity: Severity, message: &str) -> LogEntry {
    LogEntry { time: T0 + offset, severity, message: message.into() }
}

fn code<T: std::fmt::Debug>(result: Result<T, ClientError>) -> ErrorCode {
    match result {
        Err(ClientError::Refused(e)) => e.code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn start(device: &AgentClient) -> String {
    let request = JobStartRequest {
        classification: classification::BACKUP,
        source_id: "item1".into(),
        destination_id: "vault1".into(),
        backup_rule_id: String::new(),
        client_version: "0.1.0".into(),
    };
    let job_id = device.call::<JobStart>(&request).await.unwrap().job_id;
    assert!(job_id.len() == 32 && job_id.bytes().all(|b| b.is_ascii_hexdigit()), "{job_id}");
    job_id
}

async fn log(device: &AgentClient, job_id: &str, entries: Vec<LogEntry>) -> Result<bool, ClientError> {
    let reply = device.call::<JobLogMethod>(&JobLog { job_id: job_id.into(), entries, progress: None }).await?;
    Ok(reply.cancel_requested)
}

fn end_request(job_id: &str, status: u32) -> JobEndRequest {
    JobEndRequest {
        job_id: job_id.into(),
        status,
        totals: JobTotals { directories: 2, files: 10, size: 1000, upload_size: 600, download_size: 0 },
        snapshot_id: "ab".repeat(32),
        entries: vec![entry(4, Severity::Info, "backup finished")],
    }
}

fn details(value: Value) -> Vec<BackupJobDetail> {
    serde_json::from_value(value).unwrap()
}

#[tokio::test]
async fn a_job_is_recorded_listed_and_read_by_its_user_and_administrators() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let secrets = server.add_user("alice", "alice's password");
    let device = register(&server.agent(), "alice", &secrets.login_secret, "laptop").await;

    let id = start(&device).await;
    let first = vec![entry(0, Severity::Info, "backup started"), entry(1, Severity::Debug, "scanning /home")];
    assert!(!log(&device, &id, first).await.unwrap());
    let second = vec![
        entry(2, Severity::Warning, "cannot read /home/alice/locked"),
        entry(3, Severity::Info, "uploaded 3 packs\nand an index"),
    ];
    assert!(!log(&device, &id, second).await.unwrap());
    // A long message is kept, cut.
    assert!(!log(&device, &id, vec![entry(3, Severity::Debug, &"x".repeat(MAX_LOG_MESSAGE * 2))]).await.unwrap());
    let too_many = vec![entry(3, Severity::Debug, "x"); MAX_LOG_ENTRIES + 1];
    assert_eq!(code(log(&device, &id, too_many).await), ErrorCode::Invalid);

    // While it runs: listed as running, with a cancellation id.
    let (_, running) = server.admin("get-job-properties", &[("JobID", &id)]);
    let running: BackupJobDetail = serde_json::from_value(running).unwrap();
    assert_eq!((running.status, running.end_time, running.cancellation_id.as_str()), (6001, 0, id.as_str()));

    assert_eq!(code(device.call::<JobEnd>(&end_request(&id, 6001)).await), ErrorCode::Invalid, "not an end");
    assert_eq!(code(device.call::<JobEnd>(&end_request(&id, 1234)).await), ErrorCode::Invalid);
    let mut long_snapshot = end_request(&id, 5000);
    long_snapshot.snapshot_id = "s".repeat(129);
    assert_eq!(code(device.call::<JobEnd>(&long_snapshot).await), ErrorCode::Invalid);
    device.call::<JobEnd>(&end_request(&id, 5000)).await.unwrap();
    device.call::<JobEnd>(&end_request(&id, 5000)).await.unwrap();
    assert_eq!(code(device.call::<JobEnd>(&end_request(&id, 7002)).await), ErrorCode::Invalid, "ended otherwise");
    assert_eq!(code(log(&device, &id, vec![entry(5, Severity::Info, "late")]).await), ErrorCode::Invalid);

    // Administrators see it in every list, within its organization.
    let (status, jobs) = server.admin("get-jobs-for-user", &[("TargetUser", "alice")]);
    assert_eq!(status, 200, "{jobs}");
    let jobs = details(jobs);
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!((job.guid.as_str(), job.username.as_str(), job.device_id.as_str()), (id.as_str(), "alice", "laptop"));
    assert_eq!((job.status, job.classification, job.total_files, job.total_size), (5000, 4001, 10, 1000));
    assert_eq!((job.source_guid.as_str(), job.destination_guid.as_str()), ("item1", "vault1"));
    assert_eq!((job.snapshot_id.clone(), job.cancellation_id.as_str()), ("ab".repeat(32), ""));
    assert!(job.end_time >= job.start_time && job.end_time > 0);
    assert_eq!(details(server.admin("get-jobs-recent", &[]).1), jobs);
    assert_eq!(details(server.admin("get-jobs-all", &[]).1), jobs);
    assert!(details(server.admin("get-jobs-for-user", &[("TargetUser", "bob")]).1).is_empty());
    let range = |start: i64, end: i64| {
        details(server.admin("get-jobs-for-date-range", &[("Start", &start.to_string()), ("End", &end.to_string())]).1)
    };
    let started = job.start_time;
    assert_eq!(range(started, started + 1), jobs, "the start is inclusive");
    assert!(range(started - 10, started).is_empty(), "the end is exclusive");
    assert!(range(started + 1, started + 10).is_empty());
    assert_eq!(server.admin("get-jobs-for-date-range", &[("Start", "yesterday"), ("End", "1")]).0, 400);
    let (status, properties) = server.admin("get-job-properties", &[("JobID", &id.to_uppercase())]);
    assert_eq!(status, 200);
    assert_eq!(&serde_json::from_value::<BackupJobDetail>(properties).unwrap(), job);

    // The log: entries filtered by severity and text; plaintext in UTC, one line per entry.
    let entries = |fields: &[(&str, &str)]| {
        let mut all = vec![("JobID", id.as_str())];
        all.extend_from_slice(fields);
        let (status, body) = server.admin("get-job-log-entries", &all);
        assert_eq!(status, 200, "{body}");
        serde_json::from_value::<Vec<JobEntry>>(body).unwrap()
    };
    let all = entries(&[]);
    assert_eq!(all.len(), 6);
    assert_eq!(
        (all[0].time, all[0].severity.as_str(), all[0].message.as_str()),
        (T0, "I", "backup started"),
        "in the order sent"
    );
    let cut = &all[4].message;
    assert!(cut.len() <= MAX_LOG_MESSAGE && cut.ends_with('…'), "{}", cut.len());
    assert_eq!(all[5].message, "backup finished", "job-end's entries come last");
    let warnings = entries(&[("MinSeverity", "W")]);
    assert_eq!(warnings.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(), ["cannot read /home/alice/locked"]);
    assert_eq!(entries(&[("MinSeverity", "I")]).len(), 4);
    assert_eq!(entries(&[("MinSeverity", "I"), ("MessageContains", "packs")]).len(), 1);
    assert_eq!(server.admin("get-job-log-entries", &[("JobID", &id), ("MinSeverity", "X")]).0, 400);
    let (status, text) = server.admin_text("get-job-log", &[("JobID", &id)]);
    assert_eq!(status, 200);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");
    assert_eq!(lines[0], "2023-11-14 22:13:20 I backup started");
    assert_eq!(lines[1], "2023-11-14 22:13:21 D scanning /home");
    assert_eq!(lines[3], "2023-11-14 22:13:23 I uploaded 3 packs and an index", "line breaks do not split entries");

    // The user sees the same, through the user web API.
    let session = server.user_session("alice", &secrets.login_secret);
    let (status, own) = server.user_web("alice", &session, "get-jobs", &[]);
    assert_eq!((status, details(own)), (200, jobs.clone()));
    let (status, own_text) = server.user_web_text("alice", &session, "get-job-log", &[("JobID", &id)]);
    assert_eq!((status, own_text), (200, text));
    let (status, own) =
        server.user_web("alice", &session, "get-job-log-entries", &[("JobID", &id), ("MinSeverity", "W")]);
    assert_eq!((status, serde_json::from_value::<Vec<JobEntry>>(own).unwrap()), (200, warnings));
    let (status, own) = server.user_web("alice", &session, "get-job-properties", &[("JobID", &id)]);
    assert_eq!((status, serde_json::from_value::<BackupJobDetail>(own).unwrap()), (200, job.clone()));
    server.stop();
}

#[tokio::test]
async fn running_jobs_are_cancelled_only_by_their_user_or_administrators() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let alice = server.add_user("alice", "alice's password");
    let bob = server.add_user("bob", "bob's password!");
    let laptop = register(&server.agent(), "alice", &alice.login_secret, "laptop").await;
    let desktop = register(&server.agent(), "alice", &alice.login_secret, "desktop").await;
    let bobs = register(&server.agent(), "bob", &bob.login_secret, "bobs-laptop").await;

    let id = start(&laptop).await;
    assert!(!log(&laptop, &id, vec![entry(0, Severity::Info, "started")]).await.unwrap());

    // Another device, even of the same user, and another user's device do not reach it.
    for stranger in [&desktop, &bobs] {
        assert_eq!(code(log(stranger, &id, vec![entry(1, Severity::Error, "forged")]).await), ErrorCode::NotFound);
        assert_eq!(code(stranger.call::<JobEnd>(&end_request(&id, 7002)).await), ErrorCode::NotFound);
    }
    for crafted in ["..", "%2e%2e", "a/b", "", &"0".repeat(31), &id.to_uppercase(), &format!("{id}0")] {
        assert_eq!(code(log(&laptop, crafted, Vec::new()).await), ErrorCode::NotFound, "{crafted:?}");
    }

    // Bob sees nothing of it, and every answer is the one for a job that does not exist.
    let missing = "0123456789abcdef0123456789abcdef";
    let bob_session = server.user_session("bob", &bob.login_secret);
    let (status, listed) = server.user_web("bob", &bob_session, "get-jobs", &[]);
    assert_eq!((status, listed), (200, serde_json::json!([])));
    for method in ["get-job-properties", "get-job-log", "get-job-log-entries", "job/cancel"] {
        let (status, theirs) = server.user_web("bob", &bob_session, method, &[("JobID", &id)]);
        let (_, nothing) = server.user_web("bob", &bob_session, method, &[("JobID", missing)]);
        assert_eq!(status, 404, "{method}: {theirs}");
        assert_eq!(theirs["Message"], format!("no job {id}"), "{method}");
        assert_eq!(nothing["Message"], format!("no job {missing}"), "{method}");
    }
    assert_eq!(server.admin("job/cancel", &[("TargetUser", "bob"), ("JobID", &id)]).0, 404, "not bob's job");

    // Crafted ids: refused (400) or not found, never a server error.
    let alice_session = server.user_session("alice", &alice.login_secret);
    for crafted in ["..", "%2e%2e", "a/b", "", "../../etc/passwd", &"0".repeat(31), &"g".repeat(32), &format!("{id}0")]
    {
        for method in ["get-job-properties", "get-job-log", "get-job-log-entries"] {
            let (status, body) = server.admin_text(method, &[("JobID", crafted)]);
            assert!(status == 400 || status == 404, "admin {method} {crafted:?}: {status} {body}");
            let (status, body) = server.user_web_text("alice", &alice_session, method, &[("JobID", crafted)]);
            assert!(status == 400 || status == 404, "user {method} {crafted:?}: {status} {body}");
        }
        let (status, _) = server.admin("job/cancel", &[("TargetUser", "alice"), ("JobID", crafted)]);
        assert!(status == 400 || status == 404, "cancel {crafted:?}: {status}");
    }
    assert_eq!(server.admin("get-job-properties", &[("JobID", &"0".repeat(31))]).0, 400);
    assert_eq!(server.admin("get-job-properties", &[("JobID", missing)]).0, 404);

    // The administrator cancels it: the device hears so with its next log batch.
    assert_eq!(server.admin("job/cancel", &[("TargetUser", "alice"), ("JobID", missing)]).0, 404);
    let (status, body) = server.admin("job/cancel", &[("TargetUser", "alice"), ("JobID", &id)]);
    assert_eq!(status, 200, "{body}");
    assert!(log(&laptop, &id, vec![entry(2, Severity::Warning, "cancelling")]).await.unwrap());
    laptop.call::<JobEnd>(&end_request(&id, 7005)).await.unwrap();
    let (status, body) = server.admin("job/cancel", &[("TargetUser", "alice"), ("JobID", &id)]);
    assert_eq!(status, 400, "it has ended: {body}");
    let (_, properties) = server.admin("get-job-properties", &[("JobID", &id)]);
    assert_eq!((&properties["Status"], &properties["CancellationID"]), (&Value::from(7005), &Value::from("")));

    // The user cancels their own running job.
    let next = start(&desktop).await;
    let (status, body) = server.user_web("alice", &alice_session, "job/cancel", &[("JobID", &next)]);
    assert_eq!(status, 200, "{body}");
    assert!(log(&desktop, &next, Vec::new()).await.unwrap());
    // Both are recent (one ended, one running); jobs of the same second are ordered by id.
    let mut recent: Vec<String> = details(server.admin("get-jobs-recent", &[]).1).into_iter().map(|j| j.guid).collect();
    recent.sort_unstable();
    let mut expected = vec![id, next];
    expected.sort_unstable();
    assert_eq!(recent, expected);
    server.stop();
}
