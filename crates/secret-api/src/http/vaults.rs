//! Handlers of the vault configuration routes (§12.1): list, configure, read, change,
//! delete and health-check. Settings are write-only: answers carry their non-secret part.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use secret_core::VaultId;
use secret_core::model::FieldUpdate;
use secret_core::vault::{ConfigureVaultParams, RawConfig, UpdateVaultParams};
use secret_core::wire::{
    ConfigureVaultRequest, UpdateVaultRequest, VaultHealthResponse, VaultList, VaultResponse,
};

use super::AppState;
use super::error::{ApiResult, ErrorResponse};
use super::extract::{Caller, JsonBody};

type State = web::Data<AppState>;

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
pub(crate) async fn get_vault(state: State, caller: Caller, id: web::Path<VaultId>) -> ApiResult {
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
    id: web::Path<VaultId>,
    body: JsonBody<UpdateVaultRequest>,
) -> ApiResult {
    let r = body.0;
    let params = UpdateVaultParams {
        name: r.name,
        description: FieldUpdate::from_option_option(r.description),
        config: r.config.map(RawConfig),
        is_active: r.is_active,
        is_default: r.is_default,
        keep_blank_credentials: false,
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
pub(crate) async fn delete_vault(
    state: State,
    caller: Caller,
    id: web::Path<VaultId>,
) -> ApiResult {
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
pub(crate) async fn vault_health(
    state: State,
    caller: Caller,
    id: web::Path<VaultId>,
) -> ApiResult {
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
