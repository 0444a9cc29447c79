//! The audit log viewer: the records the caller may read (§12.1's filters: secret, event
//! type, actor, outcome, period), newest first and paged, and one record in full with its
//! place in the chain. Records are already redacted; nothing here can show a value.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use secret_core::model::AuditLogsParams;
use secret_core::{AuditOutcome, SecretAuditEventType};
use serde::Deserialize;

use super::super::AppState;
use super::pages::{Choice, enc, error_page, non_empty, title};
use super::{UiSession, page};

/// Records per page.
const PAGE_SIZE: u64 = 50;

#[derive(Deserialize)]
pub(crate) struct AuditQuery {
    #[serde(rename = "secretId")]
    secret_id: Option<String>,
    #[serde(rename = "eventType")]
    event_type: Option<String>,
    #[serde(rename = "actorId")]
    actor_id: Option<String>,
    outcome: Option<String>,
    from: Option<String>,
    to: Option<String>,
    page: Option<u64>,
}

/// One record as a row of the table.
pub(crate) struct Row {
    pub(crate) id: String,
    pub(crate) time: String,
    pub(crate) event: String,
    pub(crate) action: String,
    pub(crate) outcome: String,
    pub(crate) actor: String,
    pub(crate) secret: String,
    pub(crate) module: String,
}

#[derive(Template)]
#[template(path = "ui/audit.html")]
pub(crate) struct AuditPage<'a> {
    pub(crate) user: &'a str,
    pub(crate) csrf: &'a str,
    pub(crate) admin: bool,
    pub(crate) events: Vec<Choice>,
    pub(crate) outcomes: Vec<Choice>,
    pub(crate) secret_id: String,
    pub(crate) actor_id: String,
    pub(crate) from: String,
    pub(crate) to: String,
    /// The filters as a query string, for the page links.
    pub(crate) query: String,
    pub(crate) rows: Vec<Row>,
    pub(crate) page: u64,
    pub(crate) pages: u64,
    pub(crate) total: u64,
}

/// A `YYYY-MM-DD` as the start of that day (UTC), or the end of it when `end`.
fn day(
    field: &str,
    s: &str,
    end: bool,
) -> Result<chrono::DateTime<chrono::Utc>, secret_core::SecretError> {
    let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| secret_core::SecretError::validation(field, "must be a date (YYYY-MM-DD)"))?;
    let t = if end {
        d.and_hms_opt(23, 59, 59)
    } else {
        d.and_hms_opt(0, 0, 0)
    };
    Ok(t.unwrap_or_default().and_utc())
}

/// `GET /ui/audit`.
pub(crate) async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<AuditQuery>,
) -> HttpResponse {
    let session = or_answer!(UiSession::of(&req));
    let event = non_empty(q.event_type.as_deref())
        .map(str::to_string)
        .and_then(|e| e.parse::<SecretAuditEventType>().ok());
    let outcome = non_empty(q.outcome.as_deref())
        .map(str::to_string)
        .and_then(|o| o.parse::<AuditOutcome>().ok());
    let (from, to) = (
        non_empty(q.from.as_deref()).map(str::to_string),
        non_empty(q.to.as_deref()).map(str::to_string),
    );
    let start = match from.as_deref().map(|f| day("from", f, false)).transpose() {
        Ok(t) => t,
        Err(e) => return error_page(e),
    };
    let end = match to.as_deref().map(|t| day("to", t, true)).transpose() {
        Ok(t) => t,
        Err(e) => return error_page(e),
    };
    let params = AuditLogsParams {
        secret_id: non_empty(q.secret_id.as_deref()).map(str::to_string),
        event_types: event.into_iter().collect(),
        actor_id: non_empty(q.actor_id.as_deref()).map(str::to_string),
        outcomes: outcome.into_iter().collect(),
        start_date: start,
        end_date: end,
        page: Some(q.page.unwrap_or(1).max(1)),
        limit: Some(PAGE_SIZE),
    };
    let found = match state.service.list_audit_logs(&params, &session.ctx).await {
        Ok(f) => f,
        Err(e) => return error_page(e),
    };
    let mut query = Vec::new();
    for (k, v) in [
        ("secretId", params.secret_id.clone()),
        ("eventType", event.map(|e| e.as_str().to_string())),
        ("actorId", params.actor_id.clone()),
        ("outcome", outcome.map(|o| o.as_str().to_string())),
        ("from", from.clone()),
        ("to", to.clone()),
    ] {
        if let Some(v) = v {
            query.push(format!("{k}={}", enc(&v)));
        }
    }
    let rows = found
        .items
        .iter()
        .map(|r| {
            let e = &r.entry;
            Row {
                id: e.id.clone(),
                time: e.timestamp.format("%Y-%m-%d %H:%M:%S").to_string(),
                event: e.event_type.as_str().to_string(),
                action: e.action.clone(),
                outcome: e.outcome.as_str().to_string(),
                actor: e.actor_id.clone(),
                secret: e.secret_name.clone().unwrap_or_default(),
                module: e.consumer_module.clone().unwrap_or_default(),
            }
        })
        .collect();
    let html = AuditPage {
        user: session.user(),
        csrf: &session.csrf,
        admin: session.may_audit(),
        events: SecretAuditEventType::ALL
            .iter()
            .map(|t| Choice {
                value: t.as_str().to_string(),
                label: title(t.as_str()),
                selected: Some(*t) == event,
            })
            .collect(),
        outcomes: AuditOutcome::ALL
            .iter()
            .map(|o| Choice {
                value: o.as_str().to_string(),
                label: title(o.as_str()),
                selected: Some(*o) == outcome,
            })
            .collect(),
        secret_id: params.secret_id.clone().unwrap_or_default(),
        actor_id: params.actor_id.clone().unwrap_or_default(),
        from: from.unwrap_or_default(),
        to: to.unwrap_or_default(),
        query: query.join("&"),
        rows,
        page: params.page.unwrap_or(1),
        pages: found.total.div_ceil(PAGE_SIZE).max(1),
        total: found.total,
    }
    .render();
    page(StatusCode::OK, html)
}

/// One field of a record's detail.
pub(crate) struct Field {
    pub(crate) name: &'static str,
    pub(crate) value: String,
}

#[derive(Template)]
#[template(path = "ui/audit_detail.html")]
pub(crate) struct AuditDetailPage<'a> {
    pub(crate) user: &'a str,
    pub(crate) csrf: &'a str,
    pub(crate) admin: bool,
    pub(crate) fields: Vec<Field>,
    /// The details, pretty-printed (redacted when written).
    pub(crate) details: String,
}

/// `GET /ui/audit/{id}`.
pub(crate) async fn detail(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    let session = or_answer!(UiSession::of(&req));
    let r = match state.service.get_audit_log(&id, &session.ctx).await {
        Ok(r) => r,
        Err(e) => return error_page(e),
    };
    let e = &r.entry;
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".to_string());
    let fields = vec![
        Field {
            name: "Time",
            value: e.timestamp.to_rfc3339(),
        },
        Field {
            name: "Event",
            value: e.event_type.as_str().to_string(),
        },
        Field {
            name: "Category",
            value: e.event_category.as_str().to_string(),
        },
        Field {
            name: "Action",
            value: e.action.clone(),
        },
        Field {
            name: "Outcome",
            value: e.outcome.as_str().to_string(),
        },
        Field {
            name: "Error",
            value: opt(&e.error_message),
        },
        Field {
            name: "Actor",
            value: format!("{} {}", e.actor_type.as_str(), e.actor_id),
        },
        Field {
            name: "Secret",
            value: format!("{} ({})", opt(&e.secret_name), opt(&e.secret_id)),
        },
        Field {
            name: "Scope",
            value: e
                .secret_scope
                .map_or_else(|| "—".to_string(), |s| s.as_str().to_string()),
        },
        Field {
            name: "Organization",
            value: opt(&e.organization_id),
        },
        Field {
            name: "Module",
            value: opt(&e.consumer_module),
        },
        Field {
            name: "Request id",
            value: opt(&e.request_id),
        },
        Field {
            name: "IP address",
            value: opt(&e.ip_address),
        },
        Field {
            name: "User agent",
            value: opt(&e.user_agent),
        },
        Field {
            name: "Chain position",
            value: r.seq.to_string(),
        },
        Field {
            name: "Previous hash",
            value: r.prev_hash.clone(),
        },
        Field {
            name: "Hash",
            value: r.hash.clone(),
        },
    ];
    let details = serde_json::from_str::<serde_json::Value>(&e.details)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| e.details.clone());
    let html = AuditDetailPage {
        user: session.user(),
        csrf: &session.csrf,
        admin: session.may_audit(),
        fields,
        details,
    }
    .render();
    page(StatusCode::OK, html)
}
