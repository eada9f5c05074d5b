//! `backup`: paths stored as given, summaries, parents, warnings and exclusions.

use super::common::{Fixture, chmod, chown_tree, is_root, write, write_work_tree};

#[test]
fn relative_path_is_stored_as_given() {
    let fixture = Fixture::initialised();
    write_work_tree(&fixture.src());
    let out = fixture.ok(&["backup", "work"]);
    assert!(out.contains("Files:     6 new, 0 changed, 0 unmodified"), "{out}");
    assert!(out.contains("Dirs:      4"), "{out}");
    let saved = out.lines().last().unwrap();
    assert!(saved.starts_with("snapshot ") && saved.ends_with(" saved"), "{out}");

    let snapshots = fixture.json(&["snapshots"]);
    assert_eq!(snapshots[0]["paths"], serde_json::json!(["work"]));
    let ls = fixture.ls_latest();
    assert_eq!(
        ls,
        [
            "work",
            "work/docs",
            "work/docs/a.txt",
            "work/docs/b.md",
            "work/empty",
            "work/link",
            "work/private.txt",
            "work/readme.txt",
            "work/sub",
            "work/sub/big.bin",
            "work/sub/script.sh",
        ]
    );
}

#[test]
fn json_summary_and_parent_snapshot() {
    let fixture = Fixture::initialised();
    write_work_tree(&fixture.src());
    let first = fixture.json(&["backup", "work", "--tag", "first"]);
    let first_id = first["snapshot_id"].as_str().unwrap();
    assert_eq!(first_id.len(), 64);
    assert_eq!(first["short_id"].as_str().unwrap(), &first_id[..8]);
    assert_eq!(first["paths"], serde_json::json!(["work"]));
    assert_eq!(first["tags"], serde_json::json!(["first"]));
    assert_eq!(first["parent"], serde_json::Value::Null);
    assert_eq!(first["summary"]["files_new"], 6);
    assert_eq!(first["summary"]["dirs"], 4);
    assert_eq!(first["summary"]["others"], 1);
    assert_eq!(first["summary"]["total_bytes"], 300_000 + 13 + 15 + 18 + 18 + 7);
    assert!(first["summary"]["packs_added"].as_u64().unwrap() >= 2, "{first}");
    assert_eq!(first["warnings"], serde_json::json!([]));

    // Nothing changed: the second backup reads nothing and stores no new data.
    let second = fixture.json(&["backup", "work"]);
    assert_eq!(second["parent"].as_str(), Some(first_id));
    assert_eq!(second["summary"]["files_unmodified"], 6);
    assert_eq!(second["summary"]["files_new"], 0);
    assert_eq!(second["summary"]["data_blobs_added"], 0);

    // --force reads everything again.
    let forced = fixture.json(&["backup", "work", "--force"]);
    assert_eq!(forced["parent"], serde_json::Value::Null);
    assert_eq!(forced["summary"]["files_new"], 6);
    assert_eq!(forced["summary"]["data_blobs_added"], 0, "contents were deduplicated");
}

#[test]
fn missing_path_is_a_warning_and_exits_3() {
    let fixture = Fixture::initialised();
    write_work_tree(&fixture.src());
    let run = fixture.run(&["backup", "work", "not-there"]);
    assert_eq!(run.code, 3, "{run}");
    assert!(run.stderr.contains("warning: not-there: No such file or directory"), "{run}");
    assert!(run.stdout.contains("Warnings:  1"), "{run}");
    // The snapshot was saved all the same, with what could be read.
    assert_eq!(fixture.snapshot_ids().len(), 1);
    assert!(fixture.ls_latest().contains(&"work/readme.txt".to_owned()));
}

#[test]
fn only_missing_paths_is_an_error_without_snapshot() {
    let fixture = Fixture::initialised();
    let run = fixture.run(&["backup", "not-there", "nor-there"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stderr.contains("nothing to back up"), "{run}");
    assert!(fixture.snapshot_ids().is_empty());
}

#[test]
fn unreadable_file_is_a_warning_and_exits_3() {
    let mut fixture = Fixture::new();
    write_work_tree(&fixture.src());
    write(&fixture.src(), "work/locked.txt", "nobody may read this");
    chmod(&fixture.src(), "work/locked.txt", 0o000);
    if is_root() {
        // Root reads files whatever their mode: run the agent as `nobody` instead.
        const NOBODY: u32 = 65_534;
        chown_tree(fixture.root(), NOBODY);
        fixture.run_as = Some(NOBODY);
    }
    fixture.ok(&["init"]);
    let run = fixture.run(&["backup", "work", "--json"]);
    assert_eq!(run.code, 3, "{run}");
    assert!(run.stderr.contains("warning: work/locked.txt: Permission denied"), "{run}");
    let summary: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(summary["warnings"].as_array().unwrap().len(), 1, "{run}");
    assert_eq!(summary["summary"]["warnings"], 1);
    let ls = fixture.ls_latest();
    assert!(!ls.contains(&"work/locked.txt".to_owned()), "{ls:?}");
    assert!(ls.contains(&"work/readme.txt".to_owned()), "{ls:?}");
}

#[test]
fn exclusions_keep_entries_out_of_the_snapshot() {
    let fixture = Fixture::initialised();
    let src = fixture.src();
    write(&src, "work/keep.txt", "kept");
    write(&src, "work/scratch.tmp", "temporary");
    write(&src, "work/deep/er/also.tmp", "temporary");
    write(&src, "work/large.dat", vec![7u8; 2048]);
    write(&src, "work/small.dat", vec![7u8; 1000]);
    write(&src, "work/skipped/.nobackup", "");
    write(&src, "work/skipped/inside.txt", "not backed up");
    write(&src, "work/Build.LOG", "log");
    write(&src, "work/cache_123/x", "cache");
    fixture.ok(&[
        "backup",
        "work",
        "--exclude",
        "*.tmp",
        "--exclude-larger-than",
        "1k",
        "--exclude-if-present",
        ".nobackup",
        "--iexclude",
        "*.log",
        "--exclude-regex",
        "/cache_[0-9]+$",
    ]);
    assert_eq!(fixture.ls_latest(), ["work", "work/deep", "work/deep/er", "work/keep.txt", "work/small.dat"]);
}

#[test]
fn invalid_exclude_pattern_is_an_error() {
    let fixture = Fixture::initialised();
    write(&fixture.src(), "work/a", "a");
    let run = fixture.run(&["backup", "work", "--exclude-regex", "(unclosed"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stderr.starts_with("error: invalid option"), "{run}");
    assert!(fixture.snapshot_ids().is_empty());
}
