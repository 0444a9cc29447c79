//! The scheduler's jobs (seed part 2 §8) run against the service: expiry notices, expiry,
//! rotation (reminders, and automatic rotation through a registered handler with a safe
//! protocol), version retention, purge of soft-deleted secrets past recovery, and removal
//! of expired grants. The `secret-scheduler` binary calls these on intervals.
//!
//! Every job is idempotent: what it has done is recorded in the same transaction as its
//! audit record (a notice row, `expired_at`, a new version, a deleted row), and what it
//! is doing is claimed with a lease that expires, so a job killed at any point is
//! completed or retried by the next run, and two schedulers act once between them.
//!
//! Automatic rotation: claim the secret (a lease on its row) → decrypt the current value →
//! the handler's `rotate` → validate → encrypt for the next version and store it as the
//! pending version → the handler's `test` → in one transaction, lock the row, check that
//! the secret has not moved on, write the version, advance the pointer (lastRotatedAt,
//! nextRotationAt), clear the claim and the failure count, audit SECRET_ROTATED → the
//! handler's `post_rotate`, notify. A failure at any step before the last transaction
//! leaves the current version untouched, drops the pending version, records the failure
//! (audit with outcome FAILURE, `rotationFailures`, `lastRotationError`), schedules a
//! retry with backoff, and notifies ROTATION_FAILED.

use chrono::{DateTime, Duration, Utc};
use secret_audit::AuditEvent;
use secret_core::model::SecretMetadata;
use secret_core::{ActorType, Principal, SecretAuditEventType as E, SecretContext, SecretError};
use secret_lifecycle::notification::{Notification, NotificationKind, Notifier};
use secret_lifecycle::policy::{VersionAge, expiry_notice, retention_plan};
use secret_store::JobScan;

mod reconcile;
mod rotation;

use crate::{KeyOperator, SecretService};

/// Re-encryption batches the key job runs at most per run (of [`crate::REENCRYPT_BATCH`]
/// values each), so one run never holds the job's lock for long.
pub const KEY_JOB_BATCHES: u64 = 20;

type Result<T> = std::result::Result<T, SecretError>;

/// The actor id of scheduler jobs in audit records.
pub const SCHEDULER_ACTOR: &str = "secret-scheduler";

/// Notice kinds recorded in `secret_notices`.
const EXPIRY_NOTICE: &str = "EXPIRY";
const ROTATION_REMINDER: &str = "ROTATION_DUE";

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

/// What one run of a job did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobReport {
    /// Secrets or grants looked at.
    pub examined: u64,
    /// Actions taken (notices sent, secrets marked, rotations, versions or rows removed).
    pub acted: u64,
    /// Actions that failed (and will be retried by a later run).
    pub failed: u64,
}

/// The context scheduler jobs act in.
fn scheduler_ctx() -> SecretContext {
    SecretContext::new(Principal::user(SCHEDULER_ACTOR), SCHEDULER_ACTOR)
}

fn scheduler_event(event_type: E) -> AuditEvent {
    AuditEvent::new(event_type).actor_type(ActorType::Scheduler)
}

/// A notification about `meta`.
fn notification(kind: NotificationKind, meta: &SecretMetadata, now: DateTime<Utc>) -> Notification {
    let mut n = Notification::new(kind, meta.id.clone(), meta.name.clone(), meta.scope, now);
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

impl SecretService {
    /// The key job: resumes a re-encryption that a data-key rotation left unfinished (at
    /// most [`KEY_JOB_BATCHES`] batches a run) and retires the keys it empties, recorded
    /// as the scheduler's KEY_ROTATED (REENCRYPT) and KEY_RETIRED. Retired keys keep their
    /// material until an operator runs `secret-server keys destroy-retired`.
    pub async fn run_key_maintenance(&self) -> Result<JobReport> {
        let p = self
            .resume_reencryption(&KeyOperator::scheduler(SCHEDULER_ACTOR), KEY_JOB_BATCHES)
            .await?;
        Ok(JobReport {
            examined: p.reencrypted + p.remaining,
            acted: p.reencrypted + p.retired.len() as u64,
            failed: 0,
        })
    }

    /// Sends the expiry notices that are due (§8.1), each once per secret, window and
    /// expiry date, with a SECRET_EXPIRING_SOON record.
    pub async fn run_expiry_notices(&self, notifier: &dyn Notifier) -> Result<JobReport> {
        let now = self.now();
        let horizon = now + Duration::days(366);
        let mut report = JobReport::default();
        let ctx = scheduler_ctx();
        let mut scan = JobScan::expiring(now, horizon);
        loop {
            let page = self.inner.repo.next_page(&mut scan).await?;
            if page.is_empty() {
                break;
            }
            for meta in page {
                report.examined += 1;
                let Some(expires_at) = meta.expires_at else {
                    continue;
                };
                let mut tx = self.begin().await?;
                let recorded = tx.notices_sent(&meta.id, EXPIRY_NOTICE, expires_at).await?;
                let Some(plan) = expiry_notice(
                    &meta.lifecycle.notify_before_days,
                    expires_at,
                    now,
                    &recorded,
                ) else {
                    continue;
                };
                let mut fresh = false;
                for window in &plan.record {
                    let window = i32::try_from(*window).unwrap_or(i32::MAX);
                    fresh |= tx
                        .record_notice(&meta.id, EXPIRY_NOTICE, window, expires_at, now)
                        .await?;
                }
                if !fresh {
                    continue;
                }
                let days = (expires_at - now).num_days();
                tx.append_audit(&[self.entry(
                    scheduler_event(E::SecretExpiringSoon)
                        .on(&meta)
                        .detail("daysUntilExpiration", days)
                        .detail("window", plan.send)
                        .detail("expiresAt", expires_at.to_rfc3339()),
                    &ctx,
                )])
                .await?;
                tx.commit().await?;
                let mut n = notification(NotificationKind::SecretExpiringSoon, &meta, now);
                n.days_until_expiry = Some(days);
                n.message = format!(
                    "Secret {} expires in {days} day(s), on {}",
                    meta.name,
                    expires_at.format("%Y-%m-%d %H:%M UTC")
                );
                deliver(notifier, &n).await;
                report.acted += 1;
            }
        }
        Ok(report)
    }

    /// Marks secrets past their expiry as expired, once each, with a SECRET_EXPIRED record
    /// and notification. Their values already answer SECRET_EXPIRED.
    pub async fn run_expirations(&self, notifier: &dyn Notifier) -> Result<JobReport> {
        let now = self.now();
        let ctx = scheduler_ctx();
        let mut report = JobReport::default();
        let mut scan = JobScan::newly_expired(now);
        loop {
            let page = self.inner.repo.next_page(&mut scan).await?;
            if page.is_empty() {
                break;
            }
            for meta in page {
                report.examined += 1;
                let mut tx = self.begin().await?;
                if !tx.mark_expired(&meta.id, now).await? {
                    continue;
                }
                tx.append_audit(&[self.entry(
                    scheduler_event(E::SecretExpired)
                        .on(&meta)
                        .detail("expiresAt", meta.expires_at.map(|t| t.to_rfc3339())),
                    &ctx,
                )])
                .await?;
                tx.commit().await?;
                self.inner.cache.invalidate(&meta.id);
                let mut n = notification(NotificationKind::SecretExpired, &meta, now);
                n.message = format!(
                    "Secret {} has expired; set a new value or expiry date",
                    meta.name
                );
                deliver(notifier, &n).await;
                report.acted += 1;
            }
        }
        Ok(report)
    }

    /// Version retention (§8.3): keeps each secret's newest versions (10 unless set) and
    /// marks replaced versions inactive after the rotation grace period.
    pub async fn run_retention(&self, config: &LifecycleConfig) -> Result<JobReport> {
        let now = self.now();
        let ctx = scheduler_ctx();
        let mut report = JobReport::default();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .inner
                .repo
                .with_versions_over(1, after.as_deref())
                .await?;
            let Some(last) = page.last().map(|x| x.id.clone()) else {
                break;
            };
            let full = page.len() as u64 >= secret_store::lifecycle::PAGE;
            for meta in page {
                report.examined += 1;
                let versions: Vec<VersionAge> = self
                    .inner
                    .repo
                    .versions_of(&meta.id)
                    .await?
                    .into_iter()
                    .map(|v| VersionAge {
                        version: v.version,
                        created_at: v.created_at,
                        is_active: v.is_active,
                    })
                    .collect();
                let plan = retention_plan(
                    &versions,
                    meta.current_version,
                    meta.lifecycle.retention(),
                    now,
                    config.rollback_grace,
                    config.rotation_grace,
                );
                if plan.delete.is_empty() && plan.deactivate.is_empty() {
                    continue;
                }
                let mut tx = self.begin().await?;
                let Some(rec) = tx.lock_secret(&meta.id).await? else {
                    continue;
                };
                // The plan was made from a read outside the lock: never touch what became current.
                let current = rec.metadata.current_version;
                let delete: Vec<i64> = plan.delete.into_iter().filter(|v| *v != current).collect();
                let deactivate: Vec<i64> = plan
                    .deactivate
                    .into_iter()
                    .filter(|v| *v != current)
                    .collect();
                tx.deactivate_versions(&meta.id, &deactivate).await?;
                let removed = tx.delete_versions(&meta.id, &delete).await?;
                if !removed.is_empty() {
                    tx.append_audit(&[self.entry(
                        scheduler_event(E::SecretUpdated)
                            .action("VERSIONS_PRUNED")
                            .on(&rec.metadata)
                            .detail("versionsRemoved", delete.clone()),
                        &ctx,
                    )])
                    .await?;
                }
                tx.commit().await?;
                report.acted += (removed.len() + deactivate.len()) as u64;
                // The vault's copies of removed versions go too (the local store's went with
                // their rows); one that cannot be reached keeps them until a later run.
                let backend = self.backend(&rec.metadata).await?;
                if !removed.is_empty() && !backend.keeps_values_in_database() {
                    let stored: Vec<_> = removed.iter().map(|v| v.stored.clone()).collect();
                    if let Err(err) = backend.remove_versions(&meta.id, &stored).await {
                        report.failed += 1;
                        tracing::warn!(secret_id = %meta.id, error = %SecretError::from(err),
                            "the vault's copies of pruned versions could not be removed");
                    }
                }
            }
            if !full {
                break;
            }
            after = Some(last);
        }
        Ok(report)
    }

    /// Purges soft-deleted secrets past their recovery deadline (§8.4), with their
    /// versions, grants and usage; their audit records stay.
    pub async fn run_purge(&self) -> Result<JobReport> {
        let now = self.now();
        let ctx = scheduler_ctx();
        let mut report = JobReport::default();
        let mut scan = JobScan::purgeable(now);
        loop {
            let page = self.inner.repo.next_page(&mut scan).await?;
            if page.is_empty() {
                break;
            }
            for meta in page {
                report.examined += 1;
                let mut tx = self.begin().await?;
                let Some(rec) = tx.lock_secret(&meta.id).await? else {
                    continue;
                };
                let still_due = rec
                    .metadata
                    .recovery_deadline
                    .is_some_and(|deadline| rec.metadata.is_deleted() && deadline <= now);
                if !still_due {
                    continue;
                }
                tx.append_audit(&[self.entry(
                    scheduler_event(E::SecretPermanentlyDeleted)
                        .action("PURGE")
                        .on(&rec.metadata)
                        .detail("versions", rec.metadata.current_version),
                    &ctx,
                )])
                .await?;
                let backend = self.backend(&rec.metadata).await?;
                let external = !backend.keeps_values_in_database();
                if external {
                    tx.stage_write(
                        &meta.id,
                        rec.metadata.current_version,
                        &rec.metadata.vault_id,
                        secret_store::PendingOperation::Purge,
                        ctx.user_id(),
                        now,
                    )
                    .await?;
                }
                let versions = tx.delete_permanently(&meta.id).await?;
                tx.commit().await?;
                self.inner.cache.invalidate(&meta.id);
                let stored: Vec<_> = versions.into_iter().map(|v| v.stored).collect();
                self.purge_from_vault(
                    &meta.id,
                    rec.metadata.current_version,
                    &stored,
                    backend.as_ref(),
                    external,
                )
                .await;
                report.acted += 1;
            }
        }
        Ok(report)
    }

    /// Removes grants past their expiry, each with an ACCESS_REVOKED record.
    pub async fn run_grant_expiry(&self) -> Result<JobReport> {
        let now = self.now();
        let ctx = scheduler_ctx();
        let mut report = JobReport::default();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .inner
                .repo
                .expired_grants(now, after.as_deref())
                .await?;
            let Some(last) = page.last().map(|x| x.secret_id.clone()) else {
                break;
            };
            let full = page.len() as u64 >= secret_store::lifecycle::PAGE;
            for grant in page {
                report.examined += 1;
                let mut tx = self.begin().await?;
                let Some(rec) = tx.lock_secret(&grant.secret_id).await? else {
                    continue;
                };
                if !tx.delete_grant(&grant.secret_id, &grant.id).await? {
                    continue;
                }
                tx.append_audit(&[self.entry(
                    scheduler_event(E::AccessRevoked)
                        .action("GRANT_EXPIRED")
                        .on(&rec.metadata)
                        .detail("grantId", grant.id.clone())
                        .detail("granteeType", grant.grantee_type.as_str())
                        .detail("granteeId", grant.grantee_id.clone())
                        .detail("expiresAt", grant.expires_at.map(|t| t.to_rfc3339())),
                    &ctx,
                )])
                .await?;
                tx.commit().await?;
                self.inner.cache.invalidate(&grant.secret_id);
                report.acted += 1;
            }
            if !full {
                break;
            }
            after = Some(last);
        }
        Ok(report)
    }
}
