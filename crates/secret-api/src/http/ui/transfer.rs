//! Import and export (§11): paste a `.env` or JSON file (or pick one: the optional script
//! reads it into the form), dry run first to see what each line would do and why a line
//! fails, then import; export a scope as `.env` or JSON, with values only after a recent
//! sign-in. Both go through the API's own parsers and `SecretService`, audited the same.
//!
//! The pasted file is sent back only into the masked text area of the dry run's page (the
//! caller's own input, so that "Import" can post it again; the page is `no-store`); no
//! stored value is ever rendered.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use secret_core::model::ScopeTarget;
use secret_core::transfer::{ExportParams, ImportAction, ImportResult};
use secret_core::wire::{ImportEnvRequest, ImportJsonRequest};
use secret_core::{SecretError, SecretScope};
use serde_json::json;
use zeroize::Zeroizing;

use super::super::AppState;
use super::super::extract::parse_json;
use super::forms::{Placement, Posted, owner_fields, placement};
use super::pages::{Choice, error_line, error_page};
use super::{UiSession, page};

type Form = web::Form<Vec<(String, String)>>;

/// One item of an import's result.
pub(crate) struct ResultRow {
    pub(crate) line: String,
    pub(crate) name: String,
    pub(crate) action: &'static str,
    pub(crate) error: String,
}

#[derive(Template)]
#[template(path = "ui/import.html")]
pub(crate) struct ImportPage<'a> {
    pub(crate) user: &'a str,
    pub(crate) csrf: &'a str,
    pub(crate) admin: bool,
    pub(crate) placement: Placement,
    pub(crate) formats: Vec<Choice>,
    /// The pasted file, echoed into the masked text area after a dry run.
    pub(crate) content: Zeroizing<String>,
    pub(crate) overwrite: bool,
    pub(crate) atomic: bool,
    pub(crate) prefix: String,
    pub(crate) error: Option<String>,
    /// "Dry run" or "Import", with its counts and rows, once one ran.
    pub(crate) done: Option<String>,
    pub(crate) summary: String,
    pub(crate) rows: Vec<ResultRow>,
    pub(crate) warnings: Vec<String>,
}

fn formats(selected: &str) -> Vec<Choice> {
    [
        ("env", ".env file"),
        ("json", "JSON (an export's document)"),
    ]
    .into_iter()
    .map(|(v, l)| Choice {
        value: v.to_string(),
        label: l.to_string(),
        selected: v == selected,
    })
    .collect()
}

fn import_page(
    session: &UiSession,
    form: Option<&Posted>,
    outcome: Option<(&str, Result<ImportResult, SecretError>)>,
) -> HttpResponse {
    let scope = form
        .and_then(|f| f.text("scope"))
        .and_then(|s| s.parse::<SecretScope>().ok());
    let mut status = StatusCode::OK;
    let (mut done, mut summary, mut rows, mut warnings, mut error) =
        (None, String::new(), Vec::new(), Vec::new(), None);
    match outcome {
        Some((what, Ok(r))) => {
            done = Some(what.to_string());
            summary = format!(
                "{} item{}: {} {}, {} skipped, {} failed",
                r.total,
                if r.total == 1 { "" } else { "s" },
                r.imported,
                if r.dry_run {
                    "would be imported"
                } else {
                    "imported"
                },
                r.skipped,
                r.errors.len()
            );
            rows = r
                .items
                .iter()
                .map(|i| ResultRow {
                    line: i.line.map(|l| l.to_string()).unwrap_or_default(),
                    name: i.name.clone(),
                    action: match i.action {
                        ImportAction::Created => "create",
                        ImportAction::Updated => "update",
                        ImportAction::Skipped => "skip",
                        ImportAction::Failed => "fail",
                        ImportAction::NotWritten => "not written",
                    },
                    error: r
                        .errors
                        .iter()
                        .find(|e| e.index == i.index)
                        .map(|e| format!("{}: {}", e.code, e.error))
                        .unwrap_or_default(),
                })
                .collect();
            warnings = r
                .warnings
                .iter()
                .map(|w| match w.line {
                    Some(l) => format!("line {l}: {}: {}", w.name, w.message),
                    None => format!("{}: {}", w.name, w.message),
                })
                .collect();
        }
        Some((_, Err(e))) => {
            let (s, line) = error_line(e);
            status = s;
            error = Some(line);
        }
        None => {}
    }
    let keep_content = done.as_deref() == Some("Dry run") || error.is_some();
    let html = ImportPage {
        user: session.user(),
        csrf: &session.csrf,
        admin: session.may_audit(),
        placement: placement(&session.ctx.principal, scope),
        formats: formats(form.and_then(|f| f.text("format")).unwrap_or("env")),
        content: Zeroizing::new(if keep_content {
            form.and_then(|f| f.raw("content"))
                .unwrap_or_default()
                .to_string()
        } else {
            String::new()
        }),
        overwrite: form.is_some_and(|f| f.checked("overwrite")),
        atomic: form.is_some_and(|f| f.checked("atomic")),
        prefix: form
            .and_then(|f| f.raw("prefix"))
            .unwrap_or_default()
            .to_string(),
        error,
        done,
        summary,
        rows,
        warnings,
    }
    .render();
    page(status, html)
}

/// `GET /ui/import`.
pub(crate) async fn import_form(req: HttpRequest) -> HttpResponse {
    let session = or_answer!(UiSession::of(&req));
    import_page(&session, None, None)
}

/// The target fields of an import body, from the form's scope and pickers.
fn target(form: &Posted, session: &UiSession) -> serde_json::Map<String, serde_json::Value> {
    let mut body = serde_json::Map::new();
    let scope = form.text("scope").unwrap_or_default();
    body.insert("targetScope".into(), json!(scope));
    if let Ok(scope) = scope.parse::<SecretScope>() {
        body.extend(owner_fields(scope, form, &session.ctx.principal));
    }
    body.insert("overwrite".into(), json!(form.checked("overwrite")));
    body.insert("atomic".into(), json!(form.checked("atomic")));
    body
}

async fn run_import(
    state: &AppState,
    session: &UiSession,
    form: &Posted,
    dry_run: bool,
) -> Result<ImportResult, SecretError> {
    let mut body = target(form, session);
    body.insert("dryRun".into(), json!(dry_run));
    let content = form.raw("content").unwrap_or_default();
    if form.text("format") == Some("json") {
        let doc: serde_json::Value = serde_json::from_str(content)
            .map_err(|_| SecretError::validation("content", "is not a JSON document"))?;
        let secrets = doc.get("secrets").cloned().unwrap_or(doc);
        body.insert("secrets".into(), secrets);
        let bytes = Zeroizing::new(serde_json::to_vec(&body).unwrap_or_default());
        let (items, options) = parse_json::<ImportJsonRequest>(&bytes)?.into_parts();
        state
            .service
            .import_secrets(items, options, &session.ctx)
            .await
    } else {
        body.insert("content".into(), json!(content));
        if let Some(p) = form.text("prefix") {
            body.insert("prefix".into(), json!(p));
        }
        let bytes = Zeroizing::new(serde_json::to_vec(&body).unwrap_or_default());
        let (text, options) = parse_json::<ImportEnvRequest>(&bytes)?.into_parts();
        let text = Zeroizing::new(text);
        state.service.import_env(&text, options, &session.ctx).await
    }
}

/// `POST /ui/import`: a dry run (`mode=dry`) or the import.
pub(crate) async fn import(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: Form,
) -> HttpResponse {
    let form = Posted(form.into_inner());
    let session = or_answer!(UiSession::posted(&req, &form));
    let dry_run = form.text("mode") != Some("import");
    let outcome = run_import(&state, &session, &form, dry_run).await;
    let what = if dry_run { "Dry run" } else { "Import" };
    import_page(&session, Some(&form), Some((what, outcome)))
}

#[derive(Template)]
#[template(path = "ui/export.html")]
pub(crate) struct ExportPage<'a> {
    pub(crate) user: &'a str,
    pub(crate) csrf: &'a str,
    pub(crate) admin: bool,
    pub(crate) placement: Placement,
    pub(crate) formats: Vec<Choice>,
}

/// `GET /ui/export`.
pub(crate) async fn export_form(req: HttpRequest) -> HttpResponse {
    let session = or_answer!(UiSession::of(&req));
    let html = ExportPage {
        user: session.user(),
        csrf: &session.csrf,
        admin: session.may_audit(),
        placement: placement(&session.ctx.principal, None),
        formats: formats("json"),
    }
    .render();
    page(StatusCode::OK, html)
}

/// `POST /ui/export`: the file, as a download.
pub(crate) async fn export(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: Form,
) -> HttpResponse {
    let form = Posted(form.into_inner());
    let session = or_answer!(UiSession::posted(&req, &form));
    let body = target(&form, &session);
    let scope = form
        .text("scope")
        .and_then(|s| s.parse::<SecretScope>().ok());
    let params = ExportParams {
        scope,
        target: ScopeTarget {
            organization_id: body
                .get("organizationId")
                .and_then(|v| v.as_str())
                .map(str::to_string),
            team_id: body
                .get("teamId")
                .and_then(|v| v.as_str())
                .map(str::to_string),
            project_id: body
                .get("projectId")
                .and_then(|v| v.as_str())
                .map(str::to_string),
        },
        include_values: form.checked("includeValues"),
    };
    let (file, name, mime) = if form.text("format") == Some("env") {
        match state.service.export_env(&params, &session.ctx).await {
            Ok(text) => (
                Zeroizing::new(text.into_bytes()),
                "secrets.env",
                "text/plain; charset=utf-8",
            ),
            Err(e) => return error_page(e),
        }
    } else {
        match state.service.export_secrets(&params, &session.ctx).await {
            Ok(doc) => (
                Zeroizing::new(serde_json::to_vec_pretty(&doc).unwrap_or_default()),
                "secrets.json",
                "application/json",
            ),
            Err(e) => return error_page(e),
        }
    };
    super::secured(
        HttpResponse::Ok()
            .content_type(mime)
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ))
            .body(file.to_vec()),
    )
}
