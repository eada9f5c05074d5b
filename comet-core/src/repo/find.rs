//! Finding entries of snapshots by name.
//!
//! Patterns are globs (`*`, `?`, `[...]`, `**`) with the rules of the backup's `exclude`: a
//! pattern without `/` matches an entry's *name*; a pattern with `/` matches its path inside the
//! snapshot, from the root when it starts with `/` (`/home/*/notes.txt`), at any depth otherwise
//! (`docs/*.md` = `**/docs/*.md`). `*` never crosses `/`; `**` does. Names and patterns are
//! compared in Unicode NFC, so a name stored decomposed (NFD) matches a precomposed pattern.
//!
//! Unchanged directories appear in snapshot after snapshot under the same path with the same
//! tree id, so what was found under each (tree, path) is remembered: each is read once.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

use super::IndexedRepository;
use crate::error::{Error, Result};
use crate::filter::{nfc, nfc_bytes};
use crate::id::{SnapshotId, TreeId};
use crate::tree::{Node, NodeKind};

/// What [`IndexedRepository::find`] looks for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
#[non_exhaustive]
pub struct FindOptions {
    /// Glob patterns: an entry matching any of them is found.
    pub patterns: Vec<String>,
    /// Compare ignoring case.
    pub ignore_case: bool,
}

impl FindOptions {
    /// Looks for entries matching any of `patterns`.
    pub fn new(patterns: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self { patterns: patterns.into_iter().map(Into::into).collect(), ignore_case: false }
    }

    /// Sets whether case is ignored.
    #[must_use]
    pub fn ignore_case(mut self, ignore_case: bool) -> Self {
        self.ignore_case = ignore_case;
        self
    }
}

/// One entry found.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FindMatch {
    /// The snapshot it is in.
    pub snapshot: SnapshotId,
    /// Its path inside the snapshot, `/`-separated, lossily decoded (as `ls` prints it).
    pub path: String,
    /// What it is.
    pub kind: NodeKind,
    /// Permission and file type bits, as `st_mode`.
    pub mode: u32,
    /// Size in bytes (files) or 0.
    pub size: u64,
    /// Modification time, ns since the epoch.
    pub mtime_ns: i64,
}

/// An entry found under some tree, before it is tied to a snapshot.
#[derive(Clone, Debug)]
struct Hit {
    path: String,
    kind: NodeKind,
    mode: u32,
    size: u64,
    mtime_ns: i64,
}

impl Hit {
    fn new(path: String, node: &Node) -> Self {
        Self { path, kind: node.kind, mode: node.mode, size: node.size, mtime_ns: node.mtime_ns }
    }
}

/// Compiled patterns.
#[derive(Debug)]
struct Matcher {
    names: GlobSet,
    paths: GlobSet,
    /// Names and paths are lower-cased before matching (globset folds ASCII only).
    lower: bool,
}

impl Matcher {
    fn new(options: &FindOptions) -> Result<Self> {
        if options.patterns.is_empty() {
            return Err(Error::InvalidOption("find needs at least one pattern".into()));
        }
        let (mut names, mut paths) = (GlobSetBuilder::new(), GlobSetBuilder::new());
        for given in &options.patterns {
            let mut pattern = nfc(given.trim_end_matches('/'));
            if options.ignore_case {
                pattern = pattern.to_lowercase();
            }
            if pattern.is_empty() {
                return Err(Error::InvalidOption(format!("find pattern {given:?} is empty")));
            }
            let (target, glob_text) = if !pattern.contains('/') {
                (&mut names, pattern)
            } else if pattern.starts_with('/') {
                (&mut paths, pattern)
            } else {
                (&mut paths, format!("**/{pattern}"))
            };
            let glob = GlobBuilder::new(&glob_text)
                .literal_separator(true)
                .case_insensitive(options.ignore_case)
                .backslash_escape(true)
                .build()
                .map_err(|e| Error::InvalidOption(format!("find pattern {given:?}: {e}")))?;
            target.add(glob);
        }
        let build = |b: GlobSetBuilder| b.build().map_err(|e| Error::InvalidOption(e.to_string()));
        Ok(Self { names: build(names)?, paths: build(paths)?, lower: options.ignore_case })
    }

    /// Whether the entry `name` at `path` (inside the snapshot, without a leading `/`) matches.
    fn matches(&self, name: &[u8], path: &str) -> bool {
        let fold = |text: &str| if self.lower { text.to_lowercase() } else { text.to_owned() };
        if !self.names.is_empty() && self.names.is_match(fold(&nfc_bytes(name))) {
            return true;
        }
        !self.paths.is_empty() && self.paths.is_match(fold(&nfc(&format!("/{path}"))))
    }
}

/// A step of the depth-first walk: entering a tree reads it and matches its entries, leaving it
/// gathers what its subtrees found.
enum Step {
    Enter(TreeId, String),
    Leave(TreeId, String),
}

/// What a tree yields, in order: its own entries that match, and its subtrees' findings.
enum Part {
    Hit(Hit),
    Subtree(TreeId, String),
}

impl IndexedRepository {
    /// Every entry of `snapshots` (each once, however often it is given) that matches
    /// `options`: grouped by snapshot in the order given, depth first in name order inside each.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for no pattern or an invalid one; storage and corruption errors
    /// from reading snapshots and trees.
    pub async fn find(&self, options: &FindOptions, snapshots: &[SnapshotId]) -> Result<Vec<FindMatch>> {
        let matcher = Matcher::new(options)?;
        let mut found: HashMap<(TreeId, String), Arc<Vec<Hit>>> = HashMap::new();
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for id in snapshots.iter().filter(|id| seen.insert(**id)) {
            let snapshot = self.load_snapshot(id).await?;
            let hits = self.find_in_tree(snapshot.tree, &matcher, &mut found).await?;
            out.extend(hits.iter().map(|h| FindMatch {
                snapshot: *id,
                path: h.path.clone(),
                kind: h.kind,
                mode: h.mode,
                size: h.size,
                mtime_ns: h.mtime_ns,
            }));
        }
        Ok(out)
    }

    /// What matches under the root tree `root`, using and filling `found`.
    async fn find_in_tree(
        &self,
        root: TreeId,
        matcher: &Matcher,
        found: &mut HashMap<(TreeId, String), Arc<Vec<Hit>>>,
    ) -> Result<Arc<Vec<Hit>>> {
        let mut open: HashMap<(TreeId, String), Vec<Part>> = HashMap::new();
        let mut stack = vec![Step::Enter(root, String::new())];
        while let Some(step) = stack.pop() {
            match step {
                Step::Enter(id, dir) => {
                    let key = (id, dir);
                    if found.contains_key(&key) {
                        continue;
                    }
                    let tree = self.read_tree(&id).await?;
                    let mut parts = Vec::new();
                    let mut subtrees = Vec::new();
                    for node in &tree.nodes {
                        let name = node.name_lossy();
                        let path = if key.1.is_empty() { name } else { format!("{}/{name}", key.1) };
                        if matcher.matches(&node.name, &path) {
                            parts.push(Part::Hit(Hit::new(path.clone(), node)));
                        }
                        if let (NodeKind::Dir, Some(sub)) = (node.kind, node.subtree) {
                            subtrees.push(Step::Enter(sub, path.clone()));
                            parts.push(Part::Subtree(sub, path));
                        }
                    }
                    stack.push(Step::Leave(key.0, key.1.clone()));
                    stack.extend(subtrees);
                    open.insert(key, parts);
                }
                Step::Leave(id, dir) => {
                    let key = (id, dir);
                    let parts = open.remove(&key).expect("a tree is left after it is entered");
                    let mut hits = Vec::new();
                    for part in parts {
                        match part {
                            Part::Hit(hit) => hits.push(hit),
                            Part::Subtree(sub, path) => hits.extend(found[&(sub, path)].iter().cloned()),
                        }
                    }
                    found.insert(key, Arc::new(hits));
                }
            }
        }
        Ok(found[&(root, String::new())].clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(patterns: &[&str], ignore_case: bool) -> Matcher {
        Matcher::new(&FindOptions::new(patterns.iter().copied()).ignore_case(ignore_case)).unwrap()
    }

    #[test]
    fn names_paths_case_and_normalisation() {
        let m = matcher(&["*.txt"], false);
        assert!(m.matches(b"a.txt", "docs/a.txt"));
        assert!(!m.matches(b"a.TXT", "docs/a.TXT"));
        assert!(!m.matches(b"docs", "docs"));
        assert!(matcher(&["*.txt"], true).matches(b"A.TXT", "docs/A.TXT"));
        // Non-ASCII case folding, which globset alone does not do.
        assert!(matcher(&["été.md"], true).matches("ÉTÉ.md".as_bytes(), "ÉTÉ.md"));
        // A decomposed name (as macOS writes it) matches a precomposed pattern.
        assert!(matcher(&["café"], false).matches("cafe\u{301}".as_bytes(), "cafe\u{301}"));

        let m = matcher(&["docs/*.md"], false);
        assert!(m.matches(b"b.md", "work/docs/b.md"));
        assert!(m.matches(b"b.md", "docs/b.md"));
        assert!(!m.matches(b"b.md", "work/docs/sub/b.md"), "* does not cross /");
        let anchored = matcher(&["/work/*"], false);
        assert!(anchored.matches(b"docs", "work/docs"));
        assert!(!anchored.matches(b"docs", "old/work/docs"));
        assert!(matcher(&["/work/**/*.md"], false).matches(b"b.md", "work/docs/sub/b.md"));
    }

    #[test]
    fn bad_patterns_are_refused() {
        assert!(Matcher::new(&FindOptions::default()).is_err());
        assert!(Matcher::new(&FindOptions::new(["/"])).is_err());
        let err = Matcher::new(&FindOptions::new(["a[b"])).unwrap_err();
        assert!(err.to_string().contains("a[b"), "{err}");
    }
}
