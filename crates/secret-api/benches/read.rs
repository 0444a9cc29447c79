//! `SecretService::get_secret` uncached and cached on SQLite, `get_secrets` of 100 ids
//! cached on SQLite, and `get_secret` uncached on PostgreSQL when `BENCH_PG_URL` names a
//! server (a database with a random name is created and dropped).
//!
//! `cargo bench -p secret-api --bench read`
//! `BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench -p secret-api --bench read`

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use criterion::{Criterion, criterion_group, criterion_main};
use secret_api::{CacheConfig, CreateSecretParams, SecretScope, SecretService, SecretValue};
use secret_core::AnySecretValue;
use secret_core::value::ApiKeySecret;
use sqlx::Connection;
use support::{bench_ctx, open_service};

async fn create(service: &SecretService, name: &str) -> secret_core::SecretId {
    service
        .create_secret(
            CreateSecretParams::new(
                name,
                SecretScope::Organization,
                SecretValue::new(AnySecretValue::ApiKey(ApiKeySecret {
                    key: "sk-".to_string() + &"x".repeat(97),
                })),
            ),
            &bench_ctx(),
        )
        .await
        .unwrap()
        .id
}

async fn service(url: &str, cache: CacheConfig) -> (SecretService, secret_core::SecretId) {
    let service = open_service(url, cache).await;
    let id = create(&service, "BENCH_KEY").await;
    (service, id)
}

fn bench_reads(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ctx = bench_ctx();

    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.db").display()
    );
    let (svc, id) = rt.block_on(service(&url, CacheConfig::disabled()));
    c.bench_function("get_secret uncached (SQLite)", |b| {
        b.to_async(&rt)
            .iter(|| async { svc.get_secret(&id, &ctx).await.unwrap() })
    });
    let cached_url = url.replace("bench.db", "cached.db");
    let (cached, cached_id) = rt.block_on(service(&cached_url, CacheConfig::default()));
    c.bench_function("get_secret cached (SQLite)", |b| {
        b.to_async(&rt)
            .iter(|| async { cached.get_secret(&cached_id, &ctx).await.unwrap() })
    });
    // One call for 100 secrets: their SECRET_READ records go to the audit writer as one job.
    let many: Vec<_> = rt.block_on(async {
        let mut ids = Vec::new();
        for n in 0..100 {
            ids.push(create(&cached, &format!("BENCH_MANY_{n}")).await);
        }
        ids
    });
    c.bench_function("get_secrets 100 ids cached (SQLite)", |b| {
        b.to_async(&rt).iter(|| async {
            let values = cached.get_secrets(&many, &ctx).await.unwrap();
            assert_eq!(values.len(), 100);
            values
        })
    });

    if let Ok(admin) = std::env::var("BENCH_PG_URL") {
        let name = format!("sm_bench_{}", uuid::Uuid::new_v4().simple());
        rt.block_on(async {
            let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                .execute(&mut conn)
                .await
                .unwrap();
        });
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
        let (svc, id) = rt.block_on(service(&format!("{base}/{name}"), CacheConfig::disabled()));
        c.bench_function("get_secret uncached (PostgreSQL)", |b| {
            b.to_async(&rt)
                .iter(|| async { svc.get_secret(&id, &ctx).await.unwrap() })
        });
        drop(svc);
        rt.block_on(async {
            let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
            )))
            .execute(&mut conn)
            .await
            .unwrap();
        });
    }
}

criterion_group!(benches, bench_reads);
criterion_main!(benches);
