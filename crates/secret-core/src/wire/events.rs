//! The events of `GET /api/secrets/events` (server-sent events): which secret changed and
//! how, never a value, so that a client drops its cached copy as soon as it is stale.

use serde::{Deserialize, Serialize};

/// The SSE event name of a [`SecretChanged`].
pub const SECRET_CHANGED_EVENT: &str = "secret-changed";

/// How a secret changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChangeKind {
    /// Created, a new value (update, rotation, rollback, import, migration), new metadata,
    /// restored or expired.
    Updated,
    /// Soft-deleted or permanently deleted.
    Deleted,
    /// A grant was given, revoked or expired.
    AccessChanged,
}

/// The `data` of an `event: secret-changed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SecretChanged {
    pub secret_id: String,
    /// The secret's current version after the change (`null` when it no longer exists).
    pub version: Option<i64>,
    pub change: ChangeKind,
}
