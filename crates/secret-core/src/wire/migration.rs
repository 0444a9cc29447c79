//! Bodies of the migration routes (§11.3, §12.1): `POST /api/secrets/migrate` and
//! `GET /api/secrets/migrations/{id}` with its `pause` and `resume`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use super::schema::{SecretScopeSchema, StorageBackendSchema};
use crate::{SecretScope, StorageBackendKind};

/// Which versions of each secret a migration copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MigrationVersions {
    /// Only the current version; the older versions are removed from the secret's history.
    Current,
    /// Every version, oldest first, so history and rollback carry over.
    #[default]
    All,
}

impl MigrationVersions {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            MigrationVersions::Current => "CURRENT",
            MigrationVersions::All => "ALL",
        }
    }
}

/// Where a migration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MigrationState {
    Planned,
    Running,
    Paused,
    Completed,
    Failed,
}

impl MigrationState {
    /// The wire spelling (also the stored one).
    pub fn as_str(self) -> &'static str {
        match self {
            MigrationState::Planned => "PLANNED",
            MigrationState::Running => "RUNNING",
            MigrationState::Paused => "PAUSED",
            MigrationState::Completed => "COMPLETED",
            MigrationState::Failed => "FAILED",
        }
    }

    /// The state a stored spelling names.
    pub fn parse(s: &str) -> Option<Self> {
        [
            MigrationState::Planned,
            MigrationState::Running,
            MigrationState::Paused,
            MigrationState::Completed,
            MigrationState::Failed,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }

    /// Whether the migration is over.
    pub fn is_final(self) -> bool {
        matches!(self, MigrationState::Completed | MigrationState::Failed)
    }
}

/// `POST /api/secrets/migrate`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MigrateRequest {
    pub source_vault_id: String,
    pub target_vault_id: String,
    /// Delete each secret's copies from the source once its pointer has moved.
    #[serde(default)]
    pub delete_from_source: bool,
    /// Go on after a secret fails (it stays where it was); otherwise the migration stops
    /// (FAILED) at the first failure.
    #[serde(default)]
    pub continue_on_error: bool,
    /// Answer the plan (`secretCount`, `estimatedDurationMs`) and move nothing.
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub versions: MigrationVersions,
    /// Only the secrets of this scope.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<SecretScopeSchema>))]
    pub scope: Option<SecretScope>,
    /// Only the secrets of this organization (required of an organization admin).
    pub organization_id: Option<String>,
}

/// The answer to a dry run (the spec's `planMigration`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct MigrationPlan {
    pub source_vault_id: String,
    pub target_vault_id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = StorageBackendSchema))]
    pub source_backend: StorageBackendKind,
    #[cfg_attr(feature = "openapi", schema(value_type = StorageBackendSchema))]
    pub target_backend: StorageBackendKind,
    /// The secrets that would move.
    pub secret_count: u64,
    /// The versions that would be copied.
    pub version_count: u64,
    pub estimated_duration_ms: u64,
    /// The same estimate under the specification's name (milliseconds).
    pub estimated_duration: u64,
}

/// `202` to a migration started.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct MigrationStarted {
    pub id: String,
}

/// One secret that did not move (or moved, but its source copy could not be deleted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct MigrationError {
    pub secret_id: String,
    pub secret_name: String,
    /// What went wrong, in the service's words (never a value).
    pub error: String,
    /// The error code.
    pub code: String,
}

/// `GET /api/secrets/migrations/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct MigrationStatus {
    pub id: String,
    pub state: MigrationState,
    pub source_vault_id: String,
    pub target_vault_id: String,
    pub delete_from_source: bool,
    pub continue_on_error: bool,
    pub versions: MigrationVersions,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<SecretScopeSchema>))]
    pub scope: Option<SecretScope>,
    pub organization_id: Option<String>,
    /// Secrets the migration covers (counted when it started).
    pub total: u64,
    pub migrated: u64,
    pub failed: u64,
    /// Secrets passed over: deleted, or moved elsewhere, before their turn.
    pub skipped: u64,
    pub errors: Vec<MigrationError>,
    pub created_at: DateTime<Utc>,
    pub created_by_id: String,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The estimate made when it was planned.
    pub estimated_duration_ms: u64,
    /// While running: the time left at the rate so far.
    pub estimated_remaining_ms: Option<u64>,
    /// Once finished: how long it took.
    pub duration_ms: Option<u64>,
    /// The same under the specification's `MigrationResult` name (milliseconds).
    pub duration: Option<u64>,
}
