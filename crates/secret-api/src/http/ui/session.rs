//! The UI's session: sign-in (a bearer token exchanged for the `sm_session` cookie),
//! sign-out, the signed-in caller of each page, and the CSRF tokens of its forms.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use hmac::{Hmac, KeyInit, Mac};
use secret_core::{SecretContext, SecretError};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::super::extract::{Caller, request_id_of, state_of};
use super::pages::{SignInPage, error_page};
use super::{page, see_other};

/// The session cookie: the bearer token itself.
const SESSION_COOKIE: &str = "sm_session";
/// The sign-in form's double-submit cookie.
const SIGN_IN_COOKIE: &str = "sm_sign_in";
/// The consumer module the UI's operations are recorded under.
pub(crate) const UI_MODULE: &str = "web-ui";
/// The longest token accepted from the sign-in form, in bytes.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The answer a page gives instead when its caller is not signed in or its form is
/// refused.
pub(crate) type Refused = Box<HttpResponse>;

/// The signed-in caller of a page.
pub(crate) struct UiSession {
    /// The context every service call of this request uses.
    pub(crate) ctx: SecretContext,
    /// The CSRF token its forms post.
    pub(crate) csrf: String,
}

impl UiSession {
    /// The caller signed in on `req`, or the answer to give instead: the sign-in page
    /// (no session, or its token no longer verifies) or an error page.
    pub(crate) fn of(req: &HttpRequest) -> Result<UiSession, Refused> {
        let Some(cookie) = req.cookie(SESSION_COOKIE) else {
            return Err(Box::new(see_other("/ui/sign-in")));
        };
        let token = Zeroizing::new(cookie.value().to_string());
        let state = state_of(req).map_err(|e| Box::new(error_page(e)))?;
        let Ok(principal) = state.verifier.verify(&token) else {
            return Err(Box::new(see_other("/ui/sign-in?expired=1")));
        };
        let request_id = request_id_of(req);
        let ctx = Caller::context_of(req, principal, UI_MODULE.to_string(), &request_id)
            .map_err(|e| Box::new(error_page(e)))?;
        Ok(UiSession {
            ctx,
            csrf: csrf_for(&token),
        })
    }

    /// The caller of a posted form, once the form's `csrf` field checks out.
    pub(crate) fn posted(
        req: &HttpRequest,
        form: &super::forms::Posted,
    ) -> Result<UiSession, Refused> {
        let session = UiSession::of(req)?;
        session.check_csrf(form.raw("csrf").unwrap_or_default())?;
        Ok(session)
    }

    /// Refuses a form whose `csrf` is not this session's (403).
    pub(crate) fn check_csrf(&self, posted: &str) -> Result<(), Refused> {
        if bool::from(self.csrf.as_bytes().ct_eq(posted.as_bytes())) {
            Ok(())
        } else {
            Err(Box::new(error_page(SecretError::AccessDenied {
                reason: "the form's CSRF token is missing or wrong; reload the page and try again"
                    .to_string(),
            })))
        }
    }

    /// Whether the caller may read audit records (a super admin or an organization's
    /// admin): the audit view is in its navigation.
    pub(crate) fn may_audit(&self) -> bool {
        secret_access::audit_org_filter(&self.ctx.principal).is_none_or(|orgs| !orgs.is_empty())
    }

    /// The signed-in user's id, for the page header.
    pub(crate) fn user(&self) -> &str {
        &self.ctx.principal.user_id
    }
}

/// The CSRF token of the session whose token is `token`.
fn csrf_for(token: &str) -> String {
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(token.as_bytes()) else {
        return String::new();
    };
    mac.update(b"secret-manager web UI CSRF v1");
    hex(&mac.finalize().into_bytes())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn secure(req: &HttpRequest) -> bool {
    req.connection_info().scheme() == "https"
}

#[derive(Deserialize)]
pub(crate) struct SignInQuery {
    expired: Option<String>,
}

/// `GET /ui/sign-in`.
pub(crate) async fn sign_in_page(req: HttpRequest, q: web::Query<SignInQuery>) -> HttpResponse {
    let notice = q
        .expired
        .as_ref()
        .map(|_| "Your session has ended: sign in again.".to_string());
    sign_in_form(&req, StatusCode::OK, notice, None)
}

fn sign_in_form(
    req: &HttpRequest,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> HttpResponse {
    let dev = state_of(req).is_ok_and(|s| s.dev_sign_in.is_some());
    with_nonce(req, status, |csrf| {
        SignInPage {
            csrf,
            notice,
            error,
            dev,
        }
        .render()
    })
}

/// A sign-in page (`render` gets its form token) with the double-submit cookie that the
/// form's token must match when posted.
pub(crate) fn with_nonce(
    req: &HttpRequest,
    status: StatusCode,
    render: impl FnOnce(&str) -> askama::Result<String>,
) -> HttpResponse {
    let mut nonce = [0u8; 32];
    if getrandom::fill(&mut nonce).is_err() {
        return error_page(SecretError::internal("the system random source failed"));
    }
    let csrf = hex(&nonce);
    let mut res = page(status, render(&csrf));
    let cookie = Cookie::build(SIGN_IN_COOKIE, csrf)
        .path("/ui")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure(req))
        .max_age(CookieDuration::minutes(30))
        .finish();
    if res.add_cookie(&cookie).is_err() {
        return error_page(SecretError::internal("a cookie could not be set"));
    }
    res
}

/// Whether a sign-in form's posted token matches its double-submit cookie.
pub(crate) fn nonce_fresh(req: &HttpRequest, posted: &str) -> bool {
    req.cookie(SIGN_IN_COOKIE).is_some_and(|c| {
        !posted.is_empty() && bool::from(c.value().as_bytes().ct_eq(posted.as_bytes()))
    })
}

/// Signs in with `token` (already verified or just minted): the session cookie, the spent
/// form cookie removed, and on to the secrets.
pub(crate) fn start_session(req: &HttpRequest, token: &str) -> HttpResponse {
    let mut res = see_other("/ui/secrets");
    let session = Cookie::build(SESSION_COOKIE, token.to_string())
        .path("/ui")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure(req))
        .finish();
    let mut spent = Cookie::build(SIGN_IN_COOKIE, "").path("/ui").finish();
    spent.make_removal();
    if res.add_cookie(&session).is_err() || res.add_cookie(&spent).is_err() {
        return error_page(SecretError::internal("a cookie could not be set"));
    }
    res
}

#[derive(Deserialize)]
pub(crate) struct SignInForm {
    token: String,
    csrf: String,
}

/// `POST /ui/sign-in`: checks the form's double-submit token and the bearer token
/// (exactly as the API verifies it), then sets the session cookie.
pub(crate) async fn sign_in(req: HttpRequest, form: web::Form<SignInForm>) -> HttpResponse {
    let form = form.into_inner();
    let posted = Zeroizing::new(form.token);
    if !nonce_fresh(&req, &form.csrf) {
        return sign_in_form(
            &req,
            StatusCode::FORBIDDEN,
            None,
            Some("The sign-in form had expired: try again.".to_string()),
        );
    }
    let token = posted.trim();
    if token.is_empty() || token.len() > MAX_TOKEN_BYTES {
        return sign_in_form(
            &req,
            StatusCode::BAD_REQUEST,
            None,
            Some("Paste a bearer token to sign in.".to_string()),
        );
    }
    let state = match state_of(&req) {
        Ok(s) => s,
        Err(e) => return error_page(e),
    };
    if let Err(e) = state.verifier.verify(token) {
        let reason = match e {
            SecretError::Unauthenticated { reason } => reason,
            _ => "the token was not accepted".to_string(),
        };
        return sign_in_form(
            &req,
            StatusCode::UNAUTHORIZED,
            None,
            Some(format!("That token was not accepted: {reason}.")),
        );
    }
    start_session(&req, token)
}

#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    /// Missing is refused as a wrong one is (403), not as a malformed form.
    #[serde(default)]
    pub(crate) csrf: String,
}

impl CsrfForm {
    /// The caller of this posted form, once its CSRF token checks out.
    pub(crate) fn session(&self, req: &HttpRequest) -> Result<UiSession, Refused> {
        let session = UiSession::of(req)?;
        session.check_csrf(&self.csrf)?;
        Ok(session)
    }
}

/// `POST /ui/sign-out`: removes the session cookie.
pub(crate) async fn sign_out(req: HttpRequest, form: web::Form<CsrfForm>) -> HttpResponse {
    let session = or_answer!(UiSession::of(&req));
    or_answer!(session.check_csrf(&form.csrf));
    let mut res = see_other("/ui/sign-in");
    let mut gone = Cookie::build(SESSION_COOKIE, "").path("/ui").finish();
    gone.make_removal();
    if res.add_cookie(&gone).is_err() {
        return error_page(SecretError::internal("a cookie could not be set"));
    }
    res
}
