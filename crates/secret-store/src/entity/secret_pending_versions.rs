//! A rotation's new version, encrypted for its version number, before it is made current.

use sea_orm::entity::prelude::*;

/// One pending version (at most one per secret).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "secret_pending_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub secret_id: String,
    pub version: i64,
    pub key_id: String,
    pub encrypted_value: Vec<u8>,
    pub created_at: DateTimeUtc,
}

/// No relations are navigated.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
