//! The audit trail. Rows are never deleted by ordinary operations.

use sea_orm::entity::prelude::*;

/// One audit record.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "secret_audit_logs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Position in the hash chain, from 1, unique.
    pub seq: i64,
    pub prev_hash: String,
    pub hash: String,
    pub event_type: String,
    pub event_category: String,
    pub actor_type: String,
    pub actor_id: String,
    pub actor_name: Option<String>,
    pub organization_id: Option<String>,
    pub team_id: Option<String>,
    pub project_id: Option<String>,
    pub secret_id: Option<String>,
    pub secret_name: Option<String>,
    pub secret_scope: Option<String>,
    pub action: String,
    /// Sanitized JSON details.
    pub details: String,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub consumer_module: Option<String>,
    pub outcome: String,
    pub error_message: Option<String>,
    pub timestamp: DateTimeUtc,
}

/// No relations are navigated.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
