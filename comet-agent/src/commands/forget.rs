//! `forget`: remove snapshots, chosen by a retention policy (restic's `--keep-*` rules, applied
//! to each group of snapshots) or named by id. Only the snapshot objects go; the data they
//! referenced stays until a prune.

use std::collections::HashMap;

use comet_core::retention::{Candidate, Decision, GroupKey, Period, Policy};
use comet_core::snapshot::{format_time, now_ns};
use comet_core::{Snapshot, SnapshotId};
use serde::Serialize;

use crate::cli::{ForgetArgs, PolicyArgs};
use crate::context::Context;
use crate::error::{Error, Outcome, Result};
use crate::output::{Printer, rfc3339};

/// One group as JSON output shows it.
#[derive(Serialize)]
struct GroupJson<'a> {
    group: &'a GroupKey,
    keep: Vec<KeptJson>,
    remove: Vec<RemovedJson>,
}

#[derive(Serialize)]
struct KeptJson {
    id: String,
    time: String,
    reasons: Vec<String>,
}

#[derive(Serialize)]
struct RemovedJson {
    id: String,
    time: String,
}

/// The policy the options describe.
fn policy(args: &PolicyArgs) -> Policy {
    let mut policy = Policy::default();
    if let Some(count) = args.keep_last {
        policy = policy.keep_last(count);
    }
    if let Some(count) = args.keep_hourly {
        policy = policy.keep_hourly(count);
    }
    if let Some(count) = args.keep_daily {
        policy = policy.keep_daily(count);
    }
    if let Some(count) = args.keep_weekly {
        policy = policy.keep_weekly(count);
    }
    if let Some(count) = args.keep_monthly {
        policy = policy.keep_monthly(count);
    }
    if let Some(count) = args.keep_yearly {
        policy = policy.keep_yearly(count);
    }
    if let Some(within) = args.keep_within {
        policy = policy.keep_within(within);
    }
    let windows = [
        (args.keep_within_hourly, Period::Hour),
        (args.keep_within_daily, Period::Day),
        (args.keep_within_weekly, Period::Week),
        (args.keep_within_monthly, Period::Month),
        (args.keep_within_yearly, Period::Year),
    ];
    for (within, period) in windows {
        if let Some(within) = within {
            policy = policy.keep_within_period(period, within);
        }
    }
    if let Some(newer_than) = args.keep_newer_than {
        policy = policy.keep_newer_than(newer_than);
    }
    for tags in &args.keep_tag {
        policy = policy.keep_tags(tags.clone());
    }
    policy
}

/// Whether `snap` passes the filters: a host among `--host` (its host name or device id), the
/// tags of one `--tag` list, and every `--path`.
fn selected(snap: &Snapshot, args: &ForgetArgs) -> bool {
    let host_ok = args.hosts.is_empty()
        || args.hosts.contains(&snap.hostname)
        || snap.device_id.as_ref().is_some_and(|d| args.hosts.contains(d));
    let tags_ok = args.tags.is_empty() || args.tags.iter().any(|list| list.matches(&snap.tags));
    let paths_ok = args.paths.iter().all(|p| snap.paths.contains(p));
    host_ok && tags_ok && paths_ok
}

fn plural(n: usize) -> String {
    format!("{n} snapshot{}", if n == 1 { "" } else { "s" })
}

pub(super) async fn run(context: &Context, args: &ForgetArgs, printer: &mut Printer<'_>) -> Result<Outcome> {
    let policy = policy(&args.policy);
    let filtered = !args.hosts.is_empty() || !args.tags.is_empty() || !args.paths.is_empty();
    if !args.snapshots.is_empty() {
        if !policy.is_empty() {
            return Err(Error::Usage("give snapshots to remove or a policy (--keep-*), not both".into()));
        }
        if filtered {
            return Err(Error::Usage("--host, --tag and --path select snapshots for a policy, not ids".into()));
        }
    } else if policy.is_empty() {
        return Err(Error::Usage(
            "no policy given: nothing would be removed (give --keep-* options, or snapshot ids)".into(),
        ));
    }

    let repo = context.open().await?;
    let (decisions, snaps) = if args.snapshots.is_empty() {
        let snaps = repo.snapshots().await?;
        let candidates: Vec<Candidate<SnapshotId>> =
            snaps.iter().filter(|(_, s)| selected(s, args)).map(|(id, s)| Candidate::from_snapshot(*id, s)).collect();
        let decisions = policy.apply(&candidates, args.group_by, now_ns(), 0);
        // As restic: a policy never empties a group; that is a mistake in the policy.
        if let Some(empty) = decisions.iter().find(|d| d.removes_all()) {
            return Err(Error::Usage(format!(
                "refusing to remove every snapshot of the group {}: the policy keeps none of them",
                empty.key
            )));
        }
        (decisions, snaps)
    } else {
        let mut named: Vec<(SnapshotId, Snapshot)> = Vec::new();
        for reference in &args.snapshots {
            let (id, snap) = repo.find_snapshot(reference).await?;
            if !named.iter().any(|(seen, _)| *seen == id) {
                named.push((id, snap));
            }
        }
        named.sort_by(|a, b| b.1.time_ns.cmp(&a.1.time_ns).then(a.0.cmp(&b.0)));
        let remove = named.iter().map(|(id, s)| Candidate::from_snapshot(*id, s)).collect();
        (vec![Decision { key: GroupKey::default(), keep: Vec::new(), remove }], named)
    };
    let by_id: HashMap<SnapshotId, &Snapshot> = snaps.iter().map(|(id, s)| (*id, s)).collect();
    let remove: Vec<SnapshotId> = decisions.iter().flat_map(|d| d.remove.iter().map(|c| c.id)).collect();

    let mut json_groups = None;
    if printer.json {
        let groups: Vec<GroupJson<'_>> = decisions
            .iter()
            .map(|d| GroupJson {
                group: &d.key,
                keep: d
                    .keep
                    .iter()
                    .map(|k| KeptJson {
                        id: k.snapshot.id.to_hex(),
                        time: rfc3339(k.snapshot.time_ns),
                        reasons: k.reasons.iter().map(ToString::to_string).collect(),
                    })
                    .collect(),
                remove: d.remove.iter().map(|c| RemovedJson { id: c.id.to_hex(), time: rfc3339(c.time_ns) }).collect(),
            })
            .collect();
        if !args.prune {
            printer.json(&groups)?;
        }
        json_groups = Some(groups);
    } else {
        print_text(printer, args, &policy, &decisions, &by_id)?;
    }

    if !args.dry_run && !remove.is_empty() {
        repo.forget_snapshots(&remove).await?;
    }
    if !printer.json {
        let verb = if args.dry_run { "would remove" } else { "removed" };
        printer.line(format_args!("{verb} {}", plural(remove.len())))?;
    }
    if !args.prune {
        return Ok(Outcome::Success);
    }
    // `--prune`: as `prune` would, in the same process (with `--dry-run`, a prune plan).
    let report = repo.prune(&super::prune::options(&args.prune_tuning, args.dry_run)).await?;
    if let Some(groups) = json_groups {
        printer.json(&ForgetPruneJson { forget: groups, prune: &report })?;
    } else {
        super::prune::print_report(&report, printer)?;
    }
    Ok(super::prune::outcome(&report))
}

/// `forget --prune --json`: both reports in one object.
#[derive(Serialize)]
struct ForgetPruneJson<'a> {
    forget: Vec<GroupJson<'a>>,
    prune: &'a comet_core::PruneReport,
}

/// restic's layout: the policy, then per group a table of what is kept (with reasons) and one
/// of what is removed.
fn print_text(
    printer: &mut Printer<'_>,
    args: &ForgetArgs,
    policy: &Policy,
    decisions: &[Decision<SnapshotId>],
    by_id: &HashMap<SnapshotId, &Snapshot>,
) -> Result<()> {
    if args.snapshots.is_empty() {
        printer.line(format_args!("Applying policy: {policy}"))?;
        printer.line("")?;
    }
    let columns = |id: &SnapshotId| {
        let snap = by_id[id];
        [id.short(), format_time(snap.time_ns), snap.hostname.clone(), snap.tags.join(",")]
    };
    for decision in decisions {
        if args.snapshots.is_empty() {
            printer.line(format_args!("Group: {}", decision.key))?;
        }
        if !decision.keep.is_empty() {
            printer.line(format_args!("keep {}:", plural(decision.keep.len())))?;
            let rows: Vec<Vec<String>> = decision
                .keep
                .iter()
                .map(|k| {
                    let reasons = k.reasons.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
                    let mut row = columns(&k.snapshot.id).to_vec();
                    row.extend([reasons, by_id[&k.snapshot.id].paths.join(", ")]);
                    row
                })
                .collect();
            printer.table(&["ID", "Time (UTC)", "Host", "Tags", "Reasons", "Paths"], &rows)?;
            printer.line("")?;
        }
        if !decision.remove.is_empty() {
            printer.line(format_args!("remove {}:", plural(decision.remove.len())))?;
            let rows: Vec<Vec<String>> = decision
                .remove
                .iter()
                .map(|c| {
                    let mut row = columns(&c.id).to_vec();
                    row.push(by_id[&c.id].paths.join(", "));
                    row
                })
                .collect();
            printer.table(&["ID", "Time (UTC)", "Host", "Tags", "Paths"], &rows)?;
            printer.line("")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use comet_core::retention::{Count, Duration, TagList};

    use super::*;
    use crate::cli::{Cli, Command};

    fn forget_args(line: &[&str]) -> ForgetArgs {
        let cli = Cli::try_parse_from([&["comet-agent", "forget"], line].concat()).unwrap();
        match cli.command {
            Command::Forget(args) => args,
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn options_make_the_policy() {
        let args = forget_args(&[
            "--keep-last",
            "2",
            "-d",
            "7",
            "--keep-yearly",
            "unlimited",
            "--keep-within",
            "1y2m",
            "--keep-within-weekly",
            "3m",
            "--keep-newer-than",
            "30d",
            "--keep-tag",
            "a,b",
            "--keep-tag",
            "",
        ]);
        let expected = Policy::default()
            .keep_last(2)
            .keep_daily(7)
            .keep_yearly(Count::Unlimited)
            .keep_within(Duration::new(1, 2, 0, 0))
            .keep_within_period(Period::Week, Duration::new(0, 3, 0, 0))
            .keep_newer_than(Duration::new(0, 0, 30, 0))
            .keep_tags("a,b".parse().unwrap())
            .keep_tags(TagList(vec![String::new()]));
        assert_eq!(policy(&args.policy), expected);
        assert_eq!(args.group_by, comet_core::retention::GroupBy::default());
        assert!(policy(&forget_args(&[]).policy).is_empty());
        assert!(policy(&forget_args(&["--keep-last", "0"]).policy).is_empty());
        assert_eq!(forget_args(&["-g", ""]).group_by, comet_core::retention::GroupBy::NONE);
        assert!(forget_args(&["-n", "abcd", "latest"]).dry_run);
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for bad in [
            &["--keep-last", "-2"][..],
            &["--keep-daily", "many"],
            &["--keep-within", "1w"],
            &["--group-by", "hostname"],
        ] {
            let err = Cli::try_parse_from([&["comet-agent", "forget"], bad].concat()).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad:?}");
        }
    }
}
