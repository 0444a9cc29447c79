//! Handlers of the audit trail and the compliance report (§12.1 AUDIT). Super admins read
//! every record, organization admins their organizations' records, nobody else any.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use secret_core::model::AuditLogsParams;
use secret_core::{AuditOutcome, SecretAuditEventType, SecretError};

use super::AppState;
use super::error::{ApiResult, ErrorResponse};
use super::extract::{Caller, enum_error, positive};
use secret_core::wire::{AuditList, AuditRecordResponse};

/// Registers the audit routes; called before the `/api/secrets/{id}` routes.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/api/secrets/audit").route(web::get().to(audit_logs)))
        .service(super::resource("/api/secrets/audit/{id}").route(web::get().to(audit_log)))
        .service(
            super::resource("/api/secrets/compliance/report")
                .route(web::get().to(compliance_report)),
        );
}

const AUDIT_PARAMS: &str = "secretId, eventType, actorId, outcome, startDate, endDate, page, limit";
const REPORT_PARAMS: &str = "startDate, endDate, format, organizationId";

/// A date-time in RFC 3339, or a date (`YYYY-MM-DD`): the start of that day (UTC), or its
/// last microsecond when `end_of_day`.
fn parse_time(field: &str, value: &str, end_of_day: bool) -> Result<DateTime<Utc>, SecretError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| {
        SecretError::validation(field, "must be an RFC 3339 date-time or a YYYY-MM-DD date")
    })?;
    let time = if end_of_day {
        NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999)
    } else {
        Some(NaiveTime::MIN)
    };
    let time = time.ok_or_else(|| SecretError::validation(field, "is not a valid date"))?;
    Ok(day.and_time(time).and_utc())
}

/// Each comma-separated entry of `value`, parsed.
fn parse_list<T: std::str::FromStr + Copy>(
    field: &str,
    value: &str,
    all: &[T],
    name: fn(T) -> &'static str,
) -> Result<Vec<T>, SecretError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse::<T>()
                .map_err(|_| enum_error(field, all.iter().map(|t| name(*t))))
        })
        .collect()
}

/// Parses `GET /api/secrets/audit`'s query: `eventType` and `outcome` may repeat and may
/// be comma-separated.
pub(crate) fn parse_audit_query(query: &str) -> Result<AuditLogsParams, SecretError> {
    let mut p = AuditLogsParams::default();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "secretId" => p.secret_id = Some(value.into_owned()),
            "eventType" | "eventType[]" => p.event_types.extend(parse_list(
                "eventType",
                &value,
                SecretAuditEventType::ALL,
                SecretAuditEventType::as_str,
            )?),
            "actorId" => p.actor_id = Some(value.into_owned()),
            "outcome" | "outcome[]" => p.outcomes.extend(parse_list(
                "outcome",
                &value,
                AuditOutcome::ALL,
                AuditOutcome::as_str,
            )?),
            "startDate" => p.start_date = Some(parse_time("startDate", &value, false)?),
            "endDate" => p.end_date = Some(parse_time("endDate", &value, true)?),
            "page" => p.page = Some(positive("page", &value)?),
            "limit" => p.limit = Some(positive("limit", &value)?),
            _ => {
                return Err(SecretError::validation(
                    "query",
                    format!("unknown parameter; accepted: {AUDIT_PARAMS}"),
                ));
            }
        }
    }
    Ok(p)
}

/// Audit records, newest first, filtered and paged in SQL.
#[utoipa::path(
    get, path = "/api/secrets/audit", tag = "audit",
    params(
        ("secretId" = Option<String>, Query, description = "Only this secret's records"),
        ("eventType" = Option<Vec<String>>, Query, description = "Event types (repeat or comma-separate)"),
        ("actorId" = Option<String>, Query, description = "Only this actor's records"),
        ("outcome" = Option<Vec<String>>, Query, description = "SUCCESS, FAILURE, DENIED (repeat or comma-separate)"),
        ("startDate" = Option<String>, Query, description = "From this time (RFC 3339) or day (YYYY-MM-DD)"),
        ("endDate" = Option<String>, Query, description = "Up to this time, or the end of this day"),
        ("page" = Option<u64>, Query, description = "From 1"),
        ("limit" = Option<u64>, Query, description = "1 to 500, default 20; (page - 1) x limit at most 10^9"),
    ),
    responses(
        (status = 200, description = "A page of records", body = AuditList),
        (status = 400, description = "Invalid query", body = ErrorResponse),
        (status = 401, description = "No or invalid token", body = ErrorResponse),
        (status = 403, description = "Not a super admin or organization admin", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn audit_logs(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
) -> ApiResult {
    let params = parse_audit_query(req.query_string()).map_err(|e| caller.error(e))?;
    let page = state
        .service
        .list_audit_logs(&params, &caller.ctx)
        .await
        .map_err(|e| caller.error(e))?;
    Ok(HttpResponse::Ok().json(AuditList::page(page)))
}

/// One audit record.
#[utoipa::path(
    get, path = "/api/secrets/audit/{id}", tag = "audit",
    params(("id" = String, Path, description = "Audit record id")),
    responses(
        (status = 200, description = "The record", body = AuditRecordResponse),
        (status = 401, description = "No or invalid token", body = ErrorResponse),
        (status = 403, description = "Not a super admin or organization admin", body = ErrorResponse),
        (status = 404, description = "No such record the caller may read", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn audit_log(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult {
    let record = state
        .service
        .get_audit_log(&id, &caller.ctx)
        .await
        .map_err(|e| caller.error(e))?;
    Ok(HttpResponse::Ok().json(AuditRecordResponse::from(record)))
}

/// The compliance report's query.
struct ReportQuery {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    pdf: bool,
    organization_id: Option<String>,
}

fn parse_report_query(query: &str) -> Result<ReportQuery, SecretError> {
    let (mut start, mut end, mut pdf, mut org) = (None, None, false, None);
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "startDate" => start = Some(parse_time("startDate", &value, false)?),
            "endDate" => end = Some(parse_time("endDate", &value, true)?),
            "format" => {
                pdf = match value.as_ref() {
                    "json" => false,
                    "pdf" => true,
                    _ => return Err(SecretError::validation("format", "must be json or pdf")),
                }
            }
            "organizationId" => org = Some(value.into_owned()),
            _ => {
                return Err(SecretError::validation(
                    "query",
                    format!("unknown parameter; accepted: {REPORT_PARAMS}"),
                ));
            }
        }
    }
    Ok(ReportQuery {
        start: start.ok_or_else(|| SecretError::validation("startDate", "is required"))?,
        end: end.ok_or_else(|| SecretError::validation("endDate", "is required"))?,
        pdf,
        organization_id: org,
    })
}

/// The compliance report (§10.2) over a period, as JSON or PDF.
#[utoipa::path(
    get, path = "/api/secrets/compliance/report", tag = "audit",
    params(
        ("startDate" = String, Query, description = "Period start (RFC 3339 or YYYY-MM-DD)"),
        ("endDate" = String, Query, description = "Period end (RFC 3339, or the end of that day)"),
        ("format" = Option<String>, Query, description = "json (default) or pdf"),
        ("organizationId" = Option<String>, Query, description = "The organization; super admins may leave it out for all, an admin of one organization too"),
    ),
    responses(
        (status = 200, description = "The report: JSON {generatedAt, period, organizationId, summary, accessReport, findings}, or application/pdf"),
        (status = 400, description = "Invalid query", body = ErrorResponse),
        (status = 401, description = "No or invalid token", body = ErrorResponse),
        (status = 403, description = "Not an admin of that organization", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn compliance_report(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
) -> ApiResult {
    let q = parse_report_query(req.query_string()).map_err(|e| caller.error(e))?;
    let report = state
        .service
        .compliance_report(q.organization_id.as_deref(), q.start, q.end, &caller.ctx)
        .await
        .map_err(|e| caller.error(e))?;
    if !q.pdf {
        return Ok(HttpResponse::Ok().json(report));
    }
    let pdf = web::block(move || secret_audit::pdf::render_pdf(&report))
        .await
        .map_err(|e| caller.error(SecretError::internal(e)))?;
    Ok(HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"compliance-report.pdf\"",
        ))
        .body(pdf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_query_reads_lists_dates_and_paging() {
        let p = parse_audit_query(
            "eventType=SECRET_READ,ACCESS_DENIED&eventType=SECRET_CREATED&outcome=DENIED\
             &startDate=2026-01-01&endDate=2026-01-31T12:00:00Z&page=2&limit=5&actorId=u",
        )
        .unwrap();
        assert_eq!(
            p.event_types,
            vec![
                SecretAuditEventType::SecretRead,
                SecretAuditEventType::AccessDenied,
                SecretAuditEventType::SecretCreated
            ]
        );
        assert_eq!(p.outcomes, vec![AuditOutcome::Denied]);
        assert_eq!(
            p.start_date.unwrap().to_rfc3339(),
            "2026-01-01T00:00:00+00:00"
        );
        assert_eq!(
            p.end_date.unwrap().to_rfc3339(),
            "2026-01-31T12:00:00+00:00"
        );
        assert_eq!(
            (p.page, p.limit, p.actor_id.as_deref()),
            (Some(2), Some(5), Some("u"))
        );
        let end = parse_time("endDate", "2026-01-31", true).unwrap();
        assert_eq!(end.to_rfc3339(), "2026-01-31T23:59:59.999999+00:00");
    }

    #[test]
    fn bad_audit_queries_name_the_field() {
        for (q, field) in [
            ("eventType=NOPE", "eventType"),
            ("outcome=MAYBE", "outcome"),
            ("startDate=yesterday", "startDate"),
            ("page=x", "page"),
            ("verbose=1", "query"),
        ] {
            match parse_audit_query(q) {
                Err(SecretError::Validation { field: f, .. }) => assert_eq!(f, field, "{q}"),
                other => panic!("{q}: {other:?}"),
            }
        }
        assert!(parse_report_query("endDate=2026-01-01").is_err());
        assert!(parse_report_query("startDate=2026-01-01&endDate=2026-02-01&format=xml").is_err());
    }
}
