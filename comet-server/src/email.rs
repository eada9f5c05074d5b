//! E-mail reports: one mail per finished job for the users whose report rules
//! (`UserProfile.EmailReports`) ask for its status, daily summaries for users and for the
//! administrators, and a test mail (`AdminMetaSendTestEmail`).
//!
//! Mails say what happened in plain words, in text and HTML: device, protected item, vault,
//! status, times, sizes and the warning and error lines of the job's log. Job logs never carry
//! file names (the agents keep them on the device), so neither do mails. Sending never blocks
//! the request that caused it, and a failure is logged, not retried.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use comet_protocol::JobStatus;
use comet_protocol::profile::{EMAIL_REPORT_IMMEDIATE, EMAIL_REPORT_SUMMARY, UserProfile};
use lettre::message::{Mailbox, Message, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::config::{SmtpConfig, SmtpSecurity};
use crate::db::{Db, DbResult, JobList, JobRecord};

/// Most log lines quoted in a mail.
const MAX_LINES: usize = 50;

/// Sends mail through the configured SMTP server.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    config: SmtpConfig,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("host", &self.config.host)
            .field("port", &self.config.port)
            .finish_non_exhaustive()
    }
}

/// One mail, before it is addressed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
}

impl Mailer {
    /// The mailer of `[smtp]`; `None` when mail is off.
    pub fn from_config(config: &SmtpConfig) -> Result<Option<Self>, String> {
        if !config.enabled {
            return Ok(None);
        }
        let builder = match config.security {
            SmtpSecurity::Plain => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host),
            SmtpSecurity::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)
                .map_err(|e| format!("smtp {}: {e}", config.host))?,
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host)
                .map_err(|e| format!("smtp {}: {e}", config.host))?,
        };
        let mut builder =
            builder.port(config.port).timeout(Some(Duration::from_secs(u64::from(config.timeout_seconds))));
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
        }
        let from = config.from.parse().map_err(|e| format!("smtp from {:?}: {e}", config.from))?;
        Ok(Some(Self { transport: builder.build(), from, config: config.clone() }))
    }

    /// Sends `mail` to `recipients`.
    pub async fn send(&self, recipients: &[String], mail: &Mail) -> Result<(), String> {
        let mut message = Message::builder().from(self.from.clone()).subject(&mail.subject);
        let mut any = false;
        for to in recipients {
            match to.parse::<Mailbox>() {
                Ok(mailbox) => {
                    message = message.to(mailbox);
                    any = true;
                }
                Err(e) => tracing::warn!("e-mail report: {to:?} is not an address: {e}"),
            }
        }
        if !any {
            return Err("no valid recipient".into());
        }
        let message = message
            .multipart(MultiPart::alternative_plain_html(mail.text.clone(), mail.html.clone()))
            .map_err(|e| e.to_string())?;
        // lettre's timeout bounds each read and write; this bounds the whole delivery, so a
        // server that answers slowly, line by line, cannot hold a task for long either.
        let limit = Duration::from_secs(u64::from(self.config.timeout_seconds));
        match tokio::time::timeout(limit, self.transport.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("{}:{}: {e}", self.config.host, self.config.port)),
            Err(_) => Err(format!(
                "{}:{}: no delivery within {} s",
                self.config.host, self.config.port, self.config.timeout_seconds
            )),
        }
    }

    /// Who gets the administrators' summary.
    pub fn admin_recipients(&self) -> &[String] {
        &self.config.admin_recipients
    }
}

/// Escapes text for HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `text` on one line: control characters (line breaks in a description) become spaces.
fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// `2 min 5 s`, `3 h 0 min 12 s`.
fn human_duration(secs: i64) -> String {
    let secs = secs.max(0);
    let (hours, minutes, seconds) = (secs / 3600, secs % 3600 / 60, secs % 60);
    if hours > 0 { format!("{hours} h {minutes} min {seconds} s") } else { format!("{minutes} min {seconds} s") }
}

/// `1.5 GiB`.
fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} bytes") } else { format!("{value:.1} {}", UNITS[unit]) }
}

fn classification_name(code: u32) -> &'static str {
    match code {
        4001 => "backup",
        4002 => "restore",
        4003 => "retention pass",
        _ => "job",
    }
}

fn status_name(code: u32) -> String {
    JobStatus::from_code(code).map_or_else(|| format!("status {code}"), |s| s.name().to_owned())
}

/// Names from the profile (ids when an object is gone).
fn names(profile: Option<&UserProfile>, job: &JobRecord) -> (String, String, String) {
    let device = profile
        .and_then(|p| p.devices.get(&job.device_id))
        .map_or_else(|| job.device_id.clone(), |d| d.friendly_name.clone());
    let item = profile
        .and_then(|p| p.sources.get(&job.source_id))
        .map_or_else(|| job.source_id.clone(), |s| s.description.clone());
    let vault = profile
        .and_then(|p| p.destinations.get(&job.destination_id))
        .map_or_else(|| job.destination_id.clone(), |d| d.description.clone());
    (device, item, vault)
}

/// The mail of one finished job; `lines` are its log lines (severity letter, text).
pub fn job_mail(job: &JobRecord, profile: Option<&UserProfile>, lines: &[(String, String)]) -> Mail {
    let (device, item, vault) = names(profile, job);
    let status = status_name(job.status);
    let what = classification_name(job.classification);
    let subject = one_line(&format!("[Comet] {status}: {what} of \"{item}\" on {device} ({})", job.username));
    let facts = [
        ("User", job.username.clone()),
        ("Device", device),
        ("Protected item", item),
        ("Storage vault", vault),
        ("Status", format!("{status} ({})", job.status)),
        ("Started", crate::api::utc_time(job.start_time)),
        ("Ended", crate::api::utc_time(job.end_time)),
        ("Duration", human_duration(job.end_time - job.start_time)),
        ("Files", job.totals.files.to_string()),
        ("Size", human_bytes(job.totals.size)),
        ("Uploaded", human_bytes(job.totals.upload_size)),
        ("Snapshot", if job.snapshot_id.is_empty() { "none".into() } else { job.snapshot_id.clone() }),
    ];
    let problems: Vec<&(String, String)> = lines.iter().filter(|(s, _)| s == "W" || s == "E").collect();
    let mut text = format!("The {what} of job {} ended: {status}.\n\n", job.id);
    let mut html = format!(
        "<html><body><p>The {what} of job <code>{}</code> ended: <b>{}</b>.</p><table>",
        escape(&job.id),
        escape(&status)
    );
    for (name, value) in &facts {
        let _ = writeln!(text, "{name}: {value}");
        let _ = write!(html, "<tr><th align=\"left\">{name}</th><td>{}</td></tr>", escape(value));
    }
    html.push_str("</table>");
    if !problems.is_empty() {
        text.push_str("\nWarnings and errors:\n");
        html.push_str("<p>Warnings and errors:</p><ul>");
        for (severity, message) in problems.iter().take(MAX_LINES) {
            let _ = writeln!(text, "  {severity} {message}");
            let _ = write!(html, "<li>{} {}</li>", escape(severity), escape(message));
        }
        if problems.len() > MAX_LINES {
            let more = problems.len() - MAX_LINES;
            let _ = writeln!(text, "  … and {more} more");
            let _ = write!(html, "<li>… and {more} more</li>");
        }
        html.push_str("</ul>");
    }
    html.push_str("</body></html>");
    Mail { subject, text, html }
}

/// Sends the mails a finished job calls for, by its user's report rules. Meant to be spawned
/// (`tokio::spawn`) when a job ends: it logs its failures and returns nothing.
pub async fn job_finished(db: Db, mailer: Arc<Mailer>, organization_id: String, job_id: String) {
    if let Err(e) = send_job_mails(&db, &mailer, &organization_id, &job_id).await {
        tracing::warn!("e-mail report of job {job_id}: {e}");
    }
}

async fn send_job_mails(db: &Db, mailer: &Mailer, org: &str, job_id: &str) -> Result<(), String> {
    let job = db.job(job_id, org).await.map_err(|e| e.to_string())?.ok_or("the job is gone")?;
    let Some((profile, _)) = db.profile(&job.username, org).await.map_err(|e| e.to_string())? else {
        return Ok(());
    };
    let mut recipient_sets: Vec<Vec<String>> = Vec::new();
    for rule in profile.email_reports.iter().filter(|r| r.report_type == EMAIL_REPORT_IMMEDIATE) {
        if !rule.statuses.is_empty() && !rule.statuses.contains(&job.status) {
            continue;
        }
        let mut to = if rule.recipients.is_empty() { profile.emails.clone() } else { rule.recipients.clone() };
        to.sort();
        to.dedup();
        if !to.is_empty() && !recipient_sets.contains(&to) {
            recipient_sets.push(to);
        }
    }
    if recipient_sets.is_empty() {
        return Ok(());
    }
    let lines: Vec<(String, String)> = db
        .job_log(job_id, org)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|row| (row.severity, row.message))
        .collect();
    let mail = job_mail(&job, Some(&profile), &lines);
    // One failed delivery does not keep the other recipients from theirs.
    let mut failures = Vec::new();
    for to in recipient_sets {
        match mailer.send(&to, &mail).await {
            Ok(()) => tracing::info!("e-mailed the report of job {job_id} to {}", to.join(", ")),
            Err(e) => failures.push(format!("to {}: {e}", to.join(", "))),
        }
    }
    if failures.is_empty() { Ok(()) } else { Err(failures.join("; ")) }
}

/// A summary of `jobs` (the last 24 hours).
pub fn summary_mail(title: &str, jobs: &[JobRecord], profiles: &[UserProfile]) -> Mail {
    let mut counts: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for job in jobs {
        *counts.entry(status_name(job.status)).or_default() += 1;
    }
    let totals: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    let overview = if jobs.is_empty() { "no jobs".to_owned() } else { totals.join(", ") };
    let subject = one_line(&format!("[Comet] {title}: {overview}"));
    let mut text = format!("{title}, the last 24 hours: {overview}.\n\n");
    let mut html = format!(
        "<html><body><p>{}, the last 24 hours: {}.</p><table><tr><th>Started</th><th>User</th><th>Device</th>\
         <th>Item</th><th>Status</th><th>Size</th></tr>",
        escape(title),
        escape(&overview)
    );
    for job in jobs {
        let profile = profiles.iter().find(|p| p.username == job.username);
        let (device, item, _) = names(profile, job);
        let status = status_name(job.status);
        let started = crate::api::utc_time(job.start_time);
        let size = human_bytes(job.totals.size);
        let _ = writeln!(text, "{started}  {}  {device}  {item}  {status}  {size}", job.username);
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&started),
            escape(&job.username),
            escape(&device),
            escape(&item),
            escape(&status),
            escape(&size)
        );
    }
    html.push_str("</table></body></html>");
    Mail { subject, text, html }
}

/// Sends the daily summaries whose hour has come and that were not sent today.
pub async fn send_due_summaries(db: &Db, mailer: &Mailer, org: &str, now: i64) -> DbResult<()> {
    let day = now.div_euclid(86_400);
    let hour = u32::try_from(now.rem_euclid(86_400) / 3600).unwrap_or(0);
    let since = now - 86_400;
    let recent: Vec<JobRecord> = db.list_jobs(org, JobList::StartedBetween { start: since, end: now + 1 }).await?;
    let profiles = db.list_profiles(org).await?;
    for profile in &profiles {
        for (index, rule) in profile.email_reports.iter().enumerate() {
            if rule.report_type != EMAIL_REPORT_SUMMARY || rule.summary_hour > hour {
                continue;
            }
            let to = if rule.recipients.is_empty() { profile.emails.clone() } else { rule.recipients.clone() };
            if to.is_empty() {
                // Nobody to send it to (no address in the profile): nothing to claim either.
                continue;
            }
            let index = i64::try_from(index).unwrap_or(i64::MAX);
            if !db.claim_summary(org, &profile.username, index, day).await? {
                continue;
            }
            let jobs: Vec<JobRecord> = recent.iter().filter(|j| j.username == profile.username).cloned().collect();
            let mail = summary_mail(&format!("Daily summary for {}", profile.username), &jobs, &profiles);
            if let Err(e) = mailer.send(&to, &mail).await {
                tracing::warn!("daily summary of {}: {e}", profile.username);
            }
        }
    }
    if !mailer.admin_recipients().is_empty()
        && mailer.config.admin_summary_hour <= hour
        && db.claim_summary(org, "", -1, day).await?
    {
        let mail = summary_mail("Daily summary of all devices", &recent, &profiles);
        if let Err(e) = mailer.send(mailer.admin_recipients(), &mail).await {
            tracing::warn!("administrators' daily summary: {e}");
        }
    }
    Ok(())
}

/// `AdminMetaSendTestEmail`.
pub async fn send_test(mailer: &Mailer, recipient: &str) -> Result<(), String> {
    let mail = Mail {
        subject: "[Comet] Test e-mail".into(),
        text: "This is a test e-mail from comet-server: e-mail reports can reach this address.\n".into(),
        html: "<html><body><p>This is a test e-mail from comet-server: e-mail reports can reach this address.</p>\
               </body></html>"
            .into(),
    };
    mailer.send(&[recipient.to_owned()], &mail).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use comet_protocol::agent::JobTotals;

    #[test]
    fn a_job_mail_says_what_happened_and_escapes_html() {
        let job = JobRecord {
            id: "0123".into(),
            username: "alice".into(),
            device_id: "dev1".into(),
            classification: 4001,
            status: 7002,
            start_time: 1_700_000_000,
            end_time: 1_700_000_125,
            source_id: "item1".into(),
            destination_id: "vault1".into(),
            totals: JobTotals { files: 3, size: 3 << 20, ..JobTotals::default() },
            ..JobRecord::default()
        };
        let mut profile = UserProfile::new("alice", "default", 0);
        profile.devices.insert(
            "dev1".into(),
            comet_protocol::profile::DeviceConfig { friendly_name: "laptop".into(), ..Default::default() },
        );
        profile.sources.insert(
            "item1".into(),
            comet_protocol::profile::SourceConfig { description: "Documents".into(), ..Default::default() },
        );
        let lines = vec![
            ("I".to_owned(), "started".to_owned()),
            ("E".to_owned(), "disk <script>alert(1)</script> full".to_owned()),
        ];
        let mail = job_mail(&job, Some(&profile), &lines);
        assert_eq!(mail.subject, "[Comet] Error: backup of \"Documents\" on laptop (alice)");
        assert!(
            mail.text.contains("Device: laptop") && mail.text.contains("Files: 3") && mail.text.contains("3.0 MiB")
        );
        assert!(mail.text.contains("E disk <script>alert(1)</script> full") && !mail.text.contains("started"));
        assert!(mail.text.contains("Duration: 2 min 5 s"));
        assert!(!mail.html.contains("<script>") && mail.html.contains("&lt;script&gt;"));
    }

    #[test]
    fn a_job_mail_quotes_at_most_50_warning_and_error_lines() {
        let job = JobRecord { status: 7001, classification: 4002, end_time: 3 * 3600 + 12, ..JobRecord::default() };
        let mut lines = vec![("D".to_owned(), "debug".to_owned()), ("I".to_owned(), "info".to_owned())];
        lines.extend((0..60).map(|n| (if n % 2 == 0 { "W" } else { "E" }.to_owned(), format!("line {n}"))));
        let mail = job_mail(&job, None, &lines);
        assert!(mail.text.contains("W line 0\n") && mail.text.contains("E line 49\n"), "{}", mail.text);
        assert!(!mail.text.contains("line 50") && !mail.text.contains("debug") && !mail.text.contains("info"));
        assert!(mail.text.contains("… and 10 more") && mail.html.contains("… and 10 more"));
        assert!(mail.text.contains("Duration: 3 h 0 min 12 s"), "{}", mail.text);
        // No profile: ids stand in for the names.
        assert_eq!(mail.subject, "[Comet] Warning: restore of \"\" on  ()");
    }

    #[test]
    fn a_subject_stays_on_one_line() {
        let job = JobRecord {
            status: 7002,
            username: "bob".into(),
            source_id: "a\r\nBcc: x@y".into(),
            ..JobRecord::default()
        };
        let mail = job_mail(&job, None, &[]);
        assert_eq!(mail.subject, "[Comet] Error: job of \"a  Bcc: x@y\" on  (bob)");
        assert!(!mail.text.contains("Warnings and errors"));
    }

    #[test]
    fn a_summary_counts_statuses_and_escapes_names() {
        let job = |status, username: &str| JobRecord {
            status,
            username: username.into(),
            device_id: "<b>dev</b>".into(),
            totals: JobTotals { size: 1536, ..JobTotals::default() },
            ..JobRecord::default()
        };
        let jobs = [job(5000, "alice"), job(7002, "alice"), job(5000, "bob")];
        let mail = summary_mail("Daily summary of all devices", &jobs, &[]);
        assert_eq!(mail.subject, "[Comet] Daily summary of all devices: 1 Error, 2 Success");
        assert_eq!(mail.text.lines().filter(|l| l.contains("1.5 KiB")).count(), 3, "{}", mail.text);
        assert!(mail.html.contains("&lt;b&gt;dev&lt;/b&gt;") && !mail.html.contains("<b>dev"));
        assert_eq!(
            summary_mail("Daily summary for carol", &[], &[]).subject,
            "[Comet] Daily summary for carol: no jobs"
        );
    }

    #[test]
    fn sizes_in_human_units() {
        assert_eq!(human_bytes(0), "0 bytes");
        assert_eq!(human_bytes(1023), "1023 bytes");
        assert_eq!(human_bytes(1024), "1.0 KiB");
        assert_eq!(human_bytes(5 << 30), "5.0 GiB");
        assert_eq!(human_bytes(u64::MAX), "16777216.0 TiB");
    }
}
