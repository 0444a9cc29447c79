//! [`WriteTx`], the transaction every state change of a secret runs in.

use super::*;

/// A write transaction over secrets and versions. Dropping it without [`WriteTx::commit`]
/// rolls back.
#[derive(Debug)]
pub struct WriteTx {
    pub(super) txn: DatabaseTransaction,
}

/// A soft deletion: who, when, until when it can be undone, and the version the caller
/// expects to be current (VERSION_CONFLICT otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoftDeletion<'a> {
    pub actor_id: &'a str,
    pub now: DateTime<Utc>,
    pub recovery_deadline: DateTime<Utc>,
    pub expected_version: Option<i64>,
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

    /// Publishes `change`, made by the service instance `origin`, to every process sharing
    /// the database when (and only if) this transaction commits.
    pub async fn publish(&mut self, change: &crate::Change, origin: &str) -> StoreResult<()> {
        crate::changes::publish_on(&self.txn, change, origin).await
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
            vault_config_id: Set(Some(s.vault_id.clone())),
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
        let (key_id, encrypted_value, vault_ref, vault_version_id) = storage_columns(v.stored);
        secret_versions::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            secret_id: Set(v.secret_id.to_string()),
            version: Set(v.version),
            encrypted_value: Set(encrypted_value),
            key_id: Set(key_id),
            vault_ref: Set(vault_ref),
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

    /// Soft-deletes live secret `id` as `deletion` says.
    pub async fn soft_delete(&mut self, id: &str, deletion: &SoftDeletion<'_>) -> StoreResult<()> {
        let SoftDeletion {
            actor_id,
            now,
            recovery_deadline,
            expected_version,
        } = *deletion;
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
