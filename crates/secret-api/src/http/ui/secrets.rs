//! The secret views: the list (§13.2) with its filters, tag chips and paging; a secret's
//! detail with its masked display, versions and grants; reveal (an audited read), soft
//! delete and restore. Every action goes through `SecretService` as the API's do, so the
//! audit trail is the same.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use secret_access::Action;
use secret_core::model::{ListSecretsParams, SecretMetadata};
use secret_core::{SecretId, SecretScope, SecretType};
use serde::Deserialize;
use zeroize::Zeroizing;

use super::super::AppState;
use super::pages::{
    Card, DetailPage, Filters, GrantRow, ListPage, VersionRow, enc, error_page, grantee_types,
    non_empty, scope_choices, title, type_choices,
};
use super::session::CsrfForm;
use super::{UiSession, page, see_other};

/// Secrets per page of the list.
const PAGE_SIZE: u64 = 20;

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    scope: Option<String>,
    #[serde(rename = "type")]
    secret_type: Option<String>,
    search: Option<String>,
    tag: Option<String>,
    page: Option<u64>,
}

/// `GET /ui/secrets`: the secrets the caller can see, filtered and paged.
pub(crate) async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<ListQuery>,
) -> HttpResponse {
    let session = or_answer!(UiSession::of(&req));
    let scope = non_empty(q.scope.as_deref()).and_then(|s| s.parse::<SecretScope>().ok());
    let secret_type =
        non_empty(q.secret_type.as_deref()).and_then(|s| s.parse::<SecretType>().ok());
    let search = non_empty(q.search.as_deref()).map(str::to_string);
    let tag = non_empty(q.tag.as_deref()).map(str::to_string);
    let params = ListSecretsParams {
        scope,
        secret_type,
        tags: tag.iter().cloned().collect(),
        search: search.clone(),
        include_deleted: false,
        page: Some(q.page.unwrap_or(1).max(1)),
        limit: Some(PAGE_SIZE),
    };
    let found = match state.service.list_secrets(&params, &session.ctx).await {
        Ok(f) => f,
        Err(e) => return error_page(e),
    };
    let now = chrono::Utc::now();
    let mut cards = Vec::with_capacity(found.items.len());
    for meta in &found.items {
        let allowed = state
            .service
            .allowed_actions(meta, &session.ctx)
            .await
            .unwrap_or_default();
        cards.push(Card::of(meta, &allowed, now));
    }
    let mut query = Vec::new();
    if let Some(s) = scope {
        query.push(format!("scope={}", s.as_str()));
    }
    if let Some(t) = secret_type {
        query.push(format!("type={}", t.as_str()));
    }
    if let Some(s) = &search {
        query.push(format!("search={}", enc(s)));
    }
    if let Some(t) = &tag {
        query.push(format!("tag={}", enc(t)));
    }
    let total = found.total;
    let html = ListPage {
        user: session.user(),
        csrf: &session.csrf,
        admin: session.may_audit(),
        filters: Filters {
            scopes: scope_choices(scope),
            types: type_choices(secret_type),
            search: search.unwrap_or_default(),
            tag: tag.unwrap_or_default(),
            query: query.join("&"),
        },
        cards,
        page: params.page.unwrap_or(1),
        pages: total.div_ceil(PAGE_SIZE).max(1),
        total,
    }
    .render();
    page(StatusCode::OK, html)
}

/// The detail page of secret `id`, with `revealed` shown when the caller asked for it.
async fn detail_page(
    state: &AppState,
    session: &UiSession,
    id: &SecretId,
    revealed: Option<Zeroizing<String>>,
    notice: Option<String>,
) -> HttpResponse {
    let ctx = &session.ctx;
    let meta: SecretMetadata = match state.service.get_metadata(id, ctx).await {
        Ok(m) => m,
        Err(e) => return error_page(e),
    };
    let allowed = state
        .service
        .allowed_actions(&meta, ctx)
        .await
        .unwrap_or_default();
    let versions = match state.service.list_versions(id, ctx).await {
        Ok(v) => v
            .into_iter()
            .map(|v| VersionRow {
                version: v.version,
                current: v.is_current,
                reason: v.change_reason.unwrap_or_default(),
                created: v.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                by: v.created_by_id,
            })
            .collect(),
        Err(e) => return error_page(e),
    };
    let grants = if allowed.contains(&Action::Grant) {
        match state.service.list_access_grants(id, ctx).await {
            Ok(g) => Some(
                g.into_iter()
                    .map(|g| {
                        let perms: Vec<&str> = [
                            (g.can_read, "read"),
                            (g.can_update, "update"),
                            (g.can_delete, "delete"),
                            (g.can_grant, "grant"),
                        ]
                        .into_iter()
                        .filter_map(|(on, p)| on.then_some(p))
                        .collect();
                        GrantRow {
                            id: g.id.to_string(),
                            grantee: format!("{} {}", title(g.grantee_type.as_str()), g.grantee_id),
                            permissions: perms.join(", "),
                            expires: g.expires_at.map_or_else(
                                || "never".to_string(),
                                |t| t.format("%Y-%m-%d").to_string(),
                            ),
                        }
                    })
                    .collect(),
            ),
            Err(e) => return error_page(e),
        }
    } else {
        None
    };
    let now = chrono::Utc::now();
    let usage = meta.usage.clone().unwrap_or_default();
    let html = DetailPage {
        last_used: usage.last_used_at.map_or_else(
            || "never".to_string(),
            |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
        ),
        used_by: usage.consumer_modules,
        user: session.user(),
        csrf: &session.csrf,
        admin: session.may_audit(),
        version: meta.current_version,
        vault: meta.vault_id.to_string(),
        masked: meta.masked_value.clone().unwrap_or_default(),
        revealed,
        can_read: allowed.contains(&Action::Read) && !meta.is_deleted(),
        versions,
        grants,
        grantee_types: grantee_types(),
        notice,
        card: Card::of(&meta, &allowed, now),
    }
    .render();
    page(StatusCode::OK, html)
}

/// `GET /ui/secrets/{id}`.
pub(crate) async fn detail(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    let session = or_answer!(UiSession::of(&req));
    detail_page(&state, &session, &SecretId::from(id.as_str()), None, None).await
}

/// `POST /ui/secrets/{id}/reveal`: the current value, read (and audited) as the API's
/// value read is, shown on a page that reloads itself masked after 30 seconds.
pub(crate) async fn reveal(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let session = or_answer!(form.session(&req));
    let id = SecretId::from(id.as_str());
    let value = match state.service.get_secret_value(&id, &session.ctx).await {
        Ok(v) => v.value,
        Err(e) => return error_page(e),
    };
    let shown = match value.to_json_bytes() {
        Ok(bytes) => Zeroizing::new(
            serde_json::from_slice::<serde_json::Value>(&bytes)
                .map(|mut v| {
                    // The page names the type already.
                    if let Some(o) = v.as_object_mut() {
                        o.remove("type");
                    }
                    v
                })
                .and_then(|v| serde_json::to_string_pretty(&v))
                .unwrap_or_default(),
        ),
        Err(e) => return error_page(e),
    };
    detail_page(&state, &session, &id, Some(shown), None).await
}

/// `POST /ui/secrets/{id}/delete`: soft delete (restorable for the recovery window).
pub(crate) async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let session = or_answer!(form.session(&req));
    let id = SecretId::from(id.as_str());
    match state.service.delete_secret(&id, None, &session.ctx).await {
        Ok(_) => see_other(&format!("/ui/secrets/{}", enc(id.as_str()))),
        Err(e) => error_page(e),
    }
}

/// `POST /ui/secrets/{id}/restore`.
pub(crate) async fn restore(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let session = or_answer!(form.session(&req));
    let id = SecretId::from(id.as_str());
    match state.service.restore_secret(&id, &session.ctx).await {
        Ok(_) => see_other(&format!("/ui/secrets/{}", enc(id.as_str()))),
        Err(e) => error_page(e),
    }
}

#[derive(Deserialize)]
pub(crate) struct RollbackForm {
    csrf: String,
    version: i64,
    expected: Option<i64>,
}

/// `POST /ui/secrets/{id}/rollback`: an earlier version's value as a new version.
pub(crate) async fn rollback(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<RollbackForm>,
) -> HttpResponse {
    let session = or_answer!(UiSession::of(&req));
    or_answer!(session.check_csrf(&form.csrf));
    let id = SecretId::from(id.as_str());
    match state
        .service
        .rollback_secret(&id, form.version, form.expected, &session.ctx)
        .await
    {
        Ok(_) => see_other(&format!("/ui/secrets/{}", enc(id.as_str()))),
        Err(e) => error_page(e),
    }
}

#[derive(Deserialize)]
pub(crate) struct PurgeForm {
    csrf: String,
    /// The secret's name typed again, as the confirmation.
    confirm: String,
}

/// `POST /ui/secrets/{id}/purge`: permanent delete of a soft-deleted secret, once its name
/// is typed again; the service asks for an authentication under five minutes old.
pub(crate) async fn purge(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<PurgeForm>,
) -> HttpResponse {
    let session = or_answer!(UiSession::of(&req));
    or_answer!(session.check_csrf(&form.csrf));
    let id = SecretId::from(id.as_str());
    let meta = match state.service.get_metadata(&id, &session.ctx).await {
        Ok(m) => m,
        Err(e) => return error_page(e),
    };
    if form.confirm.trim() != meta.name {
        return error_page(secret_core::SecretError::validation(
            "confirm",
            "must be the secret's name, typed again, to delete it for good",
        ));
    }
    match state
        .service
        .permanently_delete_secret(&id, &session.ctx)
        .await
    {
        Ok(()) => see_other("/ui/secrets"),
        Err(e) => error_page(e),
    }
}
