//! The managed agent: a device logged in to a Comet server, running the protected items of its
//! account's profile as jobs the server records.
//!
//! ```text
//! login prompt / --token ──register──▶ server: device token (saved, 0600, with the wrapping key)
//! backup --item ─ get-profile ─ job-start ─ init-vault (first time) ─ engine ─ job-log… ─ job-end
//! ```
//!
//! The password never leaves the device: [`AccountSecrets`] turns it into a login secret
//! (sent once, at login) and a wrapping key (kept here, opens the vault secrets of the profile).

mod home;
mod job;
mod vault;

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use comet_core::{BackupProgress, FilterOptions, RestoreOptions, RestoreProgress};
use comet_protocol::JobStatus;
use comet_protocol::account::{AccountSecrets, InstallToken, unwrap_with, wrap_with};
use comet_protocol::agent::{
    ChangePassword, ChangePasswordRequest, Credentials as Proof, DeviceInfo, Disconnect, ErrorCode, Hello,
    HelloRequest, JobProgress, JobStartRequest, JobTotals, ProfileUpdated, Register, RegisterRequest,
    SetProfileRequest, Severity, classification,
};
use comet_protocol::client::AgentClient;
use comet_protocol::profile::SourceConfig;
use serde::Serialize;
use zeroize::Zeroizing;

use self::home::{Credentials, Home};
use self::job::Job;
use self::vault::{ensure_vault, fetch_profile, find_destination, find_item};
use crate::cli::{BackupArgs, InfoArgs, InfoCommand, LoginArgs, LoginCommand, RestoreArgs};
use crate::context::Context;
use crate::error::{Error, Outcome, Result, display_chain};
use crate::output::Printer;
use crate::progress;

/// This agent's version, as reported to the server.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// How far the device's clock may be from the server's before a warning.
const CLOCK_SKEW_WARNING_SECS: i64 = 300;

fn platform() -> String {
    format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH)
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Says hello: checks that the server speaks our protocol and that the clocks agree.
async fn hello(client: &AgentClient) -> Result<()> {
    let reply = client.call::<Hello>(&HelloRequest { agent_version: VERSION.into() }).await?;
    let skew = reply.server_time - now_secs();
    if skew.abs() > CLOCK_SKEW_WARNING_SECS {
        eprintln!(
            "warning: this device's clock is {} s {} the server's; devices sharing a vault must agree on the time",
            skew.abs(),
            if skew > 0 { "behind" } else { "ahead of" }
        );
    }
    Ok(())
}

/// Four lines: user name, password, server URL, device name.
struct Prompted {
    username: String,
    password: Zeroizing<String>,
    server: String,
    device_name: String,
}

fn read_login_lines() -> Result<Prompted> {
    let stdin = std::io::stdin();
    let terminal = stdin.is_terminal();
    let mut lines = stdin.lock();
    let mut ask = |question: &str, secret: bool| -> Result<Zeroizing<String>> {
        if terminal && secret {
            return rpassword::prompt_password(question)
                .map(Zeroizing::new)
                .map_err(|e| Error::Password(format!("reading it from the terminal: {e}")));
        }
        if terminal {
            eprint!("{question}");
            let _ = std::io::stderr().flush();
        }
        let mut line = Zeroizing::new(String::new());
        let read = lines.read_line(&mut line).map_err(|e| Error::Io { path: "standard input".into(), source: e })?;
        if read == 0 {
            return Err(Error::Usage(
                "login prompt reads four lines: user name, password, server URL, device name (may be empty)".into(),
            ));
        }
        let trimmed = Zeroizing::new(line.trim_end_matches(['\n', '\r']).to_owned());
        Ok(trimmed)
    };
    let username = ask("User name: ", false)?.trim().to_owned();
    let password = ask("Password: ", true)?;
    let server = ask("Server URL: ", false)?.trim().to_owned();
    // The device name may be left out (end of input): the host name is used.
    let device_name = match ask("Device name [host name]: ", false) {
        Ok(name) => name.trim().to_owned(),
        Err(Error::Usage(_)) => String::new(),
        Err(e) => return Err(e),
    };
    Ok(Prompted { username, password, server, device_name })
}

#[derive(Serialize)]
struct LoginReport<'a> {
    state: &'a str,
    server: Option<&'a str>,
    username: Option<&'a str>,
    device_id: Option<&'a str>,
    device_name: Option<&'a str>,
}

/// `login`.
pub(crate) async fn login(_context: &Context, args: &LoginArgs, printer: &mut Printer<'_>) -> Result<Outcome> {
    let home = Home::locate()?;
    match &args.command {
        Some(LoginCommand::Prompt) => {
            let p = read_login_lines()?;
            let name = args.name.clone().filter(|n| !n.is_empty()).unwrap_or(p.device_name);
            let secrets = {
                let (username, password) = (p.username.clone(), p.password.clone());
                tokio::task::spawn_blocking(move || AccountSecrets::derive(&username, password.as_bytes()))
                    .await
                    .expect("key derivation does not panic")
            };
            let proof = Proof::Password { username: p.username.clone(), login_secret: secrets.login_secret.clone() };
            register(&home, &p.server, proof, secrets.wrapping_key, name, printer).await
        }
        Some(LoginCommand::Status) => status(&home, printer).await,
        Some(LoginCommand::Disconnect) => disconnect(&home, printer).await,
        Some(LoginCommand::ChangePassword { new_password_file }) => {
            change_password(&home, new_password_file.as_deref(), printer).await
        }
        None => {
            let (Some(token), Some(server)) = (&args.token, &args.server) else {
                return Err(Error::Usage(
                    "give `login prompt`, `login status`, `login disconnect` or `login --token TOKEN --server URL`"
                        .into(),
                ));
            };
            let token = InstallToken::parse(token)
                .ok_or_else(|| Error::Usage("not an install token (CT1.<32 hex>.<64 hex>)".into()))?;
            let proof = Proof::InstallToken { token: token.server_part.clone() };
            register(&home, server, proof, token.wrapping_key, args.name.clone().unwrap_or_default(), printer).await
        }
    }
}

async fn register(
    home: &Home,
    server: &str,
    proof: Proof,
    wrapping_key: [u8; 32],
    device_name: String,
    printer: &mut Printer<'_>,
) -> Result<Outcome> {
    let wrapping_key = Zeroizing::new(wrapping_key);
    let client = AgentClient::new(server)?;
    hello(&client).await?;
    let device_id = home.device_id()?;
    let device_name = if device_name.is_empty() { comet_core::snapshot::hostname() } else { device_name };
    let request = RegisterRequest {
        credentials: proof,
        device_id: device_id.clone(),
        device: DeviceInfo { friendly_name: device_name.clone(), platform: platform(), client_version: VERSION.into() },
    };
    let registered = client.call::<Register>(&request).await?;
    let credentials = Credentials {
        server_url: client.server_url().to_owned(),
        username: registered.username.clone(),
        organization_id: registered.organization_id,
        device_id: device_id.clone(),
        device_name: device_name.clone(),
        device_token: registered.device_token,
        wrapping_key: hex::encode(*wrapping_key),
    };
    home.save_credentials(&credentials)?;
    if printer.json {
        printer.json(&LoginReport {
            state: "logged in",
            server: Some(&credentials.server_url),
            username: Some(&credentials.username),
            device_id: Some(&device_id),
            device_name: Some(&device_name),
        })?;
    } else {
        printer.line(format_args!(
            "logged in to {} as {}; this device is {device_name:?} ({device_id})",
            credentials.server_url, credentials.username
        ))?;
    }
    Ok(Outcome::Success)
}

async fn status(home: &Home, printer: &mut Printer<'_>) -> Result<Outcome> {
    let Some(c) = home.credentials()? else {
        if printer.json {
            printer.json(&LoginReport {
                state: "logged out",
                server: None,
                username: None,
                device_id: None,
                device_name: None,
            })?;
        } else {
            printer.line("logged out")?;
        }
        return Err(Error::Managed(format!("this device is not logged in ({})", home.dir().display())));
    };
    let client = AgentClient::new(&c.server_url)?.with_token(&c.device_token);
    let (state, problem) = match fetch_profile(&client).await {
        Ok(_) => ("logged in", None),
        Err(Error::Client(e)) if e.code() == Some(ErrorCode::Revoked) => ("revoked", Some(e.to_string())),
        Err(Error::Client(e)) if e.code() == Some(ErrorCode::Unauthorized) => {
            ("logged out by the server", Some(e.to_string()))
        }
        Err(e) => ("connection error", Some(display_chain(&e))),
    };
    if printer.json {
        printer.json(&LoginReport {
            state,
            server: Some(&c.server_url),
            username: Some(&c.username),
            device_id: Some(&c.device_id),
            device_name: Some(&c.device_name),
        })?;
    } else {
        printer.line(format_args!(
            "{state}: server {}, user {}, device {:?} ({})",
            c.server_url, c.username, c.device_name, c.device_id
        ))?;
    }
    match problem {
        None => Ok(Outcome::Success),
        Some(problem) => Err(Error::Managed(problem)),
    }
}

async fn disconnect(home: &Home, printer: &mut Printer<'_>) -> Result<Outcome> {
    let Some(c) = home.credentials()? else {
        printer.line("this device was not logged in")?;
        return Ok(Outcome::Success);
    };
    let client = AgentClient::new(&c.server_url)?.with_token(&c.device_token);
    if let Err(e) = client.call::<Disconnect>(&()).await {
        // The credentials go anyway: the user asked to log out.
        eprintln!("warning: the server was not told ({e}); the device token stays valid until revoked there");
    }
    home.remove_credentials()?;
    printer.line(format_args!("logged out of {}", c.server_url))?;
    Ok(Outcome::Success)
}

/// Re-wraps one wrapped secret from `old` to `new` (left as it is if it already opens with
/// `new`: another device of the account got there first).
fn rewrap(old: &[u8; 32], new: &[u8; 32], context: &str, wrapped: &mut String) -> std::result::Result<(), String> {
    if wrapped.is_empty() || unwrap_with(new, context, wrapped).is_ok() {
        return Ok(());
    }
    let secret = Zeroizing::new(unwrap_with(old, context, wrapped).map_err(|e| e.to_string())?);
    *wrapped = wrap_with(new, context, &secret);
    Ok(())
}

async fn change_password(home: &Home, file: Option<&std::path::Path>, printer: &mut Printer<'_>) -> Result<Outcome> {
    let mut c = home.require_credentials()?;
    let client = AgentClient::new(&c.server_url)?.with_token(&c.device_token);
    let new_password = crate::password::read_new_password(file)?;
    let secrets = {
        let username = c.username.clone();
        tokio::task::spawn_blocking(move || AccountSecrets::derive(&username, &new_password))
            .await
            .expect("key derivation does not panic")
    };
    let old_key = c.wrapping_key()?;
    for _ in 0..5 {
        let (mut profile, hash) = fetch_profile(&client).await?;
        let (mut kept, mut rewrapped) = (Vec::new(), 0);
        for (id, d) in &mut profile.destinations {
            if !d.is_initialised() {
                continue;
            }
            let mut problem = None;
            for (field, wrapped) in
                [("vault-secret", &mut d.wrapped_vault_secret), ("access-key", &mut d.wrapped_access_key)]
            {
                if let Err(e) = rewrap(&old_key, &secrets.wrapping_key, &vault::context(id, field), wrapped) {
                    problem = Some(e);
                }
            }
            match problem {
                None => rewrapped += 1,
                Some(e) => kept.push(format!("{:?} ({e})", d.description)),
            }
        }
        let request = ChangePasswordRequest {
            new_login_secret: secrets.login_secret.clone(),
            profile: SetProfileRequest { require_hash: hash, profile_json: profile.to_json() },
        };
        match client.call::<ChangePassword>(&request).await? {
            ProfileUpdated::Updated { .. } => {
                c.wrapping_key = hex::encode(secrets.wrapping_key);
                home.save_credentials(&c)?;
                for vault in &kept {
                    eprintln!(
                        "warning: storage vault {vault} could not be re-wrapped: this device's key does not open it"
                    );
                }
                printer.line(format_args!(
                    "password changed for {}; {rewrapped} storage vault secrets re-wrapped. Other devices keep \
                     working; log them in again to use the new password there",
                    c.username
                ))?;
                return Ok(if kept.is_empty() { Outcome::Success } else { Outcome::Warnings });
            }
            ProfileUpdated::Conflict => {}
        }
    }
    Err(Error::Managed("the profile kept changing while the password was being changed: try again".into()))
}

/// `info`.
pub(crate) fn info(args: &InfoArgs, printer: &mut Printer<'_>) -> Result<Outcome> {
    match args.command {
        InfoCommand::DeviceId => {
            let id = Home::locate()?.device_id()?;
            if printer.json {
                printer.json(&serde_json::json!({ "device_id": id }))?;
            } else {
                printer.line(id)?;
            }
        }
    }
    Ok(Outcome::Success)
}

/// A logged-in device's client.
async fn connect() -> Result<(Credentials, AgentClient)> {
    let credentials = Home::locate()?.require_credentials()?;
    let client = AgentClient::new(&credentials.server_url)?.with_token(&credentials.device_token);
    hello(&client).await?;
    Ok((credentials, client))
}

/// Comet's engine properties of a files-and-folders item: `INCLUDE<n>` paths, `EXCLUDE<n>`
/// globs, `REXCLUDE<n>` regular expressions.
fn item_paths_and_filter(item: &SourceConfig) -> (Vec<std::path::PathBuf>, FilterOptions) {
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

/// Ends `job` after `result`: the status, sizes and snapshot on success; the error lines on
/// failure. A failure to report does not hide the job's own error.
async fn finish<T>(
    job: Job,
    result: Result<Option<(T, JobStatus, JobTotals, String)>>,
) -> Result<Option<(T, JobStatus)>> {
    match result {
        Ok(Some((value, status, totals, snapshot))) => {
            job.end(status, totals, &snapshot).await?;
            Ok(Some((value, status)))
        }
        Ok(None) => {
            job.log(Severity::Warning, "Cancelled on request");
            job.end(JobStatus::Cancelled, JobTotals::default(), "").await?;
            Ok(None)
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

/// `backup --item`.
pub(crate) async fn backup_item(
    context: &Context,
    item_ref: &str,
    args: &BackupArgs,
    printer: &mut Printer<'_>,
) -> Result<Outcome> {
    let (credentials, client) = connect().await?;
    let (profile, _) = fetch_profile(&client).await?;
    let (item_id, item) = find_item(&profile, item_ref)?;
    let (item_id, item) = (item_id.to_owned(), item.clone());
    if !item.owner_device.is_empty() && item.owner_device != credentials.device_id {
        return Err(Error::Managed(format!(
            "protected item {:?} belongs to device {}: run it there (this is {})",
            item.description, item.owner_device, credentials.device_id
        )));
    }
    let destination_id = find_destination(&profile, &item_id, args.destination.as_deref())?;
    let destination_name = profile.destinations[&destination_id].description.clone();
    let job = Job::start(
        &client,
        JobStartRequest {
            classification: classification::BACKUP,
            source_id: item_id.clone(),
            destination_id: destination_id.clone(),
            backup_rule_id: String::new(),
            client_version: VERSION.into(),
        },
    )
    .await?;
    job.log(
        Severity::Info,
        format!(
            "Backup of {:?} to storage vault {destination_name:?} started on device {:?} (agent {VERSION}, {})",
            item.description,
            credentials.device_name,
            platform()
        ),
    );
    let run = async {
        let (paths, filter) = item_paths_and_filter(&item);
        if paths.is_empty() {
            return Err(Error::Managed(format!("protected item {:?} includes no path", item.description)));
        }
        let wrapping_key = credentials.wrapping_key()?;
        let opened = ensure_vault(&client, &destination_id, &wrapping_key).await?;
        let repo = opened.repository().await?;
        let repo = match context.cache_root() {
            Some(dir) => repo.with_cache(&dir),
            None => repo,
        };
        let mut repo = repo.load_index().await?;
        let mut options = crate::commands::backup_options(args);
        options.paths = paths;
        options.filter.exclude.extend(filter.exclude);
        options.filter.exclude_regex.extend(filter.exclude_regex);
        options.device_id = Some(credentials.device_id.clone());
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
        let ticker = context.show_progress().then(|| progress::backup(&live));
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
    let result = run.await;
    let job_id = job.id().to_owned();
    match finish(job, result).await? {
        Some((backup, _)) => {
            if context.chatty() {
                eprintln!("job {job_id} reported to {}", credentials.server_url);
            }
            crate::commands::print_backup(context, &backup, printer)
        }
        None => Err(Error::Managed(format!("job {job_id} was cancelled"))),
    }
}

/// `restore --item`.
pub(crate) async fn restore_item(
    context: &Context,
    item_ref: &str,
    args: &RestoreArgs,
    printer: &mut Printer<'_>,
) -> Result<Outcome> {
    let started = comet_core::snapshot::now_ns();
    let (credentials, client) = connect().await?;
    let (profile, _) = fetch_profile(&client).await?;
    let (item_id, item) = find_item(&profile, item_ref)?;
    let (item_id, item) = (item_id.to_owned(), item.clone());
    let destination_id = find_destination(&profile, &item_id, args.destination.as_deref())?;
    let Some(destination) = profile.destinations.get(&destination_id).filter(|d| d.is_initialised()) else {
        return Err(Error::Managed(format!("storage vault {destination_id} holds no backup yet")));
    };
    let destination_name = destination.description.clone();
    let job = Job::start(
        &client,
        JobStartRequest {
            classification: classification::RESTORE,
            source_id: item_id.clone(),
            destination_id: destination_id.clone(),
            backup_rule_id: String::new(),
            client_version: VERSION.into(),
        },
    )
    .await?;
    job.log(
        Severity::Info,
        format!(
            "Restore of {:?} from storage vault {destination_name:?} started on device {:?} (agent {VERSION})",
            item.description, credentials.device_name
        ),
    );
    let run = async {
        let wrapping_key = credentials.wrapping_key()?;
        let opened = ensure_vault(&client, &destination_id, &wrapping_key).await?;
        let repo = opened.repository().await?;
        let repo = match context.cache_root() {
            Some(dir) => repo.with_cache(&dir),
            None => repo,
        };
        let mut snapshots: Vec<_> = repo
            .snapshots()
            .await?
            .into_iter()
            .filter(|(_, s)| s.protected_item.as_deref() == Some(item_id.as_str()))
            .collect();
        snapshots.sort_by_key(|(_, s)| s.time_ns);
        let (id, snap) = match args.snapshot.as_deref() {
            None | Some("latest") => snapshots.pop().ok_or_else(|| {
                Error::Managed(format!("protected item {:?} has no snapshot in this vault", item.description))
            })?,
            Some(prefix) => {
                let found = repo.find_snapshot(prefix).await?;
                if found.1.protected_item.as_deref() != Some(item_id.as_str()) {
                    return Err(Error::Managed(format!(
                        "snapshot {} is not of protected item {:?}",
                        found.0.short(),
                        item.description
                    )));
                }
                found
            }
        };
        job.log(
            Severity::Info,
            format!("Restoring snapshot {} of {}", id.short(), comet_core::snapshot::format_time(snap.time_ns)),
        );
        let repo = repo.load_index().await?;
        let live = Arc::new(RestoreProgress::default());
        let options =
            args.include.iter().fold(RestoreOptions::new(&args.target), RestoreOptions::include).progress(live.clone());
        job.set_progress({
            let live = live.clone();
            Arc::new(move || JobProgress { bytes_done: live.bytes_done.load(Ordering::Relaxed), items_done: 0 })
        });
        let ticker = context.show_progress().then(|| progress::restore(&live));
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
    let result = run.await;
    let job_id = job.id().to_owned();
    match finish(job, result).await? {
        Some(((id, restored), _)) => crate::commands::print_restore(id, &args.target, &restored, started, printer),
        None => Err(Error::Managed(format!("job {job_id} was cancelled"))),
    }
}
