//! `restore`: whole snapshots and `--include`d parts, byte for byte and mode for mode.

use super::common::{Fixture, read_tree, write_work_tree};

#[test]
fn restore_latest_recreates_the_tree_under_the_target() {
    let fixture = Fixture::initialised();
    write_work_tree(&fixture.src());
    fixture.ok(&["backup", "work"]);
    let target = fixture.path("restored");
    let out = fixture.ok(&["restore", "latest", "--target", target.to_str().unwrap()]);
    assert!(out.contains("6 files, 4 dirs, 1 others"), "{out}");

    // Paths are stored as given: `work` comes back as `<target>/work`.
    let original = read_tree(&fixture.src().join("work"));
    let restored = read_tree(&target.join("work"));
    assert_eq!(original.len(), 10);
    assert_eq!(restored, original);
    assert_eq!(std::fs::read_dir(&target).unwrap().count(), 1, "only `work` is restored at the top");
}

#[test]
fn include_restores_only_the_given_folder() {
    let fixture = Fixture::initialised();
    write_work_tree(&fixture.src());
    let snapshot = fixture.json(&["backup", "work"])["short_id"].as_str().unwrap().to_owned();
    let target = fixture.path("partial");
    let report = fixture.json(&["restore", &snapshot, "--target", target.to_str().unwrap(), "--include", "work/sub"]);
    assert_eq!(report["files"], 2);
    assert_eq!(report["bytes"], 300_000 + 18);
    assert_eq!(report["warnings"], serde_json::json!([]));

    let restored: Vec<String> = read_tree(&target).into_keys().collect();
    assert_eq!(restored, ["work", "work/sub", "work/sub/big.bin", "work/sub/script.sh"]);
    let original = read_tree(&fixture.src().join("work/sub"));
    assert_eq!(read_tree(&target.join("work/sub")), original);
}

#[test]
fn restore_of_an_unknown_snapshot_fails() {
    let fixture = Fixture::initialised();
    let target = fixture.path("nothing");
    let run = fixture.run(&["restore", "latest", "--target", target.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stderr.contains("the vault has no snapshots"), "{run}");
    assert!(!target.exists());
}
