//! The records and parameters of the service's operations (§9.1, §12.1): what a caller sends
//! to create, update and list secrets, and the metadata it gets back. Nothing here holds a
//! value except the parameter structs, whose values are [`SecretValue`]s.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::enums::{
    AuditOutcome, GranteeType, RotationStrategy, SecretAuditEventType, SecretScope, SecretType,
    StorageBackendKind,
};
use crate::error::SecretError;
use crate::ids::{GrantId, SecretId, VaultId};
use crate::limits::{DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT, MAX_PAGE_OFFSET};
use crate::value::{SecretValue, ValueFacts};

fn local_vault_id() -> VaultId {
    VaultId::local()
}

/// A secret's metadata: everything about it except its value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretMetadata {
    pub id: SecretId,
    pub name: String,
    pub description: Option<String>,
    #[serde(rename = "type")]
    pub secret_type: SecretType,
    pub scope: SecretScope,
    pub organization_id: Option<String>,
    pub team_id: Option<String>,
    pub project_id: Option<String>,
    pub user_id: Option<String>,
    pub storage_backend: StorageBackendKind,
    /// The vault configuration the value is kept in (`local`: the built-in store).
    #[serde(default = "local_vault_id")]
    pub vault_id: VaultId,
    pub current_version: i64,
    pub expires_at: Option<DateTime<Utc>>,
    pub rotation_enabled: bool,
    pub rotation_interval_days: Option<i32>,
    pub last_rotated_at: Option<DateTime<Utc>>,
    pub next_rotation_at: Option<DateTime<Utc>>,
    pub tags: Vec<String>,
    pub metadata: BTreeMap<String, String>,
    /// Non-secret facts derived from the current value (certificate subject, expiry, ...).
    pub facts: ValueFacts,
    pub deleted_at: Option<DateTime<Utc>>,
    pub deleted_by_id: Option<String>,
    pub recovery_deadline: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub created_by_id: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by_id: String,
    /// Rotation strategy and handler, expiry notice windows, recipients, retention.
    #[serde(default)]
    pub lifecycle: LifecycleSettings,
    /// When the scheduler marked the secret expired; cleared by a new value or expiry.
    #[serde(default)]
    pub expired_at: Option<DateTime<Utc>>,
    /// Automatic rotations that failed in a row, and the last failure's reason.
    #[serde(default)]
    pub rotation_failures: i32,
    #[serde(default)]
    pub last_rotation_error: Option<String>,
    /// When the value was last read and by which modules; filled when one secret's
    /// metadata is fetched, absent in listings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<SecretUsageInfo>,
    /// The masked display of the current value (`••••••••abcd` for an API key, the
    /// subject for a certificate, the names for an env set), decrypted from its sealed
    /// form by the service; `None` for secrets written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masked_value: Option<String>,
    /// The masked display as stored: encrypted under a data key, bound to this secret and
    /// its current version. Never serialized.
    #[serde(skip)]
    pub sealed_masked: Option<SealedMasked>,
}

/// A masked display encrypted under a data key (see [`SecretMetadata::sealed_masked`]).
#[derive(Clone, PartialEq, Eq)]
pub struct SealedMasked {
    /// The data key's id.
    pub key_id: String,
    /// The AES-256-GCM blob.
    pub blob: Vec<u8>,
}

impl std::fmt::Debug for SealedMasked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SealedMasked({}, {} bytes)",
            self.key_id,
            self.blob.len()
        )
    }
}

/// How the scheduler looks after a secret (§8.1, §8.2, §8.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LifecycleSettings {
    /// MANUAL and NOTIFY_ONLY get reminders when rotation is due; AUTOMATIC runs the handler.
    pub rotation_strategy: RotationStrategy,
    /// The registered rotation handler for AUTOMATIC rotation (e.g. `random`, `webhook`).
    pub rotation_handler: Option<String>,
    /// Days before expiry at which a notice is sent, each once per expiry date.
    pub notify_before_days: Vec<u32>,
    /// User ids or addresses carried in this secret's notifications.
    pub notification_recipients: Vec<String>,
    /// Versions kept (the current one always is); `None`: the default of 10.
    pub version_retention: Option<u32>,
}

/// Expiry notices are sent this many days before expiry unless configured otherwise.
pub const DEFAULT_NOTIFY_BEFORE_DAYS: [u32; 4] = [30, 14, 7, 1];
/// Versions kept unless configured otherwise.
pub const DEFAULT_VERSION_RETENTION: u32 = 10;

impl Default for LifecycleSettings {
    fn default() -> Self {
        LifecycleSettings {
            rotation_strategy: RotationStrategy::Manual,
            rotation_handler: None,
            notify_before_days: DEFAULT_NOTIFY_BEFORE_DAYS.to_vec(),
            notification_recipients: Vec::new(),
            version_retention: None,
        }
    }
}

impl LifecycleSettings {
    /// Checks the settings for a secret whose rotation is `rotation_enabled`; normalises
    /// the notice days (descending, no duplicates).
    pub fn validate(mut self, rotation_enabled: bool) -> Result<Self, SecretError> {
        if self.rotation_strategy == RotationStrategy::Automatic {
            if !rotation_enabled {
                return Err(SecretError::validation(
                    "rotationStrategy",
                    "AUTOMATIC needs rotationEnabled",
                ));
            }
            match self.rotation_handler.as_deref() {
                None => {
                    return Err(SecretError::validation(
                        "rotationHandler",
                        "is required for AUTOMATIC rotation",
                    ));
                }
                Some(h) => crate::name::validate_platform_id("rotationHandler", h)?,
            }
        } else if let Some(h) = self.rotation_handler.as_deref() {
            crate::name::validate_platform_id("rotationHandler", h)?;
        }
        if self.notify_before_days.len() > 10
            || self
                .notify_before_days
                .iter()
                .any(|d| !(1..=365).contains(d))
        {
            return Err(SecretError::validation(
                "notifyBeforeDays",
                "at most 10 entries, each between 1 and 365",
            ));
        }
        self.notify_before_days
            .sort_unstable_by_key(|d| std::cmp::Reverse(*d));
        self.notify_before_days.dedup();
        if self.notification_recipients.len() > 50
            || self
                .notification_recipients
                .iter()
                .any(|r| r.trim().is_empty() || r.chars().count() > 254)
        {
            return Err(SecretError::validation(
                "notificationRecipients",
                "at most 50, each 1 to 254 characters",
            ));
        }
        if self
            .version_retention
            .is_some_and(|n| !(1..=1000).contains(&n))
        {
            return Err(SecretError::validation(
                "versionRetention",
                "must be between 1 and 1000",
            ));
        }
        Ok(self)
    }

    /// The number of versions kept.
    pub fn retention(&self) -> u32 {
        self.version_retention.unwrap_or(DEFAULT_VERSION_RETENTION)
    }
}

/// A change to [`LifecycleSettings`]: each part kept unless given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LifecyclePatch {
    pub rotation_strategy: Option<RotationStrategy>,
    pub rotation_handler: FieldUpdate<String>,
    pub notify_before_days: Option<Vec<u32>>,
    pub notification_recipients: Option<Vec<String>>,
    pub version_retention: FieldUpdate<u32>,
}

impl LifecyclePatch {
    /// `current` with this patch applied (not yet validated).
    pub fn apply(self, current: LifecycleSettings) -> LifecycleSettings {
        LifecycleSettings {
            rotation_strategy: self.rotation_strategy.unwrap_or(current.rotation_strategy),
            rotation_handler: self.rotation_handler.apply(current.rotation_handler),
            notify_before_days: self
                .notify_before_days
                .unwrap_or(current.notify_before_days),
            notification_recipients: self
                .notification_recipients
                .unwrap_or(current.notification_recipients),
            version_retention: self.version_retention.apply(current.version_retention),
        }
    }
}

/// Who has been reading a secret's value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretUsageInfo {
    /// The last read of the value.
    pub last_used_at: Option<DateTime<Utc>>,
    /// Every module that has read it, by name.
    pub consumer_modules: Vec<String>,
}

impl SecretMetadata {
    /// Whether the secret is soft-deleted.
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }

    /// Whether the secret's expiry date has passed at `now`.
    pub fn is_expired_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// One entry of a secret's version history (no value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretVersionInfo {
    pub version: i64,
    pub is_active: bool,
    pub is_current: bool,
    pub change_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by_id: String,
}

/// A decrypted value with the identity of the version it came from.
#[derive(Debug)]
pub struct VersionedValue {
    pub id: SecretId,
    pub name: String,
    pub version: i64,
    pub value: SecretValue,
}

/// Where a secret belongs: its scope and the ids that scope needs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopeTarget {
    pub organization_id: Option<String>,
    pub team_id: Option<String>,
    pub project_id: Option<String>,
}

/// The parameters of creating a secret (§12.1 CreateSecretRequest).
#[derive(Debug)]
pub struct CreateSecretParams {
    pub name: String,
    pub description: Option<String>,
    pub secret_type: SecretType,
    pub value: SecretValue,
    pub scope: SecretScope,
    pub target: ScopeTarget,
    pub expires_at: Option<DateTime<Utc>>,
    pub rotation_enabled: bool,
    pub rotation_interval_days: Option<i32>,
    pub tags: Vec<String>,
    pub metadata: BTreeMap<String, String>,
    pub storage_backend: Option<StorageBackendKind>,
    /// The vault configuration to keep the value in; `None` picks the scope's default.
    pub vault_id: Option<VaultId>,
    pub lifecycle: LifecycleSettings,
}

impl CreateSecretParams {
    /// Parameters for a secret of `value`'s type with no description, expiry, rotation,
    /// tags or metadata, on the default backend; set the public fields for more.
    pub fn new(name: impl Into<String>, scope: SecretScope, value: SecretValue) -> Self {
        CreateSecretParams {
            name: name.into(),
            description: None,
            secret_type: value.secret_type(),
            value,
            scope,
            target: ScopeTarget::default(),
            expires_at: None,
            rotation_enabled: false,
            rotation_interval_days: None,
            tags: Vec::new(),
            metadata: BTreeMap::new(),
            storage_backend: None,
            vault_id: None,
            lifecycle: LifecycleSettings::default(),
        }
    }
}

/// A change to a field that may be cleared: keep it, set it, or clear it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum FieldUpdate<T> {
    /// Leave the field as it is.
    #[default]
    Keep,
    /// Set the field to a new value.
    Set(T),
    /// Clear the field.
    Clear,
}

impl<T> FieldUpdate<T> {
    /// The update for an optional JSON field where `null` clears and absence keeps.
    pub fn from_option_option(value: Option<Option<T>>) -> Self {
        match value {
            None => FieldUpdate::Keep,
            Some(None) => FieldUpdate::Clear,
            Some(Some(v)) => FieldUpdate::Set(v),
        }
    }

    /// Applies the update to the current value of the field.
    pub fn apply(self, current: Option<T>) -> Option<T> {
        match self {
            FieldUpdate::Keep => current,
            FieldUpdate::Set(v) => Some(v),
            FieldUpdate::Clear => None,
        }
    }
}

/// The parameters of updating a secret's metadata (§12.1 `PUT /api/secrets/:id`).
#[derive(Debug, Clone, Default)]
pub struct UpdateSecretParams {
    pub description: FieldUpdate<String>,
    pub expires_at: FieldUpdate<DateTime<Utc>>,
    pub rotation_enabled: Option<bool>,
    pub rotation_interval_days: FieldUpdate<i32>,
    pub tags: Option<Vec<String>>,
    pub metadata: Option<BTreeMap<String, String>>,
    /// Changes to the lifecycle settings; absent parts are kept.
    pub lifecycle: LifecyclePatch,
    /// When set, the update fails with VERSION_CONFLICT unless this is the current version.
    pub expected_version: Option<i64>,
}

/// The parameters of writing a new value (§12.1 UpdateSecretValueRequest).
#[derive(Debug)]
pub struct UpdateValueParams {
    pub value: SecretValue,
    pub change_reason: Option<String>,
    /// When set, the update fails with VERSION_CONFLICT unless this is the current version.
    pub expected_version: Option<i64>,
}

/// Filters and paging of a listing (§12.1 ListSecretsParams).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListSecretsParams {
    pub scope: Option<SecretScope>,
    #[serde(rename = "type")]
    pub secret_type: Option<SecretType>,
    /// Secrets carrying every one of these tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Case-insensitive substring of the name or description.
    pub search: Option<String>,
    #[serde(default)]
    pub include_deleted: bool,
    /// 1-based page number.
    pub page: Option<u64>,
    pub limit: Option<u64>,
}

impl ListSecretsParams {
    /// The page number and size after defaults and bounds (page ≥ 1, 1 ≤ limit ≤ 500,
    /// `(page - 1) x limit` ≤ 10^9).
    pub fn paging(&self) -> Result<(u64, u64), SecretError> {
        paging(self.page, self.limit)
    }
}

/// Checks a requested page and limit, with their defaults: `limit` from 1 to
/// [`MAX_PAGE_LIMIT`], `page` from 1 with `(page - 1) x limit` at most [`MAX_PAGE_OFFSET`]
/// (checked arithmetic, so no request number can overflow the offset).
pub fn paging(page: Option<u64>, limit: Option<u64>) -> Result<(u64, u64), SecretError> {
    let page = page.unwrap_or(1);
    if page == 0 {
        return Err(SecretError::validation("page", "pages are numbered from 1"));
    }
    let limit = limit.unwrap_or(DEFAULT_PAGE_LIMIT);
    if limit == 0 || limit > MAX_PAGE_LIMIT {
        return Err(SecretError::validation(
            "limit",
            format!("must be between 1 and {MAX_PAGE_LIMIT}"),
        ));
    }
    match (page - 1).checked_mul(limit) {
        Some(offset) if offset <= MAX_PAGE_OFFSET => Ok((page, limit)),
        _ => Err(SecretError::validation(
            "page",
            format!("is too large: (page - 1) x limit may be at most {MAX_PAGE_OFFSET}"),
        )),
    }
}

/// The number of items before `page` of `limit` items, saturating (callers bound both with
/// [`paging`] first).
pub fn page_offset(page: u64, limit: u64) -> u64 {
    page.saturating_sub(1).saturating_mul(limit)
}

/// Filters and paging of an audit query (§12.1 AuditLogsParams). Lists match any of
/// their entries; an empty list matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditLogsParams {
    pub secret_id: Option<String>,
    pub event_types: Vec<SecretAuditEventType>,
    pub actor_id: Option<String>,
    pub outcomes: Vec<AuditOutcome>,
    pub start_date: Option<DateTime<Utc>>,
    pub end_date: Option<DateTime<Utc>>,
    pub page: Option<u64>,
    pub limit: Option<u64>,
}

impl AuditLogsParams {
    /// The page and limit asked for, with their defaults, or VALIDATION_ERROR.
    pub fn paging(&self) -> Result<(u64, u64), SecretError> {
        if let (Some(start), Some(end)) = (self.start_date, self.end_date)
            && start > end
        {
            return Err(SecretError::validation(
                "startDate",
                "must not be after endDate",
            ));
        }
        paging(self.page, self.limit)
    }
}

/// A per-secret access grant to a user, a team or a role (part 1 `secret_access_grants`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessGrant {
    pub id: GrantId,
    pub secret_id: SecretId,
    pub grantee_type: GranteeType,
    pub grantee_id: String,
    pub can_read: bool,
    pub can_update: bool,
    pub can_delete: bool,
    pub can_grant: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub granted_at: DateTime<Utc>,
    pub granted_by_id: String,
}

impl AccessGrant {
    /// Whether the grant is still in force at `now`.
    pub fn is_active_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

/// The parameters of granting access (§12.1 GrantAccessRequest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantAccessParams {
    pub grantee_type: GranteeType,
    pub grantee_id: String,
    #[serde(default = "default_true")]
    pub can_read: bool,
    #[serde(default)]
    pub can_update: bool,
    #[serde(default)]
    pub can_delete: bool,
    #[serde(default)]
    pub can_grant: bool,
    pub expires_at: Option<DateTime<Utc>>,
}

fn default_true() -> bool {
    true
}

/// One page of a listing, with the total across all pages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: u64,
    pub limit: u64,
    pub total: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_defaults_and_bounds() {
        let p = ListSecretsParams::default();
        assert_eq!(p.paging().unwrap(), (1, 20));
        let p = ListSecretsParams {
            page: Some(0),
            ..Default::default()
        };
        assert!(p.paging().is_err());
        let p = ListSecretsParams {
            limit: Some(501),
            ..Default::default()
        };
        assert!(p.paging().is_err());
        assert_eq!(
            paging(Some(2_000_001), Some(500)).unwrap(),
            (2_000_001, 500)
        );
        for (page, limit, field) in [
            (Some(2_000_002), Some(500), "page"),
            (Some(u64::MAX), None, "page"),
            (Some(u64::MAX), Some(500), "page"),
            (None, Some(u64::MAX), "limit"),
        ] {
            match paging(page, limit) {
                Err(SecretError::Validation { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{page:?} {limit:?}: {other:?}"),
            }
        }
        assert_eq!(page_offset(u64::MAX, u64::MAX), u64::MAX);
    }

    #[test]
    fn field_update_applies() {
        assert_eq!(FieldUpdate::<i32>::Keep.apply(Some(1)), Some(1));
        assert_eq!(FieldUpdate::Set(2).apply(Some(1)), Some(2));
        assert_eq!(FieldUpdate::<i32>::Clear.apply(Some(1)), None);
        assert_eq!(
            FieldUpdate::from_option_option(Some(None::<i32>)),
            FieldUpdate::Clear
        );
    }
}
