//! Acceptance 6: restore refuses hostile trees and creates nothing outside the target.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use comet_core::blob::BlobSealer;
use comet_core::crypto::MasterKey;
use comet_core::index::{IndexFile, IndexPack};
use comet_core::pack::PackWriter;
use comet_core::snapshot::{BackupSummary, SNAPSHOT_VERSION, Snapshot};
use comet_core::tree::{Node, NodeKind, TREE_VERSION, Tree};
use comet_core::{BlobId, BlobKind, Error, ObjectId, RestoreOptions, TreeId};
use comet_storage::{InMemoryVault, ObjectKey, ObjectKind, Vault};

use super::common::{master_key, memory_repo, reopen};

/// Writes blobs, trees and a snapshot exactly as given: no sorting, no validation.
struct Crafter {
    key: MasterKey,
    sealer: BlobSealer,
    data: PackWriter,
    trees: PackWriter,
}

impl Crafter {
    async fn new(vault: &Arc<InMemoryVault>) -> Self {
        let key = master_key(vault).await;
        let sealer = BlobSealer::new(key.cipher(), 3);
        Self { key, sealer, data: PackWriter::new(BlobKind::Data, 0), trees: PackWriter::new(BlobKind::Tree, 0) }
    }

    fn file(&mut self, name: &[u8], contents: &[u8]) -> Node {
        let id = self.key.blob_id(contents);
        let stored = self.sealer.seal(BlobKind::Data, &id, contents);
        self.data.add(id, &stored, contents.len() as u32);
        let mut node = Node::new(name.to_vec(), NodeKind::File);
        node.mode = 0o100_644;
        node.size = contents.len() as u64;
        node.content = vec![id];
        node
    }

    fn dir(&mut self, name: &[u8], nodes: Vec<Node>) -> Node {
        let mut node = Node::new(name.to_vec(), NodeKind::Dir);
        node.mode = 0o040_755;
        node.subtree = Some(self.tree(nodes));
        node
    }

    fn symlink(name: &[u8], target: &[u8]) -> Node {
        let mut node = Node::new(name.to_vec(), NodeKind::Symlink);
        node.mode = 0o120_777;
        node.link_target = target.to_vec();
        node
    }

    fn tree(&mut self, nodes: Vec<Node>) -> TreeId {
        let bytes = comet_core_tree_bytes(&Tree { version: TREE_VERSION, nodes });
        let id: BlobId = self.key.blob_id(&bytes);
        let stored = self.sealer.seal(BlobKind::Tree, &id, &bytes);
        self.trees.add(id, &stored, bytes.len() as u32);
        id
    }

    async fn finish(self, vault: &Arc<InMemoryVault>, root: Vec<Node>) -> Snapshot {
        let mut this = self;
        let root = this.tree(root);
        let cipher = this.key.cipher();
        let mut packs = Vec::new();
        for writer in [this.data, this.trees] {
            if writer.is_empty() {
                continue;
            }
            let pack = writer.finish(&cipher);
            vault.put(&ObjectKey::pack(pack.id), Bytes::from(pack.bytes)).await.unwrap();
            packs.push(IndexPack::live(pack.id, pack.blobs));
        }
        let index = IndexFile::new(packs).seal(&cipher);
        vault.put(&ObjectKey::new(ObjectKind::Index, ObjectId::of(&index)), Bytes::from(index)).await.unwrap();
        let snapshot = Snapshot {
            version: SNAPSHOT_VERSION,
            time_ns: 1,
            hostname: "attacker".into(),
            username: "mallory".into(),
            paths: vec!["work".into()],
            tags: vec![],
            tree: root,
            parent: None,
            device_id: None,
            protected_item: None,
            summary: BackupSummary::default(),
            program: "crafted".into(),
        };
        let sealed = snapshot.seal(&cipher);
        vault.put(&ObjectKey::new(ObjectKind::Snapshot, ObjectId::of(&sealed)), Bytes::from(sealed)).await.unwrap();
        snapshot
    }
}

fn comet_core_tree_bytes(tree: &Tree) -> Vec<u8> {
    tree.encode()
}

/// Names of everything directly in `dir`.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traversal_names_are_refused() {
    for bad in [&b".."[..], b"../escape", b"a/b", b"/abs", b"", b".", b"x\0y", b"../../../../../../tmp/comet-escape"] {
        let (vault, _) = memory_repo().await;
        let mut c = Crafter::new(&vault).await;
        let evil = c.file(bad, b"pwned");
        let work = c.dir(b"work", vec![evil]);
        let snap = c.finish(&vault, vec![work]).await;
        let base = tempfile::tempdir().unwrap();
        let target = base.path().join("target");
        let repo = reopen(vault.clone()).await;
        let err = repo.restore(&snap, &RestoreOptions::new(&target)).await.unwrap_err();
        assert!(matches!(err, Error::InvalidName { .. }), "name {:?}: {err}", String::from_utf8_lossy(bad));
        assert!(listing(base.path()).iter().all(|n| n == "target"), "created outside: {:?}", listing(base.path()));
        assert!(!Path::new("/tmp/comet-escape").exists());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_named_dotdot_is_refused() {
    let (vault, _) = memory_repo().await;
    let mut c = Crafter::new(&vault).await;
    let inner = c.file(b"escaped", b"pwned");
    let dotdot = c.dir(b"..", vec![inner]);
    let work = c.dir(b"work", vec![dotdot]);
    let snap = c.finish(&vault, vec![work]).await;
    let base = tempfile::tempdir().unwrap();
    let target = base.path().join("t");
    let err = reopen(vault.clone()).await.restore(&snap, &RestoreOptions::new(&target)).await.unwrap_err();
    assert!(matches!(err, Error::InvalidName { .. }), "{err}");
    assert!(!base.path().join("escaped").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlink_then_directory_of_the_same_name_is_refused() {
    let base = tempfile::tempdir().unwrap();
    let victim = base.path().join("victim");
    fs::create_dir(&victim).unwrap();
    let (vault, _) = memory_repo().await;
    let mut c = Crafter::new(&vault).await;
    let link = Crafter::symlink(b"evil", victim.as_os_str().as_encoded_bytes());
    let passwd = c.file(b"passwd", b"root::0:0::/:/bin/sh");
    let dir = c.dir(b"evil", vec![passwd]);
    let work = c.dir(b"work", vec![link, dir]);
    let snap = c.finish(&vault, vec![work]).await;
    let target = base.path().join("t");
    let err = reopen(vault.clone()).await.restore(&snap, &RestoreOptions::new(&target)).await.unwrap_err();
    assert!(matches!(err, Error::InvalidName { .. }), "{err}");
    assert!(listing(&victim).is_empty(), "wrote through the symlink: {:?}", listing(&victim));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_symlinks_and_hardlinks_in_the_target_are_replaced_not_followed() {
    let base = tempfile::tempdir().unwrap();
    let victim = base.path().join("victim");
    fs::create_dir(&victim).unwrap();
    fs::write(victim.join("file"), b"original").unwrap();
    fs::write(victim.join("linked"), b"original").unwrap();

    let (vault, _) = memory_repo().await;
    let mut c = Crafter::new(&vault).await;
    let passwd = c.file(b"passwd", b"restored passwd");
    let dir = c.dir(b"dir", vec![passwd]);
    let file = c.file(b"file", b"restored file");
    let linked = c.file(b"linked", b"restored linked");
    let work = c.dir(b"work", vec![dir, file, linked]);
    let snap = c.finish(&vault, vec![work]).await;

    // The target already holds traps: a symlinked directory, a symlinked file, a hard link.
    let target = base.path().join("t");
    fs::create_dir_all(target.join("work")).unwrap();
    std::os::unix::fs::symlink(&victim, target.join("work/dir")).unwrap();
    std::os::unix::fs::symlink(victim.join("file"), target.join("work/file")).unwrap();
    fs::hard_link(victim.join("linked"), target.join("work/linked")).unwrap();

    reopen(vault.clone()).await.restore(&snap, &RestoreOptions::new(&target)).await.unwrap();
    assert_eq!(listing(&victim), vec!["file", "linked"]);
    assert_eq!(fs::read(victim.join("file")).unwrap(), b"original");
    assert_eq!(fs::read(victim.join("linked")).unwrap(), b"original");
    assert!(fs::symlink_metadata(target.join("work/dir")).unwrap().is_dir());
    assert_eq!(fs::read(target.join("work/dir/passwd")).unwrap(), b"restored passwd");
    assert_eq!(fs::read(target.join("work/file")).unwrap(), b"restored file");
    assert_eq!(fs::read(target.join("work/linked")).unwrap(), b"restored linked");
}
