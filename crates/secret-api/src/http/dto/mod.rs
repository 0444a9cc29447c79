//! Request and response bodies of the REST API (§12.1), in camelCase, with their OpenAPI
//! schemas, and their conversions to and from the core types. No response here carries a
//! value except [`ValueResponse`]; no request here derives `Debug`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use secret_core::model::{
    AccessGrant, CreateSecretParams, FieldUpdate, GrantAccessParams, LifecyclePatch,
    LifecycleSettings, Page, ScopeTarget, SecretMetadata, SecretVersionInfo, UpdateSecretParams,
    VersionedValue,
};
use secret_core::value::ParsedConnection;
use secret_core::{
    GranteeType, RotationStrategy, SecretScope, SecretType, SecretValue, StorageBackendKind,
    ValueFacts,
};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::schema::{
    GranteeTypeSchema, SecretScopeSchema, SecretTypeSchema, SecretValueSchema, StorageBackendSchema,
};

/// `null` as `Some(None)`, absence (with `#[serde(default)]`) as `None`.
pub(crate) fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    de: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(de).map(Some)
}

/// `POST /api/secrets`: a new secret with its first value (§12.1 CreateSecretRequest).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CreateSecretRequest {
    /// `^[a-zA-Z][a-zA-Z0-9_-]{0,254}$`, unique within the owner.
    #[schema(example = "OPENAI_API_KEY")]
    name: String,
    description: Option<String>,
    #[serde(rename = "type")]
    #[schema(value_type = SecretTypeSchema)]
    secret_type: SecretType,
    #[schema(value_type = SecretValueSchema)]
    value: SecretValue,
    #[schema(value_type = SecretScopeSchema)]
    scope: SecretScope,
    /// Defaults to the `X-Organization-Id` header where the scope needs one.
    organization_id: Option<String>,
    /// Defaults to the `X-Team-Id` header where the scope needs one.
    team_id: Option<String>,
    /// Defaults to the `X-Project-Id` header where the scope needs one.
    project_id: Option<String>,
    expires_at: Option<DateTime<Utc>>,
    rotation_enabled: Option<bool>,
    rotation_interval_days: Option<i32>,
    tags: Option<Vec<String>>,
    metadata: Option<BTreeMap<String, String>>,
    /// Picks the scope's default vault of this kind, else the only one of this kind the
    /// scope can use.
    #[schema(value_type = Option<StorageBackendSchema>)]
    storage_backend: Option<StorageBackendKind>,
    /// The vault configuration to keep the value in (`local` for the built-in store);
    /// without it and `storageBackend`, the organization's default, then the global one.
    vault_id: Option<String>,
    /// MANUAL (default), NOTIFY_ONLY or AUTOMATIC.
    #[schema(value_type = Option<String>)]
    rotation_strategy: Option<RotationStrategy>,
    /// The rotation handler AUTOMATIC rotation runs (`random`, `webhook`, ...).
    rotation_handler: Option<String>,
    /// Days before expiry at which notices go out (default 30, 14, 7, 1).
    notify_before_days: Option<Vec<u32>>,
    /// Who the secret's notifications name.
    notification_recipients: Option<Vec<String>>,
    /// Versions kept (default 10).
    version_retention: Option<u32>,
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
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct UpdateSecretRequest {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<DateTime<Utc>>, nullable)]
    expires_at: Option<Option<DateTime<Utc>>>,
    rotation_enabled: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i32>, nullable)]
    rotation_interval_days: Option<Option<i32>>,
    /// Replaces all tags; `null` removes them.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Vec<String>>, nullable)]
    tags: Option<Option<Vec<String>>>,
    /// Replaces all metadata; `null` removes it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<BTreeMap<String, String>>, nullable)]
    metadata: Option<Option<BTreeMap<String, String>>>,
    #[schema(value_type = Option<String>)]
    rotation_strategy: Option<RotationStrategy>,
    /// `null` removes the handler.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    rotation_handler: Option<Option<String>>,
    notify_before_days: Option<Vec<u32>>,
    notification_recipients: Option<Vec<String>>,
    /// `null` returns to the default of 10.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<u32>, nullable)]
    version_retention: Option<Option<u32>>,
}

impl UpdateSecretRequest {
    /// The service's parameters, with the `If-Match` version.
    pub(crate) fn into_params(self, expected_version: Option<i64>) -> UpdateSecretParams {
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
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct UpdateSecretValueRequest {
    #[schema(value_type = SecretValueSchema)]
    pub(crate) value: SecretValue,
    pub(crate) change_reason: Option<String>,
}

/// `POST /api/secrets/{id}/rotate`: the value to rotate to.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RotateSecretRequest {
    #[schema(value_type = SecretValueSchema)]
    pub(crate) new_value: SecretValue,
}

/// `POST /api/secrets/{id}/rollback`: the version whose value becomes current again.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RollbackRequest {
    #[schema(minimum = 1)]
    pub(crate) version: i64,
}

/// `POST /api/secrets/{id}/access`: a grant to a user, a team or a role.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct GrantAccessRequest {
    #[schema(value_type = GranteeTypeSchema)]
    grantee_type: GranteeType,
    grantee_id: String,
    /// Defaults to `true`.
    can_read: Option<bool>,
    can_update: Option<bool>,
    can_delete: Option<bool>,
    can_grant: Option<bool>,
    expires_at: Option<DateTime<Utc>>,
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
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConnectionFacts {
    host: Option<String>,
    port: Option<u16>,
    database: Option<String>,
    username: Option<String>,
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
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ValueFactsResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    certificate_subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    certificate_not_after: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ssh_fingerprint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    natural_expiry: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    connection: Option<ConnectionFacts>,
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
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SecretMetadataResponse {
    id: String,
    name: String,
    description: Option<String>,
    #[serde(rename = "type")]
    #[schema(value_type = SecretTypeSchema)]
    secret_type: SecretType,
    #[schema(value_type = SecretScopeSchema)]
    scope: SecretScope,
    organization_id: Option<String>,
    team_id: Option<String>,
    project_id: Option<String>,
    user_id: Option<String>,
    #[schema(value_type = StorageBackendSchema)]
    storage_backend: StorageBackendKind,
    /// The vault configuration keeping the value (`local`: the built-in store).
    vault_id: String,
    /// Also the `ETag` of the response.
    current_version: i64,
    expires_at: Option<DateTime<Utc>>,
    rotation_enabled: bool,
    rotation_interval_days: Option<i32>,
    last_rotated_at: Option<DateTime<Utc>>,
    next_rotation_at: Option<DateTime<Utc>>,
    tags: Vec<String>,
    metadata: BTreeMap<String, String>,
    facts: ValueFactsResponse,
    /// The masked display of the current value: an API key's last four characters, a
    /// certificate's subject, an env set's names, otherwise fully masked. `null` for a
    /// secret whose current version predates it.
    masked_value: Option<String>,
    deleted_at: Option<DateTime<Utc>>,
    deleted_by_id: Option<String>,
    recovery_deadline: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    created_by_id: String,
    updated_at: DateTime<Utc>,
    updated_by_id: String,
    /// ACTIVE, EXPIRED (past its expiry date) or DELETED (soft-deleted).
    status: &'static str,
    /// When the scheduler marked it expired.
    expired_at: Option<DateTime<Utc>>,
    #[schema(value_type = String)]
    rotation_strategy: RotationStrategy,
    rotation_handler: Option<String>,
    notify_before_days: Vec<u32>,
    notification_recipients: Vec<String>,
    /// Versions kept.
    version_retention: u32,
    /// Automatic rotations that failed in a row, and the last failure.
    rotation_failures: i32,
    last_rotation_error: Option<String>,
    /// When the value was last read and by which modules (single-secret responses only).
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<UsageResponse>,
}

/// Who has been reading a secret's value.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UsageResponse {
    last_used_at: Option<DateTime<Utc>>,
    consumer_modules: Vec<String>,
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
            },
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
#[derive(Serialize, ToSchema)]
pub(crate) struct ValueResponse {
    id: String,
    name: String,
    /// Also the `ETag` of the response.
    version: i64,
    #[schema(value_type = SecretValueSchema)]
    value: SecretValue,
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
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VersionResponse {
    version: i64,
    is_active: bool,
    is_current: bool,
    change_reason: Option<String>,
    created_at: DateTime<Utc>,
    created_by_id: String,
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
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GrantResponse {
    id: String,
    secret_id: String,
    #[schema(value_type = GranteeTypeSchema)]
    grantee_type: GranteeType,
    grantee_id: String,
    can_read: bool,
    can_update: bool,
    can_delete: bool,
    can_grant: bool,
    expires_at: Option<DateTime<Utc>>,
    granted_at: DateTime<Utc>,
    granted_by_id: String,
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

/// Declares a listing `{"items","page","limit","total"}` of one item type.
macro_rules! listing {
    ($(#[$meta:meta])* $name:ident, $item:ty) => {
        $(#[$meta])*
        #[derive(Serialize, ToSchema)]
        pub(crate) struct $name {
            items: Vec<$item>,
            /// 1-based page number.
            page: u64,
            limit: u64,
            /// Items across all pages.
            total: u64,
        }

        // Each listing uses one of the two constructors.
        #[allow(dead_code)]
        impl $name {
            /// A page of a paged listing.
            pub(crate) fn page<T: Into<$item>>(p: Page<T>) -> Self {
                $name {
                    items: p.items.into_iter().map(Into::into).collect(),
                    page: p.page,
                    limit: p.limit,
                    total: p.total,
                }
            }

            /// A listing that is never paged: everything on page 1.
            pub(crate) fn all<T: Into<$item>>(items: Vec<T>) -> Self {
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

mod audit;

pub(crate) use audit::{AuditList, AuditRecordResponse};

/// `GET /healthz`, `GET /readyz`.
#[derive(Serialize, ToSchema)]
pub(crate) struct HealthResponse {
    /// `ok`, or `unavailable` when a dependency cannot be reached.
    pub(crate) status: &'static str,
}
