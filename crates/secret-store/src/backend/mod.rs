//! The storage-backend contract (part 1) and the local encrypted backend.
//!
//! A backend turns a value into a [`StoredValue`] for one (secret, version) and back. The
//! local backend keeps nothing itself: its `StoredValue` is the ciphertext and key id, which
//! the repository writes into `secret_versions` in the same transaction as the version row.
//! External vaults write the value to the vault and return their reference instead.
//!
//! Part 1's `update` and `retrieveVersion` are `store_value` and `retrieve_value` with
//! another version; `listVersions` and `list` are answered from the service's own tables,
//! which hold every version's reference whatever the backend.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secret_core::{SecretError, SecretValue, StorageBackendKind};

use crate::error::StoreResult;
use crate::keys::KeyManager;

#[cfg(feature = "aws-secrets-manager")]
mod aws;
#[cfg(feature = "azure-key-vault")]
mod azure;
#[cfg(feature = "gcp-secret-manager")]
mod gcp;
mod registry;
#[cfg(feature = "hashicorp-vault")]
mod vault;

#[cfg(feature = "aws-secrets-manager")]
pub use aws::AwsSecretsManagerBackend;
#[cfg(all(feature = "azure-key-vault", feature = "testing"))]
pub use azure::trust_test_ca;
#[cfg(feature = "azure-key-vault")]
pub use azure::{AzureKeyVaultBackend, MAX_AZURE_VALUE_BYTES};
#[cfg(feature = "gcp-secret-manager")]
pub use gcp::{GCP_EXPIRY_ANNOTATION, GcpSecretManagerBackend};
pub use registry::BackendRegistry;
#[cfg(feature = "hashicorp-vault")]
pub use vault::HashicorpVaultBackend;

/// Which (secret, version) a value belongs to. Values are bound to it cryptographically.
#[derive(Debug, Clone, Copy)]
pub struct ValueTarget<'a> {
    pub secret_id: &'a str,
    pub secret_name: &'a str,
    pub version: i64,
}

/// Where a version's value lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredValue {
    /// AES-256-GCM ciphertext (format byte, nonce, ciphertext, tag) under a data key.
    Local { key_id: String, ciphertext: Vec<u8> },
    /// A reference into an external vault.
    External {
        /// The vault's name for the object holding the value (a path, an ARN, a name).
        vault_ref: String,
        /// The vault's id of this version of the object.
        vault_version_id: Option<String>,
    },
}

impl StoredValue {
    /// The vault's reference and version id of an external value; `backend` names who asks,
    /// for the error when it is given a reference it did not make (a local one, or one
    /// without a version id).
    pub fn external(&self, backend: &str) -> StoreResult<(&str, &str)> {
        match self {
            StoredValue::External {
                vault_ref,
                vault_version_id: Some(v),
            } => Ok((vault_ref, v)),
            _ => Err(SecretError::internal(format!(
                "the {backend} backend was given a reference it did not make"
            ))
            .into()),
        }
    }
}

/// The health of a backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendHealth {
    pub healthy: bool,
    pub detail: String,
}

/// A place secret values are kept: the local encrypted store or an external vault.
#[async_trait]
pub trait StorageBackend: Send + Sync + std::fmt::Debug {
    /// Which backend this is.
    fn kind(&self) -> StorageBackendKind;

    /// Whether values live in this service's own database (the local store), so a write
    /// can share the database transaction. External vaults answer false: their writes
    /// follow the three-step protocol of ARCHITECTURE §7.
    fn keeps_values_in_database(&self) -> bool;

    /// Checks that the backend can be used.
    async fn health_check(&self) -> StoreResult<BackendHealth>;

    /// Stores `value` as version `target.version` of the secret. `previous` is where the
    /// version before it lives (`None` for a new secret); a vault with check-and-set writes
    /// only if its copy has not moved on since.
    async fn store_value(
        &self,
        target: ValueTarget<'_>,
        value: &SecretValue,
        previous: Option<&StoredValue>,
    ) -> StoreResult<StoredValue>;

    /// Reads back the value stored for `target`.
    async fn retrieve_value(
        &self,
        target: ValueTarget<'_>,
        stored: &StoredValue,
    ) -> StoreResult<SecretValue>;

    /// Removes every version of a secret from the backend (permanent delete).
    async fn delete_secret(&self, secret_id: &str, stored: &[StoredValue]) -> StoreResult<()>;

    /// Marks a secret's versions deleted in the backend (soft delete); nothing to do where
    /// the database's own flag is the only one.
    async fn soft_delete(&self, _secret_id: &str, _stored: &[StoredValue]) -> StoreResult<()> {
        Ok(())
    }

    /// Undoes [`StorageBackend::soft_delete`].
    async fn restore(&self, _secret_id: &str, _stored: &[StoredValue]) -> StoreResult<()> {
        Ok(())
    }

    /// Where the vault holds the version written after `previous` (`None`: the first) by a
    /// write whose answer was lost, if it holds one: how a pending write left by a stopped
    /// process is found again. Backends that never leave one answer `None`.
    async fn find_written(
        &self,
        _secret_id: &str,
        _previous: Option<&StoredValue>,
    ) -> StoreResult<Option<StoredValue>> {
        Ok(None)
    }

    /// Removes some versions of a secret (retention, or a write that never became visible).
    async fn remove_versions(&self, _secret_id: &str, _stored: &[StoredValue]) -> StoreResult<()> {
        Ok(())
    }

    /// Mirrors the secret's expiry (`None`: it has none) into the vault, where the vault
    /// has a place for it, for those who look at the vault directly; `current` is where
    /// the current version lives. The service's own record decides expiry: a vault's copy
    /// only informs (Key Vault does not refuse reads past `exp`). Backends without such a
    /// place do nothing.
    async fn set_expiry(
        &self,
        _secret_id: &str,
        _current: &StoredValue,
        _expires_at: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        Ok(())
    }
}

/// Values encrypted with the installation's data keys, kept in `secret_versions`.
#[derive(Debug, Clone)]
pub struct LocalEncryptedBackend {
    keys: Arc<KeyManager>,
}

impl LocalEncryptedBackend {
    /// A backend encrypting with `keys`.
    pub fn new(keys: Arc<KeyManager>) -> Self {
        LocalEncryptedBackend { keys }
    }
}

#[async_trait]
impl StorageBackend for LocalEncryptedBackend {
    fn kind(&self) -> StorageBackendKind {
        StorageBackendKind::LocalEncrypted
    }

    fn keeps_values_in_database(&self) -> bool {
        true
    }

    async fn health_check(&self) -> StoreResult<BackendHealth> {
        let active = self.keys.active_key_id()?;
        Ok(BackendHealth {
            healthy: true,
            detail: format!("active data key {active}"),
        })
    }

    async fn store_value(
        &self,
        target: ValueTarget<'_>,
        value: &SecretValue,
        _previous: Option<&StoredValue>,
    ) -> StoreResult<StoredValue> {
        let plaintext = value.to_json_bytes()?;
        let (key_id, ciphertext) =
            self.keys
                .encrypt(target.secret_id, target.version, &plaintext)?;
        Ok(StoredValue::Local { key_id, ciphertext })
    }

    async fn retrieve_value(
        &self,
        target: ValueTarget<'_>,
        stored: &StoredValue,
    ) -> StoreResult<SecretValue> {
        let StoredValue::Local { key_id, ciphertext } = stored else {
            return Err(
                SecretError::internal("local backend asked for an external reference").into(),
            );
        };
        let plaintext = self
            .keys
            .decrypt(key_id, target.secret_id, target.version, ciphertext)
            .await?;
        // A value that decrypts but does not parse was not written by us: treat as tampering.
        SecretValue::from_json_bytes(&plaintext).map_err(|_| SecretError::DecryptionFailed.into())
    }

    async fn delete_secret(&self, _secret_id: &str, _stored: &[StoredValue]) -> StoreResult<()> {
        // The ciphertext lives in secret_versions, deleted with the secret's row.
        Ok(())
    }
}
