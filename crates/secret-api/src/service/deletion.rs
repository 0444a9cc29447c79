//! Soft deletion, restoring within the recovery period, and permanent deletion.

use chrono::Duration;
use secret_access::Action;
use secret_audit::AuditEvent;
use secret_core::SecretAuditEventType as E;
use secret_core::limits::RECOVERY_PERIOD_DAYS;
use secret_core::model::SecretMetadata;
use secret_core::{SecretContext, SecretError};

use super::check::check_context;
use super::{Result, SecretService};

/// How recent an authentication must be for a permanent delete (§14.3).
const REAUTHENTICATION_WINDOW: Duration = Duration::minutes(5);

impl SecretService {
    /// Soft-deletes a secret: it disappears from reads and listings and can be restored for
    /// 30 days. Its name stays taken until it is purged.
    pub async fn delete_secret(
        &self,
        id: &str,
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
        id: &str,
        expected_version: Option<i64>,
        ctx: &SecretContext,
    ) -> Result<SecretMetadata> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let current = self
            .lock_live(&mut tx, id, expected_version, ctx, Action::Delete)
            .await?;
        tx.soft_delete(
            id,
            ctx.user_id(),
            now,
            now + Duration::days(RECOVERY_PERIOD_DAYS),
            Some(current.current_version),
        )
        .await?;
        let deleted = self
            .audit_in(&mut tx, id, AuditEvent::new(E::SecretDeleted), ctx)
            .await?;
        tx.commit().await?;
        self.inner.cache.invalidate(id);
        tracing::info!(secret_id = %id, "secret soft-deleted");
        Ok(deleted)
    }

    /// Restores a soft-deleted secret within its recovery period.
    pub async fn restore_secret(&self, id: &str, ctx: &SecretContext) -> Result<SecretMetadata> {
        check_context(ctx)?;
        let event = AuditEvent::new(E::SecretRestored).on_id(id);
        let meta = self.audited(event, ctx, self.restore_op(id, ctx)).await?;
        Ok(self.unsealed(meta).await)
    }

    async fn restore_op(&self, id: &str, ctx: &SecretContext) -> Result<SecretMetadata> {
        let now = self.now();
        let mut tx = self.begin().await?;
        self.lock_authorized(&mut tx, id, ctx, Action::Delete)
            .await?;
        tx.restore(id, ctx.user_id(), now).await?;
        let restored = self
            .audit_in(&mut tx, id, AuditEvent::new(E::SecretRestored), ctx)
            .await?;
        tx.commit().await?;
        self.inner.cache.invalidate(id);
        tracing::info!(secret_id = %id, "secret restored");
        Ok(restored)
    }

    /// Deletes a soft-deleted secret for good, with every version and grant. Needs an
    /// authentication less than five minutes old (REAUTHENTICATION_REQUIRED otherwise); a
    /// secret that is not soft-deleted first is CONFLICT.
    pub async fn permanently_delete_secret(&self, id: &str, ctx: &SecretContext) -> Result<()> {
        check_context(ctx)?;
        let event = AuditEvent::new(E::SecretPermanentlyDeleted).on_id(id);
        self.audited(event, ctx, self.purge_op(id, ctx)).await
    }

    async fn purge_op(&self, id: &str, ctx: &SecretContext) -> Result<()> {
        let now = self.now();
        match ctx.principal.auth_time {
            Some(at) if now - at <= REAUTHENTICATION_WINDOW => {}
            _ => return Err(SecretError::ReauthenticationRequired),
        }
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
        let versions = tx.delete_permanently(id).await?;
        tx.commit().await?;
        self.inner.cache.invalidate(id);
        let stored: Vec<_> = versions.into_iter().map(|v| v.stored).collect();
        self.backend(&meta)
            .await?
            .delete_secret(id, &stored)
            .await?;
        tracing::info!(secret_id = %id, "secret permanently deleted");
        Ok(())
    }
}
