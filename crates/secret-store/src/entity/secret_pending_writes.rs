//! A write to an external vault between its first transaction and the one that makes it
//! visible (ARCHITECTURE §7): at most one per secret; a row left by a crash is reconciled.

use sea_orm::entity::prelude::*;

/// One pending write.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "secret_pending_writes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub secret_id: String,
    pub version: i64,
    pub vault_config_id: String,
    pub operation: String,
    pub vault_ref: Option<String>,
    pub created_at: DateTimeUtc,
    pub created_by_id: String,
}

/// No relations are navigated.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
