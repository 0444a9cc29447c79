//! Changes across processes (ARCHITECTURE §8): every write publishes a
//! [`Change`] in its own transaction ([`SecretService::commit_with`]), and every service
//! follows the feed of the processes sharing its database (another server replica, the
//! scheduler): a changed secret leaves the read cache, a changed vault configuration drops
//! its backend client, a key-ring change reloads the data keys, and a feed that may have
//! missed changes (it started, or its connection came back) forgets all three. The same
//! feed is what `GET /api/secrets/events` streams to clients, filtered per caller.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};
use secret_access::{Action, Decision, decide};
use secret_core::model::{AccessGrant, SecretMetadata};
use secret_core::wire::SecretChanged;
use secret_core::{Principal, SecretError};
use secret_store::{Change, ChangeFeed, Database, FeedEvent, WriteTx};
use tokio::sync::{broadcast, oneshot};

use super::{Inner, Result, SecretService};

/// How many announcements a slow event-stream subscriber may fall behind before it is told
/// to resynchronise.
const ANNOUNCE_BUFFER: usize = 1024;
const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(5);

/// What the event stream hears from the feed.
#[derive(Debug, Clone)]
pub enum Announcement {
    /// A secret changed; `audience` decides who may hear of it.
    Secret {
        event: SecretChanged,
        audience: Arc<Audience>,
    },
    /// Changes may have been missed: a subscriber should forget everything it cached.
    Resync,
}

/// Who may hear of a change: those who may see the secret as it now stands, or as it stood
/// before the change (a revoked grantee, the readers of a purged secret).
#[derive(Debug, Default)]
pub struct Audience {
    metadata: Option<SecretMetadata>,
    grants: Vec<AccessGrant>,
}

impl Audience {
    /// Whether `principal` may hear of the change at `now`.
    pub fn includes(&self, principal: &Principal, now: DateTime<Utc>) -> bool {
        self.metadata.as_ref().is_some_and(|meta| {
            decide(principal, Action::ViewMetadata, meta, &self.grants, now) == Decision::Allow
        })
    }
}

/// The state of this service's change feed, for `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeFeedStatus {
    /// Whether this service follows the feed at all (see `CacheConfig::follow_changes`).
    pub following: bool,
    /// Whether the feed is connected (false before its first read and while it is down).
    pub connected: bool,
    /// Since when it has been down, if it is.
    pub down_since: Option<DateTime<Utc>>,
    /// The last error, while it is down (never a secret: a database error).
    pub last_error: Option<String>,
    /// How stale a cached entry can be while the feed is down (the cache's TTL).
    pub staleness_bound: Duration,
}

/// The service's side of the feed: its status and the announcements to subscribers.
#[derive(Debug)]
pub(crate) struct Follower {
    /// This service instance's id in what it publishes: it applies its own changes at
    /// commit, so it skips them (but for announcing them) when the feed brings them back.
    pub(crate) origin: String,
    status: Mutex<ChangeFeedStatus>,
    announce: broadcast::Sender<Announcement>,
    /// Dropped with the service, which stops the feed's task.
    _stop: Option<oneshot::Sender<()>>,
}

impl Follower {
    /// A follower; with `follow`, also the receiver that stops its task.
    pub(crate) fn new(
        follow: bool,
        staleness_bound: Duration,
    ) -> (Self, Option<oneshot::Receiver<()>>) {
        let (stop, stopped) = if follow {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        let follower = Follower {
            origin: uuid::Uuid::now_v7().to_string(),
            status: Mutex::new(ChangeFeedStatus {
                following: follow,
                connected: false,
                down_since: None,
                last_error: None,
                staleness_bound,
            }),
            announce: broadcast::channel(ANNOUNCE_BUFFER).0,
            _stop: stop,
        };
        (follower, stopped)
    }

    fn update(&self, f: impl FnOnce(&mut ChangeFeedStatus)) {
        f(&mut self.status.lock().unwrap_or_else(|p| p.into_inner()));
    }
}

/// Starts following `db`'s change feed for the service `inner` until it is dropped.
pub(crate) fn follow(inner: &Arc<Inner>, db: Database, stopped: oneshot::Receiver<()>) {
    let weak = Arc::downgrade(inner);
    tokio::spawn(run(weak, db, stopped));
}

async fn run(weak: Weak<Inner>, db: Database, mut stopped: oneshot::Receiver<()>) {
    let mut feed = ChangeFeed::new(db);
    let mut retry = FIRST_RETRY;
    loop {
        let next = tokio::select! {
            _ = &mut stopped => return,
            next = feed.next() => next,
        };
        let Some(inner) = weak.upgrade() else { return };
        let service = SecretService { inner };
        match next {
            Ok(event) => {
                retry = FIRST_RETRY;
                // Applied first: a subscriber that waited for the feed to be connected
                // must not hear the resynchronisation of a connection older than itself.
                service.apply(event).await;
                service.inner.follower.update(|s| {
                    if !s.connected {
                        tracing::info!("change feed connected");
                    }
                    s.connected = true;
                    s.down_since = None;
                    s.last_error = None;
                });
            }
            Err(err) => {
                let now = service.now();
                service.inner.follower.update(|s| {
                    if s.connected || s.down_since.is_none() {
                        tracing::warn!(error = %err,
                            "change feed down: cached entries are bounded by their TTL until it is back");
                        s.down_since = Some(now);
                    }
                    s.connected = false;
                    s.last_error = Some(err.to_string());
                });
                drop(service);
                tokio::select! {
                    _ = &mut stopped => return,
                    () = tokio::time::sleep(retry) => {}
                }
                retry = (retry * 2).min(LAST_RETRY);
            }
        }
    }
}

impl SecretService {
    /// Publishes `change` in `tx`, commits, and applies it to this process at once (the
    /// others apply it when the feed brings it).
    pub(crate) async fn commit_with(&self, mut tx: WriteTx, changes: &[Change]) -> Result<()> {
        for change in changes {
            tx.publish(change, &self.inner.follower.origin).await?;
        }
        tx.commit().await?;
        for change in changes {
            self.apply_local(change);
        }
        Ok(())
    }

    /// Publishes a change that has already committed (key and vault operations that run
    /// their own transactions), and applies it here. A change that cannot be published is
    /// logged: the other processes see it once their TTL or recheck passes.
    pub(crate) async fn publish_after(&self, change: Change) {
        self.apply_local(&change);
        let origin = &self.inner.follower.origin;
        if let Err(err) = self.inner.repo.database().publish(&change, origin).await {
            tracing::warn!(error = %err, "could not publish a change to the other processes");
        }
    }

    fn apply_local(&self, change: &Change) {
        match change {
            Change::Secret { event, .. } => self.inner.cache.invalidate(&event.secret_id),
            Change::Vault { id } => self.inner.registry.forget(id),
            Change::KeyRing => {}
        }
    }

    /// The state of the change feed.
    pub fn change_feed_status(&self) -> ChangeFeedStatus {
        self.inner
            .follower
            .status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Waits (up to `limit`) until the change feed is connected, so that a subscriber told
    /// it is subscribed misses nothing after that; false if it is not (or not followed).
    pub async fn wait_for_change_feed(&self, limit: Duration) -> bool {
        let start = std::time::Instant::now();
        loop {
            let status = self.change_feed_status();
            if status.connected {
                return true;
            }
            if !status.following || start.elapsed() >= limit {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Subscribes to the changes this service hears of, for the event stream.
    pub fn subscribe_changes(&self) -> broadcast::Receiver<Announcement> {
        self.inner.follower.announce.subscribe()
    }

    async fn apply(&self, event: FeedEvent) {
        match event {
            FeedEvent::Resync => {
                self.inner.cache.clear();
                self.inner.registry.forget_all();
                self.reload_keys().await;
                let _ = self.inner.follower.announce.send(Announcement::Resync);
            }
            FeedEvent::Changed(published) => {
                let own = published.origin == self.inner.follower.origin;
                self.apply_change(published.change, own).await;
            }
        }
    }

    /// Applies a change another process made (`own`: this one, which only announces it).
    async fn apply_change(&self, change: Change, own: bool) {
        match change {
            Change::Secret {
                event,
                removed_grant,
            } => {
                let before = self.inner.cache.peek(&event.secret_id);
                if !own {
                    self.inner.cache.invalidate(&event.secret_id);
                }
                if self.inner.follower.announce.receiver_count() == 0 {
                    return;
                }
                let audience = self.audience(&event.secret_id, before, removed_grant).await;
                let _ = self.inner.follower.announce.send(Announcement::Secret {
                    event,
                    audience: Arc::new(audience),
                });
            }
            Change::Vault { id } if !own => self.inner.registry.forget(&id),
            Change::KeyRing if !own => self.reload_keys().await,
            Change::Vault { .. } | Change::KeyRing => {}
        }
    }

    async fn reload_keys(&self) {
        if let Err(err) = self.inner.keys.refresh().await {
            tracing::warn!(error = %err, "could not reload the key ring after a change");
        }
    }

    /// The secret as it now stands (with every grant it had before, as this process last
    /// saw them, and the one a revocation removed).
    async fn audience(
        &self,
        id: &str,
        before: Option<Arc<crate::cache::Snapshot>>,
        removed: Option<AccessGrant>,
    ) -> Audience {
        let now = async {
            let Some(record) = self.inner.repo.find(id).await? else {
                return Ok::<_, SecretError>(None);
            };
            let grants = self.inner.repo.grants_on(&[id]).await?;
            Ok(Some((record.metadata, grants)))
        }
        .await
        .unwrap_or_else(|err| {
            tracing::warn!(secret_id = %id, error = %err, "could not load a changed secret");
            None
        });
        let (metadata, mut grants) = match (now, &before) {
            (Some((meta, grants)), _) => (Some(meta), grants),
            (None, Some(snap)) => (Some(snap.metadata.clone()), Vec::new()),
            (None, None) => (None, Vec::new()),
        };
        if let Some(snap) = before {
            grants.extend(snap.grants.iter().cloned());
        }
        grants.extend(removed);
        Audience { metadata, grants }
    }
}
