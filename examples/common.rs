//! What the Rust examples share: an embedded `SecretService` on SQLite, and the caller the
//! examples act for. A real module opens the service once at start
//! (`SecretService::connect(ServiceConfig::from_env()?)`) and builds a `SecretContext` per
//! request from its own authenticated user.

use secret_api::{MasterKeyMaterial, SecretService, ServiceConfig};
use secret_core::{OrgRole, Principal, SecretContext};

/// The organization the examples work in.
pub(crate) const ORG: &str = "acme";

/// The service on `SECRETS_DATABASE_URL` (default: a new SQLite file in the temporary
/// directory) with `SECRETS_MASTER_KEY` (default: a key generated for this run).
pub(crate) async fn embedded_service() -> anyhow::Result<SecretService> {
    let url = match std::env::var("SECRETS_DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => format!(
            "sqlite://{}?mode=rwc",
            std::env::temp_dir()
                .join(format!("secret-example-{}.db", std::process::id()))
                .display()
        ),
    };
    let key = match MasterKeyMaterial::from_env()? {
        Some(key) => key,
        None => MasterKeyMaterial::generate_raw()?.0,
    };
    Ok(SecretService::connect(ServiceConfig::new(url, key)).await?)
}

/// An administrator of [`ORG`], signed in just now, calling from `module`.
pub(crate) fn caller(module: &str) -> SecretContext {
    let principal = Principal::user("example-admin")
        .with_org(ORG, OrgRole::Admin)
        .authenticated_at(chrono::Utc::now());
    SecretContext::new(principal, module).in_organization(ORG)
}
