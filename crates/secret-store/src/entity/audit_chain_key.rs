//! The audit chain key: one row (id 1) holding the secret key of the HMAC-SHA256 audit chain,
//! wrapped by the key-encryption key, and the sequence number of the first record it tags.

use sea_orm::entity::prelude::*;

/// The chain key's row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_chain_key")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    /// `ack-` and a UUID v7; bound into the wrap's associated data.
    pub key_id: String,
    /// The key wrapped (AES-256-GCM) by the key-encryption key.
    pub encrypted_key: Vec<u8>,
    /// The first record tagged with the key (records before keep their unkeyed hashes);
    /// bound into the wrap's associated data.
    pub keyed_from_seq: i64,
    pub created_at: DateTimeUtc,
    /// When the key was last re-wrapped (master-key rotation).
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
