//! Rotation (§8.2): reminders for MANUAL and NOTIFY_ONLY secrets, and automatic rotation
//! through a registered handler:
//!
//! claim the secret (a lease on its row) → its current value → the handler's `rotate` →
//! the service validates and stages the new value as the pending version → the handler's
//! `test` → the service makes it current in one transaction that re-checks the secret has
//! not moved on (SECRET_ROTATED) → the handler's `post_rotate`, notify. A failure at any
//! step before the last transaction leaves the current version untouched, drops the
//! staged version, records the failure (outcome FAILURE, `rotationFailures`,
//! `lastRotationError`), schedules a retry with backoff, and notifies ROTATION_FAILED.

use chrono::{DateTime, Utc};
use secret_api::{JobReport, JobScan, SecretService};
use secret_core::model::SecretMetadata;
use secret_core::{RotationStrategy, SecretError};

use super::{LifecycleConfig, deliver, next_page, notification};
use crate::notification::{NotificationKind, Notifier};
use crate::policy::rotation_retry_delay;
use crate::rotation::{HandlerRegistry, RotationSubject};

pub(super) async fn run(
    service: &SecretService,
    handlers: &HandlerRegistry,
    notifier: &dyn Notifier,
    config: &LifecycleConfig,
) -> Result<JobReport, SecretError> {
    let now = service.now();
    let mut report = JobReport::default();
    let mut scan = JobScan::rotation_due(now);
    while let Some(page) = next_page(service, &mut scan).await? {
        for meta in page {
            report.examined += 1;
            match meta.lifecycle.rotation_strategy {
                RotationStrategy::Manual | RotationStrategy::NotifyOnly => {
                    if remind(service, &meta, notifier, now).await? {
                        report.acted += 1;
                    }
                }
                RotationStrategy::Automatic => {
                    if !service
                        .claim_rotation(&meta.id, config.rotation_lease)
                        .await?
                    {
                        continue;
                    }
                    match rotate_claimed(service, &meta, handlers, notifier, now).await {
                        Ok(()) => report.acted += 1,
                        Err(err) => {
                            report.failed += 1;
                            record_failure(service, &meta, &err, notifier, now).await?;
                        }
                    }
                }
            }
        }
    }
    Ok(report)
}

async fn remind(
    service: &SecretService,
    meta: &SecretMetadata,
    notifier: &dyn Notifier,
    now: DateTime<Utc>,
) -> Result<bool, SecretError> {
    let Some(due) = meta.next_rotation_at else {
        return Ok(false);
    };
    if !service.record_rotation_reminder(meta).await? {
        return Ok(false);
    }
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
    service: &SecretService,
    meta: &SecretMetadata,
    handlers: &HandlerRegistry,
    notifier: &dyn Notifier,
    now: DateTime<Utc>,
) -> Result<(), SecretError> {
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
        id: meta.id.to_string(),
        name: meta.name.clone(),
        secret_type: meta.secret_type,
        version: meta.current_version,
    };
    let old = service.rotation_value(meta).await?;
    let new = handler.rotate(&subject, &old).await?;
    let staged = service.stage_rotation(meta, new).await?;
    let version = staged.version();
    if let Err(err) = handler.test(&subject, staged.value()).await {
        service.abandon_rotation(staged).await;
        return Err(err);
    }
    let new = service.complete_rotation(staged, handler.name()).await?;
    if let Err(err) = handler.post_rotate(&subject, &new, &old).await {
        // The rotation stands; the handler's follow-up is reported, not undone.
        tracing::warn!(secret_id = %meta.id, error = %err, "post-rotation step failed");
    }
    let mut n = notification(NotificationKind::SecretRotated, meta, now);
    n.message = format!("Secret {} was rotated to version {version}", meta.name);
    deliver(notifier, &n).await;
    Ok(())
}

async fn record_failure(
    service: &SecretService,
    meta: &SecretMetadata,
    err: &SecretError,
    notifier: &dyn Notifier,
    now: DateTime<Utc>,
) -> Result<(), SecretError> {
    let retry_at = now + rotation_retry_delay(meta.rotation_failures + 1);
    let reason = service.record_rotation_failure(meta, err, retry_at).await?;
    let mut n = notification(NotificationKind::RotationFailed, meta, now);
    n.message = format!(
        "Rotation of secret {} failed ({reason}); the current version is unchanged; retrying after {}",
        meta.name,
        retry_at.format("%Y-%m-%d %H:%M UTC")
    );
    deliver(notifier, &n).await;
    Ok(())
}
