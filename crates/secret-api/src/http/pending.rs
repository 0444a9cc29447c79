//! Routes reserved for features that later issues build (migration). They are registered before the `/api/secrets/{id}` routes so that no
//! secret id captures them, require authentication like every `/api` route, and answer 501
//! NOT_IMPLEMENTED with the error envelope until they are built.

use actix_web::web;

use super::error::{ApiError, ApiResult, ErrorResponse};
use super::extract::Caller;

fn pending(feature: &str, caller: &Caller) -> ApiResult {
    Err(ApiError::not_implemented(feature, &caller.request_id))
}

/// Registers the reserved routes; each answers every method.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/secrets/migrate").to(migrate_secrets));
}

/// Migration between backends (not implemented yet).
#[utoipa::path(post, path = "/api/secrets/migrate", tag = "reserved",
    responses((status = 501, description = "NOT_IMPLEMENTED", body = ErrorResponse)),
    security(("bearer" = [])))]
pub(crate) async fn migrate_secrets(caller: Caller) -> ApiResult {
    pending("migration between backends", &caller)
}
