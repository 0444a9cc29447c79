//! The batch writer's own SQLite connection.
//!
//! Through the pool, every statement of a batch (begin, move the head, insert the records,
//! insert the usage rows, fold them into the summaries, commit) is handed to the driver's
//! worker thread and back, and those hand-offs, not the `fsync`, were most of a batch's cost.
//! Here the writer runs the whole batch on a connection of its own with prepared, cached
//! statements, without leaving its thread. It is used only for the case the batch writer
//! handles all day, a head that is still where its last batch left it; anything else (the
//! first batch, a head another writer moved) rolls back and takes the pool's path.
//!
//! The connection is checked like the pool's: WAL and `synchronous=FULL`, else it is not
//! used; the check is logged the same way ("database connection opened").

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OpenFlags, params};
use sea_orm::DbErr;
use secret_core::audit::AuditEntry;
use sqlx::sqlite::SqliteConnectOptions;

use super::append::{Link, usage_summaries};
use super::fast::Batch;
use super::{HEAD_ID, NewUsage};
use crate::error::{StoreError, StoreResult};

fn failed(e: rusqlite::Error) -> StoreError {
    StoreError::Db(DbErr::Custom(format!("audit writer's connection: {e}")))
}

/// How the pool's SQLite driver stores a timestamp: RFC 3339 with `+00:00`, so that the
/// rows of both paths compare and sort the same.
fn timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// The database file a SQLite URL names, unless it is an in-memory database (which a second
/// connection could not share).
pub(super) fn database_file(url: &str) -> Option<PathBuf> {
    let options = SqliteConnectOptions::from_str(url).ok()?;
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    if query.split('&').any(|p| p == "mode=memory") {
        return None;
    }
    let file = options.get_filename();
    let name = file.to_string_lossy();
    if name.is_empty() || name == ":memory:" || name.starts_with("file:") {
        return None;
    }
    Some(file.to_path_buf())
}

/// The batch writer's connection.
pub(super) struct BatchConn {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for BatchConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchConn").finish_non_exhaustive()
    }
}

impl BatchConn {
    /// Opens `file` (which the pool has created and migrated) and checks its durability.
    pub(super) fn open(file: &Path, busy: Duration) -> StoreResult<Self> {
        let conn = Connection::open_with_flags(
            file,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(failed)?;
        conn.busy_timeout(busy).map_err(failed)?;
        let journal: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(failed)?;
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .map_err(failed)?;
        let synchronous: i64 = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .map_err(failed)?;
        if synchronous < 2 || !journal.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Domain(secret_core::SecretError::internal(
                format!(
                    "the audit writer's SQLite connection is not durable \
                     (synchronous {synchronous}, journal {journal})"
                ),
            )));
        }
        tracing::debug!(
            synchronous = "FULL",
            journal_mode = "WAL",
            connection = "audit writer",
            "database connection opened"
        );
        conn.set_prepared_statement_cache_capacity(8);
        Ok(BatchConn {
            conn: Mutex::new(conn),
        })
    }

    /// Commits `batch` in one transaction. Returns false, having written nothing, when the
    /// head is no longer where the batch expects it (or the chain key row changed).
    pub(super) fn append(&self, batch: &Batch) -> StoreResult<bool> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(failed)?;
        if let Some((from, to)) = &batch.head {
            let moved = tx
                .prepare_cached(
                    "UPDATE audit_chain_head SET seq = ?1, hash = ?2 \
                     WHERE id = ?3 AND seq = ?4 AND hash = ?5 AND EXISTS (\
                       SELECT 1 FROM audit_chain_key WHERE key_id = ?6 AND keyed_from_seq = ?7)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        to.seq,
                        to.hash,
                        HEAD_ID,
                        from.seq,
                        from.hash,
                        from.key_id,
                        from.keyed_from_seq
                    ])
                })
                .map_err(failed)?;
            if moved != 1 {
                // Dropping the transaction rolls it back.
                return Ok(false);
            }
            insert_records(&tx, &batch.entries, &batch.links)?;
        }
        insert_usages(&tx, &batch.usages)?;
        tx.commit().map_err(failed)?;
        Ok(true)
    }
}

fn insert_records(
    tx: &rusqlite::Transaction<'_>,
    entries: &[AuditEntry],
    links: &[Link],
) -> StoreResult<()> {
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO secret_audit_logs (id, seq, prev_hash, hash, event_type, \
             event_category, actor_type, actor_id, actor_name, organization_id, team_id, \
             project_id, secret_id, secret_name, secret_scope, action, details, ip_address, \
             user_agent, request_id, consumer_module, outcome, error_message, timestamp) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, \
             ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24)",
        )
        .map_err(failed)?;
    for (e, l) in entries.iter().zip(links) {
        insert
            .execute(params![
                e.id,
                l.seq,
                l.prev_hash,
                l.hash,
                e.event_type.as_str(),
                e.event_category.as_str(),
                e.actor_type.as_str(),
                e.actor_id,
                e.actor_name,
                e.organization_id,
                e.team_id,
                e.project_id,
                e.secret_id,
                e.secret_name,
                e.secret_scope.map(|s| s.as_str()),
                e.action,
                e.details,
                e.ip_address,
                e.user_agent,
                e.request_id,
                e.consumer_module,
                e.outcome.as_str(),
                e.error_message,
                timestamp(&e.timestamp),
            ])
            .map_err(failed)?;
    }
    Ok(())
}

fn insert_usages(tx: &rusqlite::Transaction<'_>, usages: &[NewUsage]) -> StoreResult<()> {
    if usages.is_empty() {
        return Ok(());
    }
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO secret_usage (id, secret_id, consumer_module, consumer_resource_id, \
             organization_id, user_id, used_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .map_err(failed)?;
    for u in usages {
        insert
            .execute(params![
                u.id,
                u.secret_id,
                u.consumer_module,
                u.consumer_resource_id,
                u.organization_id,
                u.user_id,
                timestamp(&u.used_at),
            ])
            .map_err(failed)?;
    }
    let mut fold = tx
        .prepare_cached(
            "INSERT INTO secret_usage_summary (secret_id, consumer_module, last_used_at, \
             read_count) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (secret_id, consumer_module) \
             DO UPDATE SET last_used_at = excluded.last_used_at, \
             read_count = secret_usage_summary.read_count + excluded.read_count",
        )
        .map_err(failed)?;
    for ((secret_id, module), (last, count)) in usage_summaries(usages) {
        fold.execute(params![secret_id, module, timestamp(&last), count])
            .map_err(failed)?;
    }
    Ok(())
}
