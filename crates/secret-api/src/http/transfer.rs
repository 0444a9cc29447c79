//! Handlers of import and export (§12.1, §11): `POST /api/secrets/import/env`,
//! `POST /api/secrets/import/json` and `GET /api/secrets/export`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use secret_core::model::ScopeTarget;
use secret_core::transfer::ExportParams;
use secret_core::wire::{ExportDocument, ImportEnvRequest, ImportJsonRequest, ImportResult};
use secret_core::{SecretError, SecretScope};

use super::AppState;
use super::error::{ApiResult, ErrorResponse};
use super::extract::{BodyLimit, Caller, JsonBody, enum_error};

type State = web::Data<AppState>;

/// The body limit of the import routes: a whole `.env` file or JSON document (a
/// 10,000-line file is well under a megabyte), still bounded.
pub const IMPORT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Registers the import and export routes (before `/api/secrets/{id}`); the import
/// routes take bodies up to [`IMPORT_MAX_BODY_BYTES`] (or the server's limit if larger).
pub(crate) fn routes(cfg: &mut web::ServiceConfig, max_body_bytes: usize) {
    let limit = BodyLimit(IMPORT_MAX_BODY_BYTES.max(max_body_bytes));
    cfg.service(
        super::resource("/api/secrets/import/env")
            .app_data(limit)
            .app_data(web::PayloadConfig::new(limit.0))
            .route(web::post().to(import_env)),
    )
    .service(
        super::resource("/api/secrets/import/json")
            .app_data(limit)
            .app_data(web::PayloadConfig::new(limit.0))
            .route(web::post().to(import_json)),
    )
    .service(super::resource("/api/secrets/export").route(web::get().to(export_secrets)));
}

/// Imports a `.env` file into one scope.
#[utoipa::path(
    post, path = "/api/secrets/import/env", tag = "import-export",
    request_body = ImportEnvRequest,
    responses(
        (status = 200, description = "What was imported, skipped and refused, per item", body = ImportResult),
        (status = 400, description = "Invalid request (the items' own errors are in the result)", body = ErrorResponse),
        (status = 401, description = "No or invalid token", body = ErrorResponse),
        (status = 403, description = "Not a super admin or an admin of the organization", body = ErrorResponse),
        (status = 413, description = "Body over 16 MiB", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn import_env(
    state: State,
    caller: Caller,
    body: JsonBody<ImportEnvRequest>,
) -> ApiResult {
    let (content, options) = body.0.into_parts();
    // The file's text holds every value: wiped when the import is done.
    let content = zeroize::Zeroizing::new(content);
    let report = state
        .service
        .import_env(&content, options, &caller.ctx)
        .await
        .map_err(|e| caller.error(e))?;
    Ok(HttpResponse::Ok().json(report))
}

/// Imports typed secrets (e.g. an export's `secrets` array) into one scope.
#[utoipa::path(
    post, path = "/api/secrets/import/json", tag = "import-export",
    request_body = ImportJsonRequest,
    responses(
        (status = 200, description = "What was imported, skipped and refused, per item", body = ImportResult),
        (status = 400, description = "Invalid request (the items' own errors are in the result)", body = ErrorResponse),
        (status = 401, description = "No or invalid token", body = ErrorResponse),
        (status = 403, description = "Not a super admin or an admin of the organization", body = ErrorResponse),
        (status = 413, description = "Body over 16 MiB", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn import_json(
    state: State,
    caller: Caller,
    body: JsonBody<ImportJsonRequest>,
) -> ApiResult {
    let (items, options) = body.0.into_parts();
    let report = state
        .service
        .import_secrets(items, options, &caller.ctx)
        .await
        .map_err(|e| caller.error(e))?;
    Ok(HttpResponse::Ok().json(report))
}

/// The formats of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Env,
}

/// Parses `GET /api/secrets/export`'s query.
fn parse_export_query(query: &str) -> Result<(Format, ExportParams), SecretError> {
    let mut format = Format::Json;
    let mut params = ExportParams {
        scope: None,
        target: ScopeTarget::default(),
        include_values: false,
    };
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "format" => {
                format = match value.as_ref() {
                    "json" => Format::Json,
                    "env" => Format::Env,
                    _ => return Err(SecretError::validation("format", "must be json or env")),
                }
            }
            "scope" => {
                params.scope = Some(value.parse::<SecretScope>().map_err(|_| {
                    enum_error("scope", SecretScope::ALL.iter().map(|s| s.as_str()))
                })?)
            }
            "organizationId" => params.target.organization_id = Some(value.into_owned()),
            "teamId" => params.target.team_id = Some(value.into_owned()),
            "projectId" => params.target.project_id = Some(value.into_owned()),
            "includeValues" => {
                params.include_values = match value.as_ref() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => {
                        return Err(SecretError::validation(
                            "includeValues",
                            "must be true or false",
                        ));
                    }
                }
            }
            _ => {
                return Err(SecretError::validation(
                    "query",
                    "unknown parameter (accepted: format, scope, organizationId, teamId, \
                     projectId, includeValues)",
                ));
            }
        }
    }
    Ok((format, params))
}

/// Exports a scope's secrets as JSON or as a `.env` file.
#[utoipa::path(
    get, path = "/api/secrets/export", tag = "import-export",
    params(
        ("format" = Option<String>, Query, description = "json (default) or env (values always)"),
        ("scope" = Option<secret_core::wire::schema::SecretScopeSchema>, Query, description = "Only secrets of this scope"),
        ("organizationId" = Option<String>, Query, description = "The organization (default: X-Organization-Id)"),
        ("teamId" = Option<String>, Query, description = "Only secrets of this team"),
        ("projectId" = Option<String>, Query, description = "Only secrets of this project"),
        ("includeValues" = Option<bool>, Query, description = "Values too: needs an authentication under 5 minutes old; each is an audited read"),
    ),
    responses(
        (status = 200, description = "The export: JSON, or text/plain for format=env", body = ExportDocument),
        (status = 400, description = "Invalid query", body = ErrorResponse),
        (status = 401, description = "No or invalid token, or REAUTHENTICATION_REQUIRED for values with an authTime over 5 minutes old", body = ErrorResponse),
        (status = 403, description = "Not a super admin or an admin of the organization", body = ErrorResponse),
        (status = 429, description = "Rate limited (an export with values counts as one read)", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn export_secrets(state: State, caller: Caller, req: HttpRequest) -> ApiResult {
    let (format, params) = parse_export_query(req.query_string()).map_err(|e| caller.error(e))?;
    if format == Format::Env || params.include_values {
        // The whole export is one read against the caller's limit, not one per value.
        if let Err(retry_after_secs) = state.limiter.check(caller.ctx.user_id()) {
            return Err(caller.error(SecretError::RateLimited { retry_after_secs }));
        }
    }
    match format {
        Format::Json => {
            let doc = state
                .service
                .export_secrets(&params, &caller.ctx)
                .await
                .map_err(|e| caller.error(e))?;
            Ok(HttpResponse::Ok().json(doc))
        }
        Format::Env => {
            let text = state
                .service
                .export_env(&params, &caller.ctx)
                .await
                .map_err(|e| caller.error(e))?;
            Ok(HttpResponse::Ok()
                .content_type("text/plain; charset=utf-8")
                .insert_header((
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"secrets.env\"",
                ))
                .body(text))
        }
    }
}
