//! How a [`crate::SecretService`] is configured.

use secret_core::SecretError;
use secret_crypto::MasterKeyMaterial;
use secret_store::DbConfig;

use crate::cache::CacheConfig;

/// The default database: SQLite in `./data`, created if missing.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./data/secrets.db?mode=rwc";

/// Everything a service needs to start.
#[derive(Debug)]
pub struct ServiceConfig {
    /// The service's own database.
    pub database: DbConfig,
    /// The master key (raw key or passphrase).
    pub master_key: MasterKeyMaterial,
    /// Whether to run pending migrations when connecting.
    pub run_migrations: bool,
    /// The read cache.
    pub cache: CacheConfig,
}

impl ServiceConfig {
    /// A configuration for `database_url` with `master_key`, running migrations.
    pub fn new(database_url: impl Into<String>, master_key: MasterKeyMaterial) -> Self {
        ServiceConfig {
            database: DbConfig::new(database_url),
            master_key,
            run_migrations: true,
            cache: CacheConfig::default(),
        }
    }

    /// Reads `SECRETS_DATABASE_URL` (default: SQLite in `./data`) and the master key from
    /// `SECRETS_MASTER_KEY` or `SECRETS_MASTER_KEY_FILE`.
    pub fn from_env() -> Result<Self, SecretError> {
        let url = std::env::var("SECRETS_DATABASE_URL")
            .unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_string());
        let master_key = MasterKeyMaterial::from_env()?.ok_or_else(|| {
            SecretError::validation(
                "SECRETS_MASTER_KEY",
                "no master key: set SECRETS_MASTER_KEY or SECRETS_MASTER_KEY_FILE",
            )
        })?;
        Ok(ServiceConfig::new(url, master_key))
    }
}
