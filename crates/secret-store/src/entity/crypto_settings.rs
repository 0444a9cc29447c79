//! The installation's crypto settings: one row holding the KDF parameters (with the random
//! salt) for a passphrase master key, and the master key's key-check value.

use sea_orm::entity::prelude::*;

/// The single settings row (`id` = 1).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crypto_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    /// JSON of the argon2id parameters and salt; absent when the master key is a raw key.
    pub kdf: Option<String>,
    /// AES-GCM encryption of a fixed label under the key-encryption key.
    pub key_check: Vec<u8>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
