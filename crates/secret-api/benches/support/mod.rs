//! What the benches share: the caller, and a service over a migrated database with a
//! random master key.

use std::sync::Arc;

use base64::Engine;
use secret_api::{CacheConfig, MasterKeyMaterial, SecretService};
use secret_core::{OrgRole, Principal, SecretContext, SystemClock};
use secret_store::{Database, DbConfig};

/// An admin of org-1, in org-1.
pub(crate) fn bench_ctx() -> SecretContext {
    SecretContext::new(
        Principal::user("bench").with_org("org-1", OrgRole::Admin),
        "bench",
    )
    .in_organization("org-1")
}

/// A service over the database at `url` (migrated here) with a random master key.
pub(crate) async fn open_service(url: &str, cache: CacheConfig) -> SecretService {
    let db = Database::connect(&DbConfig::new(url)).await.unwrap();
    db.migrate().await.unwrap();
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).unwrap();
    let material =
        MasterKeyMaterial::parse(&base64::engine::general_purpose::STANDARD.encode(key)).unwrap();
    SecretService::open_with(db, &material, Arc::new(SystemClock), cache)
        .await
        .unwrap()
}
