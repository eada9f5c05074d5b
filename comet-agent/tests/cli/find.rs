//! `find`: names and paths matched by globs, across snapshots.

use super::common::{Fixture, write, write_work_tree};

/// `find --json ARGS`: (short snapshot id, path) per match.
fn found(fixture: &Fixture, args: &[&str]) -> Vec<(String, String)> {
    let mut all = vec!["find"];
    all.extend_from_slice(args);
    let json = fixture.json(&all);
    json.as_array()
        .unwrap()
        .iter()
        .map(|m| (m["snapshot"].as_str().unwrap()[..8].to_owned(), m["path"].as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn finds_names_and_paths_in_every_snapshot() {
    let fixture = Fixture::initialised();
    let src = fixture.src();
    write_work_tree(&src);
    fixture.ok(&["backup", "work"]);
    write(&src, "work/docs/Notes.TXT", "shouting\n");
    fixture.ok(&["backup", "work"]);
    let ids: Vec<String> = fixture.snapshot_ids().iter().map(|id| id[..8].to_owned()).collect();
    let pair = |i: usize, path: &str| (ids[i].clone(), path.to_owned());

    assert_eq!(found(&fixture, &["a.txt"]), [pair(0, "work/docs/a.txt"), pair(1, "work/docs/a.txt")]);
    assert_eq!(found(&fixture, &["*.txt", "--snapshot", "latest"]).len(), 3, "case matters by default");
    assert_eq!(
        found(&fixture, &["*.txt", "-s", "latest", "--ignore-case"]),
        [
            pair(1, "work/docs/Notes.TXT"),
            pair(1, "work/docs/a.txt"),
            pair(1, "work/private.txt"),
            pair(1, "work/readme.txt")
        ]
    );
    // With a `/`, the pattern matches the path: at any depth, or from the root with a leading `/`.
    assert_eq!(found(&fixture, &["docs/*.md"]), [pair(0, "work/docs/b.md"), pair(1, "work/docs/b.md")]);
    assert_eq!(
        found(&fixture, &["/work/*.txt", "-s", &ids[0]]),
        [pair(0, "work/private.txt"), pair(0, "work/readme.txt")]
    );
    assert!(found(&fixture, &["/docs/*.md"]).is_empty());
    // Directories are entries too.
    assert_eq!(found(&fixture, &["sub", "-s", &ids[0]]), [pair(0, "work/sub")]);

    let json = fixture.json(&["find", "script.sh", "-s", "latest"]);
    let script = &json[0];
    assert_eq!(script["type"], "file");
    assert_eq!(script["mode"], 0o755);
    assert_eq!(script["size"], 18);
    assert_eq!(script["snapshot"].as_str().unwrap().len(), 64);

    let text = fixture.ok(&["find", "a.txt"]);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with(&format!("snapshot {} of ", ids[0])), "{text}");
    assert!(
        lines[1].starts_with("-rw") && lines[1].contains(" 15 ") && lines[1].ends_with(" work/docs/a.txt"),
        "{text}"
    );
    assert!(lines[3].starts_with(&format!("snapshot {} of ", ids[1])), "{text}");
    assert_eq!(lines.last().unwrap(), &"2 matches in 2 snapshots", "{text}");

    assert_eq!(
        fixture.ok(&["find", "--path-only", "-i", "notes.txt", "a.txt"]),
        "work/docs/Notes.TXT\nwork/docs/a.txt\n"
    );
    assert_eq!(fixture.ok(&["find", "nothing-like-this"]), "0 matches in 0 snapshots\n");
    let run = fixture.run(&["find", "a[b"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stderr.contains("a[b"), "{run}");
}
