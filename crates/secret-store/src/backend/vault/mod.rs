//! The HashiCorp Vault (and OpenBao) KV v2 backend, through vaultrs.
//!
//! Each secret is one KV v2 object at `<mount>/data/<pathPrefix>/<secret id>`: collision-free
//! across scopes and organizations sharing one vault, with the human name, our id and the
//! type in the object's custom metadata. The data written is the typed value's JSON. Each of
//! our versions is one vault version, written with check-and-set against the vault version
//! of our previous one, so a write that raced another never lands silently; the vault's
//! version number is kept as the version's `vault_version_id`. `max_versions` is set to the
//! highest retention we allow, so the vault never drops a version we keep.
//!
//! Soft delete marks every version deleted (KV v2 delete), restore undeletes them, permanent
//! delete removes the metadata and every version. Every call has the configuration's time
//! limit and is retried (twice, with backoff) when the vault could not be reached; a write
//! whose answer was lost is recognised on retry by reading back what the vault holds.
//! Tokens from AppRole or Kubernetes logins are renewed while renewable and obtained again
//! when they expire; a static token is renewed when it is renewable.
//!
//! Errors never carry what the vault said (it may echo a path or, for a malformed answer,
//! data): an unreachable or slow vault is VAULT_CONNECTION_FAILED (503), an answer with an
//! error status VAULT_CONNECTION_FAILED (502) naming the status only.

use std::collections::HashMap;

use async_trait::async_trait;
use secret_core::vault::HashicorpVaultConfig;
use secret_core::{SecretError, SecretValue, StorageBackendKind};
use serde_json::Value;
use tokio::sync::RwLock;
use vaultrs::api::kv2::requests::{SetSecretMetadataRequest, SetSecretRequestOptions};

use crate::error::{StoreError, StoreResult};

mod session;

use session::{CallFailure, Session};

use super::{BackendHealth, StorageBackend, StoredValue, ValueTarget};

/// The most versions a secret may retain (see `LifecycleSettings`); the vault keeps as many.
const MAX_VERSIONS: u64 = 1000;

/// A KV v2 mount of one Vault or OpenBao server.
pub struct HashicorpVaultBackend {
    config: HashicorpVaultConfig,
    session: RwLock<Session>,
}

impl std::fmt::Debug for HashicorpVaultBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashicorpVaultBackend")
            .field("address", &self.config.address)
            .field("mount", &self.config.mount)
            .finish_non_exhaustive()
    }
}

impl HashicorpVaultBackend {
    fn path(&self, secret_id: &str) -> String {
        if self.config.path_prefix.is_empty() {
            secret_id.to_string()
        } else {
            format!("{}/{secret_id}", self.config.path_prefix)
        }
    }

    /// The vault version a stored reference names.
    fn version_of(stored: &StoredValue) -> StoreResult<(String, u64)> {
        let (path, version) = stored.external("Vault")?;
        let version = version.parse().map_err(|_| {
            StoreError::corrupt("secret_versions", "a vault version id is not a number")
        })?;
        Ok((path.to_string(), version))
    }
}

fn changed_outside() -> StoreError {
    SecretError::Conflict {
        message: "the vault's copy of this secret changed outside the service".to_string(),
    }
    .into()
}

#[async_trait]
impl StorageBackend for HashicorpVaultBackend {
    fn kind(&self) -> StorageBackendKind {
        StorageBackendKind::HashicorpVault
    }

    fn keeps_values_in_database(&self) -> bool {
        false
    }

    async fn health_check(&self) -> StoreResult<BackendHealth> {
        // Reading the metadata of an object that need not exist proves the vault answers,
        // the token is valid and the mount is a KV v2 one the token may use.
        let mount = self.config.mount.clone();
        let probe = self.path("health-probe");
        let outcome = self
            .with_retries("a health check", |c| {
                let (mount, probe) = (mount.clone(), probe.clone());
                async move {
                    vaultrs::kv2::read_metadata(&*c, &mount, &probe)
                        .await
                        .map(|_| ())
                }
            })
            .await;
        match outcome {
            Err(e) if e.status() != Some(404) => Err(e.into()),
            _ => Ok(BackendHealth {
                healthy: true,
                detail: format!("KV v2 mount '{}' answered", self.config.mount),
            }),
        }
    }

    async fn store_value(
        &self,
        target: ValueTarget<'_>,
        value: &SecretValue,
        previous: Option<&StoredValue>,
    ) -> StoreResult<StoredValue> {
        let path = self.path(target.secret_id);
        let cas = match previous {
            None => 0,
            Some(p) => Self::version_of(p)?.1,
        };
        let cas = u32::try_from(cas)
            .map_err(|_| SecretError::internal("a vault version is out of range"))?;
        let data: Value = serde_json::from_slice(&value.to_json_bytes()?)
            .map_err(|_| SecretError::EncryptionFailed)?;
        let mount = self.config.mount.clone();
        if previous.is_none() {
            let mut custom = HashMap::new();
            custom.insert("secretManagerId".to_string(), target.secret_id.to_string());
            custom.insert("secretName".to_string(), target.secret_name.to_string());
            custom.insert(
                "secretType".to_string(),
                value.secret_type().as_str().to_string(),
            );
            self.with_retries("describe a secret", |c| {
                let (mount, path, custom) = (mount.clone(), path.clone(), custom.clone());
                async move {
                    let mut opts = SetSecretMetadataRequest::builder();
                    opts.max_versions(MAX_VERSIONS)
                        .cas_required(true)
                        .custom_metadata(custom);
                    vaultrs::kv2::set_metadata(&*c, &mount, &path, Some(&mut opts)).await
                }
            })
            .await?;
        }
        let written = self.write_version(&path, &data, cas).await;
        let version = match written {
            Ok(version) => version,
            // A 400 on a check-and-set write: the object moved on past our version. Versions
            // after ours that were removed (an abandoned write, cleaned up) do not count:
            // write after them. One live version holding exactly this value is this very
            // write, whose answer was lost: adopt it. Anything else changed behind our back.
            Err(e) if e.status() == Some(400) => {
                let (current, live) = self.versions_after(&path, u64::from(cas)).await?;
                match live.as_slice() {
                    [] => {
                        let cas = u32::try_from(current).map_err(|_| {
                            SecretError::internal("a vault version is out of range")
                        })?;
                        self.write_version(&path, &data, cas).await?
                    }
                    [only] => {
                        let only = *only;
                        let held = self
                            .with_retries("read a value back", |c| {
                                let (mount, path) = (mount.clone(), path.clone());
                                async move {
                                    vaultrs::kv2::read_version::<Value>(&*c, &mount, &path, only)
                                        .await
                                }
                            })
                            .await?;
                        if held != data {
                            return Err(changed_outside());
                        }
                        only
                    }
                    _ => return Err(changed_outside()),
                }
            }
            Err(e) => return Err(e.into()),
        };
        Ok(StoredValue::External {
            vault_ref: path,
            vault_version_id: Some(version.to_string()),
        })
    }

    async fn retrieve_value(
        &self,
        _target: ValueTarget<'_>,
        stored: &StoredValue,
    ) -> StoreResult<SecretValue> {
        let (path, version) = Self::version_of(stored)?;
        let mount = self.config.mount.clone();
        let data = self
            .with_retries("read a value", |c| {
                let (mount, path) = (mount.clone(), path.clone());
                async move { vaultrs::kv2::read_version::<Value>(&*c, &mount, &path, version).await }
            })
            .await?;
        let bytes = zeroize::Zeroizing::new(
            serde_json::to_vec(&data).map_err(|_| SecretError::DecryptionFailed)?,
        );
        // A value that does not parse as a typed value was not written by us.
        SecretValue::from_json_bytes(&bytes).map_err(|_| SecretError::DecryptionFailed.into())
    }

    async fn delete_secret(&self, secret_id: &str, _stored: &[StoredValue]) -> StoreResult<()> {
        let path = self.path(secret_id);
        let mount = self.config.mount.clone();
        let removed = self
            .with_retries("delete a secret", |c| {
                let (mount, path) = (mount.clone(), path.clone());
                async move { vaultrs::kv2::delete_metadata(&*c, &mount, &path).await }
            })
            .await;
        match removed {
            Err(e) if e.status() != Some(404) => Err(e.into()),
            _ => Ok(()),
        }
    }

    async fn soft_delete(&self, secret_id: &str, stored: &[StoredValue]) -> StoreResult<()> {
        self.mark(secret_id, stored, true).await
    }

    async fn restore(&self, secret_id: &str, stored: &[StoredValue]) -> StoreResult<()> {
        self.mark(secret_id, stored, false).await
    }

    async fn find_written(
        &self,
        secret_id: &str,
        previous: Option<&StoredValue>,
    ) -> StoreResult<Option<StoredValue>> {
        let after = match previous {
            None => 0,
            Some(p) => Self::version_of(p)?.1,
        };
        let path = self.path(secret_id);
        let (_, live) = self.versions_after(&path, after).await?;
        // Our writes serialise per secret, so at most one live version follows ours.
        Ok(live.last().map(|v| StoredValue::External {
            vault_ref: path.clone(),
            vault_version_id: Some(v.to_string()),
        }))
    }

    async fn remove_versions(&self, secret_id: &str, stored: &[StoredValue]) -> StoreResult<()> {
        let versions = stored
            .iter()
            .map(|s| Self::version_of(s).map(|(_, v)| v))
            .collect::<StoreResult<Vec<u64>>>()?;
        if versions.is_empty() {
            return Ok(());
        }
        let (mount, path) = (self.config.mount.clone(), self.path(secret_id));
        self.with_retries("destroy old versions", |c| {
            let (mount, path, versions) = (mount.clone(), path.clone(), versions.clone());
            async move { vaultrs::kv2::destroy_versions(&*c, &mount, &path, versions).await }
        })
        .await
        .map_err(StoreError::from)
    }
}

impl HashicorpVaultBackend {
    /// Writes `data` as the version after `cas` (check-and-set); returns its number.
    async fn write_version(&self, path: &str, data: &Value, cas: u32) -> Result<u64, CallFailure> {
        let mount = self.config.mount.clone();
        self.with_retries("store a value", |c| {
            let (mount, path, data) = (mount.clone(), path.to_string(), data.clone());
            async move {
                vaultrs::kv2::set_with_options(
                    &*c,
                    &mount,
                    &path,
                    &data,
                    SetSecretRequestOptions { cas },
                )
                .await
            }
        })
        .await
        .map(|meta| meta.version)
    }

    /// The object's current version number and its live (neither deleted nor destroyed)
    /// versions after `after`, oldest first; (0, none) when there is no object.
    async fn versions_after(&self, path: &str, after: u64) -> StoreResult<(u64, Vec<u64>)> {
        let mount = self.config.mount.clone();
        let meta = self
            .with_retries("read a secret's versions", |c| {
                let (mount, path) = (mount.clone(), path.to_string());
                async move { vaultrs::kv2::read_metadata(&*c, &mount, &path).await }
            })
            .await;
        let meta = match meta {
            Ok(m) => m,
            Err(e) if e.status() == Some(404) => return Ok((0, Vec::new())),
            Err(e) => return Err(e.into()),
        };
        let mut live: Vec<u64> = meta
            .versions
            .iter()
            .filter(|(_, v)| !v.destroyed && v.deletion_time.is_empty())
            .filter_map(|(n, _)| n.parse::<u64>().ok())
            .filter(|n| *n > after)
            .collect();
        live.sort_unstable();
        Ok((meta.current_version, live))
    }

    /// Marks versions deleted (soft delete) or undeletes them (restore).
    async fn mark(&self, secret_id: &str, stored: &[StoredValue], delete: bool) -> StoreResult<()> {
        let versions = stored
            .iter()
            .map(|s| Self::version_of(s).map(|(_, v)| v))
            .collect::<StoreResult<Vec<u64>>>()?;
        if versions.is_empty() {
            return Ok(());
        }
        let (mount, path) = (self.config.mount.clone(), self.path(secret_id));
        let what = if delete {
            "soft-delete a secret"
        } else {
            "restore a secret"
        };
        self.with_retries(what, |c| {
            let (mount, path, versions) = (mount.clone(), path.clone(), versions.clone());
            async move {
                if delete {
                    vaultrs::kv2::delete_versions(&*c, &mount, &path, versions).await
                } else {
                    vaultrs::kv2::undelete_versions(&*c, &mount, &path, versions).await
                }
            }
        })
        .await
        .map_err(StoreError::from)
    }
}
