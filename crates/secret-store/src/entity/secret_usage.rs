//! Which module read which secret, and when.

use sea_orm::entity::prelude::*;

/// One recorded use of a secret's value.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "secret_usage")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub secret_id: String,
    pub consumer_module: String,
    pub consumer_resource_id: Option<String>,
    pub organization_id: Option<String>,
    pub user_id: String,
    pub used_at: DateTimeUtc,
}

/// No relations are navigated.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
