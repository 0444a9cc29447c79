//! Add and Edit of a vault configuration (§13.4): a form per backend with the fields of
//! its pinned `config` shape ([`super::vault_fields`]). Credentials are write-only: the
//! edit form never shows them, and one left blank keeps what is stored. Saved through
//! `SecretService::configure_vault` / `update_vault`, validated and audited as the API's.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use secret_access::administered_orgs;
use secret_core::model::FieldUpdate;
use secret_core::vault::{ConfigureVaultParams, RawConfig, UpdateVaultParams, VaultConfiguration};
use secret_core::{SecretError, StorageBackendKind, VaultId, VaultScope};
use serde::Deserialize;

use super::super::AppState;
use super::edit::form_error;
use super::form_pages::FormError;
use super::forms::Posted;
use super::pages::{Choice, error_page};
use super::session::Refused;
use super::vault_fields::{
    BackendForm, FORMS, MethodView, SettingView, Shown, VKind, config_json, form_of, method_choices,
};
use super::vaults::{scope_of, visible};
use super::{UiSession, page, see_other};

type Form = web::Form<Vec<(String, String)>>;

/// The form's own fields besides the settings.
const OWN_FIELDS: [&str; 4] = ["name", "description", "scope", "organizationId"];

#[derive(Template)]
#[template(path = "ui/vault_form.html")]
pub(crate) struct VaultFormPage<'a> {
    pub(crate) user: &'a str,
    pub(crate) csrf: &'a str,
    pub(crate) admin: bool,
    /// `None` when adding; the configuration's id when editing.
    pub(crate) editing: Option<String>,
    pub(crate) backend: &'static str,
    pub(crate) backend_label: &'static str,
    /// The backends to pick from (adding only).
    pub(crate) backends: Vec<Choice>,
    pub(crate) name: String,
    pub(crate) description: String,
    /// The scopes the caller may configure in (adding only).
    pub(crate) scopes: Vec<Choice>,
    /// The organizations to pick from; empty for a super admin, who types one in.
    pub(crate) orgs: Vec<String>,
    pub(crate) organization_id: String,
    /// The scope of the configuration edited, as shown.
    pub(crate) scope_label: String,
    pub(crate) is_default: bool,
    pub(crate) is_active: bool,
    pub(crate) fields: Vec<SettingView>,
    pub(crate) methods: Vec<MethodView>,
    pub(crate) method_choices: Vec<Choice>,
    pub(crate) error: Option<FormError>,
}

impl VaultFormPage<'_> {
    fn err(&self, field: &str) -> Option<&str> {
        self.error.as_ref().and_then(|e| e.at(field))
    }

    /// The error that belongs to no field shown (at the top of the form).
    fn general(&self) -> Option<&str> {
        let e = self.error.as_ref()?;
        let beside_a_setting = self.fields.iter().any(|v| v.error.is_some())
            || self
                .methods
                .iter()
                .any(|m| m.selected && m.fields.iter().any(|v| v.error.is_some()));
        match &e.field {
            Some(f) if OWN_FIELDS.contains(&f.as_str()) || f == "config.auth.method" => None,
            Some(_) if beside_a_setting => None,
            _ => Some(&e.message),
        }
    }
}

fn backend_choices(selected: StorageBackendKind) -> Vec<Choice> {
    FORMS
        .iter()
        .map(|f| Choice {
            value: f.backend.as_str().to_string(),
            label: f.label.to_string(),
            selected: f.backend == selected,
        })
        .collect()
}

/// What an add or edit page shows besides the settings.
struct Own {
    editing: Option<String>,
    name: String,
    description: String,
    scope: Option<VaultScope>,
    organization_id: String,
    scope_label: String,
    is_default: bool,
    is_active: bool,
}

fn form_page(
    session: &UiSession,
    form: &BackendForm,
    own: Own,
    shown: &Shown<'_>,
    refused: Option<(StatusCode, FormError)>,
) -> HttpResponse {
    let (status, error) = match refused {
        Some((status, error)) => (status, Some(error)),
        None => (StatusCode::OK, None),
    };
    let p = &session.ctx.principal;
    let mut scopes = Vec::new();
    if p.super_admin {
        scopes.push(VaultScope::Global);
    }
    if p.super_admin || !administered_orgs(p).is_empty() {
        scopes.push(VaultScope::Organization);
    }
    let selected = own.scope.or(scopes.first().copied());
    let methods = shown.methods(form);
    let html = VaultFormPage {
        user: session.user(),
        csrf: &session.csrf,
        admin: session.may_audit(),
        backend: form.backend.as_str(),
        backend_label: form.label,
        backends: backend_choices(form.backend),
        scopes: scopes
            .iter()
            .map(|s| Choice {
                value: s.as_str().to_string(),
                label: super::pages::title(s.as_str()),
                selected: Some(*s) == selected,
            })
            .collect(),
        orgs: if p.super_admin {
            Vec::new()
        } else {
            administered_orgs(p)
        },
        editing: own.editing,
        name: own.name,
        description: own.description,
        organization_id: own.organization_id,
        scope_label: own.scope_label,
        is_default: own.is_default,
        is_active: own.is_active,
        fields: shown.fields(form),
        method_choices: method_choices(&methods),
        methods,
        error,
    }
    .render();
    page(status, html)
}

#[derive(Deserialize)]
pub(crate) struct NewQuery {
    backend: Option<String>,
}

/// The form of a chosen backend (the first external one when none or another is chosen).
fn chosen(backend: Option<&str>) -> &'static BackendForm {
    backend
        .and_then(|b| b.parse::<StorageBackendKind>().ok())
        .and_then(form_of)
        .unwrap_or(&FORMS[0])
}

fn blank_own() -> Own {
    Own {
        editing: None,
        name: String::new(),
        description: String::new(),
        scope: None,
        organization_id: String::new(),
        scope_label: String::new(),
        is_default: false,
        is_active: true,
    }
}

/// `GET /ui/vaults/new?backend=…`: the Add form of a backend.
pub(crate) async fn new_form(req: HttpRequest, q: web::Query<NewQuery>) -> HttpResponse {
    let session = or_answer!(UiSession::of(&req));
    if !session.may_audit() {
        return error_page(not_admin());
    }
    let form = chosen(q.backend.as_deref());
    let shown = Shown {
        posted: None,
        current: None,
        error: None,
    };
    form_page(&session, form, blank_own(), &shown, None)
}

fn not_admin() -> SecretError {
    SecretError::AccessDenied {
        reason: "vault configurations are managed by super admins and organization admins"
            .to_string(),
    }
}

/// `POST /ui/vaults/new`: configures the vault, or shows the form again with the error
/// beside its field (never refilling a credential).
pub(crate) async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: Form,
) -> HttpResponse {
    let posted = Posted(form.into_inner());
    let session = or_answer!(UiSession::posted(&req, &posted));
    let backend_form = chosen(posted.text("backend"));
    let scope = posted
        .text("scope")
        .and_then(|s| s.parse::<VaultScope>().ok());
    let organization_id = match scope {
        Some(VaultScope::Organization) => posted.text("organizationId").map(str::to_string),
        _ => None,
    };
    let params = ConfigureVaultParams {
        name: posted.text("name").unwrap_or_default().to_string(),
        description: posted.text("description").map(str::to_string),
        backend: backend_form.backend,
        scope: scope.unwrap_or(VaultScope::Organization),
        organization_id: organization_id.clone(),
        config: RawConfig(config_json(backend_form, &posted)),
        is_default: posted.checked("isDefault"),
    };
    match state.service.configure_vault(params, &session.ctx).await {
        Ok(_) => see_other("/ui/vaults"),
        Err(e) => {
            let (status, error) = form_error(e);
            let own = Own {
                name: posted.raw("name").unwrap_or_default().to_string(),
                description: posted.raw("description").unwrap_or_default().to_string(),
                scope,
                organization_id: organization_id.unwrap_or_default(),
                is_default: posted.checked("isDefault"),
                ..blank_own()
            };
            let at = error.field.clone().map(|f| (f, error.message.clone()));
            let shown = Shown {
                posted: Some(&posted),
                current: None,
                error: at.as_ref().map(|(f, m)| (f.as_str(), m.as_str())),
            };
            form_page(&session, backend_form, own, &shown, Some((status, error)))
        }
    }
}

/// The edit page's own fields as `v` has them.
fn own_of(v: &VaultConfiguration) -> Own {
    Own {
        editing: Some(v.id.to_string()),
        name: v.name.clone(),
        description: v.description.clone().unwrap_or_default(),
        scope: Some(v.scope),
        organization_id: v.organization_id.clone().unwrap_or_default(),
        scope_label: scope_of(v),
        is_default: v.is_default,
        is_active: v.is_active,
    }
}

/// The configuration `id` the caller may see, with its backend's form; the built-in
/// local vault has none.
async fn editable(
    state: &AppState,
    session: &UiSession,
    id: &str,
) -> Result<(VaultConfiguration, &'static BackendForm), Refused> {
    let v = visible(state, session, id)
        .await
        .map_err(|e| Box::new(error_page(e)))?;
    match form_of(v.backend) {
        Some(form) => Ok((v, form)),
        None => Err(Box::new(error_page(SecretError::validation(
            "backend",
            "the built-in local vault has no settings to edit",
        )))),
    }
}

/// `GET /ui/vaults/{id}/edit`: the configuration's settings as stored, credentials blank.
pub(crate) async fn edit_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    let session = or_answer!(UiSession::of(&req));
    let (v, form) = or_answer!(editable(&state, &session, &id).await);
    let shown = Shown {
        posted: None,
        current: Some(&v.config),
        error: None,
    };
    form_page(&session, form, own_of(&v), &shown, None)
}

/// `POST /ui/vaults/{id}/edit`: saves the name, description, whether it is active and its
/// settings (a blank credential keeps the stored one).
pub(crate) async fn edit(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: Form,
) -> HttpResponse {
    let posted = Posted(form.into_inner());
    let session = or_answer!(UiSession::posted(&req, &posted));
    let (v, backend_form) = or_answer!(editable(&state, &session, &id).await);
    let params = UpdateVaultParams {
        name: Some(posted.text("name").unwrap_or_default().to_string()),
        description: match posted.text("description") {
            Some(d) => FieldUpdate::Set(d.to_string()),
            None => FieldUpdate::Clear,
        },
        config: Some(RawConfig(config_json(backend_form, &posted))),
        is_active: Some(posted.checked("isActive")),
        is_default: None,
        keep_blank_credentials: true,
    };
    match state
        .service
        .update_vault(&VaultId::from(id.as_str()), params, &session.ctx)
        .await
    {
        Ok(_) => see_other("/ui/vaults"),
        Err(e) => {
            let (status, error) = form_error(e);
            let own = Own {
                name: posted.raw("name").unwrap_or_default().to_string(),
                description: posted.raw("description").unwrap_or_default().to_string(),
                is_active: posted.checked("isActive"),
                ..own_of(&v)
            };
            let at = error.field.clone().map(|f| (f, error.message.clone()));
            let shown = Shown {
                posted: Some(&posted),
                current: Some(&v.config),
                error: at.as_ref().map(|(f, m)| (f.as_str(), m.as_str())),
            };
            form_page(&session, backend_form, own, &shown, Some((status, error)))
        }
    }
}
