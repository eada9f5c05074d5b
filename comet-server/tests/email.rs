//! E-mail reports with the real binary and a local SMTP sink (Python's aiosmtpd on loopback,
//! started by the test). Skipped when aiosmtpd is missing, unless `COMET_REQUIRE_SMTP=1`
//! (`.ci/run` installs it and sets that).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use comet_protocol::agent::{JobEnd, JobEndRequest, JobStart, JobStartRequest, JobTotals, LogEntry, Severity};
use comet_protocol::client::AgentClient;
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
