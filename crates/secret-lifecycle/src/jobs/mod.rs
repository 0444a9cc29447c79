//! The scheduler's jobs (seed part 2 §8), run against a [`SecretService`]: expiry notices,
//! expiry, rotation (reminders, and automatic rotation through a registered handler with a
//! safe protocol), version retention, purge of soft-deleted secrets past recovery, removal
//! of expired grants, reconciliation of pending vault writes, and the key job. The
//! `secret-scheduler` binary calls these on intervals.
//!
//! This crate decides *what is due and when* (the policies of [`crate::policy`], the
//! handlers of [`crate::rotation`], the notifications of [`crate::notification`]); the
//! service does each step safely: every step is idempotent and audited, and what it is
//! doing is claimed with a lease that expires, so a job killed at any point is completed
//! or retried by the next run, and two schedulers act once between them.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use secret_api::{JobScan, KeyOperator, SecretService};
use secret_core::SecretError;
use secret_core::model::SecretMetadata;

use crate::notification::{Notification, NotificationKind, Notifier};
use crate::rotation::HandlerRegistry;

mod expiry;
mod retention;
mod rotation;

pub use secret_api::{JobReport, SCHEDULER_ACTOR};

type Result<T> = std::result::Result<T, SecretError>;

/// Re-encryption batches the key job runs at most per run (of [`secret_api::REENCRYPT_BATCH`]
/// values each), so one run never holds the job's lock for long.
pub const KEY_JOB_BATCHES: u64 = 20;

/// Settings of the jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LifecycleConfig {
    /// How long a rotation claim lasts; a scheduler killed mid-rotation is retried after it.
    pub rotation_lease: Duration,
    /// A replaced version stays active this long after its successor was created.
    pub rotation_grace: Duration,
    /// Versions created this recently are never removed by retention.
    pub rollback_grace: Duration,
    /// A pending write to an external vault this old was left by a stopped process and
    /// is reconciled (longer than any write takes: calls time out after at most a minute).
    pub pending_write_grace: Duration,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        LifecycleConfig {
            rotation_lease: Duration::minutes(10),
            rotation_grace: Duration::hours(24),
            rollback_grace: Duration::days(7),
            pending_write_grace: Duration::minutes(10),
        }
    }
}

/// The jobs, as methods of the service they run against (`use` this trait, then
/// `service.run_purge().await`).
#[async_trait]
pub trait LifecycleJobs {
    /// Sends the expiry notices that are due (§8.1), each once per secret, window and
    /// expiry date, with a SECRET_EXPIRING_SOON record.
    async fn run_expiry_notices(&self, notifier: &dyn Notifier) -> Result<JobReport>;
    /// Marks secrets past their expiry as expired, once each, with a SECRET_EXPIRED record
    /// and notification. Their values already answer SECRET_EXPIRED.
    async fn run_expirations(&self, notifier: &dyn Notifier) -> Result<JobReport>;
    /// Handles due rotations (§8.2): a reminder for MANUAL and NOTIFY_ONLY secrets (once
    /// per due date), the handler for AUTOMATIC ones.
    async fn run_rotations(
        &self,
        handlers: &HandlerRegistry,
        notifier: &dyn Notifier,
        config: &LifecycleConfig,
    ) -> Result<JobReport>;
    /// Version retention (§8.3): keeps each secret's newest versions (10 unless set) and
    /// marks replaced versions inactive after the rotation grace period.
    async fn run_retention(&self, config: &LifecycleConfig) -> Result<JobReport>;
    /// Purges soft-deleted secrets past their recovery deadline (§8.4), with their
    /// versions, grants and usage; their audit records stay.
    async fn run_purge(&self) -> Result<JobReport>;
    /// Removes grants past their expiry, each with an ACCESS_REVOKED record.
    async fn run_grant_expiry(&self) -> Result<JobReport>;
    /// Settles writes to external vaults left pending for longer than `grace` by a
    /// stopped process or abandoned by a failed one.
    async fn run_reconcile(&self, grace: Duration) -> Result<JobReport>;
    /// Resumes a re-encryption a data-key rotation left unfinished (at most
    /// [`KEY_JOB_BATCHES`] batches a run) and retires the keys it empties, recorded as the
    /// scheduler's KEY_ROTATED (REENCRYPT) and KEY_RETIRED. Retired keys keep their
    /// material until an operator runs `secret-server keys destroy-retired`.
    async fn run_key_maintenance(&self) -> Result<JobReport>;
}

#[async_trait]
impl LifecycleJobs for SecretService {
    async fn run_expiry_notices(&self, notifier: &dyn Notifier) -> Result<JobReport> {
        expiry::notices(self, notifier).await
    }

    async fn run_expirations(&self, notifier: &dyn Notifier) -> Result<JobReport> {
        expiry::expirations(self, notifier).await
    }

    async fn run_rotations(
        &self,
        handlers: &HandlerRegistry,
        notifier: &dyn Notifier,
        config: &LifecycleConfig,
    ) -> Result<JobReport> {
        rotation::run(self, handlers, notifier, config).await
    }

    async fn run_retention(&self, config: &LifecycleConfig) -> Result<JobReport> {
        retention::versions(self, config).await
    }

    async fn run_purge(&self) -> Result<JobReport> {
        retention::purge(self).await
    }

    async fn run_grant_expiry(&self) -> Result<JobReport> {
        retention::grants(self).await
    }

    async fn run_reconcile(&self, grace: Duration) -> Result<JobReport> {
        self.reconcile_pending_writes(grace).await
    }

    async fn run_key_maintenance(&self) -> Result<JobReport> {
        let p = self
            .resume_reencryption(&KeyOperator::scheduler(SCHEDULER_ACTOR), KEY_JOB_BATCHES)
            .await?;
        Ok(JobReport {
            examined: p.reencrypted + p.remaining,
            acted: p.reencrypted + p.retired.len() as u64,
            failed: 0,
        })
    }
}

/// The next page of secrets `scan` selects; `None` when the scan is done.
async fn next_page(
    service: &SecretService,
    scan: &mut JobScan,
) -> Result<Option<Vec<SecretMetadata>>> {
    let page = service.job_page(scan).await?;
    Ok((!page.is_empty()).then_some(page))
}

/// A notification about `meta`.
fn notification(kind: NotificationKind, meta: &SecretMetadata, now: DateTime<Utc>) -> Notification {
    let mut n = Notification::new(
        kind,
        meta.id.to_string(),
        meta.name.clone(),
        meta.scope,
        now,
    );
    n.organization_id.clone_from(&meta.organization_id);
    n.team_id.clone_from(&meta.team_id);
    n.project_id.clone_from(&meta.project_id);
    n.recipients
        .clone_from(&meta.lifecycle.notification_recipients);
    n.expires_at = meta.expires_at;
    n.next_rotation_at = meta.next_rotation_at;
    n
}

/// Sends `n`, logging (not failing the job on) a delivery failure: the state change it
/// reports is already committed and audited.
async fn deliver(notifier: &dyn Notifier, n: &Notification) -> bool {
    match notifier.notify(n).await {
        Ok(()) => true,
        Err(err) => {
            tracing::warn!(secret_id = %n.secret_id, kind = n.kind.as_str(), error = %err, "notification not delivered");
            false
        }
    }
}
