//! The wire types of the REST API (§12.1): request and response bodies in camelCase and
//! the error envelope, with their conversions to and from the core types. They need no
//! database and no HTTP framework, so the server and a client share them; with the feature
//! `openapi` they also carry their OpenAPI schemas (utoipa).

use serde::{Deserialize, Deserializer, Serialize};

/// `null` as `Some(None)`, absence (with `#[serde(default)]`) as `None`.
pub fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    de: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(de).map(Some)
}

/// Declares a listing `{"items","page","limit","total"}` of one item type.
macro_rules! listing {
    ($(#[$meta:meta])* $name:ident, $item:ty) => {
        $(#[$meta])*
        #[derive(Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub struct $name {
            pub items: Vec<$item>,
            /// 1-based page number.
            pub page: u64,
            pub limit: u64,
            /// Items across all pages.
            pub total: u64,
        }

        // Each listing uses one of the two constructors.
        #[allow(dead_code)]
        impl $name {
            /// A page of a paged listing.
            pub fn page<T: Into<$item>>(p: Page<T>) -> Self {
                $name {
                    items: p.items.into_iter().map(Into::into).collect(),
                    page: p.page,
                    limit: p.limit,
                    total: p.total,
                }
            }

            /// A listing that is never paged: everything on page 1.
            pub fn all<T: Into<$item>>(items: Vec<T>) -> Self {
                let total = items.len() as u64;
                $name {
                    items: items.into_iter().map(Into::into).collect(),
                    page: 1,
                    limit: total.max(1),
                    total,
                }
            }
        }
    };
}

// Declared after the macro, which they use.
mod audit;
mod error;
mod events;
mod migration;
mod resolve;
#[cfg(feature = "openapi")]
pub mod schema;
mod secrets;
mod transfer;
mod vaults;

pub use audit::{AuditList, AuditRecordResponse};
pub use error::{ErrorBody, ErrorDetail, ErrorResponse};
pub use events::{ChangeKind, SECRET_CHANGED_EVENT, SecretChanged};
pub use migration::*;
pub use resolve::*;
pub use secrets::*;
pub use transfer::*;
pub use vaults::*;

/// `GET /healthz`, `GET /readyz`.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthResponse {
    /// `ok`; on `/readyz` also `degraded` (serving, but the change feed is down, so cached
    /// entries are bounded only by their TTL) or `unavailable` (503: the database cannot be
    /// reached).
    pub status: String,
    /// On `/readyz`: each dependency's state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<ReadinessChecks>,
}

/// The dependencies `/readyz` checks.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ReadinessChecks {
    /// `ok` or `unavailable`.
    pub database: String,
    pub change_feed: ChangeFeedCheck,
}

/// The change feed that keeps this process's cache in step with the other processes.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ChangeFeedCheck {
    /// `CONNECTED`, `CONNECTING` (before its first read), `DOWN`, or `OFF` (not followed).
    pub status: String,
    /// Since when it has been down (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down_since: Option<String>,
    /// The longest a cached entry can be stale while the feed is down: the cache's TTL.
    pub staleness_bound_seconds: u64,
    /// What is wrong, while it is down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
