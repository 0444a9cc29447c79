//! Soft deletion, restoring within the recovery period, and permanent deletion.

use chrono::Duration;
use secret_access::Action;
use secret_audit::AuditEvent;
use secret_core::SecretAuditEventType as E;
use secret_core::SecretId;
use secret_core::limits::RECOVERY_PERIOD_DAYS;
use secret_core::model::SecretMetadata;
use secret_core::wire::ChangeKind;
use secret_core::{SecretContext, SecretError};
use secret_store::Change;

use secret_store::{PendingOperation, SoftDeletion, WriteTx};

use super::check::{check_context, require_recent_authentication};
use super::{Result, SecretService, check_expected};

impl SecretService {
    /// Soft-deletes a secret: it disappears from reads and listings and can be restored for
    /// 30 days. Its name stays taken until it is purged.
    pub async fn delete_secret(
        &self,
        id: &SecretId,
        expected_version: Option<i64>,
        ctx: &SecretContext,
    ) -> Result<SecretMetadata> {
        check_context(ctx)?;
        let event = AuditEvent::new(E::SecretDeleted).on_id(id);
        let meta = self
            .audited(event, ctx, self.delete_op(id, expected_version, ctx))
            .await?;
        Ok(self.unsealed(meta).await)
    }

    async fn delete_op(
        &self,
        id: &SecretId,
        expected_version: Option<i64>,
        ctx: &SecretContext,
    ) -> Result<SecretMetadata> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let current = self.lock_live(&mut tx, id, ctx, Action::Delete).await?;
        check_expected(expected_version, current.current_version)?;
        tx.soft_delete(
            id,
            &SoftDeletion {
                actor_id: ctx.user_id(),
                now,
                recovery_deadline: now + Duration::days(RECOVERY_PERIOD_DAYS),
                expected_version: Some(current.current_version),
            },
        )
        .await?;
        let deleted = self
            .audit_in(&mut tx, id, AuditEvent::new(E::SecretDeleted), ctx)
            .await?;
        let change = Change::secret(
            id.as_str(),
            Some(deleted.current_version),
            ChangeKind::Deleted,
        );
        self.commit_with(tx, &[change]).await?;
        // The vault's own soft delete follows ours; reads are refused by ours either way,
        // so a vault that cannot be reached now only delays its flag.
        let backend = self.backend(&current).await?;
        if !backend.keeps_values_in_database() {
            let stored = self.stored_versions(id).await?;
            if let Err(err) = backend.soft_delete(id, &stored).await {
                tracing::warn!(secret_id = %id, error = %SecretError::from(err),
                    "the vault's copies of a soft-deleted secret could not be marked deleted");
            }
        }
        tracing::info!(secret_id = %id, "secret soft-deleted");
        Ok(deleted)
    }

    /// Restores a soft-deleted secret within its recovery period.
    pub async fn restore_secret(
        &self,
        id: &SecretId,
        ctx: &SecretContext,
    ) -> Result<SecretMetadata> {
        check_context(ctx)?;
        let event = AuditEvent::new(E::SecretRestored).on_id(id);
        let meta = self.audited(event, ctx, self.restore_op(id, ctx)).await?;
        Ok(self.unsealed(meta).await)
    }

    async fn restore_op(&self, id: &SecretId, ctx: &SecretContext) -> Result<SecretMetadata> {
        let now = self.now();
        // The vault's copies are undeleted first: if that fails, nothing changes.
        let (meta, _) = {
            let mut tx = self.begin().await?;
            self.lock_authorized(&mut tx, id, ctx, Action::Delete)
                .await?
        };
        let backend = self.backend(&meta).await?;
        if meta.is_deleted() && !backend.keeps_values_in_database() {
            let stored = self.stored_versions(id).await?;
            backend.restore(id, &stored).await?;
        }
        let mut tx = self.begin().await?;
        self.lock_authorized(&mut tx, id, ctx, Action::Delete)
            .await?;
        tx.restore(id, ctx.user_id(), now).await?;
        let restored = self
            .audit_in(&mut tx, id, AuditEvent::new(E::SecretRestored), ctx)
            .await?;
        let change = Change::secret(
            id.as_str(),
            Some(restored.current_version),
            ChangeKind::Updated,
        );
        self.commit_with(tx, &[change]).await?;
        tracing::info!(secret_id = %id, "secret restored");
        Ok(restored)
    }

    /// Deletes a soft-deleted secret for good, with every version and grant. Needs an
    /// authentication less than five minutes old (REAUTHENTICATION_REQUIRED otherwise); a
    /// secret that is not soft-deleted first is CONFLICT.
    pub async fn permanently_delete_secret(
        &self,
        id: &SecretId,
        ctx: &SecretContext,
    ) -> Result<()> {
        check_context(ctx)?;
        let event = AuditEvent::new(E::SecretPermanentlyDeleted).on_id(id);
        self.audited(event, ctx, self.purge_op(id, ctx)).await
    }

    async fn purge_op(&self, id: &SecretId, ctx: &SecretContext) -> Result<()> {
        let now = self.now();
        require_recent_authentication(ctx, now)?;
        let mut tx = self.begin().await?;
        let (meta, _) = self
            .lock_authorized(&mut tx, id, ctx, Action::Delete)
            .await?;
        if !meta.is_deleted() {
            return Err(SecretError::Conflict {
                message: format!(
                    "secret {id} is not soft-deleted: delete it first, then delete it permanently"
                ),
            });
        }
        tx.append_audit(&[self.entry(
            AuditEvent::new(E::SecretPermanentlyDeleted)
                .on(&meta)
                .detail("versions", meta.current_version),
            ctx,
        )])
        .await?;
        tx.delete_usage(id).await?;
        self.purge_in(tx, &meta, ctx).await?;
        tracing::info!(secret_id = %id, "secret permanently deleted");
        Ok(())
    }

    /// Deletes `meta`'s rows for good in `tx` (whose audit record is already appended),
    /// commits, then removes the vault's copies. On an external vault the purge is
    /// recorded as a pending write committed with the deletion: if the vault cannot be
    /// reached, the reconciliation job removes its copies later.
    pub(crate) async fn purge_in(
        &self,
        mut tx: WriteTx,
        meta: &SecretMetadata,
        ctx: &SecretContext,
    ) -> Result<()> {
        let id = meta.id.as_str();
        let backend = self.backend(meta).await?;
        if !backend.keeps_values_in_database() {
            tx.stage_write(&secret_store::StagedWrite {
                secret_id: id,
                version: meta.current_version,
                vault_id: &meta.vault_id,
                operation: PendingOperation::Purge,
                actor_id: ctx.user_id(),
                now: self.now(),
            })
            .await?;
        }
        let versions = tx.delete_permanently(id).await?;
        self.commit_with(tx, &[Change::secret(id, None, ChangeKind::Deleted)])
            .await?;
        let stored: Vec<_> = versions.into_iter().map(|v| v.stored).collect();
        self.purge_from_vault(id, meta.current_version, &stored, backend.as_ref())
            .await;
        Ok(())
    }

    /// Where every version of secret `id` is kept.
    async fn stored_versions(&self, id: &str) -> Result<Vec<secret_store::StoredValue>> {
        Ok(self
            .inner
            .repo
            .versions_of(id)
            .await?
            .into_iter()
            .map(|v| v.stored)
            .collect())
    }

    /// Removes a permanently deleted secret's copies from its backend, then the pending
    /// row that recorded the need; a failure is logged and left to reconciliation.
    pub(crate) async fn purge_from_vault(
        &self,
        id: &str,
        version: i64,
        stored: &[secret_store::StoredValue],
        backend: &dyn secret_store::StorageBackend,
    ) {
        // Only an external vault's purge was recorded as a pending write.
        let external = !backend.keeps_values_in_database();
        match backend.delete_secret(id, stored).await {
            Ok(()) if external => {
                if let Err(err) = self.inner.repo.drop_write(id, version).await {
                    tracing::warn!(secret_id = %id, error = %SecretError::from(err),
                        "the pending purge of a deleted secret could not be cleared");
                }
            }
            Ok(()) => {}
            Err(err) => tracing::warn!(secret_id = %id, error = %SecretError::from(err),
                "a deleted secret's vault copies could not be removed yet; left for reconciliation"),
        }
    }
}
