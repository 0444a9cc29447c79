//! The secrets repository: reads of secrets and versions, listings filtered and paged in SQL,
//! and [`WriteTx`], the transaction every state change of a secret runs in.
//!
//! SQLite takes its write lock at the first write of a transaction; every write transaction
//! here therefore starts with a write, so concurrent writers queue on the busy timeout rather
//! than failing on a stale read snapshot.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use secret_core::model::{
    LifecycleSettings, Page, SealedMasked, SecretMetadata, SecretVersionInfo,
};
use secret_core::{SecretError, SecretScope, SecretType, ValueFacts};

use crate::backend::StoredValue;
use crate::db::Database;
use crate::entity::{secret_access_grants, secret_versions, secrets};
use crate::error::{StoreError, StoreResult};
use secret_access::{GranteeMatch, VisibilityFilter};

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

/// A secret row with where its value lives.
#[derive(Debug, Clone)]
pub struct SecretRecord {
    pub metadata: SecretMetadata,
    pub vault_config_id: Option<String>,
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

/// Filters and paging of a listing, already validated.
#[derive(Debug, Clone)]
pub struct SecretFilter {
    /// Which secrets the caller may see at all.
    pub visibility: VisibilityFilter,
    /// The instant grant expiry is judged at.
    pub now: DateTime<Utc>,
    pub scope: Option<SecretScope>,
    pub secret_type: Option<SecretType>,
    pub tags: Vec<String>,
    pub search: Option<String>,
    pub include_deleted: bool,
    pub page: u64,
    pub limit: u64,
}

/// Escapes LIKE's wildcards with `\`.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The SQL form of [`secret_access::is_visible`]: the secrets a principal may see.
fn visibility_condition(v: &VisibilityFilter, now: DateTime<Utc>) -> Condition {
    use secret_access_grants::Column as G;
    use secrets::Column as C;
    if v.all {
        return Condition::all();
    }
    let scope = |s: SecretScope| C::Scope.eq(s.as_str());
    let mut any = Condition::any().add(
        Condition::all()
            .add(scope(SecretScope::User))
            .add(C::UserId.eq(v.user_id.as_str())),
    );
    if !v.member_org_ids.is_empty() {
        any = any.add(
            Condition::all()
                .add(scope(SecretScope::Organization))
                .add(C::OrganizationId.is_in(v.member_org_ids.iter().map(String::as_str))),
        );
    }
    if !v.admin_org_ids.is_empty() {
        any = any.add(
            Condition::all()
                .add(C::Scope.is_in([
                    SecretScope::Organization.as_str(),
                    SecretScope::Team.as_str(),
                    SecretScope::Project.as_str(),
                ]))
                .add(C::OrganizationId.is_in(v.admin_org_ids.iter().map(String::as_str))),
        );
    }
    let team_pairs = |scope_of: SecretScope, pairs: &[(String, String)]| {
        let mut cond = Condition::any();
        for (org, team) in pairs {
            cond = cond.add(
                Condition::all()
                    .add(C::OrganizationId.eq(org.as_str()))
                    .add(C::TeamId.eq(team.as_str())),
            );
        }
        Condition::all().add(scope(scope_of)).add(cond)
    };
    if !v.member_teams.is_empty() {
        any = any.add(team_pairs(SecretScope::Team, &v.member_teams));
    }
    if !v.lead_teams.is_empty() {
        any = any.add(team_pairs(SecretScope::Project, &v.lead_teams));
    }
    if !v.member_projects.is_empty() {
        let mut projects = Condition::any();
        for p in &v.member_projects {
            // A secret naming a team matches only the project's own team.
            let team = match &p.team_id {
                Some(team) => Condition::any()
                    .add(C::TeamId.is_null())
                    .add(C::TeamId.eq(team.as_str())),
                None => Condition::all().add(C::TeamId.is_null()),
            };
            projects = projects.add(
                Condition::all()
                    .add(C::OrganizationId.eq(p.organization_id.as_str()))
                    .add(C::ProjectId.eq(p.project_id.as_str()))
                    .add(team),
            );
        }
        any = any.add(
            Condition::all()
                .add(scope(SecretScope::Project))
                .add(projects),
        );
    }
    // Grants, grouped by where they count: anywhere (the user, platform-wide roles), or
    // only on secrets of one organization (its teams and roles).
    let mut by_org: BTreeMap<Option<&str>, Vec<&GranteeMatch>> = BTreeMap::new();
    for g in &v.grantees {
        by_org
            .entry(g.organization_id.as_deref())
            .or_default()
            .push(g);
    }
    for (org, grantees) in by_org {
        let mut grantee = Condition::any();
        for g in grantees {
            grantee = grantee.add(
                Condition::all()
                    .add(G::GranteeType.eq(g.grantee_type.as_str()))
                    .add(G::GranteeId.eq(g.grantee_id.as_str())),
            );
        }
        let granted = Query::select()
            .column(G::SecretId)
            .from(secret_access_grants::Entity)
            .cond_where(
                Condition::all()
                    .add(
                        Condition::any()
                            .add(G::ExpiresAt.is_null())
                            .add(G::ExpiresAt.gt(now)),
                    )
                    .add(grantee),
            )
            .to_owned();
        let mut cond = Condition::all().add(C::Id.in_subquery(granted));
        if let Some(org) = org {
            cond = cond.add(C::OrganizationId.eq(org));
        }
        any = any.add(cond);
    }
    any
}

fn filter_condition(f: &SecretFilter) -> Condition {
    use secrets::Column as C;
    let mut cond = Condition::all().add(visibility_condition(&f.visibility, f.now));
    if !f.include_deleted {
        cond = cond.add(C::DeletedAt.is_null());
    }
    if let Some(scope) = f.scope {
        cond = cond.add(C::Scope.eq(scope.as_str()));
    }
    if let Some(t) = f.secret_type {
        cond = cond.add(C::SecretType.eq(t.as_str()));
    }
    for tag in &f.tags {
        // Tags are stored as a JSON array of strings without quotes or backslashes.
        let pattern = format!("%\"{}\"%", like_escape(tag));
        cond = cond.add(Expr::col(C::Tags).like(LikeExpr::new(pattern).escape('\\')));
    }
    if let Some(search) = f.search.as_deref().filter(|s| !s.is_empty()) {
        let pattern = format!("%{}%", like_escape(&search.to_lowercase()));
        cond = cond.add(
            Condition::any()
                .add(
                    Expr::expr(Func::lower(Expr::col(C::Name)))
                        .like(LikeExpr::new(pattern.clone()).escape('\\')),
                )
                .add(
                    Expr::expr(Func::lower(Expr::col(C::Description)))
                        .like(LikeExpr::new(pattern).escape('\\')),
                ),
        );
    }
    cond
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
            id: m.id,
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
        vault_config_id: m.vault_config_id,
    })
}

pub(crate) fn to_version(m: secret_versions::Model) -> StoreResult<VersionRecord> {
    let stored = match (m.key_id, m.encrypted_value, m.vault_version_id) {
        (Some(key_id), Some(ciphertext), _) => StoredValue::Local { key_id, ciphertext },
        (None, None, vault_version_id) => StoredValue::External {
            vault_secret_id: m.secret_id.clone(),
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
    pub async fn find_many(&self, ids: &[String]) -> StoreResult<Vec<SecretRecord>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        secrets::Entity::find()
            .filter(secrets::Column::Id.is_in(ids.iter().map(String::as_str)))
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
    pub async fn find_versions(&self, pairs: &[(String, i64)]) -> StoreResult<Vec<VersionRecord>> {
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
}

/// A write transaction over secrets and versions. Dropping it without [`WriteTx::commit`]
/// rolls back.
#[derive(Debug)]
pub struct WriteTx {
    txn: DatabaseTransaction,
}

impl WriteTx {
    /// The underlying transaction, for the other repositories of this crate.
    pub(crate) fn txn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// Commits every change made in this transaction.
    pub async fn commit(self) -> StoreResult<()> {
        self.txn.commit().await.map_err(StoreError::from)
    }

    /// Locks a secret's row for the rest of the transaction and reads it. The no-op update
    /// takes PostgreSQL's row lock and SQLite's write lock before the read, so what is read
    /// cannot change before the transaction ends.
    pub async fn lock_secret(&mut self, id: &str) -> StoreResult<Option<SecretRecord>> {
        use secrets::Column as C;
        let res = secrets::Entity::update_many()
            .col_expr(C::CurrentVersion, Expr::col(C::CurrentVersion))
            .filter(C::Id.eq(id))
            .exec(&self.txn)
            .await?;
        if res.rows_affected == 0 {
            return Ok(None);
        }
        self.find(id).await
    }

    /// Inserts a new secret row at version 1. A name its owner already uses, even by a
    /// soft-deleted secret, is CONFLICT.
    pub async fn insert_secret(&mut self, s: &NewSecret) -> StoreResult<()> {
        let key = owner_key(
            s.scope,
            s.organization_id.as_deref(),
            s.team_id.as_deref(),
            s.project_id.as_deref(),
            s.user_id.as_deref(),
        );
        let row = secrets::ActiveModel {
            id: Set(s.id.clone()),
            name: Set(s.name.clone()),
            description: Set(s.description.clone()),
            secret_type: Set(s.secret_type.as_str().to_string()),
            storage_backend: Set(s.storage_backend.as_str().to_string()),
            vault_config_id: Set(None),
            vault_path: Set(None),
            vault_secret_id: Set(None),
            scope: Set(s.scope.as_str().to_string()),
            organization_id: Set(s.organization_id.clone()),
            team_id: Set(s.team_id.clone()),
            project_id: Set(s.project_id.clone()),
            user_id: Set(s.user_id.clone()),
            owner_key: Set(key.clone()),
            expires_at: Set(s.expires_at),
            rotation_enabled: Set(s.rotation_enabled),
            rotation_interval_days: Set(s.rotation_interval_days),
            last_rotated_at: Set(None),
            next_rotation_at: Set(s.next_rotation_at),
            current_version: Set(1),
            deleted_at: Set(None),
            deleted_by_id: Set(None),
            recovery_deadline: Set(None),
            tags: Set(json(&s.tags)?),
            metadata: Set(json(&s.metadata)?),
            facts: Set(json(&s.facts)?),
            masked_key_id: Set(s.masked.as_ref().map(|m| m.key_id.clone())),
            masked_value: Set(s.masked.as_ref().map(|m| m.blob.clone())),
            lifecycle: Set(json(&s.lifecycle)?),
            expired_at: Set(None),
            rotation_failures: Set(0),
            last_rotation_error: Set(None),
            rotation_retry_at: Set(None),
            rotation_claimed_until: Set(None),
            created_at: Set(s.now),
            created_by_id: Set(s.created_by_id.clone()),
            updated_at: Set(s.now),
            updated_by_id: Set(s.created_by_id.clone()),
        };
        match row.insert(&self.txn).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let err = StoreError::from(e);
                if !err.is_unique_violation() {
                    return Err(err);
                }
                // The failed statement may have aborted the transaction on PostgreSQL, so
                // the hint is looked up by the caller's repository, not here.
                Err(SecretError::Conflict {
                    message: format!(
                        "a secret named '{}' already exists in this {} scope (a soft-deleted \
                         secret keeps its name until purged: restore it or delete it permanently)",
                        s.name,
                        s.scope.as_str().to_lowercase()
                    ),
                }
                .into())
            }
        }
    }

    /// Inserts a version row.
    pub async fn insert_version(&mut self, v: NewVersion<'_>) -> StoreResult<()> {
        let (key_id, encrypted_value, vault_version_id) = match v.stored {
            StoredValue::Local { key_id, ciphertext } => (Some(key_id), Some(ciphertext), None),
            StoredValue::External {
                vault_version_id, ..
            } => (None, None, vault_version_id),
        };
        secret_versions::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            secret_id: Set(v.secret_id.to_string()),
            version: Set(v.version),
            encrypted_value: Set(encrypted_value),
            key_id: Set(key_id),
            vault_version_id: Set(vault_version_id),
            change_reason: Set(v.change_reason),
            is_active: Set(true),
            created_at: Set(v.now),
            created_by_id: Set(v.created_by_id.to_string()),
        }
        .insert(&self.txn)
        .await?;
        Ok(())
    }

    /// Moves a live secret's pointer to a new version and returns that version's number.
    /// Fails with SECRET_NOT_FOUND (missing or soft-deleted) or VERSION_CONFLICT.
    pub async fn advance_version(
        &mut self,
        id: &str,
        change: &VersionAdvance<'_>,
    ) -> StoreResult<i64> {
        use secrets::Column as C;
        let mut update = secrets::Entity::update_many()
            .col_expr(C::CurrentVersion, Expr::col(C::CurrentVersion).add(1))
            .col_expr(C::UpdatedAt, Expr::value(change.now))
            .col_expr(C::UpdatedById, Expr::value(change.actor_id))
            .col_expr(C::Facts, Expr::value(json(change.facts)?))
            .col_expr(
                C::MaskedKeyId,
                Expr::value(change.masked.map(|m| m.key_id.clone())),
            )
            .col_expr(
                C::MaskedValue,
                Expr::value(change.masked.map(|m| m.blob.clone())),
            )
            // A new value ends an expiry the scheduler marked.
            .col_expr(C::ExpiredAt, Expr::value(None::<DateTime<Utc>>))
            .filter(C::Id.eq(id))
            .filter(C::DeletedAt.is_null());
        if let Some(expires_at) = change.expires_at {
            update = update.col_expr(C::ExpiresAt, Expr::value(expires_at));
        }
        if let Some(next) = change.rotation {
            update = update
                .col_expr(C::LastRotatedAt, Expr::value(change.now))
                .col_expr(C::NextRotationAt, Expr::value(next));
        }
        if let Some(expected) = change.expected_version {
            update = update.filter(C::CurrentVersion.eq(expected));
        }
        let res = update.exec(&self.txn).await?;
        let row = self.find(id).await?;
        match row {
            Some(r) if res.rows_affected == 1 => Ok(r.metadata.current_version),
            Some(r) if r.metadata.deleted_at.is_none() => Err(SecretError::VersionConflict {
                expected: change.expected_version.unwrap_or_default(),
                current: r.metadata.current_version,
            }
            .into()),
            _ => Err(not_found(id)),
        }
    }

    /// Replaces a live secret's metadata. Fails like [`WriteTx::advance_version`].
    pub async fn update_metadata(&mut self, id: &str, c: &MetadataChange<'_>) -> StoreResult<()> {
        use secrets::Column as C;
        let mut update = secrets::Entity::update_many()
            .col_expr(C::Description, Expr::value(c.description.clone()))
            .col_expr(C::ExpiresAt, Expr::value(c.expires_at))
            .col_expr(C::RotationEnabled, Expr::value(c.rotation_enabled))
            .col_expr(
                C::RotationIntervalDays,
                Expr::value(c.rotation_interval_days),
            )
            .col_expr(C::NextRotationAt, Expr::value(c.next_rotation_at))
            .col_expr(C::Tags, Expr::value(json(&c.tags)?))
            .col_expr(C::Metadata, Expr::value(json(&c.metadata)?))
            .col_expr(C::Lifecycle, Expr::value(json(&c.lifecycle)?))
            .col_expr(C::UpdatedAt, Expr::value(c.now))
            .col_expr(C::UpdatedById, Expr::value(c.actor_id))
            .filter(C::Id.eq(id))
            .filter(C::DeletedAt.is_null());
        if c.expires_at.is_none_or(|at| at > c.now) {
            // A new expiry date (or none) ends an expiry the scheduler marked.
            update = update.col_expr(C::ExpiredAt, Expr::value(None::<DateTime<Utc>>));
        }
        if let Some(expected) = c.expected_version {
            update = update.filter(C::CurrentVersion.eq(expected));
        }
        let res = update.exec(&self.txn).await?;
        if res.rows_affected == 1 {
            return Ok(());
        }
        match self.find(id).await? {
            Some(r) if r.metadata.deleted_at.is_none() => Err(SecretError::VersionConflict {
                expected: c.expected_version.unwrap_or_default(),
                current: r.metadata.current_version,
            }
            .into()),
            _ => Err(not_found(id)),
        }
    }

    /// Soft-deletes a live secret with a recovery deadline.
    pub async fn soft_delete(
        &mut self,
        id: &str,
        actor_id: &str,
        now: DateTime<Utc>,
        recovery_deadline: DateTime<Utc>,
        expected_version: Option<i64>,
    ) -> StoreResult<()> {
        use secrets::Column as C;
        let mut update = secrets::Entity::update_many()
            .col_expr(C::DeletedAt, Expr::value(now))
            .col_expr(C::DeletedById, Expr::value(actor_id))
            .col_expr(C::RecoveryDeadline, Expr::value(recovery_deadline))
            .col_expr(C::UpdatedAt, Expr::value(now))
            .col_expr(C::UpdatedById, Expr::value(actor_id))
            .filter(C::Id.eq(id))
            .filter(C::DeletedAt.is_null());
        if let Some(expected) = expected_version {
            update = update.filter(C::CurrentVersion.eq(expected));
        }
        if update.exec(&self.txn).await?.rows_affected == 1 {
            return Ok(());
        }
        match self.find(id).await? {
            Some(r) if r.metadata.deleted_at.is_none() => Err(SecretError::VersionConflict {
                expected: expected_version.unwrap_or_default(),
                current: r.metadata.current_version,
            }
            .into()),
            _ => Err(not_found(id)),
        }
    }

    /// Restores a soft-deleted secret whose recovery deadline has not passed.
    pub async fn restore(
        &mut self,
        id: &str,
        actor_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        use secrets::Column as C;
        let res = secrets::Entity::update_many()
            .col_expr(C::DeletedAt, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(C::DeletedById, Expr::value(Option::<String>::None))
            .col_expr(
                C::RecoveryDeadline,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(C::UpdatedAt, Expr::value(now))
            .col_expr(C::UpdatedById, Expr::value(actor_id))
            .filter(C::Id.eq(id))
            .filter(C::DeletedAt.is_not_null())
            .filter(C::RecoveryDeadline.gt(now))
            .exec(&self.txn)
            .await?;
        if res.rows_affected == 1 {
            return Ok(());
        }
        match self.find(id).await? {
            None => Err(not_found(id)),
            Some(r) if r.metadata.deleted_at.is_none() => Err(SecretError::Conflict {
                message: format!("secret {id} is not deleted"),
            }
            .into()),
            Some(r) => Err(SecretError::Conflict {
                message: format!(
                    "the recovery period of secret {id} ended at {}; it can no longer be restored",
                    r.metadata
                        .recovery_deadline
                        .map(|d| d.to_rfc3339())
                        .unwrap_or_default()
                ),
            }
            .into()),
        }
    }

    /// Deletes a secret with its versions, grants and usage records. Returns the deleted
    /// secret's versions so the caller can remove them from an external backend.
    pub async fn delete_permanently(&mut self, id: &str) -> StoreResult<Vec<VersionRecord>> {
        // Read the versions first: deleting the secret cascades to them, and the caller
        // hands this list to the backend to remove the vault's copies.
        let versions = secret_versions::Entity::find()
            .filter(secret_versions::Column::SecretId.eq(id))
            .all(&self.txn)
            .await?;
        let res = secrets::Entity::delete_by_id(id).exec(&self.txn).await?;
        if res.rows_affected == 0 {
            return Err(not_found(id));
        }
        // Foreign keys cascade on both engines; deleting explicitly keeps that true even
        // where a SQLite connection was opened without foreign-key enforcement.
        secret_versions::Entity::delete_many()
            .filter(secret_versions::Column::SecretId.eq(id))
            .exec(&self.txn)
            .await?;
        crate::entity::secret_access_grants::Entity::delete_many()
            .filter(crate::entity::secret_access_grants::Column::SecretId.eq(id))
            .exec(&self.txn)
            .await?;
        crate::entity::secret_usage::Entity::delete_many()
            .filter(crate::entity::secret_usage::Column::SecretId.eq(id))
            .exec(&self.txn)
            .await?;
        crate::entity::secret_usage_summary::Entity::delete_many()
            .filter(crate::entity::secret_usage_summary::Column::SecretId.eq(id))
            .exec(&self.txn)
            .await?;
        crate::entity::secret_notices::Entity::delete_many()
            .filter(crate::entity::secret_notices::Column::SecretId.eq(id))
            .exec(&self.txn)
            .await?;
        crate::entity::secret_pending_versions::Entity::delete_by_id(id)
            .exec(&self.txn)
            .await?;
        versions.into_iter().map(to_version).collect()
    }

    /// The secret with `id` as this transaction sees it.
    pub async fn find(&self, id: &str) -> StoreResult<Option<SecretRecord>> {
        secrets::Entity::find_by_id(id)
            .one(&self.txn)
            .await?
            .map(to_record)
            .transpose()
    }

    /// One version of a secret as this transaction sees it.
    pub async fn find_version(&self, id: &str, version: i64) -> StoreResult<Option<VersionRecord>> {
        secret_versions::Entity::find()
            .filter(secret_versions::Column::SecretId.eq(id))
            .filter(secret_versions::Column::Version.eq(version))
            .one(&self.txn)
            .await?
            .map(to_version)
            .transpose()
    }
}
