//! Migrations between vault configurations: request, state, counts, progress and lease.

use sea_orm::entity::prelude::*;

/// One migration.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "secret_migrations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub state: String,
    pub source_vault_id: String,
    pub target_vault_id: String,
    /// JSON of the request's options (versions, deleteFromSource, continueOnError, filter).
    pub options: String,
    pub total: i64,
    pub migrated: i64,
    pub failed: i64,
    pub skipped: i64,
    /// JSON array of `{secretId, secretName, error, code}`.
    pub errors: String,
    /// The last secret id finished; secrets are taken in id order.
    pub cursor: Option<String>,
    /// The secret being copied, whose partial copy in the target a resumed run removes.
    pub in_flight: Option<String>,
    pub estimated_duration_ms: i64,
    pub created_at: DateTimeUtc,
    pub created_by_id: String,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
    /// The runner holding the migration, until `lease_until`.
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
}

/// No relations are navigated.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
