//! Acceptance 5: a backup killed with SIGKILL at several points, then run again, completes,
//! restores exactly, and the re-run uploads only what was missing: packs that reached the vault
//! before the kill are re-used, never uploaded a second time.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use comet_core::keyslot::KeySlot;
use comet_core::pack;

use super::common::{Fixture, PASSWORD};

/// Incompressible bytes, seeded.
fn random_bytes(len: usize, mut state: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The stored objects of one kind folder (`data` has a two-hex fan-out), skipping staging files.
fn objects(vault: &Path, kind: &str) -> Vec<PathBuf> {
    let is_id = |p: &Path| {
        p.file_name().is_some_and(|n| n.len() == 64 && n.to_string_lossy().bytes().all(|b| b.is_ascii_hexdigit()))
    };
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(vault.join(kind)) else { return out };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(fs::read_dir(&path).unwrap().flatten().map(|e| e.path()).filter(|p| is_id(p)));
        } else if is_id(&path) {
            out.push(path);
        }
    }
    out
}

/// Runs a backup and SIGKILLs it once `ready` says so; returns whether it was killed (rather
/// than finishing first).
fn killed_backup(fixture: &Fixture, ready: impl Fn() -> bool) -> bool {
    let mut child = fixture.command(&["backup", "data"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "the backup failed on its own: {status}");
            return false;
        }
        if ready() {
            child.kill().unwrap();
            child.wait().unwrap();
            return true;
        }
        assert!(Instant::now() < deadline, "the backup neither finished nor reached the kill point");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Every blob id in every pack of the vault, read from the pack headers.
fn blobs_in_packs(vault: &Path) -> Vec<comet_core::BlobId> {
    let slots = objects(vault, "keys");
    let key = slots
        .iter()
        .find_map(|p| KeySlot::decode(&fs::read(p).unwrap()).unwrap().unwrap_key(PASSWORD.as_bytes()).unwrap())
        .expect("a key slot opens with the password");
    let cipher = key.cipher();
    objects(vault, "data")
        .iter()
        .flat_map(|p| pack::read_header(&cipher, &fs::read(p).unwrap()).unwrap().blobs)
        .map(|b| b.id)
        .collect()
}

fn dir_bytes(paths: &[PathBuf]) -> u64 {
    paths.iter().map(|p| fs::metadata(p).unwrap().len()).sum()
}

fn kill_then_resume(kill_point: &str, ready: impl Fn(&Fixture) -> bool) {
    let fixture = Fixture::initialised();
    let data = fixture.src().join("data");
    fs::create_dir(&data).unwrap();
    // 160 MiB of incompressible files: 10 packs, more than one index flush (every 8 packs).
    for i in 0..40u64 {
        fs::write(data.join(format!("file-{i:02}")), random_bytes(4 << 20, i)).unwrap();
    }
    let source_bytes = 160u64 << 20;
    let vault = fixture.path("vault");

    assert!(killed_backup(&fixture, || ready(&fixture)), "kill point {kill_point}: the backup finished before it");
    let packs_before = objects(&vault, "data");
    assert!(objects(&vault, "snapshots").is_empty(), "a killed backup must not leave a snapshot");

    fixture.ok(&["backup", "data"]);
    let packs_after = objects(&vault, "data");
    for p in &packs_before {
        assert!(packs_after.contains(p), "kill point {kill_point}: pack {} vanished", p.display());
    }
    // Nothing stored twice: every blob is in exactly one pack, and the vault holds the data
    // once (incompressible, plus per-blob and per-pack overhead).
    let blobs = blobs_in_packs(&vault);
    let unique: HashSet<_> = blobs.iter().collect();
    assert_eq!(unique.len(), blobs.len(), "kill point {kill_point}: a blob was uploaded again");
    let stored = dir_bytes(&packs_after);
    assert!(stored < source_bytes + (1 << 20), "kill point {kill_point}: {stored} bytes stored for {source_bytes}");
    let uploaded_by_rerun = stored - dir_bytes(&packs_before);
    assert!(
        uploaded_by_rerun <= source_bytes - dir_bytes(&packs_before) + (1 << 20),
        "kill point {kill_point}: the re-run uploaded {uploaded_by_rerun} bytes"
    );

    // The snapshot restores exactly.
    let target = fixture.path("restored");
    fixture.ok(&["restore", "latest", "--target", target.to_str().unwrap()]);
    for i in 0..40u64 {
        let restored = fs::read(target.join(format!("data/file-{i:02}"))).unwrap();
        assert!(restored == random_bytes(4 << 20, i), "kill point {kill_point}: file-{i:02} differs");
    }
}

#[test]
fn killed_as_soon_as_its_session_exists() {
    kill_then_resume("session", |f| !objects(&f.path("vault"), "sessions").is_empty());
}

#[test]
fn killed_after_the_first_pack() {
    kill_then_resume("first pack", |f| !objects(&f.path("vault"), "data").is_empty());
}

#[test]
fn killed_after_four_packs_before_any_index() {
    kill_then_resume("four packs", |f| objects(&f.path("vault"), "data").len() >= 4);
}

#[test]
fn killed_after_the_first_index_flush() {
    kill_then_resume("index flush", |f| {
        let vault = f.path("vault");
        !objects(&vault, "index").is_empty()
    });
}
