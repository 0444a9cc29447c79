//! The error envelope every failed request answers with:
//! `{"error":{"code","message","requestId"}}`.

use serde::{Deserialize, Serialize};

/// The error envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorResponse {
    pub error: ErrorBody,
}

/// The body of the error envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// A machine-readable code, e.g. `SECRET_NOT_FOUND`.
    #[cfg_attr(feature = "openapi", schema(example = "SECRET_NOT_FOUND"))]
    pub code: String,
    /// A message for humans; never contains a secret value or an internal cause.
    pub message: String,
    /// The request's id, also in the `X-Request-Id` header.
    pub request_id: String,
    /// One entry per failed item where a request fails for several (a resolution: one per
    /// key that did not resolve).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Vec<ErrorDetail>>,
}

/// One failed item of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    /// The item: a variable's key.
    pub key: String,
    pub code: String,
    /// What went wrong (never a value).
    pub message: String,
}
