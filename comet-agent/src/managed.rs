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

mod daemon;
mod home;
mod job;
mod run;
mod vault;

use std::io::{BufRead, IsTerminal, Write};

use comet_protocol::account::{AccountSecrets, InstallToken, unwrap_with, wrap_with};
use comet_protocol::agent::{
    ChangePassword, ChangePasswordRequest, Credentials as Proof, DeviceInfo, Disconnect, ErrorCode, Hello,
    HelloRequest, ProfileUpdated, Register, RegisterRequest, SetProfileRequest,
};
use comet_protocol::client::AgentClient;
use serde::Serialize;
use zeroize::Zeroizing;

pub(crate) use self::daemon::run as run_daemon;
use self::home::{Credentials, Home};
use self::run::{Ended, JobEnv, Kind, RestoreSpec, VERSION, platform};
use self::vault::fetch_profile;
use crate::cli::{BackupArgs, InfoArgs, InfoCommand, LoginArgs, LoginCommand, RestoreArgs};
use crate::context::Context;
use crate::error::{Error, Outcome, Result, display_chain};
use crate::output::Printer;

/// How far the device's clock may be from the server's before a warning.
const CLOCK_SKEW_WARNING_SECS: i64 = 300;

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

/// Four lines: user name, password, server URL, device name (and a fifth, the two-factor code,
/// when the server asks for it: [`read_second_factor`]).
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

/// The second factor of an account with two-factor sign-in: asked on a terminal, else the
/// fifth line of standard input.
fn read_second_factor() -> Result<Zeroizing<String>> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Code from your authenticator app (or a recovery code): ");
        let _ = std::io::stderr().flush();
    }
    let mut line = Zeroizing::new(String::new());
    let read = stdin.lock().read_line(&mut line).map_err(|e| Error::Io { path: "standard input".into(), source: e })?;
    let code = Zeroizing::new(line.trim().to_owned());
    if read == 0 || code.is_empty() {
        return Err(Error::Usage(
            "this account has two-factor sign-in: give a code from its authenticator app (or a recovery code) as a \
             fifth line"
                .into(),
        ));
    }
    Ok(code)
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
            match register(&home, &p.server, proof, secrets.wrapping_key, name.clone(), printer).await {
                Err(Error::Client(e)) if e.code() == Some(ErrorCode::TotpRequired) => {
                    // The account has two-factor sign-in: one more line, or a question.
                    let totp = read_second_factor()?;
                    let proof = Proof::PasswordTotp {
                        username: p.username.clone(),
                        login_secret: secrets.login_secret.clone(),
                        totp: totp.to_string(),
                    };
                    register(&home, &p.server, proof, secrets.wrapping_key, name, printer).await
                }
                other => other,
            }
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
async fn connect(context: &Context) -> Result<JobEnv> {
    let credentials = Home::locate()?.require_credentials()?;
    let client = AgentClient::new(&credentials.server_url)?.with_token(&credentials.device_token);
    hello(&client).await?;
    Ok(JobEnv { client, credentials, cache_root: context.cache_root(), show_progress: context.show_progress() })
}

/// `backup --item`.
pub(crate) async fn backup_item(
    context: &Context,
    item_ref: &str,
    args: &BackupArgs,
    printer: &mut Printer<'_>,
) -> Result<Outcome> {
    let env = connect(context).await?;
    let prepared = run::prepare(&env, item_ref, args.destination.as_deref(), Kind::Backup, "").await?;
    let job_id = prepared.job.id().to_owned();
    match run::run_backup(&env, prepared, crate::commands::backup_options(args)).await? {
        Ended::Done(backup) => {
            if context.chatty() {
                eprintln!("job {job_id} reported to {}", env.credentials.server_url);
            }
            crate::commands::print_backup(context, &backup, printer)
        }
        Ended::Cancelled => Err(Error::Managed(format!("job {job_id} was cancelled"))),
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
    let env = connect(context).await?;
    let prepared = run::prepare(&env, item_ref, args.destination.as_deref(), Kind::Restore, "").await?;
    let job_id = prepared.job.id().to_owned();
    let spec =
        RestoreSpec { snapshot: args.snapshot.clone(), target: args.target.clone(), include: args.include.clone() };
    match run::run_restore(&env, prepared, &spec).await? {
        Ended::Done((id, restored)) => crate::commands::print_restore(id, &args.target, &restored, started, printer),
        Ended::Cancelled => Err(Error::Managed(format!("job {job_id} was cancelled"))),
    }
}
