//! Bodies of the vault configuration routes (§12.1). Settings are write-only: responses
//! carry their non-secret part.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::nullable;
#[cfg(feature = "openapi")]
use super::schema::{StorageBackendSchema, VaultHealthSchema, VaultScopeSchema};
use crate::vault::VaultConfiguration;
use crate::{StorageBackendKind, VaultHealthStatus, VaultScope};

/// `POST /api/vaults` (§12.1 ConfigureVaultRequest).
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigureVaultRequest {
    #[cfg_attr(feature = "openapi", schema(example = "bao-dev"))]
    pub name: String,
    pub description: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = StorageBackendSchema))]
    pub backend: StorageBackendKind,
    #[cfg_attr(feature = "openapi", schema(value_type = VaultScopeSchema))]
    pub scope: VaultScope,
    /// Required for ORGANIZATION, refused for GLOBAL.
    pub organization_id: Option<String>,
    /// The backend's settings with their credentials (write-only). HASHICORP_VAULT:
    /// `{"address","namespace","mount","pathPrefix","timeoutSeconds","auth":{"method":
    /// "TOKEN"|"APPROLE"|"KUBERNETES",...}}`. AWS_SECRETS_MANAGER: `{"region",
    /// "endpointUrl","kmsKeyId","namePrefix","timeoutSeconds","recoveryWindowDays",
    /// "auth":{"method":"DEFAULT"|"ACCESS_KEY"|"ASSUME_ROLE",...}}`. AZURE_KEY_VAULT:
    /// `{"vaultUrl","namePrefix","timeoutSeconds","authorityHost","auth":{"method":
    /// "MANAGED_IDENTITY"|"SERVICE_PRINCIPAL"|"CERTIFICATE",...}}`. GCP_SECRET_MANAGER:
    /// `{"projectId","endpoint","namePrefix","timeoutSeconds","auth":{"method":"DEFAULT"|
    /// "KEY_FILE"|"KEY_JSON",...}}`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub config: serde_json::Value,
    pub is_default: Option<bool>,
}

/// `PUT /api/vaults/{id}`: an absent field is kept; `config` replaces the settings whole.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateVaultRequest {
    pub name: Option<String>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, nullable))]
    pub description: Option<Option<String>>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub config: Option<serde_json::Value>,
    pub is_active: Option<bool>,
    pub is_default: Option<bool>,
}

/// A vault configuration: never its credentials.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct VaultResponse {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: crate::ids::VaultId,
    pub name: String,
    pub description: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = StorageBackendSchema))]
    pub backend: StorageBackendKind,
    #[cfg_attr(feature = "openapi", schema(value_type = VaultScopeSchema))]
    pub scope: VaultScope,
    pub organization_id: Option<String>,
    /// The settings without credentials (address, namespace, mount, auth method, ...).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub config: serde_json::Value,
    pub is_active: bool,
    pub is_default: bool,
    #[cfg_attr(feature = "openapi", schema(value_type = VaultHealthSchema))]
    pub health_status: VaultHealthStatus,
    pub last_health_check: Option<DateTime<Utc>>,
    /// Secrets kept in this vault (soft-deleted ones included) that the caller may count.
    pub secret_count: u64,
    pub created_at: DateTime<Utc>,
    pub created_by_id: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by_id: String,
}

impl From<VaultConfiguration> for VaultResponse {
    fn from(v: VaultConfiguration) -> Self {
        VaultResponse {
            id: v.id,
            name: v.name,
            description: v.description,
            backend: v.backend,
            scope: v.scope,
            organization_id: v.organization_id,
            config: v.config,
            is_active: v.is_active,
            is_default: v.is_default,
            health_status: v.health_status,
            last_health_check: v.last_health_check,
            secret_count: v.secret_count,
            created_at: v.created_at,
            created_by_id: v.created_by_id,
            updated_at: v.updated_at,
            updated_by_id: v.updated_by_id,
        }
    }
}

/// The configurations the caller may see.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VaultList {
    pub vaults: Vec<VaultResponse>,
}

/// The outcome of a health check: the configuration with its new status.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct VaultHealthResponse {
    #[serde(flatten)]
    pub vault: VaultResponse,
    pub healthy: bool,
    /// What the check found.
    pub detail: String,
}
