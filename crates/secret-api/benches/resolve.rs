//! `SecretService::resolve` of a 20-reference configuration on SQLite: 10 references by id
//! and 10 by scope path (one batch read and one audit batch of 20 SECRET_READ records).
//! The read cache does not take part: a resolution reads its rows in one batch.
//!
//! `cargo bench -p secret-api --bench resolve`

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;

use criterion::{Criterion, criterion_group, criterion_main};
use secret_api::{CacheConfig, CreateSecretParams, SecretScope, SecretService, SecretValue};
use secret_core::AnySecretValue;
use secret_core::reference::{ConfigValue, SecretReference};
use secret_core::value::ApiKeySecret;
use support::{bench_ctx, open_service};

async fn config(url: &str) -> (SecretService, BTreeMap<String, ConfigValue>) {
    let service = open_service(url, CacheConfig::default()).await;
    let ctx = bench_ctx();
    let mut variables = BTreeMap::new();
    for n in 0..20 {
        let name = format!("BENCH_{n:02}");
        let id = service
            .create_secret(
                CreateSecretParams::new(
                    &name,
                    SecretScope::Organization,
                    SecretValue::new(AnySecretValue::ApiKey(ApiKeySecret {
                        key: format!("sk-{n:02}-") + &"x".repeat(90),
                    })),
                ),
                &ctx,
            )
            .await
            .unwrap()
            .id;
        let uri = if n % 2 == 0 {
            format!("secret://{id}")
        } else {
            format!("secret://org/org-1/{name}")
        };
        variables.insert(
            format!("VAR_{n:02}"),
            ConfigValue::Reference(SecretReference::parse_uri(&uri).unwrap()),
        );
    }
    (service, variables)
}

fn bench_resolve(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ctx = bench_ctx();
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.db").display()
    );
    let (svc, variables) = rt.block_on(config(&url));
    c.bench_function("resolve 20 references (SQLite)", |b| {
        b.to_async(&rt)
            .iter(|| async { svc.resolve(&variables, &ctx).await.unwrap() })
    });
}

criterion_group!(benches, bench_resolve);
criterion_main!(benches);
