//! Server-wide administrator methods of the web interface's settings page: the configuration
//! (read-only: the file is the administrator's and comet-server never rewrites it), the
//! settings kept in the database (editable), and the daily log files.

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use comet_protocol::api::ApiResponse;
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiResult, AppState, Caller, Fields, field, ok_json};

/// The methods of this module.
pub(super) const METHODS: &[&str] = &[
    "meta/server-config/get",
    "meta/settings/get",
    "meta/settings/set",
    "meta/list-available-log-days",
    "meta/read-logs",
];

/// Prefix of the daily log files (`tracing_appender::rolling::daily` adds `.YYYY-MM-DD`).
pub(crate) const LOG_FILE_PREFIX: &str = "comet-server.log";

/// At most this much of a log file is answered (its end).
const MAX_LOG_ANSWER: u64 = 8 * 1024 * 1024;

/// Settings edited from the web interface, one document per organization.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct ServerSettings {
    /// The dashboard lists devices without a successful backup for this many days (1 to 365).
    pub stale_device_days: u32,
    /// Agents older than this are "outdated" on the dashboard; empty: this server's version.
    pub minimum_agent_version: String,
    /// Name shown in the interface's header; empty: "Comet".
    pub brand_name: String,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self { stale_device_days: 3, minimum_agent_version: String::new(), brand_name: String::new() }
    }
}

impl ServerSettings {
    fn problem(&self) -> Option<String> {
        if !(1..=365).contains(&self.stale_device_days) {
            return Some("StaleDeviceDays is 1 to 365".into());
        }
        let v = &self.minimum_agent_version;
        if !v.is_empty()
            && (v.len() > 32 || !v.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())))
        {
            return Some("MinimumAgentVersion is empty or numbers with dots, such as 0.2.0".into());
        }
        if self.brand_name.chars().count() > 60 || self.brand_name.chars().any(char::is_control) {
            return Some("BrandName has at most 60 characters, on one line".into());
        }
        None
    }
}

/// `meta/server-config/get`: the configuration in force, with every password and secret key
/// replaced by `(set)`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ServerConfigView {
    config: serde_json::Value,
    path: String,
    data_dir: String,
}

fn redact(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                let k = key.to_ascii_lowercase();
                if (k.contains("password") || k.contains("secret")) && !v.is_null() {
                    *v = serde_json::Value::String("(set)".into());
                } else {
                    redact(v);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// The day (`YYYY-MM-DD`) of a daily log file's name.
fn log_day(name: &str) -> Option<i64> {
    let day = name.strip_prefix(LOG_FILE_PREFIX)?.strip_prefix('.')?;
    let date: jiff::civil::Date = day.parse().ok()?;
    Some(date.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp().as_second())
}

/// Carries out a `meta/...` method of this module.
pub(super) async fn method(state: &AppState, caller: &Caller, method: &str, fields: &Fields) -> ApiResult {
    let org = caller.organization.as_str();
    match method {
        "meta/server-config/get" => {
            let mut config = serde_json::to_value(&state.config).map_err(|e| ApiError::bad_request(e.to_string()))?;
            redact(&mut config);
            ok_json(&ServerConfigView {
                config,
                path: state.data_dir.join(crate::config::CONFIG_FILE_NAME).display().to_string(),
                data_dir: state.data_dir.display().to_string(),
            })
        }
        "meta/settings/get" => ok_json(&settings(state, org).await?),
        "meta/settings/set" => {
            let mut settings = settings(state, org).await?;
            if let Some(days) = fields.get("StaleDeviceDays") {
                settings.stale_device_days =
                    days.trim().parse().map_err(|_| ApiError::bad_request("StaleDeviceDays is a number"))?;
            }
            if let Some(v) = fields.get("MinimumAgentVersion") {
                settings.minimum_agent_version = v.trim().to_owned();
            }
            if let Some(v) = fields.get("BrandName") {
                settings.brand_name = v.trim().to_owned();
            }
            if let Some(problem) = settings.problem() {
                return Err(ApiError::bad_request(problem));
            }
            let json = serde_json::to_string(&settings).expect("settings serialise");
            state.db.set_settings(org, &json).await?;
            tracing::info!("admin {} changed the server settings: {json}", caller.username);
            ok_json(&ApiResponse::ok())
        }
        "meta/list-available-log-days" => {
            let dir = state.config.log_dir(&state.data_dir);
            let mut days = Vec::new();
            if let Ok(mut entries) = tokio::fs::read_dir(&dir).await {
                while let Ok(Some(entry)) = entries.next_entry().await {
                    if let Some(day) = log_day(&entry.file_name().to_string_lossy()) {
                        days.push(day);
                    }
                }
            }
            days.sort_unstable();
            ok_json(&days)
        }
        "meta/read-logs" => {
            let day: i64 =
                field(fields, "Log")?.parse().map_err(|_| ApiError::bad_request("Log is a day's timestamp"))?;
            let date = jiff::Timestamp::from_second(day)
                .map_err(|_| ApiError::bad_request("Log is out of range"))?
                .to_zoned(jiff::tz::TimeZone::UTC)
                .date();
            let path = state.config.log_dir(&state.data_dir).join(format!("{LOG_FILE_PREFIX}.{date}"));
            let text = read_tail(&path, MAX_LOG_ANSWER)
                .await
                .map_err(|_| ApiError::not_found(format!("no log file for {date}")))?;
            Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
        }
        _ => Err(ApiError::new(StatusCode::NOT_FOUND, format!("no admin method {method:?}"))),
    }
}

/// The organization's settings (defaults until saved once).
pub(crate) async fn settings(state: &AppState, org: &str) -> Result<ServerSettings, ApiError> {
    Ok(state.db.settings(org).await?.and_then(|json| serde_json::from_str(&json).ok()).unwrap_or_default())
}

/// The last `max` bytes of a file, as text (a cut first line is dropped).
async fn read_tail(path: &std::path::Path, max: u64) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};
    let mut file = tokio::fs::File::open(path).await?;
    let len = file.metadata().await?.len();
    let start = len.saturating_sub(max);
    file.seek(std::io::SeekFrom::Start(start)).await?;
    let mut bytes = Vec::new();
    file.take(max).read_to_end(&mut bytes).await?;
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    if start > 0
        && let Some(newline) = text.find('\n')
    {
        text.replace_range(..=newline, "");
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_days_come_from_file_names() {
        assert_eq!(log_day("comet-server.log.2026-11-22"), Some(1_795_305_600));
        for other in ["comet-server.log", "comet-server.log.2026-13-01", "other.log.2026-11-22", "comet-server.log.x"] {
            assert_eq!(log_day(other), None, "{other}");
        }
    }

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let mut v = serde_json::json!({
            "smtp": {"password": "hunter2", "username": "u"},
            "storage": {"s3": [{"secret_access_key": "k", "bucket": "b"}]},
            "absent": {"password": null}
        });
        redact(&mut v);
        assert_eq!(v["smtp"]["password"], "(set)");
        assert_eq!(v["smtp"]["username"], "u");
        assert_eq!(v["storage"]["s3"][0]["secret_access_key"], "(set)");
        assert_eq!(v["storage"]["s3"][0]["bucket"], "b");
        assert!(v["absent"]["password"].is_null(), "an unset secret stays visibly unset");
    }

    #[test]
    fn settings_are_checked() {
        assert_eq!(ServerSettings::default().problem(), None);
        for bad in [
            ServerSettings { stale_device_days: 0, ..ServerSettings::default() },
            ServerSettings { minimum_agent_version: "1.x".into(), ..ServerSettings::default() },
            ServerSettings { brand_name: "a\nb".into(), ..ServerSettings::default() },
        ] {
            assert!(bad.problem().is_some(), "{bad:?}");
        }
    }
}
