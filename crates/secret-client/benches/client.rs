//! `SecretClient::get_secret` against a real server over loopback (in-process, SQLite in a
//! temporary directory): a cached read (no request at all) and an uncached one (one HTTP
//! request, an audited read on the server, committed before the answer).
//!
//! `cargo bench -p secret-client --bench client`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use secret_api::http::HttpSettings;
use secret_client::{CacheSettings, ClientConfig, SecretClient, StaticToken};
use secret_core::SecretId;
use secret_testkit::db::TestService;
use secret_testkit::http::{org_admin, settings, spawn_with};

fn bench_get(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (server, id, cached, uncached) = rt.block_on(async {
        let server = spawn_with(
            TestService::new().await,
            HttpSettings {
                rate_limit_per_minute: 0,
                workers: Some(2),
                ..settings()
            },
        )
        .await;
        let token = server.token(&org_admin());
        let id = server
            .create_key(&token, "BENCH_KEY", "sk-bench-0123456789")
            .await;
        let client = |cache| {
            SecretClient::new(
                ClientConfig::new(&server.base)
                    .unwrap()
                    .organization("org-1")
                    .cache(cache),
                StaticToken::new(token.clone()),
            )
            .unwrap()
        };
        let cached = client(CacheSettings::default());
        let uncached = client(CacheSettings::disabled());
        (server, SecretId::from(id.as_str()), cached, uncached)
    });
    rt.block_on(async { cached.get_secret(&id).await.unwrap() });
    c.bench_function("client get_secret, cached", |b| {
        b.to_async(&rt)
            .iter(|| async { cached.get_secret(&id).await.unwrap() });
    });
    c.bench_function("client get_secret, uncached over loopback", |b| {
        b.to_async(&rt)
            .iter(|| async { uncached.get_secret(&id).await.unwrap() });
    });
    drop(server);
}

criterion_group!(benches, bench_get);
criterion_main!(benches);
