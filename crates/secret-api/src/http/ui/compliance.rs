//! The compliance report (§10.2, §13.1) for super admins and organization admins: the
//! summary, the access report and the findings of `SecretService::compliance_report`, two
//! charts drawn here as SVG (value reads per day over the period, secrets expiring in each
//! of the coming weeks), and the PDF the API renders, as a download.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use secret_audit::report::ComplianceReport;
use secret_core::SecretError;
use serde::Deserialize;

use super::super::AppState;
use super::pages::{enc, error_page, non_empty};
use super::session::Refused;
use super::{UiSession, page, secured};

/// The period shown when none is asked for.
const DEFAULT_DAYS: i64 = 30;

#[derive(Deserialize)]
pub(crate) struct ReportQuery {
    #[serde(rename = "organizationId")]
    organization_id: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// The period and organization a query asks for.
struct Asked {
    organization: Option<String>,
    from: NaiveDate,
    to: NaiveDate,
}

fn date(field: &str, s: &str) -> Result<NaiveDate, SecretError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| SecretError::validation(field, "must be a date (YYYY-MM-DD)"))
}

impl Asked {
    fn of(q: &ReportQuery, now: DateTime<Utc>) -> Result<Asked, SecretError> {
        let to = match non_empty(q.to.as_deref()) {
            Some(t) => date("to", t)?,
            None => now.date_naive(),
        };
        let from = match non_empty(q.from.as_deref()) {
            Some(f) => date("from", f)?,
            None => to - Duration::days(DEFAULT_DAYS - 1),
        };
        Ok(Asked {
            organization: non_empty(q.organization_id.as_deref()).map(str::to_string),
            from,
            to,
        })
    }

    fn start(&self) -> DateTime<Utc> {
        self.from.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
    }

    fn end(&self) -> DateTime<Utc> {
        self.to
            .and_hms_opt(23, 59, 59)
            .unwrap_or_default()
            .and_utc()
    }

    /// The query string of this period and organization.
    fn query(&self) -> String {
        let mut q = format!("from={}&to={}", self.from, self.to);
        if let Some(org) = &self.organization {
            q.push_str(&format!("&organizationId={}", enc(org)));
        }
        q
    }
}

/// One bar of a chart, in the chart's own units (its `viewBox`).
pub(crate) struct Bar {
    pub(crate) x: u32,
    pub(crate) y: u32,
    pub(crate) width: u32,
    pub(crate) height: u32,
    /// What a pointer over it (or a screen reader) says.
    pub(crate) title: String,
    pub(crate) warn: bool,
}

/// A bar chart drawn as SVG: bars over a baseline, the largest value and the first and
/// last labels written beside it.
pub(crate) struct Chart {
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) plot_bottom: u32,
    pub(crate) bars: Vec<Bar>,
    pub(crate) max: u64,
    pub(crate) first: String,
    pub(crate) last: String,
    /// A one-line summary, the chart's accessible name.
    pub(crate) label: String,
}

const CHART_WIDTH: u32 = 720;
const CHART_HEIGHT: u32 = 180;
const PLOT_TOP: u32 = 16;
const PLOT_BOTTOM: u32 = 156;
const PLOT_LEFT: u32 = 40;

/// A chart of `points` (label, value, warn), as many bars as points, over the width.
fn chart(points: &[(String, u64, bool)], unit: &str, label: String) -> Chart {
    let max = points.iter().map(|p| p.1).max().unwrap_or(0);
    let n = u32::try_from(points.len().max(1)).unwrap_or(u32::MAX);
    let slot = ((CHART_WIDTH - PLOT_LEFT) / n).max(1);
    let gap = if slot > 4 { slot / 5 } else { 0 };
    let span = u64::from(PLOT_BOTTOM - PLOT_TOP);
    let bars = points
        .iter()
        .enumerate()
        .map(|(i, (what, v, warn))| {
            let height = (v * span)
                .checked_div(max)
                .map_or(0, |h| u32::try_from(h).unwrap_or(0));
            Bar {
                x: PLOT_LEFT + u32::try_from(i).unwrap_or(0) * slot + gap / 2,
                y: PLOT_BOTTOM - height,
                width: (slot - gap).max(1),
                height,
                title: format!("{what}: {v} {unit}"),
                warn: *warn,
            }
        })
        .collect();
    Chart {
        width: CHART_WIDTH,
        height: CHART_HEIGHT,
        plot_bottom: PLOT_BOTTOM,
        bars,
        max,
        first: points.first().map(|p| p.0.clone()).unwrap_or_default(),
        last: points.last().map(|p| p.0.clone()).unwrap_or_default(),
        label,
    }
}

#[derive(Template)]
#[template(path = "ui/compliance.html")]
pub(crate) struct CompliancePage<'a> {
    pub(crate) user: &'a str,
    pub(crate) csrf: &'a str,
    pub(crate) admin: bool,
    pub(crate) organization: String,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) query: String,
    pub(crate) report: ComplianceReport,
    pub(crate) reads: Chart,
    pub(crate) expiring: Chart,
}

/// The service's report of the period and organization `q` asks for.
async fn report_of(
    state: &AppState,
    session: &UiSession,
    q: &ReportQuery,
) -> Result<ComplianceReport, Refused> {
    let refused = |e| Box::new(error_page(e));
    let asked = Asked::of(q, Utc::now()).map_err(refused)?;
    let report = state
        .service
        .compliance_report(
            asked.organization.as_deref(),
            asked.start(),
            asked.end(),
            &session.ctx,
        )
        .await
        .map_err(refused)?;
    Ok(report)
}

/// `GET /ui/compliance`.
pub(crate) async fn report(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<ReportQuery>,
) -> HttpResponse {
    let session = or_answer!(UiSession::of(&req));
    let asked = match Asked::of(&q, Utc::now()) {
        Ok(a) => a,
        Err(e) => return error_page(e),
    };
    let (report, charts) = match state
        .service
        .compliance_view(
            asked.organization.as_deref(),
            asked.start(),
            asked.end(),
            &session.ctx,
        )
        .await
    {
        Ok(v) => v,
        Err(e) => return error_page(e),
    };
    let days: Vec<(String, u64, bool)> = charts
        .reads_per_day
        .iter()
        .map(|(d, n)| (d.to_string(), *n, false))
        .collect();
    let total: u64 = days.iter().map(|d| d.1).sum();
    let mut weeks: Vec<(String, u64, bool)> = vec![("expired".to_string(), charts.expired, true)];
    weeks.extend(
        charts
            .expiring_per_week
            .iter()
            .map(|(d, n)| (format!("week of {d}"), *n, false)),
    );
    let soon: u64 = charts.expiring_per_week.iter().map(|w| w.1).sum();
    let html = CompliancePage {
        user: session.user(),
        csrf: &session.csrf,
        admin: session.may_audit(),
        organization: asked.organization.clone().unwrap_or_default(),
        from: asked.from.to_string(),
        to: asked.to.to_string(),
        query: asked.query(),
        reads: chart(
            &days,
            "reads",
            format!("{total} value reads from {} to {}", asked.from, asked.to),
        ),
        expiring: chart(
            &weeks,
            "secrets",
            format!(
                "{} expired; {soon} expiring in the next {} weeks",
                charts.expired,
                charts.expiring_per_week.len()
            ),
        ),
        report,
    }
    .render();
    page(StatusCode::OK, html)
}

/// `GET /ui/compliance/report.pdf`: the same report as the API's PDF.
pub(crate) async fn pdf(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<ReportQuery>,
) -> HttpResponse {
    let session = or_answer!(UiSession::of(&req));
    let report = or_answer!(report_of(&state, &session, &q).await);
    match web::block(move || secret_audit::pdf::render_pdf(&report)).await {
        Ok(bytes) => secured(
            HttpResponse::Ok()
                .content_type("application/pdf")
                .insert_header((
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"compliance-report.pdf\"",
                ))
                .body(bytes),
        ),
        Err(e) => error_page(SecretError::internal(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_value_and_zero_draws_nothing() {
        let points = vec![
            ("a".to_string(), 0, false),
            ("b".to_string(), 5, false),
            ("c".to_string(), 10, true),
        ];
        let c = chart(&points, "reads", "x".to_string());
        assert_eq!(c.max, 10);
        assert_eq!(c.bars[0].height, 0);
        assert_eq!(c.bars[2].height, PLOT_BOTTOM - PLOT_TOP);
        assert_eq!(c.bars[1].height, (PLOT_BOTTOM - PLOT_TOP) / 2);
        assert_eq!(c.bars[2].y, PLOT_TOP);
        assert!(c.bars[2].warn);
        assert_eq!(c.bars[1].title, "b: 5 reads");
        assert!(c.bars.windows(2).all(|w| w[0].x + w[0].width <= w[1].x));
        assert!(c.bars.iter().all(|b| b.x + b.width <= CHART_WIDTH));
        let empty = chart(&[], "reads", "none".to_string());
        assert!(empty.bars.is_empty());
        assert_eq!(empty.max, 0);
    }
}
