//! Vault configurations (§12.1, part 1's `vault_configurations`): where secret values are
//! kept, and the backend settings of each, with their credentials.
//!
//! A configuration's `config` arrives as JSON in the pinned shape of its backend and is
//! parsed here by hand, field by field, so that every error names the field (`config.address`,
//! `config.auth.roleId`) and none repeats what was sent: a credential typed into the wrong
//! field never comes back in a message. Credentials are [`Credential`]s, whose `Debug` is
//! redacted; [`BackendConfig::public_view`] is what responses and audit records show.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::enums::{StorageBackendKind, VaultHealthStatus, VaultScope};
use crate::error::SecretError;

mod aws;
mod azure;
mod fields;
mod gcp;
mod hashicorp;
mod kept;

pub use aws::{AwsAuth, AwsSecretsManagerConfig};
pub use azure::{AzureAuth, AzureKeyVaultConfig, MAX_AZURE_NAME_PREFIX};
use fields::field_error;
pub use gcp::{GcpAuth, GcpSecretManagerConfig};
pub use hashicorp::{HashicorpVaultConfig, VaultAuth};

/// The id of the built-in local configuration, which always exists.
pub const LOCAL_VAULT_ID: &str = "local";

/// The longest accepted configuration name.
pub const MAX_VAULT_NAME_LEN: usize = 255;

/// A credential in a vault configuration (a token, an AppRole secret id, a JWT). Its
/// `Debug` never shows it; it is wiped from memory when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential(Zeroizing<String>);

impl Credential {
    /// Wraps a credential.
    pub fn new(s: impl Into<String>) -> Self {
        Credential(Zeroizing::new(s.into()))
    }

    /// The credential itself, to hand to the vault client.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credential([REDACTED])")
    }
}

/// A backend's settings, credentials included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendConfig {
    /// The built-in local encrypted store: nothing to configure.
    Local,
    /// HashiCorp Vault (or OpenBao), KV v2.
    HashicorpVault(HashicorpVaultConfig),
    /// AWS Secrets Manager.
    AwsSecretsManager(AwsSecretsManagerConfig),
    /// Azure Key Vault.
    AzureKeyVault(AzureKeyVaultConfig),
    /// Google Secret Manager.
    GcpSecretManager(GcpSecretManagerConfig),
}

impl BackendConfig {
    /// Parses and validates the `config` of a configuration of `backend`.
    pub fn parse(backend: StorageBackendKind, config: Value) -> Result<Self, SecretError> {
        match backend {
            StorageBackendKind::LocalEncrypted => match config {
                Value::Null => Ok(BackendConfig::Local),
                Value::Object(m) if m.is_empty() => Ok(BackendConfig::Local),
                _ => Err(field_error(
                    "config",
                    "the local encrypted store takes no settings",
                )),
            },
            StorageBackendKind::HashicorpVault => {
                hashicorp::parse_hashicorp(config).map(BackendConfig::HashicorpVault)
            }
            StorageBackendKind::AwsSecretsManager => {
                aws::parse_aws(config).map(BackendConfig::AwsSecretsManager)
            }
            StorageBackendKind::AzureKeyVault => {
                azure::parse_azure(config).map(BackendConfig::AzureKeyVault)
            }
            StorageBackendKind::GcpSecretManager => {
                gcp::parse_gcp(config).map(BackendConfig::GcpSecretManager)
            }
        }
    }

    /// Which backend these settings are for.
    pub fn backend(&self) -> StorageBackendKind {
        match self {
            BackendConfig::Local => StorageBackendKind::LocalEncrypted,
            BackendConfig::HashicorpVault(_) => StorageBackendKind::HashicorpVault,
            BackendConfig::AwsSecretsManager(_) => StorageBackendKind::AwsSecretsManager,
            BackendConfig::AzureKeyVault(_) => StorageBackendKind::AzureKeyVault,
            BackendConfig::GcpSecretManager(_) => StorageBackendKind::GcpSecretManager,
        }
    }

    /// The settings in their wire shape, credentials included: what is encrypted and stored.
    pub fn to_stored_json(&self) -> Zeroizing<Vec<u8>> {
        let value = match self {
            BackendConfig::Local => json!({}),
            BackendConfig::HashicorpVault(c) => c.stored_json(),
            BackendConfig::AwsSecretsManager(c) => c.stored_json(),
            BackendConfig::AzureKeyVault(c) => c.stored_json(),
            BackendConfig::GcpSecretManager(c) => c.stored_json(),
        };
        Zeroizing::new(serde_json::to_vec(&value).unwrap_or_default())
    }

    /// Reads back what [`BackendConfig::to_stored_json`] wrote.
    pub fn from_stored_json(
        backend: StorageBackendKind,
        bytes: &[u8],
    ) -> Result<Self, SecretError> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|_| SecretError::internal("a stored vault configuration is not JSON"))?;
        Self::parse(backend, value)
    }

    /// The settings without any credential: what responses and audit records show.
    pub fn public_view(&self) -> Value {
        match self {
            BackendConfig::Local => json!({}),
            BackendConfig::HashicorpVault(c) => c.public_json(),
            BackendConfig::AwsSecretsManager(c) => c.public_json(),
            BackendConfig::AzureKeyVault(c) => c.public_json(),
            BackendConfig::GcpSecretManager(c) => c.public_json(),
        }
    }
}

/// A `config` as it arrived, not yet parsed. Its `Debug` is redacted: it holds credentials.
#[derive(Clone, PartialEq, Default)]
pub struct RawConfig(pub Value);

impl fmt::Debug for RawConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RawConfig([REDACTED])")
    }
}

/// The parameters of configuring a vault (§12.1 ConfigureVaultRequest).
#[derive(Debug, Clone)]
pub struct ConfigureVaultParams {
    pub name: String,
    pub description: Option<String>,
    pub backend: StorageBackendKind,
    pub scope: VaultScope,
    /// Required for ORGANIZATION, refused for GLOBAL.
    pub organization_id: Option<String>,
    pub config: RawConfig,
    pub is_default: bool,
}

/// The parameters of changing a vault configuration. `config`, when given, replaces the
/// stored settings whole (credentials included); without it they are kept.
#[derive(Debug, Clone, Default)]
pub struct UpdateVaultParams {
    pub name: Option<String>,
    pub description: crate::model::FieldUpdate<String>,
    pub config: Option<RawConfig>,
    pub is_active: Option<bool>,
    pub is_default: Option<bool>,
    /// Keep each credential `config` leaves blank from the stored settings (the web UI's
    /// edit form, which never shows them; see [`BackendConfig::with_kept_credentials`]).
    pub keep_blank_credentials: bool,
}

/// A vault configuration as callers see it: never its credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VaultConfiguration {
    pub id: crate::ids::VaultId,
    pub name: String,
    pub description: Option<String>,
    pub backend: StorageBackendKind,
    pub scope: VaultScope,
    pub organization_id: Option<String>,
    /// The non-secret settings ([`BackendConfig::public_view`]).
    pub config: Value,
    pub is_active: bool,
    pub is_default: bool,
    pub health_status: VaultHealthStatus,
    pub last_health_check: Option<DateTime<Utc>>,
    /// Secrets kept in this vault (soft-deleted ones included) that the caller may count.
    pub secret_count: u64,
    pub created_at: DateTime<Utc>,
    pub created_by_id: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by_id: String,
}

/// Checks a configuration's name: 1 to 255 characters, no control characters.
pub fn validate_vault_name(name: &str) -> Result<(), SecretError> {
    if name.trim().is_empty() {
        return Err(field_error("name", "must not be blank"));
    }
    if name.chars().count() > MAX_VAULT_NAME_LEN {
        return Err(field_error(
            "name",
            format!("must be at most {MAX_VAULT_NAME_LEN} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(field_error("name", "must not contain control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
