//! "Migrate to…" (§13.4): from a vault's card, pick the target and the options, see the
//! plan (the dry run: how many secrets and versions, how long), start it, then follow its
//! progress on a page that refreshes itself while the migration runs (a plain meta
//! refresh: no script needed), with Pause and Resume. Everything goes through
//! `SecretService`'s migration calls, checked and audited as the API's.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use secret_access::administered_orgs;
use secret_core::wire::{
    MigrateRequest, MigrationPlan, MigrationState, MigrationStatus, MigrationVersions,
};
use secret_core::{SecretError, SecretScope};

use super::super::AppState;
use super::forms::Posted;
use super::pages::{Choice, enc, error_line, error_page, scope_choices};
use super::session::CsrfForm;
use super::vaults::{backend_label, visible};
use super::{UiSession, page, see_other};

type Form = web::Form<Vec<(String, String)>>;

/// Seconds between refreshes of a running migration's page.
const REFRESH_SECONDS: u32 = 2;

#[derive(Template)]
#[template(path = "ui/migrate.html")]
pub(crate) struct MigratePage<'a> {
    pub(crate) user: &'a str,
    pub(crate) csrf: &'a str,
    pub(crate) admin: bool,
    pub(crate) source_id: String,
    pub(crate) source: String,
    pub(crate) targets: Vec<Choice>,
    pub(crate) versions: Vec<Choice>,
    pub(crate) scopes: Vec<Choice>,
    /// The organizations an organization admin migrates the secrets of (it must pick
    /// one); empty for a super admin, who may type one in or leave it blank.
    pub(crate) orgs: Vec<String>,
    pub(crate) organization_id: String,
    pub(crate) delete_from_source: bool,
    pub(crate) continue_on_error: bool,
    /// The plan, once "Plan" was pressed.
    pub(crate) plan: Option<PlanView>,
    pub(crate) error: Option<String>,
}

/// A plan as shown.
pub(crate) struct PlanView {
    pub(crate) secrets: u64,
    pub(crate) versions: u64,
    pub(crate) estimate: String,
    pub(crate) target: String,
}

/// `1.2 s`, `3 min 5 s`.
fn duration(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0 => format!("{ms} ms"),
        1..=59 => format!("{}.{} s", s, (ms % 1000) / 100),
        _ => format!("{} min {} s", s / 60, s % 60),
    }
}

fn version_choices(selected: MigrationVersions) -> Vec<Choice> {
    [
        (
            MigrationVersions::All,
            "Every version (history and rollback carry over)",
        ),
        (MigrationVersions::Current, "Only the current version"),
    ]
    .into_iter()
    .map(|(v, label)| Choice {
        value: v.as_str().to_string(),
        label: label.to_string(),
        selected: v == selected,
    })
    .collect()
}

/// The migration a posted form asks for.
fn request(source: &str, form: &Posted) -> MigrateRequest {
    MigrateRequest {
        source_vault_id: source.to_string(),
        target_vault_id: form.text("target").unwrap_or_default().to_string(),
        delete_from_source: form.checked("deleteFromSource"),
        continue_on_error: form.checked("continueOnError"),
        dry_run: false,
        versions: match form.text("versions") {
            Some("CURRENT") => MigrationVersions::Current,
            _ => MigrationVersions::All,
        },
        scope: form
            .text("scope")
            .and_then(|s| s.parse::<SecretScope>().ok()),
        organization_id: form.text("organizationId").map(str::to_string),
    }
}

async fn migrate_page(
    state: &AppState,
    session: &UiSession,
    source_id: &str,
    form: Option<&Posted>,
    outcome: Option<Result<MigrationPlan, SecretError>>,
) -> HttpResponse {
    let source = match visible(state, session, source_id).await {
        Ok(v) => v,
        Err(e) => return error_page(e),
    };
    let all = match state.service.list_vaults(&session.ctx).await {
        Ok(v) => v,
        Err(e) => return error_page(e),
    };
    let req = form.map(|f| request(source_id, f));
    let chosen = req.as_ref().map(|r| r.target_vault_id.clone());
    let targets = all
        .iter()
        .filter(|v| v.id != source.id && v.is_active)
        .map(|v| Choice {
            value: v.id.to_string(),
            label: format!("{} ({})", v.name, backend_label(v)),
            selected: Some(v.id.to_string()) == chosen,
        })
        .collect();
    let (mut plan, mut error, mut status) = (None, None, StatusCode::OK);
    match outcome {
        Some(Ok(p)) => {
            plan = Some(PlanView {
                secrets: p.secret_count,
                versions: p.version_count,
                estimate: duration(p.estimated_duration_ms),
                target: all
                    .iter()
                    .find(|v| v.id.as_str() == p.target_vault_id)
                    .map_or_else(|| p.target_vault_id.clone(), |v| v.name.clone()),
            });
        }
        Some(Err(e)) => {
            let (s, line) = error_line(e);
            status = s;
            error = Some(line);
        }
        None => {}
    }
    let p = &session.ctx.principal;
    let html = MigratePage {
        user: session.user(),
        csrf: &session.csrf,
        admin: session.may_audit(),
        source_id: source.id.to_string(),
        source: format!("{} ({})", source.name, backend_label(&source)),
        targets,
        versions: version_choices(req.as_ref().map_or(MigrationVersions::All, |r| r.versions)),
        scopes: scope_choices(req.as_ref().and_then(|r| r.scope)),
        orgs: if p.super_admin {
            Vec::new()
        } else {
            administered_orgs(p)
        },
        organization_id: req
            .as_ref()
            .and_then(|r| r.organization_id.clone())
            .unwrap_or_default(),
        delete_from_source: req.as_ref().is_some_and(|r| r.delete_from_source),
        continue_on_error: req.as_ref().is_some_and(|r| r.continue_on_error),
        plan,
        error,
    }
    .render();
    page(status, html)
}

/// `GET /ui/vaults/{id}/migrate`.
pub(crate) async fn migrate_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    let session = or_answer!(UiSession::of(&req));
    migrate_page(&state, &session, &id, None, None).await
}

/// `POST /ui/vaults/{id}/migrate`: "Plan" shows the dry run; "Start" starts the migration
/// and follows it.
pub(crate) async fn migrate(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: Form,
) -> HttpResponse {
    let posted = Posted(form.into_inner());
    let session = or_answer!(UiSession::posted(&req, &posted));
    let mut request = request(&id, &posted);
    if posted.text("mode") == Some("start") {
        match state.service.start_migration(&request, &session.ctx).await {
            Ok(mid) => return see_other(&format!("/ui/migrations/{}", enc(&mid))),
            Err(e) => {
                return migrate_page(&state, &session, &id, Some(&posted), Some(Err(e))).await;
            }
        }
    }
    request.dry_run = true;
    let plan = state.service.plan_migration(&request, &session.ctx).await;
    migrate_page(&state, &session, &id, Some(&posted), Some(plan)).await
}

#[derive(Template)]
#[template(path = "ui/migration.html")]
pub(crate) struct MigrationPage<'a> {
    pub(crate) user: &'a str,
    pub(crate) csrf: &'a str,
    pub(crate) admin: bool,
    pub(crate) status: MigrationStatus,
    pub(crate) state: &'static str,
    pub(crate) source: String,
    pub(crate) target: String,
    /// Secrets done (moved, failed or passed over) of the total.
    pub(crate) done: u64,
    pub(crate) percent: u64,
    /// While it runs: the seconds between refreshes.
    pub(crate) refresh: Option<u32>,
    pub(crate) remaining: Option<String>,
    pub(crate) took: Option<String>,
}

/// A configuration's name and backend, or its id when the caller may no longer see it.
async fn vault_name(state: &AppState, session: &UiSession, id: &str) -> String {
    match visible(state, session, id).await {
        Ok(v) => format!("{} ({})", v.name, backend_label(&v)),
        Err(_) => id.to_string(),
    }
}

/// `GET /ui/migrations/{id}`: where a migration stands.
pub(crate) async fn status(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    let session = or_answer!(UiSession::of(&req));
    let status = match state.service.migration(&id, &session.ctx).await {
        Ok(s) => s,
        Err(e) => return error_page(e),
    };
    let source = vault_name(&state, &session, &status.source_vault_id).await;
    let target = vault_name(&state, &session, &status.target_vault_id).await;
    let done = status.migrated + status.failed + status.skipped;
    let running = matches!(
        status.state,
        MigrationState::Planned | MigrationState::Running
    );
    let html = MigrationPage {
        user: session.user(),
        csrf: &session.csrf,
        admin: session.may_audit(),
        state: status.state.as_str(),
        source,
        target,
        done,
        percent: (done * 100)
            .checked_div(status.total)
            .unwrap_or(100)
            .min(100),
        refresh: running.then_some(REFRESH_SECONDS),
        remaining: status
            .estimated_remaining_ms
            .filter(|_| running)
            .map(duration),
        took: status.duration_ms.map(duration),
        status,
    }
    .render();
    page(StatusCode::OK, html)
}

/// `POST /ui/migrations/{id}/pause` and `…/resume`.
pub(crate) async fn pause_or_resume(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let session = or_answer!(form.session(&req));
    let (id, action) = path.into_inner();
    let done = match action.as_str() {
        "pause" => state.service.pause_migration(&id, &session.ctx).await,
        "resume" => state.service.resume_migration(&id, &session.ctx).await,
        _ => {
            return error_page(SecretError::validation("action", "must be pause or resume"));
        }
    };
    match done {
        Ok(_) => see_other(&format!("/ui/migrations/{}", enc(&id))),
        Err(e) => error_page(e),
    }
}
