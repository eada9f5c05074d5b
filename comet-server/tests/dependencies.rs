//! The dependency direction of the workspace (ARCHITECTURE.md): comet-server must never depend,
//! directly or not, on comet-core; comet-storage depends on no other workspace crate.

use std::collections::BTreeSet;
use std::process::Command;

/// Every package `root` depends on through normal (linked) dependencies, as `cargo tree` resolves
/// them for this platform and the enabled features (offline: only what the build has fetched).
fn closure(root: &str) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["tree", "--offline", "-p", root, "-e", "normal", "--prefix", "none", "--format", "{p}"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("running cargo tree");
    assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != root)
        .map(str::to_owned)
        .collect()
}

#[test]
fn server_cannot_link_the_engine() {
    let server = closure("comet-server");
    assert!(server.contains("comet-storage"), "the graph was not read: {server:?}");
    assert!(!server.contains("comet-core"), "comet-server depends on comet-core: it could decrypt vaults");
    assert!(!server.contains("chacha20poly1305"), "comet-server links a cipher");
}

#[test]
fn storage_is_the_leaf() {
    let storage = closure("comet-storage");
    for crate_name in ["comet-core", "comet-protocol", "comet-server", "comet-agent"] {
        assert!(!storage.contains(crate_name), "comet-storage depends on {crate_name}");
    }
    assert!(!closure("comet-protocol").contains("comet-core"));
}
