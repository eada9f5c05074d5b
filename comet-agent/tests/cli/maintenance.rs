//! Prune racing backups from separate processes; check, restore and repair of a damaged vault.

use std::collections::BTreeMap;
use std::fs;
use std::process::Stdio;

use super::common::{Fixture, pseudo_random, read_tree, write};

/// Prune options that delete as soon as it is safe: no grace period, no clock-skew allowance
/// (one machine), marks stamped 150 ms ahead (the index of this small vault is written in far
/// less; a slower write withdraws the marks and fails the prune, which the test would see).
const EAGER_PRUNE: &[&str] =
    &["prune", "--grace", "0", "--max-unused", "0%", "--clock-skew", "0", "--mark-write-limit", "150ms"];

fn data_files(f: &Fixture) -> Vec<std::path::PathBuf> {
    let mut packs = Vec::new();
    for dir in fs::read_dir(f.path("vault/data")).unwrap() {
        for file in fs::read_dir(dir.unwrap().path()).unwrap() {
            packs.push(file.unwrap().path());
        }
    }
    packs.sort();
    packs
}

#[test]
fn backups_racing_prunes_in_other_processes_lose_nothing() {
    let f = Fixture::initialised();
    let src = f.src();
    for i in 0..12u64 {
        write(&src, &format!("d{}/f{i}", i % 3), pseudo_random(150_000, i));
    }
    // Every snapshot that completed, with the tree it must restore to.
    let mut expected: BTreeMap<String, _> = BTreeMap::new();
    let mut prunes_deleting = 0;
    for round in 0..20u64 {
        // A third of the files change every round: old packs lose their users.
        for k in 0..4u64 {
            let i = (round * 4 + k) % 12;
            write(&src, &format!("d{}/f{i}", i % 3), pseudo_random(150_000, 1000 * (round + 1) + k));
        }
        let state = read_tree(&src);
        let backup =
            f.command(&["backup", ".", "--json"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        // Meanwhile, in other processes: forget all but the last three snapshots, then prune.
        let forget = f.run(&["forget", "--keep-last", "3"]);
        assert_eq!(forget.code, 0, "{forget}");
        let prune = f.run(&[EAGER_PRUNE, &["--json"]].concat());
        assert_eq!(prune.code, 0, "round {round}: {prune}");
        let report: serde_json::Value = serde_json::from_str(&prune.stdout).unwrap();
        if report["deleted"]["packs"].as_u64().unwrap() > 0 {
            prunes_deleting += 1;
        }
        let out = backup.wait_with_output().unwrap();
        assert!(out.status.success(), "round {round}: backup failed: {}", String::from_utf8_lossy(&out.stderr));
        let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        expected.insert(summary["snapshot_id"].as_str().unwrap().to_owned(), state);
    }
    assert!(prunes_deleting >= 5, "prune deleted packs in only {prunes_deleting} rounds: the race was not run");

    // Every snapshot still listed restores byte-exact, and the vault checks clean.
    let remaining = f.snapshot_ids();
    assert!(remaining.len() >= 3);
    for id in &remaining {
        let target = f.path(&format!("restore-{}", &id[..8]));
        f.ok(&["restore", id, "--target", target.to_str().unwrap()]);
        let restored = read_tree(&target.join(src.strip_prefix("/").unwrap()));
        assert_eq!(&restored, &expected[id], "snapshot {id} does not restore its data");
    }
    let check = f.run(&["check", "--read-data"]);
    assert_eq!(check.code, 0, "{check}");
    assert!(check.stdout.contains("no errors were found"));
}

#[test]
fn a_deleted_pack_is_found_named_and_repaired_around() {
    let f = Fixture::initialised();
    let src = f.src();
    for i in 0..6u64 {
        write(&src, &format!("f{i}"), pseudo_random(400_000, 50 + i));
    }
    f.ok(&["backup", "."]);
    assert_eq!(f.run(&["check", "--read-data"]).code, 0);
    // Subsets 1/3..3/3 read each pack once.
    let read: u64 = (1..=3)
        .map(|n| f.json(&["check", "--read-data-subset", &format!("{n}/3")])["packs_read"].as_u64().unwrap())
        .sum();
    assert_eq!(read, f.json(&["check"])["packs"].as_u64().unwrap());

    // The data pack goes missing.
    let packs = data_files(&f);
    let biggest = packs.iter().max_by_key(|p| fs::metadata(p).unwrap().len()).unwrap().clone();
    let name = biggest.file_name().unwrap().to_str().unwrap().to_owned();
    fs::remove_file(&biggest).unwrap();

    let check = f.run(&["check"]);
    assert_eq!(check.code, 1, "{check}");
    assert!(check.stdout.contains(&name), "check does not name the pack:\n{check}");
    assert!(check.stdout.contains("/f0") || check.stdout.contains("f0"), "check does not name the files:\n{check}");

    // Restore saves what is left, names what is not, and exits with 3.
    let target = f.path("restored");
    let restore = f.run(&["restore", "latest", "--target", target.to_str().unwrap()]);
    assert_eq!(restore.code, 3, "{restore}");
    assert!(restore.stderr.contains("incomplete"), "{restore}");

    // Prune refuses to work on a damaged vault.
    let prune = f.run(&["prune"]);
    assert_eq!(prune.code, 1, "{prune}");
    assert!(prune.stderr.contains("damaged"), "{prune}");

    let repair = f.run(&["repair", "snapshots", "--forget"]);
    assert_eq!(repair.code, 0, "{repair}");
    assert!(repair.stdout.contains("paths lost"), "{repair}");
    let target = f.path("repaired");
    let restore = f.run(&["restore", "latest", "--target", target.to_str().unwrap()]);
    assert_eq!(restore.code, 0, "the repaired snapshot restores cleanly:\n{restore}");
    f.ok(&["prune"]);
    assert_eq!(f.run(&["check", "--read-data"]).code, 0);
}

#[test]
fn repair_index_restores_a_vault_without_index() {
    let f = Fixture::initialised();
    write(&f.src(), "a", pseudo_random(300_000, 7));
    f.ok(&["backup", "."]);
    for file in fs::read_dir(f.path("vault/index")).unwrap() {
        fs::remove_file(file.unwrap().path()).unwrap();
    }
    let _ = fs::remove_dir_all(f.path("cache"));
    let broken = f.run(&["restore", "latest", "--target", f.path("t1").to_str().unwrap()]);
    assert_ne!(broken.code, 0, "{broken}");
    assert_eq!(f.run(&["check"]).code, 1);
    let repair = f.json(&["repair", "index"]);
    assert!(repair["packs_indexed"].as_u64().unwrap() >= 2);
    f.ok(&["check", "--read-data"]);
    let target = f.path("t2");
    f.ok(&["restore", "latest", "--target", target.to_str().unwrap()]);
    assert_eq!(fs::read(target.join(f.src().strip_prefix("/").unwrap()).join("a")).unwrap(), pseudo_random(300_000, 7));
}

#[test]
fn forget_with_prune_marks_what_the_forgotten_snapshots_alone_used() {
    let f = Fixture::initialised();
    write(&f.src(), "a", pseudo_random(200_000, 1));
    f.ok(&["backup", "."]);
    write(&f.src(), "a", pseudo_random(200_000, 2));
    f.ok(&["backup", "."]);
    let dry = f.json(&["forget", "--keep-last", "1", "--prune", "--dry-run"]);
    assert_eq!(dry["prune"]["dry_run"], true);
    assert_eq!(f.snapshot_ids().len(), 2, "a dry run removed something");
    // (Marks are stamped ahead by the time allowed to write them: 10 minutes by default.)
    let out = f.json(&["forget", "--keep-last", "1", "--prune", "--mark-write-limit", "200ms"]);
    assert_eq!(out["forget"][0]["remove"].as_array().unwrap().len(), 1);
    assert!(out["prune"]["marked"]["packs"].as_u64().unwrap() >= 1, "{out}");
    assert_eq!(out["prune"]["deleted"]["packs"], 0, "deleted before the grace period");
    // With no grace period a second prune deletes the marked packs (no backup is running).
    std::thread::sleep(std::time::Duration::from_millis(300));
    let packs_before = data_files(&f).len();
    let again = f.json(&["prune", "--grace", "0", "--clock-skew", "0"]);
    assert!(again["deleted"]["packs"].as_u64().unwrap() >= 1, "{again}");
    assert!(data_files(&f).len() < packs_before);
    f.ok(&["check", "--read-data"]);
}

#[test]
fn check_reads_the_vault_not_the_cache() {
    let f = Fixture::initialised();
    write(&f.src(), "a", pseudo_random(100_000, 9));
    f.ok(&["backup", "."]);
    f.ok(&["snapshots"]); // the cache now holds the index file and the snapshot
    let index = fs::read_dir(f.path("vault/index")).unwrap().next().unwrap().unwrap().path();
    let mut bytes = fs::read(&index).unwrap();
    bytes[20] ^= 1;
    fs::write(&index, bytes).unwrap();
    let check = f.run(&["check"]);
    assert_eq!(check.code, 1, "{check}");
    assert!(check.stdout.contains(index.file_name().unwrap().to_str().unwrap()), "{check}");
}
