//! Bodies of the secret routes (§12.1): requests with their conversions to the service's
//! parameters, responses with their conversions from the core types. No response here
//! carries a value except [`ValueResponse`]; no request here derives `Debug`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::nullable;
#[cfg(feature = "openapi")]
use super::schema::{
    GranteeTypeSchema, SecretScopeSchema, SecretTypeSchema, SecretValueSchema, StorageBackendSchema,
};
use crate::ids::{GrantId, SecretId, VaultId};
use crate::model::{
    AccessGrant, CreateSecretParams, FieldUpdate, GrantAccessParams, LifecyclePatch,
    LifecycleSettings, Page, ScopeTarget, SecretMetadata, SecretVersionInfo, UpdateSecretParams,
    VersionedValue,
};
use crate::value::ParsedConnection;
use crate::{
    GranteeType, RotationStrategy, SecretScope, SecretType, SecretValue, StorageBackendKind,
    ValueFacts,
};

/// `POST /api/secrets`: a new secret with its first value (§12.1 CreateSecretRequest).
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSecretRequest {
    /// `^[a-zA-Z][a-zA-Z0-9_-]{0,254}$`, unique within the owner.
    #[cfg_attr(feature = "openapi", schema(example = "OPENAI_API_KEY"))]
    pub name: String,
    pub description: Option<String>,
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schema(value_type = SecretTypeSchema))]
    pub secret_type: SecretType,
    #[cfg_attr(feature = "openapi", schema(value_type = SecretValueSchema))]
    pub value: SecretValue,
    #[cfg_attr(feature = "openapi", schema(value_type = SecretScopeSchema))]
    pub scope: SecretScope,
    /// Defaults to the `X-Organization-Id` header where the scope needs one.
    pub organization_id: Option<String>,
    /// Defaults to the `X-Team-Id` header where the scope needs one.
    pub team_id: Option<String>,
    /// Defaults to the `X-Project-Id` header where the scope needs one.
    pub project_id: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub rotation_enabled: Option<bool>,
    pub rotation_interval_days: Option<i32>,
    pub tags: Option<Vec<String>>,
    pub metadata: Option<BTreeMap<String, String>>,
    /// Picks the scope's default vault of this kind, else the only one of this kind the
    /// scope can use.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<StorageBackendSchema>))]
    pub storage_backend: Option<StorageBackendKind>,
    /// The vault configuration to keep the value in (`local` for the built-in store);
    /// without it and `storageBackend`, the organization's default, then the global one.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub vault_id: Option<VaultId>,
    /// MANUAL (default), NOTIFY_ONLY or AUTOMATIC.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub rotation_strategy: Option<RotationStrategy>,
    /// The rotation handler AUTOMATIC rotation runs (`random`, `webhook`, ...).
    pub rotation_handler: Option<String>,
    /// Days before expiry at which notices go out (default 30, 14, 7, 1).
    pub notify_before_days: Option<Vec<u32>>,
    /// Who the secret's notifications name.
    pub notification_recipients: Option<Vec<String>>,
    /// Versions kept (default 10).
    pub version_retention: Option<u32>,
}

impl From<CreateSecretRequest> for CreateSecretParams {
    fn from(r: CreateSecretRequest) -> Self {
        CreateSecretParams {
            name: r.name,
            description: r.description,
            secret_type: r.secret_type,
            value: r.value,
            scope: r.scope,
            target: ScopeTarget {
                organization_id: r.organization_id,
                team_id: r.team_id,
                project_id: r.project_id,
            },
            expires_at: r.expires_at,
            rotation_enabled: r.rotation_enabled.unwrap_or(false),
            rotation_interval_days: r.rotation_interval_days,
            tags: r.tags.unwrap_or_default(),
            metadata: r.metadata.unwrap_or_default(),
            storage_backend: r.storage_backend,
            vault_id: r.vault_id,
            lifecycle: LifecyclePatch {
                rotation_strategy: r.rotation_strategy,
                rotation_handler: r
                    .rotation_handler
                    .map_or(FieldUpdate::Keep, FieldUpdate::Set),
                notify_before_days: r.notify_before_days,
                notification_recipients: r.notification_recipients,
                version_retention: r
                    .version_retention
                    .map_or(FieldUpdate::Keep, FieldUpdate::Set),
            }
            .apply(LifecycleSettings::default()),
        }
    }
}

/// `PUT /api/secrets/{id}`: metadata changes. An absent field is kept; `null` clears it.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateSecretRequest {
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, nullable))]
    pub description: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<DateTime<Utc>>, nullable))]
    pub expires_at: Option<Option<DateTime<Utc>>>,
    pub rotation_enabled: Option<bool>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i32>, nullable))]
    pub rotation_interval_days: Option<Option<i32>>,
    /// Replaces all tags; `null` removes them.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<String>>, nullable))]
    pub tags: Option<Option<Vec<String>>>,
    /// Replaces all metadata; `null` removes it.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<BTreeMap<String, String>>, nullable))]
    pub metadata: Option<Option<BTreeMap<String, String>>>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub rotation_strategy: Option<RotationStrategy>,
    /// `null` removes the handler.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, nullable))]
    pub rotation_handler: Option<Option<String>>,
    pub notify_before_days: Option<Vec<u32>>,
    pub notification_recipients: Option<Vec<String>>,
    /// `null` returns to the default of 10.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u32>, nullable))]
    pub version_retention: Option<Option<u32>>,
}

impl UpdateSecretRequest {
    /// The service's parameters, with the `If-Match` version.
    pub fn into_params(self, expected_version: Option<i64>) -> UpdateSecretParams {
        UpdateSecretParams {
            description: FieldUpdate::from_option_option(self.description),
            expires_at: FieldUpdate::from_option_option(self.expires_at),
            rotation_enabled: self.rotation_enabled,
            rotation_interval_days: FieldUpdate::from_option_option(self.rotation_interval_days),
            tags: self.tags.map(Option::unwrap_or_default),
            metadata: self.metadata.map(Option::unwrap_or_default),
            lifecycle: LifecyclePatch {
                rotation_strategy: self.rotation_strategy,
                rotation_handler: FieldUpdate::from_option_option(self.rotation_handler),
                notify_before_days: self.notify_before_days,
                notification_recipients: self.notification_recipients,
                version_retention: FieldUpdate::from_option_option(self.version_retention),
            },
            expected_version,
        }
    }
}

/// `PUT /api/secrets/{id}/value`: a new value, stored as a new version.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateSecretValueRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = SecretValueSchema))]
    pub value: SecretValue,
    pub change_reason: Option<String>,
}

/// `POST /api/secrets/{id}/rotate`: the value to rotate to.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RotateSecretRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = SecretValueSchema))]
    pub new_value: SecretValue,
}

/// `POST /api/secrets/{id}/rollback`: the version whose value becomes current again.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RollbackRequest {
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub version: i64,
}

/// `POST /api/secrets/{id}/access`: a grant to a user, a team or a role.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrantAccessRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = GranteeTypeSchema))]
    pub grantee_type: GranteeType,
    pub grantee_id: String,
    /// Defaults to `true`.
    pub can_read: Option<bool>,
    pub can_update: Option<bool>,
    pub can_delete: Option<bool>,
    pub can_grant: Option<bool>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<GrantAccessRequest> for GrantAccessParams {
    fn from(r: GrantAccessRequest) -> Self {
        GrantAccessParams {
            grantee_type: r.grantee_type,
            grantee_id: r.grantee_id,
            can_read: r.can_read.unwrap_or(true),
            can_update: r.can_update.unwrap_or(false),
            can_delete: r.can_delete.unwrap_or(false),
            can_grant: r.can_grant.unwrap_or(false),
            expires_at: r.expires_at,
        }
    }
}

/// A connection string's parts, never its password.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ConnectionFacts {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub database: Option<String>,
    pub username: Option<String>,
}

impl From<ParsedConnection> for ConnectionFacts {
    fn from(c: ParsedConnection) -> Self {
        ConnectionFacts {
            host: c.host,
            port: c.port,
            database: c.database,
            username: c.username,
        }
    }
}

/// Non-secret facts derived from the current value.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ValueFactsResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_not_after: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_fingerprint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub natural_expiry: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection: Option<ConnectionFacts>,
}

impl From<ValueFacts> for ValueFactsResponse {
    /// Drops the masked display: it can show characters of the value.
    fn from(f: ValueFacts) -> Self {
        ValueFactsResponse {
            certificate_subject: f.certificate_subject,
            certificate_not_after: f.certificate_not_after,
            ssh_fingerprint: f.ssh_fingerprint,
            natural_expiry: f.natural_expiry,
            connection: f.connection.map(ConnectionFacts::from),
        }
    }
}

/// A secret's metadata: everything about it except its value.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SecretMetadataResponse {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: SecretId,
    pub name: String,
    pub description: Option<String>,
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schema(value_type = SecretTypeSchema))]
    pub secret_type: SecretType,
    #[cfg_attr(feature = "openapi", schema(value_type = SecretScopeSchema))]
    pub scope: SecretScope,
    pub organization_id: Option<String>,
    pub team_id: Option<String>,
    pub project_id: Option<String>,
    pub user_id: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = StorageBackendSchema))]
    pub storage_backend: StorageBackendKind,
    /// The vault configuration keeping the value (`local`: the built-in store).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub vault_id: VaultId,
    /// Also the `ETag` of the response.
    pub current_version: i64,
    pub expires_at: Option<DateTime<Utc>>,
    pub rotation_enabled: bool,
    pub rotation_interval_days: Option<i32>,
    pub last_rotated_at: Option<DateTime<Utc>>,
    pub next_rotation_at: Option<DateTime<Utc>>,
    pub tags: Vec<String>,
    pub metadata: BTreeMap<String, String>,
    pub facts: ValueFactsResponse,
    /// The masked display of the current value: an API key's last four characters, a
    /// certificate's subject, an env set's names, otherwise fully masked. `null` for a
    /// secret whose current version predates it.
    pub masked_value: Option<String>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub deleted_by_id: Option<String>,
    pub recovery_deadline: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub created_by_id: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by_id: String,
    /// ACTIVE, EXPIRED (past its expiry date) or DELETED (soft-deleted).
    pub status: String,
    /// When the scheduler marked it expired.
    pub expired_at: Option<DateTime<Utc>>,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub rotation_strategy: RotationStrategy,
    pub rotation_handler: Option<String>,
    pub notify_before_days: Vec<u32>,
    pub notification_recipients: Vec<String>,
    /// Versions kept.
    pub version_retention: u32,
    /// Automatic rotations that failed in a row, and the last failure.
    pub rotation_failures: i32,
    pub last_rotation_error: Option<String>,
    /// When the value was last read and by which modules (single-secret responses only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageResponse>,
}

/// Who has been reading a secret's value.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UsageResponse {
    pub last_used_at: Option<DateTime<Utc>>,
    pub consumer_modules: Vec<String>,
}

impl From<SecretMetadata> for SecretMetadataResponse {
    fn from(m: SecretMetadata) -> Self {
        SecretMetadataResponse {
            id: m.id,
            name: m.name,
            description: m.description,
            secret_type: m.secret_type,
            scope: m.scope,
            organization_id: m.organization_id,
            team_id: m.team_id,
            project_id: m.project_id,
            user_id: m.user_id,
            storage_backend: m.storage_backend,
            vault_id: m.vault_id,
            current_version: m.current_version,
            expires_at: m.expires_at,
            rotation_enabled: m.rotation_enabled,
            rotation_interval_days: m.rotation_interval_days,
            last_rotated_at: m.last_rotated_at,
            next_rotation_at: m.next_rotation_at,
            tags: m.tags,
            metadata: m.metadata,
            facts: m.facts.into(),
            masked_value: m.masked_value,
            deleted_at: m.deleted_at,
            deleted_by_id: m.deleted_by_id,
            recovery_deadline: m.recovery_deadline,
            created_at: m.created_at,
            created_by_id: m.created_by_id,
            updated_at: m.updated_at,
            updated_by_id: m.updated_by_id,
            status: if m.deleted_at.is_some() {
                "DELETED"
            } else if m.expired_at.is_some() || m.expires_at.is_some_and(|at| at <= Utc::now()) {
                "EXPIRED"
            } else {
                "ACTIVE"
            }
            .to_string(),
            expired_at: m.expired_at,
            version_retention: m.lifecycle.retention(),
            rotation_strategy: m.lifecycle.rotation_strategy,
            rotation_handler: m.lifecycle.rotation_handler,
            notify_before_days: m.lifecycle.notify_before_days,
            notification_recipients: m.lifecycle.notification_recipients,
            rotation_failures: m.rotation_failures,
            last_rotation_error: m.last_rotation_error,
            usage: m.usage.map(|u| UsageResponse {
                last_used_at: u.last_used_at,
                consumer_modules: u.consumer_modules,
            }),
        }
    }
}

/// A decrypted value with the secret's id, name and the version it came from.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ValueResponse {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: SecretId,
    pub name: String,
    /// Also the `ETag` of the response.
    pub version: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = SecretValueSchema))]
    pub value: SecretValue,
}

impl From<VersionedValue> for ValueResponse {
    fn from(v: VersionedValue) -> Self {
        ValueResponse {
            id: v.id,
            name: v.name,
            version: v.version,
            value: v.value,
        }
    }
}

/// One entry of a secret's version history (no value).
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct VersionResponse {
    pub version: i64,
    pub is_active: bool,
    pub is_current: bool,
    pub change_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by_id: String,
}

impl From<SecretVersionInfo> for VersionResponse {
    fn from(v: SecretVersionInfo) -> Self {
        VersionResponse {
            version: v.version,
            is_active: v.is_active,
            is_current: v.is_current,
            change_reason: v.change_reason,
            created_at: v.created_at,
            created_by_id: v.created_by_id,
        }
    }
}

/// An access grant on a secret.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct GrantResponse {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: GrantId,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub secret_id: SecretId,
    #[cfg_attr(feature = "openapi", schema(value_type = GranteeTypeSchema))]
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

impl From<AccessGrant> for GrantResponse {
    fn from(g: AccessGrant) -> Self {
        GrantResponse {
            id: g.id,
            secret_id: g.secret_id,
            grantee_type: g.grantee_type,
            grantee_id: g.grantee_id,
            can_read: g.can_read,
            can_update: g.can_update,
            can_delete: g.can_delete,
            can_grant: g.can_grant,
            expires_at: g.expires_at,
            granted_at: g.granted_at,
            granted_by_id: g.granted_by_id,
        }
    }
}

listing!(
    /// A page of secrets' metadata.
    SecretList,
    SecretMetadataResponse
);
listing!(
    /// A secret's version history, newest first (one page).
    VersionList,
    VersionResponse
);
listing!(
    /// A secret's access grants (one page).
    GrantList,
    GrantResponse
);
