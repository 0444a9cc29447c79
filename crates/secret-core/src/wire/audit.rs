//! The audit record and the page of them that `GET /api/secrets/audit` answers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::Page;

/// One audit record: what happened, who did it, on which secret, and its place in the
/// hash chain.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuditRecordResponse {
    pub id: String,
    /// Position in the hash chain, from 1.
    pub seq: i64,
    /// A SecretAuditEventType (SECRET_READ, ACCESS_DENIED, ...).
    pub event_type: String,
    /// CRUD, LIFECYCLE, ACCESS, VAULT, IMPORT_EXPORT or KEY_MANAGEMENT.
    pub event_category: String,
    /// USER, SYSTEM or SCHEDULER.
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
    /// Redacted details.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub details: serde_json::Value,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub consumer_module: Option<String>,
    /// SUCCESS, FAILURE or DENIED.
    pub outcome: String,
    pub error_message: Option<String>,
    pub timestamp: DateTime<Utc>,
    pub prev_hash: String,
    pub hash: String,
}

impl From<crate::audit::AuditRecord> for AuditRecordResponse {
    fn from(r: crate::audit::AuditRecord) -> Self {
        let e = r.entry;
        AuditRecordResponse {
            details: serde_json::from_str(&e.details)
                .unwrap_or(serde_json::Value::String(e.details)),
            id: e.id,
            seq: r.seq,
            event_type: e.event_type.as_str().to_owned(),
            event_category: e.event_category.as_str().to_owned(),
            actor_type: e.actor_type.as_str().to_owned(),
            actor_id: e.actor_id,
            actor_name: e.actor_name,
            organization_id: e.organization_id,
            team_id: e.team_id,
            project_id: e.project_id,
            secret_id: e.secret_id,
            secret_name: e.secret_name,
            secret_scope: e.secret_scope.map(|s| s.as_str().to_owned()),
            action: e.action,
            ip_address: e.ip_address,
            user_agent: e.user_agent,
            request_id: e.request_id,
            consumer_module: e.consumer_module,
            outcome: e.outcome.as_str().to_owned(),
            error_message: e.error_message,
            timestamp: e.timestamp,
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}

listing!(
    /// A page of audit records, newest first.
    AuditList,
    AuditRecordResponse
);
