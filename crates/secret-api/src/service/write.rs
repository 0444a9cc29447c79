//! Writes to a live secret: its metadata, a new value, a rotation; and the steps every
//! new version shares (`advance`, `audit_in`; the write itself is `commit`'s).

use chrono::Duration;
use secret_access::Action;
use secret_audit::AuditEvent;
use secret_core::SecretAuditEventType as E;
use secret_core::SecretId;
use secret_core::model::{SecretMetadata, UpdateSecretParams, UpdateValueParams};
use secret_core::name::{
    normalize_tags, validate_change_reason, validate_description, validate_metadata,
};
use secret_core::wire::ChangeKind;
use secret_core::{SecretContext, SecretError, SecretValue};
use secret_store::Change;
use secret_store::{MetadataChange, VersionAdvance, WriteTx};

use super::check::{changed_fields, check_context, earliest, effective_interval};
use super::commit::{NextVersion, VersionNote};
use super::{Result, SecretService, check_expected, not_found};

impl SecretService {
    /// Updates a secret's metadata (description, expiry, rotation settings, tags, metadata).
    pub async fn update_secret(
        &self,
        id: &SecretId,
        params: UpdateSecretParams,
        ctx: &SecretContext,
    ) -> Result<SecretMetadata> {
        check_context(ctx)?;
        let event = AuditEvent::new(E::SecretUpdated)
            .action("UPDATE_METADATA")
            .on_id(id);
        let meta = self
            .audited(event, ctx, self.update_secret_op(id, params, ctx))
            .await?;
        Ok(self.unsealed(meta).await)
    }

    async fn update_secret_op(
        &self,
        id: &SecretId,
        params: UpdateSecretParams,
        ctx: &SecretContext,
    ) -> Result<SecretMetadata> {
        if let secret_core::model::FieldUpdate::Set(d) = &params.description {
            validate_description(d)?;
        }
        let tags = params.tags.as_deref().map(normalize_tags).transpose()?;
        if let Some(m) = &params.metadata {
            validate_metadata(m)?;
        }
        let now = self.now();
        if matches!(params.expires_at, secret_core::model::FieldUpdate::Set(at) if at <= now) {
            return Err(SecretError::validation(
                "expiresAt",
                "must be in the future",
            ));
        }
        let mut tx = self.begin().await?;
        let current = self.lock_live(&mut tx, id, ctx, Action::Update).await?;
        check_expected(params.expected_version, current.current_version)?;
        let before = current.clone();
        let rotation_enabled = params.rotation_enabled.unwrap_or(current.rotation_enabled);
        let lifecycle = params
            .lifecycle
            .clone()
            .apply(current.lifecycle.clone())
            .validate(rotation_enabled)?;
        let interval = effective_interval(
            current.secret_type,
            rotation_enabled,
            params
                .rotation_interval_days
                .apply(current.rotation_interval_days),
        )?;
        let next_rotation_at = if rotation_enabled {
            let base = current.last_rotated_at.unwrap_or(current.created_at);
            interval.map(|d| base + Duration::days(i64::from(d)))
        } else {
            None
        };
        let expires_at = earliest(
            params.expires_at.apply(current.expires_at),
            current.facts.natural_expiry,
        );
        tx.update_metadata(
            id,
            &MetadataChange {
                expected_version: Some(current.current_version),
                actor_id: ctx.user_id(),
                now,
                description: params.description.apply(current.description),
                expires_at,
                rotation_enabled,
                rotation_interval_days: interval,
                next_rotation_at,
                tags: tags.unwrap_or(current.tags),
                metadata: params.metadata.unwrap_or(current.metadata),
                lifecycle,
            },
        )
        .await?;
        let updated = tx.find(id).await?.ok_or_else(|| not_found(id))?.metadata;
        tx.append_audit(&[self.entry(
            AuditEvent::new(E::SecretUpdated)
                .action("UPDATE_METADATA")
                .on(&updated)
                .detail("fields", changed_fields(&before, &updated)),
            ctx,
        )])
        .await?;
        let change = Change::secret(
            id.as_str(),
            Some(updated.current_version),
            ChangeKind::Updated,
        );
        self.commit_with(tx, &[change]).await?;
        self.mirror_expiry(&updated, None, before.expires_at).await;
        Ok(updated)
    }

    /// Writes a new value as a new version.
    pub async fn update_secret_value(
        &self,
        id: &SecretId,
        params: UpdateValueParams,
        ctx: &SecretContext,
    ) -> Result<SecretMetadata> {
        check_context(ctx)?;
        if let Some(r) = &params.change_reason {
            validate_change_reason(r)?;
        }
        let reason = params
            .change_reason
            .unwrap_or_else(|| "Value updated".to_string());
        let event = AuditEvent::new(E::SecretUpdated)
            .action("UPDATE_VALUE")
            .on_id(id);
        let meta = self
            .audited(
                event.clone(),
                ctx,
                self.write_new_version(
                    id,
                    params.value,
                    VersionNote::new(event, reason, params.expected_version),
                    ctx,
                ),
            )
            .await?;
        Ok(self.unsealed(meta).await)
    }

    /// Rotates a secret to `new_value`: a new version, `lastRotatedAt` = now and
    /// `nextRotationAt` moved on by the rotation interval.
    pub async fn rotate_secret(
        &self,
        id: &SecretId,
        new_value: SecretValue,
        expected_version: Option<i64>,
        ctx: &SecretContext,
    ) -> Result<SecretMetadata> {
        check_context(ctx)?;
        let event = AuditEvent::new(E::SecretRotated).on_id(id);
        let meta = self
            .audited(
                event.clone(),
                ctx,
                self.write_new_version(
                    id,
                    new_value,
                    VersionNote::new(event, "Rotation".to_string(), expected_version),
                    ctx,
                ),
            )
            .await?;
        Ok(self.unsealed(meta).await)
    }

    /// Writes `value` as a new version, recorded as `event` (SECRET_ROTATED for a
    /// rotation) in the same transaction as the version.
    async fn write_new_version(
        &self,
        id: &str,
        value: SecretValue,
        new: VersionNote,
        ctx: &SecretContext,
    ) -> Result<SecretMetadata> {
        let rotation = new.rotation;
        let (updated, version) = self.commit_version(id, value, new, ctx).await?;
        tracing::info!(secret_id = %id, version, rotation, "secret value updated");
        Ok(updated)
    }

    /// Appends `event` about secret `id`, as it now stands in `tx`, to the audit trail in
    /// the same transaction; returns the secret's metadata.
    pub(super) async fn audit_in(
        &self,
        tx: &mut WriteTx,
        id: &str,
        mut event: AuditEvent,
        ctx: &SecretContext,
    ) -> Result<SecretMetadata> {
        let meta = tx.find(id).await?.ok_or_else(|| not_found(id))?.metadata;
        event.set_secret(&meta);
        tx.append_audit(&[self.entry(event, ctx)]).await?;
        Ok(meta)
    }

    pub(crate) async fn advance(&self, tx: &mut WriteTx, next: &NextVersion<'_>) -> Result<i64> {
        let NextVersion {
            current,
            checked,
            rotation,
            now,
            ctx,
        } = *next;
        let facts = &checked.facts;
        let masked = self.seal_masked(&current.id, current.current_version + 1, &checked.masked)?;
        // A value with its own expiry (a certificate) moves the secret's expiry with it; a
        // new value for an expired secret ends the expiry (§8.1: "until a new value is set").
        let natural_changed =
            facts.natural_expiry != current.facts.natural_expiry || current.is_expired_at(now);
        let expires_at = natural_changed.then(|| {
            if current.is_expired_at(now) {
                return facts.natural_expiry.filter(|at| *at > now);
            }
            let asked = if current.expires_at == current.facts.natural_expiry {
                None
            } else {
                current.expires_at
            };
            earliest(asked, facts.natural_expiry)
        });
        let next_rotation = rotation.then(|| {
            if current.rotation_enabled {
                current
                    .rotation_interval_days
                    .map(|d| now + Duration::days(i64::from(d)))
            } else {
                None
            }
        });
        Ok(tx
            .advance_version(
                &current.id,
                &VersionAdvance {
                    expected_version: Some(current.current_version),
                    actor_id: ctx.user_id(),
                    now,
                    facts,
                    masked: Some(&masked),
                    expires_at,
                    rotation: next_rotation,
                },
            )
            .await?)
    }
}
