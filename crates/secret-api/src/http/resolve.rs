//! `POST /api/secrets/resolve` (§9.3): resolves a configuration's references in one
//! request, all or nothing.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use secret_core::SecretError;
use secret_core::wire::{ResolveRequest, ResolveResponse};

use super::AppState;
use super::error::{ApiResult, ErrorResponse};
use super::extract::{Caller, JsonBody};

/// Registers the route (before `/api/secrets/{id}`).
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/api/secrets/resolve").route(web::post().to(resolve)));
}

/// Resolves every `secret://` reference and SECRET_REF object among the variables; plain
/// strings come back unchanged.
#[utoipa::path(
    post, path = "/api/secrets/resolve", tag = "secrets",
    request_body = ResolveRequest,
    responses(
        (status = 200, description = "Every variable resolved", body = ResolveResponse),
        (status = 400, description = "A malformed variable name, reference or field; `details` names each key", body = ErrorResponse),
        (status = 401, description = "No or invalid token", body = ErrorResponse),
        (status = 403, description = "A secret the caller may see but not read; `details` names each key", body = ErrorResponse),
        (status = 404, description = "A secret that does not exist or is not visible; `details` names each key", body = ErrorResponse),
        (status = 410, description = "An expired secret; `details` names each key", body = ErrorResponse),
        (status = 429, description = "Rate limited (a resolution counts as one read)", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn resolve(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody<ResolveRequest>,
) -> ApiResult {
    let config = body.0.into_config().map_err(|e| caller.error(e))?;
    // The whole resolution is one read against the caller's limit, not one per secret.
    if let Err(retry_after_secs) = state.limiter.check(caller.ctx.user_id()) {
        return Err(caller.error(SecretError::RateLimited { retry_after_secs }));
    }
    let resolved = state
        .service
        .resolve(&config, &caller.ctx)
        .await
        .map_err(|e| caller.error(e))?;
    let mut variables: BTreeMap<String, String> = resolved
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().to_owned()))
        .collect();
    let response = ResolveResponse { variables };
    let body = zeroize::Zeroizing::new(
        serde_json::to_vec(&response)
            .map_err(|_| caller.error(SecretError::internal("a resolution did not serialize")))?,
    );
    variables = response.variables;
    for v in variables.values_mut() {
        zeroize::Zeroize::zeroize(v);
    }
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body.to_vec()))
}
