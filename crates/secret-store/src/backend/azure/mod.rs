//! The Azure Key Vault backend, through the official SDK (`azure_security_keyvault_secrets`
//! 1.x with `azure_identity`).
//!
//! Each of our secrets is one Key Vault secret named `<namePrefix><secret id>`: our ids are
//! lower-case UUIDs, already within Key Vault's rule (letters, digits and hyphens, at most
//! 127 characters, case-insensitive), so the mapping is the identity and cannot collide
//! across scopes or organizations sharing a vault. The value is the typed value's JSON
//! (`contentType` `application/json`); each version's tags hold our id, the type and our
//! version number (Key Vault allows 15 tags; the name, description and metadata stay in our
//! database). Each of our versions is one Key Vault version, whose id is kept as the
//! version's `vault_version_id`. A value over Key Vault's 25 KB limit is refused with a
//! 400 before anything is written.
//!
//! Key Vault has no check-and-set: before writing a new version the backend checks that the
//! vault's current version is still the one our previous version names (409 otherwise).
//! Versions cannot be deleted one by one: removing versions (retention, an abandoned write)
//! disables them. Soft delete deletes the secret (Key Vault keeps it recoverable for the
//! vault's retention period), restore recovers it, permanent delete deletes it if needed
//! and purges it; a vault with purge protection refuses the purge, which is reported as
//! such. Deletion and recovery complete in the background in Key Vault; the backend waits
//! for them (within the configuration's time limit) before the next step.
//!
//! The secret's expiry is mirrored into the current version's `exp` attribute after each
//! write and expiry change. Key Vault treats `exp` as information for reads ("About Azure
//! Key Vault secrets", date-time controlled operations: a get of an expired secret still
//! answers), so the mirror cannot lock a value away; our database decides expiry.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use azure_core::http::RequestContent;
use azure_core::time::OffsetDateTime;
use azure_security_keyvault_secrets::SecretClient;
use azure_security_keyvault_secrets::models::{
    SecretAttributes, SecretClientGetSecretOptions, SecretClientUpdateSecretPropertiesOptions,
    SetSecretParameters, UpdateSecretPropertiesParameters,
};
use chrono::{DateTime, Utc};
use secret_core::vault::AzureKeyVaultConfig;
use secret_core::{SecretError, SecretValue, StorageBackendKind};
use zeroize::Zeroizing;

use crate::error::{StoreError, StoreResult};

mod cert;
mod client;

#[cfg(feature = "testing")]
pub use client::trust_test_ca;
use client::{build_client, call_error, status_of};

use super::{BackendHealth, StorageBackend, StoredValue, ValueTarget};

/// Key Vault's largest secret value, in bytes.
pub const MAX_AZURE_VALUE_BYTES: usize = 25 * 1024;

/// One Key Vault.
pub struct AzureKeyVaultBackend {
    config: AzureKeyVaultConfig,
    client: SecretClient,
}

impl std::fmt::Debug for AzureKeyVaultBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureKeyVaultBackend")
            .field("vault_url", &self.config.vault_url)
            .finish_non_exhaustive()
    }
}

fn changed_outside() -> StoreError {
    SecretError::Conflict {
        message: "the Key Vault copy of this secret changed outside the service".to_string(),
    }
    .into()
}

/// The version part of a Key Vault id (`https://VAULT/secrets/NAME/VERSION`).
fn version_in(id: Option<&str>) -> Option<String> {
    let id = id?.trim_end_matches('/');
    let (rest, version) = id.rsplit_once('/')?;
    rest.contains("/secrets/")
        .then(|| version.to_string())
        .filter(|v| !v.is_empty())
}

/// What a read of the vault's current version found.
enum Current {
    /// No secret of that name (or it is deleted).
    Missing,
    /// The current version is disabled (a removed version, e.g. an abandoned write).
    Disabled,
    /// The current version's id.
    Version(String),
}

impl AzureKeyVaultBackend {
    /// A client for `config`. Nothing is called yet: [`StorageBackend::health_check`]
    /// proves the credentials work.
    pub async fn connect(config: AzureKeyVaultConfig) -> StoreResult<Self> {
        let client = build_client(&config)?;
        Ok(AzureKeyVaultBackend { config, client })
    }

    fn name(&self, secret_id: &str) -> String {
        format!("{}{secret_id}", self.config.name_prefix)
    }

    fn fail(&self, what: &str) -> impl FnOnce(azure_core::Error) -> StoreError + '_ {
        let what = what.to_string();
        move |e| call_error(&self.config.vault_url, &what, &e)
    }

    /// The Azure version a stored reference names.
    fn version_of(stored: &StoredValue) -> StoreResult<(&str, &str)> {
        stored.external("Azure")
    }

    async fn current(&self, name: &str) -> StoreResult<Current> {
        match self.client.get_secret(name, None).await {
            Ok(rsp) => {
                let secret = rsp.into_model().map_err(self.fail("read a secret"))?;
                version_in(secret.id.as_deref())
                    .map(Current::Version)
                    .ok_or_else(|| missing_version("read a secret"))
            }
            Err(e) => match status_of(&e) {
                Some((404, _)) => Ok(Current::Missing),
                // Key Vault answers a read of a disabled version with 403 (SecretDisabled
                // or Forbidden): a version we removed.
                Some((403, Some("SecretDisabled" | "Forbidden"))) => Ok(Current::Disabled),
                _ => Err(self.fail("read a secret")(e)),
            },
        }
    }

    /// Waits (polling, within the time limit) until `done` answers true.
    async fn settle<F, Fut>(&self, what: &str, mut done: F) -> StoreResult<()>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = StoreResult<bool>>,
    {
        let deadline = Instant::now() + Duration::from_secs(self.config.timeout_seconds * 3);
        let mut pause = Duration::from_millis(50);
        loop {
            if done().await? {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(SecretError::VaultUnavailable {
                    reason: format!(
                        "Azure Key Vault ({}) did not finish {what} in time",
                        self.config.vault_url
                    ),
                }
                .into());
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }

    /// Whether the vault holds `name` in its deleted (recoverable) state.
    async fn is_deleted(&self, name: &str) -> StoreResult<bool> {
        match self.client.get_deleted_secret(name, None).await {
            Ok(_) => Ok(true),
            Err(e) if matches!(status_of(&e), Some((404, _))) => Ok(false),
            Err(e) => Err(self.fail("read a deleted secret")(e)),
        }
    }

    /// Deletes `name` (a no-op when it is gone or already deleted) and waits until Key
    /// Vault shows it deleted.
    async fn delete(&self, name: &str) -> StoreResult<bool> {
        match self.client.delete_secret(name, None).await {
            Ok(_) => {}
            Err(e) if matches!(status_of(&e), Some((404, _))) => {
                return self.is_deleted(name).await;
            }
            Err(e) => return Err(self.fail("delete a secret")(e)),
        }
        self.settle("deleting a secret", || self.is_deleted(name))
            .await?;
        Ok(true)
    }

    /// Changes the attributes of one version (`what` names the change for the error).
    async fn update_attributes(
        &self,
        name: &str,
        version: &str,
        attributes: SecretAttributes,
        what: &str,
    ) -> StoreResult<()> {
        let params = UpdateSecretPropertiesParameters {
            secret_attributes: Some(attributes),
            ..UpdateSecretPropertiesParameters::default()
        };
        let body: RequestContent<UpdateSecretPropertiesParameters> = params
            .try_into()
            .map_err(|_| SecretError::internal("a Key Vault request could not be made"))?;
        let options = SecretClientUpdateSecretPropertiesOptions {
            secret_version: Some(version.to_string()),
            ..SecretClientUpdateSecretPropertiesOptions::default()
        };
        match self
            .client
            .update_secret_properties(name, body, Some(options))
            .await
        {
            Ok(_) => Ok(()),
            // Gone already: nothing to change.
            Err(e) if matches!(status_of(&e), Some((404, _))) => Ok(()),
            Err(e) => Err(self.fail(what)(e)),
        }
    }

    async fn set_enabled(&self, name: &str, version: &str, enabled: bool) -> StoreResult<()> {
        let attributes = SecretAttributes {
            enabled: Some(enabled),
            ..SecretAttributes::default()
        };
        self.update_attributes(name, version, attributes, "disable a version")
            .await
    }
}

fn missing_version(what: &str) -> StoreError {
    SecretError::VaultConnectionFailed {
        reason: format!("Azure Key Vault's answer to {what} named no version"),
    }
    .into()
}

#[async_trait]
impl StorageBackend for AzureKeyVaultBackend {
    fn kind(&self) -> StorageBackendKind {
        StorageBackendKind::AzureKeyVault
    }

    fn keeps_values_in_database(&self) -> bool {
        false
    }

    async fn health_check(&self) -> StoreResult<BackendHealth> {
        // Reading a secret that need not exist proves the vault answers and the
        // credentials may read from it (a 404 is an answer).
        match self.current(&self.name("health-probe")).await {
            Ok(_) => Ok(BackendHealth {
                healthy: true,
                detail: format!("Azure Key Vault {} answered", self.config.vault_url),
            }),
            Err(e) => Err(e),
        }
    }

    async fn store_value(
        &self,
        target: ValueTarget<'_>,
        value: &SecretValue,
        previous: Option<&StoredValue>,
    ) -> StoreResult<StoredValue> {
        let body = Zeroizing::new(
            String::from_utf8(value.to_json_bytes()?.to_vec())
                .map_err(|_| SecretError::EncryptionFailed)?,
        );
        if body.len() > MAX_AZURE_VALUE_BYTES {
            return Err(SecretError::validation(
                "value",
                format!(
                    "is {} bytes as stored; Azure Key Vault keeps at most {MAX_AZURE_VALUE_BYTES}",
                    body.len()
                ),
            )
            .into());
        }
        let name = self.name(target.secret_id);
        match (previous, self.current(&name).await?) {
            (None, Current::Missing) => {
                if self.is_deleted(&name).await? {
                    return Err(changed_outside());
                }
            }
            (None, _) => return Err(changed_outside()),
            (Some(p), Current::Version(v)) if v == Self::version_of(p)?.1 => {}
            // The current version was removed (disabled): a write abandoned after ours.
            (Some(_), Current::Disabled) => {}
            (Some(_), _) => return Err(changed_outside()),
        }
        let tags = HashMap::from([
            ("secretManagerId".to_string(), target.secret_id.to_string()),
            (
                "secretType".to_string(),
                value.secret_type().as_str().to_string(),
            ),
            (
                "secretManagerVersion".to_string(),
                target.version.to_string(),
            ),
        ]);
        let params = SetSecretParameters {
            value: Some(body.to_string()),
            content_type: Some("application/json".to_string()),
            tags: Some(tags),
            ..SetSecretParameters::default()
        };
        let request: RequestContent<SetSecretParameters> = params
            .try_into()
            .map_err(|_| SecretError::internal("a Key Vault request could not be made"))?;
        let secret = self
            .client
            .set_secret(&name, request, None)
            .await
            .map_err(self.fail("store a value"))?
            .into_model()
            .map_err(self.fail("store a value"))?;
        let version =
            version_in(secret.id.as_deref()).ok_or_else(|| missing_version("store a value"))?;
        Ok(StoredValue::External {
            vault_ref: name,
            vault_version_id: Some(version),
        })
    }

    async fn retrieve_value(
        &self,
        _target: ValueTarget<'_>,
        stored: &StoredValue,
    ) -> StoreResult<SecretValue> {
        let (name, version) = Self::version_of(stored)?;
        let options = SecretClientGetSecretOptions {
            secret_version: Some(version.to_string()),
            ..SecretClientGetSecretOptions::default()
        };
        let secret = self
            .client
            .get_secret(name, Some(options))
            .await
            .map_err(self.fail("read a value"))?
            .into_model()
            .map_err(self.fail("read a value"))?;
        let text = Zeroizing::new(
            secret
                .value
                .ok_or_else(|| StoreError::from(SecretError::DecryptionFailed))?,
        );
        // A value that does not parse as a typed value was not written by us.
        SecretValue::from_json_bytes(text.as_bytes())
            .map_err(|_| SecretError::DecryptionFailed.into())
    }

    async fn delete_secret(&self, secret_id: &str, _stored: &[StoredValue]) -> StoreResult<()> {
        let name = self.name(secret_id);
        if !self.delete(&name).await? {
            // Neither live nor deleted: nothing left.
            return Ok(());
        }
        match self.client.purge_deleted_secret(&name, None).await {
            Ok(_) => {}
            Err(e) if matches!(status_of(&e), Some((404, _))) => {}
            Err(e) if matches!(status_of(&e), Some((403, _))) => {
                return Err(SecretError::VaultConnectionFailed {
                    reason: format!(
                        "Azure Key Vault ({}) refused to purge the secret: the vault has purge \
                         protection (or the credentials lack the purge permission); it stays \
                         deleted in the vault until Key Vault's retention period ends",
                        self.config.vault_url
                    ),
                }
                .into());
            }
            Err(e) => return Err(self.fail("purge a secret")(e)),
        }
        self.settle("purging a secret", || async {
            Ok(!self.is_deleted(&name).await?)
        })
        .await
    }

    async fn soft_delete(&self, secret_id: &str, _stored: &[StoredValue]) -> StoreResult<()> {
        self.delete(&self.name(secret_id)).await.map(|_| ())
    }

    async fn restore(&self, secret_id: &str, _stored: &[StoredValue]) -> StoreResult<()> {
        let name = self.name(secret_id);
        match self.client.recover_deleted_secret(&name, None).await {
            Ok(_) => {}
            // Not deleted (a retried restore): nothing to recover, if it is there.
            Err(e) if matches!(status_of(&e), Some((404, _))) => {
                return match self.current(&name).await? {
                    Current::Missing => Err(SecretError::VaultConnectionFailed {
                        reason: format!(
                            "Azure Key Vault ({}) holds this secret neither live nor deleted",
                            self.config.vault_url
                        ),
                    }
                    .into()),
                    _ => Ok(()),
                };
            }
            Err(e) => return Err(self.fail("recover a secret")(e)),
        }
        self.settle("recovering a secret", || async {
            Ok(!matches!(self.current(&name).await?, Current::Missing))
        })
        .await
    }

    async fn find_written(
        &self,
        secret_id: &str,
        previous: Option<&StoredValue>,
    ) -> StoreResult<Option<StoredValue>> {
        let name = self.name(secret_id);
        let Current::Version(current) = self.current(&name).await? else {
            return Ok(None);
        };
        // Our writes to one secret are serialised, so a current version other than our
        // previous one is the write whose answer was lost.
        let after = previous.map(Self::version_of).transpose()?.map(|(_, v)| v);
        if after == Some(current.as_str()) {
            return Ok(None);
        }
        Ok(Some(StoredValue::External {
            vault_ref: name,
            vault_version_id: Some(current),
        }))
    }

    async fn remove_versions(&self, secret_id: &str, stored: &[StoredValue]) -> StoreResult<()> {
        let name = self.name(secret_id);
        for s in stored {
            let (_, version) = Self::version_of(s)?;
            self.set_enabled(&name, version, false).await?;
        }
        Ok(())
    }

    async fn set_expiry(
        &self,
        _secret_id: &str,
        current: &StoredValue,
        expires_at: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        // The SDK leaves an empty `exp` out of the request, so an expiry once set cannot be
        // taken off a version: a removed expiry stays on the current version's `exp` until
        // the next version, which is written without one.
        let Some(at) = expires_at else {
            return Ok(());
        };
        let (name, version) = Self::version_of(current)?;
        let expires = OffsetDateTime::from_unix_timestamp(at.timestamp())
            .map_err(|_| SecretError::validation("expiresAt", "is outside Key Vault's range"))?;
        let attributes = SecretAttributes {
            expires: Some(expires),
            ..SecretAttributes::default()
        };
        self.update_attributes(name, version, attributes, "set a version's expiry")
            .await
    }
}
