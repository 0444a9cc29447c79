//! The one path every new version of an existing secret takes: lock -> check -> stage ->
//! write -> audit -> commit -> invalidate (ARCHITECTURE §7).
//!
//! On a backend that keeps values in this database (the local store) all of it is one
//! transaction. On an external vault the value cannot share a transaction with the
//! database, so the write takes three steps:
//!
//! 1. a short transaction locks the secret, checks permission and the expected version, and
//!    records a pending write of the next version number (one per secret at a time);
//! 2. outside any transaction, the value is written to the vault (check-and-set against the
//!    vault's copy of the current version) and the vault's reference comes back;
//! 3. a second transaction locks the secret again, checks that it has not moved and that the
//!    pending write is still this one, inserts the version with the vault's reference,
//!    advances the pointer, appends the audit record and clears the pending write.
//!
//! A failure at (2) clears the pending write; a failure at (3) removes the vault's new
//! version and clears it too; the caller's operation is then audited as FAILURE once (by
//! `audited`). A process that stops between (2) and (3) leaves the pending write for the
//! reconciliation job. A reader sees the old version until (3) commits.

use chrono::{DateTime, Utc};
use secret_access::Action;
use secret_audit::AuditEvent;
use secret_core::model::SecretMetadata;
use secret_core::wire::ChangeKind;
use secret_core::{SecretContext, SecretError, SecretValue};
use secret_store::Change;
use secret_store::{
    NewVersion, PendingOperation, StagedWrite, StorageBackend, StoredValue, ValueTarget, WriteTx,
};

use super::check::{CheckedValue, check_value};
use super::{Result, SecretService, check_expected};

/// How a new version is recorded (its value travels separately, never copied).
pub(crate) struct VersionNote {
    /// The version's change reason.
    pub(crate) reason: String,
    /// Whether this is a rotation (moves `lastRotatedAt` and `nextRotationAt`).
    pub(crate) rotation: bool,
    /// The audit record of success; `version` is added to its details.
    pub(crate) event: AuditEvent,
    /// The current version the caller expects (VERSION_CONFLICT otherwise), when given.
    pub(crate) expected: Option<i64>,
}

impl VersionNote {
    /// A new value recorded as `event` (SECRET_ROTATED for a rotation, which then moves
    /// the rotation dates) with `reason`, which the record carries as `changeReason`.
    pub(crate) fn new(event: AuditEvent, reason: String, expected: Option<i64>) -> Self {
        VersionNote {
            rotation: event.event_type() == secret_core::SecretAuditEventType::SecretRotated,
            event: event.detail("changeReason", reason.clone()),
            reason,
            expected,
        }
    }
}

/// The next version of a secret as a write sees it inside its transaction.
#[derive(Clone, Copy)]
pub(crate) struct NextVersion<'a> {
    /// The secret as locked in the transaction.
    pub(crate) current: &'a SecretMetadata,
    /// The new value, checked against the secret's type.
    pub(crate) checked: &'a CheckedValue,
    /// Whether this is a rotation (moves `lastRotatedAt` and `nextRotationAt`).
    pub(crate) rotation: bool,
    pub(crate) now: DateTime<Utc>,
    pub(crate) ctx: &'a SecretContext,
}

/// A value on its way to an external vault: the pending row that records it, the secret's
/// name (the vault keeps it in metadata) and the version written before it.
pub(crate) struct VaultWrite<'a> {
    pub(crate) staged: StagedWrite<'a>,
    pub(crate) secret_name: &'a str,
    /// `None` for a new secret.
    pub(crate) previous: Option<&'a StoredValue>,
}

impl SecretService {
    /// Steps 1 and 2 of the write protocol (ARCHITECTURE §7) on an external vault:
    /// records `write` as pending in `tx` and commits it, then stores `value` in the vault
    /// outside any transaction. A vault write that fails is undone: a new secret's vault
    /// object is deleted, a further version is looked for and removed.
    pub(crate) async fn write_to_vault(
        &self,
        mut tx: WriteTx,
        write: &VaultWrite<'_>,
        value: &SecretValue,
        backend: &dyn StorageBackend,
    ) -> Result<StoredValue> {
        let StagedWrite {
            secret_id,
            version,
            operation,
            ..
        } = write.staged;
        tx.stage_write(&write.staged).await?;
        tx.commit().await?;
        let target = ValueTarget {
            secret_id,
            secret_name: write.secret_name,
            version,
        };
        match backend.store_value(target, value, write.previous).await {
            Ok(stored) => Ok(stored),
            Err(err) => {
                if operation == PendingOperation::Create {
                    self.abandon_create(secret_id, backend).await;
                } else {
                    self.abandon_unanswered(secret_id, version, write.previous, backend)
                        .await;
                }
                Err(err.into())
            }
        }
    }

    /// Writes `value` as the next version of secret `id` (whose current version must be
    /// `expected` when given). Returns the secret as it now stands and the new version.
    pub(super) async fn commit_version(
        &self,
        id: &str,
        value: SecretValue,
        new: VersionNote,
        ctx: &SecretContext,
    ) -> Result<(SecretMetadata, i64)> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let current = self.lock_live(&mut tx, id, ctx, Action::Update).await?;
        check_expected(new.expected, current.current_version)?;
        let backend = self.backend(&current).await?;
        let checked = check_value(current.secret_type, value, now)?;
        let version = current.current_version + 1;
        if backend.keeps_values_in_database() {
            let next = NextVersion {
                current: &current,
                checked: &checked,
                rotation: new.rotation,
                now,
                ctx,
            };
            let meta = self
                .write_local_version(&mut tx, &next, backend.as_ref(), &new)
                .await?;
            self.commit_with(
                tx,
                &[Change::secret(id, Some(version), ChangeKind::Updated)],
            )
            .await?;
            return Ok((meta, version));
        }
        let previous = tx
            .find_version(id, current.current_version)
            .await?
            .map(|v| v.stored);
        let write = VaultWrite {
            staged: StagedWrite {
                secret_id: id,
                version,
                vault_id: &current.vault_id,
                operation: PendingOperation::Update,
                actor_id: ctx.user_id(),
                now,
            },
            secret_name: &current.name,
            previous: previous.as_ref(),
        };
        let stored = self
            .write_to_vault(tx, &write, &checked.value, backend.as_ref())
            .await?;
        let promoted = async {
            let mut tx = self.begin().await?;
            let again = self.lock_live(&mut tx, id, ctx, Action::Update).await?;
            check_expected(Some(current.current_version), again.current_version)?;
            if !tx.finish_write(id, version).await? {
                return Err(SecretError::Conflict {
                    message: "the pending write of this secret was taken over".to_string(),
                });
            }
            let next = NextVersion {
                current: &again,
                checked: &checked,
                rotation: new.rotation,
                now,
                ctx,
            };
            let meta = self
                .promote_version(&mut tx, &next, stored.clone(), &new)
                .await?;
            self.commit_with(
                tx,
                &[Change::secret(id, Some(version), ChangeKind::Updated)],
            )
            .await?;
            Ok(meta)
        }
        .await;
        match promoted {
            Ok(meta) => {
                self.mirror_expiry(&meta, Some(&stored), current.expires_at)
                    .await;
                Ok((meta, version))
            }
            Err(err) => {
                self.abandon_write(id, version, Some(stored), backend.as_ref())
                    .await;
                Err(err)
            }
        }
    }

    /// In `tx`, on a backend that keeps values in this database: stores the checked value
    /// as the next version of the secret locked in `tx` and promotes it (the caller commits
    /// and invalidates the cache).
    pub(crate) async fn write_local_version(
        &self,
        tx: &mut WriteTx,
        next: &NextVersion<'_>,
        backend: &dyn StorageBackend,
        new: &VersionNote,
    ) -> Result<SecretMetadata> {
        let current = next.current;
        let previous = tx
            .find_version(&current.id, current.current_version)
            .await?
            .map(|v| v.stored);
        let target = ValueTarget {
            secret_id: &current.id,
            secret_name: &current.name,
            version: current.current_version + 1,
        };
        let stored = backend
            .store_value(target, &next.checked.value, previous.as_ref())
            .await?;
        self.promote_version(tx, next, stored, new).await
    }

    /// Inserts the version, advances the secret's pointer and appends the audit record, in
    /// `tx`; returns the secret as it now stands.
    pub(crate) async fn promote_version(
        &self,
        tx: &mut WriteTx,
        next: &NextVersion<'_>,
        stored: StoredValue,
        new: &VersionNote,
    ) -> Result<SecretMetadata> {
        let version = self.advance(tx, next).await?;
        tx.insert_version(NewVersion {
            secret_id: &next.current.id,
            version,
            stored,
            change_reason: Some(new.reason.clone()),
            created_by_id: next.ctx.user_id(),
            now: next.now,
        })
        .await?;
        self.audit_in(
            tx,
            &next.current.id,
            new.event.clone().detail("version", version),
            next.ctx,
        )
        .await
    }

    /// Undoes a vault write that failed: the vault may have taken it although no answer
    /// came back, so what it holds after `previous` is looked for and removed.
    pub(crate) async fn abandon_unanswered(
        &self,
        id: &str,
        version: i64,
        previous: Option<&StoredValue>,
        backend: &dyn StorageBackend,
    ) {
        match backend.find_written(id, previous).await {
            Ok(found) => self.abandon_write(id, version, found, backend).await,
            Err(_) => self.leave_abandoned(id, version).await,
        }
    }

    /// Undoes a create whose value went (or may have gone) to an external vault: the
    /// vault's object (what of it exists), then the pending row. When the vault cannot be
    /// reached the row stays for the reconciliation job.
    pub(crate) async fn abandon_create(&self, id: &str, backend: &dyn StorageBackend) {
        if let Err(err) = backend.delete_secret(id, &[]).await {
            tracing::warn!(
                secret_id = %id,
                error = %SecretError::from(err),
                "the vault object of a failed create could not be removed; left for reconciliation"
            );
            self.leave_abandoned(id, 1).await;
            return;
        }
        if let Err(err) = self.inner.repo.drop_write(id, 1).await {
            tracing::warn!(
                secret_id = %id,
                error = %SecretError::from(err),
                "the pending write of a failed create could not be cleared"
            );
        }
    }

    /// Leaves a failed write's pending row for reconciliation, marked abandoned so that it
    /// is undone (never adopted) at the next run.
    pub(crate) async fn leave_abandoned(&self, id: &str, version: i64) {
        if let Err(err) = self.inner.repo.abandon_write(id, version).await {
            tracing::warn!(secret_id = %id, version, error = %SecretError::from(err),
                "a failed write's pending row could not be marked abandoned");
        }
    }

    /// Undoes what a failed write left: the vault's new version, if it was written, then the
    /// pending row. When the vault cannot be reached the pending row stays for the
    /// reconciliation job, which finds the version again.
    pub(crate) async fn abandon_write(
        &self,
        id: &str,
        version: i64,
        stored: Option<StoredValue>,
        backend: &dyn StorageBackend,
    ) {
        if let Some(stored) = stored
            && let Err(err) = backend.remove_versions(id, &[stored]).await
        {
            tracing::warn!(
                secret_id = %id,
                version,
                error = %SecretError::from(err),
                "a vault version of a failed write could not be removed; left for reconciliation"
            );
            self.leave_abandoned(id, version).await;
            return;
        }
        if let Err(err) = self.inner.repo.drop_write(id, version).await {
            tracing::warn!(
                secret_id = %id,
                version,
                error = %SecretError::from(err),
                "the pending write of a failed write could not be cleared"
            );
        }
    }
}
