//! The rows of `secret_migrations`: a migration's request, state, counts and progress, and
//! the lease by which exactly one runner (one server) works on a running migration at a
//! time. A runner that dies stops renewing its lease; once it has run out, any server may
//! claim the migration and carry on from its cursor.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, IntoActiveModel, QueryFilter,
};

use crate::db::Database;
use crate::entity::secret_migrations as sm;
use crate::error::StoreResult;

/// One migration as stored.
pub type MigrationRow = sm::Model;

/// What a runner records after each secret.
#[derive(Debug, Clone)]
pub struct MigrationProgress<'a> {
    pub total: i64,
    pub migrated: i64,
    pub failed: i64,
    pub skipped: i64,
    /// JSON array of the errors so far.
    pub errors: &'a str,
    pub cursor: Option<&'a str>,
    pub in_flight: Option<&'a str>,
    pub now: DateTime<Utc>,
    pub lease_until: DateTime<Utc>,
}

/// The migrations table.
#[derive(Debug, Clone)]
pub struct MigrationJobs {
    db: Database,
}

impl MigrationJobs {
    /// The table in `db`.
    pub fn new(db: Database) -> Self {
        MigrationJobs { db }
    }

    /// Records a new migration.
    pub async fn insert(&self, row: MigrationRow) -> StoreResult<()> {
        row.into_active_model().insert(self.db.conn()).await?;
        Ok(())
    }

    /// The migration `id`.
    pub async fn find(&self, id: &str) -> StoreResult<Option<MigrationRow>> {
        Ok(sm::Entity::find_by_id(id).one(self.db.conn()).await?)
    }

    /// The planned and running migrations no live runner holds: their lease ran out, or
    /// they never had one.
    pub async fn unclaimed(&self, now: DateTime<Utc>) -> StoreResult<Vec<String>> {
        Ok(sm::Entity::find()
            .filter(sm::Column::State.is_in(["PLANNED", "RUNNING"]))
            .filter(
                Condition::any()
                    .add(sm::Column::LeaseUntil.is_null())
                    .add(sm::Column::LeaseUntil.lt(now)),
            )
            .all(self.db.conn())
            .await?
            .into_iter()
            .map(|m| m.id)
            .collect())
    }

    /// Takes the lease of a planned or running migration for `owner` until `until` (a
    /// planned one is running from then on), if no other runner holds it; false otherwise.
    pub async fn claim(
        &self,
        id: &str,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let res = sm::Entity::update_many()
            .col_expr(sm::Column::State, Expr::value("RUNNING"))
            .col_expr(sm::Column::LeaseOwner, Expr::value(owner))
            .col_expr(sm::Column::LeaseUntil, Expr::value(until))
            .col_expr(sm::Column::UpdatedAt, Expr::value(now))
            .filter(sm::Column::Id.eq(id))
            .filter(sm::Column::State.is_in(["PLANNED", "RUNNING"]))
            .filter(
                Condition::any()
                    .add(sm::Column::LeaseUntil.is_null())
                    .add(sm::Column::LeaseUntil.lt(now))
                    .add(sm::Column::LeaseOwner.eq(owner)),
            )
            .exec(self.db.conn())
            .await?;
        Ok(res.rows_affected == 1)
    }

    /// Sets the start time once (the first run's).
    pub async fn mark_started(&self, id: &str, now: DateTime<Utc>) -> StoreResult<()> {
        sm::Entity::update_many()
            .col_expr(sm::Column::StartedAt, Expr::value(now))
            .filter(sm::Column::Id.eq(id))
            .filter(sm::Column::StartedAt.is_null())
            .exec(self.db.conn())
            .await?;
        Ok(())
    }

    /// Renews `owner`'s lease; false when it no longer holds the migration.
    pub async fn renew(&self, id: &str, owner: &str, until: DateTime<Utc>) -> StoreResult<bool> {
        let res = sm::Entity::update_many()
            .col_expr(sm::Column::LeaseUntil, Expr::value(until))
            .filter(sm::Column::Id.eq(id))
            .filter(sm::Column::LeaseOwner.eq(owner))
            .exec(self.db.conn())
            .await?;
        Ok(res.rows_affected == 1)
    }

    /// Records progress under `owner`'s lease (renewing it); false when it no longer
    /// holds the migration.
    pub async fn save_progress(
        &self,
        id: &str,
        owner: &str,
        p: &MigrationProgress<'_>,
    ) -> StoreResult<bool> {
        use sm::Column as C;
        let res = sm::Entity::update_many()
            .col_expr(C::Total, Expr::value(p.total))
            .col_expr(C::Migrated, Expr::value(p.migrated))
            .col_expr(C::Failed, Expr::value(p.failed))
            .col_expr(C::Skipped, Expr::value(p.skipped))
            .col_expr(C::Errors, Expr::value(p.errors))
            .col_expr(C::Cursor, Expr::value(p.cursor))
            .col_expr(C::InFlight, Expr::value(p.in_flight))
            .col_expr(C::UpdatedAt, Expr::value(p.now))
            .col_expr(C::LeaseUntil, Expr::value(p.lease_until))
            .filter(C::Id.eq(id))
            .filter(C::LeaseOwner.eq(owner))
            .exec(self.db.conn())
            .await?;
        Ok(res.rows_affected == 1)
    }

    /// Ends a running migration in state `to` (COMPLETED or FAILED): its end time set, its
    /// lease released. False when it was not running.
    pub async fn finish(&self, id: &str, to: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        use sm::Column as C;
        let res = sm::Entity::update_many()
            .col_expr(C::State, Expr::value(to))
            .col_expr(C::UpdatedAt, Expr::value(now))
            .col_expr(C::FinishedAt, Expr::value(now))
            .col_expr(C::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(C::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .filter(C::Id.eq(id))
            .filter(C::State.eq("RUNNING"))
            .exec(self.db.conn())
            .await?;
        Ok(res.rows_affected == 1)
    }

    /// Sets a paused migration running again (a runner still holding its lease carries on;
    /// otherwise any may claim it). False when it was not paused.
    pub async fn resume(&self, id: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        let res = sm::Entity::update_many()
            .col_expr(sm::Column::State, Expr::value("RUNNING"))
            .col_expr(sm::Column::UpdatedAt, Expr::value(now))
            .filter(sm::Column::Id.eq(id))
            .filter(sm::Column::State.eq("PAUSED"))
            .exec(self.db.conn())
            .await?;
        Ok(res.rows_affected == 1)
    }

    /// Pauses a migration in one of the states `from`, leaving its lease to the runner,
    /// which sees the state after the secret it is on and lets go; false when it was in
    /// none of them.
    pub async fn pause(&self, id: &str, from: &[&str], now: DateTime<Utc>) -> StoreResult<bool> {
        let res = sm::Entity::update_many()
            .col_expr(sm::Column::State, Expr::value("PAUSED"))
            .col_expr(sm::Column::UpdatedAt, Expr::value(now))
            .filter(sm::Column::Id.eq(id))
            .filter(sm::Column::State.is_in(from.iter().copied()))
            .exec(self.db.conn())
            .await?;
        Ok(res.rows_affected == 1)
    }

    /// Releases `owner`'s lease without changing the state.
    pub async fn release(&self, id: &str, owner: &str) -> StoreResult<()> {
        sm::Entity::update_many()
            .col_expr(sm::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(
                sm::Column::LeaseUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(sm::Column::Id.eq(id))
            .filter(sm::Column::LeaseOwner.eq(owner))
            .exec(self.db.conn())
            .await?;
        Ok(())
    }
}
