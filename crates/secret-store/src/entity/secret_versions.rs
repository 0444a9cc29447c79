//! Every version of every secret: ciphertext and key id (local backend) or the vault's
//! version reference (external backends).

use sea_orm::entity::prelude::*;

/// One version of a secret.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "secret_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub secret_id: String,
    pub version: i64,
    /// Format byte, nonce, ciphertext and tag; bound to (secret id, version, key id).
    pub encrypted_value: Option<Vec<u8>>,
    pub key_id: Option<String>,
    /// The vault's reference of the object holding this version (external backends).
    pub vault_ref: Option<String>,
    pub vault_version_id: Option<String>,
    pub change_reason: Option<String>,
    pub is_active: bool,
    pub created_at: DateTimeUtc,
    pub created_by_id: String,
}

/// No relations are navigated.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
