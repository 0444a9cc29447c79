//! Vault configurations (§12.1, §12.2): listing, configuring, changing, deleting and
//! health-checking them, each change audited in its own transaction; and choosing the
//! configuration a new secret's value is kept in.
//!
//! Super admins manage GLOBAL configurations and every organization's; an organization's
//! admins manage that organization's and see the global ones. Nobody else sees any. The
//! built-in `local` configuration always exists: it cannot be deleted, disabled, renamed or
//! given settings. Each scope has at most one default; the global scope always has one
//! (`local` unless another is chosen).

use secret_store::Change;
use std::time::Duration;

use secret_access::{administered_orgs, can_configure_vault};
use secret_audit::AuditEvent;
use secret_core::SecretAuditEventType as E;
use secret_core::VaultId;
use secret_core::model::FieldUpdate;
use secret_core::name::validate_description;
use secret_core::vault::{
    BackendConfig, ConfigureVaultParams, LOCAL_VAULT_ID, UpdateVaultParams, VaultConfiguration,
    validate_vault_name,
};
use secret_core::{
    Principal, SecretContext, SecretError, StorageBackendKind, VaultHealthStatus, VaultScope,
};
use secret_store::{NewVault, VaultChange, VaultRecord, VaultVisibility};

use super::check::check_context;
use super::{Result, SecretService};

/// The longest a health check may take before the vault counts as unreachable.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(30);

/// The outcome of a health check.
#[derive(Debug, Clone)]
pub struct VaultHealthReport {
    /// The configuration, with its new health status.
    pub vault: VaultConfiguration,
    pub healthy: bool,
    /// What the check found, in fixed words (never a credential).
    pub detail: String,
}

/// Which configurations `principal` may see: `None` for none at all.
fn visibility(principal: &Principal) -> Option<VaultVisibility> {
    if principal.super_admin {
        return Some(VaultVisibility::All);
    }
    let orgs = administered_orgs(principal);
    (!orgs.is_empty()).then_some(VaultVisibility::GlobalAnd(orgs))
}

pub(super) fn visible_to(principal: &Principal, v: &VaultRecord) -> bool {
    match visibility(principal) {
        None => false,
        Some(VaultVisibility::All) => true,
        Some(VaultVisibility::GlobalAnd(orgs)) => {
            v.scope == VaultScope::Global
                || v.organization_id.as_ref().is_some_and(|o| orgs.contains(o))
        }
    }
}

fn not_admin() -> SecretError {
    SecretError::AccessDenied {
        reason: "vault configurations are managed by super admins and organization admins"
            .to_string(),
    }
}

fn vault_event(event_type: E, v: &VaultRecord) -> AuditEvent {
    AuditEvent::new(event_type)
        .target(v.organization_id.as_deref(), None, None)
        .detail("vaultId", v.id.clone())
        .detail("name", v.name.clone())
        .detail("backend", v.backend.as_str())
        .detail("scope", v.scope.as_str())
}

impl SecretService {
    /// A configuration as `principal` sees it: its non-secret settings and the secrets it
    /// may count (an organization admin counts only its organizations' secrets in a global
    /// configuration).
    async fn vault_view(
        &self,
        v: &VaultRecord,
        principal: &Principal,
    ) -> Result<VaultConfiguration> {
        let settings = self.inner.registry.settings(v).await?;
        let orgs = (!principal.super_admin && v.scope == VaultScope::Global)
            .then(|| administered_orgs(principal));
        let secret_count = self
            .inner
            .vaults
            .count_secrets(&v.id, orgs.as_deref())
            .await?;
        Ok(VaultConfiguration {
            id: VaultId::from(&v.id),
            name: v.name.clone(),
            description: v.description.clone(),
            backend: v.backend,
            scope: v.scope,
            organization_id: v.organization_id.clone(),
            config: settings.public_view(),
            is_active: v.is_active,
            is_default: v.is_default,
            health_status: v.health_status,
            last_health_check: v.last_health_check,
            secret_count,
            created_at: v.created_at,
            created_by_id: v.created_by_id.clone(),
            updated_at: v.updated_at,
            updated_by_id: v.updated_by_id.clone(),
        })
    }

    /// The configurations the caller may see: the built-in one first, then by name.
    pub async fn list_vaults(&self, ctx: &SecretContext) -> Result<Vec<VaultConfiguration>> {
        check_context(ctx)?;
        let vis = visibility(&ctx.principal).ok_or_else(not_admin)?;
        let mut out = Vec::new();
        for v in self.inner.vaults.list(&vis).await? {
            out.push(self.vault_view(&v, &ctx.principal).await?);
        }
        Ok(out)
    }

    /// One configuration; one the caller may not see is not found.
    pub async fn get_vault(&self, id: &VaultId, ctx: &SecretContext) -> Result<VaultConfiguration> {
        check_context(ctx)?;
        let v = self.visible_vault(id, ctx).await?;
        self.vault_view(&v, &ctx.principal).await
    }

    async fn visible_vault(&self, id: &VaultId, ctx: &SecretContext) -> Result<VaultRecord> {
        visibility(&ctx.principal).ok_or_else(not_admin)?;
        self.inner
            .vaults
            .find(id)
            .await?
            .filter(|v| visible_to(&ctx.principal, v))
            .ok_or_else(|| SecretError::VaultNotFound { id: id.to_string() })
    }

    /// Configures a vault: its settings are validated and stored encrypted; audited as
    /// VAULT_CONFIGURED with the settings' non-secret part.
    pub async fn configure_vault(
        &self,
        params: ConfigureVaultParams,
        ctx: &SecretContext,
    ) -> Result<VaultConfiguration> {
        check_context(ctx)?;
        let org = match params.scope {
            VaultScope::Global => None,
            VaultScope::Organization => params.organization_id.clone(),
        };
        let event = AuditEvent::new(E::VaultConfigured)
            .target(org.as_deref(), None, None)
            .detail("name", params.name.clone())
            .detail("backend", params.backend.as_str())
            .detail("scope", params.scope.as_str());
        let v = self
            .audited(event, ctx, self.configure_vault_op(params, ctx))
            .await?;
        self.vault_view(&v, &ctx.principal).await
    }

    async fn configure_vault_op(
        &self,
        params: ConfigureVaultParams,
        ctx: &SecretContext,
    ) -> Result<VaultRecord> {
        let organization_id = match (params.scope, params.organization_id.as_deref()) {
            (VaultScope::Global, None) => None,
            (VaultScope::Global, Some(_)) => {
                return Err(SecretError::validation(
                    "organizationId",
                    "a GLOBAL vault belongs to no organization",
                ));
            }
            (VaultScope::Organization, Some(org)) if !org.trim().is_empty() => Some(org),
            (VaultScope::Organization, _) => {
                return Err(SecretError::validation(
                    "organizationId",
                    "is required for an ORGANIZATION vault",
                ));
            }
        };
        if !can_configure_vault(&ctx.principal, params.scope, organization_id) {
            return Err(SecretError::AccessDenied {
                reason: format!("configuring {} vaults here is not permitted", params.scope),
            });
        }
        validate_vault_name(&params.name)?;
        if let Some(d) = &params.description {
            validate_description(d)?;
        }
        if params.backend == StorageBackendKind::LocalEncrypted {
            return Err(SecretError::validation(
                "backend",
                "the local encrypted store is built in (vault id 'local'); configure an external vault",
            ));
        }
        let settings = BackendConfig::parse(params.backend, params.config.0)?;
        let id = uuid::Uuid::now_v7().to_string();
        let (key_id, blob) = self
            .inner
            .keys
            .encrypt_vault_config(&id, &settings.to_stored_json())?;
        let now = self.now();
        let mut tx = self.begin().await?;
        tx.insert_vault(&NewVault {
            id: &id,
            name: &params.name,
            description: params.description.as_deref(),
            backend: params.backend,
            scope: params.scope,
            organization_id,
            config_key_id: &key_id,
            encrypted_config: blob,
            is_default: params.is_default,
            actor_id: ctx.user_id(),
            now,
        })
        .await?;
        let v = tx
            .lock_vault(&id)
            .await?
            .ok_or_else(|| SecretError::internal("a vault just configured is missing"))?;
        tx.append_audit(&[self.entry(
            vault_event(E::VaultConfigured, &v)
                .detail("config", settings.public_view())
                .detail("isDefault", v.is_default),
            ctx,
        )])
        .await?;
        tx.commit().await?;
        tracing::info!(vault_id = %id, backend = %params.backend, "vault configured");
        Ok(v)
    }

    /// Changes a configuration; `config`, when given, replaces its settings whole. Audited
    /// as VAULT_UPDATED with the fields changed.
    pub async fn update_vault(
        &self,
        id: &VaultId,
        params: UpdateVaultParams,
        ctx: &SecretContext,
    ) -> Result<VaultConfiguration> {
        check_context(ctx)?;
        let event = AuditEvent::new(E::VaultUpdated).detail("vaultId", id);
        let disabling = params.is_active == Some(false);
        let v = self
            .audited(event, ctx, self.update_vault_op(id, params, ctx))
            .await?;
        self.inner.registry.forget(id);
        if disabling {
            // A cached value is served without the vault's client: a disabled vault's
            // values must not outlive it here (other replicas' caches expire by their TTL).
            self.inner.cache.clear();
        }
        self.vault_view(&v, &ctx.principal).await
    }

    /// Locks a configuration the caller may see and change.
    async fn lock_manageable(
        &self,
        tx: &mut secret_store::WriteTx,
        id: &str,
        ctx: &SecretContext,
    ) -> Result<VaultRecord> {
        let v = tx
            .lock_vault(id)
            .await?
            .filter(|v| visible_to(&ctx.principal, v))
            .ok_or_else(|| SecretError::VaultNotFound { id: id.to_string() })?;
        if !can_configure_vault(&ctx.principal, v.scope, v.organization_id.as_deref()) {
            return Err(SecretError::AccessDenied {
                reason: format!("changing {} vaults is not permitted", v.scope),
            });
        }
        Ok(v)
    }

    async fn update_vault_op(
        &self,
        id: &VaultId,
        params: UpdateVaultParams,
        ctx: &SecretContext,
    ) -> Result<VaultRecord> {
        visibility(&ctx.principal).ok_or_else(not_admin)?;
        if let Some(name) = &params.name {
            validate_vault_name(name)?;
        }
        if let FieldUpdate::Set(d) = &params.description {
            validate_description(d)?;
        }
        let mut tx = self.begin().await?;
        let current = self.lock_manageable(&mut tx, id, ctx).await?;
        let mut fields = Vec::new();
        let local = current.is_local();
        if local {
            if params.name.as_ref().is_some_and(|n| *n != current.name) {
                return Err(SecretError::validation(
                    "name",
                    "the built-in local vault keeps its name",
                ));
            }
            if params.is_active == Some(false) {
                return Err(SecretError::validation(
                    "isActive",
                    "the built-in local vault cannot be disabled",
                ));
            }
        }
        let settings = match params.config {
            None => None,
            Some(raw) => {
                let raw = if params.keep_blank_credentials && !local {
                    let stored = self.inner.registry.settings(&current).await?;
                    stored.with_kept_credentials(raw.0)
                } else {
                    raw.0
                };
                let parsed = BackendConfig::parse(current.backend, raw)?;
                fields.push("config");
                Some(parsed)
            }
        };
        let config = match &settings {
            Some(s) if !local => Some(
                self.inner
                    .keys
                    .encrypt_vault_config(id, &s.to_stored_json())?,
            ),
            _ => None,
        };
        let active = params.is_active.unwrap_or(current.is_active);
        let default = params.is_default.unwrap_or(current.is_default);
        if default && !active {
            return Err(SecretError::validation(
                if params.is_default == Some(true) {
                    "isDefault"
                } else {
                    "isActive"
                },
                "a default vault must be active: make another vault the default first",
            ));
        }
        if current.scope == VaultScope::Global && local && current.is_default && !default {
            return Err(SecretError::validation(
                "isDefault",
                "the global scope always has a default: make another vault the default instead",
            ));
        }
        let description = match &params.description {
            FieldUpdate::Keep => None,
            FieldUpdate::Set(d) => Some(Some(d.as_str())),
            FieldUpdate::Clear => Some(None),
        };
        for (changed, name) in [
            (
                params.name.as_ref().is_some_and(|n| *n != current.name),
                "name",
            ),
            (description.is_some(), "description"),
            (active != current.is_active, "isActive"),
            (default != current.is_default, "isDefault"),
        ] {
            if changed {
                fields.push(name);
            }
        }
        let now = self.now();
        tx.update_vault(
            &current,
            &VaultChange {
                name: params.name.as_deref(),
                description,
                config,
                is_active: params.is_active,
                is_default: params.is_default,
            },
            ctx.user_id(),
            now,
        )
        .await?;
        if current.scope == VaultScope::Global && current.is_default && !default {
            self.restore_local_default(&mut tx).await?;
        }
        let updated = tx
            .lock_vault(id)
            .await?
            .ok_or_else(|| SecretError::VaultNotFound { id: id.to_string() })?;
        let mut event = vault_event(E::VaultUpdated, &updated).detail("fields", fields);
        if let Some(s) = &settings {
            event = event.detail("config", s.public_view());
        }
        tx.append_audit(&[self.entry(event, ctx)]).await?;
        self.commit_with(tx, &[Change::vault(id.as_str())]).await?;
        Ok(updated)
    }

    /// Makes the built-in configuration the global default again.
    async fn restore_local_default(&self, tx: &mut secret_store::WriteTx) -> Result<()> {
        let local = tx
            .lock_vault(LOCAL_VAULT_ID)
            .await?
            .ok_or_else(|| SecretError::internal("the built-in local vault is missing"))?;
        tx.set_vault_default(&local, true).await?;
        Ok(())
    }

    /// Deletes a configuration that holds no secret (409 with the count otherwise); the
    /// built-in one cannot be deleted. Audited as VAULT_DELETED.
    pub async fn delete_vault(&self, id: &VaultId, ctx: &SecretContext) -> Result<()> {
        check_context(ctx)?;
        let event = AuditEvent::new(E::VaultDeleted).detail("vaultId", id);
        self.audited(event, ctx, self.delete_vault_op(id, ctx))
            .await?;
        self.inner.registry.forget(id);
        Ok(())
    }

    async fn delete_vault_op(&self, id: &VaultId, ctx: &SecretContext) -> Result<()> {
        visibility(&ctx.principal).ok_or_else(not_admin)?;
        let mut tx = self.begin().await?;
        let current = self.lock_manageable(&mut tx, id, ctx).await?;
        if current.is_local() {
            return Err(SecretError::Conflict {
                message: "the built-in local vault cannot be deleted".to_string(),
            });
        }
        let held = tx.count_vault_secrets(id).await?;
        if held > 0 {
            return Err(SecretError::Conflict {
                message: format!(
                    "vault '{}' still holds {held} secret(s) (soft-deleted ones included): \
                     migrate or purge them first",
                    current.name
                ),
            });
        }
        tx.delete_vault(id).await?;
        if current.scope == VaultScope::Global && current.is_default {
            self.restore_local_default(&mut tx).await?;
        }
        tx.append_audit(&[self.entry(vault_event(E::VaultDeleted, &current), ctx)])
            .await?;
        self.commit_with(tx, &[Change::vault(id.as_str())]).await?;
        tracing::info!(vault_id = %id, "vault configuration deleted");
        Ok(())
    }

    /// Checks that a configuration's vault answers, records the outcome as its health and
    /// audits it as VAULT_HEALTH_CHECK.
    pub async fn check_vault_health(
        &self,
        id: &VaultId,
        ctx: &SecretContext,
    ) -> Result<VaultHealthReport> {
        check_context(ctx)?;
        let event = AuditEvent::new(E::VaultHealthCheck).detail("vaultId", id);
        self.audited(event, ctx, self.check_vault_health_op(id, ctx))
            .await
    }

    async fn check_vault_health_op(
        &self,
        id: &VaultId,
        ctx: &SecretContext,
    ) -> Result<VaultHealthReport> {
        let v = self.visible_vault(id, ctx).await?;
        if !can_configure_vault(&ctx.principal, v.scope, v.organization_id.as_deref()) {
            return Err(SecretError::AccessDenied {
                reason: format!("checking {} vaults is not permitted", v.scope),
            });
        }
        let outcome = match self.inner.registry.backend_of(&v).await {
            Err(e) => Err(SecretError::from(e)),
            Ok(backend) => match tokio::time::timeout(HEALTH_TIMEOUT, backend.health_check()).await
            {
                Err(_) => Err(SecretError::VaultUnavailable {
                    reason: "the health check timed out".to_string(),
                }),
                Ok(r) => r.map_err(SecretError::from),
            },
        };
        let (healthy, detail) = match outcome {
            Ok(h) => (h.healthy, h.detail),
            Err(e) => (false, e.to_string()),
        };
        let status = if healthy {
            VaultHealthStatus::Healthy
        } else {
            VaultHealthStatus::Unhealthy
        };
        let now = self.now();
        let mut tx = self.begin().await?;
        tx.set_vault_health(id, status, now).await?;
        tx.append_audit(&[self.entry(
            vault_event(E::VaultHealthCheck, &v)
                .detail("healthStatus", status.as_str())
                .detail("detail", detail.clone()),
            ctx,
        )])
        .await?;
        tx.commit().await?;
        let fresh = self
            .inner
            .vaults
            .find(id)
            .await?
            .ok_or_else(|| SecretError::VaultNotFound { id: id.to_string() })?;
        Ok(VaultHealthReport {
            vault: self.vault_view(&fresh, &ctx.principal).await?,
            healthy,
            detail,
        })
    }

    /// The configuration a new secret of `organization_id` is kept in: `vault_id` when
    /// given (it must be active and usable by the secret's organization, and of
    /// `backend` when that is given too); else, with `backend`, the scope's default if it
    /// is of that kind, else the only usable configuration of that kind; else the
    /// organization's default, the global default, or `local`.
    pub(crate) async fn place_secret(
        &self,
        vault_id: Option<&str>,
        backend: Option<StorageBackendKind>,
        organization_id: Option<&str>,
    ) -> Result<VaultRecord> {
        let usable = self.inner.vaults.usable_by(organization_id).await?;
        if let Some(id) = vault_id {
            let v = usable.into_iter().find(|v| v.id == id).ok_or_else(|| {
                SecretError::VaultNotConfigured {
                    reason: format!(
                        "no active vault configuration '{id}' is available to this secret"
                    ),
                }
            })?;
            if let Some(kind) = backend.filter(|k| *k != v.backend) {
                return Err(SecretError::validation(
                    "storageBackend",
                    format!("vault '{id}' is {}, not {kind}", v.backend),
                ));
            }
            return Ok(v);
        }
        let org_default = usable
            .iter()
            .find(|v| v.is_default && v.scope == VaultScope::Organization);
        let global_default = usable
            .iter()
            .find(|v| v.is_default && v.scope == VaultScope::Global);
        let Some(kind) = backend else {
            return org_default
                .or(global_default)
                .or_else(|| usable.iter().find(|v| v.is_local()))
                .cloned()
                .ok_or_else(|| SecretError::internal("the built-in local vault is missing"));
        };
        if let Some(v) = [org_default, global_default]
            .into_iter()
            .flatten()
            .find(|v| v.backend == kind)
        {
            return Ok(v.clone());
        }
        let of_kind: Vec<&VaultRecord> = usable.iter().filter(|v| v.backend == kind).collect();
        match of_kind.as_slice() {
            [only] => Ok((*only).clone()),
            [] => Err(SecretError::VaultNotConfigured {
                reason: format!("no active {kind} vault is configured for this secret"),
            }),
            several => Err(SecretError::VaultNotConfigured {
                reason: format!(
                    "several {kind} vaults are configured; choose one with vaultId: {}",
                    several
                        .iter()
                        .map(|v| format!("{} ({})", v.id, v.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
        }
    }
}
