//! Creating a secret with its first version.

use chrono::Duration;
use secret_access::can_create;
use secret_audit::AuditEvent;
use secret_core::SecretAuditEventType as E;
use secret_core::SecretId;
use secret_core::model::{CreateSecretParams, SecretMetadata};
use secret_core::name::{
    normalize_tags, validate_description, validate_metadata, validate_secret_name,
};
use secret_core::wire::ChangeKind;
use secret_core::{SecretContext, SecretError, SecretScope};
use secret_store::Change;
use std::sync::Arc;

use secret_store::{
    NewSecret, NewVersion, PendingOperation, StagedWrite, StorageBackend, ValueTarget, VaultRecord,
    WriteTx,
};

use super::check::{
    CheckedValue, check_context, check_value, earliest, effective_interval, resolve_owner,
};
use super::commit::VaultWrite;
use super::{Result, SecretService, not_found};

impl SecretService {
    /// Creates a secret with its first version.
    pub async fn create_secret(
        &self,
        params: CreateSecretParams,
        ctx: &SecretContext,
    ) -> Result<SecretMetadata> {
        check_context(ctx)?;
        // A refused or failed create is filed under the place it aimed at: the request's
        // ids (the caller's context fills only what the request leaves out, as it does for
        // the secret itself).
        let target = &params.target;
        let pick = |own: &Option<String>, context: &Option<String>| {
            own.clone().or_else(|| context.clone())
        };
        let org = match params.scope {
            SecretScope::Global => None,
            _ => pick(&target.organization_id, &ctx.organization_id),
        };
        let event = AuditEvent::new(E::SecretCreated)
            .target(
                org.as_deref(),
                pick(&target.team_id, &ctx.team_id).as_deref(),
                pick(&target.project_id, &ctx.project_id).as_deref(),
            )
            .detail("name", params.name.clone())
            .detail("scope", params.scope.as_str())
            .detail("type", params.secret_type.as_str());
        let created = self
            .audited(event, ctx, self.create_secret_op(params, ctx))
            .await?;
        Ok(self.unsealed(created).await)
    }

    async fn create_secret_op(
        &self,
        params: CreateSecretParams,
        ctx: &SecretContext,
    ) -> Result<SecretMetadata> {
        let prepared = self.prepare_create(params, ctx, None).await?;
        self.create_prepared(prepared, ctx).await
    }

    /// Writes a create that [`SecretService::prepare_create`] checked: the value to its
    /// backend, then the secret, its first version and its audit record.
    pub(crate) async fn create_prepared(
        &self,
        prepared: PreparedCreate,
        ctx: &SecretContext,
    ) -> Result<SecretMetadata> {
        let PreparedCreate {
            new,
            checked,
            backend,
            vault_id,
        } = prepared;
        let id = SecretId::from(new.id.as_str());
        let external = !backend.keeps_values_in_database();
        let stored = if external {
            let write = VaultWrite {
                staged: StagedWrite {
                    secret_id: &id,
                    version: 1,
                    vault_id: &vault_id,
                    operation: PendingOperation::Create,
                    actor_id: ctx.user_id(),
                    now: new.now,
                },
                secret_name: &new.name,
                previous: None,
            };
            self.write_to_vault(
                self.begin().await?,
                &write,
                &checked.value,
                backend.as_ref(),
            )
            .await?
        } else {
            let target = ValueTarget {
                secret_id: &id,
                secret_name: &new.name,
                version: 1,
            };
            backend.store_value(target, &checked.value, None).await?
        };
        let current = external.then(|| stored.clone());
        let created = match self.insert_created(&new, stored, external, ctx).await {
            Ok(created) => created,
            Err(err) => {
                if external {
                    self.abandon_create(&id, backend.as_ref()).await;
                }
                return Err(err);
            }
        };
        tracing::info!(secret_id = %id, scope = %new.scope, secret_type = %new.secret_type, "secret created");
        if let Some(current) = &current {
            self.mirror_expiry(&created, Some(current), None).await;
        }
        Ok(created)
    }

    /// Every check of a create that needs no write (name, description, tags, metadata,
    /// owner, permission, vault placement, rotation, lifecycle, value, expiry), and the row
    /// the new secret gets. `placed` is the vault already chosen for it (an import places
    /// all its secrets once); `None` places it by `params`.
    pub(crate) async fn prepare_create(
        &self,
        params: CreateSecretParams,
        ctx: &SecretContext,
        placed: Option<&VaultRecord>,
    ) -> Result<PreparedCreate> {
        validate_secret_name(&params.name)?;
        if let Some(d) = &params.description {
            validate_description(d)?;
        }
        let tags = normalize_tags(&params.tags)?;
        validate_metadata(&params.metadata)?;
        let owner = resolve_owner(params.scope, &params.target, ctx)?;
        if !can_create(
            &ctx.principal,
            params.scope,
            owner.organization_id.as_deref(),
            owner.team_id.as_deref(),
            owner.project_id.as_deref(),
        ) {
            return Err(SecretError::AccessDenied {
                reason: format!("creating {} secrets here is not permitted", params.scope),
            });
        }
        let vault = match placed {
            Some(vault) => vault.clone(),
            None => {
                self.place_secret(
                    params.vault_id.as_deref(),
                    params.storage_backend,
                    owner.organization_id.as_deref(),
                )
                .await?
            }
        };
        let backend = self.inner.registry.backend_of(&vault).await?;
        let interval = effective_interval(
            params.secret_type,
            params.rotation_enabled,
            params.rotation_interval_days,
        )?;
        let lifecycle = params.lifecycle.validate(params.rotation_enabled)?;
        let now = self.now();
        let checked = check_value(params.secret_type, params.value, now)?;
        if params.expires_at.is_some_and(|at| at <= now) {
            return Err(SecretError::validation(
                "expiresAt",
                "must be in the future",
            ));
        }
        let expires_at = earliest(params.expires_at, checked.facts.natural_expiry);
        let id = SecretId::generate();
        let new = NewSecret {
            id: id.to_string(),
            name: params.name,
            description: params.description,
            secret_type: params.secret_type,
            storage_backend: vault.backend,
            vault_id: vault.id.clone(),
            scope: params.scope,
            organization_id: owner.organization_id,
            team_id: owner.team_id,
            project_id: owner.project_id,
            user_id: owner.user_id,
            expires_at,
            rotation_enabled: params.rotation_enabled,
            rotation_interval_days: interval,
            next_rotation_at: if params.rotation_enabled {
                interval.map(|d| now + Duration::days(i64::from(d)))
            } else {
                None
            },
            tags,
            metadata: params.metadata,
            masked: Some(self.seal_masked(&id, 1, &checked.masked)?),
            facts: checked.facts.clone(),
            lifecycle,
            created_by_id: ctx.user_id().to_string(),
            now,
        };
        Ok(PreparedCreate {
            new,
            checked,
            backend,
            vault_id: vault.id,
        })
    }

    /// Inserts a new secret with its first version and its audit record, clearing its
    /// pending write when the value went to an external vault.
    async fn insert_created(
        &self,
        new: &NewSecret,
        stored: secret_store::StoredValue,
        external: bool,
        ctx: &SecretContext,
    ) -> Result<SecretMetadata> {
        let mut tx = self.begin().await?;
        if external && !tx.finish_write(&new.id, 1).await? {
            return Err(SecretError::Conflict {
                message: "the pending write of this secret was taken over".to_string(),
            });
        }
        let created = self.insert_created_in(&mut tx, new, stored, ctx).await?;
        let change = Change::secret(
            &*created.id,
            Some(created.current_version),
            ChangeKind::Updated,
        );
        self.commit_with(tx, &[change]).await?;
        Ok(created)
    }

    /// Inserts a new secret with its first version and its audit record in `tx`.
    pub(crate) async fn insert_created_in(
        &self,
        tx: &mut WriteTx,
        new: &NewSecret,
        stored: secret_store::StoredValue,
        ctx: &SecretContext,
    ) -> Result<SecretMetadata> {
        let (id, now) = (&new.id, new.now);
        tx.insert_secret(new).await?;
        tx.insert_version(NewVersion {
            secret_id: id,
            version: 1,
            stored,
            change_reason: Some("Created".to_string()),
            created_by_id: ctx.user_id(),
            now,
        })
        .await?;
        let created = tx.find(id).await?.ok_or_else(|| not_found(id))?.metadata;
        tx.append_audit(&[self.entry(
            AuditEvent::new(E::SecretCreated)
                .on(&created)
                .detail("type", created.secret_type.as_str())
                .detail("version", 1)
                .detail("storageBackend", created.storage_backend.as_str())
                .detail("vaultId", created.vault_id.clone()),
            ctx,
        )])
        .await?;
        Ok(created)
    }
}

/// A create checked and placed, not yet written: the row, the checked value and the
/// backend that will keep it.
pub(crate) struct PreparedCreate {
    pub(crate) new: NewSecret,
    pub(crate) checked: CheckedValue,
    pub(crate) backend: Arc<dyn StorageBackend>,
    pub(crate) vault_id: String,
}
