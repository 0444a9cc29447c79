//! The secret forms' handlers: create (§13.3), edit, rotate, and grant / revoke on the
//! detail page. Each posted form is turned into the JSON body the API's route takes and
//! parsed by the API's own parser, then handed to `SecretService` as the API does; an
//! error comes back as the form again with the message beside the field it names.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use secret_core::wire::{
    CreateSecretRequest, GrantAccessRequest, RotateSecretRequest, UpdateSecretRequest,
};
use secret_core::{GrantId, SecretError, SecretId, SecretScope, SecretType};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::super::AppState;
use super::super::error::ApiError;
use super::super::extract::parse_json;
use super::form_pages::{
    CreatePage, EditPage, FormError, MetaFields, RotatePage, field_views, type_options,
};
use super::forms::{Posted, error_field, owner_fields, placement, tags, timestamp, value_json};
use super::pages::error_page;
use super::{UiSession, page, see_other};

type Form = web::Form<Vec<(String, String)>>;

/// The status an error is answered with (as the API answers it) and how the form shows
/// it: beside the field a validation error names, else at the top.
pub(crate) fn form_error(err: SecretError) -> (StatusCode, FormError) {
    let field = error_field(&err);
    let api = ApiError::from_secret(err, "");
    let (status, _, message) = api.parts();
    (
        status,
        FormError {
            field,
            message: message.to_string(),
        },
    )
}

/// `expiresAt` of a form as RFC 3339, `None` when blank.
fn expiry(form: &Posted) -> Result<Option<String>, SecretError> {
    form.text("expiresAt")
        .map(|d| timestamp("expiresAt", d))
        .transpose()
}

fn interval(form: &Posted) -> Result<Option<i64>, SecretError> {
    form.text("rotationIntervalDays")
        .map(|d| {
            d.parse::<i64>().map_err(|_| {
                SecretError::validation("rotationIntervalDays", "must be a whole number of days")
            })
        })
        .transpose()
}

#[derive(Deserialize)]
pub(crate) struct NewQuery {
    #[serde(rename = "type")]
    secret_type: Option<String>,
}

fn create_page(
    session: &UiSession,
    t: SecretType,
    posted: Option<&Posted>,
    error: Option<FormError>,
    status: StatusCode,
) -> HttpResponse {
    let scope = posted
        .and_then(|p| p.text("scope"))
        .and_then(|s| s.parse::<SecretScope>().ok());
    let located = error
        .as_ref()
        .and_then(|e| e.field.as_deref().map(|f| (f, e.message.as_str())));
    let html = CreatePage {
        user: session.user(),
        csrf: &session.csrf,
        admin: session.may_audit(),
        secret_type: t.as_str().to_string(),
        type_label: t.display_name().to_string(),
        types: type_options(t),
        placement: placement(&session.ctx.principal, scope),
        fields: field_views(t, posted, located),
        name: posted
            .and_then(|p| p.raw("name"))
            .unwrap_or_default()
            .to_string(),
        meta: MetaFields::posted(posted),
        error,
    }
    .render();
    page(status, html)
}

/// `GET /ui/secrets/new?type=`: the create form for one type (API_KEY by default).
pub(crate) async fn new_form(req: HttpRequest, q: web::Query<NewQuery>) -> HttpResponse {
    let session = or_answer!(UiSession::of(&req));
    let t = q
        .secret_type
        .as_deref()
        .and_then(|t| t.parse::<SecretType>().ok())
        .unwrap_or(SecretType::ApiKey);
    create_page(&session, t, None, None, StatusCode::OK)
}

/// The create request of a posted form, as `POST /api/secrets` would get it.
fn create_request(
    t: SecretType,
    session: &UiSession,
    form: &Posted,
) -> Result<CreateSecretRequest, SecretError> {
    let scope = form
        .text("scope")
        .and_then(|s| s.parse::<SecretScope>().ok())
        .ok_or_else(|| SecretError::validation("scope", "must be chosen"))?;
    let mut body = Map::new();
    body.insert("name".into(), json!(form.text("name").unwrap_or_default()));
    if let Some(d) = form.text("description") {
        body.insert("description".into(), json!(d));
    }
    body.insert("type".into(), json!(t.as_str()));
    body.insert("scope".into(), json!(scope.as_str()));
    body.extend(owner_fields(scope, form, &session.ctx.principal));
    if let Some(at) = expiry(form)? {
        body.insert("expiresAt".into(), json!(at));
    }
    body.insert(
        "rotationEnabled".into(),
        json!(form.checked("rotationEnabled")),
    );
    if let Some(days) = interval(form)? {
        body.insert("rotationIntervalDays".into(), json!(days));
    }
    body.insert("tags".into(), json!(tags(form.raw("tags"))));
    body.insert("value".into(), value_json(t, form)?);
    let bytes =
        zeroize::Zeroizing::new(serde_json::to_vec(&Value::Object(body)).unwrap_or_default());
    parse_json::<CreateSecretRequest>(&bytes)
}

/// `POST /ui/secrets/new`.
pub(crate) async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: Form,
) -> HttpResponse {
    let form = Posted(form.into_inner());
    let session = or_answer!(UiSession::posted(&req, &form));
    let Some(t) = form.text("type").and_then(|t| t.parse::<SecretType>().ok()) else {
        return error_page(SecretError::validation(
            "type",
            "must be one of the nine types",
        ));
    };
    let created = match create_request(t, &session, &form) {
        Ok(request) => {
            state
                .service
                .create_secret(request.into(), &session.ctx)
                .await
        }
        Err(e) => Err(e),
    };
    match created {
        Ok(meta) => see_other(&format!("/ui/secrets/{}", meta.id)),
        Err(e) => {
            let (status, error) = form_error(e);
            create_page(&session, t, Some(&form), Some(error), status)
        }
    }
}

/// `GET /ui/secrets/{id}/edit`: the metadata form.
pub(crate) async fn edit_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    let session = or_answer!(UiSession::of(&req));
    let meta = match state
        .service
        .get_metadata(&SecretId::from(id.as_str()), &session.ctx)
        .await
    {
        Ok(m) => m,
        Err(e) => return error_page(e),
    };
    let html = EditPage {
        user: session.user(),
        csrf: &session.csrf,
        admin: session.may_audit(),
        id: meta.id.to_string(),
        name: meta.name.clone(),
        version: meta.current_version,
        meta: MetaFields::of(&meta),
        error: None,
    }
    .render();
    page(StatusCode::OK, html)
}

fn update_request(form: &Posted) -> Result<UpdateSecretRequest, SecretError> {
    let body = json!({
        "description": form.text("description"),
        "expiresAt": expiry(form)?,
        "rotationEnabled": form.checked("rotationEnabled"),
        "rotationIntervalDays": interval(form)?,
        "tags": tags(form.raw("tags")),
    });
    parse_json::<UpdateSecretRequest>(&serde_json::to_vec(&body).unwrap_or_default())
}

fn expected_version(form: &Posted) -> Option<i64> {
    form.text("version").and_then(|v| v.parse().ok())
}

/// `POST /ui/secrets/{id}/edit`: the metadata change, at the version the form was made for.
pub(crate) async fn edit(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: Form,
) -> HttpResponse {
    let form = Posted(form.into_inner());
    let session = or_answer!(UiSession::posted(&req, &form));
    let id = SecretId::from(id.as_str());
    let updated = match update_request(&form) {
        Ok(r) => {
            state
                .service
                .update_secret(&id, r.into_params(expected_version(&form)), &session.ctx)
                .await
        }
        Err(e) => Err(e),
    };
    match updated {
        Ok(_) => see_other(&format!("/ui/secrets/{id}")),
        Err(e) => {
            let (status, error) = form_error(e);
            let name = match state.service.get_metadata(&id, &session.ctx).await {
                Ok(m) => m.name,
                Err(e) => return error_page(e),
            };
            let html = EditPage {
                user: session.user(),
                csrf: &session.csrf,
                admin: session.may_audit(),
                id: id.to_string(),
                name,
                version: expected_version(&form).unwrap_or_default(),
                meta: MetaFields::posted(Some(&form)),
                error: Some(error),
            }
            .render();
            page(status, html)
        }
    }
}

async fn rotate_page(
    state: &AppState,
    session: &UiSession,
    id: &SecretId,
    error: Option<(StatusCode, FormError)>,
) -> HttpResponse {
    let meta = match state.service.get_metadata(id, &session.ctx).await {
        Ok(m) => m,
        Err(e) => return error_page(e),
    };
    let (status, error) = match error {
        Some((status, e)) => (status, Some(e)),
        None => (StatusCode::OK, None),
    };
    let located = error
        .as_ref()
        .and_then(|e| e.field.as_deref().map(|f| (f, e.message.as_str())));
    let html = RotatePage {
        user: session.user(),
        csrf: &session.csrf,
        admin: session.may_audit(),
        id: meta.id.to_string(),
        name: meta.name.clone(),
        version: meta.current_version,
        type_label: meta.secret_type.display_name().to_string(),
        fields: field_views(meta.secret_type, None, located),
        error,
    }
    .render();
    page(status, html)
}

/// `GET /ui/secrets/{id}/rotate`: the new value's form.
pub(crate) async fn rotate_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    let session = or_answer!(UiSession::of(&req));
    rotate_page(&state, &session, &SecretId::from(id.as_str()), None).await
}

/// `POST /ui/secrets/{id}/rotate`: a new version with the posted value, as
/// `POST /api/secrets/{id}/rotate` makes it.
pub(crate) async fn rotate(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: Form,
) -> HttpResponse {
    let form = Posted(form.into_inner());
    let session = or_answer!(UiSession::posted(&req, &form));
    let id = SecretId::from(id.as_str());
    let meta = match state.service.get_metadata(&id, &session.ctx).await {
        Ok(m) => m,
        Err(e) => return error_page(e),
    };
    let rotated = match value_json(meta.secret_type, &form).and_then(|v| {
        let body = zeroize::Zeroizing::new(
            serde_json::to_vec(&json!({"newValue": v})).unwrap_or_default(),
        );
        parse_json::<RotateSecretRequest>(&body)
    }) {
        Ok(r) => {
            state
                .service
                .rotate_secret(&id, r.new_value, expected_version(&form), &session.ctx)
                .await
        }
        Err(e) => Err(e),
    };
    match rotated {
        Ok(_) => see_other(&format!("/ui/secrets/{id}")),
        Err(e) => rotate_page(&state, &session, &id, Some(form_error(e))).await,
    }
}

/// `POST /ui/secrets/{id}/access`: a grant, as `POST /api/secrets/{id}/access` makes it.
pub(crate) async fn grant(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: Form,
) -> HttpResponse {
    let form = Posted(form.into_inner());
    let session = or_answer!(UiSession::posted(&req, &form));
    let id = SecretId::from(id.as_str());
    let request = (|| {
        let body = json!({
            "granteeType": form.text("granteeType").unwrap_or_default(),
            "granteeId": form.text("granteeId").unwrap_or_default(),
            "canRead": form.checked("canRead"),
            "canUpdate": form.checked("canUpdate"),
            "canDelete": form.checked("canDelete"),
            "canGrant": form.checked("canGrant"),
            "expiresAt": expiry(&form)?,
        });
        parse_json::<GrantAccessRequest>(&serde_json::to_vec(&body).unwrap_or_default())
    })();
    let granted = match request {
        Ok(r) => {
            state
                .service
                .grant_access(&id, r.into(), &session.ctx)
                .await
        }
        Err(e) => Err(e),
    };
    match granted {
        Ok(_) => see_other(&format!("/ui/secrets/{id}")),
        Err(e) => error_page(e),
    }
}

/// `POST /ui/secrets/{id}/access/{grantId}/revoke`.
pub(crate) async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    form: Form,
) -> HttpResponse {
    let form = Posted(form.into_inner());
    let session = or_answer!(UiSession::posted(&req, &form));
    let (id, grant) = path.into_inner();
    let id = SecretId::from(id.as_str());
    match state
        .service
        .revoke_access(&id, &GrantId::from(grant.as_str()), &session.ctx)
        .await
    {
        Ok(_) => see_other(&format!("/ui/secrets/{id}")),
        Err(e) => error_page(e),
    }
}
