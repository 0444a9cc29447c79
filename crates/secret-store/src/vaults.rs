//! The vault configurations repository: rows of `vault_configurations` with their encrypted
//! settings, reads outside a transaction, and the changes, which run in a [`WriteTx`] so each
//! commits with its audit record.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder,
};
use secret_core::vault::LOCAL_VAULT_ID;
use secret_core::{SecretError, StorageBackendKind, VaultHealthStatus, VaultScope};

use crate::db::Database;
use crate::entity::{secrets, vault_configurations as vc};
use crate::error::{StoreError, StoreResult};
use crate::secrets::{WriteTx, parse};

/// One vault configuration as stored, its settings still encrypted.
#[derive(Clone, PartialEq, Eq)]
pub struct VaultRecord {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub backend: StorageBackendKind,
    pub scope: VaultScope,
    pub organization_id: Option<String>,
    /// The settings' JSON, encrypted under `config_key_id` (empty for `local`).
    pub encrypted_config: Vec<u8>,
    pub config_key_id: String,
    pub is_active: bool,
    pub is_default: bool,
    pub health_status: VaultHealthStatus,
    pub last_health_check: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub created_by_id: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by_id: String,
}

impl std::fmt::Debug for VaultRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("backend", &self.backend)
            .field("scope", &self.scope)
            .field("organization_id", &self.organization_id)
            .field("updated_at", &self.updated_at)
            .finish_non_exhaustive()
    }
}

impl VaultRecord {
    /// Whether this is the built-in local configuration.
    pub fn is_local(&self) -> bool {
        self.id == LOCAL_VAULT_ID
    }
}

/// The uniqueness key of a configuration's name: its scope and organization.
fn vault_owner_key(scope: VaultScope, organization_id: Option<&str>) -> String {
    match scope {
        VaultScope::Global => "GLOBAL".to_string(),
        VaultScope::Organization => format!("ORGANIZATION:{}", organization_id.unwrap_or("")),
    }
}

fn to_vault(m: vc::Model) -> StoreResult<VaultRecord> {
    Ok(VaultRecord {
        backend: parse("vault_configurations", "backend", &m.backend)?,
        scope: parse("vault_configurations", "scope", &m.scope)?,
        health_status: parse("vault_configurations", "health status", &m.health_status)?,
        id: m.id,
        name: m.name,
        description: m.description,
        organization_id: m.organization_id,
        encrypted_config: m.encrypted_config,
        config_key_id: m.config_key_id,
        is_active: m.is_active,
        is_default: m.is_default,
        last_health_check: m.last_health_check,
        created_at: m.created_at,
        created_by_id: m.created_by_id,
        updated_at: m.updated_at,
        updated_by_id: m.updated_by_id,
    })
}

/// Which configurations a listing holds: all, or the global ones plus those of some
/// organizations.
#[derive(Debug, Clone)]
pub enum VaultVisibility {
    All,
    GlobalAnd(Vec<String>),
}

impl VaultVisibility {
    fn condition(&self) -> Condition {
        match self {
            VaultVisibility::All => Condition::all(),
            VaultVisibility::GlobalAnd(orgs) => Condition::any()
                .add(vc::Column::Scope.eq(VaultScope::Global.as_str()))
                .add(vc::Column::OrganizationId.is_in(orgs.clone())),
        }
    }
}

/// A new configuration, its settings already encrypted.
#[derive(Debug)]
pub struct NewVault<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub backend: StorageBackendKind,
    pub scope: VaultScope,
    pub organization_id: Option<&'a str>,
    pub config_key_id: &'a str,
    pub encrypted_config: Vec<u8>,
    pub is_default: bool,
    pub actor_id: &'a str,
    pub now: DateTime<Utc>,
}

/// A change to a configuration; `None` keeps a field.
#[derive(Debug, Default)]
pub struct VaultChange<'a> {
    pub name: Option<&'a str>,
    pub description: Option<Option<&'a str>>,
    /// New settings: the key id and the blob.
    pub config: Option<(String, Vec<u8>)>,
    pub is_active: Option<bool>,
    pub is_default: Option<bool>,
}

fn name_taken(name: &str) -> StoreError {
    SecretError::Conflict {
        message: format!("a vault configuration named '{name}' already exists in this scope"),
    }
    .into()
}

/// Reads of vault configurations outside a write transaction.
#[derive(Debug, Clone)]
pub struct VaultRepository {
    db: Database,
}

impl VaultRepository {
    /// A repository over `db`.
    pub fn new(db: Database) -> Self {
        VaultRepository { db }
    }

    /// One configuration.
    pub async fn find(&self, id: &str) -> StoreResult<Option<VaultRecord>> {
        vc::Entity::find_by_id(id)
            .one(self.db.conn())
            .await?
            .map(to_vault)
            .transpose()
    }

    /// Every configuration `visibility` lets through, the built-in one first, then by name.
    pub async fn list(&self, visibility: &VaultVisibility) -> StoreResult<Vec<VaultRecord>> {
        let rows = vc::Entity::find()
            .filter(visibility.condition())
            .order_by_asc(vc::Column::Name)
            .order_by_asc(vc::Column::Id)
            .all(self.db.conn())
            .await?;
        let mut out: Vec<VaultRecord> = rows.into_iter().map(to_vault).collect::<Result<_, _>>()?;
        out.sort_by_key(|v| !v.is_local());
        Ok(out)
    }

    /// The active configurations a secret of `organization_id` may be kept in: the global
    /// ones and those of its organization.
    pub async fn usable_by(&self, organization_id: Option<&str>) -> StoreResult<Vec<VaultRecord>> {
        let orgs = organization_id
            .map(|o| vec![o.to_string()])
            .unwrap_or_default();
        Ok(self
            .list(&VaultVisibility::GlobalAnd(orgs))
            .await?
            .into_iter()
            .filter(|v| v.is_active)
            .collect())
    }

    /// How many secrets (soft-deleted ones included) are kept in configuration `id`;
    /// only those of `orgs` when given.
    pub async fn count_secrets(&self, id: &str, orgs: Option<&[String]>) -> StoreResult<u64> {
        let mut q = secrets::Entity::find().filter(secrets::Column::VaultConfigId.eq(id));
        if let Some(orgs) = orgs {
            q = q.filter(secrets::Column::OrganizationId.is_in(orgs.to_vec()));
        }
        Ok(q.count(self.db.conn()).await?)
    }
}

impl WriteTx {
    /// Locks a configuration's row for the rest of the transaction and reads it.
    pub async fn lock_vault(&mut self, id: &str) -> StoreResult<Option<VaultRecord>> {
        let res = vc::Entity::update_many()
            .col_expr(vc::Column::IsActive, Expr::col(vc::Column::IsActive))
            .filter(vc::Column::Id.eq(id))
            .exec(self.txn())
            .await?;
        if res.rows_affected == 0 {
            return Ok(None);
        }
        vc::Entity::find_by_id(id)
            .one(self.txn())
            .await?
            .map(to_vault)
            .transpose()
    }

    /// Clears the default flag of every configuration of (scope, organization) but `keep`.
    async fn clear_defaults(
        &mut self,
        scope: VaultScope,
        organization_id: Option<&str>,
        keep: &str,
    ) -> StoreResult<()> {
        vc::Entity::update_many()
            .col_expr(vc::Column::IsDefault, Expr::value(false))
            .filter(vc::Column::OwnerKey.eq(vault_owner_key(scope, organization_id)))
            .filter(vc::Column::Id.ne(keep))
            .exec(self.txn())
            .await?;
        Ok(())
    }

    /// Makes `id` the default of its scope (clearing the others) or clears its flag.
    pub async fn set_vault_default(&mut self, vault: &VaultRecord, on: bool) -> StoreResult<()> {
        if on {
            self.clear_defaults(vault.scope, vault.organization_id.as_deref(), &vault.id)
                .await?;
        }
        vc::Entity::update_many()
            .col_expr(vc::Column::IsDefault, Expr::value(on))
            .filter(vc::Column::Id.eq(vault.id.as_str()))
            .exec(self.txn())
            .await?;
        Ok(())
    }

    /// Inserts a configuration; a name its scope already uses is CONFLICT.
    pub async fn insert_vault(&mut self, v: &NewVault<'_>) -> StoreResult<()> {
        let owner_key = vault_owner_key(v.scope, v.organization_id);
        let taken = vc::Entity::find()
            .filter(vc::Column::OwnerKey.eq(owner_key.as_str()))
            .filter(vc::Column::Name.eq(v.name))
            .count(self.txn())
            .await?;
        if taken > 0 {
            return Err(name_taken(v.name));
        }
        if v.is_default {
            self.clear_defaults(v.scope, v.organization_id, v.id)
                .await?;
        }
        vc::ActiveModel {
            id: Set(v.id.to_string()),
            name: Set(v.name.to_string()),
            description: Set(v.description.map(str::to_string)),
            backend: Set(v.backend.as_str().to_string()),
            scope: Set(v.scope.as_str().to_string()),
            organization_id: Set(v.organization_id.map(str::to_string)),
            owner_key: Set(owner_key),
            encrypted_config: Set(v.encrypted_config.clone()),
            config_key_id: Set(v.config_key_id.to_string()),
            is_active: Set(true),
            is_default: Set(v.is_default),
            last_health_check: Set(None),
            health_status: Set(VaultHealthStatus::Unknown.as_str().to_string()),
            created_at: Set(v.now),
            created_by_id: Set(v.actor_id.to_string()),
            updated_at: Set(v.now),
            updated_by_id: Set(v.actor_id.to_string()),
        }
        .insert(self.txn())
        .await?;
        Ok(())
    }

    /// Applies `change` to the locked configuration `current`.
    pub async fn update_vault(
        &mut self,
        current: &VaultRecord,
        change: &VaultChange<'_>,
        actor_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        if let Some(name) = change.name.filter(|n| *n != current.name) {
            let taken = vc::Entity::find()
                .filter(vc::Column::OwnerKey.eq(vault_owner_key(
                    current.scope,
                    current.organization_id.as_deref(),
                )))
                .filter(vc::Column::Name.eq(name))
                .count(self.txn())
                .await?;
            if taken > 0 {
                return Err(name_taken(name));
            }
        }
        if let Some(on) = change.is_default {
            self.set_vault_default(current, on).await?;
        }
        let mut q = vc::Entity::update_many()
            .col_expr(vc::Column::UpdatedAt, Expr::value(now))
            .col_expr(vc::Column::UpdatedById, Expr::value(actor_id));
        if let Some(name) = change.name {
            q = q.col_expr(vc::Column::Name, Expr::value(name));
        }
        if let Some(description) = change.description {
            q = q.col_expr(vc::Column::Description, Expr::value(description));
        }
        if let Some((key_id, blob)) = &change.config {
            q = q
                .col_expr(vc::Column::ConfigKeyId, Expr::value(key_id.as_str()))
                .col_expr(vc::Column::EncryptedConfig, Expr::value(blob.clone()))
                .col_expr(
                    vc::Column::HealthStatus,
                    Expr::value(VaultHealthStatus::Unknown.as_str()),
                )
                .col_expr(
                    vc::Column::LastHealthCheck,
                    Expr::value(Option::<DateTime<Utc>>::None),
                );
        }
        if let Some(active) = change.is_active {
            q = q.col_expr(vc::Column::IsActive, Expr::value(active));
        }
        q.filter(vc::Column::Id.eq(current.id.as_str()))
            .exec(self.txn())
            .await?;
        Ok(())
    }

    /// How many secrets are kept in configuration `id`, soft-deleted ones included.
    pub async fn count_vault_secrets(&mut self, id: &str) -> StoreResult<u64> {
        Ok(secrets::Entity::find()
            .filter(secrets::Column::VaultConfigId.eq(id))
            .count(self.txn())
            .await?)
    }

    /// Deletes a configuration's row.
    pub async fn delete_vault(&mut self, id: &str) -> StoreResult<()> {
        vc::Entity::delete_by_id(id).exec(self.txn()).await?;
        Ok(())
    }

    /// Records the outcome of a health check in this transaction.
    pub async fn set_vault_health(
        &mut self,
        id: &str,
        status: VaultHealthStatus,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        vc::Entity::update_many()
            .col_expr(vc::Column::HealthStatus, Expr::value(status.as_str()))
            .col_expr(vc::Column::LastHealthCheck, Expr::value(at))
            .filter(vc::Column::Id.eq(id))
            .exec(self.txn())
            .await?;
        Ok(())
    }
}
