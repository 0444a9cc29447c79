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
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use secret_core::vault::{HashicorpVaultConfig, VaultAuth};
use secret_core::{SecretError, SecretValue, StorageBackendKind};
use serde_json::Value;
use tokio::sync::RwLock;
use vaultrs::api::kv2::requests::{SetSecretMetadataRequest, SetSecretRequestOptions};
use vaultrs::client::{VaultClient, VaultClientSettingsBuilder};
use vaultrs::error::ClientError;

use crate::error::{StoreError, StoreResult};

use super::{BackendHealth, StorageBackend, StoredValue, ValueTarget};

/// The most versions a secret may retain (see `LifecycleSettings`); the vault keeps as many.
const MAX_VERSIONS: u64 = 1000;

/// Attempts per call when the vault cannot be reached.
const ATTEMPTS: u32 = 3;

/// How a call to the vault failed.
#[derive(Debug)]
enum Failure {
    /// Not reached, or no answer in time: worth retrying.
    Unreachable,
    /// The vault answered with this error status.
    Status(u16),
    /// The answer could not be read.
    Malformed,
}

fn classify(err: &ClientError) -> Failure {
    match err {
        ClientError::APIError { code, .. } => Failure::Status(*code),
        ClientError::RestClientError { source } => match source {
            rustify::errors::ClientError::ServerResponseError { code, .. } => {
                Failure::Status(*code)
            }
            rustify::errors::ClientError::RequestError { .. }
            | rustify::errors::ClientError::ResponseError { .. } => Failure::Unreachable,
            _ => Failure::Malformed,
        },
        ClientError::ResponseEmptyError | ClientError::ResponseDataEmptyError => {
            Failure::Status(404)
        }
        _ => Failure::Malformed,
    }
}

fn to_error(what: &str, failure: &Failure) -> StoreError {
    match failure {
        Failure::Unreachable => SecretError::VaultUnavailable {
            reason: format!("the vault could not be reached to {what}"),
        },
        Failure::Status(code) => SecretError::VaultConnectionFailed {
            reason: format!("the vault answered {what} with status {code}"),
        },
        Failure::Malformed => SecretError::VaultConnectionFailed {
            reason: format!("the vault's answer to {what} could not be read"),
        },
    }
    .into()
}

/// A call that did not succeed: the vault's failure, or one of ours on the way.
#[derive(Debug)]
enum CallFailure {
    Vault { what: String, failure: Failure },
    Store(StoreError),
}

impl CallFailure {
    fn status(&self) -> Option<u16> {
        match self {
            CallFailure::Vault {
                failure: Failure::Status(code),
                ..
            } => Some(*code),
            _ => None,
        }
    }
}

impl From<CallFailure> for StoreError {
    fn from(f: CallFailure) -> Self {
        match f {
            CallFailure::Vault { what, failure } => to_error(&what, &failure),
            CallFailure::Store(e) => e,
        }
    }
}

/// The token in use and when it stops working.
struct Session {
    client: Arc<VaultClient>,
    /// When the token must be renewed or replaced; `None`: it does not expire.
    renew_at: Option<Instant>,
    renewable: bool,
}

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

fn new_client(config: &HashicorpVaultConfig, token: &str) -> StoreResult<VaultClient> {
    let mut settings = VaultClientSettingsBuilder::default();
    settings
        .address(config.address.as_str())
        .token(token)
        .timeout(Some(Duration::from_secs(config.timeout_seconds)));
    if let Some(ns) = &config.namespace {
        settings.namespace(Some(ns.clone()));
    }
    let settings = settings
        .build()
        .map_err(|_| SecretError::validation("config.address", "is not a usable vault address"))?;
    VaultClient::new(settings)
        .map_err(|_| SecretError::internal("the vault client could not be built").into())
}

/// When a token of `lease` seconds should be renewed: at two thirds of its life.
fn renew_at(lease: u64) -> Option<Instant> {
    (lease > 0).then(|| Instant::now() + Duration::from_secs(lease.saturating_mul(2) / 3))
}

/// The login request a method sends: (mount, body) for AppRole and Kubernetes.
pub(crate) fn login_request(auth: &VaultAuth) -> StoreResult<Option<(String, Value)>> {
    Ok(match auth {
        VaultAuth::Token { .. } => None,
        VaultAuth::AppRole {
            role_id,
            secret_id,
            mount,
        } => Some((
            mount.clone(),
            serde_json::json!({"role_id": role_id.expose(), "secret_id": secret_id.expose()}),
        )),
        VaultAuth::Kubernetes {
            role,
            jwt,
            jwt_path,
            mount,
        } => {
            let jwt = match (jwt, jwt_path) {
                (Some(j), _) => j.expose().to_string(),
                (None, Some(path)) => std::fs::read_to_string(path)
                    .map_err(|_| {
                        StoreError::from(SecretError::VaultNotConfigured {
                            reason: format!("the service-account token file {path} cannot be read"),
                        })
                    })?
                    .trim()
                    .to_string(),
                (None, None) => {
                    return Err(SecretError::VaultNotConfigured {
                        reason: "no Kubernetes service-account token is configured".into(),
                    }
                    .into());
                }
            };
            Some((mount.clone(), serde_json::json!({"role": role, "jwt": jwt})))
        }
    })
}

impl HashicorpVaultBackend {
    /// Connects with `config`'s credentials: logs in for AppRole and Kubernetes, looks the
    /// token up for a static one. Fails when the vault cannot be reached or refuses them.
    pub async fn connect(config: HashicorpVaultConfig) -> StoreResult<Self> {
        let session = Self::login(&config).await?;
        Ok(HashicorpVaultBackend {
            config,
            session: RwLock::new(session),
        })
    }

    async fn login(config: &HashicorpVaultConfig) -> StoreResult<Session> {
        let (token, renew, renewable) = match &config.auth {
            VaultAuth::Token { token } => (token.expose().to_string(), None, false),
            auth => {
                let client = new_client(config, "")?;
                let info = match auth {
                    VaultAuth::AppRole {
                        role_id,
                        secret_id,
                        mount,
                    } => {
                        vaultrs::auth::approle::login(
                            &client,
                            mount,
                            role_id.expose(),
                            secret_id.expose(),
                        )
                        .await
                    }
                    _ => {
                        let Some((mount, body)) = login_request(auth)? else {
                            unreachable_login()?
                        };
                        let jwt = body["jwt"].as_str().unwrap_or_default().to_string();
                        let role = body["role"].as_str().unwrap_or_default().to_string();
                        vaultrs::auth::kubernetes::login(&client, &mount, &role, &jwt).await
                    }
                }
                .map_err(|e| to_error("log in", &classify(&e)))?;
                (
                    info.client_token,
                    renew_at(info.lease_duration),
                    info.renewable,
                )
            }
        };
        let client = new_client(config, &token)?;
        let is_static = matches!(config.auth, VaultAuth::Token { .. });
        let (renew_at_, renewable) = if is_static {
            // A static token: learn whether it expires and can be renewed.
            match vaultrs::token::lookup_self(&client).await {
                Ok(info) => (renew_at(info.ttl), info.renewable.unwrap_or(false)),
                Err(e) => return Err(to_error("look up its token", &classify(&e))),
            }
        } else {
            (renew, renewable)
        };
        Ok(Session {
            client: Arc::new(client),
            renew_at: renew_at_,
            renewable,
        })
    }

    /// Renews the token when two thirds of its life are gone; logs in again when it cannot
    /// be renewed (AppRole, Kubernetes).
    async fn fresh_token(&self) -> StoreResult<()> {
        let due = {
            let s = self.session.read().await;
            s.renew_at.is_some_and(|at| Instant::now() >= at)
        };
        if !due {
            return Ok(());
        }
        let mut s = self.session.write().await;
        if s.renew_at.is_none_or(|at| Instant::now() < at) {
            return Ok(());
        }
        if s.renewable
            && let Ok(info) = vaultrs::token::renew_self(&*s.client, None).await
        {
            s.renew_at = renew_at(info.lease_duration);
            return Ok(());
        }
        if matches!(self.config.auth, VaultAuth::Token { .. }) {
            // Nothing to log in with: keep using it until the vault refuses it.
            s.renew_at = None;
            return Ok(());
        }
        *s = Self::login(&self.config).await?;
        Ok(())
    }

    /// Runs `call` with bounded retries while the vault is unreachable; a refused token
    /// (403) from a login method is replaced once.
    async fn with_retries<T, F, Fut>(&self, what: &str, call: F) -> Result<T, CallFailure>
    where
        F: Fn(Arc<VaultClient>) -> Fut,
        Fut: std::future::Future<Output = Result<T, ClientError>>,
    {
        self.fresh_token().await.map_err(CallFailure::Store)?;
        let mut relogged = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let client = self.session.read().await.client.clone();
            let result = call(client).await;
            let err = match result {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let failure = classify(&err);
            match failure {
                Failure::Unreachable if attempt < ATTEMPTS => {
                    tokio::time::sleep(Duration::from_millis(100 * 4u64.pow(attempt - 1))).await;
                }
                Failure::Status(403)
                    if !relogged && !matches!(self.config.auth, VaultAuth::Token { .. }) =>
                {
                    relogged = true;
                    let mut s = self.session.write().await;
                    *s = Self::login(&self.config)
                        .await
                        .map_err(CallFailure::Store)?;
                }
                _ => {
                    return Err(CallFailure::Vault {
                        what: what.to_string(),
                        failure,
                    });
                }
            }
        }
    }

    fn path(&self, secret_id: &str) -> String {
        if self.config.path_prefix.is_empty() {
            secret_id.to_string()
        } else {
            format!("{}/{secret_id}", self.config.path_prefix)
        }
    }

    /// The vault version a stored reference names.
    fn version_of(stored: &StoredValue) -> StoreResult<(String, u64)> {
        match stored {
            StoredValue::External {
                vault_ref,
                vault_version_id: Some(v),
            } => v.parse().map(|n| (vault_ref.clone(), n)).map_err(|_| {
                StoreError::corrupt("secret_versions", "a vault version id is not a number")
            }),
            _ => Err(SecretError::internal(
                "the Vault backend was given a reference it did not make",
            )
            .into()),
        }
    }
}

fn changed_outside() -> StoreError {
    SecretError::Conflict {
        message: "the vault's copy of this secret changed outside the service".to_string(),
    }
    .into()
}

fn unreachable_login<T>() -> StoreResult<T> {
    Err(SecretError::internal("a login method without a login request").into())
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
