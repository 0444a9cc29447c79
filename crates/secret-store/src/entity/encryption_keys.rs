//! Data-encryption keys, stored wrapped by the master key.

use sea_orm::entity::prelude::*;

/// One data-encryption key.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "encryption_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub key_id: String,
    pub version: i64,
    /// The key wrapped (AES-256-GCM) by the key-encryption key; empty once destroyed.
    pub encrypted_key: Vec<u8>,
    pub algorithm: String,
    pub status: String,
    pub rotated_from_id: Option<String>,
    pub created_at: DateTimeUtc,
    pub expires_at: Option<DateTimeUtc>,
    pub retired_at: Option<DateTimeUtc>,
}

/// No relations are navigated.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
