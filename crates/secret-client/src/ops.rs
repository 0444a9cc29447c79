//! The operations on secrets (§12.1): create, list, metadata, values (cached), updates,
//! rotation, versions and rollback, deletion, grants and resolution.

use std::collections::BTreeMap;

use reqwest::Method;
use secret_core::wire::{
    CreateSecretRequest, GrantAccessRequest, GrantList, GrantResponse, ResolveRequest,
    ResolveResponse, RollbackRequest, RotateSecretRequest, SecretList, SecretMetadataResponse,
    UpdateSecretRequest, UpdateSecretValueRequest, ValueResponse, VersionList,
};
use secret_core::{Resolved, SecretId, SecretScope, SecretType, SecretValue};
use zeroize::Zeroizing;

use crate::cache::Lookup;
use crate::error::ClientError;
use crate::http::Call;
use crate::{SecretClient, events};

/// `GET /api/secrets` filters (§12.1 ListSecretsParams).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub scope: Option<SecretScope>,
    pub secret_type: Option<SecretType>,
    pub tags: Vec<String>,
    pub search: Option<String>,
    pub include_deleted: bool,
    pub page: Option<u64>,
    pub limit: Option<u64>,
}

/// `GET /api/secrets/audit` filters (§12.1), as query parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery(pub Vec<(String, String)>);

/// `GET /api/secrets/export` options, as query parameters (`format`, `includeValues`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportQuery(pub Vec<(String, String)>);

fn path_of(id: &str) -> String {
    format!("api/secrets/{}", encode(id))
}

/// Percent-encodes one path segment.
pub(crate) fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

fn wire_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl SecretClient {
    /// `POST /api/secrets`.
    pub async fn create_secret(
        &self,
        request: &CreateSecretRequest,
    ) -> Result<SecretMetadataResponse, ClientError> {
        self.inner
            .fetch(&Call::new(Method::POST, "api/secrets").json(request)?)
            .await
    }

    /// `GET /api/secrets`: a page of metadata.
    pub async fn list_secrets(&self, query: &ListQuery) -> Result<SecretList, ClientError> {
        let mut call = Call::get("api/secrets");
        if let Some(scope) = query.scope {
            call = call.query("scope", wire_name(&scope));
        }
        if let Some(t) = query.secret_type {
            call = call.query("type", wire_name(&t));
        }
        if !query.tags.is_empty() {
            call = call.query("tags", query.tags.join(","));
        }
        if let Some(search) = &query.search {
            call = call.query("search", search);
        }
        if query.include_deleted {
            call = call.query("includeDeleted", "true");
        }
        if let Some(page) = query.page {
            call = call.query("page", page);
        }
        if let Some(limit) = query.limit {
            call = call.query("limit", limit);
        }
        self.inner.fetch(&call).await
    }

    /// `GET /api/secrets/{id}`: the metadata, never the value.
    pub async fn get_metadata(&self, id: &SecretId) -> Result<SecretMetadataResponse, ClientError> {
        self.inner.fetch(&Call::get(path_of(id.as_str()))).await
    }

    /// `PUT /api/secrets/{id}`, optionally only if the secret is still at `expected_version`.
    pub async fn update_secret(
        &self,
        id: &SecretId,
        request: &UpdateSecretRequest,
        expected_version: Option<i64>,
    ) -> Result<SecretMetadataResponse, ClientError> {
        let mut call = Call::new(Method::PUT, path_of(id.as_str())).json(request)?;
        if let Some(v) = expected_version {
            call = call.header("If-Match", format!("\"{v}\""));
        }
        self.invalidating(id, self.inner.fetch(&call).await)
    }

    /// The current value with its id, name and version: from the cache when it holds a
    /// fresh copy, else `GET /api/secrets/{id}/value` (an audited read on the server).
    pub async fn get_value(&self, id: &SecretId) -> Result<ValueResponse, ClientError> {
        events::ensure_started(&self.inner);
        let settings = self.inner.cache.settings();
        if settings.enabled && settings.invalidation {
            self.inner.events.settle().await;
        }
        match self.inner.cache.lookup(id.as_str()) {
            Lookup::Fresh { value, refresh } => {
                if refresh {
                    self.refresh_in_background(id);
                }
                Ok(value)
            }
            Lookup::Stale(stale) => match self.load_value(id).await {
                Err(err) if err.is_unavailable() => {
                    tracing::warn!(secret_id = %id, error = %err,
                        "serving a cached value past its TTL: the secret service is unavailable");
                    Ok(stale)
                }
                other => other,
            },
            Lookup::Miss => self.load_value(id).await,
        }
    }

    /// The current value (see [`SecretClient::get_value`]).
    pub async fn get_secret(&self, id: &SecretId) -> Result<SecretValue, ClientError> {
        Ok(self.get_value(id).await?.value)
    }

    /// Several values, read concurrently (each an audited read); fails as a whole.
    pub async fn get_secrets(
        &self,
        ids: &[SecretId],
    ) -> Result<BTreeMap<SecretId, SecretValue>, ClientError> {
        let mut tasks = tokio::task::JoinSet::new();
        for id in ids.iter().cloned() {
            let client = self.clone();
            tasks.spawn(async move { client.get_secret(&id).await.map(|v| (id, v)) });
        }
        let mut out = BTreeMap::new();
        while let Some(joined) = tasks.join_next().await {
            let (id, value) = joined.map_err(|e| ClientError::Transport {
                message: format!("a read task failed: {e}"),
            })??;
            out.insert(id, value);
        }
        Ok(out)
    }

    async fn load_value(&self, id: &SecretId) -> Result<ValueResponse, ClientError> {
        let epoch = self.inner.cache.epoch();
        let loaded = self
            .inner
            .fetch::<ValueResponse>(&Call::get(format!("{}/value", path_of(id.as_str()))))
            .await;
        match &loaded {
            Ok(value) => self.inner.cache.put(value, epoch),
            // Gone, denied or expired: nothing stale may be served for it any more.
            Err(err) if !err.is_unavailable() => self.inner.cache.invalidate(id.as_str()),
            Err(_) => {}
        }
        loaded
    }

    fn refresh_in_background(&self, id: &SecretId) {
        let client = self.clone();
        let id = id.clone();
        tokio::spawn(async move {
            if client.load_value(&id).await.is_err() {
                client.inner.cache.refresh_failed(id.as_str());
            }
        });
    }

    /// Drops `id` from the cache once a write to it answered (whatever the answer).
    fn invalidating<T>(
        &self,
        id: &SecretId,
        result: Result<T, ClientError>,
    ) -> Result<T, ClientError> {
        self.inner.cache.invalidate(id.as_str());
        result
    }

    /// `PUT /api/secrets/{id}/value`: a new version.
    pub async fn update_value(
        &self,
        id: &SecretId,
        request: &UpdateSecretValueRequest,
    ) -> Result<SecretMetadataResponse, ClientError> {
        let call =
            Call::new(Method::PUT, format!("{}/value", path_of(id.as_str()))).json(request)?;
        self.invalidating(id, self.inner.fetch(&call).await)
    }

    /// `POST /api/secrets/{id}/rotate`.
    pub async fn rotate_secret(
        &self,
        id: &SecretId,
        request: &RotateSecretRequest,
    ) -> Result<SecretMetadataResponse, ClientError> {
        let call =
            Call::new(Method::POST, format!("{}/rotate", path_of(id.as_str()))).json(request)?;
        self.invalidating(id, self.inner.fetch(&call).await)
    }

    /// `DELETE /api/secrets/{id}`: a soft delete (restorable for 30 days).
    pub async fn delete_secret(
        &self,
        id: &SecretId,
    ) -> Result<SecretMetadataResponse, ClientError> {
        let call = Call::new(Method::DELETE, path_of(id.as_str()));
        self.invalidating(id, self.inner.fetch(&call).await)
    }

    /// `POST /api/secrets/{id}/restore`.
    pub async fn restore_secret(
        &self,
        id: &SecretId,
    ) -> Result<SecretMetadataResponse, ClientError> {
        let call = Call::new(Method::POST, format!("{}/restore", path_of(id.as_str())));
        self.invalidating(id, self.inner.fetch(&call).await)
    }

    /// `DELETE /api/secrets/{id}/permanent` (needs a recent sign-in).
    pub async fn permanently_delete_secret(&self, id: &SecretId) -> Result<(), ClientError> {
        let call = Call::new(
            Method::DELETE,
            format!("{}/permanent", path_of(id.as_str())),
        );
        self.invalidating(id, self.inner.send(&call).await.map(drop))
    }

    /// `GET /api/secrets/{id}/versions`.
    pub async fn list_versions(&self, id: &SecretId) -> Result<VersionList, ClientError> {
        self.inner
            .fetch(&Call::get(format!("{}/versions", path_of(id.as_str()))))
            .await
    }

    /// `GET /api/secrets/{id}/versions/{version}`: an old version's value (not cached).
    pub async fn get_version(
        &self,
        id: &SecretId,
        version: i64,
    ) -> Result<ValueResponse, ClientError> {
        self.inner
            .fetch(&Call::get(format!(
                "{}/versions/{version}",
                path_of(id.as_str())
            )))
            .await
    }

    /// `POST /api/secrets/{id}/rollback`: the old version's value as a new version.
    pub async fn rollback_secret(
        &self,
        id: &SecretId,
        request: &RollbackRequest,
    ) -> Result<SecretMetadataResponse, ClientError> {
        let call =
            Call::new(Method::POST, format!("{}/rollback", path_of(id.as_str()))).json(request)?;
        self.invalidating(id, self.inner.fetch(&call).await)
    }

    /// `GET /api/secrets/{id}/access`.
    pub async fn list_grants(&self, id: &SecretId) -> Result<GrantList, ClientError> {
        self.inner
            .fetch(&Call::get(format!("{}/access", path_of(id.as_str()))))
            .await
    }

    /// `POST /api/secrets/{id}/access`.
    pub async fn grant_access(
        &self,
        id: &SecretId,
        request: &GrantAccessRequest,
    ) -> Result<GrantResponse, ClientError> {
        let call =
            Call::new(Method::POST, format!("{}/access", path_of(id.as_str()))).json(request)?;
        self.invalidating(id, self.inner.fetch(&call).await)
    }

    /// `DELETE /api/secrets/{id}/access/{grantId}`.
    pub async fn revoke_access(&self, id: &SecretId, grant_id: &str) -> Result<(), ClientError> {
        let call = Call::new(
            Method::DELETE,
            format!("{}/access/{}", path_of(id.as_str()), encode(grant_id)),
        );
        self.invalidating(id, self.inner.send(&call).await.map(drop))
    }

    /// `POST /api/secrets/resolve`: every variable's plain string or referenced field, or
    /// [`ClientError::Unresolved`] naming each key that failed.
    pub async fn resolve_variables(
        &self,
        variables: &BTreeMap<String, serde_json::Value>,
    ) -> Result<Resolved, ClientError> {
        let request = ResolveRequest {
            variables: variables.clone(),
        };
        let answer = self
            .inner
            .send(&Call::new(Method::POST, "api/secrets/resolve").json(&request)?)
            .await?;
        let response: ResolveResponse = answer.json()?;
        Ok(response
            .variables
            .into_iter()
            .map(|(k, v)| (k, Zeroizing::new(v)))
            .collect())
    }
}
