//! The change feed (ARCHITECTURE §8): every write to a secret, a vault configuration or the
//! key ring publishes a [`Change`] in its own transaction, and every process sharing the
//! database reads the feed ([`ChangeFeed`]) to drop what it has cached.
//!
//! - **PostgreSQL**: `pg_notify` on the channel [`CHANNEL`], which PostgreSQL delivers when
//!   (and only if) the transaction commits, in commit order, to a listener on a connection
//!   of its own. Notifications sent while the listener's connection is down are lost, so a
//!   feed that (re)connects answers [`FeedEvent::Resync`] first: its reader forgets
//!   everything it cached.
//! - **SQLite** (no NOTIFY): one row of `secret_changes` per change, read by polling past
//!   the last row seen every [`POLL_INTERVAL`]. SQLite has one writer at a time, so rows
//!   commit in `seq` order and a reader that has seen row n has seen every row before it.
//!   Rows older than [`RETENTION`] are pruned; a reader that finds rows missing (it slept
//!   longer than that) answers [`FeedEvent::Resync`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use secret_core::model::AccessGrant;
use secret_core::wire::{ChangeKind, SecretChanged};
use serde::{Deserialize, Serialize};

use crate::db::{Database, DbKind};
use crate::error::{StoreError, StoreResult};

/// The PostgreSQL notification channel.
pub const CHANNEL: &str = "secret_changes";
/// How often a SQLite reader polls the change log.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// How long a SQLite change-log row is kept.
pub const RETENTION: Duration = Duration::from_secs(3600);
const PRUNE_EVERY: Duration = Duration::from_secs(60);
const POLL_LIMIT: i64 = 500;

/// One change, as published and as read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Change {
    /// A secret's value, metadata, state or grants changed.
    Secret {
        event: SecretChanged,
        /// The grant a revocation or expiry removed, so that its holder, who can no longer
        /// see the secret, still hears that access changed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        removed_grant: Option<AccessGrant>,
    },
    /// A vault configuration was changed or deleted.
    Vault { id: String },
    /// The key ring changed (a data key rotated, retired or destroyed).
    KeyRing,
}

impl Change {
    /// A change of secret `id`, now at `version`.
    pub fn secret(id: impl Into<String>, version: Option<i64>, change: ChangeKind) -> Self {
        Change::Secret {
            event: SecretChanged {
                secret_id: id.into(),
                version,
                change,
            },
            removed_grant: None,
        }
    }

    /// An ACCESS_CHANGED of the grant's secret that removed `grant`.
    pub fn grant_removed(grant: &AccessGrant, version: i64) -> Self {
        Change::Secret {
            event: SecretChanged {
                secret_id: grant.secret_id.to_string(),
                version: Some(version),
                change: ChangeKind::AccessChanged,
            },
            removed_grant: Some(grant.clone()),
        }
    }

    /// A change of vault configuration `id`.
    pub fn vault(id: impl Into<String>) -> Self {
        Change::Vault { id: id.into() }
    }
}

/// A change as it travels: with the process that made it, which has applied it already
/// and skips it when the feed brings it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    /// The publishing service's instance id.
    pub origin: String,
    pub change: Change,
}

/// What a [`ChangeFeed`] read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedEvent {
    /// One change, in commit order.
    Changed(Published),
    /// Changes may have been missed (the feed started or reconnected): forget everything.
    Resync,
}

fn encode(published: &Published) -> StoreResult<String> {
    serde_json::to_string(published)
        .map_err(|e| StoreError::corrupt("secret_changes", e.to_string()))
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Publishes `change` by `origin` on `conn` (a transaction: it takes effect when that
/// commits).
pub(crate) async fn publish_on<C: ConnectionTrait>(
    conn: &C,
    change: &Change,
    origin: &str,
) -> StoreResult<()> {
    let payload = encode(&Published {
        origin: origin.to_string(),
        change: change.clone(),
    })?;
    let statement = match conn.get_database_backend() {
        DbBackend::Postgres => Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [CHANNEL.into(), payload.into()],
        ),
        backend => Statement::from_sql_and_values(
            backend,
            "INSERT INTO secret_changes (payload, created_at_ms) VALUES (?, ?)",
            [payload.into(), now_ms().into()],
        ),
    };
    conn.execute_raw(statement).await?;
    Ok(())
}

impl Database {
    /// Publishes `change` by `origin` outside any write transaction (the change it
    /// describes has already committed).
    pub async fn publish(&self, change: &Change, origin: &str) -> StoreResult<()> {
        publish_on(self.conn(), change, origin).await
    }
}

fn listen_err(e: sqlx::Error) -> StoreError {
    StoreError::Db(sea_orm::DbErr::Custom(format!("change feed: {e}")))
}

enum FeedState {
    Sqlite {
        /// The last row read; `None` before the first poll.
        last: Option<i64>,
        queue: VecDeque<FeedEvent>,
        pruned_at: Instant,
    },
    Postgres {
        listener: Option<sqlx::postgres::PgListener>,
    },
}

/// The reader of the changes every process publishes. Call [`ChangeFeed::next`] in a
/// loop; after an error, wait a little and call it again (it reconnects, and a lost
/// PostgreSQL connection is reported as [`FeedEvent::Resync`] once it is back).
pub struct ChangeFeed {
    db: Database,
    state: FeedState,
}

impl std::fmt::Debug for ChangeFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeFeed")
            .field("kind", &self.db.kind())
            .finish_non_exhaustive()
    }
}

fn decode(payload: &str) -> FeedEvent {
    match serde_json::from_str(payload) {
        Ok(change) => FeedEvent::Changed(change),
        Err(e) => {
            tracing::warn!(error = %e, "unreadable change notification: resynchronising");
            FeedEvent::Resync
        }
    }
}

impl ChangeFeed {
    /// A feed of the changes published on `db`. It connects on the first
    /// [`ChangeFeed::next`], which answers [`FeedEvent::Resync`].
    pub fn new(db: Database) -> Self {
        let state = match db.kind() {
            DbKind::Postgres => FeedState::Postgres { listener: None },
            DbKind::Sqlite => FeedState::Sqlite {
                last: None,
                queue: VecDeque::new(),
                pruned_at: Instant::now(),
            },
        };
        ChangeFeed { db, state }
    }

    /// The next change, waiting for one.
    pub async fn next(&mut self) -> StoreResult<FeedEvent> {
        match &mut self.state {
            FeedState::Postgres { listener } => next_notification(&self.db, listener).await,
            FeedState::Sqlite {
                last,
                queue,
                pruned_at,
            } => loop {
                if let Some(event) = queue.pop_front() {
                    return Ok(event);
                }
                let Some(seen) = *last else {
                    *last = Some(max_seq(&self.db).await?);
                    return Ok(FeedEvent::Resync);
                };
                let rows = rows_after(&self.db, seen).await?;
                if let Some((first, _)) = rows.first()
                    && *first != seen + 1
                    && seen > 0
                {
                    queue.push_back(FeedEvent::Resync);
                }
                if let Some((newest, _)) = rows.last() {
                    *last = Some(*newest);
                }
                queue.extend(rows.iter().map(|(_, payload)| decode(payload)));
                if queue.is_empty() {
                    if pruned_at.elapsed() >= PRUNE_EVERY {
                        *pruned_at = Instant::now();
                        prune(&self.db).await?;
                    }
                    tokio::time::sleep(POLL_INTERVAL).await;
                }
            },
        }
    }
}

async fn next_notification(
    db: &Database,
    slot: &mut Option<sqlx::postgres::PgListener>,
) -> StoreResult<FeedEvent> {
    let Some(listener) = slot.as_mut() else {
        let mut listener = sqlx::postgres::PgListener::connect(db.url())
            .await
            .map_err(listen_err)?;
        listener.listen(CHANNEL).await.map_err(listen_err)?;
        *slot = Some(listener);
        return Ok(FeedEvent::Resync);
    };
    match listener.try_recv().await {
        Ok(Some(notification)) => Ok(decode(notification.payload())),
        // The connection was lost and has been re-established: whatever was sent
        // meanwhile is gone.
        Ok(None) => Ok(FeedEvent::Resync),
        Err(e) => {
            *slot = None;
            Err(listen_err(e))
        }
    }
}

async fn max_seq(db: &Database) -> StoreResult<i64> {
    let row = db
        .conn()
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT COALESCE(MAX(seq), 0) AS seq FROM secret_changes",
        ))
        .await?;
    Ok(match row {
        Some(row) => row.try_get::<i64>("", "seq")?,
        None => 0,
    })
}

async fn rows_after(db: &Database, seen: i64) -> StoreResult<Vec<(i64, String)>> {
    let rows = db
        .conn()
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT seq, payload FROM secret_changes WHERE seq > ? ORDER BY seq LIMIT ?",
            [seen.into(), POLL_LIMIT.into()],
        ))
        .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get::<i64>("", "seq")?,
                row.try_get::<String>("", "payload")?,
            ))
        })
        .collect()
}

async fn prune(db: &Database) -> StoreResult<()> {
    let before = now_ms() - i64::try_from(RETENTION.as_millis()).unwrap_or(i64::MAX);
    db.conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "DELETE FROM secret_changes WHERE created_at_ms < ?",
            [before.into()],
        ))
        .await?;
    Ok(())
}
