//! One secret's move to the target vault.
//!
//! Outside any transaction: every version to copy is read from the source, written to the
//! target (each after the one before, so a vault with check-and-set keeps them in order),
//! read back from the target and compared with what was read (SHA-256 digests compared in
//! constant time). Then, in one transaction: the secret is locked, and if it still lives in
//! the source at the same version with no write under way, every copied version's row gets
//! its new reference and the secret names the target, with its audit record. A secret
//! written to meanwhile is copied again (a few times at most); its stale copy in the target
//! is removed first. The source's copies are deleted (when asked) only after the move
//! committed. Readers see the source's value until the commit and the target's after it.

use secret_core::wire::ChangeKind;
use secret_store::Change;
use std::sync::Arc;

use secret_audit::AuditEvent;
use secret_core::SecretAuditEventType as E;
use secret_core::model::SecretMetadata;
use secret_core::wire::MigrationVersions;
use secret_core::{SecretContext, SecretError, SecretValue, StorageBackendKind};
use secret_store::{StorageBackend, StoredValue, ValueTarget, VaultMove, VersionRecord};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::Options;
use crate::service::{Result, SecretService};

/// How many times a secret that keeps changing under the migration is copied again.
const ATTEMPTS: usize = 3;

/// What a runner moves between, and on whose behalf.
pub(super) struct Endpoints<'a> {
    pub(super) source_id: &'a str,
    pub(super) target_id: &'a str,
    pub(super) target_kind: StorageBackendKind,
    pub(super) source: Arc<dyn StorageBackend>,
    pub(super) target: Arc<dyn StorageBackend>,
    pub(super) options: &'a Options,
    pub(super) migration_id: &'a str,
    pub(super) ctx: &'a SecretContext,
}

/// How one secret's turn ended.
pub(super) enum Moved {
    /// It now lives in the target; `warning` when its source copy could not be deleted.
    Yes { warning: Option<SecretError> },
    /// It was deleted, or no longer in the source, by its turn.
    Skipped,
}

/// What one copy attempt found.
enum Attempt {
    Moved(Vec<StoredValue>),
    Skipped,
    /// The secret changed between the copy and the move.
    Changed,
}

fn digest(value: &SecretValue) -> Result<[u8; 32]> {
    let bytes = value.to_json_bytes()?;
    Ok(Sha256::digest(&bytes[..]).into())
}

impl SecretService {
    /// Moves one secret to the target, or says why not.
    pub(super) async fn move_secret(
        &self,
        meta: &SecretMetadata,
        ends: &Endpoints<'_>,
    ) -> Result<Moved> {
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                // Give the write under way (a rotation waiting on its handler) time to end.
                tokio::time::sleep(std::time::Duration::from_millis(250 * attempt as u64)).await;
            }
            match self.attempt(meta.id.as_str(), ends).await? {
                Attempt::Moved(old) => {
                    let warning = self.delete_source_copy(meta.id.as_str(), &old, ends).await;
                    return Ok(Moved::Yes { warning });
                }
                Attempt::Skipped => return Ok(Moved::Skipped),
                Attempt::Changed => {}
            }
        }
        Err(SecretError::Conflict {
            message: format!(
                "the secret was written to during each of {ATTEMPTS} attempts to migrate it; \
                 it stays in the source"
            ),
        })
    }

    async fn attempt(&self, id: &str, ends: &Endpoints<'_>) -> Result<Attempt> {
        let Some(fresh) = self.inner.repo.find(id).await? else {
            return Ok(Attempt::Skipped);
        };
        let meta = fresh.metadata;
        if meta.is_deleted() || meta.vault_id.as_str() != ends.source_id {
            return Ok(Attempt::Skipped);
        }
        let all = self.inner.repo.all_versions(id).await?;
        let (copy, dropped): (Vec<VersionRecord>, Vec<VersionRecord>) = match ends.options.versions
        {
            MigrationVersions::All => (all, Vec::new()),
            MigrationVersions::Current => all
                .into_iter()
                .partition(|v| v.version == meta.current_version),
        };
        if !copy.iter().any(|v| v.version == meta.current_version) {
            return Err(SecretError::VersionNotFound {
                id: id.to_string(),
                version: meta.current_version,
            });
        }
        let copied = match self.copy_versions(&meta, &copy, ends).await {
            Ok(copied) => copied,
            Err(err) => {
                self.remove_target_copy(id, ends).await;
                return Err(err);
            }
        };
        let current = copied
            .iter()
            .find(|(v, _)| *v == meta.current_version)
            .map(|(_, s)| s.clone());
        let moved = self.commit_move(&meta, copied, &dropped, ends).await;
        match moved {
            Ok(true) => {
                if let (Some(current), Some(_)) = (&current, meta.expires_at) {
                    self.mirror_expiry_to(ends.target.as_ref(), &meta, current)
                        .await;
                }
                Ok(Attempt::Moved(
                    copy.into_iter().chain(dropped).map(|v| v.stored).collect(),
                ))
            }
            Ok(false) => {
                self.remove_target_copy(id, ends).await;
                Ok(Attempt::Changed)
            }
            Err(err) => {
                self.remove_target_copy(id, ends).await;
                Err(err)
            }
        }
    }

    /// Copies `versions` (oldest first) to the target, each read back and compared.
    async fn copy_versions(
        &self,
        meta: &SecretMetadata,
        versions: &[VersionRecord],
        ends: &Endpoints<'_>,
    ) -> Result<Vec<(i64, StoredValue)>> {
        let mut copied: Vec<(i64, StoredValue)> = Vec::with_capacity(versions.len());
        for v in versions {
            let target = ValueTarget {
                secret_id: meta.id.as_str(),
                secret_name: &meta.name,
                version: v.version,
            };
            let value = ends.source.retrieve_value(target, &v.stored).await?;
            let previous = copied.last().map(|(_, s)| s);
            let stored = ends.target.store_value(target, &value, previous).await?;
            let back = ends.target.retrieve_value(target, &stored).await?;
            if !bool::from(digest(&value)?.ct_eq(&digest(&back)?)) {
                return Err(SecretError::MigrationFailed {
                    reason: format!(
                        "version {} read back from the target differs from the source's",
                        v.version
                    ),
                });
            }
            copied.push((v.version, stored));
        }
        Ok(copied)
    }

    /// Moves the pointer in one transaction if the secret is as it was copied; false when
    /// it changed (or a write to it is under way).
    async fn commit_move(
        &self,
        copied_from: &SecretMetadata,
        copied: Vec<(i64, StoredValue)>,
        dropped: &[VersionRecord],
        ends: &Endpoints<'_>,
    ) -> Result<bool> {
        let id = copied_from.id.as_str();
        let mut tx = self.begin().await?;
        let Some(now) = tx.lock_secret(id).await? else {
            return Ok(false);
        };
        let now = now.metadata;
        if now.is_deleted()
            || now.vault_id.as_str() != ends.source_id
            || now.current_version != copied_from.current_version
            || tx.has_pending_write(id).await?
        {
            return Ok(false);
        }
        let versions_copied = copied.len();
        tx.move_to_vault(&VaultMove {
            secret_id: id,
            vault_id: ends.target_id,
            backend: ends.target_kind,
            versions: copied,
            dropped: dropped.iter().map(|v| v.version).collect(),
            actor_id: ends.ctx.user_id(),
            now: self.now(),
        })
        .await?;
        let event = AuditEvent::new(E::SecretUpdated)
            .action("MIGRATE")
            .detail("migrationId", ends.migration_id)
            .detail("fromVaultId", ends.source_id)
            .detail("toVaultId", ends.target_id)
            .detail("toBackend", ends.target_kind.as_str())
            .detail("versionsCopied", versions_copied)
            .detail("versionsDropped", dropped.len())
            .detail("version", now.current_version);
        self.audit_in(&mut tx, id, event, ends.ctx).await?;
        let change = Change::secret(id, Some(now.current_version), ChangeKind::Updated);
        self.commit_with(tx, &[change]).await?;
        Ok(true)
    }

    /// Fails when the target already holds a live object for the secret that this run did
    /// not write (a copy left by an earlier migration that kept its source, or a second
    /// configuration of the same vault): that object is never overwritten or removed.
    pub(super) async fn target_is_clear(&self, id: &str, ends: &Endpoints<'_>) -> Result<()> {
        if ends.target.keeps_values_in_database() {
            return Ok(());
        }
        match ends.target.find_written(id, None).await? {
            None => Ok(()),
            Some(_) => Err(SecretError::Conflict {
                message: "the target vault already holds an object for this secret (a copy \
                          left by an earlier migration that kept its source?); it is left \
                          alone and the secret stays in the source"
                    .to_string(),
            }),
        }
    }

    /// Removes what an attempt wrote to an external target (the target's object for the
    /// secret is this run's alone: `target_is_clear` found none before it began).
    async fn remove_target_copy(&self, id: &str, ends: &Endpoints<'_>) {
        if ends.target.keeps_values_in_database() {
            return;
        }
        if let Err(err) = ends.target.delete_secret(id, &[]).await {
            tracing::warn!(secret_id = %id, error = %SecretError::from(err),
                "a migration's partial copy in the target could not be removed");
        }
    }

    /// Deletes the source's copies of a moved secret when the migration asks for it; the
    /// local store's copies were its version rows, which now point at the target.
    async fn delete_source_copy(
        &self,
        id: &str,
        old: &[StoredValue],
        ends: &Endpoints<'_>,
    ) -> Option<SecretError> {
        if !ends.options.delete_from_source || ends.source.keeps_values_in_database() {
            return None;
        }
        ends.source
            .delete_secret(id, old)
            .await
            .err()
            .map(SecretError::from)
    }

    /// Settles the secret a killed runner was copying: counted as migrated if its pointer
    /// had moved (its source copy deleted now if asked), otherwise its partial copy in the
    /// target is removed and its turn comes again.
    pub(super) async fn settle_in_flight(
        &self,
        id: &str,
        ends: &Endpoints<'_>,
        tally: &mut super::run::Tally,
    ) -> Result<()> {
        let rec = self.inner.repo.find(id).await?;
        match rec {
            Some(r) if r.metadata.vault_id.as_str() == ends.target_id => {
                tally.migrated += 1;
                tally.cursor = Some(id.to_string());
                if let Some(err) = self.delete_source_copy(id, &[], ends).await {
                    tracing::warn!(secret_id = %id, error = %err,
                        "a migrated secret's copy in the source could not be deleted");
                }
            }
            Some(r) if r.metadata.vault_id.as_str() == ends.source_id => {
                self.remove_target_copy(id, ends).await;
            }
            _ => {}
        }
        Ok(())
    }
}
