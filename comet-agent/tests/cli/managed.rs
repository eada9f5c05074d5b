//! The managed agent with a real server on loopback: login, protected items run as jobs,
//! restores on a second device, zero knowledge, isolation between users, append-only buckets,
//! install tokens, revocation, and vault initialisation that survives a lost answer.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use comet_protocol::account::AccountSecrets;
use comet_protocol::agent::{ErrorCode, JobLog, JobLogMethod};
use comet_protocol::client::AgentClient;
use comet_storage::{ObjectKind, RemoteVault, Vault};
use serde_json::{Value, json};

use super::common::{Fixture, read_tree, write, write_work_tree};
use super::server::{Device, LosingProxy, Server, block_on};
use super::web::{step_now, totp_code};

const PASSWORD: &str = "alice's long password";

/// A protected item `Documents` of `device` (its `src/work`, without `*.tmp`) going to a vault
/// on the server, bound by a schedule.
fn define_item(server: &Server, user: &str, device: &Device, append_only: bool) {
    let id = device.id();
    let include = device.fixture.src().join("work");
    server.edit_profile(user, |p| {
        p["Sources"] = json!({ "item1": {
            "Description": "Documents",
            "Engine": "engine1/file",
            "OwnerDevice": id,
            "EngineProps": { "INCLUDE0": include.to_str().unwrap(), "EXCLUDE0": "*.tmp" },
        }});
        p["Destinations"] = json!({ "vault1": {
            "Description": "Server vault",
            "DestinationType": 1003,
            "AppendOnly": append_only,
        }});
        p["BackupRules"] = json!({ "rule1": { "Description": "Daily", "Source": "item1", "Destination": "vault1" } });
    });
}

/// Where a restore into `target` puts the tree that was at `original`.
fn restored(target: &Path, original: &Path) -> PathBuf {
    target.join(original.strip_prefix("/").unwrap())
}

/// A logged-in device of `user` with the usual work tree.
fn device_of(server: &Server, user: &str, password: &str, name: &str) -> Device {
    let device = Device::new();
    write_work_tree(&device.fixture.src());
    let run = device.login(user, password, &server.url(), name);
    assert_eq!(run.code, 0, "login:\n{run}");
    device
}

#[test]
fn a_device_backs_up_and_a_second_device_restores_with_jobs_on_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    server.add_user("alice", PASSWORD);

    let laptop = device_of(&server, "alice", PASSWORD, "laptop");
    write(&laptop.fixture.src(), "work/skip.tmp", "excluded");
    let status = laptop.ok(&["login", "status"]);
    assert!(status.starts_with("logged in") && status.contains("alice"), "{status}");
    let credentials = laptop.home().join("credentials.json");
    assert_eq!(std::fs::metadata(&credentials).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(!std::fs::read_to_string(&credentials).unwrap().contains(PASSWORD));
    let profile = server.profile("alice");
    assert_eq!(profile["Devices"][laptop.id()]["FriendlyName"], "laptop", "{profile}");

    define_item(&server, "alice", &laptop, false);
    let backup = laptop.run(&["backup", "--item", "Documents", "--json"]);
    assert_eq!(backup.code, 0, "{backup}");
    let backup: Value = serde_json::from_str(&backup.stdout).unwrap();
    let snapshot = backup["snapshot_id"].as_str().unwrap().to_owned();

    // Another device of the same account: it logs in and opens the same vault.
    let desktop = Device::new();
    assert_eq!(desktop.login("alice", PASSWORD, &server.url(), "desktop").code, 0);
    assert_ne!(desktop.id(), laptop.id());
    let target = desktop.fixture.path("restored");
    desktop.ok(&["restore", "--item", "Documents", "--target", target.to_str().unwrap()]);
    let original = laptop.fixture.src().join("work");
    let mut expected = read_tree(&original);
    expected.remove("skip.tmp").expect("the excluded file exists on the laptop");
    assert_eq!(read_tree(&restored(&target, &original)), expected, "byte-exact, without the excluded file");

    let jobs = server.jobs("alice");
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    let (b, r) = (&jobs[0], &jobs[1]);
    assert_eq!((b["Classification"].as_u64(), b["Status"].as_u64()), (Some(4001), Some(5000)), "{b}");
    assert_eq!((r["Classification"].as_u64(), r["Status"].as_u64()), (Some(4002), Some(5000)), "{r}");
    assert_eq!(b["DeviceID"], laptop.id().as_str());
    assert_eq!(r["DeviceID"], desktop.id().as_str());
    assert_eq!(b["SnapshotID"], snapshot.as_str());
    assert_eq!(r["SnapshotID"], snapshot.as_str());
    assert_eq!((b["SourceGUID"].as_str(), b["DestinationGUID"].as_str()), (Some("item1"), Some("vault1")));
    assert_eq!(b["TotalFiles"].as_u64(), Some(6), "{b}");
    assert!(b["TotalSize"].as_u64().unwrap() > 300_000 && b["UploadSize"].as_u64().unwrap() > 0, "{b}");
    assert!(b["EndTime"].as_i64().unwrap() >= b["StartTime"].as_i64().unwrap() && b["EndTime"].as_i64() > Some(0));
    let log = server.job_log(b["GUID"].as_str().unwrap());
    let text: Vec<&str> = log.iter().map(|e| e["Message"].as_str().unwrap()).collect();
    assert!(text.iter().any(|m| m.starts_with("Backup of \"Documents\"")), "{text:?}");
    assert!(text.iter().any(|m| m.starts_with("Snapshot ")), "{text:?}");
    assert!(log.iter().all(|e| e["Severity"] == "I"), "{log:?}");

    // The vault was recorded once, with wrapped secrets; a second backup reuses it.
    let vault = &server.profile("alice")["Destinations"]["vault1"];
    assert!(vault["WrappedVaultSecret"].as_str().unwrap().starts_with("w1."), "{vault}");
    write(&laptop.fixture.src(), "work/new.txt", "a new file");
    laptop.ok(&["backup", "--item", "item1"]);
    let jobs = server.jobs("alice");
    assert_eq!(jobs.len(), 3);
    assert_eq!(jobs[2]["Status"].as_u64(), Some(5000));
    let buckets = server.admin_ok("storage/list-buckets", &[]);
    assert_eq!(buckets.as_object().unwrap().len(), 1, "{buckets}");

    // Logging out ends the device token.
    laptop.ok(&["login", "disconnect"]);
    let run = laptop.run(&["backup", "--item", "Documents"]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("not logged in"), "{run}");
}

#[test]
fn the_server_never_stores_names_contents_passwords_keys_or_plain_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    let password = "CANARY-pass-5f1e0c";
    server.add_user("zk", password);
    let device = Device::new();
    let work = device.fixture.src().join("work");
    let name_canary = "CANARY-name-93ab11";
    let content_canary = "CANARY-content-7c2d44";
    let mut plain_hashes = Vec::new();
    for i in 0..5 {
        let contents = format!("{content_canary} number {i}\n").repeat(50 + i * 100);
        write(&work, &format!("{name_canary}-dir/{name_canary}-{i}.txt"), &contents);
        plain_hashes.push(blake3::hash(contents.as_bytes()));
    }
    assert_eq!(device.login("zk", password, &server.url(), "zk-box").code, 0);
    define_item(&server, "zk", &device, false);
    device.ok(&["backup", "--item", "Documents"]);
    let target = device.fixture.path("restored");
    device.ok(&["restore", "--item", "Documents", "--target", target.to_str().unwrap()]);
    assert_eq!(read_tree(&restored(&target, &work)), read_tree(&work));

    // What the device knows and the server must not.
    let secrets = AccountSecrets::derive("zk", password.as_bytes());
    let vault = server.profile("zk")["Destinations"]["vault1"].clone();
    let vault_secret =
        secrets.unwrap("destination/vault1/vault-secret", vault["WrappedVaultSecret"].as_str().unwrap()).unwrap();
    let access_key =
        secrets.unwrap("destination/vault1/access-key", vault["WrappedAccessKey"].as_str().unwrap()).unwrap();
    let credentials: Value =
        serde_json::from_slice(&std::fs::read(device.home().join("credentials.json")).unwrap()).unwrap();
    let mut forbidden: Vec<(String, Vec<u8>)> = vec![
        ("file name".into(), name_canary.into()),
        ("file contents".into(), content_canary.into()),
        ("password".into(), password.into()),
        ("login secret".into(), secrets.login_secret.clone().into_bytes()),
        ("wrapping key (hex)".into(), hex::encode(secrets.wrapping_key).into_bytes()),
        ("wrapping key".into(), secrets.wrapping_key.to_vec()),
        ("vault secret".into(), vault_secret.clone()),
        ("bucket key".into(), access_key.clone()),
        ("device token".into(), credentials["device_token"].as_str().unwrap().as_bytes().to_vec()),
    ];
    for (i, hash) in plain_hashes.iter().enumerate() {
        forbidden.push((format!("BLAKE3 of file {i} (hex)"), hash.to_hex().as_bytes().to_vec()));
        forbidden.push((format!("BLAKE3 of file {i}"), hash.as_bytes().to_vec()));
    }
    let data = server.data.clone();
    server.stop();
    let mut scanned = 0;
    let mut stack = vec![data];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            scanned += 1;
            for (what, needle) in &forbidden {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle.as_slice()),
                    "the server stored the {what} in {}",
                    path.display()
                );
            }
        }
    }
    // The database, its journal, the logs, the captured output and the bucket's objects.
    assert!(scanned >= 10, "only {scanned} files scanned");
}

#[test]
fn one_user_cannot_reach_another_users_jobs_or_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    server.add_user("anna", "anna's password");
    server.add_user("bert", "bert's password");
    let anna = device_of(&server, "anna", "anna's password", "anna-pc");
    let bert = device_of(&server, "bert", "bert's password", "bert-pc");
    define_item(&server, "anna", &anna, false);
    define_item(&server, "bert", &bert, false);
    anna.ok(&["backup", "--item", "Documents"]);
    bert.ok(&["backup", "--item", "Documents"]);
    let bert_job = server.jobs("bert")[0]["GUID"].as_str().unwrap().to_owned();
    let anna_job = server.jobs("anna")[0]["GUID"].as_str().unwrap().to_owned();

    let (status, session) = server.post(
        "/api/v1/user/web/session/start",
        &[("Username", "anna"), ("AuthType", "Password"), ("Password", &login_secret("anna", "anna's password"))],
    );
    assert_eq!(status, 200, "{session}");
    let key = session["SessionKey"].as_str().unwrap().to_owned();
    let as_anna = |method: &str, fields: &[(&str, &str)]| {
        let mut all = vec![("Username", "anna"), ("AuthType", "SessionKey"), ("SessionKey", key.as_str())];
        all.extend_from_slice(fields);
        server.post(&format!("/api/v1/user/web/{method}"), &all)
    };
    let (status, own) = as_anna("get-jobs", &[]);
    assert_eq!(status, 200);
    let ids: Vec<&str> = own.as_array().unwrap().iter().map(|j| j["GUID"].as_str().unwrap()).collect();
    assert_eq!(ids, [anna_job.as_str()], "only her own jobs");
    let (status, _) = as_anna("get-job-properties", &[("JobID", &anna_job)]);
    assert_eq!(status, 200);
    let crafted = [
        bert_job.clone(),
        "..".into(),
        "%2e%2e".into(),
        format!("../{bert_job}"),
        format!("{anna_job}/../{bert_job}"),
        "a/b".into(),
        bert_job[..31].to_owned(),
    ];
    for method in ["get-job-properties", "get-job-log", "get-job-log-entries", "job-cancel"] {
        for id in &crafted {
            let (status, answer) = as_anna(method, &[("JobID", id), ("TargetUser", "bert")]);
            assert!(status == 400 || status == 404, "{method} {id}: {status} {answer}");
        }
    }
    let (status, profile) = as_anna("get-user-profile-and-hash", &[("TargetUser", "bert")]);
    assert_eq!(status, 200);
    assert_eq!(profile["Profile"]["Username"], "anna", "TargetUser is ignored for users");
    // Admin methods are not for users.
    let (status, _) = server.post(
        "/api/v1/admin/get-jobs-for-user",
        &[("Username", "anna"), ("AuthType", "SessionKey"), ("SessionKey", &key), ("TargetUser", "bert")],
    );
    assert_eq!(status, 403);

    // Her device cannot write into bert's jobs either.
    let token: Value = serde_json::from_slice(&std::fs::read(anna.home().join("credentials.json")).unwrap()).unwrap();
    let client = AgentClient::new(&server.url()).unwrap().with_token(token["device_token"].as_str().unwrap());
    for id in &crafted {
        let batch = JobLog { job_id: id.clone(), entries: Vec::new(), progress: None };
        let refused = block_on(client.call::<JobLogMethod>(&batch)).unwrap_err();
        assert!(matches!(refused.code(), Some(ErrorCode::NotFound | ErrorCode::Invalid)), "job-log on {id}: {refused}");
    }

    // Buckets: anna's key opens only anna's bucket; paths outside the vault layout are refused.
    let secrets = AccountSecrets::derive("anna", b"anna's password");
    let anna_vault = server.profile("anna")["Destinations"]["vault1"].clone();
    let bert_bucket = server.profile("bert")["Destinations"]["vault1"]["Location"].as_str().unwrap().to_owned();
    let anna_bucket = anna_vault["Location"].as_str().unwrap().to_owned();
    let anna_key = String::from_utf8(
        secrets.unwrap("destination/vault1/access-key", anna_vault["WrappedAccessKey"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    let wrong = RemoteVault::new(&server.url(), &bert_bucket, &anna_key).unwrap();
    let refused = block_on(wrong.list(ObjectKind::Snapshot)).unwrap_err();
    assert_eq!(refused.kind(), comet_storage::ErrorKind::Forbidden, "{refused}");
    let own = RemoteVault::new(&server.url(), &anna_bucket, &anna_key).unwrap();
    for path in ["..", "%2e%2e/config", "config/../../x", "data/../keys", "..%2Fconfig", "a/b/c/d"] {
        let url = format!("{}/storage/v1/{anna_bucket}/{path}", server.url());
        let status = block_on(async {
            reqwest::Client::new()
                .get(&url)
                .header("Authorization", format!("Bearer {anna_key}"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
        assert!(status == 400 || status == 404, "{path}: {status}");
    }
    // Anna's bucket directory holds exactly the objects her vault lists.
    let mut listed = BTreeSet::new();
    for kind in [ObjectKind::Config, ObjectKind::Key, ObjectKind::Pack, ObjectKind::Index, ObjectKind::Snapshot] {
        for meta in block_on(own.list(kind)).unwrap() {
            listed.insert(meta.key.path());
        }
    }
    let bucket_dir = server.data.join("buckets").join(&anna_bucket);
    let mut on_disk = BTreeSet::new();
    let mut stack = vec![bucket_dir.clone()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(&bucket_dir).unwrap().to_string_lossy().into_owned();
                if !rel.starts_with("sessions/") {
                    on_disk.insert(rel);
                }
            }
        }
    }
    assert!(listed.len() >= 5, "{listed:?}");
    assert_eq!(on_disk, listed, "anna's bucket holds anna's objects, nothing else");
}

fn login_secret(user: &str, password: &str) -> String {
    AccountSecrets::derive(user, password.as_bytes()).login_secret.clone()
}

#[test]
fn an_append_only_bucket_refuses_deletes_and_overwrites_and_backups_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    server.add_user("carl", PASSWORD);
    let device = device_of(&server, "carl", PASSWORD, "carl-pc");
    define_item(&server, "carl", &device, true);
    device.ok(&["backup", "--item", "Documents"]);

    let secrets = AccountSecrets::derive("carl", PASSWORD.as_bytes());
    let vault = server.profile("carl")["Destinations"]["vault1"].clone();
    let key = secrets.unwrap("destination/vault1/access-key", vault["WrappedAccessKey"].as_str().unwrap()).unwrap();
    let remote =
        RemoteVault::new(&server.url(), vault["Location"].as_str().unwrap(), std::str::from_utf8(&key).unwrap())
            .unwrap();
    let packs = block_on(remote.list(ObjectKind::Pack)).unwrap();
    let snapshots = block_on(remote.list(ObjectKind::Snapshot)).unwrap();
    for meta in [&packs[0], &snapshots[0]] {
        let deleted = block_on(remote.delete(&meta.key)).unwrap_err();
        assert_eq!(deleted.kind(), comet_storage::ErrorKind::Forbidden, "{deleted}");
        let overwritten = block_on(remote.put(&meta.key, bytes::Bytes::from_static(b"garbage"))).unwrap_err();
        assert_eq!(overwritten.kind(), comet_storage::ErrorKind::AlreadyExists, "{overwritten}");
    }
    // A device cannot lift the flag by editing its profile: the bucket stays append-only.
    assert_eq!(server.profile("carl")["Destinations"]["vault1"]["AppendOnly"], true);

    write(&device.fixture.src(), "work/later.txt", "written after the first backup");
    device.ok(&["backup", "--item", "Documents"]);
    let target = device.fixture.path("restored");
    device.ok(&["restore", "--item", "Documents", "--target", target.to_str().unwrap()]);
    let original = device.fixture.src().join("work");
    assert_eq!(read_tree(&restored(&target, &original)), read_tree(&original));
    let statuses: Vec<u64> = server.jobs("carl").iter().map(|j| j["Status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, [5000, 5000, 5000]);
}

#[test]
fn install_tokens_work_once_and_wrong_passwords_are_limited() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    server.add_user("dora", PASSWORD);
    let (status, _) =
        server.admin("create-install-token", &[("TargetUser", "dora"), ("TargetPassword", "not her password")]);
    assert_eq!(status, 403, "a token must carry the password that opens the vaults");
    let answer = server.admin_ok("create-install-token", &[("TargetUser", "dora"), ("TargetPassword", PASSWORD)]);
    let token = answer["Token"].as_str().unwrap().to_owned();

    // A device with a password sets the vault up; a device joined by token opens it.
    let first = device_of(&server, "dora", PASSWORD, "first");
    define_item(&server, "dora", &first, false);
    first.ok(&["backup", "--item", "Documents"]);
    let joined = Device::new();
    let url = server.url();
    joined.ok(&["login", "--token", &token, "--server", &url, "--name", "by-token"]);
    assert!(joined.ok(&["login", "status"]).contains("dora"));
    let target = joined.fixture.path("restored");
    joined.ok(&["restore", "--item", "Documents", "--target", target.to_str().unwrap()]);
    let original = first.fixture.src().join("work");
    assert_eq!(read_tree(&restored(&target, &original)), read_tree(&original));

    let again = Device::new().run(&["login", "--token", &token, "--server", &url]);
    assert_ne!(again.code, 0);
    assert!(again.stderr.contains("used"), "{again}");

    let stranger = Device::new();
    let mut limited = false;
    for _ in 0..12 {
        let run = stranger.login("dora", "wrong password", &url, "x");
        assert_ne!(run.code, 0);
        if run.stderr.contains("too many") {
            limited = true;
            break;
        }
        assert!(run.stderr.contains("Invalid") || run.stderr.contains("wrong"), "{run}");
    }
    assert!(limited, "repeated wrong passwords are rate-limited");
}

#[test]
fn a_revoked_device_is_told_so() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    server.add_user("erin", PASSWORD);
    let device = device_of(&server, "erin", PASSWORD, "erin-pc");
    let id = device.id();
    define_item(&server, "erin", &device, false);
    server.admin_ok("revoke-device", &[("TargetUser", "erin"), ("TargetDeviceID", &id)]);
    let profile = server.profile("erin");
    assert!(profile["Devices"].get(&id).is_none() && profile["Sources"].get("item1").is_none(), "{profile}");
    let status = device.run(&["login", "status"]);
    assert_ne!(status.code, 0);
    assert!(status.stdout.starts_with("revoked"), "{status}");
    let run = device.run(&["backup", "--item", "Documents"]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("revoked"), "{run}");
}

#[test]
fn a_lost_answer_during_vault_initialisation_does_not_break_the_next_job() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    server.add_user("fay", PASSWORD);
    let proxy = LosingProxy::start(server.addr, "/api/v1/agent/init-vault");
    let device = Device::new();
    write_work_tree(&device.fixture.src());
    assert_eq!(device.login("fay", PASSWORD, &proxy.url(), "fay-pc").code, 0);
    define_item(&server, "fay", &device, false);

    let first = device.run(&["backup", "--item", "Documents"]);
    assert_eq!(proxy.lost.load(std::sync::atomic::Ordering::SeqCst), 1, "the answer was lost\n{first}");
    // Whatever the first job made of it, the vault is recorded once and the next job works.
    write(&device.fixture.src(), "work/second.txt", "second job");
    device.ok(&["backup", "--item", "Documents"]);
    let buckets = server.admin_ok("storage/list-buckets", &[]);
    assert_eq!(buckets.as_object().unwrap().len(), 1, "one bucket: {buckets}");
    let recorded = server.profile("fay")["Destinations"]["vault1"]["Location"].as_str().unwrap().to_owned();
    assert!(buckets.get(&recorded).is_some(), "the recorded bucket is the one created");
    let jobs = server.jobs("fay");
    assert_eq!(jobs.last().unwrap()["Status"].as_u64(), Some(5000), "{jobs:?}");
    let target = device.fixture.path("restored");
    device.ok(&["restore", "--item", "Documents", "--target", target.to_str().unwrap()]);
    let original = device.fixture.src().join("work");
    assert_eq!(read_tree(&restored(&target, &original)), read_tree(&original));
}

#[test]
fn after_an_admin_reset_a_logged_in_device_rewraps_the_vault_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    server.add_user("gus", PASSWORD);
    let laptop = device_of(&server, "gus", PASSWORD, "laptop");
    define_item(&server, "gus", &laptop, false);
    laptop.ok(&["backup", "--item", "Documents"]);
    let original = laptop.fixture.src().join("work");

    let new_password = "the password the admin chose";
    let answer = server.admin_ok("reset-user-password", &[("TargetUser", "gus"), ("NewPassword", new_password)]);
    assert!(answer["Message"].as_str().unwrap().contains("re-wraps"), "the reset says what it costs: {answer}");

    // With only the new password, a new device cannot open the vault: the server never could.
    let desktop = Device::new();
    assert_eq!(desktop.login("gus", new_password, &server.url(), "desktop").code, 0);
    let target = desktop.fixture.path("restored");
    let refused = desktop.run(&["restore", "--item", "Documents", "--target", target.to_str().unwrap()]);
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("does not open with this account's key"), "{refused}");

    // The laptop still holds the old wrapping key: it re-wraps under the new password.
    let mut cmd = laptop.command(&["login", "change-password"]);
    cmd.env("COMET_NEW_PASSWORD", new_password);
    let run = super::common::Fixture::output(cmd);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stdout.contains("1 storage vault secrets re-wrapped"), "{run}");
    assert_eq!(desktop.login("gus", new_password, &server.url(), "desktop").code, 0);
    desktop.ok(&["restore", "--item", "Documents", "--target", target.to_str().unwrap()]);
    assert_eq!(read_tree(&restored(&target, &original)), read_tree(&original));
    // And the laptop goes on backing up with its new key.
    laptop.ok(&["backup", "--item", "Documents"]);
    let statuses: Vec<u64> = server.jobs("gus").iter().map(|j| j["Status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, [5000, 7002, 5000, 5000], "backup, refused restore, restore, backup");
    let failed = server.job_log(server.jobs("gus")[1]["GUID"].as_str().unwrap());
    let errors: Vec<&Value> = failed.iter().filter(|e| e["Severity"] == "E").collect();
    assert!(
        errors.iter().any(|e| e["Message"].as_str().unwrap().contains("does not open")),
        "the failure is in the job's log: {failed:?}"
    );
}

#[test]
fn a_job_with_warnings_ends_7001_without_naming_files() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    server.add_user("hal", PASSWORD);
    let device = device_of(&server, "hal", PASSWORD, "hal-pc");
    define_item(&server, "hal", &device, false);
    let missing = device.fixture.src().join("gone-CANARY-missing");
    server.edit_profile("hal", |p| {
        p["Sources"]["item1"]["EngineProps"]["INCLUDE1"] = json!(missing.to_str().unwrap());
    });
    let run = device.run(&["backup", "--item", "Documents"]);
    assert_eq!(run.code, 3, "warnings give exit code 3:\n{run}");
    assert!(run.stderr.contains("gone-CANARY-missing"), "the device shows the path: {run}");
    let job = &server.jobs("hal")[0];
    assert_eq!(job["Status"].as_u64(), Some(7001), "{job}");
    let log = server.job_log(job["GUID"].as_str().unwrap());
    let warnings: Vec<&str> =
        log.iter().filter(|e| e["Severity"] == "W").map(|e| e["Message"].as_str().unwrap()).collect();
    assert_eq!(warnings.len(), 1, "{log:?}");
    assert!(warnings[0].starts_with("1 entries were not backed up"), "{warnings:?}");
    assert!(log.iter().all(|e| !e["Message"].as_str().unwrap().contains("CANARY")), "no path in the log: {log:?}");
}

#[test]
fn an_account_with_two_factor_sign_in_registers_devices_only_with_a_code() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    let url = server.url();
    server.add_user("tess", PASSWORD);
    let secret = AccountSecrets::derive("tess", PASSWORD.as_bytes()).login_secret.clone();
    let (status, session) =
        server.post("/api/v1/user/web/session/start", &[("Username", "tess"), ("Password", &secret)]);
    assert_eq!(status, 200, "{session}");
    let key = session["SessionKey"].as_str().unwrap().to_owned();
    let user = |method: &str, fields: &[(&str, &str)]| {
        let mut all = vec![("Username", "tess"), ("AuthType", "SessionKey"), ("SessionKey", key.as_str())];
        all.extend_from_slice(fields);
        server.post(&format!("/api/v1/user/web/{method}"), &all)
    };
    let (_, enrol) = user("account/regenerate-totp", &[]);
    let totp = enrol["TOTPSecret"].as_str().unwrap().to_owned();
    let step = step_now();
    let (status, enabled) = user("account/validate-totp", &[("TOTPCode", &totp_code(&totp, step))]);
    assert_eq!(status, 200, "{enabled}");
    let recovery = enabled["RecoveryCodes"][0].as_str().unwrap().to_owned();

    // The password alone no longer registers a device: the agent asks for a code.
    let laptop = Device::new();
    let run = laptop.login("tess", PASSWORD, &url, "laptop");
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("two-factor"), "{run}");
    let with_code = |device: &Device, code: &str| {
        Fixture::run_with_stdin(
            device.command(&["login", "prompt"]),
            &format!("tess\n{PASSWORD}\n{url}\nlaptop\n{code}\n"),
        )
    };
    let wrong = format!("{:06}", (totp_code(&totp, step + 1).parse::<u32>().unwrap() + 1) % 1_000_000);
    let run = with_code(&laptop, &wrong);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("wrong user name, password or code"), "{run}");
    assert!(laptop.run(&["login", "status"]).code != 0, "not logged in");
    // The next step's code (this step's was used to turn it on) registers the device.
    let run = with_code(&laptop, &totp_code(&totp, step + 1));
    assert_eq!(run.code, 0, "{run}");
    assert!(laptop.ok(&["login", "status"]).contains("tess"));
    // A recovery code registers another device, once.
    let desktop = Device::new();
    assert_eq!(with_code(&desktop, &recovery).code, 0);
    assert_ne!(with_code(&Device::new(), &recovery).code, 0, "a recovery code works once");
}
