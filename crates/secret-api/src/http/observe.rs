//! The middleware around every request: the request id (accepted or generated), a tracing
//! span carrying it, the metrics, and the headers every response gets (`X-Request-Id`,
//! `Cache-Control: no-store`, `X-Content-Type-Options: nosniff`).
//!
//! Only the method, the route pattern, the status and the latency are logged: never a path,
//! a query, a body or a header other than the request id.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};
use tracing::Instrument;
use tracing::field::Empty;

use super::AppState;
use super::extract::RequestId;
use super::metrics::UNMATCHED_ROUTE;

/// The header carrying the request id, in both directions.
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Wraps one request: see the module documentation.
pub(crate) async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let request_id = RequestId::accept_or_generate(req.headers().get(&REQUEST_ID));
    req.extensions_mut().insert(request_id.clone());
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.metrics.clone());
    let method = req.method().clone();
    let span = tracing::info_span!(
        "http_request",
        request_id = %request_id.0,
        method = %method,
        route = Empty,
        status = Empty,
        latency_ms = Empty,
    );
    // Known before routing from the route table, so that every line of the request has it.
    let early_route = req.match_pattern();
    if let Some(pattern) = &early_route {
        span.record("route", pattern.as_str());
    }
    let result = next.call(req).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let (route, status) = match &result {
        Ok(res) => (res.request().match_pattern(), res.status()),
        Err(err) => (None, err.as_response_error().status_code()),
    };
    let route = route.unwrap_or_else(|| UNMATCHED_ROUTE.to_owned());
    if let Some(metrics) = metrics {
        metrics.observe(&route, method.as_str(), status.as_u16(), elapsed);
    }
    if early_route.as_deref() != Some(route.as_str()) {
        span.record("route", route.as_str());
    }
    span.record("status", status.as_u16());
    span.record(
        "latency_ms",
        tracing::field::display(format_args!("{:.3}", elapsed.as_secs_f64() * 1000.0)),
    );
    span.in_scope(|| tracing::info!("request completed"));
    let mut res = result?;
    let headers = res.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&request_id.0) {
        headers.insert(REQUEST_ID, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(res)
}
