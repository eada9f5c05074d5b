//! A throw-away `SeaweedFS` (master, volume server, filer and S3 gateway in one `weed server`
//! process) on 127.0.0.1, free ports and a temporary directory, killed when dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long `SeaweedFS` gets to start before the test gives up.
const STARTUP_DEADLINE: Duration = Duration::from_secs(60);

/// Credentials of the one S3 identity the server knows.
pub(crate) const ACCESS_KEY: &str = "comet-test-access";
pub(crate) const SECRET_KEY: &str = "comet-test-secret-not-for-production";

pub(crate) struct SeaweedFs {
    child: Child,
    s3_port: u16,
    filer_port: u16,
    /// gRPC ports of the master, volume server, filer and S3 gateway, in that order.
    grpc_ports: [u16; 4],
    dir: tempfile::TempDir,
}

/// Names of the services in the local gRPC socket paths, in the order of `grpc_ports`.
#[cfg(unix)]
const GRPC_SERVICES: [&str; 4] = ["master", "volume", "filer", "s3"];

/// The `weed` executable on the PATH, if any.
pub(crate) fn find_weed() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("weed")).find(|candidate| candidate.is_file())
}

/// `count` distinct free TCP ports on 127.0.0.1 (all listeners are held until every port is
/// chosen, so none is handed out twice).
fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..count).map(|_| TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    listeners.iter().map(|listener| listener.local_addr().unwrap().port()).collect()
}

impl SeaweedFs {
    /// Starts `weed server` and waits until its S3 gateway accepts writes to `bucket`.
    pub(crate) fn start(weed: &Path, bucket: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let config = dir.path().join("s3.json");
        std::fs::write(
            &config,
            // One identity, allowed everything the vault does (and bucket administration).
            format!(
                r#"{{"identities": [{{
                    "name": "comet",
                    "credentials": [{{"accessKey": "{ACCESS_KEY}", "secretKey": "{SECRET_KEY}"}}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"]
                }}]}}"#
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("weed.log")).unwrap();

        // HTTP and gRPC ports of the master, the volume server, the filer and the S3 gateway.
        let ports = free_ports(8);
        let (master, volume, filer, s3) = (ports[0], ports[1], ports[2], ports[3]);
        let (master_grpc, volume_grpc, filer_grpc, s3_grpc) = (ports[4], ports[5], ports[6], ports[7]);
        let child = Command::new(weed)
            .arg("server")
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
            .arg(format!("-dir={}", data.display()))
            .arg(format!("-master.port={master}"))
            .arg(format!("-master.port.grpc={master_grpc}"))
            .args(["-master.telemetry=false", "-master.volumeSizeLimitMB=64"])
            .arg(format!("-volume.port={volume}"))
            .arg(format!("-volume.port.grpc={volume_grpc}"))
            .arg("-volume.max=16")
            .arg("-filer")
            .arg(format!("-filer.port={filer}"))
            .arg(format!("-filer.port.grpc={filer_grpc}"))
            .arg(format!("-filer.localSocket={}", dir.path().join("filer.sock").display()))
            .arg("-s3")
            .arg(format!("-s3.port={s3}"))
            .arg(format!("-s3.port.grpc={s3_grpc}"))
            .arg(format!("-s3.config={}", config.display()))
            .arg(format!("-s3.localSocket={}", dir.path().join("s3.sock").display()))
            .args(["-s3.port.iceberg=0", "-s3.port.lance=0"])
            // Go puts its other sockets and log files in TMPDIR: keep them in our directory.
            .env("TMPDIR", dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", weed.display()));
        let grpc_ports = [master_grpc, volume_grpc, filer_grpc, s3_grpc];
        let server = Self { child, s3_port: s3, filer_port: filer, grpc_ports, dir };
        server.wait_for_bucket(bucket);
        server
    }

    /// The S3 endpoint URL.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.s3_port)
    }

    /// The last lines of the server's log, for failure messages.
    pub(crate) fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("weed.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Waits until the filer answers, creates `bucket` (a folder under `/buckets` on the filer
    /// is a bucket to the S3 gateway), then until the gateway answers.
    fn wait_for_bucket(&self, bucket: &str) {
        let started = Instant::now();
        let ready = |port: u16, method: &str, path: &str, accept: fn(u16) -> bool| loop {
            match http_status(port, method, path) {
                Ok(status) if accept(status) => return,
                outcome => {
                    assert!(
                        started.elapsed() < STARTUP_DEADLINE,
                        "SeaweedFS not ready after {STARTUP_DEADLINE:?} \
                         ({method} {path} on port {port}: {outcome:?}); log:\n{}",
                        self.log_tail()
                    );
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        };
        ready(self.filer_port, "POST", &format!("/buckets/{bucket}/"), |status| (200..300).contains(&status));
        // Anonymous requests are refused, which proves the gateway is up and checking signatures.
        ready(self.s3_port, "GET", "/", |status| status == 403);
    }
}

impl Drop for SeaweedFs {
    fn drop(&mut self) {
        // SIGKILL: a graceful stop takes seconds and there is nothing to keep.
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The gRPC services also listen on Unix sockets at a fixed place in /tmp (no flag moves
        // them, TMPDIR neither); a killed server leaves them behind, so remove ours.
        #[cfg(unix)]
        for (service, port) in GRPC_SERVICES.iter().zip(self.grpc_ports) {
            use std::os::unix::fs::FileTypeExt;

            let socket = PathBuf::from(format!("/tmp/seaweedfs-{service}-grpc-{port}.sock"));
            if std::fs::symlink_metadata(&socket).is_ok_and(|meta| meta.file_type().is_socket()) {
                let _ = std::fs::remove_file(socket);
            }
        }
    }
}

/// Sends a bodiless HTTP/1.1 request and returns the status code.
fn http_status(port: u16, method: &str, path: &str) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head)?;
    let status = std::str::from_utf8(&head[9..12]).ok().and_then(|digits| digits.parse().ok());
    status
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP status line: {:?}", String::from_utf8_lossy(&head))))
}
