//! Handlers of the vault configuration routes (§12.1): list, configure, read, change,
//! delete and health-check. Settings are write-only: answers carry their non-secret part.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use secret_core::model::FieldUpdate;
use secret_core::vault::{ConfigureVaultParams, RawConfig, UpdateVaultParams, VaultConfiguration};
use secret_core::{StorageBackendKind, VaultHealthStatus, VaultScope};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::dto::nullable;
use super::error::{ApiResult, ErrorResponse};
use super::extract::{Caller, JsonBody};
use super::schema::{StorageBackendSchema, VaultHealthSchema, VaultScopeSchema};

type State = web::Data<AppState>;

/// `POST /api/vaults` (§12.1 ConfigureVaultRequest).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ConfigureVaultRequest {
    #[schema(example = "bao-dev")]
    name: String,
    description: Option<String>,
    #[schema(value_type = StorageBackendSchema)]
    backend: StorageBackendKind,
    #[schema(value_type = VaultScopeSchema)]
    scope: VaultScope,
    /// Required for ORGANIZATION, refused for GLOBAL.
    organization_id: Option<String>,
    /// The backend's settings with their credentials (write-only). HASHICORP_VAULT:
    /// `{"address","namespace","mount","pathPrefix","timeoutSeconds","auth":{"method":
    /// "TOKEN"|"APPROLE"|"KUBERNETES",...}}`.
    #[schema(value_type = Object)]
    config: serde_json::Value,
    is_default: Option<bool>,
}

/// `PUT /api/vaults/{id}`: an absent field is kept; `config` replaces the settings whole.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct UpdateVaultRequest {
    name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    description: Option<Option<String>>,
    #[schema(value_type = Option<Object>)]
    config: Option<serde_json::Value>,
    is_active: Option<bool>,
    is_default: Option<bool>,
}

/// A vault configuration: never its credentials.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VaultResponse {
    id: String,
    name: String,
    description: Option<String>,
    #[schema(value_type = StorageBackendSchema)]
    backend: StorageBackendKind,
    #[schema(value_type = VaultScopeSchema)]
    scope: VaultScope,
    organization_id: Option<String>,
    /// The settings without credentials (address, namespace, mount, auth method, ...).
    #[schema(value_type = Object)]
    config: serde_json::Value,
    is_active: bool,
    is_default: bool,
    #[schema(value_type = VaultHealthSchema)]
    health_status: VaultHealthStatus,
    last_health_check: Option<DateTime<Utc>>,
    /// Secrets kept in this vault (soft-deleted ones included) that the caller may count.
    secret_count: u64,
    created_at: DateTime<Utc>,
    created_by_id: String,
    updated_at: DateTime<Utc>,
    updated_by_id: String,
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
#[derive(Serialize, ToSchema)]
pub(crate) struct VaultList {
    vaults: Vec<VaultResponse>,
}

/// The outcome of a health check: the configuration with its new status.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VaultHealthResponse {
    #[serde(flatten)]
    vault: VaultResponse,
    healthy: bool,
    /// What the check found.
    detail: String,
}

/// Lists the vault configurations the caller may see.
#[utoipa::path(get, path = "/api/vaults", tag = "vaults",
    responses(
        (status = 200, description = "The built-in `local` first, then by name", body = VaultList),
        (status = 401, description = "No or invalid token", body = ErrorResponse),
        (status = 403, description = "Not a super admin or organization admin", body = ErrorResponse),
    ),
    security(("bearer" = [])))]
pub(crate) async fn list_vaults(state: State, caller: Caller) -> ApiResult {
    let vaults = state
        .service
        .list_vaults(&caller.ctx)
        .await
        .map_err(|e| caller.error(e))?;
    Ok(HttpResponse::Ok().json(VaultList {
        vaults: vaults.into_iter().map(VaultResponse::from).collect(),
    }))
}

/// Configures a vault (GLOBAL: super admins; ORGANIZATION: that organization's admins).
#[utoipa::path(post, path = "/api/vaults", tag = "vaults",
    request_body = ConfigureVaultRequest,
    responses(
        (status = 201, description = "Configured", body = VaultResponse),
        (status = 400, description = "Invalid settings (the field is named)", body = ErrorResponse),
        (status = 401, description = "No or invalid token", body = ErrorResponse),
        (status = 403, description = "Not allowed to configure vaults of that scope", body = ErrorResponse),
        (status = 409, description = "The name is taken in that scope", body = ErrorResponse),
    ),
    security(("bearer" = [])))]
pub(crate) async fn configure_vault(
    state: State,
    caller: Caller,
    body: JsonBody<ConfigureVaultRequest>,
) -> ApiResult {
    let r = body.0;
    let params = ConfigureVaultParams {
        name: r.name,
        description: r.description,
        backend: r.backend,
        scope: r.scope,
        organization_id: r.organization_id,
        config: RawConfig(r.config),
        is_default: r.is_default.unwrap_or(false),
    };
    let v = state
        .service
        .configure_vault(params, &caller.ctx)
        .await
        .map_err(|e| caller.error(e))?;
    let location = format!("/api/vaults/{}", v.id);
    Ok(HttpResponse::build(StatusCode::CREATED)
        .insert_header((actix_web::http::header::LOCATION, location))
        .json(VaultResponse::from(v)))
}

/// One vault configuration.
#[utoipa::path(get, path = "/api/vaults/{id}", tag = "vaults",
    params(("id" = String, Path, description = "Vault configuration id (`local`: the built-in store)")),
    responses(
        (status = 200, description = "The configuration", body = VaultResponse),
        (status = 401, description = "No or invalid token", body = ErrorResponse),
        (status = 403, description = "Not a super admin or organization admin", body = ErrorResponse),
        (status = 404, description = "No such configuration visible to the caller", body = ErrorResponse),
    ),
    security(("bearer" = [])))]
pub(crate) async fn get_vault(state: State, caller: Caller, id: web::Path<String>) -> ApiResult {
    let v = state
        .service
        .get_vault(&id, &caller.ctx)
        .await
        .map_err(|e| caller.error(e))?;
    Ok(HttpResponse::Ok().json(VaultResponse::from(v)))
}

/// Changes a vault configuration; `config` replaces the settings whole, without it the
/// stored credentials are kept.
#[utoipa::path(put, path = "/api/vaults/{id}", tag = "vaults",
    params(("id" = String, Path, description = "Vault configuration id")),
    request_body = UpdateVaultRequest,
    responses(
        (status = 200, description = "Changed", body = VaultResponse),
        (status = 400, description = "Invalid change", body = ErrorResponse),
        (status = 401, description = "No or invalid token", body = ErrorResponse),
        (status = 403, description = "Not allowed to change it", body = ErrorResponse),
        (status = 404, description = "No such configuration visible to the caller", body = ErrorResponse),
        (status = 409, description = "The name is taken in that scope", body = ErrorResponse),
    ),
    security(("bearer" = [])))]
pub(crate) async fn update_vault(
    state: State,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<UpdateVaultRequest>,
) -> ApiResult {
    let r = body.0;
    let params = UpdateVaultParams {
        name: r.name,
        description: FieldUpdate::from_option_option(r.description),
        config: r.config.map(RawConfig),
        is_active: r.is_active,
        is_default: r.is_default,
    };
    let v = state
        .service
        .update_vault(&id, params, &caller.ctx)
        .await
        .map_err(|e| caller.error(e))?;
    Ok(HttpResponse::Ok().json(VaultResponse::from(v)))
}

/// Deletes a vault configuration that holds no secret.
#[utoipa::path(delete, path = "/api/vaults/{id}", tag = "vaults",
    params(("id" = String, Path, description = "Vault configuration id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No or invalid token", body = ErrorResponse),
        (status = 403, description = "Not allowed to delete it", body = ErrorResponse),
        (status = 404, description = "No such configuration visible to the caller", body = ErrorResponse),
        (status = 409, description = "The built-in vault, or one still holding secrets (the count is named)", body = ErrorResponse),
    ),
    security(("bearer" = [])))]
pub(crate) async fn delete_vault(state: State, caller: Caller, id: web::Path<String>) -> ApiResult {
    state
        .service
        .delete_vault(&id, &caller.ctx)
        .await
        .map_err(|e| caller.error(e))?;
    Ok(HttpResponse::NoContent().finish())
}

/// Checks that a vault answers and records its health.
#[utoipa::path(post, path = "/api/vaults/{id}/health", tag = "vaults",
    params(("id" = String, Path, description = "Vault configuration id")),
    responses(
        (status = 200, description = "Checked; `healthy` and `healthStatus` say how it went", body = VaultHealthResponse),
        (status = 401, description = "No or invalid token", body = ErrorResponse),
        (status = 403, description = "Not allowed to check it", body = ErrorResponse),
        (status = 404, description = "No such configuration visible to the caller", body = ErrorResponse),
    ),
    security(("bearer" = [])))]
pub(crate) async fn vault_health(state: State, caller: Caller, id: web::Path<String>) -> ApiResult {
    let report = state
        .service
        .check_vault_health(&id, &caller.ctx)
        .await
        .map_err(|e| caller.error(e))?;
    Ok(HttpResponse::Ok().json(VaultHealthResponse {
        vault: report.vault.into(),
        healthy: report.healthy,
        detail: report.detail,
    }))
}

/// Registers the vault routes.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    use super::resource;
    cfg.service(
        resource("/api/vaults")
            .route(web::get().to(list_vaults))
            .route(web::post().to(configure_vault)),
    )
    .service(
        resource("/api/vaults/{id}")
            .route(web::get().to(get_vault))
            .route(web::put().to(update_vault))
            .route(web::delete().to(delete_vault)),
    )
    .service(resource("/api/vaults/{id}/health").route(web::post().to(vault_health)));
}
