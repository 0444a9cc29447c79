//! The storage-backend conformance suite against the in-tree Azure Key Vault **stand-in**
//! (`secret_store::testing::azure`), reached through the official SDK clients over HTTPS
//! with the bearer challenge and a service-principal login; plus what only the Azure
//! backend shows: tags, stale writes refused, removed versions disabled, soft delete and
//! recovery, purge protection reported, the size limit checked before any call, and
//! errors when the vault is gone, hangs, refuses the credentials or keeps throttling.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use secret_core::vault::{AzureKeyVaultConfig, BackendConfig};
use secret_core::{SecretError, StorageBackendKind};
use secret_store::testing::azure::{self, AzureStandIn};
use secret_store::testing::conformance::{self, generic, same};
use secret_store::{AzureKeyVaultBackend, StorageBackend, ValueTarget};
use serde_json::{Value, json};

fn parse(config: Value) -> AzureKeyVaultConfig {
    match BackendConfig::parse(StorageBackendKind::AzureKeyVault, config) {
        Ok(BackendConfig::AzureKeyVault(c)) => c,
        other => panic!("not an Azure configuration: {other:?}"),
    }
}

fn prefix() -> String {
    format!("t{}-", uuid::Uuid::now_v7().simple())
}

async fn backend(config: Value) -> AzureKeyVaultBackend {
    AzureKeyVaultBackend::connect(parse(config)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_azure_backend_conforms() {
    let kv = AzureStandIn::shared();
    conformance::run(&backend(kv.config_json(&prefix(), 10)).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_vault_secrets_carry_our_tags_and_refuse_a_stale_write() {
    let kv = AzureStandIn::shared();
    let prefix = prefix();
    let b = backend(kv.config_json(&prefix, 10)).await;
    let id = uuid::Uuid::now_v7().to_string();
    let name = format!("{prefix}{id}");
    let t1 = ValueTarget {
        secret_id: &id,
        secret_name: "TAGGED",
        version: 1,
    };
    let v1 = b.store_value(t1, &generic("one"), None).await.unwrap();
    let t2 = ValueTarget { version: 2, ..t1 };
    let v2 = b.store_value(t2, &generic("two"), Some(&v1)).await.unwrap();
    let tags = kv.tags(&name);
    assert_eq!(tags.get("secretManagerId"), Some(&id));
    assert_eq!(tags.get("secretType").map(String::as_str), Some("GENERIC"));
    assert_eq!(
        tags.get("secretManagerVersion").map(String::as_str),
        Some("2")
    );
    assert!(
        !tags.values().any(|v| v.contains("TAGGED")),
        "the name is not in tags"
    );
    // A write whose answer was lost is found again; none after the current one.
    assert_eq!(
        b.find_written(&id, Some(&v1)).await.unwrap(),
        Some(v2.clone())
    );
    assert_eq!(b.find_written(&id, Some(&v2)).await.unwrap(), None);

    // Removing the newest version (an abandoned write) disables it; writes go on after v1.
    b.remove_versions(&id, std::slice::from_ref(&v2))
        .await
        .unwrap();
    assert!(
        b.retrieve_value(t2, &v2).await.is_err(),
        "a removed version reads"
    );
    assert_eq!(b.find_written(&id, Some(&v1)).await.unwrap(), None);
    let v2 = b.store_value(t2, &generic("two"), Some(&v1)).await.unwrap();
    assert!(same(
        &b.retrieve_value(t2, &v2).await.unwrap(),
        &generic("two")
    ));
    assert!(same(
        &b.retrieve_value(t1, &v1).await.unwrap(),
        &generic("one")
    ));

    // A value written outside the service: our next write is refused, not stacked on it.
    kv.write_outside(&name, &json!({"type": "GENERIC", "value": "outside"}));
    let t3 = ValueTarget { version: 3, ..t1 };
    let err = SecretError::from(
        b.store_value(t3, &generic("3"), Some(&v2))
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

    // Soft delete, twice, then recover; a purge-protected vault refuses the permanent
    // delete with a message saying so; without it, the secret is gone.
    b.soft_delete(&id, &[]).await.unwrap();
    assert!(kv.is_deleted(&name));
    b.soft_delete(&id, &[]).await.unwrap();
    b.restore(&id, &[]).await.unwrap();
    assert!(!kv.is_deleted(&name));
    b.restore(&id, &[]).await.unwrap();
    kv.set_purge_protection(true);
    let err = SecretError::from(b.delete_secret(&id, &[]).await.unwrap_err());
    kv.set_purge_protection(false);
    assert!(err.to_string().contains("purge protection"), "{err}");
    b.delete_secret(&id, &[]).await.unwrap();
    assert!(!kv.holds(&name), "the secret survived a permanent delete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_over_the_key_vault_limit_are_refused_before_any_call() {
    let kv = AzureStandIn::shared();
    let b = backend(kv.config_json(&prefix(), 10)).await;
    let id = uuid::Uuid::now_v7().to_string();
    let target = ValueTarget {
        secret_id: &id,
        secret_name: "BIG",
        version: 1,
    };
    let before = kv.controls().requests();
    let big = generic(&"x".repeat(secret_store::MAX_AZURE_VALUE_BYTES));
    let err = SecretError::from(b.store_value(target, &big, None).await.unwrap_err());
    assert_eq!(kv.controls().requests(), before, "a call was made");
    assert!(matches!(err, SecretError::Validation { .. }), "{err:?}");
    assert!(err.to_string().contains("25600"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_or_hung_key_vault_is_unavailable() {
    let kv = AzureStandIn::start();
    let b = backend(kv.config_json(&prefix(), 1)).await;
    conformance::unavailable_while_hung_or_stopped(&b, kv.controls()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_client_secret_is_a_502_that_never_shows_it() {
    let kv = AzureStandIn::shared();
    let mut config = kv.config_json(&prefix(), 5);
    config["auth"]["clientSecret"] = json!("CANARY-wrong-client-secret");
    let b = backend(config).await;
    let err = SecretError::from(b.health_check().await.unwrap_err());
    assert!(
        matches!(err, SecretError::VaultConnectionFailed { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("Azure Key Vault"), "{text}");
    assert!(!text.contains("CANARY"), "{text}");
    assert!(!text.contains(azure::CLIENT_SECRET), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_retried_up_to_a_bound_then_a_503() {
    let kv = AzureStandIn::start();
    let b = backend(kv.config_json(&prefix(), 5)).await;
    conformance::throttling_is_retried_up_to_a_bound(&b, kv.controls(), 3).await;
}

const CERT: &str = include_str!("../../secret-core/tests/fixtures/cert_rsa.pem");
const KEY: &str = include_str!("../../secret-core/tests/fixtures/cert_rsa_key.pem");

/// The whole suite again, signed in with a certificate: the client assertion made without
/// OpenSSL, checked by the stand-in's token endpoint as Entra ID checks it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_azure_backend_conforms_with_certificate_authentication() {
    let kv = AzureStandIn::shared();
    kv.trust_client_certificate(CERT);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sp.pem");
    std::fs::write(&path, format!("{CERT}{KEY}")).unwrap();
    let config = kv.certificate_config_json(&prefix(), path.to_str().unwrap());
    conformance::run(&backend(config).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_certificate_file_is_refused_without_naming_it() {
    let kv = AzureStandIn::shared();
    let config = kv.certificate_config_json(&prefix(), "/nonexistent/sp.pem");
    let err = SecretError::from(
        AzureKeyVaultBackend::connect(parse(config))
            .await
            .unwrap_err(),
    );
    assert!(
        matches!(err, SecretError::VaultNotConfigured { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("certificate file"), "{err}");
    assert!(!err.to_string().contains("nonexistent"), "{err}");
}

/// The conformance suite against a real Key Vault, on demand: `AZURE_KEYVAULT_URL=https://
/// NAME.vault.azure.net AZURE_TENANT_ID=... AZURE_CLIENT_ID=... AZURE_CLIENT_SECRET=...
/// cargo test -p secret-store --features azure-stand-in --test conformance_azure --
/// --ignored live`. Objects are made under a `smlive<id>-` prefix and purged again (the
/// vault must allow purging). Exempt from SECRETS_TEST_STRICT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real Key Vault: set AZURE_KEYVAULT_URL and a service principal"]
async fn live_azure_key_vault_conforms() {
    let var = |k: &str| std::env::var(k).ok();
    let (Some(url), Some(tenant), Some(client), Some(secret)) = (
        var("AZURE_KEYVAULT_URL"),
        var("AZURE_TENANT_ID"),
        var("AZURE_CLIENT_ID"),
        var("AZURE_CLIENT_SECRET"),
    ) else {
        eprintln!(
            "live Azure test not run: set AZURE_KEYVAULT_URL, AZURE_TENANT_ID, \
             AZURE_CLIENT_ID and AZURE_CLIENT_SECRET"
        );
        return;
    };
    let config = json!({"vaultUrl": url, "namePrefix": format!("smlive{}-",
        uuid::Uuid::now_v7().simple()), "timeoutSeconds": 30,
        "auth": {"method": "SERVICE_PRINCIPAL", "tenantId": tenant, "clientId": client,
                 "clientSecret": secret}});
    conformance::run(&backend(config).await).await;
}
