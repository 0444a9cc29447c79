//! The audit record and the page of them that `GET /api/secrets/audit` answers.

use chrono::{DateTime, Utc};
use secret_core::model::Page;
use serde::Serialize;
use utoipa::ToSchema;

/// One audit record: what happened, who did it, on which secret, and its place in the
/// hash chain.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AuditRecordResponse {
    id: String,
    /// Position in the hash chain, from 1.
    seq: i64,
    /// A SecretAuditEventType (SECRET_READ, ACCESS_DENIED, ...).
    event_type: String,
    /// CRUD, LIFECYCLE, ACCESS, VAULT, IMPORT_EXPORT or KEY_MANAGEMENT.
    event_category: String,
    /// USER, SYSTEM or SCHEDULER.
    actor_type: String,
    actor_id: String,
    actor_name: Option<String>,
    organization_id: Option<String>,
    team_id: Option<String>,
    project_id: Option<String>,
    secret_id: Option<String>,
    secret_name: Option<String>,
    secret_scope: Option<String>,
    action: String,
    /// Redacted details.
    #[schema(value_type = Object)]
    details: serde_json::Value,
    ip_address: Option<String>,
    user_agent: Option<String>,
    request_id: Option<String>,
    consumer_module: Option<String>,
    /// SUCCESS, FAILURE or DENIED.
    outcome: String,
    error_message: Option<String>,
    timestamp: DateTime<Utc>,
    prev_hash: String,
    hash: String,
}

impl From<secret_core::audit::AuditRecord> for AuditRecordResponse {
    fn from(r: secret_core::audit::AuditRecord) -> Self {
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
