//! Rolling a secret back to an earlier version's value.

use secret_access::Action;
use secret_audit::AuditEvent;
use secret_core::SecretAuditEventType as E;
use secret_core::SecretId;
use secret_core::model::SecretMetadata;
use secret_core::{SecretContext, SecretError};
use secret_store::ValueTarget;

use super::check::check_context;
use super::commit::VersionNote;
use super::{Result, SecretService};

impl SecretService {
    /// Makes an earlier version's value current again, as a new version re-encrypted for
    /// its new place, with the reason "Rollback to version N".
    pub async fn rollback_secret(
        &self,
        id: &SecretId,
        to_version: i64,
        expected_version: Option<i64>,
        ctx: &SecretContext,
    ) -> Result<SecretMetadata> {
        check_context(ctx)?;
        let event = AuditEvent::new(E::SecretUpdated)
            .action("ROLLBACK")
            .on_id(id)
            .detail("rolledBackTo", to_version);
        let meta = self
            .audited(
                event.clone(),
                ctx,
                self.rollback_op(
                    id,
                    to_version,
                    VersionNote {
                        reason: format!("Rollback to version {to_version}"),
                        rotation: false,
                        event,
                        expected: expected_version,
                    },
                    ctx,
                ),
            )
            .await?;
        Ok(self.unsealed(meta).await)
    }

    /// Writes version `to_version`'s value as a new version, recorded as `new`.
    async fn rollback_op(
        &self,
        id: &SecretId,
        to_version: i64,
        new: VersionNote,
        ctx: &SecretContext,
    ) -> Result<SecretMetadata> {
        if to_version < 1 {
            return Err(SecretError::validation("version", "must be 1 or more"));
        }
        // The old value is read first, outside any transaction (it may live in an external
        // vault); versions never change, so it is still the same when the new one commits.
        let current = self.authorized(id, ctx, Action::Update).await?;
        if current.is_deleted() {
            return Err(super::not_found(id));
        }
        if to_version == current.current_version {
            return Err(SecretError::validation(
                "version",
                format!("version {to_version} is already the current version"),
            ));
        }
        let target = self
            .inner
            .repo
            .find_version(id, to_version)
            .await?
            .ok_or_else(|| SecretError::VersionNotFound {
                id: id.to_string(),
                version: to_version,
            })?;
        let old_value = self
            .backend(&current)
            .await?
            .retrieve_value(
                ValueTarget {
                    secret_id: id,
                    secret_name: &current.name,
                    version: to_version,
                },
                &target.stored,
            )
            .await?;
        let (updated, version) = self.commit_version(id, old_value, new, ctx).await?;
        tracing::info!(secret_id = %id, to_version, version, "secret rolled back");
        Ok(updated)
    }
}
