//! The batch writer's group commit in one hand-off.
//!
//! The batch writer's batches nearly always continue the chain from where its last batch
//! left the head. For that case the whole batch (move the head, insert the records and the
//! usage rows, fold them into the summaries, commit) goes to the database in one hand-off:
//! on SQLite to a connection of the writer's own ([`super::sqlite_batch`]), run in place on
//! the writer task's thread (`block_in_place`, which measured faster than a hop to a
//! blocking thread and back; a single-threaded runtime gets the blocking thread),
//! on PostgreSQL as one statement ([`super::pg_batch`]). Each moves the head only if it is
//! still where the batch expects it and the chain key row still names the batch's key, and
//! writes nothing otherwise, in which case the batch takes the pool's path, which locks and
//! reads the head.

use std::sync::Arc;

use secret_core::audit::AuditEntry;

use super::append::{KnownHead, Link, link};
use super::sqlite_batch::{BatchConn, database_file};
use super::{AuditStore, NewUsage, pg_batch};
use crate::chain_key::AuditChainKey;
use crate::db::DbKind;
use crate::error::{StoreError, StoreResult};

/// A store's own SQLite connection, opened on first use (`None`: the pool is used).
pub(super) type LazyConn = Arc<tokio::sync::OnceCell<Option<Arc<BatchConn>>>>;

/// One batch, owned so that it can move to a blocking task.
pub(super) struct Batch {
    pub(super) entries: Vec<AuditEntry>,
    pub(super) links: Vec<Link>,
    /// The head to move from and to; `None` when the batch has no entries.
    pub(super) head: Option<(KnownHead, KnownHead)>,
    pub(super) usages: Vec<NewUsage>,
}

impl Batch {
    /// The batch that continues the chain from `from`, if this process holds its key.
    pub(super) fn after(
        from: &KnownHead,
        entries: &[AuditEntry],
        usages: &[NewUsage],
    ) -> Option<Self> {
        let (links, head) = if entries.is_empty() {
            (Vec::new(), None)
        } else {
            let key = AuditChainKey::loaded(&from.key_id)?;
            let (links, to) = link(from, &key, entries);
            (links, Some((from.clone(), to)))
        };
        Some(Batch {
            entries: entries.to_vec(),
            links,
            head,
            usages: usages.to_vec(),
        })
    }
}

impl AuditStore {
    /// Commits `batch` in one hand-off. Returns false, having written nothing, when the head
    /// is not where the batch expects it or this path is not available: the pool's path must
    /// take the batch.
    pub(super) async fn append_fast(&self, batch: Batch) -> StoreResult<bool> {
        match self.db.kind() {
            DbKind::Sqlite => {
                let Some(conn) = self.batch_conn().await else {
                    return Ok(false);
                };
                use tokio::runtime::{Handle, RuntimeFlavor};
                if Handle::current().runtime_flavor() == RuntimeFlavor::MultiThread {
                    return tokio::task::block_in_place(|| conn.append(&batch));
                }
                tokio::task::spawn_blocking(move || conn.append(&batch))
                    .await
                    .map_err(|e| {
                        StoreError::Domain(secret_core::SecretError::internal(format!(
                            "the audit writer's task failed: {e}"
                        )))
                    })?
            }
            DbKind::Postgres => match self.db.pg_pool() {
                Some(pool) if batch.head.is_some() => pg_batch::append(pool, &batch).await,
                _ => Ok(false),
            },
        }
    }

    /// The batch writer's own SQLite connection, opened on first use; `None` on PostgreSQL,
    /// for an in-memory database, or when it cannot be opened durably (the pool is used).
    async fn batch_conn(&self) -> Option<Arc<BatchConn>> {
        if self.db.kind() != DbKind::Sqlite {
            return None;
        }
        self.batch
            .get_or_init(|| async {
                let file = database_file(self.db.url())?;
                let busy = self.db.busy_timeout();
                match tokio::task::spawn_blocking(move || BatchConn::open(&file, busy)).await {
                    Ok(Ok(conn)) => Some(Arc::new(conn)),
                    Ok(Err(e)) => {
                        tracing::warn!(
                            error = %e,
                            "the audit writer's own connection could not be opened; \
                             it writes through the pool"
                        );
                        None
                    }
                    Err(_) => None,
                }
            })
            .await
            .clone()
    }

    /// Whether this store's batches are written through the writer's own SQLite connection
    /// rather than the pool (opening it if it is not open yet).
    pub async fn writes_batches_on_own_connection(&self) -> bool {
        self.batch_conn().await.is_some()
    }
}
