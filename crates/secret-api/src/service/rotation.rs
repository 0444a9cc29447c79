//! The steps of automatic rotation (§8.2) that touch storage, for the scheduler's rotation
//! job (`secret-lifecycle`), which runs the rotation handler between them:
//!
//! claim ([`SecretService::claim_rotation`], a lease on the secret's row) → the current
//! value ([`SecretService::rotation_value`]) → the handler's `rotate` → stage
//! ([`SecretService::stage_rotation`]: validate, then store as the pending version, on an
//! external vault after recording a pending write) → the handler's `test` → complete
//! ([`SecretService::complete_rotation`]: in one transaction, lock the row, check that the
//! secret has not moved on, write the version, advance the pointer, clear the claim,
//! audit SECRET_ROTATED). A failure at any step leaves the current version untouched:
//! [`SecretService::abandon_rotation`] drops what was staged and
//! [`SecretService::record_rotation_failure`] records it (outcome FAILURE,
//! `rotationFailures`, `lastRotationError`, the retry time).

use secret_core::wire::ChangeKind;
use secret_store::Change;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use secret_core::SecretId;
use secret_core::model::SecretMetadata;
use secret_core::{SecretAuditEventType as E, SecretError, SecretValue};
use secret_store::{
    NewVersion, PendingOperation, StagedWrite, StorageBackend, StoredValue, ValueTarget,
};

use super::commit::VaultWrite;
use super::jobs::{SCHEDULER_ACTOR, scheduler_ctx, scheduler_event};
use super::{CheckedValue, NextVersion, Result, SecretService, check_value};

/// A new value stored as a secret's pending version, not yet current.
pub struct StagedRotation {
    meta: SecretMetadata,
    version: i64,
    checked: CheckedValue,
    stored: StoredValue,
    external: bool,
    backend: Arc<dyn StorageBackend>,
}

impl std::fmt::Debug for StagedRotation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StagedRotation")
            .field("secret_id", &self.meta.id)
            .field("version", &self.version)
            .field("external", &self.external)
            .finish_non_exhaustive()
    }
}

impl StagedRotation {
    /// The version it becomes.
    pub fn version(&self) -> i64 {
        self.version
    }

    /// The new value (for the handler's test step).
    pub fn value(&self) -> &SecretValue {
        &self.checked.value
    }
}

impl SecretService {
    /// The row of `meta`'s current version.
    async fn current_record(&self, meta: &SecretMetadata) -> Result<secret_store::VersionRecord> {
        self.inner
            .repo
            .find_version(&meta.id, meta.current_version)
            .await?
            .ok_or_else(|| SecretError::VersionNotFound {
                id: meta.id.to_string(),
                version: meta.current_version,
            })
    }

    /// Claims `id` for rotation until `lease` from now; false when another scheduler
    /// holds an unexpired claim or the secret is no longer due.
    pub async fn claim_rotation(&self, id: &SecretId, lease: Duration) -> Result<bool> {
        let now = self.now();
        Ok(self.inner.repo.claim_rotation(id, now, now + lease).await?)
    }

    /// The current value of a claimed secret, for its rotation handler.
    pub async fn rotation_value(&self, meta: &SecretMetadata) -> Result<SecretValue> {
        let current = self.current_record(meta).await?;
        self.retrieve(meta, meta.current_version, &current.stored)
            .await
    }

    /// Validates `new` as `meta`'s type and stores it as the next, pending version. On an
    /// external vault a pending write is recorded first (ARCHITECTURE §7): if this process
    /// stops after the vault took it, reconciliation adopts it, so a value the handler may
    /// already have applied is never lost.
    pub async fn stage_rotation(
        &self,
        meta: &SecretMetadata,
        new: SecretValue,
    ) -> Result<StagedRotation> {
        let now = self.now();
        let checked = check_value(meta.secret_type, new, now)?;
        let backend = self.backend(meta).await?;
        let version = meta.current_version + 1;
        let current = self.current_record(meta).await?;
        let external = !backend.keeps_values_in_database();
        let stored = if external {
            let write = VaultWrite {
                staged: StagedWrite {
                    secret_id: &meta.id,
                    version,
                    vault_id: &meta.vault_id,
                    operation: PendingOperation::Update,
                    actor_id: SCHEDULER_ACTOR,
                    now,
                },
                secret_name: &meta.name,
                previous: Some(&current.stored),
            };
            self.write_to_vault(
                self.begin().await?,
                &write,
                &checked.value,
                backend.as_ref(),
            )
            .await?
        } else {
            let target = ValueTarget {
                secret_id: &meta.id,
                secret_name: &meta.name,
                version,
            };
            let stored = backend
                .store_value(target, &checked.value, Some(&current.stored))
                .await?;
            self.inner
                .repo
                .put_pending(&meta.id, version, &stored, now)
                .await?;
            stored
        };
        Ok(StagedRotation {
            meta: meta.clone(),
            version,
            checked,
            stored,
            external,
            backend,
        })
    }

    /// Drops a staged version that will not become current (its test failed): an
    /// external vault's copy is removed and its pending write settled; the local pending
    /// version goes with [`SecretService::record_rotation_failure`].
    pub async fn abandon_rotation(&self, staged: StagedRotation) {
        if staged.external {
            self.abandon_write(
                &staged.meta.id,
                staged.version,
                Some(staged.stored),
                staged.backend.as_ref(),
            )
            .await;
        }
    }

    /// Makes the staged version current, if the secret has not moved on since it was
    /// staged, with a SECRET_ROTATED record naming `handler`; returns the new value (for
    /// the handler's follow-up). On failure the staged version is abandoned.
    pub async fn complete_rotation(
        &self,
        staged: StagedRotation,
        handler: &str,
    ) -> Result<SecretValue> {
        match self.promote(&staged, handler).await {
            Ok(()) => Ok(staged.checked.value),
            Err(err) => {
                self.abandon_rotation(staged).await;
                Err(err)
            }
        }
    }

    async fn promote(&self, staged: &StagedRotation, handler: &str) -> Result<()> {
        let (meta, version, checked) = (&staged.meta, staged.version, &staged.checked);
        let external_stored = staged.external.then(|| staged.stored.clone());
        let now = self.now();
        let ctx = scheduler_ctx();
        let mut tx = self.begin().await?;
        let rec = tx
            .lock_secret(&meta.id)
            .await?
            .ok_or_else(|| SecretError::RotationFailed {
                reason: "the secret was deleted during rotation".to_string(),
            })?;
        let current = rec.metadata;
        if current.is_deleted() || current.current_version + 1 != version {
            return Err(SecretError::RotationFailed {
                reason: "the secret changed during rotation".to_string(),
            });
        }
        let (pending_version, stored) = match external_stored {
            Some(stored) => {
                if !tx.finish_write(&meta.id, version).await? {
                    return Err(SecretError::RotationFailed {
                        reason: "the pending write is missing".to_string(),
                    });
                }
                (version, stored)
            }
            None => {
                tx.take_pending(&meta.id)
                    .await?
                    .ok_or_else(|| SecretError::RotationFailed {
                        reason: "the pending version is missing".to_string(),
                    })?
            }
        };
        if pending_version != version {
            return Err(SecretError::RotationFailed {
                reason: "the pending version does not match".to_string(),
            });
        }
        let current_expiry = current.expires_at;
        let next = NextVersion {
            current: &current,
            checked,
            rotation: true,
            now,
            ctx: &ctx,
        };
        self.advance(&mut tx, &next).await?;
        tx.insert_version(NewVersion {
            secret_id: &meta.id,
            version,
            stored,
            change_reason: Some("Automatic rotation".to_string()),
            created_by_id: SCHEDULER_ACTOR,
            now,
        })
        .await?;
        tx.finish_rotation(&meta.id, None).await?;
        let rotated = tx
            .find(&meta.id)
            .await?
            .map(|r| r.metadata)
            .unwrap_or(current);
        tx.append_audit(&[self.entry(
            scheduler_event(E::SecretRotated)
                .on(&rotated)
                .detail("version", version)
                .detail("handler", handler)
                .detail("changeReason", "Automatic rotation"),
            &ctx,
        )])
        .await?;
        let change = Change::secret(&*meta.id, Some(version), ChangeKind::Updated);
        self.commit_with(tx, &[change]).await?;
        tracing::info!(secret_id = %meta.id, version, handler, "secret rotated automatically");
        if staged.external {
            self.mirror_expiry(&rotated, Some(&staged.stored), current_expiry)
                .await;
        }
        Ok(())
    }

    /// Records a failed automatic rotation of `meta`: drops a local pending version,
    /// releases the claim with `rotationFailures` + 1, `lastRotationError` and the next
    /// attempt at `retry_at`, and writes SECRET_ROTATED with outcome FAILURE. Returns the
    /// recorded reason (the error's message, never a value).
    pub async fn record_rotation_failure(
        &self,
        meta: &SecretMetadata,
        err: &SecretError,
        retry_at: DateTime<Utc>,
    ) -> Result<String> {
        let reason = secret_audit::error_message(err);
        self.inner.repo.drop_pending(&meta.id).await?;
        let mut tx = self.begin().await?;
        tx.finish_rotation(&meta.id, Some((&reason, retry_at)))
            .await?;
        tx.append_audit(&[self.entry(
            scheduler_event(E::SecretRotated)
                .on(meta)
                .detail("handler", meta.lifecycle.rotation_handler.clone())
                .detail("retryAt", retry_at.to_rfc3339())
                .failed(err),
            &scheduler_ctx(),
        )])
        .await?;
        let change = Change::secret(&*meta.id, Some(meta.current_version), ChangeKind::Updated);
        self.commit_with(tx, &[change]).await?;
        tracing::warn!(secret_id = %meta.id, error = %reason, retry_at = %retry_at, "automatic rotation failed");
        Ok(reason)
    }
}
