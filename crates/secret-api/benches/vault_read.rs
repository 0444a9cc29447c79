//! A value read (`SecretService::get_secret`, audited and durable) with the value kept in
//! the local store, in HashiCorp Vault's KV v2 API (a real OpenBao dev server started by
//! the bench from the `bao` binary; see `scripts/openbao.sh`), in AWS Secrets Manager's API
//! (a real moto server; `scripts/moto.sh`), and in the in-tree Azure Key Vault and Google
//! Secret Manager stand-ins, each uncached and cached, on SQLite. Skips a server it cannot
//! start. The stand-ins answer from memory on this machine: their figures measure the
//! service and the official clients (TLS, auth, JSON or gRPC), not the clouds.
//!
//! `cargo bench -p secret-api --bench vault_read`

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use criterion::{Criterion, criterion_group, criterion_main};
use secret_api::{CacheConfig, CreateSecretParams, SecretScope, SecretService, SecretValue};
use secret_core::value::ApiKeySecret;
use secret_core::vault::{ConfigureVaultParams, RawConfig};
use secret_core::{AnySecretValue, Principal, SecretContext, StorageBackendKind, VaultScope};
use secret_store::testing::azure::AzureStandIn;
use secret_store::testing::gcp::GcpStandIn;
use secret_store::testing::{moto, openbao};
use support::{bench_ctx, open_service};

async fn service(
    url: &str,
    cache: CacheConfig,
    vault: Option<&(StorageBackendKind, serde_json::Value)>,
) -> (SecretService, secret_core::SecretId) {
    let service = open_service(url, cache).await;
    let vault_id = match vault {
        None => None,
        Some((backend, config)) => {
            let root = SecretContext::new(Principal::user("root").as_super_admin(), "bench");
            let v = service
                .configure_vault(
                    ConfigureVaultParams {
                        name: format!("bench-{backend}"),
                        description: None,
                        backend: *backend,
                        scope: VaultScope::Global,
                        organization_id: None,
                        config: RawConfig(config.clone()),
                        is_default: false,
                    },
                    &root,
                )
                .await
                .unwrap();
            Some(v.id)
        }
    };
    let mut params = CreateSecretParams::new(
        "BENCH_KEY",
        SecretScope::Organization,
        SecretValue::new(AnySecretValue::ApiKey(ApiKeySecret {
            key: "sk-".to_string() + &"x".repeat(97),
        })),
    );
    params.vault_id = vault_id;
    let id = service
        .create_secret(params, &bench_ctx())
        .await
        .unwrap()
        .id;
    (service, id)
}

fn bench_vault_reads(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ctx = bench_ctx();
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("bench{}-", uuid::Uuid::now_v7().simple());
    let mut backends: Vec<(&str, Option<(StorageBackendKind, serde_json::Value)>)> =
        vec![("local", None)];
    if let Some(bao) = rt.block_on(openbao::server()) {
        let config = serde_json::json!({"address": bao.address, "pathPrefix": prefix,
            "auth": {"method": "TOKEN", "token": bao.root_token}});
        backends.push((
            "OpenBao",
            Some((StorageBackendKind::HashicorpVault, config)),
        ));
    }
    if let Some(m) = rt.block_on(moto::server()) {
        let config = m.config_json(&prefix, 10);
        backends.push((
            "moto",
            Some((StorageBackendKind::AwsSecretsManager, config)),
        ));
    }
    let azure = AzureStandIn::shared().config_json(&prefix, 10);
    backends.push((
        "Azure stand-in",
        Some((StorageBackendKind::AzureKeyVault, azure)),
    ));
    let gcp = GcpStandIn::shared().config_json(&prefix, 10);
    backends.push((
        "Google stand-in",
        Some((StorageBackendKind::GcpSecretManager, gcp)),
    ));
    for (name, vault) in &backends {
        for (label, cache) in [
            ("uncached", CacheConfig::disabled()),
            ("cached", CacheConfig::default()),
        ] {
            let url = format!(
                "sqlite://{}?mode=rwc",
                dir.path()
                    .join(format!("{}-{label}.db", name.replace(' ', "-")))
                    .display()
            );
            let (svc, id) = rt.block_on(service(&url, cache, vault.as_ref()));
            c.bench_function(&format!("get_secret {label} ({name}, SQLite)"), |b| {
                b.to_async(&rt)
                    .iter(|| async { svc.get_secret(&id, &ctx).await.unwrap() })
            });
        }
    }
}

criterion_group!(benches, bench_vault_reads);
criterion_main!(benches);
