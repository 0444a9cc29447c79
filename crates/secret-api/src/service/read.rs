//! Reads: values (one, one version, several), metadata, listings and version histories;
//! the read cache's snapshots; and the masked display, kept encrypted beside the value.

use std::collections::BTreeMap;
use std::sync::Arc;

use secret_access::{Action, Decision, VisibilityFilter, decide};
use secret_audit::AuditEvent;
use secret_core::SecretAuditEventType as E;
use secret_core::SecretId;
use secret_core::model::{
    AccessGrant, ListSecretsParams, Page, SealedMasked, SecretMetadata, SecretVersionInfo,
    VersionedValue,
};
use secret_core::name::normalize_tags;
use secret_core::{SecretContext, SecretError, SecretValue};
use secret_store::{SecretFilter, ValueTarget};

use crate::cache::{SealedValue, Snapshot};

use super::check::{check_context, enforce};
use super::{Result, SecretService, not_found};

impl SecretService {
    /// The masked display of version `version` of secret `id`, encrypted with the active
    /// data key under the masked-display domain.
    pub(crate) fn seal_masked(&self, id: &str, version: i64, masked: &str) -> Result<SealedMasked> {
        let (key_id, blob) = self
            .inner
            .keys
            .encrypt_masked(id, version, masked.as_bytes())?;
        Ok(SealedMasked { key_id, blob })
    }

    /// `meta` with its `maskedValue` decrypted. A blob that does not open (tampered, or
    /// under a key this process cannot load) leaves it absent and is logged; metadata is
    /// still answered.
    pub(crate) async fn unsealed(&self, mut meta: SecretMetadata) -> SecretMetadata {
        if meta.sealed_masked.is_none() {
            return meta;
        }
        if let Some(shown) = self.open_masked(&meta).await {
            meta.masked_value = Some(shown);
            return meta;
        }
        // A cached row may predate a re-encryption by another process: read it again.
        if let Ok(Some(fresh)) = self.inner.repo.find(&meta.id).await
            && fresh.metadata.current_version == meta.current_version
            && fresh.metadata.sealed_masked != meta.sealed_masked
        {
            meta.sealed_masked = fresh.metadata.sealed_masked;
            meta.masked_value = self.open_masked(&meta).await;
        }
        if meta.masked_value.is_none() {
            tracing::error!(
                secret_id = %meta.id,
                "the masked display of a secret could not be decrypted"
            );
        }
        meta
    }

    async fn open_masked(&self, meta: &SecretMetadata) -> Option<String> {
        let sealed = meta.sealed_masked.as_ref()?;
        let plain = self
            .inner
            .keys
            .decrypt_masked(&sealed.key_id, &meta.id, meta.current_version, &sealed.blob)
            .await
            .ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }

    /// The current value of a secret. Soft-deleted secrets are not found; expired ones
    /// answer SECRET_EXPIRED.
    pub async fn get_secret(&self, id: &SecretId, ctx: &SecretContext) -> Result<SecretValue> {
        Ok(self.get_secret_value(id, ctx).await?.value)
    }

    /// The current value with the secret's id, name and version.
    pub async fn get_secret_value(
        &self,
        id: &SecretId,
        ctx: &SecretContext,
    ) -> Result<VersionedValue> {
        check_context(ctx)?;
        self.read_audited(id, None, ctx).await
    }

    /// The value of one version of a secret.
    pub async fn get_secret_version(
        &self,
        id: &SecretId,
        version: i64,
        ctx: &SecretContext,
    ) -> Result<VersionedValue> {
        check_context(ctx)?;
        self.read_audited(id, Some(version), ctx).await
    }

    /// The current value, or `None` when the secret does not exist or is soft-deleted.
    pub async fn get_secret_or_none(
        &self,
        id: &SecretId,
        ctx: &SecretContext,
    ) -> Result<Option<SecretValue>> {
        match self.get_secret(id, ctx).await {
            Ok(v) => Ok(Some(v)),
            Err(SecretError::SecretNotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The current values of several secrets, keyed by id, in a fixed number of queries.
    /// Ids that do not exist, are soft-deleted or that the caller cannot see are left out;
    /// any other failure (denied, expired, undecryptable) fails the whole call.
    pub async fn get_secrets(
        &self,
        ids: &[SecretId],
        ctx: &SecretContext,
    ) -> Result<BTreeMap<SecretId, SecretValue>> {
        check_context(ctx)?;
        let now = self.now();
        let records = self.inner.repo.find_many(ids).await?;
        let found: Vec<&str> = records.iter().map(|r| r.metadata.id.as_str()).collect();
        let grants = self.inner.repo.grants_on(&found).await?;
        let mut live = Vec::with_capacity(records.len());
        for r in records {
            let own: Vec<AccessGrant> = grants
                .iter()
                .filter(|g| g.secret_id == r.metadata.id)
                .cloned()
                .collect();
            let refused = match decide(&ctx.principal, Action::Read, &r.metadata, &own, now) {
                Decision::Invisible => continue,
                d => enforce(d, Action::Read, &r.metadata.id).err(),
            };
            if r.metadata.is_deleted() && refused.is_none() {
                continue;
            }
            let refused = refused.or_else(|| {
                r.metadata
                    .is_expired_at(now)
                    .then(|| SecretError::SecretExpired {
                        id: r.metadata.id.to_string(),
                    })
            });
            if let Some(err) = refused {
                let event = AuditEvent::new(E::SecretRead).on(&r.metadata);
                return Err(self.audit_failure(event, err, ctx, false).await);
            }
            live.push(r.metadata);
        }
        let pairs: Vec<(SecretId, i64)> = live
            .iter()
            .map(|m| (m.id.clone(), m.current_version))
            .collect();
        let versions = self.inner.repo.find_versions(&pairs).await?;
        let mut out = BTreeMap::new();
        for v in versions {
            let Some(meta) = live.iter().find(|m| m.id == v.secret_id) else {
                continue;
            };
            let event = AuditEvent::new(E::SecretRead).on(meta);
            let value = self
                .audited(event, ctx, self.retrieve(meta, v.version, &v.stored))
                .await?;
            out.insert(meta.id.clone(), (meta, v.version, value));
        }
        let reads: Vec<(&SecretMetadata, i64)> = out
            .values()
            .map(|(meta, version, _)| (*meta, *version))
            .collect();
        self.record_reads(&reads, ctx).await?;
        Ok(out
            .into_iter()
            .map(|(id, (_, _, value))| (id, value))
            .collect())
    }

    /// The value of `version` of `meta` from its backend. When the read fails and a
    /// migration has meanwhile moved the secret to another vault (between reading its row
    /// and its version, or since a cache took them), the row and version are read again
    /// once and the value is read from the new vault.
    pub(crate) async fn retrieve(
        &self,
        meta: &SecretMetadata,
        version: i64,
        stored: &secret_store::StoredValue,
    ) -> Result<SecretValue> {
        let err = match self.retrieve_from(meta, version, stored).await {
            Ok(value) => return Ok(value),
            Err(err) => err,
        };
        let Some(now) = self.inner.repo.find(&meta.id).await? else {
            return Err(err);
        };
        if now.metadata.vault_id == meta.vault_id {
            return Err(err);
        }
        let v = self
            .inner
            .repo
            .find_version(&meta.id, version)
            .await?
            .ok_or(err)?;
        self.retrieve_from(&now.metadata, version, &v.stored).await
    }

    async fn retrieve_from(
        &self,
        meta: &SecretMetadata,
        version: i64,
        stored: &secret_store::StoredValue,
    ) -> Result<SecretValue> {
        self.backend(meta)
            .await?
            .retrieve_value(
                ValueTarget {
                    secret_id: &meta.id,
                    secret_name: &meta.name,
                    version,
                },
                stored,
            )
            .await
            .map_err(SecretError::from)
    }

    /// A secret's metadata (never its value). Soft-deleted secrets are returned too, with
    /// `deletedAt` set, so they can be restored.
    pub async fn get_metadata(&self, id: &SecretId, ctx: &SecretContext) -> Result<SecretMetadata> {
        check_context(ctx)?;
        let mut meta = self
            .audited_view(id, ctx, self.authorized(id, ctx, Action::ViewMetadata))
            .await?;
        let usage = self.inner.audit_store.usage_summary(id).await?;
        meta.usage = Some(secret_core::model::SecretUsageInfo {
            last_used_at: usage.last_used_at,
            consumer_modules: usage.modules,
        });
        Ok(self.unsealed(meta).await)
    }

    /// Secrets visible in the caller's context, filtered and paged in SQL.
    pub async fn list_secrets(
        &self,
        params: &ListSecretsParams,
        ctx: &SecretContext,
    ) -> Result<Page<SecretMetadata>> {
        check_context(ctx)?;
        let (page, limit) = params.paging()?;
        let tags = normalize_tags(&params.tags)?;
        if params
            .search
            .as_ref()
            .is_some_and(|s| s.chars().count() > 255)
        {
            return Err(SecretError::validation(
                "search",
                "must be at most 255 characters",
            ));
        }
        let filter = SecretFilter {
            visibility: VisibilityFilter::for_principal(&ctx.principal),
            now: self.now(),
            scope: params.scope,
            secret_type: params.secret_type,
            tags,
            search: params.search.clone(),
            include_deleted: params.include_deleted,
            page,
            limit,
        };
        let mut found = self.inner.repo.list(&filter).await?;
        // Each masked display is a small blob on the secret's row: no value is fetched.
        let mut items = Vec::with_capacity(found.items.len());
        for meta in std::mem::take(&mut found.items) {
            items.push(self.unsealed(meta).await);
        }
        found.items = items;
        Ok(found)
    }

    /// A secret's version history, newest first.
    pub async fn list_versions(
        &self,
        id: &SecretId,
        ctx: &SecretContext,
    ) -> Result<Vec<SecretVersionInfo>> {
        check_context(ctx)?;
        let meta = self
            .audited_view(id, ctx, self.authorized(id, ctx, Action::ViewMetadata))
            .await?;
        Ok(self
            .inner
            .repo
            .list_versions(id, meta.current_version)
            .await?)
    }

    /// A live, unexpired secret's metadata, once the caller may read its value.
    async fn readable(&self, snap: &Snapshot, ctx: &SecretContext) -> Result<()> {
        let meta = &snap.metadata;
        let now = self.now();
        enforce(
            decide(&ctx.principal, Action::Read, meta, &snap.grants, now),
            Action::Read,
            &meta.id,
        )?;
        if meta.is_deleted() {
            return Err(not_found(&meta.id));
        }
        if meta.is_expired_at(now) {
            return Err(SecretError::SecretExpired {
                id: meta.id.to_string(),
            });
        }
        Ok(())
    }

    /// What a read needs of a secret: from the cache, or loaded (and cached).
    pub(super) async fn snapshot(&self, id: &str) -> Result<Arc<Snapshot>> {
        match self.inner.cache.get(id) {
            Some(hit) => {
                if hit.refresh {
                    self.refresh_in_background(id);
                }
                Ok(hit.snapshot)
            }
            None => self.load_snapshot(id).await,
        }
    }

    /// Reloads `id`'s cache entry off the caller's path (refresh-ahead). A failed reload
    /// leaves the entry to expire at its TTL.
    fn refresh_in_background(&self, id: &str) {
        let service = self.clone();
        let id = id.to_string();
        tokio::spawn(async move {
            if let Err(err) = service.load_snapshot(&id).await {
                tracing::debug!(secret_id = %id, error = %err, "refresh-ahead reload failed");
            }
        });
    }

    async fn load_snapshot(&self, id: &str) -> Result<Arc<Snapshot>> {
        let epoch = self.inner.cache.epoch();
        let metadata = self
            .inner
            .repo
            .find(id)
            .await?
            .ok_or_else(|| not_found(id))?
            .metadata;
        let grants = self.inner.repo.grants_on(&[id]).await?;
        let current = self
            .inner
            .repo
            .find_version(id, metadata.current_version)
            .await?;
        let snap = Arc::new(Snapshot {
            metadata,
            grants,
            current,
            sealed: std::sync::Mutex::new(None),
        });
        self.inner.cache.put(id, snap.clone(), epoch);
        Ok(snap)
    }

    /// Reads `version` (the current one when `None`) of a readable secret. A cached
    /// reference that no longer decrypts (its data key was destroyed by a key rotation in
    /// another process) is reloaded once.
    async fn read(
        &self,
        id: &str,
        version: Option<i64>,
        ctx: &SecretContext,
    ) -> Result<(VersionedValue, Arc<Snapshot>)> {
        let mut snap = self.snapshot(id).await?;
        for attempt in 0..2 {
            self.readable(&snap, ctx).await?;
            match self.read_version(&snap, version).await {
                Err(SecretError::DecryptionFailed) if attempt == 0 => {
                    self.inner.cache.invalidate(id);
                    snap = self.load_snapshot(id).await?;
                }
                // A migration may have moved the secret to another vault between reading
                // its row and its version (or since the cache took them): read both again.
                Err(err) if attempt == 0 => {
                    self.inner.cache.invalidate(id);
                    let fresh = self.load_snapshot(id).await?;
                    if fresh.metadata.vault_id == snap.metadata.vault_id {
                        return Err(err);
                    }
                    snap = fresh;
                }
                other => return other.map(|v| (v, snap)),
            }
        }
        Err(SecretError::DecryptionFailed)
    }

    /// A value read with its audit: refusals and failures are recorded; on success the
    /// SECRET_READ record and the usage row are committed before the value is handed
    /// over, and if they cannot be, the read fails and the value is dropped.
    async fn read_audited(
        &self,
        id: &str,
        version: Option<i64>,
        ctx: &SecretContext,
    ) -> Result<VersionedValue> {
        let event = AuditEvent::new(E::SecretRead).on_id(id);
        let (value, snap) = self
            .audited(event, ctx, self.read(id, version, ctx))
            .await?;
        self.record_reads(&[(&snap.metadata, value.version)], ctx)
            .await?;
        Ok(value)
    }

    async fn read_version(&self, snap: &Snapshot, version: Option<i64>) -> Result<VersionedValue> {
        let meta = &snap.metadata;
        let version = version.unwrap_or(meta.current_version);
        // A sealed copy is only ever kept of an external vault's current value; served from
        // it, a read needs neither the vault nor its client (whose making may call the vault,
        // e.g. to look up its token).
        if version == meta.current_version
            && let Some(value) = self.cached_external(snap, version).await
        {
            return Ok(VersionedValue {
                id: meta.id.clone(),
                name: meta.name.clone(),
                version,
                value,
            });
        }
        let not_found = || SecretError::VersionNotFound {
            id: meta.id.to_string(),
            version,
        };
        let stored = match &snap.current {
            Some(current) if current.version == version => current.clone(),
            _ => self
                .inner
                .repo
                .find_version(&meta.id, version)
                .await?
                .ok_or_else(not_found)?,
        };
        let backend = self.backend(meta).await?;
        let cacheable = !backend.keeps_values_in_database() && version == meta.current_version;
        let value = backend
            .retrieve_value(
                ValueTarget {
                    secret_id: &meta.id,
                    secret_name: &meta.name,
                    version,
                },
                &stored.stored,
            )
            .await?;
        if cacheable {
            let (key_id, blob) =
                self.inner
                    .keys
                    .encrypt(&meta.id, version, &value.to_json_bytes()?)?;
            *snap.sealed.lock().unwrap_or_else(|p| p.into_inner()) = Some(SealedValue {
                version,
                key_id,
                blob,
            });
        }
        Ok(VersionedValue {
            id: meta.id.clone(),
            name: meta.name.clone(),
            version,
            value,
        })
    }

    /// The current value of an external secret from the cache entry, if it holds one that
    /// still opens.
    async fn cached_external(&self, snap: &Snapshot, version: i64) -> Option<SecretValue> {
        let sealed = snap
            .sealed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .filter(|s| s.version == version)?;
        let plain = self
            .inner
            .keys
            .decrypt(&sealed.key_id, &snap.metadata.id, version, &sealed.blob)
            .await
            .ok()?;
        SecretValue::from_json_bytes(&plain).ok()
    }
}
