//! The agent API of the `comet-server` binary on loopback: registration with a password or an
//! install token, device tokens and their revocation, frames the server must refuse without
//! falling over, vault initialisation with its bucket in one transaction, and compare-and-swap
//! profile edits.

mod common;

use comet_protocol::account::{AccountSecrets, InstallToken};
use comet_protocol::agent::{
    AgentError, Credentials, Disconnect, ErrorCode, GetProfile, Hello, HelloRequest, InitVault, InitVaultRequest,
    NewBucket, ProfileText, ProfileUpdated, Register, RegisterRequest, SetProfile, SetProfileRequest,
};
use comet_protocol::api::InstallTokenResponse;
use comet_protocol::client::{AgentClient, ClientError};
use comet_protocol::profile::{DESTINATION_COMET, DestinationConfig, SourceConfig, UserProfile, profile_hash};
use comet_protocol::{PROTOCOL_VERSION, wire};
use comet_storage::{ErrorKind, ObjectKey, RemoteVault, Vault};
use common::{Server, device_info, register};
use serde_json::Value;

/// The error code of a refused call (panics on success or on a transport error).
fn code<T: std::fmt::Debug>(result: Result<T, ClientError>) -> ErrorCode {
    match result {
        Err(ClientError::Refused(e)) => e.code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn profile_of(device: &AgentClient) -> (UserProfile, String) {
    let ProfileText { profile_json, profile_hash: hash } = device.call::<GetProfile>(&()).await.unwrap();
    let profile = UserProfile::from_json(&profile_json).unwrap();
    assert_eq!(profile_hash(&profile), hash, "the hash is the profile's");
    (profile, hash)
}

fn password_login(username: &str, login_secret: &str, device_id: &str) -> RegisterRequest {
    RegisterRequest {
        credentials: Credentials::Password { username: username.into(), login_secret: login_secret.into() },
        device_id: device_id.into(),
        device: device_info(device_id),
    }
}

#[tokio::test]
async fn devices_register_with_the_login_secret_and_failures_are_limited() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let secrets = server.add_user("alice", "alice's password");
    let client = server.agent();

    let hello = client.call::<Hello>(&HelloRequest { agent_version: "0.1.0".into() }).await.unwrap();
    assert_eq!((hello.protocol_version, hello.server_version.as_str()), (PROTOCOL_VERSION, env!("CARGO_PKG_VERSION")));
    assert!(hello.server_time > 1_600_000_000);

    let laptop = register(&client, "alice", &secrets.login_secret, "laptop-1").await;
    let (profile, _) = profile_of(&laptop).await;
    let listed = &profile.devices["laptop-1"];
    assert_eq!((listed.friendly_name.as_str(), listed.platform_version.as_str()), ("laptop-1", "linux x86_64"));
    let registered_at = listed.registration_time;
    assert!(registered_at > 0);

    // Without a token, with a wrong one: unauthorized.
    assert_eq!(code(client.call::<GetProfile>(&()).await), ErrorCode::Unauthorized);
    assert_eq!(code(client.clone().with_token("00").call::<GetProfile>(&()).await), ErrorCode::Unauthorized);
    // Invalid device ids and names are refused before any password is checked.
    for bad in ["", "../x", "a b", &"x".repeat(65)] {
        let request = password_login("alice", &secrets.login_secret, bad);
        assert_eq!(code(client.call::<Register>(&request).await), ErrorCode::Invalid, "{bad:?}");
    }
    let mut long_name = password_login("alice", &secrets.login_secret, "laptop-2");
    long_name.device.friendly_name = "n".repeat(256);
    assert_eq!(code(client.call::<Register>(&long_name).await), ErrorCode::Invalid);

    // Registering again gives a new token; the old one stops working; the device keeps its
    // registration time. Logging out ends the new one too.
    let again = register(&client, "alice", &secrets.login_secret, "laptop-1").await;
    assert_eq!(code(laptop.call::<GetProfile>(&()).await), ErrorCode::Unauthorized);
    assert_eq!(profile_of(&again).await.0.devices["laptop-1"].registration_time, registered_at);
    again.call::<Disconnect>(&()).await.unwrap();
    assert_eq!(code(again.call::<GetProfile>(&()).await), ErrorCode::Unauthorized);

    // A suspended user's devices cannot register.
    let (_, read) = server.admin("get-user-profile-and-hash", &[("TargetUser", "alice")]);
    let mut suspended = read["Profile"].clone();
    suspended["IsSuspended"] = Value::Bool(true);
    let hash = read["ProfileHash"].as_str().unwrap();
    let edit = [("TargetUser", "alice"), ("ProfileData", &suspended.to_string()), ("RequireHash", hash)];
    assert_eq!(server.admin("set-user-profile-hash", &edit).0, 200);
    let request = password_login("alice", &secrets.login_secret, "laptop-3");
    assert_eq!(code(client.call::<Register>(&request).await), ErrorCode::Forbidden);

    // The plain password is not the login secret; nor is another user's secret. Five failures
    // lock the account: then even the right secret is refused, with RateLimited.
    let wrong = [
        password_login("alice", "alice's password", "laptop-2"),
        password_login("alice", &"0".repeat(64), "laptop-2"),
        password_login("alice", &AccountSecrets::derive("bob", b"alice's password").login_secret, "laptop-2"),
        password_login("alice", "", "laptop-2"),
        password_login("alice", "x", "laptop-2"),
    ];
    for request in &wrong {
        assert_eq!(code(client.call::<Register>(request).await), ErrorCode::Unauthorized);
    }
    let refused = client.call::<Register>(&password_login("alice", &secrets.login_secret, "laptop-2")).await;
    assert_eq!(code(refused), ErrorCode::RateLimited);
    // An unknown user is answered like a wrong password.
    let ghost = client.call::<Register>(&password_login("ghost", &secrets.login_secret, "laptop-2")).await;
    assert_eq!(code(ghost), ErrorCode::Unauthorized);
    server.stop();
}

#[tokio::test]
async fn install_tokens_carry_the_wrapping_key_and_work_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let secrets = server.add_user("alice", "alice's password");

    let (status, body) =
        server.admin("create-install-token", &[("TargetUser", "alice"), ("TargetPassword", "not the password")]);
    assert_eq!(status, 403, "a token for a password that opens nothing: {body}");
    let (status, _) = server.admin("create-install-token", &[("TargetUser", "ghost"), ("TargetPassword", "x")]);
    assert_eq!(status, 404);
    let (status, _) = server.admin("create-install-token", &[("TargetUser", "../alice"), ("TargetPassword", "x")]);
    assert_eq!(status, 400);

    let (status, body) = server.admin(
        "create-install-token",
        &[("TargetUser", "alice"), ("TargetPassword", "alice's password"), ("Server", &server.url())],
    );
    assert_eq!(status, 200, "{body}");
    let answer: InstallTokenResponse = serde_json::from_value(body).unwrap();
    assert_eq!((answer.username.as_str(), answer.server.as_str()), ("alice", server.url().as_str()));
    assert_eq!(answer.expire_time - answer.create_time, 7 * 24 * 3600, "the default validity");
    let token = InstallToken::parse(&answer.token).unwrap();
    assert_eq!(token.wrapping_key, secrets.wrapping_key, "the device can open the vault secrets");
    assert!(!answer.token.contains(&secrets.login_secret));

    let client = server.agent();
    let with_token = |device_id: &str| RegisterRequest {
        credentials: Credentials::InstallToken { token: token.server_part.clone() },
        device_id: device_id.into(),
        device: device_info(device_id),
    };
    let registered = client.call::<Register>(&with_token("desktop")).await.unwrap();
    assert_eq!((registered.username.as_str(), registered.organization_id.as_str()), ("alice", "default"));
    let desktop = client.clone().with_token(&registered.device_token);
    assert!(profile_of(&desktop).await.0.devices.contains_key("desktop"));
    assert_eq!(code(client.call::<Register>(&with_token("second")).await), ErrorCode::TokenUsed);
    assert_eq!(code(client.call::<Register>(&with_token("desktop")).await), ErrorCode::TokenUsed, "even for itself");
    let unknown = RegisterRequest {
        credentials: Credentials::InstallToken { token: "0".repeat(32) },
        device_id: "third".into(),
        device: device_info("third"),
    };
    assert_eq!(code(client.call::<Register>(&unknown).await), ErrorCode::Unauthorized);
    server.stop();
}

#[tokio::test]
async fn a_revoked_device_is_told_so_and_leaves_the_profile_with_its_items() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let secrets = server.add_user("alice", "alice's password");
    let client = server.agent();
    let laptop = register(&client, "alice", &secrets.login_secret, "laptop").await;
    let desktop = register(&client, "alice", &secrets.login_secret, "desktop").await;

    let (mut profile, hash) = profile_of(&laptop).await;
    for (item, owner) in [("laptop-home", "laptop"), ("desktop-home", "desktop")] {
        let source = SourceConfig { engine: "engine1/file".into(), owner_device: owner.into(), ..Default::default() };
        profile.sources.insert(item.into(), source);
    }
    let edit = SetProfileRequest { require_hash: hash, profile_json: profile.to_json() };
    assert!(matches!(laptop.call::<SetProfile>(&edit).await.unwrap(), ProfileUpdated::Updated { .. }));

    assert_eq!(server.admin("revoke-device", &[("TargetUser", "alice"), ("TargetDeviceID", "laptop")]).0, 200);
    let refused = laptop.call::<GetProfile>(&()).await.unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::Revoked));
    assert!(refused.to_string().contains("revoked by an administrator"), "{refused}");
    let (_, profile) = server.admin("get-user-profile", &[("TargetUser", "alice")]);
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&profile["Devices"]), ["desktop"]);
    assert_eq!(keys(&profile["Sources"]), ["desktop-home"]);
    assert!(profile_of(&desktop).await.0.devices.contains_key("desktop"), "the other device goes on");

    assert_eq!(server.admin("revoke-device", &[("TargetUser", "alice"), ("TargetDeviceID", "phone")]).0, 404);
    assert_eq!(server.admin("revoke-device", &[("TargetUser", "bob"), ("TargetDeviceID", "laptop")]).0, 404);
    for hostile in ["", "..", "a/b", "%2e%2e"] {
        let (status, _) = server.admin("revoke-device", &[("TargetUser", "alice"), ("TargetDeviceID", hostile)]);
        assert_eq!(status, 400, "{hostile:?}");
    }
    // Logging in again with the password brings the device back.
    let back = register(&client, "alice", &secrets.login_secret, "laptop").await;
    assert!(profile_of(&back).await.0.devices.contains_key("laptop"));
    server.stop();
}

/// POSTs raw bytes to an agent method; gives the status and the decoded error frame.
async fn raw(http: &reqwest::Client, server: &Server, method: &str, body: Vec<u8>) -> (u16, AgentError) {
    let response = http.post(format!("{}/api/v1/agent/{method}", server.url())).body(body).send().await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap();
    let error = wire::decode::<AgentError>(&bytes, wire::MAX_RESPONSE_BYTES)
        .unwrap_or_else(|e| panic!("HTTP {status}: not an error frame ({e}): {:?}", String::from_utf8_lossy(&bytes)));
    assert_eq!(status, error.code.http_status(), "{error:?}");
    (status, error)
}

#[tokio::test]
async fn frames_that_are_not_requests_are_refused_with_error_frames() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let http = reqwest::Client::new();
    let hello = wire::encode(&HelloRequest { agent_version: "0.1.0".into() });

    let (_, e) = raw(&http, &server, "hello", br#"{"agent_version": "0.1.0"}"#.to_vec()).await;
    assert_eq!(e.code, ErrorCode::BadFrame);
    // Bytes of a fixed pseudo-random sequence (no CMTP header).
    let mut state = 0x2545_f491_u32;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (state >> 16) as u8
        })
        .collect();
    assert_ne!(&noise[..4], b"CMTP");
    assert_eq!(raw(&http, &server, "hello", noise).await.1.code, ErrorCode::BadFrame);
    assert_eq!(raw(&http, &server, "hello", Vec::new()).await.1.code, ErrorCode::BadFrame);

    let mut newer = hello.clone();
    newer[4..8].copy_from_slice(&(PROTOCOL_VERSION + 1).to_le_bytes());
    let (status, e) = raw(&http, &server, "hello", newer).await;
    assert_eq!((status, e.code), (400, ErrorCode::IncompatibleVersion));
    let (ours, theirs) = (format!("version {PROTOCOL_VERSION}"), format!("version {}", PROTOCOL_VERSION + 1));
    assert!(e.message.contains(&ours) && e.message.contains(&theirs), "{}", e.message);

    let register = wire::encode(&password_login("alice", "secret", "laptop"));
    let (_, e) = raw(&http, &server, "register", register[..register.len() - 3].to_vec()).await;
    assert_eq!(e.code, ErrorCode::BadFrame, "a truncated frame: {}", e.message);
    // A frame of another method's request.
    assert_eq!(raw(&http, &server, "register", hello.clone()).await.1.code, ErrorCode::BadFrame);

    // Over the limit: just over the frame limit (read, then refused by the decoder), and far
    // over it (never buffered).
    let (status, e) = raw(&http, &server, "hello", vec![0; wire::MAX_REQUEST_BYTES + 1]).await;
    assert_eq!((status, e.code), (413, ErrorCode::TooLarge));
    let (status, e) = raw(&http, &server, "register", vec![b'C'; 2 << 20]).await;
    assert_eq!((status, e.code), (413, ErrorCode::TooLarge), "{}", e.message);

    let (status, e) = raw(&http, &server, "no-such-method", hello.clone()).await;
    assert_eq!((status, e.code), (404, ErrorCode::NotFound));
    let (status, e) = raw(&http, &server, "get-profile/more", wire::encode(&())).await;
    assert_eq!((status, e.code), (404, ErrorCode::NotFound));

    // The server is still serving.
    let reply = server.agent().call::<Hello>(&HelloRequest { agent_version: "0.1.0".into() }).await.unwrap();
    assert_eq!(reply.protocol_version, PROTOCOL_VERSION);
    server.stop();
}

/// A vault on this server's bucket `bucket_id`, with wrapped secrets.
fn comet_vault(
    server: &Server,
    secrets: &AccountSecrets,
    vault_id: &str,
    bucket_id: &str,
    key: &str,
) -> DestinationConfig {
    DestinationConfig {
        description: format!("vault {vault_id}"),
        destination_type: DESTINATION_COMET,
        location: bucket_id.into(),
        server_url: server.url(),
        wrapped_access_key: secrets.wrap(&format!("{vault_id}/access-key"), key.as_bytes()),
        wrapped_vault_secret: secrets.wrap(&format!("{vault_id}/secret"), b"the vault password"),
        ..DestinationConfig::default()
    }
}

fn bucket_ids(server: &Server) -> Vec<String> {
    let (status, list) = server.admin("storage/list-buckets", &[]);
    assert_eq!(status, 200);
    list.as_object().unwrap().keys().cloned().collect()
}

/// An object path of a vault: `keys/<64 hex>`.
fn key_object(n: u8) -> ObjectKey {
    ObjectKey::parse(&format!("keys/{}", hex_byte(n).repeat(32))).unwrap()
}

fn hex_byte(n: u8) -> String {
    format!("{n:02x}")
}

#[tokio::test]
async fn init_vault_records_the_vault_and_creates_its_bucket_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let secrets = server.add_user("alice", "alice's password");
    let device = register(&server.agent(), "alice", &secrets.login_secret, "laptop").await;

    let (bucket, key) = ("0123456789abcdef0123456789abcdef", "k".repeat(64));
    let (mut profile, original_hash) = profile_of(&device).await;
    profile.destinations.insert("vault1".into(), comet_vault(&server, &secrets, "vault1", bucket, &key));
    let init = InitVaultRequest {
        destination_id: "vault1".into(),
        profile: SetProfileRequest { require_hash: original_hash.clone(), profile_json: profile.to_json() },
        bucket: Some(NewBucket { id: bucket.into(), key: key.clone() }),
    };
    let ProfileUpdated::Updated { profile_hash: hash } = device.call::<InitVault>(&init).await.unwrap() else {
        panic!("the first initialisation must be stored")
    };
    let (stored, stored_hash) = profile_of(&device).await;
    assert_eq!(stored_hash, hash);
    assert_eq!(stored.destinations["vault1"].location, bucket);
    let (_, list) = server.admin("storage/list-buckets", &[]);
    assert_eq!((&list[bucket]["Owner"], &list[bucket]["AppendOnly"]), (&Value::from("alice"), &Value::Bool(false)));
    let vault = RemoteVault::new(&server.url(), bucket, &key).unwrap();
    vault.put(&key_object(1), bytes::Bytes::from_static(b"sealed key")).await.unwrap();
    assert_eq!(vault.get(&key_object(1)).await.unwrap(), "sealed key");

    // The same request again (its reply was lost, say): the profile changed, so Conflict, and
    // no second bucket.
    assert_eq!(device.call::<InitVault>(&init).await.unwrap(), ProfileUpdated::Conflict);
    assert_eq!(bucket_ids(&server), [bucket]);
    // A stale hash with another bucket: Conflict, and that bucket is not created either.
    let other = "fedcba9876543210fedcba9876543210";
    let mut stale_profile = profile.clone();
    stale_profile.destinations.insert("vault2".into(), comet_vault(&server, &secrets, "vault2", other, &key));
    let stale = InitVaultRequest {
        destination_id: "vault2".into(),
        profile: SetProfileRequest { require_hash: original_hash, profile_json: stale_profile.to_json() },
        bucket: Some(NewBucket { id: other.into(), key: key.clone() }),
    };
    assert_eq!(device.call::<InitVault>(&stale).await.unwrap(), ProfileUpdated::Conflict);
    assert_eq!(bucket_ids(&server), [bucket]);
    // A fresh hash but a bucket id that is taken: Conflict, and the profile is unchanged.
    let mut taken = stored.clone();
    taken.destinations.insert("vault3".into(), comet_vault(&server, &secrets, "vault3", bucket, &key));
    let taken = InitVaultRequest {
        destination_id: "vault3".into(),
        profile: SetProfileRequest { require_hash: hash.clone(), profile_json: taken.to_json() },
        bucket: Some(NewBucket { id: bucket.into(), key: "t".repeat(64) }),
    };
    assert_eq!(device.call::<InitVault>(&taken).await.unwrap(), ProfileUpdated::Conflict);
    assert_eq!(profile_of(&device).await.1, hash);
    assert_eq!(vault.get(&key_object(1)).await.unwrap(), "sealed key", "the first key still opens it");

    // Requests that cannot be right.
    let mut wrong_type = stored.clone();
    let mut local = comet_vault(&server, &secrets, "vault4", other, &key);
    local.destination_type = 1002;
    wrong_type.destinations.insert("vault4".into(), local);
    let invalid = [
        ("vault4", wrong_type.to_json(), other.to_owned(), key.clone()),
        ("missing", stored.to_json(), other.to_owned(), key.clone()),
        ("vault1", stored.to_json(), "ABCDEF".to_owned(), key.clone()),
        ("vault1", stored.to_json(), "../../etc".to_owned(), key.clone()),
        ("vault1", stored.to_json(), bucket.to_owned(), "short".to_owned()),
    ];
    for (vault_id, profile_json, id, key) in invalid {
        let request = InitVaultRequest {
            destination_id: vault_id.into(),
            profile: SetProfileRequest { require_hash: hash.clone(), profile_json },
            bucket: Some(NewBucket { id: id.clone(), key }),
        };
        assert_eq!(code(device.call::<InitVault>(&request).await), ErrorCode::Invalid, "{vault_id} {id}");
    }
    let mut renamed = stored.clone();
    renamed.username = "mallory".into();
    let request = SetProfileRequest { require_hash: hash.clone(), profile_json: renamed.to_json() };
    assert_eq!(code(device.call::<SetProfile>(&request).await), ErrorCode::Invalid);
    assert_eq!(bucket_ids(&server), [bucket]);
    server.stop();
}

#[tokio::test]
async fn an_append_only_vault_gets_an_append_only_bucket_that_devices_cannot_relax() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let secrets = server.add_user("alice", "alice's password");
    let device = register(&server.agent(), "alice", &secrets.login_secret, "laptop").await;

    // The administrator prepares the vault, append-only.
    let (_, read) = server.admin("get-user-profile-and-hash", &[("TargetUser", "alice")]);
    let mut prepared = read["Profile"].clone();
    prepared["Destinations"] = serde_json::json!({"locked": {"Description": "locked", "AppendOnly": true}});
    let edit = [
        ("TargetUser", "alice"),
        ("ProfileData", &prepared.to_string()),
        ("RequireHash", read["ProfileHash"].as_str().unwrap()),
    ];
    assert_eq!(server.admin("set-user-profile-hash", &edit).0, 200);

    // The device initialises it, claiming it is not append-only: the stored flag wins.
    let (bucket, key) = ("00000000000000000000000000000001", "a".repeat(48));
    let (mut profile, hash) = profile_of(&device).await;
    profile.destinations.insert("locked".into(), comet_vault(&server, &secrets, "locked", bucket, &key));
    let init = InitVaultRequest {
        destination_id: "locked".into(),
        profile: SetProfileRequest { require_hash: hash, profile_json: profile.to_json() },
        bucket: Some(NewBucket { id: bucket.into(), key: key.clone() }),
    };
    assert!(matches!(device.call::<InitVault>(&init).await.unwrap(), ProfileUpdated::Updated { .. }));
    let (_, list) = server.admin("storage/list-buckets", &[]);
    assert_eq!(list[bucket]["AppendOnly"], true);
    let vault = RemoteVault::new(&server.url(), bucket, &key).unwrap();
    vault.put(&key_object(7), bytes::Bytes::from_static(b"sealed key")).await.unwrap();
    assert_eq!(vault.delete(&key_object(7)).await.unwrap_err().kind(), ErrorKind::Forbidden);

    // A device cannot clear the flag, nor change devices, suspension or creation time.
    let (mut profile, hash) = profile_of(&device).await;
    assert!(profile.destinations["locked"].append_only);
    let created = profile.create_time;
    profile.destinations.get_mut("locked").unwrap().append_only = false;
    profile.devices.clear();
    profile.is_suspended = true;
    profile.create_time = 1;
    profile.account_name = "Alice".into();
    let edit = SetProfileRequest { require_hash: hash, profile_json: profile.to_json() };
    assert!(matches!(device.call::<SetProfile>(&edit).await.unwrap(), ProfileUpdated::Updated { .. }));
    let (stored, _) = profile_of(&device).await;
    assert_eq!(stored.account_name, "Alice", "the device's own change is kept");
    assert!(stored.destinations["locked"].append_only);
    assert!(stored.devices.contains_key("laptop") && !stored.is_suspended);
    assert_eq!(stored.create_time, created);
    server.stop();
}

/// An admin call from an async test (so that two can run at once).
async fn admin(http: &reqwest::Client, server: &Server, method: &str, fields: &[(&str, &str)]) -> u16 {
    let mut form = vec![("Username", "admin"), ("AuthType", "Password"), ("Password", common::ADMIN_PASSWORD)];
    form.extend_from_slice(fields);
    let body: Vec<String> = form.iter().map(|(k, v)| format!("{}={}", common::encode(k), common::encode(v))).collect();
    http.post(format!("{}/api/v1/admin/{method}", server.url()))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body.join("&"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn of_two_concurrent_edits_from_the_same_hash_exactly_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    server.add_user("alice", "alice's password");
    let (_, read) = server.admin("get-user-profile-and-hash", &[("TargetUser", "alice")]);
    let hash = read["ProfileHash"].as_str().unwrap();
    let edit = |name: &str| {
        let mut profile = read["Profile"].clone();
        profile["AccountName"] = Value::from(name);
        profile.to_string()
    };
    let (a, b) = (edit("Alice A"), edit("Alice B"));
    let http = reqwest::Client::new();
    let fields_a = [("TargetUser", "alice"), ("ProfileData", a.as_str()), ("RequireHash", hash)];
    let fields_b = [("TargetUser", "alice"), ("ProfileData", b.as_str()), ("RequireHash", hash)];
    let (first, second) = tokio::join!(
        admin(&http, &server, "set-user-profile-hash", &fields_a),
        admin(&http, &server, "set-user-profile-hash", &fields_b),
    );
    let mut statuses = [first, second];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409]);
    let (_, after) = server.admin("get-user-profile", &[("TargetUser", "alice")]);
    assert!(["Alice A", "Alice B"].contains(&after["AccountName"].as_str().unwrap()));
    server.stop();
}
