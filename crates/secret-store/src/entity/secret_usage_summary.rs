//! Per secret and consuming module: the last read and the number of reads. Kept current by
//! the audit writer alongside `secret_usage`, so a secret's usage costs a read of a few rows.

use sea_orm::entity::prelude::*;

/// One (secret, module) pair.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "secret_usage_summary")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub secret_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub consumer_module: String,
    pub last_used_at: DateTimeUtc,
    pub read_count: i64,
}

/// No relations are navigated.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
