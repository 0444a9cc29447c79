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
pub const PAGE: u64 = 500;

/// Which secrets a job walks through, and how far it has got: pages in a stable order
/// (the due date, then the id), each page starting after the last row of the one before,
/// so rows that leave the set while the job works (marked, rotated, purged) shift nothing
/// and rows that stay (already notified) are not read again in the same run.
#[derive(Debug, Clone)]
pub struct JobScan {
    query: ScanQuery,
    cursor: Option<(DateTime<Utc>, String)>,
    done: bool,
}

/// A scan's condition, its ordering column, and how to read that column from a row.
type ScanPlan = (
    Condition,
    secrets::Column,
    fn(&SecretMetadata) -> Option<DateTime<Utc>>,
);

#[derive(Debug, Clone, Copy)]
enum ScanQuery {
    Expiring {
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    },
    NewlyExpired {
        now: DateTime<Utc>,
    },
    RotationDue {
        now: DateTime<Utc>,
    },
    Purgeable {
        now: DateTime<Utc>,
    },
}

impl JobScan {
    fn new(query: ScanQuery) -> Self {
        JobScan {
            query,
            cursor: None,
            done: false,
        }
    }

    /// Live secrets whose expiry lies in `(now, until]`, soonest first.
    pub fn expiring(now: DateTime<Utc>, until: DateTime<Utc>) -> Self {
        Self::new(ScanQuery::Expiring { now, until })
    }

    /// Live secrets past their expiry that are not yet marked expired.
    pub fn newly_expired(now: DateTime<Utc>) -> Self {
        Self::new(ScanQuery::NewlyExpired { now })
    }

    /// Live secrets whose rotation is due at `now`, not waiting for a retry and not
    /// claimed by a running rotation.
    pub fn rotation_due(now: DateTime<Utc>) -> Self {
        Self::new(ScanQuery::RotationDue { now })
    }

    /// Soft-deleted secrets whose recovery deadline has passed.
    pub fn purgeable(now: DateTime<Utc>) -> Self {
        Self::new(ScanQuery::Purgeable { now })
    }

    /// The condition, the ordering column, and how to read that column from a row.
    fn plan(&self) -> ScanPlan {
        use secrets::Column as C;
        match self.query {
            ScanQuery::Expiring { now, until } => (
                Condition::all()
                    .add(C::DeletedAt.is_null())
                    .add(C::ExpiresAt.gt(now))
                    .add(C::ExpiresAt.lte(until)),
                C::ExpiresAt,
                |m| m.expires_at,
            ),
            ScanQuery::NewlyExpired { now } => (
                Condition::all()
                    .add(C::DeletedAt.is_null())
                    .add(C::ExpiresAt.lte(now))
                    .add(C::ExpiredAt.is_null()),
                C::ExpiresAt,
                |m| m.expires_at,
            ),
            ScanQuery::RotationDue { now } => (
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
                |m| m.next_rotation_at,
            ),
            ScanQuery::Purgeable { now } => (
                Condition::all()
                    .add(C::DeletedAt.is_not_null())
                    .add(C::RecoveryDeadline.lte(now)),
                C::RecoveryDeadline,
                |m| m.recovery_deadline,
            ),
        }
    }
}

impl SecretRepository {
    /// The windows of `kind` already recorded for `secret_id` and `due_at`.
    pub async fn notices_sent(
        &self,
        secret_id: &str,
        kind: &str,
        due_at: DateTime<Utc>,
    ) -> StoreResult<Vec<i32>> {
        Ok(notices::Entity::find()
            .filter(notices::Column::SecretId.eq(secret_id))
            .filter(notices::Column::Kind.eq(kind))
            .filter(notices::Column::DueAt.eq(due_at))
            .all(self.database().conn())
            .await?
            .into_iter()
            .map(|n| n.window_days)
            .collect())
    }

    /// The next page of `scan`; empty when it is done.
    pub async fn next_page(&self, scan: &mut JobScan) -> StoreResult<Vec<SecretMetadata>> {
        if scan.done {
            return Ok(Vec::new());
        }
        let (mut cond, order, key) = scan.plan();
        if let Some((at, id)) = &scan.cursor {
            cond = cond.add(
                Condition::any().add(order.gt(*at)).add(
                    Condition::all()
                        .add(order.eq(*at))
                        .add(secrets::Column::Id.gt(id.as_str())),
                ),
            );
        }
        let rows = secrets::Entity::find()
            .filter(cond)
            .order_by_asc(order)
            .order_by_asc(secrets::Column::Id)
            .limit(PAGE)
            .all(self.database().conn())
            .await?
            .into_iter()
            .map(|m| to_record(m).map(|r| r.metadata))
            .collect::<StoreResult<Vec<_>>>()?;
        scan.done = (rows.len() as u64) < PAGE;
        scan.cursor = rows
            .last()
            .and_then(|m| key(m).map(|at| (at, m.id.to_string())));
        if scan.cursor.is_none() {
            scan.done = true;
        }
        Ok(rows)
    }

    /// Up to a page of secrets holding more than `min_versions` versions, with ids after
    /// `after` (candidates for retention), in id order.
    pub async fn with_versions_over(
        &self,
        min_versions: i64,
        after: Option<&str>,
    ) -> StoreResult<Vec<SecretMetadata>> {
        let mut query = versions::Entity::find()
            .select_only()
            .column(versions::Column::SecretId)
            .group_by(versions::Column::SecretId)
            .having(ExprTrait::gt(
                Func::count(Expr::col(versions::Column::Id)),
                min_versions,
            ))
            .order_by_asc(versions::Column::SecretId)
            .limit(PAGE);
        if let Some(after) = after {
            query = query.filter(versions::Column::SecretId.gt(after));
        }
        let ids: Vec<secret_core::SecretId> = query
            .into_tuple::<String>()
            .all(self.database().conn())
            .await?
            .into_iter()
            .map(Into::into)
            .collect();
        let mut out: Vec<SecretMetadata> = self
            .find_many(&ids)
            .await?
            .into_iter()
            .map(|r| r.metadata)
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
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
    /// Grants past their expiry on up to a page of secrets with ids after `after`, in
    /// secret id order.
    pub async fn expired_grants(
        &self,
        now: DateTime<Utc>,
        after: Option<&str>,
    ) -> StoreResult<Vec<AccessGrant>> {
        let mut query = grants::Entity::find()
            .select_only()
            .column(grants::Column::SecretId)
            .distinct()
            .filter(grants::Column::ExpiresAt.lte(now))
            .order_by_asc(grants::Column::SecretId)
            .limit(PAGE);
        if let Some(after) = after {
            query = query.filter(grants::Column::SecretId.gt(after));
        }
        let ids: Vec<String> = query.into_tuple().all(self.database().conn()).await?;
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut out: Vec<AccessGrant> = self
            .grants_on(&refs)
            .await?
            .into_iter()
            .filter(|g| g.expires_at.is_some_and(|at| at <= now))
            .collect();
        out.sort_by(|a, b| a.secret_id.cmp(&b.secret_id));
        Ok(out)
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
}

/// A notice sent once per secret, kind, window and due date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notice<'a> {
    pub secret_id: &'a str,
    /// `EXPIRY` or `ROTATION_DUE`.
    pub kind: &'a str,
    /// Days before the due date (0 for a reminder).
    pub window_days: i32,
    pub due_at: DateTime<Utc>,
}

impl WriteTx {
    /// Records that `notice` was sent at `now`: true if it is new, false if it was already
    /// sent.
    pub async fn record_notice(
        &mut self,
        notice: &Notice<'_>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let Notice {
            secret_id,
            kind,
            window_days,
            due_at,
        } = *notice;
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
