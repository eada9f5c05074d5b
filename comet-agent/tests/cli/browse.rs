//! Reading a vault: `snapshots`, `ls`, `diff` and `cat`, as text and as JSON.

use std::fs;

use super::common::{Fixture, write, write_work_tree};

#[test]
fn snapshots_as_table_and_json_with_filters() {
    let fixture = Fixture::initialised();
    write_work_tree(&fixture.src());
    fixture.ok(&["backup", "work", "--tag", "daily,laptop"]);
    fixture.ok(&["backup", "work", "--host", "elsewhere"]);

    let table = fixture.ok(&["snapshots"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("ID        Time (UTC)"), "{table}");
    assert!(lines[0].contains("Host") && lines[0].contains("Tags") && lines[0].contains("Paths"), "{table}");
    assert!(lines[1].starts_with("----"), "{table}");
    assert_eq!(lines.len(), 5, "{table}");
    assert!(lines[2].contains("daily,laptop") && lines[2].contains("work"), "{table}");
    assert!(lines[3].contains("elsewhere"), "{table}");
    assert_eq!(lines[4], "2 snapshots");

    let list = fixture.json(&["snapshots"]);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    let first = &list[0];
    let id = first["id"].as_str().unwrap();
    assert_eq!(id.len(), 64);
    assert!(lines[2].starts_with(&id[..8]), "{table}");
    assert_eq!(first["tags"], serde_json::json!(["daily", "laptop"]));
    assert_eq!(first["paths"], serde_json::json!(["work"]));
    assert_eq!(first["tree"].as_str().unwrap().len(), 64);
    assert!(first["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(first["summary"]["files_new"], 6);
    assert!(first["username"].is_string() && first["hostname"].is_string());
    assert_eq!(list[1]["hostname"], "elsewhere");

    assert_eq!(fixture.json(&["snapshots", "--tag", "daily"]).as_array().unwrap().len(), 1);
    assert_eq!(fixture.json(&["snapshots", "--tag", "daily,nope"]).as_array().unwrap().len(), 0);
    assert_eq!(fixture.json(&["snapshots", "--host", "elsewhere"]).as_array().unwrap().len(), 1);
}

#[test]
fn ls_paths_long_format_and_json() {
    let fixture = Fixture::initialised();
    write_work_tree(&fixture.src());
    fixture.ok(&["backup", "work"]);

    assert_eq!(fixture.ok(&["ls", "latest", "work/sub"]), "work/sub/big.bin\nwork/sub/script.sh\n");
    assert_eq!(fixture.ok(&["ls", "latest", "work/docs/a.txt"]), "work/docs/a.txt\n");

    let long = fixture.ok(&["ls", "-l", "latest"]);
    let line = |path: &str| {
        long.lines()
            .find(|l| l.ends_with(path) || l.contains(&format!(" {path} -> ")))
            .unwrap_or_else(|| panic!("{path}:\n{long}"))
    };
    assert!(line("work/sub/script.sh").starts_with("-rwxr-xr-x "), "{long}");
    assert!(line("work/private.txt").starts_with("-rw------- "), "{long}");
    assert!(line("work/sub").starts_with("drwx"), "{long}");
    assert!(line("work/sub/big.bin").contains(" 300000 "), "{long}");
    assert!(line("work/link").starts_with('l') && line("work/link").ends_with("work/link -> readme.txt"), "{long}");

    let json = fixture.json(&["ls", "latest"]);
    let entries = json.as_array().unwrap();
    assert_eq!(entries.len(), 11);
    let script = entries.iter().find(|e| e["path"] == "work/sub/script.sh").unwrap();
    assert_eq!(script["type"], "file");
    assert_eq!(script["mode"], 0o755);
    assert_eq!(script["size"], 18);
    let link = entries.iter().find(|e| e["path"] == "work/link").unwrap();
    assert_eq!(link["type"], "symlink");
    assert_eq!(link["link_target"], "readme.txt");

    let run = fixture.run(&["ls", "latest", "work/nothing"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stderr.contains("is not in the snapshot"), "{run}");
}

#[test]
fn diff_shows_added_removed_and_modified() {
    let fixture = Fixture::initialised();
    let src = fixture.src();
    write_work_tree(&src);
    fixture.ok(&["backup", "work"]);
    write(&src, "work/new.txt", "brand new");
    fs::remove_file(src.join("work/docs/b.md")).unwrap();
    write(&src, "work/readme.txt", "hello, changed comet\n");
    fixture.ok(&["backup", "work"]);
    let ids = fixture.snapshot_ids();

    let out = fixture.ok(&["diff", &ids[0][..8], &ids[1]]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.contains(&"+    work/new.txt"), "{out}");
    assert!(lines.contains(&"-    work/docs/b.md"), "{out}");
    assert!(lines.contains(&"M    work/readme.txt"), "{out}");
    assert!(!out.contains("work/sub/"), "unchanged folders are not listed:\n{out}");
    assert!(lines.last().unwrap().starts_with("1 added, 1 removed, 1 modified, "), "{out}");

    let json = fixture.json(&["diff", &ids[0], "latest"]);
    assert_eq!(json["counts"]["added"], 1);
    assert_eq!(json["counts"]["removed"], 1);
    assert_eq!(json["counts"]["modified"], 1);
    let changes = json["changes"].as_array().unwrap();
    assert!(changes.iter().any(|c| c["path"] == "work/new.txt" && c["kind"] == "added" && c["marker"] == "+"));

    // Nothing between a snapshot and itself.
    let same = fixture.json(&["diff", "latest", "latest"]);
    assert_eq!(same["changes"], serde_json::json!([]));
}

#[test]
fn cat_config_and_snapshot() {
    let fixture = Fixture::initialised();
    let config = fixture.json(&["cat", "config"]);
    assert_eq!(config["chunker"]["min"], 256 * 1024);
    assert_eq!(config["chunker"]["avg"], 1024 * 1024);
    assert_eq!(config["chunker"]["max"], 4 * 1024 * 1024);
    assert_eq!(config["pack_size"], 16 * 1024 * 1024);
    assert_eq!(config["compression_level"], 3);
    assert_eq!(config["version"], 1);
    let vault_id = config["vault_id"].as_str().unwrap();
    assert_eq!(vault_id.len(), 32);
    let text = fixture.ok(&["cat", "config"]);
    assert!(text.contains(vault_id) && text.contains("chunk sizes:"), "{text}");

    write(&fixture.src(), "work/a.txt", "a");
    fixture.ok(&["backup", "work", "--tag", "x"]);
    let id = &fixture.snapshot_ids()[0];
    let snapshot = fixture.json(&["cat", "snapshot", &id[..6]]);
    assert_eq!(snapshot["id"].as_str(), Some(id.as_str()));
    assert_eq!(snapshot["tags"], serde_json::json!(["x"]));
    // `cat snapshot` is JSON even without --json.
    let plain: serde_json::Value = serde_json::from_str(&fixture.ok(&["cat", "snapshot", "latest"])).unwrap();
    assert_eq!(plain["id"], snapshot["id"]);

    let run = fixture.run(&["cat", "snapshot", "zz"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stderr.contains("at least 4 hex characters"), "{run}");
}
