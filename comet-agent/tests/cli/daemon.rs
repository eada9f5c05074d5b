//! The agent as a service (`comet-agent run`) with a real server: the live connection, remote
//! commands, schedules, Skipped / Cancelled / Abandoned / Missed jobs, and a server restart.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::common::{read_tree, write_work_tree};
use super::server::{Device, Server};

const PASSWORD: &str = "a password for the daemon tests";

/// Short timings, so that the tests see heartbeats, abandonment and misses in seconds.
const FAST_JOBS: &str =
    "[jobs]\nheartbeat_seconds = 1\nabandon_after_seconds = 4\nmissed_after_seconds = 2\ncheck_interval_seconds = 1\n";

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// A logged-in device with its work tree, items `Documents` (its `src/work`) and, when
/// `huge_gib` > 0, `Huge` (a sparse file of that many GiB: a backup that runs for a while), both
/// going to a server vault.
fn setup(server: &Server, user: &str, huge_gib: u64) -> Device {
    server.add_user(user, PASSWORD);
    let device = Device::new();
    write_work_tree(&device.fixture.src());
    let login = device.login(user, PASSWORD, &server.url(), "box");
    assert_eq!(login.code, 0, "{login}");
    let id = device.id();
    let work = device.fixture.src().join("work");
    let huge = device.fixture.src().join("huge");
    std::fs::create_dir_all(&huge).unwrap();
    if huge_gib > 0 {
        let file = std::fs::File::create(huge.join("sparse.img")).unwrap();
        file.set_len(huge_gib << 30).unwrap();
    }
    server.edit_profile(user, |p| {
        p["Sources"] = json!({
            "docs": { "Description": "Documents", "Engine": "engine1/file", "OwnerDevice": id,
                      "EngineProps": { "INCLUDE0": work.to_str().unwrap() } },
            "huge": { "Description": "Huge", "Engine": "engine1/file", "OwnerDevice": id,
                      "EngineProps": { "INCLUDE0": huge.to_str().unwrap() } },
        });
        p["Destinations"] = json!({
            "vault1": { "Description": "Server vault", "DestinationType": 1003 },
            "vault2": { "Description": "Second vault", "DestinationType": 1003 },
        });
    });
    device
}

fn dispatch(server: &Server, method: &str, target: &str, fields: &[(&str, &str)]) -> Value {
    let mut all = vec![("TargetID", target)];
    all.extend_from_slice(fields);
    server.admin_ok(&format!("dispatcher/{method}"), &all)
}

fn job_id(answer: &Value) -> String {
    answer["JobID"].as_str().unwrap_or_else(|| panic!("no JobID in {answer}")).to_owned()
}

fn status(job: &Value) -> u64 {
    job["Status"].as_u64().unwrap()
}

#[test]
fn an_online_device_obeys_the_dispatcher_and_goes_offline_when_killed() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(&dir.path().join("server"), FAST_JOBS);
    let device = setup(&server, "olga", 0);
    let daemon = device.daemon();
    let target = server.wait_online(&device.id());
    let listed = &server.online()[&target];
    assert_eq!(listed["Username"], "olga");
    assert!(listed["ReportedPlatform"].as_str().unwrap().contains('/'), "{listed}");

    let backup =
        job_id(&dispatch(&server, "run-backup-custom", &target, &[("Source", "docs"), ("Destination", "vault1")]));
    let job = server.wait_job("olga", &backup, Duration::from_secs(60), |j| status(j) != 6001);
    assert_eq!(status(&job), 5000, "{job}\n{}", daemon.log());

    let work = device.fixture.src().join("work");
    let listing = dispatch(&server, "request-filesystem-objects", &target, &[("Path", work.to_str().unwrap())]);
    let names: Vec<(&str, &str)> = listing["StoredObjects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["Name"].as_str().unwrap(), o["Type"].as_str().unwrap()))
        .collect();
    assert!(names.contains(&("readme.txt", "file")) && names.contains(&("docs", "dir")), "{names:?}");

    let snapshots = dispatch(&server, "request-vault-snapshots", &target, &[("Destination", "vault1")]);
    let snapshots = snapshots["Snapshots"].as_array().unwrap();
    assert_eq!(snapshots.len(), 1);
    assert_eq!(snapshots[0]["Snapshot"], job["SnapshotID"]);
    assert_eq!(snapshots[0]["Source"], "docs");

    // Inside the snapshot (the device opens the vault): the top, then the work folder.
    let snapshot = snapshots[0]["Snapshot"].as_str().unwrap().to_owned();
    let names_in = |path: &str| -> Vec<(String, String)> {
        let listing = dispatch(
            &server,
            "request-stored-objects",
            &target,
            &[("Destination", "vault1"), ("Snapshot", &snapshot[..12]), ("Path", path)],
        );
        assert_eq!(listing["Truncated"], false, "{listing}");
        listing["StoredObjects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| (o["Name"].as_str().unwrap().to_owned(), o["Type"].as_str().unwrap().to_owned()))
            .collect()
    };
    let top = work.iter().nth(1).unwrap().to_str().unwrap().to_owned();
    assert_eq!(names_in(""), [(top, "dir".to_owned())], "the snapshot starts at the root's first folder");
    let inside = names_in(work.strip_prefix("/").unwrap().to_str().unwrap());
    assert!(inside.contains(&("readme.txt".into(), "file".into())), "{inside:?}");
    assert!(inside.contains(&("docs".into(), "dir".into())), "{inside:?}");
    let (code, refused) = server.admin(
        "dispatcher/request-stored-objects",
        &[("TargetID", &target), ("Destination", "vault1"), ("Snapshot", "ffffffff"), ("Path", "")],
    );
    assert_eq!(code, 502, "an unknown snapshot is the device's refusal: {refused}");

    let target_dir = device.fixture.path("restored");
    let restore = job_id(&dispatch(
        &server,
        "run-restore-custom",
        &target,
        &[("Source", "docs"), ("Destination", "vault1"), ("Path", target_dir.to_str().unwrap())],
    ));
    let job = server.wait_job("olga", &restore, Duration::from_secs(60), |j| status(j) != 6001);
    assert_eq!(status(&job), 5000, "{job}\n{}", daemon.log());
    assert_eq!(read_tree(&target_dir.join(work.strip_prefix("/").unwrap())), read_tree(&work));

    // The profile can be pushed, and a dropped connection comes back by itself.
    dispatch(&server, "refetch-profile", &target, &[]);
    dispatch(&server, "drop-connection", &target, &[]);
    let started = Instant::now();
    let again = loop {
        let online = server.online();
        if let Some((id, _)) = online.iter().find(|(id, c)| **id != target && c["DeviceID"] == device.id().as_str()) {
            break id.clone();
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no reconnection after a drop:\n{}", daemon.log());
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!server.online().contains_key(&target), "the dropped connection is gone");
    assert!(daemon.log().contains("dropped by admin"), "{}", daemon.log());

    daemon.kill();
    let _ = again;
    let started = Instant::now();
    while server.online().values().any(|c| c["DeviceID"] == device.id().as_str()) {
        assert!(started.elapsed() < Duration::from_secs(20), "the killed device still shows online");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn schedules_run_and_skipped_cancelled_abandoned_and_missed_jobs_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(&dir.path().join("server"), FAST_JOBS);
    let device = setup(&server, "pete", 64);
    // Every minute, the next run a few seconds from now.
    let offset = (now() + 6).rem_euclid(60);
    server.edit_profile("pete", |p| {
        p["BackupRules"] = json!({ "every-minute": {
            "Source": "docs", "Destination": "vault1",
            "Schedules": [ { "Frequency": { "Type": "Periodic", "EverySecs": 60, "OffsetSecs": offset } } ],
        }});
    });
    let daemon = device.daemon();
    let target = server.wait_online(&device.id());

    // The schedule fires by itself.
    let started = Instant::now();
    let scheduled = loop {
        if let Some(job) = server.jobs("pete").into_iter().find(|j| j["BackupRuleGUID"] == "every-minute") {
            break job;
        }
        assert!(started.elapsed() < Duration::from_secs(90), "the schedule did not run:\n{}", daemon.log());
        std::thread::sleep(Duration::from_millis(200));
    };
    let scheduled =
        server.wait_job("pete", scheduled["GUID"].as_str().unwrap(), Duration::from_secs(60), |j| status(j) != 6001);
    assert_eq!(status(&scheduled), 5000, "{scheduled}\n{}", daemon.log());

    // A second run of an item still running is Skipped; a cancel stops the first.
    let huge = [("Source", "huge"), ("Destination", "vault1")];
    let first = job_id(&dispatch(&server, "run-backup-custom", &target, &huge));
    let second = job_id(&dispatch(&server, "run-backup-custom", &target, &huge));
    let skipped = server.wait_job("pete", &second, Duration::from_secs(30), |j| status(j) != 6001);
    assert_eq!(status(&skipped), 7006, "{skipped}");
    assert_eq!(status(&server.jobs("pete").into_iter().find(|j| j["GUID"] == first.as_str()).unwrap()), 6001);
    server.admin_ok("job/cancel", &[("TargetUser", "pete"), ("JobID", &first)]);
    let cancelled = server.wait_job("pete", &first, Duration::from_secs(5), |j| status(j) != 6001);
    assert_eq!(status(&cancelled), 7005, "{cancelled}\n{}", daemon.log());

    // Killed in the middle of a job: the server gives up on it after abandon_after_seconds.
    let third = job_id(&dispatch(&server, "run-backup-custom", &target, &huge));
    server.wait_job("pete", &third, Duration::from_secs(10), |j| status(j) == 6001);
    std::thread::sleep(Duration::from_millis(1500));
    daemon.kill();
    let abandoned = server.wait_job("pete", &third, Duration::from_secs(30), |j| status(j) != 6001);
    assert_eq!(status(&abandoned), 7007, "{abandoned}");
    let log = server.job_log(&third);
    assert!(
        log.iter().any(|e| e["Severity"] == "E" && e["Message"].as_str().unwrap().starts_with("Abandoned")),
        "{log:?}"
    );

    // A schedule that comes while the device is off is Missed (into a vault no job used
    // lately: a job of the same item and vault within 5 minutes before counts as the run).
    let at = now() + 2;
    server.edit_profile("pete", |p| {
        p["BackupRules"]["once"] = json!({
            "Source": "docs", "Destination": "vault2",
            "Schedules": [ { "Frequency": { "Type": "Once", "At": at } } ],
        });
    });
    let started = Instant::now();
    let missed = loop {
        if let Some(job) = server.jobs("pete").into_iter().find(|j| j["BackupRuleGUID"] == "once") {
            break job;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no Missed job: {:?}", server.jobs("pete"));
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(status(&missed), 7004, "{missed}");
    assert_eq!(missed["StartTime"].as_i64(), Some(at));
}

#[test]
fn the_daemon_reconnects_after_a_server_restart_and_its_job_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = "[jobs]\nheartbeat_seconds = 1\nabandon_after_seconds = 60\ncheck_interval_seconds = 1\n";
    let server = Server::start_with(&dir.path().join("server"), jobs);
    let device = setup(&server, "rita", 8);
    let daemon = device.daemon();
    let target = server.wait_online(&device.id());
    let job =
        job_id(&dispatch(&server, "run-backup-custom", &target, &[("Source", "huge"), ("Destination", "vault1")]));
    server.wait_job("rita", &job, Duration::from_secs(10), |j| status(j) == 6001);

    let server = server.restart();
    let running = server.jobs("rita").into_iter().find(|j| j["GUID"] == job.as_str()).unwrap();
    assert_eq!(status(&running), 6001, "the job must still be running across the restart to test anything");
    server.wait_online(&device.id());
    let ended = server.wait_job("rita", &job, Duration::from_secs(180), |j| status(j) != 6001);
    assert_eq!(status(&ended), 5000, "{ended}\n{}", daemon.log());
    assert_eq!(ended["TotalSize"].as_u64(), Some(8 << 30));
}

#[test]
fn a_retention_pass_deletes_in_an_append_only_bucket_only_while_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(&dir.path().join("server"), FAST_JOBS);
    let device = setup(&server, "tina", 0);
    server.edit_profile("tina", |p| {
        p["Destinations"]["vault1"]["AppendOnly"] = json!(true);
        p["Destinations"]["vault1"]["DefaultRetention"] =
            json!({ "Mode": 802, "Ranges": [ { "Type": 900, "Jobs": 1 } ] });
    });
    let daemon = device.daemon();
    let target = server.wait_online(&device.id());
    let docs = [("Source", "docs"), ("Destination", "vault1")];
    let mut snapshots = Vec::new();
    for round in 0..2 {
        super::common::write(&device.fixture.src(), &format!("work/round-{round}.txt"), format!("round {round}"));
        let job = job_id(&dispatch(&server, "run-backup-custom", &target, &docs));
        let job = server.wait_job("tina", &job, Duration::from_secs(60), |j| status(j) != 6001);
        assert_eq!(status(&job), 5000, "{job}\n{}", daemon.log());
        snapshots.push(job["SnapshotID"].as_str().unwrap().to_owned());
    }
    let listed = |server: &Server| -> Vec<String> {
        let answer = dispatch(server, "request-vault-snapshots", &target, &[("Destination", "vault1")]);
        answer["Snapshots"].as_array().unwrap().iter().map(|s| s["Snapshot"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(listed(&server).len(), 2);

    let pass = job_id(&dispatch(&server, "apply-retention-rules", &target, &[("Destination", "vault1")]));
    let job = server.wait_job("tina", &pass, Duration::from_secs(60), |j| status(j) != 6001);
    assert_eq!((job["Classification"].as_u64(), status(&job)), (Some(4003), 5000), "{job}\n{}", daemon.log());
    let log: Vec<String> = server.job_log(&pass).iter().map(|e| e["Message"].as_str().unwrap().to_owned()).collect();
    assert!(log.iter().any(|m| m.contains("allows this retention pass to delete")), "the grant is in the log: {log:?}");
    assert!(log.iter().any(|m| m.starts_with("Removed 1 snapshots, kept 1")), "{log:?}");
    assert_eq!(listed(&server), [snapshots[1].clone()], "the newest snapshot is kept");

    // A schedule that asks for it runs a pass after its backup.
    let at = now() + 2;
    server.edit_profile("tina", |p| {
        p["BackupRules"] = json!({ "nightly": {
            "Source": "docs", "Destination": "vault1", "RetentionAfterBackup": true,
            "Schedules": [ { "Frequency": { "Type": "Once", "At": at } } ],
        }});
    });
    let started = Instant::now();
    loop {
        let passes: Vec<Value> =
            server.jobs("tina").into_iter().filter(|j| j["Classification"] == 4003 && status(j) != 6001).collect();
        if passes.len() == 2 {
            assert!(passes.iter().all(|j| status(j) == 5000), "{passes:?}\n{}", daemon.log());
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no pass after the scheduled backup:\n{}", daemon.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    let scheduled = server.jobs("tina").into_iter().find(|j| j["BackupRuleGUID"] == "nightly").unwrap();
    assert_eq!(listed(&server), [scheduled["SnapshotID"].as_str().unwrap().to_owned()], "only the newest is kept");

    // The grant ended with the job: the bucket refuses deletes again.
    let secrets = comet_protocol::account::AccountSecrets::derive("tina", PASSWORD.as_bytes());
    let vault = server.profile("tina")["Destinations"]["vault1"].clone();
    let key = secrets.unwrap("destination/vault1/access-key", vault["WrappedAccessKey"].as_str().unwrap()).unwrap();
    let remote = comet_storage::RemoteVault::new(
        &server.url(),
        vault["Location"].as_str().unwrap(),
        std::str::from_utf8(&key).unwrap(),
    )
    .unwrap();
    let kept =
        super::server::block_on(comet_storage::Vault::list(&remote, comet_storage::ObjectKind::Snapshot)).unwrap();
    let refused = super::server::block_on(comet_storage::Vault::delete(&remote, &kept[0].key)).unwrap_err();
    assert_eq!(refused.kind(), comet_storage::ErrorKind::Forbidden, "{refused}");
}

#[test]
fn a_device_connected_twice_is_reported_and_users_reach_only_their_devices() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(&dir.path().join("server"), FAST_JOBS);
    let device = setup(&server, "uma", 0);
    // A copy of the agent's home: a cloned machine.
    let clone = Device::new();
    std::fs::create_dir_all(clone.home()).unwrap();
    for file in ["device-id", "credentials.json"] {
        std::fs::copy(device.home().join(file), clone.home().join(file)).unwrap();
    }
    let first = device.daemon();
    server.wait_online(&device.id());
    let second = clone.daemon();
    let started = Instant::now();
    let connections = loop {
        let online: Vec<Value> = server.online().values().cloned().collect();
        if online.len() == 2 {
            break online;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{online:?}\n{}\n{}", first.log(), second.log());
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        connections.iter().all(|c| c["DeviceID"] == device.id().as_str() && c["Duplicate"] == true),
        "{connections:?}"
    );
    let warned = Instant::now();
    while !second.log().contains("connected to the server twice") {
        assert!(warned.elapsed() < Duration::from_secs(10), "the clone is told: {}", second.log());
        std::thread::sleep(Duration::from_millis(100));
    }

    // Another user sees none of uma's devices and cannot command them.
    server.add_user("vic", PASSWORD);
    let secret = comet_protocol::account::AccountSecrets::derive("vic", PASSWORD.as_bytes()).login_secret.clone();
    let (_, session) = server.post(
        "/api/v1/user/web/session/start",
        &[("Username", "vic"), ("AuthType", "Password"), ("Password", &secret)],
    );
    let key = session["SessionKey"].as_str().unwrap().to_owned();
    let as_vic = |method: &str, fields: &[(&str, &str)]| {
        let mut all = vec![("Username", "vic"), ("AuthType", "SessionKey"), ("SessionKey", key.as_str())];
        all.extend_from_slice(fields);
        server.post(&format!("/api/v1/user/web/dispatcher/{method}"), &all)
    };
    let (status_code, listed) = as_vic("list-active", &[]);
    assert_eq!((status_code, listed.as_object().map(serde_json::Map::len)), (200, Some(0)), "{listed}");
    for id in server.online().keys() {
        let (status_code, answer) = as_vic("request-filesystem-objects", &[("TargetID", id), ("Path", "/")]);
        assert_eq!(status_code, 404, "{answer}");
    }
    let (status_code, _) = as_vic("apply-retention-rules", &[("TargetID", "1"), ("Destination", "vault1")]);
    assert_eq!(status_code, 404, "retention passes are for administrators");
}

#[test]
fn a_schedule_missed_while_the_daemon_was_stopped_runs_at_its_start_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(&dir.path().join("server"), FAST_JOBS);
    let device = setup(&server, "walt", 0);
    server.edit_profile("walt", |p| {
        p["BackupRules"] = json!({
            "daily": { "Source": "docs", "Destination": "vault1", "RunIfMissed": true,
                       "Schedules": [ { "Frequency": { "Type": "Periodic", "EverySecs": 86_400, "OffsetSecs": 0 } } ] },
            "daily-no-catch-up": { "Source": "docs", "Destination": "vault2",
                       "Schedules": [ { "Frequency": { "Type": "Periodic", "EverySecs": 86_400, "OffsetSecs": 0 } } ] },
        });
    });
    // The daemon last ran both two days ago: midnight UTC passed meanwhile.
    std::fs::create_dir_all(device.home()).unwrap();
    let two_days_ago = now() - 2 * 86_400;
    std::fs::write(
        device.home().join("schedule-state.json"),
        json!({ "daily": two_days_ago, "daily-no-catch-up": two_days_ago }).to_string(),
    )
    .unwrap();
    let daemon = device.daemon();
    let started = Instant::now();
    let job = loop {
        if let Some(job) = server.jobs("walt").into_iter().find(|j| j["BackupRuleGUID"] == "daily") {
            break job;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the missed run did not start:\n{}", daemon.log());
        std::thread::sleep(Duration::from_millis(200));
    };
    let job = server.wait_job("walt", job["GUID"].as_str().unwrap(), Duration::from_secs(60), |j| status(j) != 6001);
    assert_eq!(status(&job), 5000, "{job}");
    assert!(
        server.jobs("walt").iter().all(|j| j["BackupRuleGUID"] != "daily-no-catch-up"),
        "a schedule without RunIfMissed waits for its next time"
    );
}
