//! `open_vault` and `VaultLocation`: every accepted form, every refused one, and no credentials
//! in locations, errors or debug output.

use std::path::PathBuf;

use comet_storage::{ErrorKind, VaultLocation, open_vault, open_vault_with};

fn s3(bucket: &str, prefix: &str) -> VaultLocation {
    VaultLocation::S3 { bucket: bucket.to_owned(), prefix: prefix.to_owned() }
}

#[test]
fn locations_parse_into_their_backend() {
    let cases = [
        ("memory://", VaultLocation::Memory),
        ("/srv/backup", VaultLocation::Local(PathBuf::from("/srv/backup"))),
        ("relative/dir", VaultLocation::Local(PathBuf::from("relative/dir"))),
        ("odd:name", VaultLocation::Local(PathBuf::from("odd:name"))),
        ("file:///srv/backup", VaultLocation::Local(PathBuf::from("/srv/backup"))),
        ("file://localhost/srv/b%20c", VaultLocation::Local(PathBuf::from("/srv/b c"))),
        ("s3://bucket", s3("bucket", "")),
        ("s3://bucket/", s3("bucket", "")),
        ("s3://bucket/alice/laptop/", s3("bucket", "alice/laptop")),
        ("S3://bucket/p", s3("bucket", "p")),
        ("s3://bucket/a/../b", s3("bucket", "b")),
        ("s3://bucket/a%20b", s3("bucket", "a b")),
        ("az://container/p", VaultLocation::Azure { container: "container".into(), prefix: "p".into() }),
        ("gs://bucket/a/b", VaultLocation::Gcs { bucket: "bucket".into(), prefix: "a/b".into() }),
    ];
    for (text, expected) in cases {
        assert_eq!(VaultLocation::parse(text).unwrap(), expected, "{text}");
    }
}

#[test]
fn locations_display_in_canonical_form() {
    for (text, shown) in [
        ("s3://bucket/alice/", "s3://bucket/alice"),
        ("s3://bucket", "s3://bucket"),
        ("az://c/p", "az://c/p"),
        ("gs://b/p", "gs://b/p"),
        ("memory://x", "memory://"),
        ("/srv/backup", "/srv/backup"),
    ] {
        assert_eq!(VaultLocation::parse(text).unwrap().to_string(), shown);
    }
}

#[test]
fn bad_locations_are_invalid() {
    for text in [
        "",
        "s3://",
        "s3:///prefix",
        "s3://bucket:9000/p",
        "s3://bucket/p?region=x",
        "s3://bucket/p#x",
        "s3://bucket/a//b",
        "file://otherhost/path",
    ] {
        let error = VaultLocation::parse(text).err().unwrap_or_else(|| panic!("{text:?} accepted"));
        assert_eq!(error.kind(), ErrorKind::Invalid, "{text}");
    }
}

#[test]
fn unknown_schemes_are_named() {
    let error = open_vault("ftp://host/dir").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Invalid);
    assert!(error.to_string().contains("\"ftp\""), "{error}");
}

#[test]
fn credentials_in_urls_are_refused_and_not_echoed() {
    for text in ["s3://AKIAKEY:topsecret@bucket/p", "az://user:topsecret@container", "ftp://u:topsecret@host"] {
        let error = open_vault(text).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Invalid, "{text}");
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("topsecret"), "secret leaked: {shown}");
    }
}

#[test]
fn options_configure_object_stores() {
    let vault = open_vault_with(
        "s3://bucket/prefix",
        [
            ("aws_access_key_id", "AKIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "topsecret"),
            ("aws_region", "eu-west-1"),
            ("aws_endpoint", "http://127.0.0.1:1"),
            ("aws_allow_http", "true"),
        ],
    )
    .unwrap();
    assert_eq!(vault.location(), "s3://bucket/prefix");
    assert!(!format!("{vault:?}").contains("topsecret"), "{vault:?}");

    let vault = open_vault_with(
        "az://container/p",
        [("azure_storage_account_name", "devaccount"), ("azure_storage_use_emulator", "true")],
    )
    .unwrap();
    assert_eq!(vault.location(), "az://container/p");

    let vault = open_vault_with("gs://bucket/p", [("google_bucket", "ignored-url-wins")]).unwrap();
    assert_eq!(vault.location(), "gs://bucket/p");
}

#[test]
fn unknown_options_are_named_without_their_value() {
    let error = open_vault_with("s3://bucket", [("aws_no_such_thing", "topsecret")]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Invalid);
    assert!(error.to_string().contains("aws_no_such_thing"), "{error}");
    assert!(!error.to_string().contains("topsecret"), "{error}");

    for location in ["memory://", "/srv/backup"] {
        let error = open_vault_with(location, [("aws_region", "x")]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Invalid, "{location}");
        assert!(error.to_string().contains("aws_region"), "{error}");
    }
}

#[tokio::test]
async fn memory_locations_open_fresh_vaults() {
    use bytes::Bytes;
    use comet_storage::ObjectKey;

    let first = open_vault("memory://").unwrap();
    first.put(&ObjectKey::CONFIG, Bytes::from_static(b"c")).await.unwrap();
    let second = open_vault("memory://").unwrap();
    assert!(second.get(&ObjectKey::CONFIG).await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn unreachable_endpoints_are_transient() {
    use comet_storage::ObjectKey;

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let vault = open_vault_with(
        "s3://bucket/p",
        [
            ("aws_access_key_id", "k"),
            ("aws_secret_access_key", "s"),
            ("aws_region", "us-east-1"),
            ("aws_endpoint", endpoint.as_str()),
            ("aws_allow_http", "true"),
            ("max_retries", "0"),
        ],
    )
    .unwrap();
    let error = vault.get(&ObjectKey::CONFIG).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Transient, "{error}");
}
