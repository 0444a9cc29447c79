//! The registry of backends (ARCHITECTURE §7): one client per vault configuration, built
//! lazily from its decrypted settings and rebuilt when the configuration changes. The one
//! place that turns a backend kind into code; the service only asks for "the backend of
//! vault `id`".

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use secret_core::SecretError;
use secret_core::vault::{BackendConfig, LOCAL_VAULT_ID};

use crate::error::StoreResult;
use crate::keys::KeyManager;
use crate::vaults::{VaultRecord, VaultRepository};

use super::{LocalEncryptedBackend, StorageBackend};

/// How long a built client is used before its configuration row is looked at again (a
/// change made by another process is picked up within this time).
const RECHECK_AFTER: Duration = Duration::from_secs(5);

struct Built {
    updated_at: DateTime<Utc>,
    backend: Arc<dyn StorageBackend>,
    checked_at: Instant,
}

/// One backend client per vault configuration.
pub struct BackendRegistry {
    keys: Arc<KeyManager>,
    vaults: VaultRepository,
    local: Arc<LocalEncryptedBackend>,
    built: Mutex<HashMap<String, Built>>,
}

impl std::fmt::Debug for BackendRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackendRegistry").finish_non_exhaustive()
    }
}

fn not_configured(reason: impl Into<String>) -> crate::error::StoreError {
    SecretError::VaultNotConfigured {
        reason: reason.into(),
    }
    .into()
}

impl BackendRegistry {
    /// A registry reading configurations through `vaults` and their settings with `keys`.
    pub fn new(keys: Arc<KeyManager>, vaults: VaultRepository) -> Self {
        BackendRegistry {
            local: Arc::new(LocalEncryptedBackend::new(keys.clone())),
            keys,
            vaults,
            built: Mutex::new(HashMap::new()),
        }
    }

    /// The built-in local encrypted backend.
    pub fn local(&self) -> Arc<dyn StorageBackend> {
        self.local.clone()
    }

    /// The backend of vault configuration `id`. An unknown or inactive configuration is
    /// VAULT_NOT_CONFIGURED.
    pub async fn backend(&self, id: &str) -> StoreResult<Arc<dyn StorageBackend>> {
        if id == LOCAL_VAULT_ID {
            return Ok(self.local());
        }
        if let Some(b) = self.fresh(id) {
            return Ok(b);
        }
        let record = self
            .vaults
            .find(id)
            .await?
            .ok_or_else(|| not_configured(format!("no vault configuration '{id}'")))?;
        self.backend_of(&record).await
    }

    /// The backend of a configuration already read.
    pub async fn backend_of(&self, record: &VaultRecord) -> StoreResult<Arc<dyn StorageBackend>> {
        if record.is_local() {
            return Ok(self.local());
        }
        if !record.is_active {
            self.forget(&record.id);
            return Err(not_configured(format!(
                "vault configuration '{}' is disabled",
                record.id
            )));
        }
        {
            let mut built = self.built.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(b) = built.get_mut(&record.id)
                && b.updated_at == record.updated_at
            {
                b.checked_at = Instant::now();
                return Ok(b.backend.clone());
            }
        }
        let config = self.settings(record).await?;
        let backend = build(&record.id, &config).await?;
        self.built.lock().unwrap_or_else(|p| p.into_inner()).insert(
            record.id.clone(),
            Built {
                updated_at: record.updated_at,
                backend: backend.clone(),
                checked_at: Instant::now(),
            },
        );
        Ok(backend)
    }

    /// The decrypted settings of a configuration.
    pub async fn settings(&self, record: &VaultRecord) -> StoreResult<BackendConfig> {
        if record.is_local() {
            return Ok(BackendConfig::Local);
        }
        let plain = self
            .keys
            .decrypt_vault_config(&record.config_key_id, &record.id, &record.encrypted_config)
            .await?;
        Ok(BackendConfig::from_stored_json(record.backend, &plain)?)
    }

    /// A client for settings not stored (yet), e.g. to check them before saving.
    pub async fn probe(
        &self,
        id: &str,
        config: &BackendConfig,
    ) -> StoreResult<Arc<dyn StorageBackend>> {
        match config {
            BackendConfig::Local => Ok(self.local()),
            other => build(id, other).await,
        }
    }

    /// Drops the client of configuration `id` (changed or deleted).
    pub fn forget(&self, id: &str) {
        self.built
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    /// Drops every client (changes may have been missed).
    pub fn forget_all(&self) {
        self.built.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    fn fresh(&self, id: &str) -> Option<Arc<dyn StorageBackend>> {
        let built = self.built.lock().unwrap_or_else(|p| p.into_inner());
        built
            .get(id)
            .filter(|b| b.checked_at.elapsed() < RECHECK_AFTER)
            .map(|b| b.backend.clone())
    }
}

/// Builds the client of one configuration's settings.
async fn build(id: &str, config: &BackendConfig) -> StoreResult<Arc<dyn StorageBackend>> {
    match config {
        BackendConfig::Local => Err(SecretError::internal(format!(
            "vault configuration '{id}' holds local settings"
        ))
        .into()),
        #[cfg(feature = "hashicorp-vault")]
        BackendConfig::HashicorpVault(c) => Ok(Arc::new(
            super::HashicorpVaultBackend::connect(c.clone()).await?,
        )),
        #[cfg(not(feature = "hashicorp-vault"))]
        BackendConfig::HashicorpVault(_) => Err(not_configured(
            "the HashiCorp Vault backend is not built into this binary",
        )),
        #[cfg(feature = "aws-secrets-manager")]
        BackendConfig::AwsSecretsManager(c) => Ok(Arc::new(
            super::AwsSecretsManagerBackend::connect(c.clone()).await?,
        )),
        #[cfg(not(feature = "aws-secrets-manager"))]
        BackendConfig::AwsSecretsManager(_) => Err(not_configured(
            "the AWS Secrets Manager backend is not built into this binary",
        )),
        #[cfg(feature = "azure-key-vault")]
        BackendConfig::AzureKeyVault(c) => Ok(Arc::new(
            super::AzureKeyVaultBackend::connect(c.clone()).await?,
        )),
        #[cfg(not(feature = "azure-key-vault"))]
        BackendConfig::AzureKeyVault(_) => Err(not_configured(
            "the Azure Key Vault backend is not built into this binary",
        )),
        #[cfg(feature = "gcp-secret-manager")]
        BackendConfig::GcpSecretManager(c) => Ok(Arc::new(
            super::GcpSecretManagerBackend::connect(c.clone()).await?,
        )),
        #[cfg(not(feature = "gcp-secret-manager"))]
        BackendConfig::GcpSecretManager(_) => Err(not_configured(
            "the Google Secret Manager backend is not built into this binary",
        )),
    }
}
