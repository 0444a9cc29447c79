//! Handlers of the secret, value, rotation and version routes (§12.1). Each parses the
//! request, calls [`SecretService`](crate::SecretService) and shapes the answer; answers that
//! carry one secret's metadata or value carry its version as `ETag`.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use secret_core::model::{SecretMetadata, UpdateValueParams, VersionedValue};
use secret_core::{SecretError, SecretId};

use super::AppState;
use super::error::{ApiResult, ErrorResponse};
use super::extract::{Caller, IfMatch, JsonBody, ListQuery};
use secret_core::wire::{
    CreateSecretRequest, RollbackRequest, RotateSecretRequest, SecretList, SecretMetadataResponse,
    UpdateSecretRequest, UpdateSecretValueRequest, ValueResponse, VersionList,
};

type State = web::Data<AppState>;

/// The `ETag` of a secret at `version`.
fn etag(version: i64) -> (header::HeaderName, String) {
    (header::ETAG, format!("\"{version}\""))
}

/// An answer carrying one secret's metadata, tagged with its current version.
fn metadata_response(status: StatusCode, meta: SecretMetadata) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(etag(meta.current_version))
        .json(SecretMetadataResponse::from(meta))
}

/// An answer carrying a value, tagged with the version it came from.
fn value_response(value: VersionedValue) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(etag(value.version))
        .json(ValueResponse::from(value))
}

/// Counts a read of secret `id`'s value against the caller's rate limit, before any other
/// work. A refused read is audited: the first of the caller's window in full, the rest of
/// the window as one summary record (see `refusals`), so a flood costs no lookup and no
/// audit insert per request.
async fn admit_value_read(state: &AppState, caller: &Caller, id: &SecretId) -> ApiResult<()> {
    let Err(retry_after_secs) = state.limiter.check(caller.ctx.user_id()) else {
        return Ok(());
    };
    let err = SecretError::RateLimited { retry_after_secs };
    let admission = state.refusals.refused(&caller.ctx, id);
    for summary in admission.flush {
        state.service.record_refusal_summary(summary).await;
    }
    let err = if admission.record {
        state
            .service
            .record_refused_read(id, err, &caller.ctx)
            .await
    } else {
        err
    };
    Err(caller.error(err))
}

/// Creates a secret with its first version.
#[utoipa::path(
    post, path = "/api/secrets", tag = "secrets",
    request_body = CreateSecretRequest,
    responses(
        (status = 201, description = "Created; `Location` names the secret", body = SecretMetadataResponse,
            headers(("ETag" = String, description = "The current version, quoted"), ("Location" = String))),
        (status = 400, description = "Invalid request", body = ErrorResponse),
        (status = 401, description = "No or invalid token", body = ErrorResponse),
        (status = 403, description = "Not allowed to create in that scope", body = ErrorResponse),
        (status = 409, description = "The name is taken in that scope", body = ErrorResponse),
        (status = 413, description = "Body too large", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn create_secret(
    state: State,
    caller: Caller,
    body: JsonBody<CreateSecretRequest>,
) -> ApiResult {
    let meta = state
        .service
        .create_secret(body.0.into(), &caller.ctx)
        .await
        .map_err(|e| caller.error(e))?;
    let location = format!("/api/secrets/{}", meta.id);
    let mut res = metadata_response(StatusCode::CREATED, meta);
    if let Ok(value) = header::HeaderValue::from_str(&location) {
        res.headers_mut().insert(header::LOCATION, value);
    }
    Ok(res)
}

/// Lists the secrets visible to the caller (metadata only), filtered and paged.
#[utoipa::path(
    get, path = "/api/secrets", tag = "secrets",
    params(
        ("scope" = Option<secret_core::wire::schema::SecretScopeSchema>, Query, description = "Only secrets of this scope"),
        ("type" = Option<secret_core::wire::schema::SecretTypeSchema>, Query, description = "Only secrets of this type"),
        ("tags" = Option<Vec<String>>, Query, description = "Secrets carrying every tag; repeat the parameter or separate with commas"),
        ("search" = Option<String>, Query, description = "Case-insensitive substring of the name or description"),
        ("includeDeleted" = Option<bool>, Query, description = "Include soft-deleted secrets"),
        ("page" = Option<u64>, Query, description = "1-based page number (default 1)"),
        ("limit" = Option<u64>, Query, description = "Page size, 1 to 500 (default 20); (page - 1) x limit at most 10^9"),
    ),
    responses(
        (status = 200, description = "A page of metadata", body = SecretList),
        (status = 400, description = "Invalid parameter", body = ErrorResponse),
        (status = 401, description = "No or invalid token", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list_secrets(state: State, caller: Caller, query: ListQuery) -> ApiResult {
    let page = state
        .service
        .list_secrets(&query.0, &caller.ctx)
        .await
        .map_err(|e| caller.error(e))?;
    Ok(HttpResponse::Ok().json(SecretList::page(page)))
}

/// A secret's metadata, never its value. Soft-deleted secrets are returned with `deletedAt`.
#[utoipa::path(
    get, path = "/api/secrets/{id}", tag = "secrets",
    params(("id" = String, Path, description = "Secret id")),
    responses(
        (status = 200, description = "The metadata", body = SecretMetadataResponse,
            headers(("ETag" = String, description = "The current version, quoted"))),
        (status = 401, description = "No or invalid token", body = ErrorResponse),
        (status = 404, description = "No such secret, or not visible to the caller", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn get_metadata(
    state: State,
    caller: Caller,
    id: web::Path<SecretId>,
) -> ApiResult {
    let meta = state
        .service
        .get_metadata(&id, &caller.ctx)
        .await
        .map_err(|e| caller.error(e))?;
    Ok(metadata_response(StatusCode::OK, meta))
}

/// Updates a secret's metadata: absent fields are kept, `null` clears.
#[utoipa::path(
    put, path = "/api/secrets/{id}", tag = "secrets",
    params(
        ("id" = String, Path, description = "Secret id"),
        ("If-Match" = Option<String>, Header, description = "The expected current version, e.g. \"3\"; * skips the check"),
    ),
    request_body = UpdateSecretRequest,
    responses(
        (status = 200, description = "The updated metadata", body = SecretMetadataResponse,
            headers(("ETag" = String, description = "The current version, quoted"))),
        (status = 400, description = "Invalid request", body = ErrorResponse),
        (status = 401, description = "No or invalid token", body = ErrorResponse),
        (status = 403, description = "Not allowed", body = ErrorResponse),
        (status = 404, description = "No such secret", body = ErrorResponse),
        (status = 409, description = "VERSION_CONFLICT: If-Match is stale", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn update_secret(
    state: State,
    caller: Caller,
    id: web::Path<SecretId>,
    if_match: IfMatch,
    body: JsonBody<UpdateSecretRequest>,
) -> ApiResult {
    let meta = state
        .service
        .update_secret(&id, body.0.into_params(if_match.0), &caller.ctx)
        .await
        .map_err(|e| caller.error(e))?;
    Ok(metadata_response(StatusCode::OK, meta))
}

/// Soft-deletes a secret; it can be restored for 30 days.
#[utoipa::path(
    delete, path = "/api/secrets/{id}", tag = "secrets",
    params(
        ("id" = String, Path, description = "Secret id"),
        ("If-Match" = Option<String>, Header, description = "The expected current version"),
    ),
    responses(
        (status = 200, description = "The metadata, with `deletedAt` and `recoveryDeadline`", body = SecretMetadataResponse),
        (status = 401, description = "No or invalid token", body = ErrorResponse),
        (status = 403, description = "Not allowed", body = ErrorResponse),
        (status = 404, description = "No such secret", body = ErrorResponse),
        (status = 409, description = "VERSION_CONFLICT", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn delete_secret(
    state: State,
    caller: Caller,
    id: web::Path<SecretId>,
    if_match: IfMatch,
) -> ApiResult {
    let meta = state
        .service
        .delete_secret(&id, if_match.0, &caller.ctx)
        .await
        .map_err(|e| caller.error(e))?;
    Ok(metadata_response(StatusCode::OK, meta))
}

/// The current value of a secret. Rate-limited per user.
#[utoipa::path(
    get, path = "/api/secrets/{id}/value", tag = "secrets",
    params(("id" = String, Path, description = "Secret id")),
    responses(
        (status = 200, description = "The value", body = ValueResponse,
            headers(("ETag" = String, description = "The version returned, quoted"))),
        (status = 401, description = "No or invalid token", body = ErrorResponse),
        (status = 403, description = "No READ permission", body = ErrorResponse),
        (status = 404, description = "No such secret, or soft-deleted", body = ErrorResponse),
        (status = 410, description = "SECRET_EXPIRED", body = ErrorResponse),
        (status = 429, description = "RATE_LIMITED", body = ErrorResponse,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn get_value(state: State, caller: Caller, id: web::Path<SecretId>) -> ApiResult {
    admit_value_read(&state, &caller, &id).await?;
    let value = state
        .service
        .get_secret_value(&id, &caller.ctx)
        .await
        .map_err(|e| caller.error(e))?;
    Ok(value_response(value))
}

/// Writes a new value as a new version.
#[utoipa::path(
    put, path = "/api/secrets/{id}/value", tag = "secrets",
    params(
        ("id" = String, Path, description = "Secret id"),
        ("If-Match" = Option<String>, Header, description = "The expected current version"),
    ),
    request_body = UpdateSecretValueRequest,
    responses(
        (status = 200, description = "The metadata of the new version", body = SecretMetadataResponse,
            headers(("ETag" = String, description = "The current version, quoted"))),
        (status = 400, description = "Invalid value or wrong type", body = ErrorResponse),
        (status = 401, description = "No or invalid token", body = ErrorResponse),
        (status = 403, description = "Not allowed", body = ErrorResponse),
        (status = 404, description = "No such secret", body = ErrorResponse),
        (status = 409, description = "VERSION_CONFLICT", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn update_value(
    state: State,
    caller: Caller,
    id: web::Path<SecretId>,
    if_match: IfMatch,
    body: JsonBody<UpdateSecretValueRequest>,
) -> ApiResult {
    let body = body.0;
    let params = UpdateValueParams {
        value: body.value,
        change_reason: body.change_reason,
        expected_version: if_match.0,
    };
    let meta = state
        .service
        .update_secret_value(&id, params, &caller.ctx)
        .await
        .map_err(|e| caller.error(e))?;
    Ok(metadata_response(StatusCode::OK, meta))
}

/// Restores a soft-deleted secret within its recovery period.
#[utoipa::path(
    post, path = "/api/secrets/{id}/restore", tag = "secrets",
    params(("id" = String, Path, description = "Secret id")),
    responses(
        (status = 200, description = "The restored metadata", body = SecretMetadataResponse),
        (status = 401, description = "No or invalid token", body = ErrorResponse),
        (status = 403, description = "Not allowed", body = ErrorResponse),
        (status = 404, description = "No such secret", body = ErrorResponse),
        (status = 409, description = "Not soft-deleted, or past its recovery deadline", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn restore_secret(
    state: State,
    caller: Caller,
    id: web::Path<SecretId>,
) -> ApiResult {
    let meta = state
        .service
        .restore_secret(&id, &caller.ctx)
        .await
        .map_err(|e| caller.error(e))?;
    Ok(metadata_response(StatusCode::OK, meta))
}

/// Deletes a soft-deleted secret for good. Needs an authentication under five minutes old.
#[utoipa::path(
    delete, path = "/api/secrets/{id}/permanent", tag = "secrets",
    params(
        ("id" = String, Path, description = "Secret id"),
        ("If-Match" = Option<String>, Header, description = "The expected current version"),
    ),
    responses(
        (status = 204, description = "Deleted with every version and grant"),
        (status = 401, description = "UNAUTHENTICATED, or REAUTHENTICATION_REQUIRED when the token's authTime is over 5 minutes old", body = ErrorResponse),
        (status = 403, description = "Not allowed", body = ErrorResponse),
        (status = 404, description = "No such secret", body = ErrorResponse),
        (status = 409, description = "CONFLICT: not soft-deleted first; VERSION_CONFLICT", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn permanently_delete_secret(
    state: State,
    caller: Caller,
    id: web::Path<SecretId>,
    if_match: IfMatch,
) -> ApiResult {
    if let Some(expected) = if_match.0 {
        // The service takes no expected version here: a soft-deleted secret cannot gain
        // versions, so checking just before the delete is as strong as checking inside it.
        let current = state
            .service
            .get_metadata(&id, &caller.ctx)
            .await
            .map_err(|e| caller.error(e))?
            .current_version;
        if current != expected {
            return Err(caller.error(SecretError::VersionConflict { expected, current }));
        }
    }
    state
        .service
        .permanently_delete_secret(&id, &caller.ctx)
        .await
        .map_err(|e| caller.error(e))?;
    Ok(HttpResponse::NoContent().finish())
}

/// Rotates a secret to a new value: a new version, `lastRotatedAt` = now.
#[utoipa::path(
    post, path = "/api/secrets/{id}/rotate", tag = "versions",
    params(
        ("id" = String, Path, description = "Secret id"),
        ("If-Match" = Option<String>, Header, description = "The expected current version"),
    ),
    request_body = RotateSecretRequest,
    responses(
        (status = 200, description = "The metadata after rotation", body = SecretMetadataResponse,
            headers(("ETag" = String, description = "The current version, quoted"))),
        (status = 400, description = "Invalid value or wrong type", body = ErrorResponse),
        (status = 401, description = "No or invalid token", body = ErrorResponse),
        (status = 403, description = "Not allowed", body = ErrorResponse),
        (status = 404, description = "No such secret", body = ErrorResponse),
        (status = 409, description = "VERSION_CONFLICT", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn rotate_secret(
    state: State,
    caller: Caller,
    id: web::Path<SecretId>,
    if_match: IfMatch,
    body: JsonBody<RotateSecretRequest>,
) -> ApiResult {
    let meta = state
        .service
        .rotate_secret(&id, body.0.new_value, if_match.0, &caller.ctx)
        .await
        .map_err(|e| caller.error(e))?;
    Ok(metadata_response(StatusCode::OK, meta))
}

/// A secret's version history, newest first (no values).
#[utoipa::path(
    get, path = "/api/secrets/{id}/versions", tag = "versions",
    params(("id" = String, Path, description = "Secret id")),
    responses(
        (status = 200, description = "The versions", body = VersionList),
        (status = 401, description = "No or invalid token", body = ErrorResponse),
        (status = 404, description = "No such secret", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list_versions(
    state: State,
    caller: Caller,
    id: web::Path<SecretId>,
) -> ApiResult {
    let versions = state
        .service
        .list_versions(&id, &caller.ctx)
        .await
        .map_err(|e| caller.error(e))?;
    Ok(HttpResponse::Ok().json(VersionList::all(versions)))
}

/// The value of one version of a secret. Rate-limited per user.
#[utoipa::path(
    get, path = "/api/secrets/{id}/versions/{version}", tag = "versions",
    params(
        ("id" = String, Path, description = "Secret id"),
        ("version" = i64, Path, description = "Version number, from 1"),
    ),
    responses(
        (status = 200, description = "The value of that version", body = ValueResponse,
            headers(("ETag" = String, description = "The version returned, quoted"))),
        (status = 400, description = "Invalid version number", body = ErrorResponse),
        (status = 401, description = "No or invalid token", body = ErrorResponse),
        (status = 403, description = "No READ permission", body = ErrorResponse),
        (status = 404, description = "No such secret or version", body = ErrorResponse),
        (status = 410, description = "SECRET_EXPIRED", body = ErrorResponse),
        (status = 429, description = "RATE_LIMITED", body = ErrorResponse,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn get_version_value(
    state: State,
    caller: Caller,
    path: web::Path<(SecretId, String)>,
) -> ApiResult {
    let (id, version) = path.into_inner();
    let version = version
        .parse::<i64>()
        .ok()
        .filter(|v| *v >= 1)
        .ok_or_else(|| {
            caller.error(SecretError::validation(
                "version",
                "must be a positive integer",
            ))
        })?;
    admit_value_read(&state, &caller, &id).await?;
    let value = state
        .service
        .get_secret_version(&id, version, &caller.ctx)
        .await
        .map_err(|e| caller.error(e))?;
    Ok(value_response(value))
}

/// Makes an earlier version's value current again, as a new version.
#[utoipa::path(
    post, path = "/api/secrets/{id}/rollback", tag = "versions",
    params(
        ("id" = String, Path, description = "Secret id"),
        ("If-Match" = Option<String>, Header, description = "The expected current version"),
    ),
    request_body = RollbackRequest,
    responses(
        (status = 200, description = "The metadata after rollback", body = SecretMetadataResponse,
            headers(("ETag" = String, description = "The current version, quoted"))),
        (status = 400, description = "Invalid version", body = ErrorResponse),
        (status = 401, description = "No or invalid token", body = ErrorResponse),
        (status = 403, description = "Not allowed", body = ErrorResponse),
        (status = 404, description = "No such secret or version", body = ErrorResponse),
        (status = 409, description = "VERSION_CONFLICT", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn rollback_secret(
    state: State,
    caller: Caller,
    id: web::Path<SecretId>,
    if_match: IfMatch,
    body: JsonBody<RollbackRequest>,
) -> ApiResult {
    let meta = state
        .service
        .rollback_secret(&id, body.0.version, if_match.0, &caller.ctx)
        .await
        .map_err(|e| caller.error(e))?;
    Ok(metadata_response(StatusCode::OK, meta))
}
