//! What the web interface needs from the server, through the binary on loopback: its files
//! (embedded, or a replacement webroot) with their security headers, two-factor sign-in, the
//! user's own password change and profile edits, the refusal of administrator methods to a
//! user's session, suspension, settings, configuration view, logs and bucket sizes.

mod common;

use comet_protocol::account::AccountSecrets;
use common::{ADMIN_PASSWORD, Server, free_port, post, request, spawn_listening};
use serde_json::{Value, json};

fn get(server: &Server, path: &str, headers: &[(&str, &str)]) -> (u16, String, Vec<u8>) {
    request(server.addr, "GET", path, headers, b"")
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn the_interface_is_served_from_the_binary_with_strict_headers() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let (status, head, body) = get(&server, "/", &[]);
    assert_eq!(status, 200);
    assert!(header(&head, "content-type").unwrap().starts_with("text/html"), "{head}");
    let policy = header(&head, "content-security-policy").unwrap();
    assert!(policy.contains("default-src 'none'") && policy.contains("script-src 'self'"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert_eq!(header(&head, "x-content-type-options"), Some("nosniff"));
    assert_eq!(header(&head, "x-frame-options"), Some("DENY"));
    let page = String::from_utf8(body).unwrap();
    assert!(page.contains("<html"), "{page}");
    // The page's own script and style, and the browser-side Argon2id, come from the server.
    for path in ["/vendor/hash-wasm/argon2.umd.min.js", "/vendor/hash-wasm/blake3.umd.min.js"] {
        let (status, head, _) = get(&server, path, &[]);
        assert_eq!(status, 200, "{path}");
        assert!(header(&head, "content-type").unwrap().starts_with("text/javascript"), "{head}");
    }
    for referenced in page.split(['"', '\'']).filter(|s| s.starts_with('/') && s.len() > 1) {
        assert_eq!(get(&server, referenced, &[]).0, 200, "the page references {referenced}");
    }
    // Revalidation with the ETag.
    let etag = header(&head, "etag").unwrap().to_owned();
    let (status, _, body) = get(&server, "/", &[("If-None-Match", &etag)]);
    assert_eq!((status, body.len()), (304, 0));
    // Nothing else: no traversal, no hidden files, no writes.
    for path in ["/../comet-server.toml", "/%2e%2e/comet-server.toml", "/.hidden", "/nothing-here.js", "/js//x"] {
        assert_eq!(get(&server, path, &[]).0, 404, "{path}");
    }
    assert_eq!(request(server.addr, "PUT", "/index.html", &[], b"x").0, 405);
    // The API is not shadowed by the interface.
    assert_eq!(server.admin("meta/version", &[]).0, 200);
}

#[test]
fn a_webroot_directory_replaces_the_interface_and_nothing_outside_it_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let webroot = dir.path().join("my-web");
    std::fs::create_dir_all(webroot.join("js")).unwrap();
    std::fs::write(webroot.join("index.html"), "<html>our own console</html>").unwrap();
    std::fs::write(webroot.join("js/app.js"), "console.log(1)").unwrap();
    std::fs::write(dir.path().join("outside.txt"), "not for the web").unwrap();
    std::os::unix::fs::symlink(dir.path().join("outside.txt"), webroot.join("link.txt")).unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let addr = free_port();
    std::fs::write(
        data.join("comet-server.toml"),
        format!(
            "[[listen]]\naddress = \"{addr}\"\n\n[security]\nargon2_memory_kib = 8192\n\n[web]\nwebroot_dir = \"{}\"\n",
            webroot.display()
        ),
    )
    .unwrap();
    let mut child = spawn_listening(&data, addr);
    let (status, _, body) = request(addr, "GET", "/", &[], b"");
    assert_eq!((status, body.as_slice()), (200, b"<html>our own console</html>".as_slice()));
    assert_eq!(request(addr, "GET", "/js/app.js", &[], b"").0, 200);
    assert_eq!(request(addr, "GET", "/link.txt", &[], b"").0, 404, "a link out of the webroot");
    assert_eq!(request(addr, "GET", "/vendor/hash-wasm/argon2.umd.min.js", &[], b"").0, 404, "replaced entirely");
    let _ = child.kill();
    let _ = child.wait();
}

/// RFC 6238 code of a base32 secret at `step`, computed independently of the server's code.
fn code(secret: &str, step: i64) -> String {
    use hmac::Mac as _;
    let key = data_encoding::BASE32_NOPAD.decode(secret.as_bytes()).unwrap();
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(&key).unwrap();
    mac.update(&u64::try_from(step).unwrap().to_be_bytes());
    let d = mac.finalize().into_bytes();
    let o = usize::from(d[19] & 0x0f);
    format!("{:06}", (u32::from_be_bytes(d[o..o + 4].try_into().unwrap()) & 0x7fff_ffff) % 1_000_000)
}

fn step() -> i64 {
    i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() / 30).unwrap()
}

/// Edits a user's profile as an administrator (compare-and-swap), which must succeed.
fn admin_edit(server: &Server, user: &str, edit: impl FnOnce(&mut Value)) {
    let (_, read) = server.admin("get-user-profile-and-hash", &[("TargetUser", user)]);
    let mut profile = read["Profile"].clone();
    edit(&mut profile);
    let hash = read["ProfileHash"].as_str().unwrap();
    let (status, body) = server.admin(
        "set-user-profile-hash",
        &[("TargetUser", user), ("ProfileData", &profile.to_string()), ("RequireHash", hash)],
    );
    assert_eq!(status, 200, "{body}");
}

fn user_sign_in(server: &Server, name: &str, secret: &str, totp: Option<&str>) -> (u16, Value) {
    let mut fields = vec![("Username", name), ("Password", secret)];
    if let Some(code) = totp {
        fields.extend([("AuthType", "PasswordTOTP"), ("TOTP", code)]);
    }
    post(server.addr, "/api/v1/user/web/session/start", &fields)
}

#[test]
fn a_user_enrols_totp_and_each_code_and_recovery_code_signs_in_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let secrets = server.add_user("erin", "erin's long password");
    let session = server.user_session("erin", &secrets.login_secret);
    let (status, props) = server.user_web("erin", &session, "account/properties", &[]);
    assert_eq!((status, &props["TOTPEnabled"]), (200, &json!(false)), "{props}");

    let (status, enrol) = server.user_web("erin", &session, "account/regenerate-totp", &[]);
    assert_eq!(status, 200, "{enrol}");
    let secret = enrol["TOTPSecret"].as_str().unwrap().to_owned();
    assert!(enrol["TOTPURL"].as_str().unwrap().starts_with("otpauth://totp/Comet:erin?secret="), "{enrol}");
    assert!(enrol["TOTPImage"].as_str().unwrap().starts_with("data:image/svg+xml;base64,"));
    // Until it is confirmed, nothing changes; a wrong confirmation is refused.
    assert_eq!(user_sign_in(&server, "erin", &secrets.login_secret, None).0, 200);
    let wrong = format!("{:06}", (code(&secret, step()).parse::<u32>().unwrap() + 500_000) % 1_000_000);
    assert_eq!(server.user_web("erin", &session, "account/validate-totp", &[("TOTPCode", &wrong)]).0, 403);
    let now = step();
    let (status, enabled) =
        server.user_web("erin", &session, "account/validate-totp", &[("TOTPCode", &code(&secret, now))]);
    assert_eq!(status, 200, "{enabled}");
    let recovery: Vec<String> =
        enabled["RecoveryCodes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
    assert_eq!(recovery.len(), 10);

    // Now the password alone gets Comet's magic answer, and only after the password matched.
    let (status, answer) = user_sign_in(&server, "erin", &secrets.login_secret, None);
    assert_eq!((status, answer["Message"].as_str()), (403, Some("ERR_TOTP_REQUIRED")));
    let (status, answer) = user_sign_in(&server, "erin", &"0".repeat(64), None);
    assert_eq!((status, answer["Message"].as_str()), (403, Some("Invalid username or password")));
    // A wrong code is refused; the next step's code signs in, once.
    assert_eq!(user_sign_in(&server, "erin", &secrets.login_secret, Some(&wrong)).0, 403);
    let next = code(&secret, now + 1);
    assert_eq!(user_sign_in(&server, "erin", &secrets.login_secret, Some(&next)).0, 200);
    assert_eq!(user_sign_in(&server, "erin", &secrets.login_secret, Some(&next)).0, 403, "a code works once");
    // A recovery code (typed in capitals, without dashes) works once too.
    let typed = recovery[3].to_uppercase().replace('-', "");
    assert_eq!(user_sign_in(&server, "erin", &secrets.login_secret, Some(&typed)).0, 200);
    assert_eq!(user_sign_in(&server, "erin", &secrets.login_secret, Some(&typed)).0, 403);
    let (_, props) = server.user_web("erin", &session, "account/properties", &[]);
    assert_eq!((props["TOTPEnabled"].clone(), props["RecoveryCodesLeft"].clone()), (json!(true), json!(9)));

    // The administrator can turn it off for a user who lost the device.
    assert_eq!(server.admin("disable-user-totp", &[("TargetUser", "erin")]).0, 200);
    assert_eq!(user_sign_in(&server, "erin", &secrets.login_secret, None).0, 200);
    assert_eq!(server.admin("disable-user-totp", &[("TargetUser", "erin")]).0, 400, "already off");
}

#[test]
fn a_users_session_is_refused_by_administrator_methods_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let secrets = server.add_user("admin", "a user named like the admin");
    let session = server.user_session("admin", &secrets.login_secret);
    let (status, answer) = post(
        server.addr,
        "/api/v1/admin/list-users",
        &[("Username", "admin"), ("AuthType", "SessionKey"), ("SessionKey", &session)],
    );
    assert_eq!(status, 403);
    assert!(answer["Message"].as_str().unwrap().contains("administrators"), "{answer}");
    // An unknown key is still just an invalid session.
    let (status, answer) = post(
        server.addr,
        "/api/v1/admin/list-users",
        &[("Username", "admin"), ("AuthType", "SessionKey"), ("SessionKey", &"ab".repeat(32))],
    );
    assert_eq!((status, answer["Message"].as_str()), (403, Some("Invalid or expired session key")));
}

#[test]
fn a_suspended_user_cannot_sign_in_to_the_web_interface() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let secrets = server.add_user("fay", "fay's long password");
    let session = server.user_session("fay", &secrets.login_secret);
    admin_edit(&server, "fay", |p| p["IsSuspended"] = json!(true));
    let (status, answer) = user_sign_in(&server, "fay", &secrets.login_secret, None);
    assert_eq!(status, 403);
    assert!(answer["Message"].as_str().unwrap().contains("suspended"), "{answer}");
    assert_eq!(server.user_web("fay", &session, "get-jobs", &[]).0, 403, "open sessions stop too");
}

#[test]
fn a_user_changes_their_password_from_the_browser_with_login_secrets_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let old = server.add_user("gil", "gil's old password");
    let session = server.user_session("gil", &old.login_secret);
    let other_session = server.user_session("gil", &old.login_secret);
    let new = AccountSecrets::derive("gil", b"gil's new password");
    let change = |old_secret: &str, new_secret: &str| {
        server.user_web(
            "gil",
            &session,
            "account/change-password",
            &[("OldPassword", old_secret), ("NewPassword", new_secret)],
        )
    };
    assert_eq!(change(&"0".repeat(64), &new.login_secret).0, 403, "the current password is checked");
    let (status, answer) = change(&old.login_secret, "gil's new password");
    assert_eq!(status, 400, "a plain password is refused: {answer}");
    let (status, answer) = change(&old.login_secret, &new.login_secret);
    assert_eq!(status, 200, "{answer}");
    assert!(answer["Message"].as_str().unwrap().contains("comet-agent login change-password"), "{answer}");
    assert_eq!(user_sign_in(&server, "gil", &old.login_secret, None).0, 403);
    assert_eq!(user_sign_in(&server, "gil", &new.login_secret, None).0, 200);
    assert_eq!(server.user_web("gil", &session, "get-jobs", &[]).0, 200, "the changing session goes on");
    assert_eq!(server.user_web("gil", &other_session, "get-jobs", &[]).0, 403, "other sessions end");
}

#[test]
fn a_user_edits_their_profile_but_not_what_devices_and_administrators_own() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let secrets = server.add_user("hal", "hal's long password");
    // A vault a device initialised (its secrets recorded), as the admin API can set up.
    admin_edit(&server, "hal", |p| {
        p["Destinations"] = json!({"v1": {"Description": "Vault", "DestinationType": 1003, "AppendOnly": true,
            "Location": "0123456789abcdef0123456789abcdef", "WrappedVaultSecret": "w1.secret", "WrappedAccessKey": "w1.key"}});
    });

    let session = server.user_session("hal", &secrets.login_secret);
    let (_, read) = server.user_web("hal", &session, "get-user-profile-and-hash", &[]);
    let hash = read["ProfileHash"].as_str().unwrap().to_owned();
    let mut edit = read["Profile"].clone();
    edit["Sources"] = json!({"s1": {"Description": "Photos", "Engine": "engine1/file",
        "EngineProps": {"INCLUDE0": "/home/hal/Photos"}}});
    edit["Destinations"]["v1"]["Description"] = json!("Renamed vault");
    edit["Destinations"]["v1"]["AppendOnly"] = json!(false);
    edit["Destinations"]["v1"]["WrappedVaultSecret"] = json!("");
    edit["Destinations"]["v1"]["Location"] = json!("fedcba9876543210fedcba9876543210");
    edit["IsSuspended"] = json!(false);
    edit["Devices"] = json!({"fake": {"FriendlyName": "not registered"}});
    let set = |profile: &Value, hash: &str| {
        server.user_web(
            "hal",
            &session,
            "set-user-profile-hash",
            &[("ProfileData", &profile.to_string()), ("RequireHash", hash)],
        )
    };
    let (status, body) = set(&edit, &hash);
    assert_eq!(status, 200, "{body}");
    let stored = server.admin("get-user-profile", &[("TargetUser", "hal")]).1;
    assert_eq!(stored["Sources"]["s1"]["Description"], "Photos", "the user's own change is kept");
    assert_eq!(stored["Destinations"]["v1"]["Description"], "Renamed vault");
    assert_eq!(stored["Destinations"]["v1"]["AppendOnly"], true, "append-only is the administrator's");
    assert_eq!(stored["Destinations"]["v1"]["WrappedVaultSecret"], "w1.secret", "secrets are the devices'");
    assert_eq!(stored["Destinations"]["v1"]["Location"], "0123456789abcdef0123456789abcdef");
    assert_eq!(stored["Devices"], json!({}), "devices register themselves");
    // The hash read before is stale now: a second edit from it is a conflict.
    assert_eq!(set(&edit, &hash).0, 409);
    // A new vault cannot arrive with secrets.
    let (_, read) = server.user_web("hal", &session, "get-user-profile-and-hash", &[]);
    let mut edit = read["Profile"].clone();
    edit["Destinations"]["v2"] = json!({"Description": "New", "DestinationType": 1003, "WrappedVaultSecret": "w1.x"});
    assert_eq!(set(&edit, read["ProfileHash"].as_str().unwrap()).0, 400);
}

#[test]
fn settings_configuration_logs_and_bucket_sizes_for_the_settings_pages() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_port();
    std::fs::write(
        dir.path().join("comet-server.toml"),
        format!(
            "[[listen]]\naddress = \"{addr}\"\n\n[security]\nargon2_memory_kib = 8192\n\n[smtp]\nhost = \"mail.example\"\n\
             username = \"u\"\npassword = \"the smtp password\"\n"
        ),
    )
    .unwrap();
    let server = Server::start(dir.path());

    let (status, settings) = server.admin("meta/settings/get", &[]);
    assert_eq!((status, settings["StaleDeviceDays"].as_u64()), (200, Some(3)), "{settings}");
    assert_eq!(server.admin("meta/settings/set", &[("StaleDeviceDays", "0")]).0, 400);
    assert_eq!(server.admin("meta/settings/set", &[("MinimumAgentVersion", "1.x")]).0, 400);
    let (status, body) = server.admin(
        "meta/settings/set",
        &[("StaleDeviceDays", "7"), ("MinimumAgentVersion", "0.1.0"), ("BrandName", "Acme Backup")],
    );
    assert_eq!(status, 200, "{body}");
    let (_, settings) = server.admin("meta/settings/get", &[]);
    assert_eq!(settings, json!({"StaleDeviceDays": 7, "MinimumAgentVersion": "0.1.0", "BrandName": "Acme Backup"}));

    let (status, config) = server.admin("meta/server-config/get", &[]);
    assert_eq!(status, 200, "{config}");
    assert_eq!(config["Config"]["smtp"]["host"], "mail.example");
    assert_eq!(config["Config"]["smtp"]["password"], "(set)");
    assert!(!config.to_string().contains("the smtp password"), "no secret in the view");
    assert!(config["Path"].as_str().unwrap().ends_with("comet-server.toml"));

    // The server logs its start in today's file; the day is listed and readable.
    let (status, days) = server.admin("meta/list-available-log-days", &[]);
    assert_eq!(status, 200, "{days}");
    let day = days.as_array().unwrap().last().expect("today's log").as_i64().unwrap().to_string();
    let (status, text) = server.admin_text("meta/read-logs", &[("Log", &day)]);
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("listening on"), "{text}");
    assert_eq!(server.admin("meta/read-logs", &[("Log", "0")]).0, 404);
    assert_eq!(server.admin("meta/read-logs", &[("Log", "../../etc/passwd")]).0, 400);

    // Buckets list their size and object count, from the store.
    let (_, bucket) = server.admin("storage/register-bucket", &[]);
    let (id, key) = (bucket["BucketValue"].as_str().unwrap(), bucket["SecretKey"].as_str().unwrap());
    let object = "data/ab/".to_owned() + &"ab".repeat(32);
    let (status, _, _) = request(
        server.addr,
        "PUT",
        &format!("/storage/v1/{id}/{object}"),
        &[("Authorization", &format!("Bearer {key}"))],
        &[7u8; 1000],
    );
    assert!(status == 200 || status == 201, "{status}");
    let (_, listed) = server.admin("storage/list-buckets", &[]);
    assert_eq!((listed[id]["Size"].as_u64(), listed[id]["Objects"].as_u64()), (Some(1000), Some(1)), "{listed}");
    let _ = ADMIN_PASSWORD;
}
