//! `GET /api/secrets/events`: the changes of the secrets the caller may see, as server-sent
//! events, so that a client drops a cached value as soon as it is stale (issue 13).
//!
//! - `event: secret-changed` with `data: {"secretId","version","change"}` (`UPDATED`,
//!   `DELETED` or `ACCESS_CHANGED`); never a value, never a secret the caller may not see
//!   (as it stands, or as it stood before the change: a revoked grantee hears of its
//!   revocation).
//! - `event: resync` with `data: {}` when changes may have been missed (this server's feed
//!   reconnected, or the client fell too far behind): drop everything cached.
//! - A comment line every heartbeat keeps proxies from closing the stream; the token is
//!   checked again at each one and the stream ends once it no longer verifies (expired),
//!   so a client reconnects with a fresh token.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use futures::stream;
use secret_core::Principal;
use secret_core::wire::{SECRET_CHANGED_EVENT, SecretChanged};
use tokio::sync::broadcast::error::RecvError;
use zeroize::Zeroizing;

use super::AppState;
use super::error::{ApiResult, ErrorResponse};
use super::extract::{Caller, bearer_token};
use crate::{Announcement, SecretService};

/// How often a comment is sent (and the token checked again) unless configured otherwise.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);
/// How long a new subscription waits for the change feed to be connected.
const FEED_WAIT: Duration = Duration::from_secs(5);

/// Registers the route (before `/api/secrets/{id}`).
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/api/secrets/events").route(web::get().to(events)));
}

struct Subscription {
    changes: tokio::sync::broadcast::Receiver<Announcement>,
    principal: Principal,
    token: Zeroizing<String>,
    state: web::Data<AppState>,
    heartbeat: tokio::time::Interval,
    started: bool,
    /// Whether to tell the client to resynchronise right after it subscribed (the feed
    /// was not connected: changes may be missed until it is).
    resync_first: bool,
}

fn frame(event: &str, data: &str) -> web::Bytes {
    web::Bytes::from(format!("event: {event}\ndata: {data}\n\n"))
}

fn changed(event: &SecretChanged) -> Option<web::Bytes> {
    serde_json::to_string(event)
        .ok()
        .map(|data| frame(SECRET_CHANGED_EVENT, &data))
}

impl Subscription {
    /// The next frame to send, or `None` to end the stream.
    async fn next(&mut self, service: &SecretService) -> Option<web::Bytes> {
        if !self.started {
            self.started = true;
            return Some(web::Bytes::from_static(b"retry: 2000\n: subscribed\n\n"));
        }
        if std::mem::take(&mut self.resync_first) {
            return Some(frame("resync", "{}"));
        }
        loop {
            tokio::select! {
                announcement = self.changes.recv() => match announcement {
                    Ok(Announcement::Secret { event, audience }) => {
                        if audience.includes(&self.principal, service.now()) {
                            return changed(&event);
                        }
                    }
                    Ok(Announcement::Resync) | Err(RecvError::Lagged(_)) => {
                        return Some(frame("resync", "{}"));
                    }
                    Err(RecvError::Closed) => return None,
                },
                _ = self.heartbeat.tick() => {
                    if self.state.verifier.verify(&self.token).is_err() {
                        return None;
                    }
                    return Some(web::Bytes::from_static(b": keep-alive\n\n"));
                }
            }
        }
    }
}

/// Streams the changes of the secrets the caller may see.
#[utoipa::path(
    get, path = "/api/secrets/events", tag = "secrets",
    responses(
        (status = 200, description = "A `text/event-stream` of `secret-changed` events (`data` is a SecretChanged) and `resync` events", content_type = "text/event-stream", body = SecretChanged),
        (status = 401, description = "No or invalid token", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn events(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
) -> ApiResult {
    let service = state.service.clone();
    // Subscribed means nothing committed from now on is missed: the feed must be up (it
    // is, but for the first moments after start, or while the database is unreachable,
    // when the stream starts with `resync` instead).
    let live = service.wait_for_change_feed(FEED_WAIT).await;
    let mut heartbeat = tokio::time::interval(state.event_heartbeat);
    heartbeat.reset();
    let token = Zeroizing::new(
        bearer_token(req.headers())
            .map_err(|e| caller.error(e))?
            .to_owned(),
    );
    let subscription = Subscription {
        changes: service.subscribe_changes(),
        principal: caller.ctx.principal.clone(),
        token,
        state: state.clone(),
        heartbeat,
        started: false,
        resync_first: !live,
    };
    tracing::debug!(user_id = %caller.ctx.user_id(), "change stream opened");
    let frames = stream::unfold(
        (subscription, service),
        |(mut subscription, service)| async move {
            let frame = subscription.next(&service).await?;
            Some((Ok::<_, actix_web::Error>(frame), (subscription, service)))
        },
    );
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(frames))
}
