//! The `comet-server` binary on loopback: configuration, first administrator, the admin and user
//! API, compare-and-swap profile edits, login rate limiting, graceful shutdown and restart.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use comet_protocol::account::AccountSecrets;
use serde_json::Value;

const ADMIN_PASSWORD: &str = "admin password for tests";

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_comet-server"))
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

/// POSTs a form and returns the HTTP status and the JSON answer (a minimal HTTP/1.1 client).
fn post(addr: SocketAddr, path: &str, fields: &[(&str, &str)]) -> (u16, Value) {
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
    let body = body.join("&");
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status: u16 = response[9..12].parse().unwrap();
    let (_, payload) = response.split_once("\r\n\r\n").unwrap();
    (status, serde_json::from_str(payload).unwrap_or(Value::Null))
}

struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(data: &Path) -> Self {
        let addr = free_port();
        std::fs::create_dir_all(data).unwrap();
        let config = data.join("comet-server.toml");
        if config.exists() {
            let text = std::fs::read_to_string(&config).unwrap();
            let old = text.lines().find(|l| l.starts_with("address")).unwrap().to_owned();
            std::fs::write(&config, text.replace(&old, &format!("address = \"{addr}\""))).unwrap();
        } else {
            let text = format!("[[listen]]\naddress = \"{addr}\"\n\n[security]\nargon2_memory_kib = 8192\n");
            std::fs::write(&config, text).unwrap();
        }
        let child = binary()
            .arg("--data-dir")
            .arg(data)
            .env("COMET_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while TcpStream::connect(addr).is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "the server did not start listening");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, addr }
    }

    fn admin(&self, method: &str, fields: &[(&str, &str)]) -> (u16, Value) {
        let mut all = vec![("Username", "admin"), ("AuthType", "Password"), ("Password", ADMIN_PASSWORD)];
        all.extend_from_slice(fields);
        post(self.addr, &format!("/api/v1/admin/{method}"), &all)
    }

    /// Sends SIGTERM and waits (bounded) for a clean exit.
    fn stop(mut self) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), nix::sys::signal::SIGTERM).unwrap();
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "exit status {status}");
                return;
            }
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

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

#[test]
fn validate_config_only_creates_then_names_the_broken_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = binary().arg("--validate-config-only").arg("--data-dir").arg(&data).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let config = data.join("comet-server.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("127.0.0.1:8060") && text.contains("# "), "commented defaults:\n{text}");
    assert!(!data.join("comet.sqlite3").exists(), "validation starts nothing");

    std::fs::write(&config, "# comment\n\n[[listen]]\naddress = \"0.0.0.0:8060\"\n").unwrap();
    let out = binary().arg("--validate-config-only").arg("--chdir").arg(&data).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("comet-server.toml:4:"), "the error names line 4: {stderr}");

    std::fs::write(&config, "[security]\nsession_timeout_minutes = \"long\"\n").unwrap();
    let out = binary().arg("--validate-config-only").arg("--data-dir").arg(&data).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("comet-server.toml:2:"));
}

#[test]
fn the_first_start_prints_a_random_admin_password_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let addr = free_port();
    std::fs::write(data.join("comet-server.toml"), format!("[[listen]]\naddress = \"{addr}\"\n")).unwrap();
    let mut child = binary()
        .arg("--data-dir")
        .arg(&data)
        .env_remove("COMET_ADMIN_PASSWORD")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = String::new();
    let started = Instant::now();
    let mut buf = [0u8; 256];
    while !seen.contains("listening on") {
        assert!(started.elapsed() < Duration::from_secs(30), "no output: {seen}");
        let n = stdout.read(&mut buf).unwrap();
        assert!(n > 0, "stdout closed: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let password = seen.split("password ").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
    assert_eq!(password.len(), 20, "{seen}");
    let logs =
        std::fs::read_dir(data.join("logs")).unwrap().map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap());
    assert!(logs.into_iter().all(|log| !log.contains(&password)), "the password reached a log file");
    let (status, body) = post(addr, "/api/v1/admin/meta/version", &[("Username", "admin"), ("Password", &password)]);
    assert_eq!(status, 200, "{body}");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn users_profiles_sessions_and_limits_through_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data);

    let (status, version) = server.admin("meta/version", &[]);
    assert_eq!(status, 200, "{version}");
    assert_eq!(version["ProtocolVersion"], 1);
    let (_, session) = server.admin("account/session-start", &[]);
    let key = session["SessionKey"].as_str().unwrap().to_owned();
    let (status, users) = post(
        server.addr,
        "/api/v1/admin/list-users",
        &[("Username", "admin"), ("AuthType", "SessionKey"), ("SessionKey", &key)],
    );
    assert_eq!((status, users), (200, serde_json::json!([])));

    assert_eq!(server.admin("add-user", &[("TargetUser", "alice"), ("TargetPassword", "alice's password")]).0, 200);
    let (status, body) = server.admin("add-user", &[("TargetUser", "alice"), ("TargetPassword", "another one")]);
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["Status"], 409);
    for hostile in ["../alice", "%2e%2e", "a/b", "", "alice\n"] {
        let (status, _) = server.admin("get-user-profile", &[("TargetUser", hostile)]);
        assert_eq!(status, 400, "{hostile:?}");
    }
    assert_eq!(server.admin("get-user-profile", &[("TargetUser", "bob")]).0, 404);

    // Compare-and-swap: two edits based on the same hash, at the same time: exactly one wins.
    let (_, read) = server.admin("get-user-profile-and-hash", &[("TargetUser", "alice")]);
    let hash = read["ProfileHash"].as_str().unwrap().to_owned();
    let edits: Vec<String> = ["Alice A", "Alice B"]
        .iter()
        .map(|name| {
            let mut profile = read["Profile"].clone();
            profile["AccountName"] = Value::from(*name);
            profile.to_string()
        })
        .collect();
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = edits
            .iter()
            .map(|edit| {
                let (server, hash) = (&server, &hash);
                s.spawn(move || {
                    server
                        .admin(
                            "set-user-profile-hash",
                            &[("TargetUser", "alice"), ("ProfileData", edit), ("RequireHash", hash)],
                        )
                        .0
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut sorted = statuses.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, vec![200, 409], "{statuses:?}");
    let (_, after) = server.admin("get-user-profile-and-hash", &[("TargetUser", "alice")]);
    assert_ne!(after["ProfileHash"], hash.as_str());

    // The user logs in with the login secret derived from the password, and sees only their own.
    let secret = AccountSecrets::derive("alice", b"alice's password").login_secret;
    let (status, session) =
        post(server.addr, "/api/v1/user/web/session/start", &[("Username", "alice"), ("Password", &secret)]);
    assert_eq!(status, 200, "{session}");
    let user_key = session["SessionKey"].as_str().unwrap();
    let (status, own) = post(
        server.addr,
        "/api/v1/user/web/get-user-profile-and-hash",
        &[("Username", "alice"), ("AuthType", "SessionKey"), ("SessionKey", user_key)],
    );
    assert_eq!(status, 200);
    assert_eq!(own["Profile"]["Username"], "alice");
    // A user session is no admin session.
    let (status, _) = post(
        server.addr,
        "/api/v1/admin/list-users",
        &[("Username", "alice"), ("AuthType", "SessionKey"), ("SessionKey", user_key)],
    );
    assert_eq!(status, 403);
    // The plain password is not the login secret.
    let (status, _) =
        post(server.addr, "/api/v1/user/web/session/start", &[("Username", "alice"), ("Password", "alice's password")]);
    assert_eq!(status, 403);

    // Five failures lock the account, even for the right password.
    for _ in 0..5 {
        let (status, _) =
            post(server.addr, "/api/v1/admin/meta/version", &[("Username", "admin"), ("Password", "wrong")]);
        assert_eq!(status, 403);
    }
    let (status, body) = server.admin("meta/version", &[]);
    assert_eq!(status, 429, "{body}");
    // Session keys still work.
    let (status, _) = post(
        server.addr,
        "/api/v1/admin/meta/version",
        &[("Username", "admin"), ("AuthType", "SessionKey"), ("SessionKey", &key)],
    );
    assert_eq!(status, 200);

    // SIGTERM stops it cleanly; a restart keeps what was acknowledged.
    server.stop();
    let server = Server::start(&data);
    let (status, users) = server.admin("list-users", &[]);
    assert_eq!((status, users), (200, serde_json::json!(["alice"])));
    server.stop();
}
