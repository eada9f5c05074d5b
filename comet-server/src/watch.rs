//! What the server notices by itself: jobs whose device went silent (Abandoned, 7007) and
//! scheduled runs that no job started (Missed, 7004). Called by the housekeeping loop.
//!
//! Missed runs are found with the same schedule function the agents use
//! (`comet_protocol::schedule`), in each device's time zone. A run at `T` is missed when no job
//! of its item and vault started between `T - 5 min` and `T + delay + missed_after_seconds`
//! (Comet's window, with the schedule's random delay added). Each run is judged once: the
//! server remembers until when it checked (`missed_checks`), and a restart goes on from there.

use comet_protocol::schedule::runs_between;

use crate::api::{AppState, now_secs};
use crate::auth::random_hex;
use crate::db::{DbResult, JobRecord, MissedRun};

/// How early a job may start and still count for a scheduled run.
const EARLY_SECS: i64 = 300;

/// Marks stale running jobs Abandoned; returns them.
pub async fn abandon_stale(state: &AppState, now: i64) -> DbResult<Vec<JobRecord>> {
    let stale_before = now - i64::from(state.config.jobs.abandon_after_seconds);
    let abandoned = state.db.abandon_stale_jobs(stale_before, now).await?;
    for job in &abandoned {
        tracing::warn!(
            "job {} of user {} on device {} abandoned: no news for {} s",
            job.id,
            job.username,
            job.device_id,
            state.config.jobs.abandon_after_seconds
        );
    }
    Ok(abandoned)
}

/// Records a Missed job for every scheduled run, judged since the last check, that no job
/// started; returns their ids.
pub async fn record_missed(state: &AppState, now: i64) -> DbResult<Vec<String>> {
    let org = state.config.organization_id.as_str();
    let grace = i64::from(state.config.jobs.missed_after_seconds);
    let to = now - grace;
    let Some(from) = state.db.missed_checked_until(org).await? else {
        // First start: nothing before now is judged.
        state.db.set_missed_checked_until(org, to).await?;
        return Ok(Vec::new());
    };
    if to <= from {
        return Ok(Vec::new());
    }
    let mut missed = Vec::new();
    for profile in state.db.list_profiles(org).await? {
        for (rule_id, rule) in &profile.backup_rules {
            let Some(source) = profile.sources.get(&rule.source) else { continue };
            let Some(device) = profile.devices.get(&source.owner_device) else { continue };
            for schedule in &rule.schedules {
                let delay = i64::from(schedule.random_delay_secs);
                // Runs are judged once their whole window has passed: shift by the delay.
                let runs = match runs_between(schedule, &device.device_timezone, from - delay, to - delay) {
                    Ok(runs) => runs,
                    Err(e) => {
                        tracing::warn!("schedule {rule_id} of user {}: {e}", profile.username);
                        continue;
                    }
                };
                for time in runs {
                    let window = (time - EARLY_SECS, time + delay + grace);
                    let started = state
                        .db
                        .job_started_between(
                            org,
                            &profile.username,
                            &rule.source,
                            &rule.destination,
                            window.0,
                            window.1,
                        )
                        .await?;
                    if started {
                        continue;
                    }
                    let run = MissedRun {
                        organization_id: org,
                        username: &profile.username,
                        device_id: &source.owner_device,
                        source_id: &rule.source,
                        destination_id: &rule.destination,
                        backup_rule_id: rule_id,
                        time,
                    };
                    let id = random_hex(16);
                    state.db.record_missed(&run, &id).await?;
                    tracing::warn!(
                        "missed: schedule {rule_id} of user {} (device {}) at {time}",
                        profile.username,
                        source.owner_device
                    );
                    missed.push(id);
                }
            }
        }
    }
    state.db.set_missed_checked_until(org, to).await?;
    Ok(missed)
}

/// One round of checks; the jobs it ended are reported by e-mail.
pub async fn check(state: &AppState) {
    let now = now_secs();
    let mut ended = Vec::new();
    match abandon_stale(state, now).await {
        Ok(jobs) => ended.extend(jobs.into_iter().map(|j| j.id)),
        Err(e) => tracing::warn!("looking for abandoned jobs: {e}"),
    }
    match record_missed(state, now).await {
        Ok(ids) => ended.extend(ids),
        Err(e) => tracing::warn!("looking for missed jobs: {e}"),
    }
    if let Some(mailer) = &state.mailer {
        for id in ended {
            let org = state.config.organization_id.clone();
            tokio::spawn(crate::email::job_finished(state.db.clone(), mailer.clone(), org, id));
        }
    }
}
