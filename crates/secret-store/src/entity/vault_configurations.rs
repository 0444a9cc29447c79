//! External vault configurations; the config JSON (with credentials) is stored encrypted.

use sea_orm::entity::prelude::*;

/// One vault configuration.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "vault_configurations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub backend: String,
    pub scope: String,
    pub organization_id: Option<String>,
    pub owner_key: String,
    pub encrypted_config: Vec<u8>,
    pub config_key_id: String,
    pub is_active: bool,
    pub is_default: bool,
    pub last_health_check: Option<DateTimeUtc>,
    pub health_status: String,
    pub created_at: DateTimeUtc,
    pub created_by_id: String,
    pub updated_at: DateTimeUtc,
    pub updated_by_id: String,
}

/// No relations are navigated.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
