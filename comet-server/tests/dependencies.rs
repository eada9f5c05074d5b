//! The dependency direction of the workspace (ARCHITECTURE.md): comet-server must never depend,
//! directly or not, on comet-core; comet-storage depends on no other workspace crate.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

fn dependency_graph() -> BTreeMap<String, Vec<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("running cargo metadata");
    assert!(out.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: BTreeMap<&str, &str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let deps = n["deps"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["dep_kinds"].as_array().unwrap().iter().any(|k| k["kind"].is_null()))
                .map(|d| names[d["pkg"].as_str().unwrap()].to_owned())
                .collect();
            (names[n["id"].as_str().unwrap()].to_owned(), deps)
        })
        .collect()
}

fn closure(graph: &BTreeMap<String, Vec<String>>, root: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![root.to_owned()];
    while let Some(p) = stack.pop() {
        for d in graph.get(&p).into_iter().flatten() {
            if seen.insert(d.clone()) {
                stack.push(d.clone());
            }
        }
    }
    seen
}

#[test]
fn server_cannot_link_the_engine() {
    let graph = dependency_graph();
    let server = closure(&graph, "comet-server");
    assert!(server.contains("comet-storage"), "the graph was not read: {server:?}");
    assert!(!server.contains("comet-core"), "comet-server depends on comet-core: it could decrypt vaults");
    assert!(!server.contains("chacha20poly1305"), "comet-server links a cipher");
}

#[test]
fn storage_is_the_leaf() {
    let graph = dependency_graph();
    let storage = closure(&graph, "comet-storage");
    for crate_name in ["comet-core", "comet-protocol", "comet-server", "comet-agent"] {
        assert!(!storage.contains(crate_name), "comet-storage depends on {crate_name}");
    }
    assert!(!closure(&graph, "comet-protocol").contains("comet-core"));
}
