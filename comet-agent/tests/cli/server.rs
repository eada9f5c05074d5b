//! A real `comet-server` for the managed-agent tests: started on a free loopback port with its
//! data in a temporary directory, driven through its admin API, and a fault-injecting proxy
//! that can lose the answer of one agent method.
//!
//! The server binary is the workspace's `target/<profile>/comet-server`, built by `cargo test
//! --workspace` (the README's test command) before any test runs.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::common::{Fixture, Run};

/// The first administrator's password.
pub(crate) const ADMIN_PASSWORD: &str = "admin password for the agent tests";

fn server_binary() -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_comet-agent")).with_file_name("comet-server");
    assert!(path.exists(), "{} is missing: build it with `cargo build -p comet-server`", path.display());
    path
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap())
}

/// Runs `future` on the tests' runtime.
pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
    runtime().block_on(future)
}

/// Percent-encodes a form value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A running server.
pub(crate) struct Server {
    child: Child,
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    /// Its data directory.
    pub(crate) data: PathBuf,
}

impl Server {
    /// Starts a server with its data under `data`.
    pub(crate) fn start(data: &Path) -> Self {
        Self::start_with(data, "")
    }

    /// Starts a server with `extra` appended to its configuration (a `[jobs]` table, ...).
    pub(crate) fn start_with(data: &Path, extra: &str) -> Self {
        let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        std::fs::create_dir_all(data).unwrap();
        let text = format!("[[listen]]\naddress = \"{addr}\"\n\n[security]\nargon2_memory_kib = 8192\n\n{extra}");
        std::fs::write(data.join("comet-server.toml"), text).unwrap();
        Self::spawn(data, addr)
    }

    /// Stops the server (SIGTERM) and starts it again on the same address and data.
    pub(crate) fn restart(self) -> Self {
        let (data, addr) = (self.data.clone(), self.addr);
        self.stop();
        Self::spawn(&data, addr)
    }

    fn spawn(data: &Path, addr: SocketAddr) -> Self {
        let log = |name: &str| std::fs::OpenOptions::new().create(true).append(true).open(data.join(name)).unwrap();
        let child = Command::new(server_binary())
            .arg("--data-dir")
            .arg(data)
            .env("COMET_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env_remove("RUST_LOG")
            .stdout(log("stdout.txt"))
            .stderr(log("stderr.txt"))
            .spawn()
            .unwrap();
        let started = Instant::now();
        while TcpStream::connect(addr).is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "the server did not start listening");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, addr, data: data.to_owned() }
    }

    /// Its URL.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// POSTs a form to `path`; the HTTP status and the JSON answer (or the text as a string).
    pub(crate) fn post(&self, path: &str, fields: &[(&str, &str)]) -> (u16, Value) {
        let body: Vec<String> = fields.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
        let url = format!("{}{path}", self.url());
        block_on(async {
            let response = reqwest::Client::new()
                .post(url)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body.join("&"))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
        })
    }

    /// Calls an admin method as the first administrator.
    pub(crate) fn admin(&self, method: &str, fields: &[(&str, &str)]) -> (u16, Value) {
        let mut all = vec![("Username", "admin"), ("AuthType", "Password"), ("Password", ADMIN_PASSWORD)];
        all.extend_from_slice(fields);
        self.post(&format!("/api/v1/admin/{method}"), &all)
    }

    /// Calls an admin method that must succeed; its answer.
    pub(crate) fn admin_ok(&self, method: &str, fields: &[(&str, &str)]) -> Value {
        let (status, answer) = self.admin(method, fields);
        assert_eq!(status, 200, "{method} {fields:?}: {answer}");
        answer
    }

    /// Creates a user.
    pub(crate) fn add_user(&self, user: &str, password: &str) {
        self.admin_ok("add-user", &[("TargetUser", user), ("TargetPassword", password)]);
    }

    /// Edits a user's profile through compare-and-swap.
    pub(crate) fn edit_profile(&self, user: &str, edit: impl FnOnce(&mut Value)) {
        let answer = self.admin_ok("get-user-profile-and-hash", &[("TargetUser", user)]);
        let mut profile = answer["Profile"].clone();
        edit(&mut profile);
        let hash = answer["ProfileHash"].as_str().unwrap().to_owned();
        self.admin_ok(
            "set-user-profile-hash",
            &[("TargetUser", user), ("ProfileData", &profile.to_string()), ("RequireHash", &hash)],
        );
    }

    /// A user's profile.
    pub(crate) fn profile(&self, user: &str) -> Value {
        self.admin_ok("get-user-profile", &[("TargetUser", user)])
    }

    /// A user's jobs, oldest first.
    pub(crate) fn jobs(&self, user: &str) -> Vec<Value> {
        let answer = self.admin_ok("get-jobs-for-user", &[("TargetUser", user)]);
        let mut jobs = answer.as_array().unwrap().clone();
        jobs.sort_by_key(|j| j["StartTime"].as_i64());
        jobs
    }

    /// A job's log entries.
    pub(crate) fn job_log(&self, job: &str) -> Vec<Value> {
        self.admin_ok("get-job-log-entries", &[("JobID", job)]).as_array().unwrap().clone()
    }

    /// The live connections (`dispatcher/list-active`), by connection id.
    pub(crate) fn online(&self) -> serde_json::Map<String, Value> {
        self.admin_ok("dispatcher/list-active", &[]).as_object().unwrap().clone()
    }

    /// Waits (bounded) until `device` is online; its connection id.
    pub(crate) fn wait_online(&self, device: &str) -> String {
        let started = Instant::now();
        loop {
            if let Some((id, _)) = self.online().iter().find(|(_, c)| c["DeviceID"] == device) {
                return id.clone();
            }
            assert!(started.elapsed() < Duration::from_secs(60), "device {device} did not come online");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits (bounded) until job `id` of `user` satisfies `done`; the job.
    pub(crate) fn wait_job(&self, user: &str, id: &str, limit: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            if let Some(job) = self.jobs(user).into_iter().find(|j| j["GUID"] == id)
                && done(&job)
            {
                return job;
            }
            assert!(started.elapsed() < limit, "job {id} did not get there in {limit:?}: {:?}", self.jobs(user));
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends SIGTERM and waits (bounded) for the exit.
    pub(crate) fn stop(mut self) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), nix::sys::signal::SIGTERM).unwrap();
        let started = Instant::now();
        while self.child.try_wait().unwrap().is_none() {
            assert!(started.elapsed() < Duration::from_secs(20), "the server did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A device: an agent home, in a fixture (whose `src/` holds the files to protect).
pub(crate) struct Device {
    /// Files, cache and home.
    pub(crate) fixture: Fixture,
}

impl Device {
    /// A new device (nothing logged in).
    pub(crate) fn new() -> Self {
        Self { fixture: Fixture::new() }
    }

    /// The agent's home.
    pub(crate) fn home(&self) -> PathBuf {
        self.fixture.path("agent-home")
    }

    /// The agent with this device's home and no standalone vault settings.
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.fixture.command(args);
        cmd.env("COMET_AGENT_HOME", self.home()).env_remove("COMET_VAULT").env_remove("COMET_PASSWORD");
        cmd
    }

    /// Runs the agent.
    pub(crate) fn run(&self, args: &[&str]) -> Run {
        Fixture::output(self.command(args))
    }

    /// Runs the agent, which must succeed; its standard output.
    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let run = self.run(args);
        assert_eq!(run.code, 0, "comet-agent {args:?} failed:\n{run}");
        run.stdout
    }

    /// `login prompt` with the four lines on standard input.
    pub(crate) fn login(&self, user: &str, password: &str, url: &str, name: &str) -> Run {
        Fixture::run_with_stdin(self.command(&["login", "prompt"]), &format!("{user}\n{password}\n{url}\n{name}\n"))
    }

    /// This device's id.
    pub(crate) fn id(&self) -> String {
        self.ok(&["info", "device-id"]).trim().to_owned()
    }

    /// Starts `comet-agent run` (its output in `daemon.log` of the fixture).
    pub(crate) fn daemon(&self) -> Daemon {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.fixture.path("daemon.log")).unwrap();
        let mut cmd = self.command(&["run"]);
        cmd.stdout(log.try_clone().unwrap()).stderr(log);
        Daemon { child: cmd.spawn().unwrap(), log: self.fixture.path("daemon.log") }
    }
}

/// A running `comet-agent run`.
pub(crate) struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    /// Kills it at once (SIGKILL), as a power cut would.
    pub(crate) fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// What it printed so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP proxy in front of a server that loses the answer to the first request whose line
/// starts with `POST <path>`: the server carries the request out, the client hears nothing.
pub(crate) struct LosingProxy {
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    /// Answers lost so far.
    pub(crate) lost: Arc<AtomicUsize>,
}

impl LosingProxy {
    /// Starts a proxy to `upstream` losing one answer to `POST path`.
    pub(crate) fn start(upstream: SocketAddr, path: &str) -> Self {
        let listener = block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let lost = Arc::new(AtomicUsize::new(0));
        let marker = format!("POST {path} ").into_bytes();
        let counter = lost.clone();
        runtime().spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else { return };
                let (marker, counter) = (marker.clone(), counter.clone());
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(upstream).await else { return };
                    let (mut client_read, mut client_write) = client.into_split();
                    let (mut server_read, mut server_write) = server.into_split();
                    let poisoned = Arc::new(std::sync::atomic::AtomicBool::new(false));
                    let to_server = {
                        let (poisoned, counter) = (poisoned.clone(), counter.clone());
                        async move {
                            let mut buf = vec![0u8; 64 << 10];
                            loop {
                                let n = match client_read.read(&mut buf).await {
                                    Ok(0) | Err(_) => return,
                                    Ok(n) => n,
                                };
                                if buf[..n].starts_with(&marker) && counter.load(Ordering::SeqCst) == 0 {
                                    poisoned.store(true, Ordering::SeqCst);
                                }
                                if server_write.write_all(&buf[..n]).await.is_err() {
                                    return;
                                }
                            }
                        }
                    };
                    let to_client = async move {
                        let mut buf = vec![0u8; 64 << 10];
                        loop {
                            let n = match server_read.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => n,
                            };
                            if poisoned.load(Ordering::SeqCst) {
                                // The server answered: the request was carried out. Lose it.
                                counter.fetch_add(1, Ordering::SeqCst);
                                return;
                            }
                            if client_write.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    };
                    // Whichever direction ends first closes the whole connection.
                    tokio::select! {
                        () = to_server => {}
                        () = to_client => {}
                    }
                });
            }
        });
        Self { addr, lost }
    }

    /// Its URL.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}
