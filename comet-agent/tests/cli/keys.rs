//! `key list|add|remove|passwd`: several passwords open one vault; the key in use and the last
//! key are never removed; a changed password replaces the old one.

use super::common::{Fixture, PASSWORD, Run, write_work_tree};

const SECOND: &str = "a second password";

/// Runs `args` with `password` as the vault password and `new_password` as the new one.
fn run_as(fixture: &Fixture, args: &[&str], password: &str, new_password: Option<&str>) -> Run {
    let mut cmd = fixture.command(args);
    cmd.env("COMET_PASSWORD", password);
    match new_password {
        Some(new) => cmd.env("COMET_NEW_PASSWORD", new),
        None => cmd.env_remove("COMET_NEW_PASSWORD"),
    };
    Fixture::output(cmd)
}

/// `key list --json` as `password` sees it: (full id, current) per key, oldest first.
fn keys_as(fixture: &Fixture, password: &str) -> Vec<(String, bool)> {
    let run = run_as(fixture, &["key", "list", "--json"], password, None);
    assert_eq!(run.code, 0, "{run}");
    let list: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|k| (k["id"].as_str().unwrap().to_owned(), k["current"].as_bool().unwrap()))
        .collect()
}

#[test]
fn added_keys_open_the_vault_and_the_key_in_use_is_kept() {
    let fixture = Fixture::initialised();
    let first = fixture.json(&["key", "list"]);
    let first = first.as_array().unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["current"], true);
    assert_eq!(first[0]["kdf"]["memory_kib"], 19 * 1024, "COMET_KDF=floor applies to key slots");
    assert!(first[0]["created"].as_str().unwrap().ends_with('Z'));
    let first_id = first[0]["id"].as_str().unwrap().to_owned();

    let run = run_as(&fixture, &["key", "add"], PASSWORD, Some(SECOND));
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stdout.starts_with("added key "), "{run}");
    let keys = keys_as(&fixture, SECOND);
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], (first_id.clone(), false), "oldest first; the second password opened the other");
    assert!(keys[1].1);

    let table = fixture.ok(&["key", "list"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with(" ID ") && lines[0].contains("User@Host"), "{table}");
    assert!(lines[2].starts_with(&format!("*{}", &first_id[..8])), "{table}");
    assert!(lines[3].starts_with(' '), "{table}");

    // The key in use is refused; another password may remove it.
    let run = fixture.run(&["key", "remove", &first_id[..8]]);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stderr.contains("currently used"), "{run}");
    let run = run_as(&fixture, &["key", "remove", &first_id], SECOND, None);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(run.stdout, format!("removed key {}\n", &first_id[..8]));
    let run = fixture.run(&["snapshots"]);
    assert!(run.code == 1 && run.stderr.contains("wrong password"), "{run}");

    // The last key is the one in use: refused as well.
    let last = keys_as(&fixture, SECOND)[0].0.clone();
    let run = run_as(&fixture, &["key", "remove", &last], SECOND, None);
    assert_eq!(run.code, 1, "{run}");
    let run = run_as(&fixture, &["key", "remove", "0000"], SECOND, None);
    assert!(run.code == 1 && run.stderr.contains("no key slot has this id"), "{run}");
}

#[test]
fn passwd_replaces_the_password_and_keeps_the_data() {
    let fixture = Fixture::initialised();
    write_work_tree(&fixture.src());
    fixture.ok(&["backup", "work"]);
    let new_file = fixture.path("new-password");
    std::fs::write(&new_file, format!("{SECOND}\n")).unwrap();

    let mut cmd = fixture.command(&["key", "passwd", "--json", "--new-password-file"]);
    cmd.arg(&new_file).env("COMET_NEW_PASSWORD", "the file wins");
    let run = Fixture::output(cmd);
    assert_eq!(run.code, 0, "{run}");
    let change: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(change["added"].as_str().unwrap().len(), 64);
    assert_eq!(change["removed"].as_str().unwrap().len(), 64);

    let run = fixture.run(&["ls", "latest"]);
    assert!(run.code == 1 && run.stderr.contains("wrong password"), "{run}");
    let keys = keys_as(&fixture, SECOND);
    assert_eq!(keys, [(change["added"].as_str().unwrap().to_owned(), true)]);
    let run = run_as(&fixture, &["ls", "latest", "work/readme.txt"], SECOND, None);
    assert_eq!((run.code, run.stdout.as_str()), (0, "work/readme.txt\n"), "{run}");
    let target = fixture.path("restored");
    let run = run_as(&fixture, &["restore", "latest", "--target", target.to_str().unwrap()], SECOND, None);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(std::fs::read_to_string(target.join("work/readme.txt")).unwrap(), "hello, comet\n");
}

#[test]
fn a_new_password_is_never_guessed() {
    let fixture = Fixture::initialised();
    let run = run_as(&fixture, &["key", "add"], PASSWORD, None);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stderr.contains("no new password given"), "{run}");
    let run = run_as(&fixture, &["key", "passwd"], PASSWORD, Some(""));
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stderr.contains("empty"), "{run}");
    assert_eq!(fixture.json(&["key", "list"]).as_array().unwrap().len(), 1, "nothing was changed");
}
