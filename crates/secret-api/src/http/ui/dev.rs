//! The development sign-in page (`--dev` only, ARCHITECTURE §11): mints a 30-minute token
//! for a principal chosen on the page, signed with the server's own dev issuer, and signs
//! in with it. The page says it is for development only; without `--dev` the route
//! answers 404.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use secret_core::{OrgRole, Principal, ProjectRole, SecretError, TeamRole};
use serde::Deserialize;
use zeroize::Zeroizing;

use super::super::AppState;
use super::pages::error_page;
use super::secured;
use super::session::{nonce_fresh, start_session, with_nonce};

/// How long a minted token lasts.
const TTL_MINUTES: i64 = 30;

#[derive(Template)]
#[template(path = "ui/dev_sign_in.html")]
struct DevSignInPage<'a> {
    csrf: &'a str,
    error: Option<String>,
}

fn not_here() -> HttpResponse {
    secured(
        HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("The development sign-in page exists only with --dev."),
    )
}

fn form_page(req: &HttpRequest, status: StatusCode, error: Option<String>) -> HttpResponse {
    with_nonce(req, status, |csrf| DevSignInPage { csrf, error }.render())
}

/// `GET /ui/dev/sign-in`.
pub(crate) async fn dev_page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if state.dev_sign_in.is_none() {
        return not_here();
    }
    form_page(&req, StatusCode::OK, None)
}

#[derive(Deserialize)]
pub(crate) struct DevForm {
    csrf: String,
    user: String,
    name: Option<String>,
    #[serde(rename = "superAdmin")]
    super_admin: Option<String>,
    org: Option<String>,
    #[serde(rename = "orgRole")]
    org_role: Option<String>,
    team: Option<String>,
    #[serde(rename = "teamRole")]
    team_role: Option<String>,
    project: Option<String>,
    #[serde(rename = "projectRole")]
    project_role: Option<String>,
}

fn given(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// The principal the form describes; a team or project needs its organization.
fn principal(f: &DevForm) -> Result<Principal, String> {
    let user = f.user.trim();
    secret_core::name::validate_platform_id("user", user).map_err(|e| e.to_string())?;
    let mut p = Principal::user(user).authenticated_at(chrono::Utc::now());
    p.name = given(&f.name).map(str::to_string);
    p.super_admin = f.super_admin.is_some();
    let org = given(&f.org);
    if let Some(org) = org {
        secret_core::name::validate_platform_id("organization", org).map_err(|e| e.to_string())?;
        let role = match given(&f.org_role) {
            Some("ADMIN") => OrgRole::Admin,
            _ => OrgRole::Member,
        };
        p = p.with_org(org, role);
    }
    let team = given(&f.team);
    if let Some(team) = team {
        let org = org.ok_or("a team needs its organization")?;
        secret_core::name::validate_platform_id("team", team).map_err(|e| e.to_string())?;
        let role = match given(&f.team_role) {
            Some("LEAD") => TeamRole::Lead,
            _ => TeamRole::Member,
        };
        p = p.with_team(team, org, role);
    }
    if let Some(project) = given(&f.project) {
        let org = org.ok_or("a project needs its organization")?;
        secret_core::name::validate_platform_id("project", project).map_err(|e| e.to_string())?;
        let role = match given(&f.project_role) {
            Some("ADMIN") => ProjectRole::Admin,
            _ => ProjectRole::Member,
        };
        p = p.with_project(project, org, team, role);
    }
    Ok(p)
}

/// `POST /ui/dev/sign-in`: mints the token and signs in with it.
pub(crate) async fn dev_sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<DevForm>,
) -> HttpResponse {
    let Some(dev) = &state.dev_sign_in else {
        return not_here();
    };
    if !nonce_fresh(&req, &form.csrf) {
        return form_page(
            &req,
            StatusCode::FORBIDDEN,
            Some("The form had expired: try again.".to_string()),
        );
    }
    let p = match principal(&form) {
        Ok(p) => p,
        Err(e) => return form_page(&req, StatusCode::BAD_REQUEST, Some(e)),
    };
    let now = chrono::Utc::now();
    match dev.0.mint(&p, chrono::Duration::minutes(TTL_MINUTES), now) {
        Ok(token) => {
            let token = Zeroizing::new(token);
            tracing::warn!(user = %p.user_id, "dev sign-in: a token was minted from the web UI");
            start_session(&req, &token)
        }
        Err(e) => error_page(SecretError::internal(format!(
            "the dev token could not be minted: {e}"
        ))),
    }
}
