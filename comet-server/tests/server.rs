//! The `comet-server` binary on loopback: configuration, first administrator, the admin and user
//! API, compare-and-swap profile edits, login rate limiting, graceful shutdown and restart.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use comet_protocol::account::AccountSecrets;
use common::{ADMIN_PASSWORD, Server, binary, encode, free_port, post, request, spawn_listening};
use serde_json::Value;

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
    let secret = AccountSecrets::derive("alice", b"alice's password").login_secret.clone();
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

#[test]
fn buckets_store_opaque_objects_for_their_key_holders_only() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data);
    let register = |append_only: &str| {
        let (status, b) = server.admin("storage/register-bucket", &[("AppendOnly", append_only)]);
        assert_eq!(status, 200, "{b}");
        (b["BucketValue"].as_str().unwrap().to_owned(), b["SecretKey"].as_str().unwrap().to_owned())
    };
    let (a, key_a) = register("false");
    let (b, key_b) = register("true");
    let auth_a = format!("Bearer {key_a}");
    let auth_b = format!("Bearer {key_b}");
    let pack = "data/ab/ab00000000000000000000000000000000000000000000000000000000000000";
    let bytes: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();

    let put = |bucket: &str, auth: &str, path: &str, body: &[u8]| {
        request(server.addr, "PUT", &format!("/storage/v1/{bucket}/{path}"), &[("Authorization", auth)], body).0
    };
    assert_eq!(put(&a, &auth_a, pack, &bytes), 201);
    assert_eq!(put(&a, &auth_a, pack, b"other"), 409, "create-only");
    let (status, _, got) =
        request(server.addr, "GET", &format!("/storage/v1/{a}/{pack}"), &[("Authorization", &auth_a)], b"");
    assert_eq!((status, got.len()), (200, bytes.len()));
    assert_eq!(got, bytes);
    let (status, _, range) = request(
        server.addr,
        "GET",
        &format!("/storage/v1/{a}/{pack}"),
        &[("Authorization", &auth_a), ("Range", "bytes=10-19")],
        b"",
    );
    assert_eq!((status, range.as_slice()), (206, &bytes[10..20]));
    let (status, head, _) =
        request(server.addr, "HEAD", &format!("/storage/v1/{a}/{pack}"), &[("Authorization", &auth_a)], b"");
    assert_eq!(status, 200);
    assert!(head.contains("x-comet-size: 100000"), "{head}");
    let (status, _, listed) =
        request(server.addr, "GET", &format!("/storage/v1/{a}?list=data"), &[("Authorization", &auth_a)], b"");
    assert_eq!(status, 200);
    let listed: Value = serde_json::from_slice(&listed).unwrap();
    assert_eq!(listed[0]["Path"], pack);
    assert_eq!(listed[0]["Size"], 100_000);
    // The bytes are stored as they came, in bucket a's own folder.
    let on_disk = data.join("buckets").join(&a).join(pack);
    assert_eq!(std::fs::read(on_disk).unwrap(), bytes);

    // Another bucket's key, no key, a wrong key, hostile paths.
    for auth in [auth_b.as_str(), "", "Bearer 00"] {
        let (status, _, _) =
            request(server.addr, "GET", &format!("/storage/v1/{a}/{pack}"), &[("Authorization", auth)], b"");
        assert_eq!(status, 403, "{auth:?}");
    }
    for hostile in ["../x", "data/../config", "data/ab/..%2f..%2fconfig", "etc/passwd", "data/zz/zz", "config/x"] {
        let (status, _, _) =
            request(server.addr, "PUT", &format!("/storage/v1/{a}/{hostile}"), &[("Authorization", &auth_a)], b"x");
        assert!(status == 400 || status == 404, "{hostile}: {status}");
    }
    for hostile in ["..", "%2e%2e", "ABCDEF"] {
        let (status, _, _) =
            request(server.addr, "GET", &format!("/storage/v1/{hostile}/config"), &[("Authorization", &auth_a)], b"");
        assert!(status == 400 || status == 404, "{hostile}: {status}");
    }
    assert!(!dir.path().join("x").exists() && !data.join("buckets").join("etc").exists());

    // Deletes: allowed in a, refused in the append-only b (but for session markers).
    let (status, _, _) =
        request(server.addr, "DELETE", &format!("/storage/v1/{a}/{pack}"), &[("Authorization", &auth_a)], b"");
    assert_eq!(status, 204);
    assert_eq!(put(&b, &auth_b, pack, &bytes), 201);
    let (status, _, body) =
        request(server.addr, "DELETE", &format!("/storage/v1/{b}/{pack}"), &[("Authorization", &auth_b)], b"");
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
    assert_eq!(put(&b, &auth_b, pack, b"overwrite"), 409, "no overwrite in an append-only bucket either");
    let session = "sessions/0000000000000000000000000000000000000000000000000000000000000000";
    assert_eq!(put(&b, &auth_b, session, b"marker"), 201);
    let (status, _, _) =
        request(server.addr, "DELETE", &format!("/storage/v1/{b}/{session}"), &[("Authorization", &auth_b)], b"");
    assert_eq!(status, 204);

    let (status, list) = server.admin("storage/list-buckets", &[]);
    assert_eq!(status, 200);
    assert_eq!(list[&b]["AppendOnly"], true);
    assert_eq!(server.admin("storage/delete-bucket", &[("BucketID", &a)]).0, 200);
    let (status, _, _) =
        request(server.addr, "GET", &format!("/storage/v1/{a}?list=data"), &[("Authorization", &auth_a)], b"");
    assert_eq!(status, 403, "a deleted bucket's key opens nothing");
    server.stop();
}

#[test]
fn a_bucket_reached_through_remote_vault_keeps_the_vault_contract() {
    use comet_storage::{ErrorKind, ObjectId, ObjectKey, RemoteVault, Vault};
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let register = |append_only: &str| {
        let (_, b) = server.admin("storage/register-bucket", &[("AppendOnly", append_only)]);
        (b["BucketValue"].as_str().unwrap().to_owned(), b["SecretKey"].as_str().unwrap().to_owned())
    };
    let url = format!("http://{}", server.addr);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (id, key) = register("false");
        let vault = std::sync::Arc::new(RemoteVault::new(&url, &id, &key).unwrap());
        comet_storage::testing::conformance::run(vault).await;

        // Append-only: adds work, deletes and overwrites are refused by the server.
        let (id, key) = register("true");
        let vault = RemoteVault::new(&url, &id, &key).unwrap();
        let object = ObjectKey::pack(ObjectId::of(b"pack"));
        vault.put(&object, bytes::Bytes::from_static(b"pack")).await.unwrap();
        assert_eq!(vault.delete(&object).await.unwrap_err().kind(), ErrorKind::Forbidden);
        assert_eq!(
            vault.put(&object, bytes::Bytes::from_static(b"evil")).await.unwrap_err().kind(),
            ErrorKind::AlreadyExists
        );
        assert_eq!(vault.get(&object).await.unwrap(), "pack");

        // A wrong key opens nothing.
        let wrong = RemoteVault::new(&url, &id, "00").unwrap();
        assert_eq!(wrong.get(&object).await.unwrap_err().kind(), ErrorKind::Forbidden);
    });
    server.stop();
}

#[test]
fn tls_listeners_serve_https_with_the_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let ca = dir.path().join("ca.pem");
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl").args(args).current_dir(dir.path()).output().expect("openssl is installed");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    // A test CA, and a server certificate for 127.0.0.1 signed by it.
    openssl(
        &[
            &["req", "-x509"],
            &ec[..],
            &["-days", "1", "-subj", "/CN=comet test CA", "-keyout", "ca.key", "-out", "ca.pem"],
        ]
        .concat(),
    );
    openssl(&[&["req"], &ec[..], &["-subj", "/CN=127.0.0.1", "-keyout", "key.pem", "-out", "leaf.csr"]].concat());
    std::fs::write(
        dir.path().join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "leaf.ext",
        "-out",
        "cert.pem",
    ]);
    let addr = free_port();
    std::fs::write(
        data.join("comet-server.toml"),
        format!(
            "[[listen]]\naddress = \"{addr}\"\ntls_certificate = \"{}\"\ntls_private_key = \"{}\"\n",
            cert.display(),
            key.display()
        ),
    )
    .unwrap();
    let mut child = spawn_listening(&data, addr);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (status, body) = runtime.block_on(async {
        let root = reqwest::Certificate::from_pem(&std::fs::read(&ca).unwrap()).unwrap();
        let client = reqwest::Client::builder().add_root_certificate(root).build().unwrap();
        let response = client
            .post(format!("https://{addr}/api/v1/admin/meta/version"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("Username=admin&Password={}", encode(ADMIN_PASSWORD)))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    });
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("ProtocolVersion"), "{body}");
    // Plain HTTP gets no answer on a TLS port.
    let (plain, _, _) = std::panic::catch_unwind(|| request(addr, "POST", "/api/v1/admin/meta/version", &[], b""))
        .unwrap_or((0, String::new(), Vec::new()));
    assert_ne!(plain, 200);
    let _ = child.kill();
    let _ = child.wait();
}
