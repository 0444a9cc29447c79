//! Handlers of migrations between vault configurations (§11.3, §12.1):
//! `POST /api/secrets/migrate`, `GET /api/secrets/migrations/{id}` and its `pause` and
//! `resume`.

use actix_web::{HttpResponse, web};
use secret_core::wire::{MigrateRequest, MigrationPlan, MigrationStarted, MigrationStatus};

use super::AppState;
use super::error::{ApiResult, ErrorResponse};
use super::extract::{Caller, JsonBody};

type State = web::Data<AppState>;

/// Registers the migration routes (before `/api/secrets/{id}`).
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/api/secrets/migrate").route(web::post().to(migrate_secrets)))
        // Literal, so that it is never taken for a secret id (no listing yet: 405).
        .service(super::resource("/api/secrets/migrations"))
        .service(
            super::resource("/api/secrets/migrations/{id}").route(web::get().to(get_migration)),
        )
        .service(
            super::resource("/api/secrets/migrations/{id}/pause")
                .route(web::post().to(pause_migration)),
        )
        .service(
            super::resource("/api/secrets/migrations/{id}/resume")
                .route(web::post().to(resume_migration)),
        );
}

/// Starts a migration of secrets from one vault configuration to another (202 with its
/// id), or with `dryRun` answers its plan (200) and moves nothing.
#[utoipa::path(
    post, path = "/api/secrets/migrate", tag = "migration",
    request_body = MigrateRequest,
    responses(
        (status = 202, description = "Started; follow it at /api/secrets/migrations/{id}", body = MigrationStarted),
        (status = 200, description = "dryRun: the plan", body = MigrationPlan),
        (status = 400, description = "Invalid request", body = ErrorResponse),
        (status = 401, description = "No or invalid token", body = ErrorResponse),
        (status = 403, description = "Not a super admin or an admin of the organization", body = ErrorResponse),
        (status = 404, description = "A vault configuration the caller cannot see", body = ErrorResponse),
        (status = 503, description = "The target vault cannot be reached", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn migrate_secrets(
    state: State,
    caller: Caller,
    body: JsonBody<MigrateRequest>,
) -> ApiResult {
    let req = body.0;
    if req.dry_run {
        let plan = state
            .service
            .plan_migration(&req, &caller.ctx)
            .await
            .map_err(|e| caller.error(e))?;
        return Ok(HttpResponse::Ok().json(plan));
    }
    let id = state
        .service
        .start_migration(&req, &caller.ctx)
        .await
        .map_err(|e| caller.error(e))?;
    Ok(HttpResponse::Accepted()
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("/api/secrets/migrations/{id}"),
        ))
        .json(MigrationStarted { id }))
}

/// A migration's state, counts, errors and estimate.
#[utoipa::path(
    get, path = "/api/secrets/migrations/{id}", tag = "migration",
    params(("id" = String, Path, description = "The migration's id")),
    responses(
        (status = 200, description = "The migration", body = MigrationStatus),
        (status = 401, description = "No or invalid token", body = ErrorResponse),
        (status = 404, description = "No such migration visible to the caller", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn get_migration(
    state: State,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult {
    let status = state
        .service
        .migration(&path.into_inner(), &caller.ctx)
        .await
        .map_err(|e| caller.error(e))?;
    Ok(HttpResponse::Ok().json(status))
}

/// Pauses a running migration after the secret it is on.
#[utoipa::path(
    post, path = "/api/secrets/migrations/{id}/pause", tag = "migration",
    params(("id" = String, Path, description = "The migration's id")),
    responses(
        (status = 200, description = "Paused", body = MigrationStatus),
        (status = 404, description = "No such migration visible to the caller", body = ErrorResponse),
        (status = 409, description = "Not running", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn pause_migration(
    state: State,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult {
    let status = state
        .service
        .pause_migration(&path.into_inner(), &caller.ctx)
        .await
        .map_err(|e| caller.error(e))?;
    Ok(HttpResponse::Ok().json(status))
}

/// Resumes a paused migration where it stopped.
#[utoipa::path(
    post, path = "/api/secrets/migrations/{id}/resume", tag = "migration",
    params(("id" = String, Path, description = "The migration's id")),
    responses(
        (status = 200, description = "Running again", body = MigrationStatus),
        (status = 404, description = "No such migration visible to the caller", body = ErrorResponse),
        (status = 409, description = "Not paused", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn resume_migration(
    state: State,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult {
    let status = state
        .service
        .resume_migration(&path.into_inner(), &caller.ctx)
        .await
        .map_err(|e| caller.error(e))?;
    Ok(HttpResponse::Ok().json(status))
}
