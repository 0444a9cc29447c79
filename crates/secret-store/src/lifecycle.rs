//! What the scheduler's jobs read and write: secrets whose expiry notices, expiry or
//! rotation are due, once-only notice records, rotation claims and pending versions,
//! version retention, purge of soft-deleted secrets past recovery, and expired grants.
//!
//! Every state change is a conditional statement (`... WHERE expired_at IS NULL`,
//! `... WHERE claimed_until < now`) or an insert under a unique key, so two schedulers on
//! one database act once between them, and a job killed at any point leaves rows that the
//! next run completes or retries.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use secret_core::model::{AccessGrant, SecretMetadata};

use crate::backend::StoredValue;
use crate::entity::{
    secret_access_grants as grants, secret_notices as notices, secret_pending_versions as pending,
    secret_versions as versions, secrets,
};
use crate::error::{StoreError, StoreResult};
use crate::secrets::{SecretRepository, VersionRecord, WriteTx, to_record, to_version};

/// The most rows one job step reads at once.
const PAGE: u64 = 500;

impl SecretRepository {
    /// Live secrets whose expiry lies in `(now, until]`, soonest first.
    pub async fn expiring_between(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<Vec<SecretMetadata>> {
        use secrets::Column as C;
        self.metadata_where(
            Condition::all()
                .add(C::DeletedAt.is_null())
                .add(C::ExpiresAt.gt(now))
                .add(C::ExpiresAt.lte(until)),
            C::ExpiresAt,
        )
        .await
    }

    /// Live secrets past their expiry that are not yet marked expired.
    pub async fn newly_expired(&self, now: DateTime<Utc>) -> StoreResult<Vec<SecretMetadata>> {
        use secrets::Column as C;
        self.metadata_where(
            Condition::all()
                .add(C::DeletedAt.is_null())
                .add(C::ExpiresAt.lte(now))
                .add(C::ExpiredAt.is_null()),
            C::ExpiresAt,
        )
        .await
    }

    /// Live secrets whose rotation is due at `now`, not waiting for a retry and not
    /// claimed by a running rotation.
    pub async fn rotation_due(&self, now: DateTime<Utc>) -> StoreResult<Vec<SecretMetadata>> {
        use secrets::Column as C;
        self.metadata_where(
            Condition::all()
                .add(C::DeletedAt.is_null())
                .add(C::RotationEnabled.eq(true))
                .add(C::NextRotationAt.lte(now))
                .add(
                    Condition::any()
                        .add(C::RotationRetryAt.is_null())
                        .add(C::RotationRetryAt.lte(now)),
                )
                .add(
                    Condition::any()
                        .add(C::RotationClaimedUntil.is_null())
                        .add(C::RotationClaimedUntil.lt(now)),
                ),
            C::NextRotationAt,
        )
        .await
    }

    /// Soft-deleted secrets whose recovery deadline has passed.
    pub async fn purgeable(&self, now: DateTime<Utc>) -> StoreResult<Vec<SecretMetadata>> {
        use secrets::Column as C;
        self.metadata_where(
            Condition::all()
                .add(C::DeletedAt.is_not_null())
                .add(C::RecoveryDeadline.lte(now)),
            C::RecoveryDeadline,
        )
        .await
    }

    /// Secrets holding more than `min_versions` versions (candidates for retention).
    pub async fn with_versions_over(&self, min_versions: i64) -> StoreResult<Vec<SecretMetadata>> {
        let ids: Vec<String> = versions::Entity::find()
            .select_only()
            .column(versions::Column::SecretId)
            .group_by(versions::Column::SecretId)
            .having(ExprTrait::gt(
                Func::count(Expr::col(versions::Column::Id)),
                min_versions,
            ))
            .limit(PAGE)
            .into_tuple()
            .all(self.database().conn())
            .await?;
        Ok(self
            .find_many(&ids)
            .await?
            .into_iter()
            .map(|r| r.metadata)
            .collect())
    }

    /// Every version of a secret, oldest first.
    pub async fn versions_of(&self, id: &str) -> StoreResult<Vec<VersionRecord>> {
        versions::Entity::find()
            .filter(versions::Column::SecretId.eq(id))
            .order_by_asc(versions::Column::Version)
            .all(self.database().conn())
            .await?
            .into_iter()
            .map(to_version)
            .collect()
    }

    /// Grants whose expiry has passed.
    pub async fn expired_grants(&self, now: DateTime<Utc>) -> StoreResult<Vec<AccessGrant>> {
        let ids: Vec<String> = grants::Entity::find()
            .select_only()
            .column(grants::Column::SecretId)
            .distinct()
            .filter(grants::Column::ExpiresAt.lte(now))
            .limit(PAGE)
            .into_tuple()
            .all(self.database().conn())
            .await?;
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        Ok(self
            .grants_on(&refs)
            .await?
            .into_iter()
            .filter(|g| g.expires_at.is_some_and(|at| at <= now))
            .collect())
    }

    /// Claims a due rotation of `id` until `until`: true if this caller holds the claim.
    pub async fn claim_rotation(
        &self,
        id: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        use secrets::Column as C;
        let res = secrets::Entity::update_many()
            .col_expr(C::RotationClaimedUntil, Expr::value(until))
            .filter(C::Id.eq(id))
            .filter(C::DeletedAt.is_null())
            .filter(
                Condition::any()
                    .add(C::RotationClaimedUntil.is_null())
                    .add(C::RotationClaimedUntil.lt(now)),
            )
            .exec(self.database().conn())
            .await?;
        Ok(res.rows_affected == 1)
    }

    /// Stores a rotation's new value, encrypted for `version`, as the secret's pending
    /// version (replacing an earlier, abandoned one).
    pub async fn put_pending(
        &self,
        id: &str,
        version: i64,
        stored: &StoredValue,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let StoredValue::Local { key_id, ciphertext } = stored else {
            return Err(StoreError::corrupt(
                "secret_pending_versions",
                "only local values can be pending",
            ));
        };
        pending::Entity::delete_by_id(id)
            .exec(self.database().conn())
            .await?;
        pending::ActiveModel {
            secret_id: Set(id.to_string()),
            version: Set(version),
            key_id: Set(key_id.clone()),
            encrypted_value: Set(ciphertext.clone()),
            created_at: Set(now),
        }
        .insert(self.database().conn())
        .await?;
        Ok(())
    }

    /// Drops a secret's pending version, if any.
    pub async fn drop_pending(&self, id: &str) -> StoreResult<()> {
        pending::Entity::delete_by_id(id)
            .exec(self.database().conn())
            .await?;
        Ok(())
    }

    async fn metadata_where(
        &self,
        cond: Condition,
        order: secrets::Column,
    ) -> StoreResult<Vec<SecretMetadata>> {
        secrets::Entity::find()
            .filter(cond)
            .order_by_asc(order)
            .order_by_asc(secrets::Column::Id)
            .limit(PAGE)
            .all(self.database().conn())
            .await?
            .into_iter()
            .map(|m| to_record(m).map(|r| r.metadata))
            .collect()
    }
}

impl WriteTx {
    /// Records that a notice was sent: true if it is new, false if it was already sent.
    pub async fn record_notice(
        &mut self,
        secret_id: &str,
        kind: &str,
        window_days: i32,
        due_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let exists = notices::Entity::find_by_id((
            secret_id.to_string(),
            kind.to_string(),
            window_days,
            due_at,
        ))
        .one(self.txn())
        .await?
        .is_some();
        if exists {
            return Ok(false);
        }
        notices::ActiveModel {
            secret_id: Set(secret_id.to_string()),
            kind: Set(kind.to_string()),
            window_days: Set(window_days),
            due_at: Set(due_at),
            sent_at: Set(now),
        }
        .insert(self.txn())
        .await?;
        Ok(true)
    }

    /// The windows of `kind` already recorded for `secret_id` and `due_at`.
    pub async fn notices_sent(
        &mut self,
        secret_id: &str,
        kind: &str,
        due_at: DateTime<Utc>,
    ) -> StoreResult<Vec<i32>> {
        Ok(notices::Entity::find()
            .filter(notices::Column::SecretId.eq(secret_id))
            .filter(notices::Column::Kind.eq(kind))
            .filter(notices::Column::DueAt.eq(due_at))
            .all(self.txn())
            .await?
            .into_iter()
            .map(|n| n.window_days)
            .collect())
    }

    /// Marks a live secret expired unless it already is: true if this call marked it.
    pub async fn mark_expired(&mut self, id: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        use secrets::Column as C;
        let res = secrets::Entity::update_many()
            .col_expr(C::ExpiredAt, Expr::value(now))
            .filter(C::Id.eq(id))
            .filter(C::DeletedAt.is_null())
            .filter(C::ExpiredAt.is_null())
            .filter(C::ExpiresAt.lte(now))
            .exec(self.txn())
            .await?;
        Ok(res.rows_affected == 1)
    }

    /// The pending version of a secret, if any.
    pub async fn take_pending(&mut self, id: &str) -> StoreResult<Option<(i64, StoredValue)>> {
        let row = pending::Entity::find_by_id(id).one(self.txn()).await?;
        pending::Entity::delete_by_id(id).exec(self.txn()).await?;
        Ok(row.map(|p| {
            (
                p.version,
                StoredValue::Local {
                    key_id: p.key_id,
                    ciphertext: p.encrypted_value,
                },
            )
        }))
    }

    /// Ends a rotation: clears the claim and, on success, the failure state; on failure
    /// counts it, keeps `error` (a safe reason) and sets when to retry.
    pub async fn finish_rotation(
        &mut self,
        id: &str,
        failure: Option<(&str, DateTime<Utc>)>,
    ) -> StoreResult<()> {
        use secrets::Column as C;
        let mut update = secrets::Entity::update_many()
            .col_expr(C::RotationClaimedUntil, Expr::value(None::<DateTime<Utc>>))
            .filter(C::Id.eq(id));
        update = match failure {
            None => update
                .col_expr(C::RotationFailures, Expr::value(0))
                .col_expr(C::RotationRetryAt, Expr::value(None::<DateTime<Utc>>))
                .col_expr(C::LastRotationError, Expr::value(None::<String>)),
            Some((error, retry_at)) => update
                .col_expr(
                    C::RotationFailures,
                    ExprTrait::add(Expr::col(C::RotationFailures), 1),
                )
                .col_expr(C::RotationRetryAt, Expr::value(retry_at))
                .col_expr(C::LastRotationError, Expr::value(error)),
        };
        update.exec(self.txn()).await?;
        Ok(())
    }

    /// Marks versions inactive.
    pub async fn deactivate_versions(
        &mut self,
        id: &str,
        version_numbers: &[i64],
    ) -> StoreResult<()> {
        if version_numbers.is_empty() {
            return Ok(());
        }
        versions::Entity::update_many()
            .col_expr(versions::Column::IsActive, Expr::value(false))
            .filter(versions::Column::SecretId.eq(id))
            .filter(versions::Column::Version.is_in(version_numbers.iter().copied()))
            .exec(self.txn())
            .await?;
        Ok(())
    }

    /// Deletes versions (never the current one: the caller checked, and the row lock
    /// holds the pointer still).
    pub async fn delete_versions(
        &mut self,
        id: &str,
        version_numbers: &[i64],
    ) -> StoreResult<Vec<VersionRecord>> {
        if version_numbers.is_empty() {
            return Ok(Vec::new());
        }
        let cond = Condition::all()
            .add(versions::Column::SecretId.eq(id))
            .add(versions::Column::Version.is_in(version_numbers.iter().copied()));
        let rows = versions::Entity::find()
            .filter(cond.clone())
            .all(self.txn())
            .await?;
        versions::Entity::delete_many()
            .filter(cond)
            .exec(self.txn())
            .await?;
        rows.into_iter().map(to_version).collect()
    }
}
