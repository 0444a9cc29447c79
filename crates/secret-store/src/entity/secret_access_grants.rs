//! Per-secret access grants to a user, a team or a role.

use sea_orm::entity::prelude::*;

/// One grant; unique per (secret, grantee type, grantee id).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "secret_access_grants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub secret_id: String,
    pub grantee_type: String,
    pub grantee_id: String,
    pub can_read: bool,
    pub can_update: bool,
    pub can_delete: bool,
    pub can_grant: bool,
    pub expires_at: Option<DateTimeUtc>,
    pub granted_at: DateTimeUtc,
    pub granted_by_id: String,
}

/// No relations are navigated.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
