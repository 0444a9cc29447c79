//! The storage-backend conformance suite against the in-tree Google Secret Manager
//! **stand-in** (`secret_store::testing::gcp`), reached through `gcloud-sdk`'s generated
//! gRPC client with a service-account key; plus what only the Google backend shows: labels,
//! stale writes refused, removed versions destroyed, soft delete as disabled versions, and
//! errors when the service is gone, hangs, refuses the key or keeps throttling.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use secret_core::vault::{BackendConfig, GcpSecretManagerConfig};
use secret_core::{SecretError, StorageBackendKind};
use secret_store::testing::conformance::{self, generic, same};
use secret_store::testing::gcp::GcpStandIn;
use secret_store::{GcpSecretManagerBackend, StorageBackend, ValueTarget};
use serde_json::{Value, json};

fn parse(config: Value) -> GcpSecretManagerConfig {
    match BackendConfig::parse(StorageBackendKind::GcpSecretManager, config) {
        Ok(BackendConfig::GcpSecretManager(c)) => c,
        other => panic!("not a Google configuration: {other:?}"),
    }
}

fn prefix() -> String {
    format!("t{}-", uuid::Uuid::now_v7().simple())
}

async fn backend(config: Value) -> GcpSecretManagerBackend {
    GcpSecretManagerBackend::connect(parse(config))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_google_backend_conforms() {
    let g = GcpStandIn::shared();
    conformance::run(&backend(g.config_json(&prefix(), 10)).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_secrets_carry_our_labels_and_refuse_a_stale_write() {
    let g = GcpStandIn::shared();
    let prefix = prefix();
    let b = backend(g.config_json(&prefix, 10)).await;
    let id = uuid::Uuid::now_v7().to_string();
    let object = format!("{prefix}{id}");
    let t1 = ValueTarget {
        secret_id: &id,
        secret_name: "LABELLED",
        version: 1,
    };
    let v1 = b.store_value(t1, &generic("one"), None).await.unwrap();
    let t2 = ValueTarget { version: 2, ..t1 };
    let v2 = b.store_value(t2, &generic("two"), Some(&v1)).await.unwrap();
    let labels = g.labels(&object);
    assert_eq!(labels.get("secret-manager-id"), Some(&id));
    assert_eq!(
        labels.get("secret-manager-type").map(String::as_str),
        Some("generic")
    );
    assert!(
        !labels.values().any(|v| v.contains("labelled")),
        "the name is not a label"
    );
    assert_eq!(
        b.find_written(&id, Some(&v1)).await.unwrap(),
        Some(v2.clone())
    );
    assert_eq!(b.find_written(&id, Some(&v2)).await.unwrap(), None);

    // Removing the newest version (an abandoned write) destroys it; writes go on.
    b.remove_versions(&id, std::slice::from_ref(&v2))
        .await
        .unwrap();
    assert_eq!(g.states(&object), ["ENABLED", "DESTROYED"]);
    assert_eq!(b.find_written(&id, Some(&v1)).await.unwrap(), None);
    let v3 = b.store_value(t2, &generic("two"), Some(&v1)).await.unwrap();
    assert!(same(
        &b.retrieve_value(t2, &v3).await.unwrap(),
        &generic("two")
    ));

    // A version written outside the service: our next write is refused.
    g.write_outside(&object, &json!({"type": "GENERIC", "value": "outside"}));
    let t3 = ValueTarget { version: 3, ..t1 };
    let err = SecretError::from(
        b.store_value(t3, &generic("3"), Some(&v3))
            .await
            .unwrap_err(),
    );
    assert!(matches!(err, SecretError::Conflict { .. }), "{err:?}");
    let err = SecretError::from(
        b.store_value(t1, &generic("again"), None)
            .await
            .unwrap_err(),
    );
    assert!(matches!(err, SecretError::Conflict { .. }), "{err:?}");

    // Soft delete disables the versions (twice is no error), restore enables them.
    b.soft_delete(&id, &[v1.clone(), v3.clone()]).await.unwrap();
    b.soft_delete(&id, &[v1.clone(), v3.clone()]).await.unwrap();
    assert_eq!(g.states(&object)[0], "DISABLED");
    assert!(
        b.retrieve_value(t1, &v1).await.is_err(),
        "a disabled version reads"
    );
    b.restore(&id, &[v1.clone(), v3.clone()]).await.unwrap();
    assert!(same(
        &b.retrieve_value(t1, &v1).await.unwrap(),
        &generic("one")
    ));
    b.delete_secret(&id, &[]).await.unwrap();
    assert!(!g.holds(&object));
    b.delete_secret(&id, &[]).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_or_hung_google_is_unavailable() {
    let g = GcpStandIn::start();
    let b = backend(g.config_json(&prefix(), 1)).await;
    conformance::unavailable_while_hung_or_stopped(&b, g.controls()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_the_service_does_not_know_is_a_502_that_never_shows_it() {
    let g = GcpStandIn::shared();
    let mut config = g.config_json(&prefix(), 5);
    config["auth"]["json"]["private_key_id"] = json!("CANARY-unknown-key-id");
    let b = backend(config).await;
    let err = SecretError::from(b.health_check().await.unwrap_err());
    assert!(
        matches!(err, SecretError::VaultConnectionFailed { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("Unauthenticated"), "{text}");
    assert!(
        !text.contains("CANARY") && !text.contains("PRIVATE KEY"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_retried_up_to_a_bound_then_a_503() {
    let g = GcpStandIn::start();
    let b = backend(g.config_json(&prefix(), 5)).await;
    conformance::throttling_is_retried_up_to_a_bound(&b, g.controls(), 3).await;
}

/// The conformance suite against a real project, on demand: `GOOGLE_CLOUD_PROJECT=...
/// GOOGLE_APPLICATION_CREDENTIALS=key.json cargo test -p secret-store --features
/// gcp-stand-in --test conformance_gcp -- --ignored live`. Objects are made under a
/// `smlive<id>-` prefix and deleted again. Exempt from SECRETS_TEST_STRICT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real Google Cloud project: set GOOGLE_CLOUD_PROJECT and credentials"]
async fn live_google_secret_manager_conforms() {
    let Ok(project) = std::env::var("GOOGLE_CLOUD_PROJECT") else {
        eprintln!("live Google test not run: set GOOGLE_CLOUD_PROJECT and credentials");
        return;
    };
    let config = json!({"projectId": project, "namePrefix": format!("smlive{}-",
        uuid::Uuid::now_v7().simple()), "timeoutSeconds": 30, "auth": {"method": "DEFAULT"}});
    conformance::run(&backend(config).await).await;
}
