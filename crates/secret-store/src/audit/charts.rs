//! Counts behind the compliance view's charts, grouped by the database in one query.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, DbBackend, EntityTrait, QueryFilter, QuerySelect};
use secret_core::{AuditOutcome, SecretAuditEventType};

use super::AuditStore;
use crate::entity::secret_audit_logs as logs;
use crate::error::StoreResult;

impl AuditStore {
    /// Successful value reads of `organization` (of every one when `None`) within
    /// `start..=end`, per UTC day, in day order; days without a read are left out.
    pub async fn reads_per_day(
        &self,
        organization: Option<&str>,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> StoreResult<Vec<(NaiveDate, u64)>> {
        use logs::Column as C;
        // SQLite keeps the time as RFC 3339 text in UTC; PostgreSQL as a timestamptz.
        let day = match self.db.conn().get_database_backend() {
            DbBackend::Postgres => "to_char(\"timestamp\" AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
            _ => "substr(\"timestamp\", 1, 10)",
        };
        let mut which = Condition::all()
            .add(C::Timestamp.gte(start))
            .add(C::Timestamp.lte(end))
            .add(C::EventType.eq(SecretAuditEventType::SecretRead.as_str()))
            .add(C::Outcome.eq(AuditOutcome::Success.as_str()));
        if let Some(org) = organization {
            which = which.add(C::OrganizationId.eq(org));
        }
        let rows: Vec<(String, i64)> = logs::Entity::find()
            .select_only()
            .column_as(Expr::cust(day), "day")
            .column_as(C::Id.count(), "n")
            .filter(which)
            .group_by(Expr::cust(day))
            .into_tuple()
            .all(self.db.conn())
            .await?;
        let mut days: Vec<(NaiveDate, u64)> = rows
            .into_iter()
            .filter_map(|(d, n)| {
                let day = NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()?;
                Some((day, u64::try_from(n).unwrap_or(0)))
            })
            .collect();
        days.sort_unstable();
        Ok(days)
    }
}
