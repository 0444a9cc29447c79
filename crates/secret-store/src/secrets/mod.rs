//! The secrets repository: reads of secrets and versions, listings filtered and paged in SQL,
//! and [`WriteTx`], the transaction every state change of a secret runs in.
//!
//! SQLite takes its write lock at the first write of a transaction; every write transaction
//! here therefore starts with a write, so concurrent writers queue on the busy timeout rather
//! than failing on a stale read snapshot.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use secret_core::SecretId;
use secret_core::model::{
    LifecycleSettings, Page, SealedMasked, SecretMetadata, SecretVersionInfo,
};
use secret_core::{SecretError, SecretScope, SecretType, ValueFacts};

use crate::backend::StoredValue;
use crate::db::Database;
use crate::entity::{secret_versions, secrets};
use crate::error::{StoreError, StoreResult};

mod filter;
mod pending;
mod relocate;
mod tx;

pub use filter::SecretFilter;
use filter::filter_condition;
pub use pending::{ABANDONED, PendingOperation, PendingWrite, StagedWrite};
pub use relocate::{VaultMove, VaultSecrets};
pub use tx::{SoftDeletion, WriteTx};

/// The key that makes a name unique within its owner: scope plus the ids that scope needs.
pub fn owner_key(
    scope: SecretScope,
    organization_id: Option<&str>,
    team_id: Option<&str>,
    project_id: Option<&str>,
    user_id: Option<&str>,
) -> String {
    let o = organization_id.unwrap_or("");
    match scope {
        SecretScope::Global => "GLOBAL".to_string(),
        SecretScope::Organization => format!("ORGANIZATION:{o}"),
        SecretScope::Team => format!("TEAM:{o}:{}", team_id.unwrap_or("")),
        SecretScope::Project => format!("PROJECT:{o}:{}", project_id.unwrap_or("")),
        SecretScope::User => format!("USER:{}", user_id.unwrap_or("")),
    }
}

/// Owner ids to match; `None` matches any.
#[derive(Debug, Clone, Copy, Default)]
pub struct OwnerIds<'a> {
    pub organization_id: Option<&'a str>,
    pub team_id: Option<&'a str>,
    pub project_id: Option<&'a str>,
    pub user_id: Option<&'a str>,
}

/// A secret row with where its value lives.
#[derive(Debug, Clone)]
pub struct SecretRecord {
    pub metadata: SecretMetadata,
}

/// One stored version: its number, flags and where its value lives.
#[derive(Debug, Clone)]
pub struct VersionRecord {
    pub secret_id: String,
    pub version: i64,
    pub stored: StoredValue,
    pub is_active: bool,
    pub change_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by_id: String,
}

/// A new secret's row.
#[derive(Debug, Clone)]
pub struct NewSecret {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub secret_type: SecretType,
    pub storage_backend: secret_core::StorageBackendKind,
    /// The vault configuration the value is kept in (`local` for the built-in store).
    pub vault_id: String,
    pub scope: SecretScope,
    pub organization_id: Option<String>,
    pub team_id: Option<String>,
    pub project_id: Option<String>,
    pub user_id: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub rotation_enabled: bool,
    pub rotation_interval_days: Option<i32>,
    pub next_rotation_at: Option<DateTime<Utc>>,
    pub tags: Vec<String>,
    pub metadata: BTreeMap<String, String>,
    pub facts: ValueFacts,
    /// The masked display of the first version, sealed for (id, version 1).
    pub masked: Option<SealedMasked>,
    pub lifecycle: LifecycleSettings,
    pub created_by_id: String,
    pub now: DateTime<Utc>,
}

/// A new version's row.
#[derive(Debug, Clone)]
pub struct NewVersion<'a> {
    pub secret_id: &'a str,
    pub version: i64,
    pub stored: StoredValue,
    pub change_reason: Option<String>,
    pub created_by_id: &'a str,
    pub now: DateTime<Utc>,
}

/// What moves with a secret's pointer to a new version.
#[derive(Debug, Clone)]
pub struct VersionAdvance<'a> {
    /// Fail with VERSION_CONFLICT unless this is the current version.
    pub expected_version: Option<i64>,
    pub actor_id: &'a str,
    pub now: DateTime<Utc>,
    /// Facts of the new value.
    pub facts: &'a ValueFacts,
    /// The masked display of the new value, sealed for (id, the new version).
    pub masked: Option<&'a SealedMasked>,
    /// Natural expiry of the new value (a certificate's notAfter), replacing expiresAt.
    pub expires_at: Option<Option<DateTime<Utc>>>,
    /// Set when the new version is a rotation: lastRotatedAt = now, nextRotationAt = this.
    pub rotation: Option<Option<DateTime<Utc>>>,
}

/// A metadata change, fully resolved (the service has applied keep/set/clear).
#[derive(Debug, Clone)]
pub struct MetadataChange<'a> {
    pub expected_version: Option<i64>,
    pub actor_id: &'a str,
    pub now: DateTime<Utc>,
    pub description: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub rotation_enabled: bool,
    pub rotation_interval_days: Option<i32>,
    pub next_rotation_at: Option<DateTime<Utc>>,
    pub tags: Vec<String>,
    pub metadata: BTreeMap<String, String>,
    pub lifecycle: LifecycleSettings,
}

pub(crate) fn parse<T: std::str::FromStr>(
    table: &'static str,
    field: &str,
    s: &str,
) -> StoreResult<T> {
    s.parse()
        .map_err(|_| StoreError::corrupt(table, format!("unknown {field} '{s}'")))
}

pub(crate) fn to_record(m: secrets::Model) -> StoreResult<SecretRecord> {
    let tags: Vec<String> = serde_json::from_str(&m.tags)
        .map_err(|e| StoreError::corrupt("secrets", format!("tags: {e}")))?;
    let metadata: BTreeMap<String, String> = serde_json::from_str(&m.metadata)
        .map_err(|e| StoreError::corrupt("secrets", format!("metadata: {e}")))?;
    let facts: ValueFacts = serde_json::from_str(&m.facts)
        .map_err(|e| StoreError::corrupt("secrets", format!("facts: {e}")))?;
    let lifecycle: LifecycleSettings = serde_json::from_str(&m.lifecycle)
        .map_err(|e| StoreError::corrupt("secrets", format!("lifecycle: {e}")))?;
    Ok(SecretRecord {
        metadata: SecretMetadata {
            secret_type: parse("secrets", "type", &m.secret_type)?,
            scope: parse("secrets", "scope", &m.scope)?,
            storage_backend: parse("secrets", "storage backend", &m.storage_backend)?,
            vault_id: m
                .vault_config_id
                .map_or_else(secret_core::VaultId::local, secret_core::VaultId::from),
            id: m.id.into(),
            name: m.name,
            description: m.description,
            organization_id: m.organization_id,
            team_id: m.team_id,
            project_id: m.project_id,
            user_id: m.user_id,
            current_version: m.current_version,
            expires_at: m.expires_at,
            rotation_enabled: m.rotation_enabled,
            rotation_interval_days: m.rotation_interval_days,
            last_rotated_at: m.last_rotated_at,
            next_rotation_at: m.next_rotation_at,
            tags,
            metadata,
            facts,
            masked_value: None,
            sealed_masked: match (m.masked_key_id, m.masked_value) {
                (Some(key_id), Some(blob)) => Some(SealedMasked { key_id, blob }),
                _ => None,
            },
            deleted_at: m.deleted_at,
            deleted_by_id: m.deleted_by_id,
            recovery_deadline: m.recovery_deadline,
            created_at: m.created_at,
            created_by_id: m.created_by_id,
            updated_at: m.updated_at,
            updated_by_id: m.updated_by_id,
            lifecycle,
            expired_at: m.expired_at,
            rotation_failures: m.rotation_failures,
            last_rotation_error: m.last_rotation_error,
            usage: None,
        },
    })
}

pub(crate) fn to_version(m: secret_versions::Model) -> StoreResult<VersionRecord> {
    let stored = match (m.key_id, m.encrypted_value, m.vault_version_id) {
        (Some(key_id), Some(ciphertext), _) => StoredValue::Local { key_id, ciphertext },
        (None, None, vault_version_id) => StoredValue::External {
            vault_ref: m.vault_ref.ok_or_else(|| {
                StoreError::corrupt(
                    "secret_versions",
                    "a version with neither value nor reference",
                )
            })?,
            vault_version_id,
        },
        _ => {
            return Err(StoreError::corrupt(
                "secret_versions",
                "ciphertext without key id",
            ));
        }
    };
    Ok(VersionRecord {
        secret_id: m.secret_id,
        version: m.version,
        stored,
        is_active: m.is_active,
        change_reason: m.change_reason,
        created_at: m.created_at,
        created_by_id: m.created_by_id,
    })
}

/// A version's storage columns for `stored`: key id and ciphertext (local), or the vault's
/// reference and version id (external).
pub(crate) type StorageColumns = (
    Option<String>,
    Option<Vec<u8>>,
    Option<String>,
    Option<String>,
);

pub(crate) fn storage_columns(stored: StoredValue) -> StorageColumns {
    match stored {
        StoredValue::Local { key_id, ciphertext } => (Some(key_id), Some(ciphertext), None, None),
        StoredValue::External {
            vault_ref,
            vault_version_id,
        } => (None, None, Some(vault_ref), vault_version_id),
    }
}

fn json<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| SecretError::internal(format!("serialize: {e}")).into())
}

fn not_found(id: &str) -> StoreError {
    SecretError::SecretNotFound { id: id.to_string() }.into()
}

/// Reads of secrets and versions outside a write transaction.
#[derive(Debug, Clone)]
pub struct SecretRepository {
    db: Database,
}

impl SecretRepository {
    /// A repository over `db`.
    pub fn new(db: Database) -> Self {
        SecretRepository { db }
    }

    /// The database behind this repository.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Opens a write transaction.
    pub async fn begin(&self) -> StoreResult<WriteTx> {
        Ok(WriteTx {
            txn: self.db.conn().begin().await?,
        })
    }

    /// The secret with `id`, deleted or not.
    pub async fn find(&self, id: &str) -> StoreResult<Option<SecretRecord>> {
        secrets::Entity::find_by_id(id)
            .one(self.db.conn())
            .await?
            .map(to_record)
            .transpose()
    }

    /// The secrets with these ids that exist, in no particular order.
    pub async fn find_many(&self, ids: &[SecretId]) -> StoreResult<Vec<SecretRecord>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        secrets::Entity::find()
            .filter(secrets::Column::Id.is_in(ids.iter().map(SecretId::as_str)))
            .all(self.db.conn())
            .await?
            .into_iter()
            .map(to_record)
            .collect()
    }

    /// One version of a secret.
    pub async fn find_version(&self, id: &str, version: i64) -> StoreResult<Option<VersionRecord>> {
        secret_versions::Entity::find()
            .filter(secret_versions::Column::SecretId.eq(id))
            .filter(secret_versions::Column::Version.eq(version))
            .one(self.db.conn())
            .await?
            .map(to_version)
            .transpose()
    }

    /// The given (secret id, version) pairs that exist.
    pub async fn find_versions(
        &self,
        pairs: &[(SecretId, i64)],
    ) -> StoreResult<Vec<VersionRecord>> {
        let mut out = Vec::with_capacity(pairs.len());
        for chunk in pairs.chunks(100) {
            let mut any = Condition::any();
            for (id, version) in chunk {
                any = any.add(
                    Condition::all()
                        .add(secret_versions::Column::SecretId.eq(id.as_str()))
                        .add(secret_versions::Column::Version.eq(*version)),
                );
            }
            for row in secret_versions::Entity::find()
                .filter(any)
                .all(self.db.conn())
                .await?
            {
                out.push(to_version(row)?);
            }
        }
        Ok(out)
    }

    /// A secret's versions, newest first.
    pub async fn list_versions(
        &self,
        id: &str,
        current: i64,
    ) -> StoreResult<Vec<SecretVersionInfo>> {
        let rows = secret_versions::Entity::find()
            .filter(secret_versions::Column::SecretId.eq(id))
            .order_by_desc(secret_versions::Column::Version)
            .all(self.db.conn())
            .await?;
        Ok(rows
            .into_iter()
            .map(|v| SecretVersionInfo {
                version: v.version,
                is_active: v.is_active,
                is_current: v.version == current,
                change_reason: v.change_reason,
                created_at: v.created_at,
                created_by_id: v.created_by_id,
            })
            .collect())
    }

    /// One page of the secrets matching `filter`, ordered by name then id, with the total.
    pub async fn list(&self, filter: &SecretFilter) -> StoreResult<Page<SecretMetadata>> {
        let cond = filter_condition(filter);
        let total = secrets::Entity::find()
            .filter(cond.clone())
            .count(self.db.conn())
            .await?;
        let rows = secrets::Entity::find()
            .filter(cond)
            .order_by_asc(secrets::Column::Name)
            .order_by_asc(secrets::Column::Id)
            .offset(secret_core::model::page_offset(filter.page, filter.limit))
            .limit(filter.limit)
            .all(self.db.conn())
            .await?;
        let items = rows
            .into_iter()
            .map(|m| to_record(m).map(|r| r.metadata))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page {
            items,
            page: filter.page,
            limit: filter.limit,
            total,
        })
    }

    /// The secrets of one owner (see [`owner_key`]) with these names, soft-deleted ones
    /// included (a soft-deleted secret keeps its name until purged).
    pub async fn find_by_names(
        &self,
        owner_key: &str,
        names: &[&str],
    ) -> StoreResult<Vec<SecretMetadata>> {
        let mut out = Vec::with_capacity(names.len());
        for chunk in names.chunks(500) {
            for row in secrets::Entity::find()
                .filter(secrets::Column::OwnerKey.eq(owner_key))
                .filter(secrets::Column::Name.is_in(chunk.iter().copied()))
                .all(self.db.conn())
                .await?
            {
                out.push(to_record(row)?.metadata);
            }
        }
        Ok(out)
    }

    /// Every live (not soft-deleted) secret of `scope` (any when `None`) whose owner ids
    /// match the ones given, ordered by scope, name and id: what an export covers before
    /// the caller's permissions are applied. At most `limit` rows.
    pub async fn list_owned(
        &self,
        scope: Option<secret_core::SecretScope>,
        owner: &OwnerIds<'_>,
        limit: u64,
    ) -> StoreResult<Vec<SecretMetadata>> {
        use secrets::Column as C;
        let mut query = secrets::Entity::find().filter(C::DeletedAt.is_null());
        if let Some(scope) = scope {
            query = query.filter(C::Scope.eq(scope.as_str()));
        }
        for (column, id) in [
            (C::OrganizationId, owner.organization_id),
            (C::TeamId, owner.team_id),
            (C::ProjectId, owner.project_id),
            (C::UserId, owner.user_id),
        ] {
            if let Some(id) = id {
                query = query.filter(column.eq(id));
            }
        }
        query
            .order_by_asc(C::Scope)
            .order_by_asc(C::Name)
            .order_by_asc(C::Id)
            .limit(limit)
            .all(self.db.conn())
            .await?
            .into_iter()
            .map(|m| to_record(m).map(|r| r.metadata))
            .collect()
    }
}
