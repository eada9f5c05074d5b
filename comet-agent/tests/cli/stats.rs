//! `stats`: the restore size adds up over snapshots, the raw data counts each blob once.

use super::common::{Fixture, write_work_tree};

#[test]
fn a_second_backup_doubles_the_restore_size_not_the_raw_data() {
    let fixture = Fixture::initialised();
    write_work_tree(&fixture.src());
    fixture.ok(&["backup", "work"]);
    let once = fixture.json(&["stats"]);
    assert_eq!(once["mode"], "restore-size");
    assert_eq!(once["snapshots"], 1);
    assert_eq!(once["restore_size"]["files"], 6);
    assert_eq!(once["restore_size"]["dirs"], 4, "work, docs, sub, empty");
    assert_eq!(once["restore_size"]["others"], 1, "the symlink");
    let bytes = once["restore_size"]["bytes"].as_u64().unwrap();
    assert!(bytes > 300_000, "{once}");
    // Six files with different contents: nothing to deduplicate yet.
    assert_eq!(once["raw_data"]["data_bytes"].as_u64().unwrap(), bytes);
    assert_eq!(once["dedup_ratio"], 1.0);

    fixture.ok(&["backup", "work"]);
    let twice = fixture.json(&["stats", "--mode", "raw-data"]);
    assert_eq!(twice["mode"], "raw-data");
    assert_eq!(twice["snapshots"], 2);
    assert_eq!(twice["restore_size"]["files"], 12);
    assert_eq!(twice["restore_size"]["bytes"].as_u64().unwrap(), 2 * bytes);
    for field in ["data_blobs", "data_bytes", "data_stored_bytes", "missing_blobs"] {
        assert_eq!(twice["raw_data"][field], once["raw_data"][field], "{field}");
    }
    assert_eq!(twice["dedup_ratio"], 2.0);
    assert!(twice["compression_ratio"].as_f64().unwrap() > 0.9, "{twice}");
    assert_eq!(twice["vault"]["snapshots"], 2);
    assert!(twice["vault"]["packs"].as_u64().unwrap() >= 2, "{twice}");
    assert!(twice["vault"]["pack_bytes"].as_u64().unwrap() >= twice["raw_data"]["data_stored_bytes"].as_u64().unwrap());

    // One snapshot, named; the same snapshot twice counts once.
    let ids = fixture.snapshot_ids();
    let first = fixture.json(&["stats", &ids[0][..8], &ids[0]]);
    assert_eq!(first["snapshots"], 1);
    assert_eq!(first["restore_size"]["bytes"].as_u64().unwrap(), bytes);

    let text = fixture.ok(&["stats"]);
    assert!(text.lines().any(|l| l.starts_with("Snapshots:") && l.ends_with(" 2")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("Files:") && l.ends_with(" 12")), "{text}");
    assert!(text.contains(&format!("({} bytes)", 2 * bytes)), "{text}");
    let text = fixture.ok(&["stats", "--mode", "raw-data"]);
    assert!(text.lines().any(|l| l.starts_with("Deduplication ratio:") && l.ends_with(" 2.00")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("Vault:") && l.contains("2 snapshots")), "{text}");
}

#[test]
fn an_empty_vault_has_no_ratios() {
    let fixture = Fixture::initialised();
    let stats = fixture.json(&["stats", "--mode", "raw-data"]);
    assert_eq!(stats["snapshots"], 0);
    assert_eq!(stats["dedup_ratio"], serde_json::Value::Null);
    let run = fixture.run(&["stats", "latest"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stderr.contains("no snapshots"), "{run}");
}
