//! The web UI (ARCHITECTURE §11, part 2 §13) under `/ui`: server-rendered pages over
//! [`SecretService`](crate::SecretService), compile-time checked templates (askama), no
//! script, working offline.
//!
//! **Session.** Signing in exchanges a bearer token for the session cookie `sm_session`
//! (HttpOnly, SameSite=Strict, Path=/ui, Secure when the request came over TLS). The
//! cookie carries the token itself, verified exactly as the API verifies it on every
//! request, so the session ends when the token expires and works on every replica.
//!
//! **CSRF.** Every form posts `csrf`: an HMAC-SHA256 of a fixed label under the session
//! token, which a page of another site cannot read (the cookie is HttpOnly). The sign-in
//! form, which has no session yet, uses a random value in its own cookie (double submit).
//!
//! **Headers.** Every page carries a strict Content-Security-Policy (this origin's
//! stylesheet and one script file, no inline script or style; `frame-ancestors 'none'`), `Referrer-Policy:
//! no-referrer` and `X-Frame-Options: DENY`, beside the `Cache-Control: no-store` and
//! `X-Content-Type-Options: nosniff` every response gets.
//!
//! **Values** are never rendered unless the caller asks to reveal one (an audited read);
//! the revealed page reloads itself masked after 30 seconds.

/// The value of a `Result<T, Refused>`, or returns the refusal's page from the handler.
macro_rules! or_answer {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(refused) => return *refused,
        }
    };
}

mod audit;
mod compliance;
mod dev;
mod edit;
mod form_pages;
mod forms;
mod migrate;
mod pages;
mod secrets;
mod session;
mod transfer;
mod vault_edit;
mod vault_fields;
mod vaults;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};

pub(crate) use session::UiSession;

/// The stylesheet, served from `/ui/static/ui.css`.
const STYLESHEET: &str = include_str!("ui.css");

/// The one script, served from `/ui/static/ui.js`: reveal toggles and re-masking only;
/// every action works without it.
const SCRIPT: &str = include_str!("ui.js");

/// The Content-Security-Policy of every page.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                   img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; \
                   base-uri 'none'";

/// Registers the UI's routes.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/ui").route(web::get().to(home)))
        .service(web::resource("/ui/").route(web::get().to(home)))
        .service(web::resource("/ui/static/ui.css").route(web::get().to(stylesheet)))
        .service(
            web::resource("/ui/sign-in")
                .route(web::get().to(session::sign_in_page))
                .route(web::post().to(session::sign_in)),
        )
        .service(web::resource("/ui/sign-out").route(web::post().to(session::sign_out)))
        .service(
            web::resource("/ui/dev/sign-in")
                .route(web::get().to(dev::dev_page))
                .route(web::post().to(dev::dev_sign_in)),
        )
        .service(web::resource("/ui/static/ui.js").route(web::get().to(script)))
        .service(
            web::resource("/ui/import")
                .route(web::get().to(transfer::import_form))
                .route(web::post().to(transfer::import)),
        )
        .service(
            web::resource("/ui/export")
                .route(web::get().to(transfer::export_form))
                .route(web::post().to(transfer::export)),
        )
        .service(web::resource("/ui/vaults").route(web::get().to(vaults::list)))
        .service(
            web::resource("/ui/vaults/new")
                .route(web::get().to(vault_edit::new_form))
                .route(web::post().to(vault_edit::create)),
        )
        .service(web::resource("/ui/vaults/{id}/health").route(web::post().to(vaults::health)))
        .service(
            web::resource("/ui/vaults/{id}/default").route(web::post().to(vaults::make_default)),
        )
        .service(
            web::resource("/ui/vaults/{id}/edit")
                .route(web::get().to(vault_edit::edit_form))
                .route(web::post().to(vault_edit::edit)),
        )
        .service(
            web::resource("/ui/vaults/{id}/migrate")
                .route(web::get().to(migrate::migrate_form))
                .route(web::post().to(migrate::migrate)),
        )
        .service(web::resource("/ui/migrations/{id}").route(web::get().to(migrate::status)))
        .service(
            web::resource("/ui/migrations/{id}/{action}")
                .route(web::post().to(migrate::pause_or_resume)),
        )
        .service(web::resource("/ui/compliance").route(web::get().to(compliance::report)))
        .service(web::resource("/ui/compliance/report.pdf").route(web::get().to(compliance::pdf)))
        .service(web::resource("/ui/audit").route(web::get().to(audit::list)))
        .service(web::resource("/ui/audit/{id}").route(web::get().to(audit::detail)))
        .service(web::resource("/ui/secrets").route(web::get().to(secrets::list)))
        .service(
            web::resource("/ui/secrets/new")
                .route(web::get().to(edit::new_form))
                .route(web::post().to(edit::create)),
        )
        .service(web::resource("/ui/secrets/{id}").route(web::get().to(secrets::detail)))
        .service(web::resource("/ui/secrets/{id}/reveal").route(web::post().to(secrets::reveal)))
        .service(web::resource("/ui/secrets/{id}/delete").route(web::post().to(secrets::delete)))
        .service(web::resource("/ui/secrets/{id}/restore").route(web::post().to(secrets::restore)))
        .service(
            web::resource("/ui/secrets/{id}/rollback").route(web::post().to(secrets::rollback)),
        )
        .service(web::resource("/ui/secrets/{id}/purge").route(web::post().to(secrets::purge)))
        .service(
            web::resource("/ui/secrets/{id}/edit")
                .route(web::get().to(edit::edit_form))
                .route(web::post().to(edit::edit)),
        )
        .service(
            web::resource("/ui/secrets/{id}/rotate")
                .route(web::get().to(edit::rotate_form))
                .route(web::post().to(edit::rotate)),
        )
        .service(web::resource("/ui/secrets/{id}/access").route(web::post().to(edit::grant)))
        .service(
            web::resource("/ui/secrets/{id}/access/{grantId}/revoke")
                .route(web::post().to(edit::revoke)),
        );
}

async fn home() -> HttpResponse {
    see_other("/ui/secrets")
}

async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .body(SCRIPT)
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .body(STYLESHEET)
}

/// A 303 to `location` (after a form post, or to the sign-in page).
pub(crate) fn see_other(location: &str) -> HttpResponse {
    let mut res = HttpResponse::SeeOther().finish();
    if let Ok(v) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    secured(res)
}

/// Adds the UI's security headers to `res`.
pub(crate) fn secured(mut res: HttpResponse) -> HttpResponse {
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    res
}

/// A rendered page with `status`; a template that fails to render is a plain 500 that
/// says nothing of the page's data.
pub(crate) fn page(
    status: actix_web::http::StatusCode,
    html: askama::Result<String>,
) -> HttpResponse {
    match html {
        Ok(body) => secured(
            HttpResponse::build(status)
                .content_type("text/html; charset=utf-8")
                .body(body),
        ),
        Err(e) => {
            tracing::error!(error = %e, "a UI page could not be rendered");
            secured(
                HttpResponse::InternalServerError()
                    .content_type("text/plain; charset=utf-8")
                    .body("The page could not be rendered."),
            )
        }
    }
}
