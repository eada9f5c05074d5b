//! `init`, passwords, and how the agent refuses what it cannot open.

use super::common::{Fixture, PASSWORD};

#[test]
fn init_is_idempotent() {
    let fixture = Fixture::new();
    let first = fixture.run(&["init"]);
    assert_eq!(first.code, 0, "{first}");
    assert!(first.stdout.starts_with("created vault "), "{first}");
    assert!(first.stderr.contains("Keep the password safe"), "{first}");

    let second = fixture.run(&["init"]);
    assert_eq!(second.code, 0, "{second}");
    assert!(second.stdout.contains("already initialised"), "{second}");

    let json = fixture.json(&["init"]);
    assert_eq!(json["status"], "already_initialised");
    assert_eq!(json["vault_id"].as_str().unwrap().len(), 32);
    // The vault is usable, and still empty.
    assert!(fixture.snapshot_ids().is_empty());
}

#[test]
fn init_with_another_password_leaves_the_vault_alone() {
    let fixture = Fixture::initialised();
    let mut cmd = fixture.command(&["init"]);
    cmd.env("COMET_PASSWORD", "another password");
    let run = Fixture::output(cmd);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stderr.contains("wrong password"), "{run}");
    fixture.ok(&["snapshots"]);
}

#[test]
fn wrong_password_exits_1_with_a_clear_message() {
    let fixture = Fixture::initialised();
    let mut cmd = fixture.command(&["snapshots"]);
    cmd.env("COMET_PASSWORD", "not it");
    let run = Fixture::output(cmd);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stdout.is_empty(), "{run}");
    assert!(run.stderr.starts_with("error: wrong password"), "{run}");
    assert!(!run.stderr.contains("not it"), "the password was printed:\n{run}");
}

#[test]
fn password_comes_from_a_file_or_standard_input() {
    let fixture = Fixture::initialised();
    let file = fixture.path("password.txt");
    std::fs::write(&file, format!("{PASSWORD}\nignored second line\n")).unwrap();
    let mut from_file = fixture.command(&["snapshots"]);
    from_file.env_remove("COMET_PASSWORD").env("COMET_PASSWORD_FILE", &file);
    let run = Fixture::output(from_file);
    assert_eq!(run.code, 0, "{run}");

    let mut from_flag = fixture.command(&["snapshots", "--password-file"]);
    from_flag.arg(&file).env_remove("COMET_PASSWORD");
    let run = Fixture::output(from_flag);
    assert_eq!(run.code, 0, "{run}");

    let mut from_stdin = fixture.command(&["snapshots"]);
    from_stdin.env_remove("COMET_PASSWORD");
    let run = Fixture::run_with_stdin(from_stdin, &format!("{PASSWORD}\n"));
    assert_eq!(run.code, 0, "{run}");

    let mut wrong_stdin = fixture.command(&["snapshots"]);
    wrong_stdin.env_remove("COMET_PASSWORD");
    let run = Fixture::run_with_stdin(wrong_stdin, "guess\n");
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stderr.contains("wrong password"), "{run}");
}

#[test]
fn no_password_at_all_is_an_error() {
    let fixture = Fixture::initialised();
    let mut cmd = fixture.command(&["snapshots"]);
    cmd.env_remove("COMET_PASSWORD");
    let run = Fixture::output(cmd);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stderr.contains("error: password: none given"), "{run}");
}

#[test]
fn missing_vault_location_is_a_usage_error() {
    let fixture = Fixture::new();
    let mut cmd = fixture.command(&["snapshots"]);
    cmd.env_remove("COMET_VAULT");
    let run = Fixture::output(cmd);
    assert_eq!(run.code, 2, "{run}");
    assert!(run.stderr.contains("no vault given"), "{run}");
}

#[test]
fn uninitialised_vault_says_to_run_init() {
    let fixture = Fixture::new();
    let run = fixture.run(&["snapshots"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stderr.contains("run `init` first"), "{run}");
}

#[test]
fn bad_arguments_exit_2() {
    let fixture = Fixture::new();
    assert_eq!(fixture.run(&["backup"]).code, 2);
    assert_eq!(fixture.run(&["backup", "x", "--exclude-larger-than", "ten"]).code, 2);
    assert_eq!(fixture.run(&["frobnicate"]).code, 2);
}
