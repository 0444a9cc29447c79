//! The Google Secret Manager backend, through `gcloud-sdk`'s generated gRPC client of
//! `google.cloud.secretmanager.v1.SecretManagerService`.
//!
//! Each of our secrets is one Google secret with the id `<namePrefix><secret id>` (our ids
//! are UUIDs, within Secret Manager's rule of letters, digits, `_` and `-`), automatic
//! replication, and the labels `secret-manager-id` and `secret-manager-type` (labels are
//! lower case and at most 63 characters; the name, description and metadata stay in our
//! database). The payload is the typed value's JSON. Each of our versions is one Google
//! version, whose number is kept as the version's `vault_version_id`.
//!
//! Secret Manager has no check-and-set on new versions: before adding one, the backend
//! checks that the secret's latest version is still the one our previous version names,
//! or one we removed (409 otherwise). Removed versions (retention, abandoned writes) are
//! destroyed; soft delete disables every version, restore enables them again, permanent
//! delete deletes the secret. Version state changes carry the etag just read (optimistic
//! concurrency: a version changed in between is read again and the change tried once more). Each call has the configuration's time limit; unavailable,
//! throttled (RESOURCE_EXHAUSTED) and, for calls that can be repeated safely, timed-out
//! calls are retried twice with backoff.
//!
//! The secret's expiry is mirrored into the annotation `secret-manager-expires-at` (RFC
//! 3339) after each write and expiry change, with the secret's etag. It is deliberately not
//! Secret Manager's `expire_time`: reaching that deletes the secret and every version for
//! good ("Create secrets with expiration dates"), while our expired secrets are kept and can
//! be given a new value (§8.1), so mapping one onto the other would turn an expiry into
//! data loss.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use gcloud_sdk::google::cloud::secretmanager::v1::secret_manager_service_client::SecretManagerServiceClient;
use gcloud_sdk::google::cloud::secretmanager::v1::{
    AccessSecretVersionRequest, AddSecretVersionRequest, CreateSecretRequest, DeleteSecretRequest,
    DestroySecretVersionRequest, DisableSecretVersionRequest, EnableSecretVersionRequest,
    GetSecretRequest, GetSecretVersionRequest, ListSecretVersionsRequest, ListSecretsRequest,
    Replication, Secret, UpdateSecretRequest, replication, secret_version,
};
use gcloud_sdk::proto_ext::secretmanager::SecretPayload;
use gcloud_sdk::tonic::{Code, Status};
use gcloud_sdk::{GoogleApi, GoogleAuthMiddleware};
use secret_core::vault::{GcpAuth, GcpSecretManagerConfig};
use secret_core::{SecretError, SecretValue, StorageBackendKind};

use crate::error::{StoreError, StoreResult};

use super::{BackendHealth, StorageBackend, StoredValue, ValueTarget};

/// Attempts per call: the first and two retries.
const ATTEMPTS: u32 = 3;

/// The public endpoint.
const ENDPOINT: &str = "https://secretmanager.googleapis.com";

/// The annotation holding a secret's expiry (RFC 3339 UTC; absent when it has none).
pub const GCP_EXPIRY_ANNOTATION: &str = "secret-manager-expires-at";

type Client = SecretManagerServiceClient<GoogleAuthMiddleware>;

/// One Google Cloud project's Secret Manager.
pub struct GcpSecretManagerBackend {
    config: GcpSecretManagerConfig,
    api: GoogleApi<Client>,
}

impl std::fmt::Debug for GcpSecretManagerBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GcpSecretManagerBackend")
            .field("project_id", &self.config.project_id)
            .field("endpoint", &self.config.endpoint)
            .finish_non_exhaustive()
    }
}

fn not_configured(reason: impl Into<String>) -> StoreError {
    SecretError::VaultNotConfigured {
        reason: reason.into(),
    }
    .into()
}

fn changed_outside() -> StoreError {
    SecretError::Conflict {
        message: "the Google copy of this secret changed outside the service".to_string(),
    }
    .into()
}

/// The number at the end of a version's resource name (`.../versions/N`).
fn version_number(name: &str) -> Option<String> {
    name.rsplit_once("/versions/")
        .map(|(_, n)| n.to_string())
        .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

impl GcpSecretManagerBackend {
    /// A client for `config`; it connects to the endpoint now (a gRPC channel).
    pub async fn connect(config: GcpSecretManagerConfig) -> StoreResult<Self> {
        let endpoint = config
            .endpoint
            .clone()
            .unwrap_or_else(|| ENDPOINT.to_string());
        let unreachable = |_| -> StoreError {
            SecretError::VaultUnavailable {
                reason: format!("Google Secret Manager ({endpoint}) could not be reached"),
            }
            .into()
        };
        let key = match &config.auth {
            GcpAuth::Default => None,
            GcpAuth::KeyJson { json, .. } => Some(
                serde_json::from_str::<serde_json::Value>(json.expose())
                    .map_err(|_| not_configured("the service-account key is not JSON"))?,
            ),
            GcpAuth::KeyFile { path } => {
                let text =
                    zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|_| {
                        not_configured(format!(
                            "the service-account key file {path} cannot be read"
                        ))
                    })?);
                Some(serde_json::from_str(&text).map_err(|_| {
                    not_configured(format!("the service-account key file {path} is not JSON"))
                })?)
            }
        };
        let api = match key {
            None => GoogleApi::from_function(SecretManagerServiceClient::new, &endpoint, None)
                .await
                .map_err(unreachable)?,
            Some(key) => {
                let credentials =
                    gcloud_sdk::google_cloud_auth::credentials::service_account::Builder::new(key)
                        .build()
                        .map_err(|_| not_configured("the service-account key is not usable"))?;
                GoogleApi::from_function_with_credentials(
                    SecretManagerServiceClient::new,
                    &endpoint,
                    None,
                    credentials,
                )
                .await
                .map_err(unreachable)?
            }
        };
        Ok(GcpSecretManagerBackend { config, api })
    }

    fn secret_id(&self, id: &str) -> String {
        format!("{}{id}", self.config.name_prefix)
    }

    fn secret_name(&self, id: &str) -> String {
        format!(
            "projects/{}/secrets/{}",
            self.config.project_id,
            self.secret_id(id)
        )
    }

    /// The (resource name of the) version a stored reference names.
    fn version_of(&self, stored: &StoredValue) -> StoreResult<String> {
        let (secret, version) = stored.external("Google")?;
        Ok(format!("{secret}/versions/{version}"))
    }

    /// Runs one call with the time limit and bounded retries. A call that timed out is
    /// retried only when `repeatable` (it may have been carried out).
    async fn call<T, F, Fut>(&self, repeatable: bool, mut f: F) -> Result<T, Status>
    where
        F: FnMut(Client) -> Fut,
        Fut: Future<Output = Result<gcloud_sdk::tonic::Response<T>, Status>>,
    {
        let limit = Duration::from_secs(self.config.timeout_seconds);
        let mut pause = Duration::from_millis(100);
        let mut attempt = 1;
        loop {
            let status = match tokio::time::timeout(limit, f(self.api.get())).await {
                Ok(Ok(r)) => return Ok(r.into_inner()),
                Ok(Err(status)) => status,
                Err(_) => Status::deadline_exceeded("the call took longer than its time limit"),
            };
            let retry = match status.code() {
                Code::Unavailable | Code::ResourceExhausted => true,
                Code::DeadlineExceeded => repeatable,
                _ => false,
            };
            if !retry || attempt >= ATTEMPTS {
                return Err(status);
            }
            attempt += 1;
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
    }

    /// Our error for a failed call: unreachable, timed out or throttled past the retries is
    /// VAULT_CONNECTION_FAILED (503); any other status VAULT_CONNECTION_FAILED (502) naming
    /// the gRPC code only, never Google's message or the credentials.
    fn fail(&self, what: &str) -> impl Fn(Status) -> StoreError + '_ {
        let what = what.to_string();
        move |status| {
            let vault = format!("Google Secret Manager ({})", self.config.project_id);
            let code = status.code();
            match code {
                Code::Unavailable => SecretError::VaultUnavailable {
                    reason: format!("{vault} could not be reached to {what}"),
                },
                Code::DeadlineExceeded => SecretError::VaultUnavailable {
                    reason: format!("{vault} did not answer in time to {what}"),
                },
                Code::ResourceExhausted => SecretError::VaultUnavailable {
                    reason: format!("{vault} kept throttling the request to {what}"),
                },
                _ => SecretError::VaultConnectionFailed {
                    reason: format!("{vault} answered the request to {what} with {code:?}"),
                },
            }
            .into()
        }
    }

    /// The latest version's number and whether it is enabled; `None` when the secret has
    /// no version (or does not exist).
    async fn latest(&self, secret: &str) -> StoreResult<Option<(String, bool)>> {
        let name = format!("{secret}/versions/latest");
        let got = self
            .call(true, |mut c| {
                let req = GetSecretVersionRequest { name: name.clone() };
                async move { c.get_secret_version(req).await }
            })
            .await;
        match got {
            Ok(v) => Ok(version_number(&v.name)
                .map(|n| (n, v.state == secret_version::State::Enabled as i32))),
            Err(s) if s.code() == Code::NotFound => Ok(None),
            Err(s) => Err(self.fail("read a secret's latest version")(s)),
        }
    }

    async fn add_version(&self, secret: &str, body: &[u8]) -> StoreResult<String> {
        let added = self
            .call(false, |mut c| {
                let req = AddSecretVersionRequest {
                    parent: secret.to_string(),
                    payload: Some(SecretPayload {
                        data: gcloud_sdk::SecretValue::new(body.to_vec()),
                        data_crc32c: None,
                    }),
                };
                async move { c.add_secret_version(req).await }
            })
            .await
            .map_err(self.fail("store a value"))?;
        version_number(&added.name).ok_or_else(|| {
            SecretError::VaultConnectionFailed {
                reason: "Google Secret Manager's answer to store a value named no version"
                    .to_string(),
            }
            .into()
        })
    }

    /// The etag of version `name` as it is now; `None` when there is no such version.
    async fn version_etag(&self, name: &str) -> Result<Option<String>, Status> {
        let got = self
            .call(true, |mut c| {
                let req = GetSecretVersionRequest {
                    name: name.to_string(),
                };
                async move { c.get_secret_version(req).await }
            })
            .await;
        match got {
            Ok(v) => Ok(Some(v.etag)),
            Err(s) if s.code() == Code::NotFound => Ok(None),
            Err(s) => Err(s),
        }
    }

    /// Moves each version to `to` (enabled, disabled or destroyed) with optimistic
    /// concurrency: the call carries the etag just read, and a version changed in between
    /// (ABORTED) is read and tried again, once. A version that is gone, or destroyed
    /// already, is left as it is.
    async fn transition(&self, stored: &[StoredValue], to: Transition) -> StoreResult<()> {
        for s in stored {
            let name = self.version_of(s)?;
            let mut tries = 0;
            let outcome = loop {
                tries += 1;
                let etag = match self.version_etag(&name).await {
                    Ok(Some(etag)) => etag,
                    Ok(None) => break Ok(()),
                    Err(s) => break Err(s),
                };
                let done = self
                    .call(true, |mut c| {
                        let (name, etag) = (name.clone(), etag.clone());
                        async move {
                            match to {
                                Transition::Enable => c
                                    .enable_secret_version(EnableSecretVersionRequest {
                                        name,
                                        etag,
                                    })
                                    .await
                                    .map(|_| gcloud_sdk::tonic::Response::new(())),
                                Transition::Disable => c
                                    .disable_secret_version(DisableSecretVersionRequest {
                                        name,
                                        etag,
                                    })
                                    .await
                                    .map(|_| gcloud_sdk::tonic::Response::new(())),
                                Transition::Destroy => c
                                    .destroy_secret_version(DestroySecretVersionRequest {
                                        name,
                                        etag,
                                    })
                                    .await
                                    .map(|_| gcloud_sdk::tonic::Response::new(())),
                            }
                        }
                    })
                    .await;
                match done {
                    Err(s) if s.code() == Code::Aborted && tries < 2 => continue,
                    other => break other,
                }
            };
            match outcome {
                // Destroyed (retention) or gone: nothing to change.
                Err(s) if matches!(s.code(), Code::NotFound | Code::FailedPrecondition) => {}
                Err(s) => return Err(self.fail(to.what())(s)),
                Ok(()) => {}
            }
        }
        Ok(())
    }
}

/// A change of a version's state.
#[derive(Debug, Clone, Copy)]
enum Transition {
    Enable,
    Disable,
    Destroy,
}

impl Transition {
    fn what(self) -> &'static str {
        match self {
            Transition::Enable => "enable a version",
            Transition::Disable => "disable a version",
            Transition::Destroy => "destroy a version",
        }
    }
}

#[async_trait]
impl StorageBackend for GcpSecretManagerBackend {
    fn kind(&self) -> StorageBackendKind {
        StorageBackendKind::GcpSecretManager
    }

    fn keeps_values_in_database(&self) -> bool {
        false
    }

    async fn health_check(&self) -> StoreResult<BackendHealth> {
        let parent = format!("projects/{}", self.config.project_id);
        self.call(true, |mut c| {
            let req = ListSecretsRequest {
                parent: parent.clone(),
                page_size: 1,
                ..ListSecretsRequest::default()
            };
            async move { c.list_secrets(req).await }
        })
        .await
        .map_err(self.fail("list secrets (health check)"))?;
        Ok(BackendHealth {
            healthy: true,
            detail: format!(
                "Google Secret Manager for project {} answered",
                self.config.project_id
            ),
        })
    }

    async fn store_value(
        &self,
        target: ValueTarget<'_>,
        value: &SecretValue,
        previous: Option<&StoredValue>,
    ) -> StoreResult<StoredValue> {
        let body = value.to_json_bytes()?;
        let secret = self.secret_name(target.secret_id);
        match previous {
            None => {
                let labels: std::collections::HashMap<String, String> = [
                    (
                        "secret-manager-id".to_string(),
                        target.secret_id.to_ascii_lowercase(),
                    ),
                    (
                        "secret-manager-type".to_string(),
                        value.secret_type().as_str().to_ascii_lowercase(),
                    ),
                ]
                .into_iter()
                .collect();
                let created = self
                    .call(false, |mut c| {
                        let req = CreateSecretRequest {
                            parent: format!("projects/{}", self.config.project_id),
                            secret_id: self.secret_id(target.secret_id),
                            secret: Some(Secret {
                                replication: Some(Replication {
                                    replication: Some(replication::Replication::Automatic(
                                        replication::Automatic::default(),
                                    )),
                                }),
                                labels: labels.clone(),
                                ..Secret::default()
                            }),
                        };
                        async move { c.create_secret(req).await }
                    })
                    .await;
                match created {
                    Ok(_) => {}
                    Err(s) if s.code() == Code::AlreadyExists => return Err(changed_outside()),
                    Err(s) => return Err(self.fail("create a secret")(s)),
                }
            }
            Some(p) => {
                let (_, ours) = p.external("Google")?;
                match self.latest(&secret).await? {
                    Some((n, _)) if n == ours => {}
                    // The latest version was removed (an abandoned write after ours).
                    Some((_, false)) => {}
                    _ => return Err(changed_outside()),
                }
            }
        }
        let version = self.add_version(&secret, &body).await?;
        Ok(StoredValue::External {
            vault_ref: secret,
            vault_version_id: Some(version),
        })
    }

    async fn retrieve_value(
        &self,
        _target: ValueTarget<'_>,
        stored: &StoredValue,
    ) -> StoreResult<SecretValue> {
        let name = self.version_of(stored)?;
        let got = self
            .call(true, |mut c| {
                let req = AccessSecretVersionRequest { name: name.clone() };
                async move { c.access_secret_version(req).await }
            })
            .await
            .map_err(self.fail("read a value"))?;
        let payload = got
            .payload
            .ok_or_else(|| StoreError::from(SecretError::DecryptionFailed))?;
        // A value that does not parse as a typed value was not written by us.
        SecretValue::from_json_bytes(payload.data.ref_sensitive_value())
            .map_err(|_| SecretError::DecryptionFailed.into())
    }

    async fn delete_secret(&self, secret_id: &str, _stored: &[StoredValue]) -> StoreResult<()> {
        let name = self.secret_name(secret_id);
        match self
            .call(true, |mut c| {
                let req = DeleteSecretRequest {
                    name: name.clone(),
                    etag: String::new(),
                };
                async move { c.delete_secret(req).await }
            })
            .await
        {
            Ok(()) => Ok(()),
            Err(s) if s.code() == Code::NotFound => Ok(()),
            Err(s) => Err(self.fail("delete a secret")(s)),
        }
    }

    async fn soft_delete(&self, _secret_id: &str, stored: &[StoredValue]) -> StoreResult<()> {
        self.transition(stored, Transition::Disable).await
    }

    async fn restore(&self, _secret_id: &str, stored: &[StoredValue]) -> StoreResult<()> {
        self.transition(stored, Transition::Enable).await
    }

    async fn find_written(
        &self,
        secret_id: &str,
        previous: Option<&StoredValue>,
    ) -> StoreResult<Option<StoredValue>> {
        let secret = self.secret_name(secret_id);
        let after: u64 = match previous {
            Some(p) => p.external("Google")?.1.parse().unwrap_or(u64::MAX),
            None => 0,
        };
        let listed = self
            .call(true, |mut c| {
                let req = ListSecretVersionsRequest {
                    parent: secret.clone(),
                    page_size: 100,
                    ..ListSecretVersionsRequest::default()
                };
                async move { c.list_secret_versions(req).await }
            })
            .await;
        let versions = match listed {
            Ok(r) => r.versions,
            Err(s) if s.code() == Code::NotFound => return Ok(None),
            Err(s) => return Err(self.fail("list a secret's versions")(s)),
        };
        // Our writes to one secret are serialised, so an enabled version after ours is the
        // write whose answer was lost.
        let newest = versions
            .iter()
            .filter(|v| v.state == secret_version::State::Enabled as i32)
            .filter_map(|v| version_number(&v.name))
            .filter_map(|n| n.parse::<u64>().ok())
            .filter(|n| *n > after)
            .max();
        Ok(newest.map(|n| StoredValue::External {
            vault_ref: secret.clone(),
            vault_version_id: Some(n.to_string()),
        }))
    }

    async fn remove_versions(&self, _secret_id: &str, stored: &[StoredValue]) -> StoreResult<()> {
        self.transition(stored, Transition::Destroy).await
    }

    async fn set_expiry(
        &self,
        secret_id: &str,
        _current: &StoredValue,
        expires_at: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        let name = self.secret_name(secret_id);
        let want = expires_at.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true));
        let mut tries = 0;
        loop {
            tries += 1;
            let secret = self
                .call(true, |mut c| {
                    let req = GetSecretRequest { name: name.clone() };
                    async move { c.get_secret(req).await }
                })
                .await
                .map_err(self.fail("read a secret"))?;
            let mut annotations = secret.annotations;
            if annotations.get(GCP_EXPIRY_ANNOTATION) == want.as_ref() {
                return Ok(());
            }
            match &want {
                Some(at) => annotations.insert(GCP_EXPIRY_ANNOTATION.to_string(), at.clone()),
                None => annotations.remove(GCP_EXPIRY_ANNOTATION),
            };
            // The etag just read: a secret changed in between (ABORTED) is read again and
            // the change tried once more.
            let updated = self
                .call(true, |mut c| {
                    let req = UpdateSecretRequest {
                        secret: Some(Secret {
                            name: name.clone(),
                            annotations: annotations.clone(),
                            etag: secret.etag.clone(),
                            ..Secret::default()
                        }),
                        update_mask: Some(gcloud_sdk::prost_types::FieldMask {
                            paths: vec!["annotations".to_string()],
                        }),
                    };
                    async move { c.update_secret(req).await }
                })
                .await;
            match updated {
                Ok(_) => return Ok(()),
                Err(s) if s.code() == Code::Aborted && tries < 2 => continue,
                Err(s) => return Err(self.fail("set a secret's expiry annotation")(s)),
            }
        }
    }
}
