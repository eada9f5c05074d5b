//! Shared helpers: a fixture (vault, cache and source folder in a temporary directory), running
//! the binary, and reading a tree on disk for comparisons.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

/// The password of every fixture vault.
pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// A vault, a cache and a source folder (the working directory of every command).
pub(crate) struct Fixture {
    dir: TempDir,
    /// Run commands as this user and group (tests that need a non-root user).
    pub(crate) run_as: Option<u32>,
}

/// What one run of the binary did.
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exit code {}\n--- stdout\n{}--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

impl From<Output> for Run {
    fn from(out: Output) -> Self {
        Self {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Fixture {
    /// An empty fixture: nothing initialised, an empty `src/`.
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("src")).unwrap();
        Self { dir, run_as: None }
    }

    /// A fixture with an initialised vault.
    pub(crate) fn initialised() -> Self {
        let fixture = Self::new();
        fixture.ok(&["init"]);
        fixture
    }

    /// `rel` inside the fixture's directory.
    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The fixture's directory.
    pub(crate) fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The source folder, working directory of the commands.
    pub(crate) fn src(&self) -> PathBuf {
        self.path("src")
    }

    /// The binary with the fixture's environment: vault, password, fast KDF, cache.
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_comet-agent"));
        cmd.args(args)
            .current_dir(self.src())
            .env("COMET_VAULT", self.path("vault"))
            .env("COMET_PASSWORD", PASSWORD)
            .env("COMET_KDF", "floor")
            .env("COMET_CACHE_DIR", self.path("cache"))
            .env_remove("COMET_PASSWORD_FILE")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        if let Some(id) = self.run_as {
            use std::os::unix::process::CommandExt;
            cmd.uid(id).gid(id);
        }
        cmd
    }

    /// Runs the binary with `args`.
    pub(crate) fn run(&self, args: &[&str]) -> Run {
        self.command(args).output().unwrap().into()
    }

    /// Runs a command made by [`Fixture::command`] (after changing its environment).
    pub(crate) fn output(mut cmd: Command) -> Run {
        cmd.output().unwrap().into()
    }

    /// Runs a command made by [`Fixture::command`] with `input` on its standard input.
    pub(crate) fn run_with_stdin(mut cmd: Command, input: &str) -> Run {
        let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        child.wait_with_output().unwrap().into()
    }

    /// Runs the binary, asserts it succeeded, returns its standard output.
    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let run = self.run(args);
        assert_eq!(run.code, 0, "comet-agent {args:?} failed:\n{run}");
        run.stdout
    }

    /// Runs the binary with `--json`, asserts it succeeded, parses standard output.
    pub(crate) fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut args = args.to_vec();
        args.push("--json");
        let stdout = self.ok(&args);
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}):\n{stdout}"))
    }

    /// Full ids of the snapshots, oldest first.
    pub(crate) fn snapshot_ids(&self) -> Vec<String> {
        let list = self.json(&["snapshots"]);
        list.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect()
    }

    /// Paths `ls latest` prints.
    pub(crate) fn ls_latest(&self) -> Vec<String> {
        self.ok(&["ls", "latest"]).lines().map(str::to_owned).collect()
    }
}

/// Writes `contents` to `root/rel`, creating folders.
pub(crate) fn write(root: &Path, rel: &str, contents: impl AsRef<[u8]>) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, contents).unwrap();
}

/// Sets the permission bits of `root/rel`.
pub(crate) fn chmod(root: &Path, rel: &str, mode: u32) {
    fs::set_permissions(root.join(rel), fs::Permissions::from_mode(mode)).unwrap();
}

/// Deterministic pseudo-random bytes (xorshift64*).
pub(crate) fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The usual source tree under `root/work`: text files, a 300 KB binary, an executable, a
/// private file, an empty folder and a symlink.
pub(crate) fn write_work_tree(root: &Path) {
    write(root, "work/readme.txt", "hello, comet\n");
    write(root, "work/docs/a.txt", "first document\n");
    write(root, "work/docs/b.md", "# second document\n");
    write(root, "work/sub/big.bin", pseudo_random(300_000, 7));
    write(root, "work/sub/script.sh", "#!/bin/sh\necho hi\n");
    chmod(root, "work/sub/script.sh", 0o755);
    write(root, "work/private.txt", "secret\n");
    chmod(root, "work/private.txt", 0o600);
    fs::create_dir_all(root.join("work/empty")).unwrap();
    symlink("readme.txt", root.join("work/link")).unwrap();
}

/// One entry of a tree on disk, as compared after a restore.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    /// A file: permission bits, modification time (ns) and contents.
    File(u32, i64, Vec<u8>),
    /// A folder: permission bits.
    Dir(u32),
    /// A symlink: its target.
    Symlink(PathBuf),
}

/// Every entry under `root`, by path relative to it.
pub(crate) fn read_tree(root: &Path) -> BTreeMap<String, Entry> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Entry>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let meta = fs::symlink_metadata(&path).unwrap();
            let mode = meta.permissions().mode() & 0o7777;
            if meta.file_type().is_symlink() {
                out.insert(rel, Entry::Symlink(fs::read_link(&path).unwrap()));
            } else if meta.is_dir() {
                out.insert(rel, Entry::Dir(mode));
                walk(root, &path, out);
            } else {
                let mtime_ns = meta.mtime() * 1_000_000_000 + meta.mtime_nsec();
                out.insert(rel, Entry::File(mode, mtime_ns, fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Whether this process runs as root (who can read files whatever their mode).
pub(crate) fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Gives `path` and everything under it to `id` (user and group).
pub(crate) fn chown_tree(path: &Path, id: u32) {
    std::os::unix::fs::lchown(path, Some(id), Some(id)).unwrap();
    if fs::symlink_metadata(path).unwrap().is_dir() {
        for entry in fs::read_dir(path).unwrap() {
            chown_tree(&entry.unwrap().path(), id);
        }
    }
}
