//! Reconciliation of pending writes (ARCHITECTURE §7): a write to an external vault whose
//! process stopped between the vault write and the transaction that makes it visible
//! leaves its pending row behind. Once the row is older than the grace period (so no
//! write still in flight is touched), this job settles it:
//!
//! - a new secret that never became visible, or a permanently deleted secret's copies:
//!   whatever the vault holds of it is deleted;
//! - a further version: when the vault holds it (the version after the current one), it is
//!   adopted as the next version, validated as its type and audited as SECRET_UPDATED with
//!   action RECONCILED; otherwise there is nothing to undo;
//! - then the row is cleared. A vault that cannot be reached keeps the row for the next run.

use chrono::Duration;
use secret_core::SecretAuditEventType as E;
use secret_core::SecretValue;
use secret_core::model::SecretMetadata;
use secret_core::wire::ChangeKind;
use secret_store::Change;
use secret_store::{PendingWrite, StorageBackend, ValueTarget};

use super::jobs::{JobReport, scheduler_ctx, scheduler_event};
use super::{NextVersion, Result, SecretService, VersionNote, check_value};

impl SecretService {
    /// Settles pending writes older than `grace` (the scheduler's `reconcile` job); see
    /// the module documentation.
    pub async fn reconcile_pending_writes(&self, grace: Duration) -> Result<JobReport> {
        let mut report = JobReport::default();
        let stale = self.inner.repo.stale_writes(self.now() - grace).await?;
        for pending in stale {
            report.examined += 1;
            match self.reconcile_one(&pending).await {
                Ok(()) => report.acted += 1,
                Err(err) => {
                    report.failed += 1;
                    tracing::warn!(secret_id = %pending.secret_id, version = pending.version,
                        error = %err, "a pending write could not be settled; retried next run");
                }
            }
        }
        Ok(report)
    }

    async fn reconcile_one(&self, pending: &PendingWrite) -> Result<()> {
        let backend = self.inner.registry.backend(&pending.vault_id).await?;
        let id = pending.secret_id.as_str();
        let Some(rec) = self.inner.repo.find(id).await? else {
            // Never made visible (CREATE) or already deleted here (PURGE).
            backend.delete_secret(id, &[]).await?;
            self.inner.repo.drop_write(id, pending.version).await?;
            tracing::info!(secret_id = %id, operation = %pending.operation,
                "removed the vault copies of a secret that is not in the database");
            return Ok(());
        };
        let meta = rec.metadata;
        if meta.current_version + 1 == pending.version {
            if pending.operation == secret_store::secrets::ABANDONED {
                // Its caller was told it failed: whatever the vault took of it goes.
                let previous = self
                    .inner
                    .repo
                    .find_version(id, meta.current_version)
                    .await?
                    .map(|v| v.stored);
                if let Some(found) = backend.find_written(id, previous.as_ref()).await? {
                    backend.remove_versions(id, &[found]).await?;
                }
            } else if pending.operation == "UPDATE" {
                self.adopt(&meta, pending, backend.as_ref()).await?;
            }
        }
        self.inner.repo.drop_write(id, pending.version).await?;
        Ok(())
    }

    /// Makes the vault's copy of a pending version the secret's next version, if the vault
    /// holds one.
    async fn adopt(
        &self,
        meta: &SecretMetadata,
        pending: &PendingWrite,
        backend: &dyn StorageBackend,
    ) -> Result<()> {
        let previous = self
            .inner
            .repo
            .find_version(&meta.id, meta.current_version)
            .await?
            .map(|v| v.stored);
        let Some(stored) = backend.find_written(&meta.id, previous.as_ref()).await? else {
            return Ok(());
        };
        let target = ValueTarget {
            secret_id: &meta.id,
            secret_name: &meta.name,
            version: pending.version,
        };
        let value: SecretValue = backend.retrieve_value(target, &stored).await?;
        let now = self.now();
        let checked = check_value(meta.secret_type, value, now)?;
        let ctx = scheduler_ctx();
        let mut tx = self.begin().await?;
        let Some(locked) = tx.lock_secret(&meta.id).await? else {
            return Ok(());
        };
        if locked.metadata.current_version != meta.current_version
            || !tx.finish_write(&meta.id, pending.version).await?
        {
            // Something else settled it meanwhile.
            return Ok(());
        }
        let new = VersionNote {
            reason: "Reconciled after an interrupted write".to_string(),
            rotation: false,
            event: scheduler_event(E::SecretUpdated)
                .action("RECONCILED")
                .detail("pendingSince", pending.created_at.to_rfc3339())
                .detail("requestedBy", pending.created_by_id.clone()),
            expected: None,
        };
        let next = NextVersion {
            current: &locked.metadata,
            checked: &checked,
            rotation: false,
            now,
            ctx: &ctx,
        };
        self.promote_version(&mut tx, &next, stored, &new).await?;
        let change = Change::secret(&*meta.id, Some(pending.version), ChangeKind::Updated);
        self.commit_with(tx, &[change]).await?;
        tracing::info!(secret_id = %meta.id, version = pending.version,
            "adopted the vault's copy of an interrupted write");
        Ok(())
    }
}
