//! Operational endpoints (liveness, readiness, metrics, the OpenAPI document) and the
//! answers to paths and methods that match no route.

use actix_web::http::header::ContentType;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

use super::AppState;
use super::error::ApiError;
use super::extract::request_id_of;
use secret_core::wire::{ChangeFeedCheck, HealthResponse, ReadinessChecks};

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Alive", body = HealthResponse)))]
pub(crate) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(HealthResponse {
        status: "ok".to_string(),
        checks: None,
    })
}

/// Readiness: the database answers. `checks` (with `?detail`, and always when something is
/// wrong) says whether the database and the change feed are up.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready: `ok`, or `degraded` while the change feed is down", body = HealthResponse),
        (status = 503, description = "The database cannot be reached", body = HealthResponse),
    ))]
pub(crate) async fn readyz(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let database = state.service.ping().await;
    let feed = state.service.change_feed_status();
    let feed_check = ChangeFeedCheck {
        status: match (feed.following, feed.connected, feed.down_since) {
            (false, _, _) => "OFF",
            (true, true, _) => "CONNECTED",
            (true, false, None) => "CONNECTING",
            (true, false, Some(_)) => "DOWN",
        }
        .to_string(),
        down_since: feed.down_since.map(|t| t.to_rfc3339()),
        staleness_bound_seconds: feed.staleness_bound.as_secs(),
        message: feed.last_error,
    };
    let checks = |database: &str| ReadinessChecks {
        database: database.to_string(),
        change_feed: feed_check,
    };
    match database {
        // Healthy: the plain answer; the detail comes with `?detail` or when something is
        // wrong.
        Ok(()) if feed.down_since.is_none() => HttpResponse::Ok().json(HealthResponse {
            status: "ok".to_string(),
            checks: wants_detail(&req).then(|| checks("ok")),
        }),
        Ok(()) => HttpResponse::Ok().json(HealthResponse {
            status: "degraded".to_string(),
            checks: Some(checks("ok")),
        }),
        Err(err) => {
            tracing::warn!(
                request_id = %request_id_of(&req),
                error = %err,
                "readiness check failed: database unreachable"
            );
            HttpResponse::ServiceUnavailable().json(HealthResponse {
                status: "unavailable".to_string(),
                checks: Some(checks("unavailable")),
            })
        }
    }
}

fn wants_detail(req: &HttpRequest) -> bool {
    req.query_string()
        .split('&')
        .any(|p| p == "detail" || p.starts_with("detail="))
}

/// Prometheus metrics: request counts and latencies by route pattern, method and status.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain")))]
pub(crate) async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI 3 document", content_type = "application/json")))]
pub(crate) async fn openapi(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(ContentType::json())
        .body(state.openapi.clone())
}

/// 404 with the error envelope for a path that matches no route.
pub(crate) async fn route_not_found(req: HttpRequest) -> HttpResponse {
    ApiError::route_not_found(&request_id_of(&req)).error_response()
}

/// 405 with the error envelope for a method the route does not support.
pub(crate) async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    ApiError::method_not_allowed(&request_id_of(&req)).error_response()
}
