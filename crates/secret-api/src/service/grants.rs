//! Access grants: granting, revoking and listing them.

use secret_access::{Action, check_grant, check_revoke};
use secret_audit::AuditEvent;
use secret_core::GrantId;
use secret_core::SecretAuditEventType as E;
use secret_core::SecretId;
use secret_core::model::{AccessGrant, GrantAccessParams};
use secret_core::name::validate_platform_id;
use secret_core::wire::ChangeKind;
use secret_core::{SecretContext, SecretError};
use secret_store::Change;

use super::check::check_context;
use super::{Result, SecretService, not_found};

impl SecretService {
    /// Grants a user, team or role access to a secret, replacing an earlier grant to the
    /// same grantee. The caller needs GRANT and can pass on only permissions it holds.
    pub async fn grant_access(
        &self,
        secret_id: &SecretId,
        params: GrantAccessParams,
        ctx: &SecretContext,
    ) -> Result<AccessGrant> {
        check_context(ctx)?;
        let event = AuditEvent::new(E::AccessGranted)
            .on_id(secret_id)
            .detail("granteeType", params.grantee_type.as_str())
            .detail("granteeId", params.grantee_id.clone());
        self.audited(event, ctx, self.grant_op(secret_id, params, ctx))
            .await
    }

    async fn grant_op(
        &self,
        secret_id: &SecretId,
        params: GrantAccessParams,
        ctx: &SecretContext,
    ) -> Result<AccessGrant> {
        validate_platform_id("granteeId", &params.grantee_id)?;
        let now = self.now();
        let mut tx = self.begin().await?;
        let rec = tx
            .lock_secret(secret_id)
            .await?
            .ok_or_else(|| not_found(secret_id))?;
        let grants = tx.grants_on(secret_id).await?;
        let expires_at = check_grant(&ctx.principal, &rec.metadata, &grants, &params, now)?;
        if rec.metadata.is_deleted() {
            return Err(not_found(secret_id));
        }
        let replaced = grants
            .iter()
            .find(|g| g.grantee_type == params.grantee_type && g.grantee_id == params.grantee_id)
            .cloned();
        let grant = AccessGrant {
            id: GrantId::generate(),
            secret_id: secret_id.clone(),
            grantee_type: params.grantee_type,
            grantee_id: params.grantee_id,
            can_read: params.can_read,
            can_update: params.can_update,
            can_delete: params.can_delete,
            can_grant: params.can_grant,
            expires_at,
            granted_at: now,
            granted_by_id: ctx.user_id().to_string(),
        };
        let saved = tx.upsert_grant(&grant).await?;
        let mut event = AuditEvent::new(E::AccessGranted)
            .on(&rec.metadata)
            .detail("grantId", saved.id.clone())
            .detail("granteeType", saved.grantee_type.as_str())
            .detail("granteeId", saved.grantee_id.clone())
            .detail("canRead", saved.can_read)
            .detail("canUpdate", saved.can_update)
            .detail("canDelete", saved.can_delete)
            .detail("canGrant", saved.can_grant)
            .detail("expiresAt", saved.expires_at.map(|t| t.to_rfc3339()));
        if saved.expires_at != params.expires_at {
            // Capped at the granter's own access.
            event = event.detail(
                "requestedExpiresAt",
                params.expires_at.map(|t| t.to_rfc3339()),
            );
        }
        if let Some(old) = &replaced {
            event = event.action("GRANT_REPLACED").detail(
                "previous",
                serde_json::json!({
                    "grantId": old.id,
                    "canRead": old.can_read,
                    "canUpdate": old.can_update,
                    "canDelete": old.can_delete,
                    "canGrant": old.can_grant,
                    "expiresAt": old.expires_at.map(|t| t.to_rfc3339()),
                    "grantedById": old.granted_by_id,
                }),
            );
        }
        tx.append_audit(&[self.entry(event, ctx)]).await?;
        let mut change = Change::secret(
            secret_id.as_str(),
            Some(rec.metadata.current_version),
            ChangeKind::AccessChanged,
        );
        if let (Some(old), Change::Secret { removed_grant, .. }) = (replaced, &mut change) {
            *removed_grant = Some(old);
        }
        self.commit_with(tx, &[change]).await?;
        tracing::info!(
            secret_id = %secret_id,
            grant_id = %saved.id,
            grantee_type = %saved.grantee_type,
            "access granted"
        );
        Ok(saved)
    }

    /// Revokes one grant of a secret. The caller needs GRANT.
    pub async fn revoke_access(
        &self,
        secret_id: &SecretId,
        grant_id: &GrantId,
        ctx: &SecretContext,
    ) -> Result<AccessGrant> {
        check_context(ctx)?;
        let event = AuditEvent::new(E::AccessRevoked)
            .on_id(secret_id)
            .detail("grantId", grant_id);
        self.audited(event, ctx, self.revoke_op(secret_id, grant_id, ctx))
            .await
    }

    async fn revoke_op(
        &self,
        secret_id: &SecretId,
        grant_id: &GrantId,
        ctx: &SecretContext,
    ) -> Result<AccessGrant> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let rec = tx
            .lock_secret(secret_id)
            .await?
            .ok_or_else(|| not_found(secret_id))?;
        let grants = tx.grants_on(secret_id).await?;
        check_revoke(&ctx.principal, &rec.metadata, &grants, now)?;
        let grant = grants
            .into_iter()
            .find(|g| g.id == *grant_id)
            .ok_or_else(|| SecretError::GrantNotFound {
                id: grant_id.to_string(),
            })?;
        tx.delete_grant(secret_id, grant_id).await?;
        tx.append_audit(&[self.entry(
            AuditEvent::new(E::AccessRevoked)
                .on(&rec.metadata)
                .detail("grantId", grant.id.clone())
                .detail("granteeType", grant.grantee_type.as_str())
                .detail("granteeId", grant.grantee_id.clone()),
            ctx,
        )])
        .await?;
        let change = Change::grant_removed(&grant, rec.metadata.current_version);
        self.commit_with(tx, &[change]).await?;
        tracing::info!(secret_id = %secret_id, grant_id = %grant_id, "access revoked");
        Ok(grant)
    }

    /// The grants of a secret. The caller needs GRANT on it.
    pub async fn list_access_grants(
        &self,
        secret_id: &SecretId,
        ctx: &SecretContext,
    ) -> Result<Vec<AccessGrant>> {
        check_context(ctx)?;
        self.audited_view(
            secret_id,
            ctx,
            self.authorized(secret_id, ctx, Action::Grant),
        )
        .await?;
        Ok(self.inner.repo.grants_on(&[secret_id]).await?)
    }
}
