//! Rotation (§8.2): reminders for MANUAL and NOTIFY_ONLY secrets, and automatic rotation
//! through a registered handler with the protocol described in the parent module.

use chrono::{DateTime, Utc};
use secret_core::model::SecretMetadata;
use secret_core::{RotationStrategy, SecretAuditEventType as E, SecretError};
use secret_lifecycle::notification::{NotificationKind, Notifier};
use secret_lifecycle::policy::rotation_retry_delay;
use secret_lifecycle::rotation::{HandlerRegistry, RotationSubject};
use secret_store::{JobScan, NewVersion, PendingOperation, ValueTarget};

use super::{
    JobReport, LifecycleConfig, ROTATION_REMINDER, Result, SCHEDULER_ACTOR, deliver, notification,
    scheduler_ctx, scheduler_event,
};
use crate::SecretService;
use crate::service::check_value;

impl SecretService {
    /// Handles due rotations (§8.2): a reminder for MANUAL and NOTIFY_ONLY secrets (once
    /// per due date), the handler for AUTOMATIC ones.
    pub async fn run_rotations(
        &self,
        handlers: &HandlerRegistry,
        notifier: &dyn Notifier,
        config: &LifecycleConfig,
    ) -> Result<JobReport> {
        let now = self.now();
        let mut report = JobReport::default();
        let mut scan = JobScan::rotation_due(now);
        loop {
            let page = self.inner.repo.next_page(&mut scan).await?;
            if page.is_empty() {
                break;
            }
            for meta in page {
                report.examined += 1;
                match meta.lifecycle.rotation_strategy {
                    RotationStrategy::Manual | RotationStrategy::NotifyOnly => {
                        if self.remind_rotation(&meta, notifier, now).await? {
                            report.acted += 1;
                        }
                    }
                    RotationStrategy::Automatic => {
                        if !self
                            .inner
                            .repo
                            .claim_rotation(&meta.id, now, now + config.rotation_lease)
                            .await?
                        {
                            continue;
                        }
                        match self.rotate_claimed(&meta, handlers, notifier, now).await {
                            Ok(()) => report.acted += 1,
                            Err(err) => {
                                report.failed += 1;
                                self.record_rotation_failure(&meta, &err, notifier, now)
                                    .await?;
                            }
                        }
                    }
                }
            }
        }
        Ok(report)
    }

    async fn remind_rotation(
        &self,
        meta: &SecretMetadata,
        notifier: &dyn Notifier,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let Some(due) = meta.next_rotation_at else {
            return Ok(false);
        };
        let mut tx = self.begin().await?;
        if !tx
            .record_notice(&meta.id, ROTATION_REMINDER, 0, due, now)
            .await?
        {
            return Ok(false);
        }
        tx.commit().await?;
        let mut n = notification(NotificationKind::RotationDue, meta, now);
        n.message = format!(
            "Secret {} is due for rotation since {}",
            meta.name,
            due.format("%Y-%m-%d %H:%M UTC")
        );
        deliver(notifier, &n).await;
        Ok(true)
    }

    /// The rotation protocol for a secret this scheduler has claimed.
    async fn rotate_claimed(
        &self,
        meta: &SecretMetadata,
        handlers: &HandlerRegistry,
        notifier: &dyn Notifier,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let name = meta
            .lifecycle
            .rotation_handler
            .as_deref()
            .unwrap_or_default();
        let handler = handlers
            .get(name)
            .ok_or_else(|| SecretError::RotationFailed {
                reason: format!("no rotation handler named '{name}' is registered"),
            })?;
        let subject = RotationSubject {
            id: meta.id.clone(),
            name: meta.name.clone(),
            secret_type: meta.secret_type,
            version: meta.current_version,
        };
        let backend = self.backend(meta).await?;
        let current = self
            .inner
            .repo
            .find_version(&meta.id, meta.current_version)
            .await?
            .ok_or_else(|| SecretError::VersionNotFound {
                id: meta.id.clone(),
                version: meta.current_version,
            })?;
        let old = self
            .retrieve(meta, meta.current_version, &current.stored)
            .await?;
        let new = handler.rotate(&subject, &old).await?;
        let checked = check_value(meta.secret_type, new, now)?;
        let version = meta.current_version + 1;
        // An external vault's new version is recorded as a pending write first (ARCHITECTURE
        // §7): if this process stops after the vault took it, reconciliation adopts it, so
        // a value the rotation handler may already have applied is never lost.
        let external = !backend.keeps_values_in_database();
        if external {
            let mut tx = self.begin().await?;
            tx.stage_write(
                &meta.id,
                version,
                &meta.vault_id,
                PendingOperation::Update,
                SCHEDULER_ACTOR,
                now,
            )
            .await?;
            tx.commit().await?;
        }
        let stored = match backend
            .store_value(
                ValueTarget {
                    secret_id: &meta.id,
                    secret_name: &meta.name,
                    version,
                },
                &checked.value,
                Some(&current.stored),
            )
            .await
        {
            Ok(stored) => stored,
            Err(err) => {
                if external {
                    self.abandon_unanswered(
                        &meta.id,
                        version,
                        Some(&current.stored),
                        backend.as_ref(),
                    )
                    .await;
                }
                return Err(err.into());
            }
        };
        if !external {
            self.inner
                .repo
                .put_pending(&meta.id, version, &stored, now)
                .await?;
        }
        let promoted = async {
            handler.test(&subject, &checked.value).await?;
            let external_stored = external.then(|| stored.clone());
            self.promote(
                meta,
                version,
                &checked,
                handler.name(),
                now,
                external_stored,
            )
            .await
        }
        .await;
        if let Err(err) = promoted {
            if external {
                self.abandon_write(&meta.id, version, Some(stored), backend.as_ref())
                    .await;
            }
            return Err(err);
        }
        if let Err(err) = handler.post_rotate(&subject, &checked.value, &old).await {
            // The rotation stands; the handler's follow-up is reported, not undone.
            tracing::warn!(secret_id = %meta.id, error = %err, "post-rotation step failed");
        }
        let mut n = notification(NotificationKind::SecretRotated, meta, now);
        n.message = format!("Secret {} was rotated to version {version}", meta.name);
        deliver(notifier, &n).await;
        Ok(())
    }

    /// Makes the pending `version` current if the secret has not moved on.
    async fn promote(
        &self,
        meta: &SecretMetadata,
        version: i64,
        checked: &crate::service::CheckedValue,
        handler: &str,
        now: DateTime<Utc>,
        external_stored: Option<secret_store::StoredValue>,
    ) -> Result<()> {
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
        self.advance(&mut tx, &current, checked, true, now, &ctx)
            .await?;
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
        tx.commit().await?;
        self.inner.cache.invalidate(&meta.id);
        tracing::info!(secret_id = %meta.id, version, handler, "secret rotated automatically");
        Ok(())
    }

    async fn record_rotation_failure(
        &self,
        meta: &SecretMetadata,
        err: &SecretError,
        notifier: &dyn Notifier,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let reason = secret_audit::error_message(err);
        let retry_at = now + rotation_retry_delay(meta.rotation_failures + 1);
        self.inner.repo.drop_pending(&meta.id).await?;
        let ctx = scheduler_ctx();
        let mut tx = self.begin().await?;
        tx.finish_rotation(&meta.id, Some((&reason, retry_at)))
            .await?;
        tx.append_audit(&[self.entry(
            scheduler_event(E::SecretRotated)
                .on(meta)
                .detail("handler", meta.lifecycle.rotation_handler.clone())
                .detail("retryAt", retry_at.to_rfc3339())
                .failed(err),
            &ctx,
        )])
        .await?;
        tx.commit().await?;
        self.inner.cache.invalidate(&meta.id);
        tracing::warn!(secret_id = %meta.id, error = %reason, retry_at = %retry_at, "automatic rotation failed");
        let mut n = notification(NotificationKind::RotationFailed, meta, now);
        n.message = format!(
            "Rotation of secret {} failed ({reason}); the current version is unchanged; retrying after {}",
            meta.name,
            retry_at.format("%Y-%m-%d %H:%M UTC")
        );
        deliver(notifier, &n).await;
        Ok(())
    }
}
