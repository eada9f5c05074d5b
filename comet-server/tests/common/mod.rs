//! What the integration tests share: the `comet-server` binary started on a loopback port of
//! its own (admin password [`ADMIN_PASSWORD`]), a minimal HTTP/1.1 client for the form API, and
//! helpers for the agent API and the user web API.

// Each test binary uses only some of these.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use comet_protocol::account::AccountSecrets;
use comet_protocol::agent::{Credentials, DeviceInfo, Register, RegisterRequest};
use comet_protocol::client::AgentClient;
use serde_json::Value;

pub(crate) const ADMIN_PASSWORD: &str = "admin password for tests";

pub(crate) fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_comet-server"))
}

/// Percent-encodes a form value.
pub(crate) fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Sends one HTTP/1.1 request (a minimal client) and returns the status, headers and body.
pub(crate) fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    for (k, v) in headers {
        write!(head, "{k}: {v}\r\n").unwrap();
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status: u16 = head[9..12].parse().unwrap();
    let mut body = response[split + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    (status, head, body)
}

/// Decodes a chunked body.
fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(std::str::from_utf8(&data[..line_end]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[line_end + 2..line_end + 2 + size]);
        data = &data[line_end + 2 + size + 2..];
    }
}

/// POSTs a form and returns the HTTP status and the JSON answer.
pub(crate) fn post(addr: SocketAddr, path: &str, fields: &[(&str, &str)]) -> (u16, Value) {
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
    let (status, _, body) = request(
        addr,
        "POST",
        path,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        body.join("&").as_bytes(),
    );
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// POSTs a form and returns the HTTP status and the answer as text.
pub(crate) fn post_text(addr: SocketAddr, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
    let (status, _, body) = request(
        addr,
        "POST",
        path,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        body.join("&").as_bytes(),
    );
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// What a test device says about itself.
pub(crate) fn device_info(name: &str) -> DeviceInfo {
    DeviceInfo { friendly_name: name.to_owned(), platform: "linux x86_64".into(), client_version: "0.1.0".into() }
}

/// Registers device `device_id` to `username` with the login secret; gives a client holding its
/// device token.
pub(crate) async fn register(client: &AgentClient, username: &str, login_secret: &str, device_id: &str) -> AgentClient {
    let registered = client
        .call::<Register>(&RegisterRequest {
            credentials: Credentials::Password { username: username.into(), login_secret: login_secret.into() },
            device_id: device_id.into(),
            device: device_info(device_id),
        })
        .await
        .unwrap();
    assert_eq!(registered.username, username);
    client.clone().with_token(&registered.device_token)
}

pub(crate) struct Server {
    child: Child,
    pub(crate) addr: SocketAddr,
}

impl Server {
    pub(crate) fn start(data: &Path) -> Self {
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
        Self { child: spawn_listening(data, addr), addr }
    }

    /// The server's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn admin(&self, method: &str, fields: &[(&str, &str)]) -> (u16, Value) {
        let mut all = vec![("Username", "admin"), ("AuthType", "Password"), ("Password", ADMIN_PASSWORD)];
        all.extend_from_slice(fields);
        post(self.addr, &format!("/api/v1/admin/{method}"), &all)
    }

    /// `http://<its address>`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// An agent-API client of this server, without a device token.
    pub(crate) fn agent(&self) -> AgentClient {
        AgentClient::new(&self.url()).unwrap()
    }

    /// Adds a user through the admin API; gives the secrets its password derives (as an agent
    /// would).
    pub(crate) fn add_user(&self, name: &str, password: &str) -> AccountSecrets {
        let (status, body) = self.admin("add-user", &[("TargetUser", name), ("TargetPassword", password)]);
        assert_eq!(status, 200, "{body}");
        AccountSecrets::derive(name, password.as_bytes())
    }

    /// A session key of the user web API.
    pub(crate) fn user_session(&self, name: &str, login_secret: &str) -> String {
        let (status, body) =
            post(self.addr, "/api/v1/user/web/session/start", &[("Username", name), ("Password", login_secret)]);
        assert_eq!(status, 200, "{body}");
        body["SessionKey"].as_str().unwrap().to_owned()
    }

    /// Calls a user web method with a session key; gives the status and the body as text.
    pub(crate) fn user_web_text(
        &self,
        name: &str,
        session: &str,
        method: &str,
        fields: &[(&str, &str)],
    ) -> (u16, String) {
        let mut all = vec![("Username", name), ("AuthType", "SessionKey"), ("SessionKey", session)];
        all.extend_from_slice(fields);
        post_text(self.addr, &format!("/api/v1/user/web/{method}"), &all)
    }

    /// Calls a user web method with a session key; gives the status and the JSON answer.
    pub(crate) fn user_web(&self, name: &str, session: &str, method: &str, fields: &[(&str, &str)]) -> (u16, Value) {
        let (status, text) = self.user_web_text(name, session, method, fields);
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Calls an admin method; gives the status and the body as text.
    pub(crate) fn admin_text(&self, method: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let mut all = vec![("Username", "admin"), ("AuthType", "Password"), ("Password", ADMIN_PASSWORD)];
        all.extend_from_slice(fields);
        post_text(self.addr, &format!("/api/v1/admin/{method}"), &all)
    }

    /// Sends SIGTERM and waits (bounded) for a clean exit.
    pub(crate) fn stop(mut self) {
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

/// Starts the server on `data` (admin password [`ADMIN_PASSWORD`]) and waits, bounded, until
/// `addr` accepts connections.
pub(crate) fn spawn_listening(data: &Path, addr: SocketAddr) -> Child {
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
    child
}

pub(crate) fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}
