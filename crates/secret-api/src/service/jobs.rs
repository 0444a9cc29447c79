//! The steps the scheduler's jobs (`secret-lifecycle`) are made of: scans that select what
//! is due, a page at a time, and one step per secret or grant. Each step is idempotent and
//! audited: what it did is recorded in the same transaction as its audit record (a notice
//! row, `expired_at`, a deleted row), so a job killed at any point is completed or
//! retried by the next run, and two schedulers act once between them. Each step acts as
//! the scheduler (actor type SCHEDULER, id [`SCHEDULER_ACTOR`]); deciding *when* is the
//! lifecycle crate's business, doing it safely is the service's.

use chrono::{DateTime, Utc};
use secret_audit::AuditEvent;
use secret_core::SecretId;
use secret_core::model::{AccessGrant, SecretMetadata, SecretVersionInfo};
use secret_core::wire::ChangeKind;
use secret_core::{ActorType, Principal, SecretAuditEventType as E, SecretContext, SecretError};
use secret_store::Change;
use secret_store::JobScan;

use super::{Result, SecretService};

/// The actor id of scheduler jobs in audit records.
pub const SCHEDULER_ACTOR: &str = "secret-scheduler";

/// How many secrets or grants one page of a job scan holds.
pub const JOB_PAGE: u64 = secret_store::lifecycle::PAGE;

/// What one run of a job did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobReport {
    /// Secrets, grants or pending writes looked at.
    pub examined: u64,
    /// Actions taken (notices sent, secrets marked, rotations, versions or rows removed).
    pub acted: u64,
    /// Actions that failed (and will be retried by a later run).
    pub failed: u64,
}

impl JobReport {
    /// The sum of two reports (a job made of two scans).
    pub fn plus(self, other: JobReport) -> JobReport {
        JobReport {
            examined: self.examined + other.examined,
            acted: self.acted + other.acted,
            failed: self.failed + other.failed,
        }
    }
}

/// A notice sent once per secret, window and due date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// An expiry notice (window: days before `expiresAt`).
    Expiry,
    /// A rotation reminder (one per due date).
    RotationDue,
}

impl NoticeKind {
    fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Expiry => "EXPIRY",
            NoticeKind::RotationDue => "ROTATION_DUE",
        }
    }
}

/// An expiry notice to record: the windows (days before expiry) it covers and the one it
/// is sent for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiryNotice {
    pub expires_at: DateTime<Utc>,
    /// Every window now due (recorded, so none of them is sent again).
    pub windows: Vec<u32>,
    /// The window the notice is sent for (the narrowest due one).
    pub send: u32,
}

/// What pruning one secret's versions did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Versions removed plus versions marked inactive.
    pub changed: u64,
    /// The vault's copies of removed versions could not be removed (a later run retries
    /// nothing: their rows are gone; the copies stay in the vault).
    pub vault_failed: bool,
}

/// The context scheduler steps act in.
pub(crate) fn scheduler_ctx() -> SecretContext {
    SecretContext::new(Principal::user(SCHEDULER_ACTOR), SCHEDULER_ACTOR)
}

pub(crate) fn scheduler_event(event_type: E) -> AuditEvent {
    AuditEvent::new(event_type).actor_type(ActorType::Scheduler)
}

impl SecretService {
    /// The next page of secrets `scan` selects (expiring, newly expired, due for rotation,
    /// purgeable); empty when the scan is done.
    pub async fn job_page(&self, scan: &mut JobScan) -> Result<Vec<SecretMetadata>> {
        Ok(self.inner.repo.next_page(scan).await?)
    }

    /// The windows of `kind` already recorded for `id` and `due_at`.
    pub async fn notices_sent(
        &self,
        id: &SecretId,
        kind: NoticeKind,
        due_at: DateTime<Utc>,
    ) -> Result<Vec<i32>> {
        Ok(self
            .inner
            .repo
            .notices_sent(id, kind.as_str(), due_at)
            .await?)
    }

    /// Records `notice`'s windows for `meta` and, when at least one was new, one
    /// SECRET_EXPIRING_SOON record, in one transaction. True when the notice is to be sent
    /// (false: another run recorded every window first).
    pub async fn record_expiry_notice(
        &self,
        meta: &SecretMetadata,
        notice: &ExpiryNotice,
    ) -> Result<bool> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let mut fresh = false;
        for window in &notice.windows {
            let window = i32::try_from(*window).unwrap_or(i32::MAX);
            let recorded = secret_store::Notice {
                secret_id: &meta.id,
                kind: NoticeKind::Expiry.as_str(),
                window_days: window,
                due_at: notice.expires_at,
            };
            fresh |= tx.record_notice(&recorded, now).await?;
        }
        if !fresh {
            return Ok(false);
        }
        tx.append_audit(&[self.entry(
            scheduler_event(E::SecretExpiringSoon)
                .on(meta)
                .detail("daysUntilExpiration", (notice.expires_at - now).num_days())
                .detail("window", notice.send)
                .detail("expiresAt", notice.expires_at.to_rfc3339()),
            &scheduler_ctx(),
        )])
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records the rotation reminder for `meta`'s current due date; true when it is new
    /// (to be sent), false when it was recorded before or nothing is due.
    pub async fn record_rotation_reminder(&self, meta: &SecretMetadata) -> Result<bool> {
        let Some(due) = meta.next_rotation_at else {
            return Ok(false);
        };
        let mut tx = self.begin().await?;
        let reminder = secret_store::Notice {
            secret_id: &meta.id,
            kind: NoticeKind::RotationDue.as_str(),
            window_days: 0,
            due_at: due,
        };
        if !tx.record_notice(&reminder, self.now()).await? {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Marks a secret past its expiry as expired, once, with a SECRET_EXPIRED record; true
    /// when this call marked it.
    pub async fn mark_expired(&self, meta: &SecretMetadata) -> Result<bool> {
        let mut tx = self.begin().await?;
        if !tx.mark_expired(&meta.id, self.now()).await? {
            return Ok(false);
        }
        tx.append_audit(&[self.entry(
            scheduler_event(E::SecretExpired)
                .on(meta)
                .detail("expiresAt", meta.expires_at.map(|t| t.to_rfc3339())),
            &scheduler_ctx(),
        )])
        .await?;
        let change = Change::secret(&*meta.id, Some(meta.current_version), ChangeKind::Updated);
        self.commit_with(tx, &[change]).await?;
        Ok(true)
    }

    /// A page (of [`JOB_PAGE`]) of secrets with more than `min_versions` versions, by id,
    /// after `after`.
    pub async fn secrets_with_versions_over(
        &self,
        min_versions: i64,
        after: Option<&str>,
    ) -> Result<Vec<SecretMetadata>> {
        Ok(self
            .inner
            .repo
            .with_versions_over(min_versions, after)
            .await?)
    }

    /// Every version of `meta` (no value), oldest first, for retention.
    pub async fn job_versions(&self, meta: &SecretMetadata) -> Result<Vec<SecretVersionInfo>> {
        Ok(self
            .inner
            .repo
            .versions_of(&meta.id)
            .await?
            .into_iter()
            .map(|v| SecretVersionInfo {
                version: v.version,
                is_active: v.is_active,
                is_current: v.version == meta.current_version,
                change_reason: v.change_reason,
                created_at: v.created_at,
                created_by_id: v.created_by_id,
            })
            .collect())
    }

    /// Removes versions `delete` and marks versions `deactivate` inactive, never the
    /// current one (re-checked under the secret's lock), with a SECRET_UPDATED record
    /// (action VERSIONS_PRUNED) when any was removed; then removes the vault's copies of
    /// the removed versions.
    pub async fn prune_versions(
        &self,
        id: &SecretId,
        delete: &[i64],
        deactivate: &[i64],
    ) -> Result<PruneReport> {
        let mut tx = self.begin().await?;
        let Some(rec) = tx.lock_secret(id).await? else {
            return Ok(PruneReport::default());
        };
        // The plan was made from a read outside the lock: never touch what became current.
        let current = rec.metadata.current_version;
        let delete: Vec<i64> = delete.iter().copied().filter(|v| *v != current).collect();
        let deactivate: Vec<i64> = deactivate
            .iter()
            .copied()
            .filter(|v| *v != current)
            .collect();
        tx.deactivate_versions(id, &deactivate).await?;
        let removed = tx.delete_versions(id, &delete).await?;
        if !removed.is_empty() {
            tx.append_audit(&[self.entry(
                scheduler_event(E::SecretUpdated)
                    .action("VERSIONS_PRUNED")
                    .on(&rec.metadata)
                    .detail("versionsRemoved", delete.clone()),
                &scheduler_ctx(),
            )])
            .await?;
        }
        tx.commit().await?;
        let mut report = PruneReport {
            changed: (removed.len() + deactivate.len()) as u64,
            vault_failed: false,
        };
        if removed.is_empty() {
            return Ok(report);
        }
        // The vault's copies of removed versions go too (the local store's went with their
        // rows).
        let backend = self.backend(&rec.metadata).await?;
        if !backend.keeps_values_in_database() {
            let stored: Vec<_> = removed.into_iter().map(|v| v.stored).collect();
            if let Err(err) = backend.remove_versions(id, &stored).await {
                report.vault_failed = true;
                tracing::warn!(secret_id = %id, error = %SecretError::from(err),
                    "the vault's copies of pruned versions could not be removed");
            }
        }
        Ok(report)
    }

    /// Permanently deletes a soft-deleted secret past its recovery deadline (re-checked
    /// under its lock), with its versions, grants and usage and the vault's copies, with a
    /// SECRET_PERMANENTLY_DELETED record (action PURGE); its audit records stay. True when
    /// this call purged it.
    pub async fn purge_if_due(&self, id: &SecretId) -> Result<bool> {
        let now = self.now();
        let ctx = scheduler_ctx();
        let mut tx = self.begin().await?;
        let Some(rec) = tx.lock_secret(id).await? else {
            return Ok(false);
        };
        let still_due = rec
            .metadata
            .recovery_deadline
            .is_some_and(|deadline| rec.metadata.is_deleted() && deadline <= now);
        if !still_due {
            return Ok(false);
        }
        tx.append_audit(&[self.entry(
            scheduler_event(E::SecretPermanentlyDeleted)
                .action("PURGE")
                .on(&rec.metadata)
                .detail("versions", rec.metadata.current_version),
            &ctx,
        )])
        .await?;
        self.purge_in(tx, &rec.metadata, &ctx).await?;
        Ok(true)
    }

    /// A page (of [`JOB_PAGE`]) of grants past their expiry, by secret id, after `after`.
    pub async fn expired_grants(&self, after: Option<&str>) -> Result<Vec<AccessGrant>> {
        Ok(self.inner.repo.expired_grants(self.now(), after).await?)
    }

    /// Removes an expired grant with an ACCESS_REVOKED record (action GRANT_EXPIRED); true
    /// when this call removed it.
    pub async fn expire_grant(&self, grant: &AccessGrant) -> Result<bool> {
        let mut tx = self.begin().await?;
        let Some(rec) = tx.lock_secret(&grant.secret_id).await? else {
            return Ok(false);
        };
        if !tx.delete_grant(&grant.secret_id, &grant.id).await? {
            return Ok(false);
        }
        tx.append_audit(&[self.entry(
            scheduler_event(E::AccessRevoked)
                .action("GRANT_EXPIRED")
                .on(&rec.metadata)
                .detail("grantId", grant.id.clone())
                .detail("granteeType", grant.grantee_type.as_str())
                .detail("granteeId", grant.grantee_id.clone())
                .detail("expiresAt", grant.expires_at.map(|t| t.to_rfc3339())),
            &scheduler_ctx(),
        )])
        .await?;
        let change = Change::grant_removed(grant, rec.metadata.current_version);
        self.commit_with(tx, &[change]).await?;
        Ok(true)
    }
}
