//! E-mail reports against a local SMTP sink (Python's aiosmtpd on loopback, started by the
//! test): with the real binary, and at the library level (`comet_server::email` on a database
//! of the test's own). Skipped when aiosmtpd is missing, unless `COMET_REQUIRE_SMTP=1`
//! (`.ci/run` installs it and sets that).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use std::sync::Arc;

use comet_protocol::agent::{JobEnd, JobEndRequest, JobStart, JobStartRequest, JobTotals, LogEntry, Severity};
use comet_protocol::client::AgentClient;
use comet_protocol::profile::{DestinationConfig, DeviceConfig, EmailReportConfig, SourceConfig, UserProfile};
use comet_server::db::{Db, JobOutcome, JobOwner, NewJob};
use comet_server::email::{self, Mailer};
use common::{Server, free_port, register};
use serde_json::json;

/// An SMTP sink writing each message it receives as a file into a directory.
const SINK: &str = r#"
import os, sys, signal
from aiosmtpd.controller import Controller

out = sys.argv[2]

class Handler:
    async def handle_DATA(self, server, session, envelope):
        n = len([f for f in os.listdir(out) if f.endswith(".eml")])
        tmp = os.path.join(out, "%04d.tmp" % n)
        with open(tmp, "wb") as f:
            f.write(envelope.content)
        os.rename(tmp, os.path.join(out, "%04d.eml" % n))
        return "250 OK"

controller = Controller(Handler(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
signal.sigwait([signal.SIGTERM, signal.SIGINT])
controller.stop()
"#;

struct Sink {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Sink {
    fn start(dir: &Path) -> Option<Self> {
        let available = Command::new("python3").args(["-c", "import aiosmtpd"]).status().is_ok_and(|s| s.success());
        if !available {
            assert!(
                std::env::var("COMET_REQUIRE_SMTP").is_err(),
                "COMET_REQUIRE_SMTP is set but Python's aiosmtpd is missing (pip install aiosmtpd)"
            );
            eprintln!("skipped: Python's aiosmtpd is missing (pip install aiosmtpd)");
            return None;
        }
        std::fs::create_dir_all(dir).unwrap();
        let port = free_port().port();
        let mut child = Command::new("python3")
            .args(["-c", SINK, &port.to_string(), dir.to_str().unwrap()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
        assert_eq!(line.trim(), "ready");
        Some(Self { child, dir: dir.to_owned(), port })
    }

    fn mails(&self) -> Vec<String> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        names.sort();
        names.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect()
    }

    fn wait_for(&self, count: usize) -> Vec<String> {
        let started = Instant::now();
        loop {
            let mails = self.mails();
            if mails.len() >= count {
                return mails;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "{} mails, waiting for {count}", mails.len());
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), nix::sys::signal::SIGTERM);
        let _ = self.child.wait();
    }
}

/// The text of a mail with its quoted-printable soft line breaks joined.
fn unfold(mail: &str) -> String {
    mail.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=").replace("\r\n", "\n")
}

async fn job(device: &AgentClient, status: u32, lines: &[(Severity, &str)]) -> String {
    let started = device
        .call::<JobStart>(&JobStartRequest {
            classification: 4001,
            source_id: "item1".into(),
            destination_id: "vault1".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let entries = lines.iter().map(|(s, m)| LogEntry { time: 0, severity: *s, message: (*m).into() }).collect();
    let end = JobEndRequest {
        job_id: started.job_id.clone(),
        status,
        totals: JobTotals { files: 2, size: 2048, ..Default::default() },
        snapshot_id: String::new(),
        entries,
    };
    device.call::<JobEnd>(&end).await.unwrap();
    started.job_id
}

#[test]
fn a_failed_job_sends_one_mail_and_a_success_with_errors_only_sends_none() {
    let dir = tempfile::tempdir().unwrap();
    let Some(sink) = Sink::start(&dir.path().join("mail")) else { return };
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let smtp = format!(
        "[smtp]\nenabled = true\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"plain\"\nfrom = \"Comet <comet@example.test>\"\n\
         admin_recipients = [\"boss@example.test\"]\nadmin_summary_hour = 0\n\n[jobs]\ncheck_interval_seconds = 1\n",
        sink.port
    );
    std::fs::write(
        data.join("comet-server.toml"),
        format!("[[listen]]\naddress = \"127.0.0.1:1\"\n\n[security]\nargon2_memory_kib = 8192\n\n{smtp}"),
    )
    .unwrap();
    let server = Server::start(&data);

    // The test mail first.
    let (status, answer) = server.admin("meta/send-test-email", &[("Recipient", "admin@example.test")]);
    assert_eq!(status, 200, "{answer}");
    let test_mail = unfold(&sink.wait_for(1)[0]);
    assert!(
        test_mail.contains("Subject: [Comet] Test e-mail") && test_mail.contains("To: admin@example.test"),
        "{test_mail}"
    );

    let secrets = server.add_user("ella", "ella's password");
    server.admin("get-user-profile-and-hash", &[("TargetUser", "ella")]);
    let (_, current) = server.admin("get-user-profile-and-hash", &[("TargetUser", "ella")]);
    let mut profile = current["Profile"].clone();
    profile["Emails"] = json!(["ella@example.test"]);
    profile["EmailReports"] = json!([
        { "ReportType": 0, "Statuses": [7002] },
        { "ReportType": 1, "SummaryHour": 0, "Recipients": ["ella-summary@example.test"] },
    ]);
    profile["Sources"] = json!({ "item1": { "Description": "Documents", "OwnerDevice": "laptop-1" } });
    profile["Destinations"] = json!({ "vault1": { "Description": "Office vault", "DestinationType": 1003 } });
    let hash = current["ProfileHash"].as_str().unwrap().to_owned();
    let (status, answer) = server.admin(
        "set-user-profile-hash",
        &[("TargetUser", "ella"), ("ProfileData", &profile.to_string()), ("RequireHash", &hash)],
    );
    assert_eq!(status, 200, "{answer}");

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let device = register(&server.agent(), "ella", &secrets.login_secret, "laptop-1").await;
        job(&device, 5000, &[(Severity::Info, "all fine")]).await;
        job(&device, 7002, &[(Severity::Info, "started"), (Severity::Error, "the vault is full: 0 bytes left")]).await;
    });
    // The test mail, the report, ella's summary and the administrators' summary.
    sink.wait_for(4);
    // Give a stray mail (for the success, or a second summary) a moment to show up.
    std::thread::sleep(Duration::from_secs(2));
    let all: Vec<String> = sink.mails().iter().map(|m| unfold(m)).collect();
    let to = |address: &str| -> Vec<&String> { all.iter().filter(|m| m.contains(&format!("To: {address}"))).collect() };
    let summaries = to("ella-summary@example.test");
    assert_eq!(summaries.len(), 1, "one summary a day: {summaries:?}");
    assert!(summaries[0].contains("Subject: [Comet] Daily summary for ella"), "{}", summaries[0]);
    let boss = to("boss@example.test");
    assert_eq!(boss.len(), 1, "{boss:?}");
    assert!(boss[0].contains("Subject: [Comet] Daily summary of all devices"), "{}", boss[0]);
    let mails: Vec<&String> = to("ella@example.test");
    assert_eq!(mails.len(), 1, "exactly one report, for the failed job: {mails:?}");
    let mail = &mails[0];
    assert!(mail.contains("Subject: [Comet] Error: backup of \"Documents\" on laptop-1 (ella)"), "{mail}");
    assert!(mail.contains("To: ella@example.test"), "{mail}");
    assert!(mail.contains("Protected item: Documents") && mail.contains("Storage vault: Office vault"), "{mail}");
    assert!(mail.contains("E the vault is full: 0 bytes left"), "{mail}");
    assert!(!mail.contains("all fine"), "{mail}");
    server.stop();
}

/// A mailer for an SMTP server on loopback at `port`.
fn mailer(port: u16) -> Arc<Mailer> {
    let text = format!(
        "[smtp]\nenabled = true\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"plain\"\n\
         from = \"Comet <comet@example.test>\"\nadmin_recipients = [\"boss@example.test\"]\n\
         admin_summary_hour = 5\ntimeout_seconds = 5\n"
    );
    let config = comet_server::config::parse(&text).unwrap();
    Arc::new(Mailer::from_config(&config.smtp).unwrap().expect("enabled"))
}

const ORG: &str = "default";
/// 2026-11-22 10:00:00 UTC.
const NOW: i64 = 1_795_341_600;

fn rule(report_type: u32, statuses: &[u32], summary_hour: u32, recipients: &[&str]) -> EmailReportConfig {
    EmailReportConfig {
        report_type,
        statuses: statuses.to_vec(),
        summary_hour,
        recipients: recipients.iter().map(|r| (*r).to_owned()).collect(),
    }
}

/// A user with a laptop, a protected item "Documents" and a vault "Office vault".
async fn add_user(db: &Db, username: &str, reports: Vec<EmailReportConfig>) {
    let mut profile = UserProfile::new(username, ORG, NOW);
    profile.emails = vec![format!("{username}@example.test")];
    profile.email_reports = reports;
    profile.devices.insert("dev-1".into(), DeviceConfig { friendly_name: "laptop".into(), ..Default::default() });
    profile.sources.insert("item1".into(), SourceConfig { description: "Documents".into(), ..Default::default() });
    profile
        .destinations
        .insert("vault1".into(), DestinationConfig { description: "Office vault".into(), ..Default::default() });
    assert!(db.add_user(&profile, "unused", NOW).await.unwrap());
}

/// A backup of `username`'s Documents that ended with `status`, and these log lines.
async fn add_job(db: &Db, username: &str, id: &str, status: u32, lines: &[(Severity, &str)]) -> String {
    let id = format!("{id:0>32}");
    let job = NewJob {
        id: id.clone(),
        organization_id: ORG.into(),
        username: username.into(),
        device_id: "dev-1".into(),
        classification: 4001,
        source_id: "item1".into(),
        destination_id: "vault1".into(),
        backup_rule_id: String::new(),
        client_version: "test".into(),
        start_time: NOW - 600,
    };
    db.start_job(&job).await.unwrap();
    let owner = JobOwner { organization_id: ORG, username, device_id: "dev-1" };
    let outcome = JobOutcome {
        status,
        totals: JobTotals { files: 12, size: 5 << 20, upload_size: 1 << 20, ..Default::default() },
        snapshot_id: "snap-1",
    };
    let entries: Vec<LogEntry> =
        lines.iter().map(|(s, m)| LogEntry { time: NOW, severity: *s, message: (*m).into() }).collect();
    db.end_job(&id, owner, &outcome, &entries, NOW - 100).await.unwrap();
    id
}

fn to<'a>(mails: &'a [String], address: &str) -> Vec<&'a String> {
    mails.iter().filter(|m| m.lines().any(|l| l == format!("To: {address}"))).collect()
}

#[tokio::test]
async fn each_finished_job_is_mailed_by_its_users_rules() {
    let dir = tempfile::tempdir().unwrap();
    let Some(sink) = Sink::start(&dir.path().join("mail")) else { return };
    let db = Db::open(&dir.path().join("comet.sqlite3")).await.unwrap();
    let mailer = mailer(sink.port);
    // alice: errors only, asked twice for the same recipients (one mail, not two), and a daily
    // summary (not a per-job mail). bob: every status. carol: no rule, no mail.
    let alice_rules =
        vec![rule(0, &[7002], 0, &[]), rule(0, &[7001, 7002], 0, &["alice@example.test"]), rule(1, &[], 0, &[])];
    add_user(&db, "alice", alice_rules).await;
    add_user(&db, "bob", vec![rule(0, &[], 0, &[])]).await;
    add_user(&db, "carol", Vec::new()).await;
    let failure: &[(Severity, &str)] = &[
        (Severity::Info, "backup started"),
        (Severity::Warning, "a file changed while it was read"),
        (Severity::Error, "the vault is full: <script>alert(1)</script>"),
    ];
    let mut jobs = Vec::new();
    for (n, user) in ["alice", "bob", "carol"].into_iter().enumerate() {
        jobs.push(add_job(&db, user, &format!("{n}e"), 7002, failure).await);
        jobs.push(add_job(&db, user, &format!("{n}0"), 5000, &[(Severity::Info, "all fine")]).await);
    }
    for id in &jobs {
        // Awaited here: once it returns, the sink has the mail.
        email::job_finished(db.clone(), mailer.clone(), ORG.into(), id.clone()).await;
    }
    // A job that does not exist is logged, not mailed.
    email::job_finished(db.clone(), mailer.clone(), ORG.into(), "f".repeat(32)).await;

    let mails: Vec<String> = sink.mails().iter().map(|m| unfold(m)).collect();
    assert_eq!(mails.len(), 3, "{mails:#?}");
    let alice = to(&mails, "alice@example.test");
    assert_eq!(alice.len(), 1, "one mail for alice's failed job: {alice:#?}");
    let mail = alice[0];
    assert!(mail.contains("Subject: [Comet] Error: backup of \"Documents\" on laptop (alice)"), "{mail}");
    for line in [
        "User: alice",
        "Device: laptop",
        "Protected item: Documents",
        "Storage vault: Office vault",
        "Status: Error (7002)",
        "Started: 2026-11-22 09:50:00 UTC",
        "Ended: 2026-11-22 09:58:20 UTC",
        "Duration: 8 min 20 s",
        "Files: 12",
        "Size: 5.0 MiB",
        "Uploaded: 1.0 MiB",
        "Snapshot: snap-1",
        "W a file changed while it was read",
        "E the vault is full: <script>alert(1)</script>",
    ] {
        assert!(mail.contains(line), "{line:?} is missing: {mail}");
    }
    assert!(!mail.contains("backup started") && !mail.contains("all fine"), "{mail}");
    // The HTML part has the line, escaped.
    assert!(mail.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{mail}");
    assert!(mail.contains("Content-Type: text/html") && mail.contains("Content-Type: text/plain"), "{mail}");

    let bob = to(&mails, "bob@example.test");
    assert_eq!(bob.len(), 2, "bob's rule takes every status: {bob:#?}");
    assert!(bob.iter().any(|m| m.contains("Subject: [Comet] Error: backup of \"Documents\" on laptop (bob)")));
    assert!(bob.iter().any(|m| m.contains("Subject: [Comet] Success: backup of \"Documents\" on laptop (bob)")));
    assert!(to(&mails, "carol@example.test").is_empty());
    db.close().await;
}

#[tokio::test]
async fn daily_summaries_go_out_once_a_day_after_their_hour() {
    let dir = tempfile::tempdir().unwrap();
    let Some(sink) = Sink::start(&dir.path().join("mail")) else { return };
    let db = Db::open(&dir.path().join("comet.sqlite3")).await.unwrap();
    let mailer = mailer(sink.port);
    add_user(&db, "alice", vec![rule(1, &[], 9, &["alice-summary@example.test"]), rule(1, &[], 11, &[])]).await;
    add_user(&db, "bob", vec![rule(0, &[7002], 0, &[])]).await;
    add_job(&db, "alice", "a1", 7002, &[(Severity::Error, "disk full")]).await;
    add_job(&db, "alice", "a2", 5000, &[]).await;
    add_job(&db, "bob", "b1", 5000, &[]).await;

    // 04:00: no rule's hour has come. 10:00 (NOW): alice's 09:00 rule and the administrators'
    // 05:00 summary; again at 10:01, nothing new; at 11:00, alice's second rule.
    let at = |hour: i64| NOW - 10 * 3600 + hour * 3600;
    email::send_due_summaries(&db, &mailer, ORG, at(4)).await.unwrap();
    assert_eq!(sink.mails().len(), 0);
    email::send_due_summaries(&db, &mailer, ORG, NOW).await.unwrap();
    email::send_due_summaries(&db, &mailer, ORG, NOW + 60).await.unwrap();
    let mails: Vec<String> = sink.mails().iter().map(|m| unfold(m)).collect();
    assert_eq!(mails.len(), 2, "{mails:#?}");
    let alice = to(&mails, "alice-summary@example.test");
    assert_eq!(alice.len(), 1);
    assert!(alice[0].contains("Subject: [Comet] Daily summary for alice: 1 Error, 1 Success"), "{}", alice[0]);
    assert!(!alice[0].contains("  bob  "), "{}", alice[0]);
    let boss = to(&mails, "boss@example.test");
    assert_eq!(boss.len(), 1);
    assert!(boss[0].contains("Subject: [Comet] Daily summary of all devices: 1 Error, 2 Success"), "{}", boss[0]);
    assert!(boss[0].contains("  bob  laptop  Documents  Success"), "{}", boss[0]);

    email::send_due_summaries(&db, &mailer, ORG, at(11)).await.unwrap();
    let mails: Vec<String> = sink.mails().iter().map(|m| unfold(m)).collect();
    assert_eq!(mails.len(), 3, "{mails:#?}");
    assert_eq!(to(&mails, "alice@example.test").len(), 1);
    // Another database handle (a restart) does not send today's summaries again; tomorrow, it
    // sends them all.
    db.close().await;
    let db = Db::open(&dir.path().join("comet.sqlite3")).await.unwrap();
    email::send_due_summaries(&db, &mailer, ORG, at(23)).await.unwrap();
    assert_eq!(sink.mails().len(), 3);
    email::send_due_summaries(&db, &mailer, ORG, at(24 + 12)).await.unwrap();
    let mails: Vec<String> = sink.mails().iter().map(|m| unfold(m)).collect();
    assert_eq!(mails.len(), 6, "{mails:#?}");
    assert!(to(&mails, "boss@example.test")[1].contains("Daily summary of all devices: no jobs"));
    db.close().await;
}

#[tokio::test]
async fn a_test_mail_is_delivered_or_fails_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let Some(sink) = Sink::start(&dir.path().join("mail")) else { return };
    let mailer = mailer(sink.port);
    email::send_test(&mailer, "admin@example.test").await.unwrap();
    let mails = sink.mails();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains("Subject: [Comet] Test e-mail") && mails[0].contains("To: admin@example.test"));
    assert!(mails[0].contains("From: Comet <comet@example.test>"), "{}", mails[0]);
    let error = email::send_test(&mailer, "not an address").await.unwrap_err();
    assert!(error.contains("no valid recipient"), "{error}");

    // With the sink gone, the error names the server, soon.
    let port = sink.port;
    drop(sink);
    let started = Instant::now();
    let error = email::send_test(&mailer, "admin@example.test").await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
}

#[tokio::test]
async fn a_silent_smtp_server_times_out() {
    // A server that accepts the connection and never says hello.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let text = format!(
        "[smtp]\nenabled = true\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"plain\"\ntimeout_seconds = 1\n"
    );
    let config = comet_server::config::parse(&text).unwrap();
    let mailer = Mailer::from_config(&config.smtp).unwrap().unwrap();
    let started = Instant::now();
    let error = email::send_test(&mailer, "admin@example.test").await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
    drop(listener);
}
