//! Push invalidation: a background task follows the server's change stream
//! (`GET /api/secrets/events`) and drops each changed secret from the cache as its event
//! arrives, everything on `resync` and whenever the stream (re)connects (changes may have
//! been missed while it was down). It reconnects with backoff, asking the token provider
//! again each time; while it is down the TTL bounds how stale a value can be. It stops when
//! the last clone of the client is dropped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use secret_core::wire::{SECRET_CHANGED_EVENT, SecretChanged};
use tokio::sync::oneshot;

use crate::Inner;
use crate::http::Call;

const FIRST_RETRY: Duration = Duration::from_millis(250);
const LAST_RETRY: Duration = Duration::from_secs(30);

/// The state of the change stream.
#[derive(Default)]
pub(crate) struct Subscription {
    connected: Arc<AtomicBool>,
    /// Whether the first read has waited for the stream already.
    settled: AtomicBool,
    /// Set once the task runs; dropping it (with the client) stops the task.
    stop: Mutex<Option<oneshot::Sender<()>>>,
}

/// How long the first cached read waits for the change stream to connect.
const FIRST_CONNECT_WAIT: Duration = Duration::from_millis(500);

impl Subscription {
    pub(crate) fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    /// Before the stream has ever connected, waits a moment for it: a value cached before
    /// it connects is dropped when it does (changes may have been missed until then), so
    /// the first read would be cached for nothing.
    pub(crate) async fn settle(&self) {
        if self.settled.load(Ordering::Acquire) {
            return;
        }
        let start = std::time::Instant::now();
        while !self.is_connected() && start.elapsed() < FIRST_CONNECT_WAIT {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        self.settled.store(true, Ordering::Release);
    }
}

/// Starts the change stream of `inner` if it should run and does not yet.
pub(crate) fn ensure_started(inner: &Arc<Inner>) {
    if !inner.cache.settings().enabled || !inner.cache.settings().invalidation {
        return;
    }
    let mut stop = inner.events.stop.lock().unwrap_or_else(|p| p.into_inner());
    if stop.is_some() || tokio::runtime::Handle::try_current().is_err() {
        return;
    }
    let (tx, rx) = oneshot::channel();
    *stop = Some(tx);
    tokio::spawn(follow(
        Arc::downgrade(inner),
        inner.events.connected.clone(),
        rx,
    ));
}

/// Applies the frames complete in `buffer` to the cache, leaving any partial one.
fn apply_frames(buffer: &mut String, inner: &Inner) {
    while let Some(end) = buffer.find("\n\n") {
        let frame: String = buffer.drain(..end + 2).collect();
        let mut event = None;
        let mut data = None;
        for line in frame.lines() {
            if let Some(v) = line.strip_prefix("event:") {
                event = Some(v.trim().to_string());
            } else if let Some(v) = line.strip_prefix("data:") {
                data = Some(v.trim().to_string());
            }
        }
        match (event.as_deref(), data) {
            (Some(SECRET_CHANGED_EVENT), Some(data)) => {
                match serde_json::from_str::<SecretChanged>(&data) {
                    Ok(changed) => inner.cache.invalidate(changed.secret_id.as_str()),
                    Err(_) => inner.cache.clear(),
                }
            }
            (Some("resync"), _) => inner.cache.clear(),
            _ => {}
        }
    }
}

async fn follow(weak: Weak<Inner>, connected: Arc<AtomicBool>, mut stop: oneshot::Receiver<()>) {
    let mut retry = FIRST_RETRY;
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let request = inner.stream_request(&Call::get("api/secrets/events")).await;
        drop(inner);
        let response = match request {
            Ok(req) => tokio::select! {
                _ = &mut stop => return,
                sent = req.send() => sent.map_err(|e| e.to_string()),
            },
            Err(err) => Err(err.to_string()),
        };
        match response {
            Ok(mut resp) if resp.status().is_success() => {
                retry = FIRST_RETRY;
                connected.store(true, Ordering::Release);
                if let Some(inner) = weak.upgrade() {
                    inner.cache.clear();
                }
                let mut buffer = String::new();
                loop {
                    let chunk = tokio::select! {
                        _ = &mut stop => return,
                        chunk = resp.chunk() => chunk,
                    };
                    let Ok(Some(bytes)) = chunk else { break };
                    let Some(inner) = weak.upgrade() else { return };
                    buffer.push_str(&String::from_utf8_lossy(&bytes));
                    apply_frames(&mut buffer, &inner);
                }
                connected.store(false, Ordering::Release);
                tracing::info!("change stream ended: reconnecting");
            }
            Ok(resp) => {
                tracing::warn!(status = resp.status().as_u16(), "change stream refused");
            }
            Err(err) => tracing::debug!(error = %err, "change stream: not connected"),
        }
        tokio::select! {
            _ = &mut stop => return,
            () = tokio::time::sleep(retry) => {}
        }
        retry = (retry * 2).min(LAST_RETRY);
    }
}
