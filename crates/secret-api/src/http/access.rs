//! Handlers of a secret's access grants (§12.1 ACCESS MANAGEMENT).

use actix_web::{HttpResponse, web};

use super::AppState;
use super::error::{ApiResult, ErrorResponse};
use super::extract::{Caller, JsonBody};
use secret_core::wire::{GrantAccessRequest, GrantList, GrantResponse};
use secret_core::{GrantId, SecretId};

/// The grants of a secret. Needs GRANT on it.
#[utoipa::path(
    get, path = "/api/secrets/{id}/access", tag = "access",
    params(("id" = String, Path, description = "Secret id")),
    responses(
        (status = 200, description = "The grants", body = GrantList),
        (status = 401, description = "No or invalid token", body = ErrorResponse),
        (status = 403, description = "No GRANT permission", body = ErrorResponse),
        (status = 404, description = "No such secret", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list_grants(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<SecretId>,
) -> ApiResult {
    let grants = state
        .service
        .list_access_grants(&id, &caller.ctx)
        .await
        .map_err(|e| caller.error(e))?;
    Ok(HttpResponse::Ok().json(GrantList::all(grants)))
}

/// Grants a user, team or role access, replacing an earlier grant to the same grantee. The
/// caller can pass on only permissions it holds.
#[utoipa::path(
    post, path = "/api/secrets/{id}/access", tag = "access",
    params(("id" = String, Path, description = "Secret id")),
    request_body = GrantAccessRequest,
    responses(
        (status = 201, description = "The grant", body = GrantResponse),
        (status = 400, description = "Invalid request", body = ErrorResponse),
        (status = 401, description = "No or invalid token", body = ErrorResponse),
        (status = 403, description = "No GRANT permission, or escalation", body = ErrorResponse),
        (status = 404, description = "No such secret", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn grant_access(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<SecretId>,
    body: JsonBody<GrantAccessRequest>,
) -> ApiResult {
    let grant = state
        .service
        .grant_access(&id, body.0.into(), &caller.ctx)
        .await
        .map_err(|e| caller.error(e))?;
    Ok(HttpResponse::Created().json(GrantResponse::from(grant)))
}

/// Revokes one grant of a secret. Needs GRANT on it.
#[utoipa::path(
    delete, path = "/api/secrets/{id}/access/{grantId}", tag = "access",
    params(
        ("id" = String, Path, description = "Secret id"),
        ("grantId" = String, Path, description = "Grant id"),
    ),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "No or invalid token", body = ErrorResponse),
        (status = 403, description = "No GRANT permission", body = ErrorResponse),
        (status = 404, description = "No such secret or grant", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn revoke_access(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(SecretId, GrantId)>,
) -> ApiResult {
    let (id, grant_id) = path.into_inner();
    state
        .service
        .revoke_access(&id, &grant_id, &caller.ctx)
        .await
        .map_err(|e| caller.error(e))?;
    Ok(HttpResponse::NoContent().finish())
}
