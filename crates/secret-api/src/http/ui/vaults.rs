//! Vault configuration (§13.4): the configurations the caller may see, each with its
//! health, secrets count and last check, and the actions it may take on each: Test
//! connection, Set as default, Edit, Migrate to…. Super admins and organization admins
//! only, as the API's `/api/vaults` is. Credentials are never shown (the service answers
//! only the settings' public part).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use secret_access::can_configure_vault;
use secret_core::vault::{LOCAL_VAULT_ID, UpdateVaultParams, VaultConfiguration};
use secret_core::{SecretError, VaultHealthStatus, VaultId, VaultScope};
use serde_json::Value;

use super::super::AppState;
use super::pages::{error_page, title};
use super::session::CsrfForm;
use super::vault_fields::form_of;
use super::{UiSession, page, see_other};

/// One setting of a configuration as its card lists it.
pub(crate) struct Setting {
    pub(crate) name: String,
    pub(crate) value: String,
}

/// A configuration as a card of the list.
pub(crate) struct VaultCard {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) backend: &'static str,
    pub(crate) scope: String,
    pub(crate) is_default: bool,
    pub(crate) is_active: bool,
    pub(crate) health: &'static str,
    /// `""`, `"warn"` (not checked yet) or `"danger"` (unhealthy).
    pub(crate) health_class: &'static str,
    pub(crate) last_check: String,
    pub(crate) secrets: u64,
    pub(crate) settings: Vec<Setting>,
    /// Whether the caller may change it (and so test it, make it the default, edit it).
    pub(crate) manage: bool,
    pub(crate) editable: bool,
}

/// The label of a backend.
pub(crate) fn backend_label(v: &VaultConfiguration) -> &'static str {
    form_of(v.backend).map_or("Local encrypted store", |f| f.label)
}

/// A configuration's public settings, flattened (`auth.method: TOKEN`); unset ones left out.
fn settings(config: &Value) -> Vec<Setting> {
    let mut out = Vec::new();
    flatten("", config, &mut out);
    out
}

fn flatten(prefix: &str, v: &Value, out: &mut Vec<Setting>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&name, v, out);
            }
        }
        Value::Null => {}
        Value::String(s) => out.push(Setting {
            name: prefix.to_string(),
            value: s.clone(),
        }),
        other => out.push(Setting {
            name: prefix.to_string(),
            value: other.to_string(),
        }),
    }
}

/// The scope of a configuration as shown.
pub(crate) fn scope_of(v: &VaultConfiguration) -> String {
    match (&v.scope, &v.organization_id) {
        (VaultScope::Organization, Some(org)) => format!("Organization {org}"),
        (s, _) => title(s.as_str()),
    }
}

impl VaultCard {
    pub(crate) fn of(v: &VaultConfiguration, session: &UiSession) -> VaultCard {
        let (health_class, health) = match v.health_status {
            VaultHealthStatus::Healthy => ("", "Healthy"),
            VaultHealthStatus::Unhealthy => ("danger", "Unhealthy"),
            VaultHealthStatus::Unknown => ("warn", "Not checked"),
        };
        VaultCard {
            id: v.id.to_string(),
            name: v.name.clone(),
            description: v.description.clone(),
            backend: backend_label(v),
            scope: scope_of(v),
            is_default: v.is_default,
            is_active: v.is_active,
            health,
            health_class,
            last_check: v.last_health_check.map_or_else(
                || "never".to_string(),
                |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
            ),
            secrets: v.secret_count,
            settings: settings(&v.config),
            manage: can_configure_vault(
                &session.ctx.principal,
                v.scope,
                v.organization_id.as_deref(),
            ),
            editable: v.id.as_str() != LOCAL_VAULT_ID,
        }
    }
}

#[derive(Template)]
#[template(path = "ui/vaults.html")]
pub(crate) struct VaultsPage<'a> {
    pub(crate) user: &'a str,
    pub(crate) csrf: &'a str,
    pub(crate) admin: bool,
    pub(crate) cards: Vec<VaultCard>,
    /// A health check's outcome: (whether healthy, what it said).
    pub(crate) checked: Option<(bool, String)>,
}

async fn vaults_page(
    state: &AppState,
    session: &UiSession,
    checked: Option<(bool, String)>,
) -> HttpResponse {
    let vaults = match state.service.list_vaults(&session.ctx).await {
        Ok(v) => v,
        Err(e) => return error_page(e),
    };
    let html = VaultsPage {
        user: session.user(),
        csrf: &session.csrf,
        admin: session.may_audit(),
        cards: vaults.iter().map(|v| VaultCard::of(v, session)).collect(),
        checked,
    }
    .render();
    page(StatusCode::OK, html)
}

/// `GET /ui/vaults`.
pub(crate) async fn list(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let session = or_answer!(UiSession::of(&req));
    vaults_page(&state, &session, None).await
}

/// `POST /ui/vaults/{id}/health`: Test connection, recorded as the configuration's health
/// (and audited) as the API's health check is; the list shows what it found.
pub(crate) async fn health(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let session = or_answer!(form.session(&req));
    let id = VaultId::from(id.as_str());
    match state.service.check_vault_health(&id, &session.ctx).await {
        Ok(r) => {
            let said = format!(
                "{}: {} — {}",
                r.vault.name,
                if r.healthy { "healthy" } else { "unhealthy" },
                r.detail
            );
            vaults_page(&state, &session, Some((r.healthy, said))).await
        }
        Err(e) => error_page(e),
    }
}

/// `POST /ui/vaults/{id}/default`: Set as default of its scope.
pub(crate) async fn make_default(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let session = or_answer!(form.session(&req));
    let id = VaultId::from(id.as_str());
    let params = UpdateVaultParams {
        is_default: Some(true),
        ..UpdateVaultParams::default()
    };
    match state.service.update_vault(&id, params, &session.ctx).await {
        Ok(_) => see_other("/ui/vaults"),
        Err(e) => error_page(e),
    }
}

/// The configuration `id` the caller may see, for the edit and migrate pages.
pub(crate) async fn visible(
    state: &AppState,
    session: &UiSession,
    id: &str,
) -> Result<VaultConfiguration, SecretError> {
    state
        .service
        .get_vault(&VaultId::from(id), &session.ctx)
        .await
}
