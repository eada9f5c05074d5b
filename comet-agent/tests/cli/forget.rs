//! `forget`: removing snapshots by a retention policy (per group of host and paths) or by id,
//! as text and as JSON, with `--dry-run`. Snapshot times cannot be chosen from the command line,
//! so calendar rules are covered by comet-core's retention table; here the policy is
//! `--keep-last`, `--keep-tag` and the filters.

use serde_json::{Value, json};

use super::common::{Fixture, write};

/// A vault with six snapshots of `work`, oldest first: four of host alpha (the third tagged
/// `pinned`), then two of host beta. Returns the fixture and the full ids in that order.
fn six_snapshots() -> (Fixture, Vec<String>) {
    let fixture = Fixture::initialised();
    for (i, (host, tag)) in
        [("alpha", None), ("alpha", None), ("alpha", Some("pinned")), ("alpha", None), ("beta", None), ("beta", None)]
            .into_iter()
            .enumerate()
    {
        write(&fixture.src(), "work/file.txt", format!("version {i}\n"));
        let mut args = vec!["backup", "work", "--host", host];
        if let Some(tag) = tag {
            args.extend(["--tag", tag]);
        }
        fixture.ok(&args);
    }
    let ids = fixture.snapshot_ids();
    assert_eq!(ids.len(), 6);
    (fixture, ids)
}

/// The ids at `positions`.
fn pick(ids: &[String], positions: &[usize]) -> Vec<String> {
    positions.iter().map(|&i| ids[i].clone()).collect()
}

/// Ids of a JSON list of `{id, ...}`.
fn ids_of(list: &Value) -> Vec<&str> {
    list.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect()
}

#[test]
fn keep_last_per_group_dry_run_then_for_real() {
    let (fixture, ids) = six_snapshots();
    let short = |i: usize| &ids[i][..8];

    // A dry run prints the plan and removes nothing.
    let plan = fixture.ok(&["forget", "--keep-last", "2", "--dry-run"]);
    assert!(plan.starts_with("Applying policy: keep the last 2 snapshots\n"), "{plan}");
    assert!(plan.contains("Group: host alpha, paths [work]\nkeep 2 snapshots:\n"), "{plan}");
    assert!(plan.contains("Group: host beta, paths [work]\nkeep 2 snapshots:\n"), "{plan}");
    assert!(plan.contains("remove 2 snapshots:\n"), "{plan}");
    let kept_line = plan.lines().find(|l| l.starts_with(short(3))).unwrap();
    assert!(kept_line.contains("alpha") && kept_line.contains("last snapshot"), "{plan}");
    let removed_line = plan.lines().find(|l| l.starts_with(short(0))).unwrap();
    assert!(!removed_line.contains("last snapshot"), "{plan}");
    assert!(plan.ends_with("would remove 2 snapshots\n"), "{plan}");
    assert_eq!(fixture.snapshot_ids(), ids, "a dry run removed snapshots");

    // For real.
    let done = fixture.ok(&["forget", "--keep-last", "2"]);
    assert!(done.ends_with("removed 2 snapshots\n"), "{done}");
    assert_eq!(fixture.snapshot_ids(), ids[2..].to_vec());
    let left = fixture.json(&["snapshots"]);
    let hosts: Vec<&str> = left.as_array().unwrap().iter().map(|s| s["hostname"].as_str().unwrap()).collect();
    assert_eq!(hosts, ["alpha", "alpha", "beta", "beta"]);

    // Nothing more to do: the same policy removes nothing.
    assert!(fixture.ok(&["forget", "--keep-last", "2"]).ends_with("removed 0 snapshots\n"));
    assert_eq!(fixture.snapshot_ids().len(), 4);
    // What is left is intact.
    assert!(fixture.ls_latest().contains(&"work/file.txt".to_owned()), "{:?}", fixture.ls_latest());
}

#[test]
fn json_shape_of_a_plan() {
    let (fixture, ids) = six_snapshots();
    let plan = fixture.json(&["forget", "--keep-last", "1", "--keep-tag", "pinned", "--dry-run"]);
    let groups = plan.as_array().unwrap();
    assert_eq!(groups.len(), 2, "{plan:#}");

    let alpha = &groups[0];
    assert_eq!(alpha["group"], json!({"host": "alpha", "paths": ["work"], "tags": null}));
    assert_eq!(ids_of(&alpha["keep"]), pick(&ids, &[3, 2]));
    assert_eq!(alpha["keep"][0]["reasons"], json!(["last snapshot"]));
    assert_eq!(alpha["keep"][1]["reasons"], json!(["has tags pinned"]));
    assert!(alpha["keep"][0]["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(ids_of(&alpha["remove"]), pick(&ids, &[1, 0]));
    let removed = alpha["remove"][0].as_object().unwrap();
    assert_eq!(removed.keys().collect::<Vec<_>>(), ["id", "time"]);

    let beta = &groups[1];
    assert_eq!(beta["group"]["host"], "beta");
    assert_eq!(ids_of(&beta["keep"]), pick(&ids, &[5]));
    assert_eq!(ids_of(&beta["remove"]), pick(&ids, &[4]));
    assert_eq!(fixture.snapshot_ids().len(), 6, "a dry run removed snapshots");

    // Without grouping, the policy sees one group; with --host, only that host.
    let one = fixture.json(&["forget", "--keep-last", "3", "--group-by", "", "--dry-run"]);
    assert_eq!(one.as_array().unwrap().len(), 1);
    assert_eq!(one[0]["group"], json!({"host": null, "paths": null, "tags": null}));
    assert_eq!(ids_of(&one[0]["keep"]), pick(&ids, &[5, 4, 3]));
    let beta_only = fixture.json(&["forget", "--keep-last", "1", "--host", "beta"]);
    assert_eq!(beta_only.as_array().unwrap().len(), 1);
    assert_eq!(fixture.snapshot_ids(), pick(&ids, &[0, 1, 2, 3, 5]));

    // --tag selects the snapshots the policy looks at.
    let tagged = fixture.json(&["forget", "--keep-last", "1", "--tag", "pinned", "--dry-run"]);
    assert_eq!(ids_of(&tagged[0]["keep"]), pick(&ids, &[2]));
    assert_eq!(tagged[0]["remove"], json!([]));
}

#[test]
fn forget_by_id_and_latest() {
    let (fixture, ids) = six_snapshots();
    // A prefix and a full id; the same snapshot twice counts once.
    let done = fixture.ok(&["forget", &ids[1][..10], ids[4].as_str(), &ids[4][..8]]);
    assert!(done.starts_with("remove 2 snapshots:\n"), "{done}");
    assert!(done.ends_with("removed 2 snapshots\n"), "{done}");
    assert_eq!(fixture.snapshot_ids(), pick(&ids, &[0, 2, 3, 5]));

    let plan = fixture.json(&["forget", "latest", "--dry-run"]);
    assert_eq!(
        plan,
        json!([{"group": {"host": null, "paths": null, "tags": null}, "keep": [], "remove": [
            {"id": ids[5], "time": plan[0]["remove"][0]["time"]}
        ]}])
    );
    assert_eq!(fixture.snapshot_ids().len(), 4);
    fixture.ok(&["forget", "latest"]);
    assert_eq!(fixture.snapshot_ids(), pick(&ids, &[0, 2, 3]));

    // An id that is gone is an error, and changes nothing.
    let run = fixture.run(&["forget", &ids[5][..8]]);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stderr.contains("no snapshot has this id"), "{run}");
    assert_eq!(fixture.snapshot_ids().len(), 3);
}

#[test]
fn refuses_what_would_remove_by_mistake() {
    let (fixture, ids) = six_snapshots();
    let refused = |args: &[&str], message: &str| {
        let run = fixture.run(args);
        assert_eq!(run.code, 2, "{args:?}: {run}");
        assert!(run.stderr.contains(message), "{args:?}: {run}");
    };
    refused(&["forget"], "no policy given: nothing would be removed");
    refused(&["forget", "--keep-last", "0"], "no policy given");
    refused(&["forget", "--keep-last", "1", ids[0].as_str()], "not both");
    refused(&["forget", "--host", "alpha", ids[0].as_str()], "not ids");
    // No snapshot of host beta is tagged: the policy would empty that group.
    refused(&["forget", "--keep-tag", "pinned"], "refusing to remove every snapshot of the group host beta");
    refused(&["forget", "--keep-within", "1w"], "invalid duration");
    refused(&["forget", "--keep-daily=-3"], "invalid count");
    assert_eq!(fixture.snapshot_ids(), ids, "a refused forget removed snapshots");

    // `unlimited` keeps everything.
    assert!(fixture.ok(&["forget", "--keep-last", "unlimited"]).ends_with("removed 0 snapshots\n"));
    assert_eq!(fixture.snapshot_ids(), ids);
}
