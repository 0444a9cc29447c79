//! The REST layer (part 2 §12, ARCHITECTURE §5): actix-web routes over [`SecretService`],
//! bearer-token authentication, the error envelope, rate limiting of value reads,
//! optimistic concurrency, the OpenAPI document, health, readiness and metrics.
//!
//! Handlers only parse the request, build the caller's [`SecretContext`](secret_core::SecretContext),
//! call [`SecretService`] and shape the answer. Everything else lives in one place each: the
//! mapping of errors to statuses in `error`, the request id, tracing span, metrics and
//! security headers in `observe`, authentication in `extract`.

mod access;
mod audit;
mod error;
mod events;
mod extract;
#[doc(hidden)]
pub mod fuzzing;
mod json_body;
mod metrics;
mod migrations;
mod observe;
mod openapi;
mod ops;
mod proxy;
mod rate_limit;
mod refusals;
mod resolve;
mod secrets;
mod transfer;
mod ui;
mod vaults;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::{App, HttpServer, web};
use secret_access::TokenVerifier;

use crate::SecretService;

pub use openapi::openapi_json;

/// Value reads a user may make per minute unless configured otherwise (§14.3).
pub const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = 100;

/// The largest request body accepted unless configured otherwise, in bytes.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
pub use events::DEFAULT_HEARTBEAT as DEFAULT_EVENT_HEARTBEAT;
pub use proxy::{Cidr, parse_cidrs};
pub use transfer::IMPORT_MAX_BODY_BYTES;

/// Settings of the HTTP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    /// Value reads (`GET .../value`, `GET .../versions/{v}`) allowed per user in any sliding
    /// minute; `0` disables the limit.
    pub rate_limit_per_minute: u32,
    /// The largest request body accepted, in bytes; larger bodies get 413 PAYLOAD_TOO_LARGE.
    pub max_body_bytes: usize,
    /// Worker threads; `None` uses actix's default (one per physical core).
    pub workers: Option<usize>,
    /// The window over which a caller's rate-limited value reads past the first are
    /// summarised in one audit record (default one minute).
    pub refusal_window: std::time::Duration,
    /// How often `GET /api/secrets/events` sends a heartbeat and checks the caller's token
    /// again (the stream ends once it no longer verifies).
    pub event_heartbeat: std::time::Duration,
    /// The load balancers and proxies whose `X-Forwarded-For` gives the client address
    /// recorded in audit records; empty (the default) trusts none and records the peer.
    pub trusted_proxies: Vec<Cidr>,
    /// In development only (`--dev`): the issuer with which the web UI's dev sign-in page
    /// mints a token for a chosen principal. `None` (the default) has no such page.
    pub dev_sign_in: Option<DevSignIn>,
}

/// The token issuer of the web UI's development sign-in page (see
/// [`HttpSettings::dev_sign_in`]).
#[derive(Clone)]
pub struct DevSignIn(pub(crate) Arc<secret_access::TokenIssuer>);

impl DevSignIn {
    /// A dev sign-in page minting tokens with `issuer`.
    pub fn new(issuer: secret_access::TokenIssuer) -> Self {
        DevSignIn(Arc::new(issuer))
    }
}

impl std::fmt::Debug for DevSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DevSignIn(..)")
    }
}

impl PartialEq for DevSignIn {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for DevSignIn {}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            rate_limit_per_minute: DEFAULT_RATE_LIMIT_PER_MINUTE,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            workers: None,
            refusal_window: refusals::WINDOW,
            event_heartbeat: events::DEFAULT_HEARTBEAT,
            trusted_proxies: Vec::new(),
            dev_sign_in: None,
        }
    }
}

/// What every handler shares: the service, the token verifier, the limiter and the metrics.
pub(crate) struct AppState {
    pub(crate) service: SecretService,
    pub(crate) verifier: TokenVerifier,
    pub(crate) limiter: rate_limit::RateLimiter,
    pub(crate) refusals: Arc<refusals::RefusalDigest>,
    pub(crate) metrics: Arc<metrics::Metrics>,
    pub(crate) openapi: web::Bytes,
    pub(crate) max_body_bytes: usize,
    pub(crate) event_heartbeat: std::time::Duration,
    pub(crate) trusted_proxies: Vec<Cidr>,
    /// The web UI's dev sign-in issuer, in `--dev` only.
    pub(crate) dev_sign_in: Option<DevSignIn>,
}

/// Builds the actix server on an already-bound listener (port 0 works); the caller awaits it.
///
/// actix's default signal handling gives graceful shutdown on SIGTERM/SIGINT: the listener
/// stops accepting and in-flight requests finish (up to 30 s).
pub fn serve(
    listener: TcpListener,
    service: SecretService,
    verifier: TokenVerifier,
    settings: HttpSettings,
) -> std::io::Result<actix_web::dev::Server> {
    let openapi =
        openapi_json().map_err(|e| std::io::Error::other(format!("OpenAPI document: {e}")))?;
    let max_body_bytes = settings.max_body_bytes;
    let refusals = Arc::new(refusals::RefusalDigest::new(settings.refusal_window));
    refusals::spawn_sweeper(&refusals, service.clone());
    service.run_migrations_in_background();
    let state = web::Data::new(AppState {
        service,
        verifier,
        limiter: rate_limit::RateLimiter::new(settings.rate_limit_per_minute),
        refusals,
        metrics: Arc::new(metrics::Metrics::default()),
        openapi: web::Bytes::from(openapi),
        max_body_bytes,
        event_heartbeat: settings.event_heartbeat,
        trusted_proxies: settings.trusted_proxies,
        dev_sign_in: settings.dev_sign_in,
    });
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(extract::json_config(max_body_bytes))
            .app_data(web::PayloadConfig::new(max_body_bytes))
            .app_data(web::FormConfig::default().limit(max_body_bytes))
            .wrap(actix_web::middleware::from_fn(observe::observe))
            .configure(|cfg| routes(cfg, max_body_bytes))
            .configure(ui::routes)
            .default_service(web::to(ops::route_not_found))
    });
    if let Some(workers) = settings.workers {
        server = server.workers(workers.max(1));
    }
    Ok(server.listen(listener)?.run())
}

/// Registers every route. Literal routes under `/api/secrets` come before the `{id}` routes
/// so that a secret id can never capture them.
fn routes(cfg: &mut web::ServiceConfig, max_body_bytes: usize) {
    cfg.service(resource("/healthz").route(web::get().to(ops::healthz)))
        .service(resource("/readyz").route(web::get().to(ops::readyz)))
        .service(resource("/metrics").route(web::get().to(ops::metrics)))
        .service(resource("/api/openapi.json").route(web::get().to(ops::openapi)));
    audit::routes(cfg);
    migrations::routes(cfg);
    resolve::routes(cfg);
    events::routes(cfg);
    transfer::routes(cfg, max_body_bytes);
    vaults::routes(cfg);
    cfg.service(
        resource("/api/secrets")
            .route(web::get().to(secrets::list_secrets))
            .route(web::post().to(secrets::create_secret)),
    )
    .service(
        resource("/api/secrets/{id}")
            .route(web::get().to(secrets::get_metadata))
            .route(web::put().to(secrets::update_secret))
            .route(web::delete().to(secrets::delete_secret)),
    )
    .service(
        resource("/api/secrets/{id}/value")
            .route(web::get().to(secrets::get_value))
            .route(web::put().to(secrets::update_value)),
    )
    .service(resource("/api/secrets/{id}/restore").route(web::post().to(secrets::restore_secret)))
    .service(
        resource("/api/secrets/{id}/permanent")
            .route(web::delete().to(secrets::permanently_delete_secret)),
    )
    .service(resource("/api/secrets/{id}/rotate").route(web::post().to(secrets::rotate_secret)))
    .service(resource("/api/secrets/{id}/versions").route(web::get().to(secrets::list_versions)))
    .service(
        resource("/api/secrets/{id}/versions/{version}")
            .route(web::get().to(secrets::get_version_value)),
    )
    .service(resource("/api/secrets/{id}/rollback").route(web::post().to(secrets::rollback_secret)))
    .service(
        resource("/api/secrets/{id}/access")
            .route(web::get().to(access::list_grants))
            .route(web::post().to(access::grant_access)),
    )
    .service(
        resource("/api/secrets/{id}/access/{grantId}")
            .route(web::delete().to(access::revoke_access)),
    );
}

/// A resource whose unsupported methods answer 405 with the error envelope.
fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(ops::method_not_allowed))
}
