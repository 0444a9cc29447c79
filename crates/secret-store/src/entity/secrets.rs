//! One row per secret: its metadata and the pointer to its current version.

use sea_orm::entity::prelude::*;

/// A secret's metadata row. Never holds a value: ciphertext lives in `secret_versions`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "secrets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub secret_type: String,
    pub storage_backend: String,
    pub vault_config_id: Option<String>,
    pub vault_path: Option<String>,
    pub vault_secret_id: Option<String>,
    pub scope: String,
    pub organization_id: Option<String>,
    pub team_id: Option<String>,
    pub project_id: Option<String>,
    pub user_id: Option<String>,
    /// Scope plus owner ids in one string, so (name, owner_key) can be unique on every engine.
    pub owner_key: String,
    pub expires_at: Option<DateTimeUtc>,
    pub rotation_enabled: bool,
    pub rotation_interval_days: Option<i32>,
    pub last_rotated_at: Option<DateTimeUtc>,
    pub next_rotation_at: Option<DateTimeUtc>,
    pub current_version: i64,
    pub deleted_at: Option<DateTimeUtc>,
    pub deleted_by_id: Option<String>,
    pub recovery_deadline: Option<DateTimeUtc>,
    /// JSON array of lower-case tags.
    pub tags: String,
    /// JSON object of free-form string metadata.
    pub metadata: String,
    /// JSON of the non-secret facts derived from the current value.
    pub facts: String,
    /// The data key of `masked_value`.
    pub masked_key_id: Option<String>,
    /// The masked display of the current value, encrypted (never a plain column: for an
    /// API key it shows characters of the value).
    pub masked_value: Option<Vec<u8>>,
    /// JSON of the lifecycle settings (rotation strategy and handler, notices, retention).
    pub lifecycle: String,
    /// When the scheduler marked the secret expired.
    pub expired_at: Option<DateTimeUtc>,
    pub rotation_failures: i32,
    pub last_rotation_error: Option<String>,
    /// A failed automatic rotation is not retried before this.
    pub rotation_retry_at: Option<DateTimeUtc>,
    /// A scheduler is rotating the secret until this (a lease, so no two rotate at once).
    pub rotation_claimed_until: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub created_by_id: String,
    pub updated_at: DateTimeUtc,
    pub updated_by_id: String,
}

/// No relations are navigated.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
