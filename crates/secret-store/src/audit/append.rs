//! Appending to the chain: in a secret's own write transaction, or as the batch writer's
//! group commit, which remembers where its last batch left the head.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait,
};
use secret_core::audit::AuditEntry;

use super::fast::Batch;
use super::{AuditStore, HEAD_ID, INSERT_CHUNK, NewUsage};
use crate::chain_key::{AuditChainKey, ChainKeyError};
use crate::entity::{
    audit_chain_head as head, secret_audit_logs as logs, secret_usage as usage,
    secret_usage_summary as summary,
};
use crate::error::{StoreError, StoreResult};
use crate::secrets::WriteTx;

/// An entry's place in the chain.
pub(super) struct Link {
    pub(super) seq: i64,
    pub(super) prev_hash: String,
    pub(super) hash: String,
}

fn to_model(l: Link, e: &AuditEntry) -> logs::ActiveModel {
    logs::ActiveModel {
        id: Set(e.id.clone()),
        seq: Set(l.seq),
        prev_hash: Set(l.prev_hash),
        hash: Set(l.hash),
        event_type: Set(e.event_type.as_str().to_string()),
        event_category: Set(e.event_category.as_str().to_string()),
        actor_type: Set(e.actor_type.as_str().to_string()),
        actor_id: Set(e.actor_id.clone()),
        actor_name: Set(e.actor_name.clone()),
        organization_id: Set(e.organization_id.clone()),
        team_id: Set(e.team_id.clone()),
        project_id: Set(e.project_id.clone()),
        secret_id: Set(e.secret_id.clone()),
        secret_name: Set(e.secret_name.clone()),
        secret_scope: Set(e.secret_scope.map(|s| s.as_str().to_string())),
        action: Set(e.action.clone()),
        details: Set(e.details.clone()),
        ip_address: Set(e.ip_address.clone()),
        user_agent: Set(e.user_agent.clone()),
        request_id: Set(e.request_id.clone()),
        consumer_module: Set(e.consumer_module.clone()),
        outcome: Set(e.outcome.as_str().to_string()),
        error_message: Set(e.error_message.clone()),
        timestamp: Set(e.timestamp),
    }
}

/// Where the chain ends after an append, with the key that tagged it: what the batch
/// writer remembers so that its next append needs no read. The key is held by the process's
/// key manager, not here: once no key manager holds it, appends fail as they always did.
#[derive(Debug, Clone)]
pub(super) struct KnownHead {
    pub(super) seq: i64,
    pub(super) hash: String,
    pub(super) key_id: String,
    pub(super) keyed_from_seq: i64,
}

impl KnownHead {
    fn new(seq: i64, hash: String, key: &AuditChainKey) -> Self {
        KnownHead {
            seq,
            hash,
            key_id: key.key_id().to_string(),
            keyed_from_seq: key.keyed_from_seq(),
        }
    }
}

/// Locks the chain's head (a no-op `UPDATE`: SQLite's write lock, PostgreSQL's row lock) and
/// reads it with the chain key, checking that the key is this process's and that the head
/// lies at or after its keyed start.
async fn lock_head<C: ConnectionTrait>(conn: &C) -> StoreResult<(KnownHead, AuditChainKey)> {
    let locked = head::Entity::update_many()
        .col_expr(head::Column::Seq, Expr::col(head::Column::Seq))
        .filter(head::Column::Id.eq(HEAD_ID))
        .exec(conn)
        .await?;
    if locked.rows_affected != 1 {
        return Err(StoreError::corrupt(
            "audit_chain_head",
            "the chain's head row is missing",
        ));
    }
    let current = head::Entity::find_by_id(HEAD_ID)
        .one(conn)
        .await?
        .ok_or_else(|| StoreError::corrupt("audit_chain_head", "the head row is missing"))?;
    let key = AuditChainKey::of(conn).await.map_err(|e| match e {
        ChainKeyError::Store(e) => e,
        other => StoreError::Domain(secret_core::SecretError::internal(other)),
    })?;
    if current.seq + 1 < key.keyed_from_seq() {
        return Err(StoreError::corrupt(
            "audit_chain_head",
            format!(
                "the chain's head (record {}) lies before its keyed start (record {}): \
                 records were removed; run `secret-server audit verify`",
                current.seq,
                key.keyed_from_seq()
            ),
        ));
    }
    Ok((KnownHead::new(current.seq, current.hash, &key), key))
}

/// Links `entries` after `from`: each one's place and the new head.
pub(super) fn link(
    from: &KnownHead,
    key: &AuditChainKey,
    entries: &[AuditEntry],
) -> (Vec<Link>, KnownHead) {
    let (mut seq, mut prev) = (from.seq, from.hash.clone());
    let mut links = Vec::with_capacity(entries.len());
    for e in entries {
        seq += 1;
        let hash = key.mac(seq, &prev, e);
        links.push(Link {
            seq,
            prev_hash: std::mem::replace(&mut prev, hash.clone()),
            hash,
        });
    }
    (links, KnownHead::new(seq, prev, key))
}

fn to_models(links: Vec<Link>, entries: &[AuditEntry]) -> Vec<logs::ActiveModel> {
    links
        .into_iter()
        .zip(entries)
        .map(|(l, e)| to_model(l, e))
        .collect()
}

/// Moves the head from `from` to `to` in one statement, only if it still is at `from` and
/// the chain key row still names `from`'s key with the same keyed start; returns whether it
/// moved. (Another process, or a secret's write transaction, may have moved it since.)
async fn move_known_head<C: ConnectionTrait>(
    conn: &C,
    from: &KnownHead,
    to: &KnownHead,
) -> StoreResult<bool> {
    use crate::entity::audit_chain_key as chain_key_row;
    let key_unchanged = Expr::exists(
        sea_orm::sea_query::Query::select()
            .expr(Expr::val(1))
            .from(chain_key_row::Entity)
            .and_where(chain_key_row::Column::KeyId.eq(from.key_id.as_str()))
            .and_where(chain_key_row::Column::KeyedFromSeq.eq(from.keyed_from_seq))
            .to_owned(),
    );
    let moved = head::Entity::update_many()
        .col_expr(head::Column::Seq, Expr::value(to.seq))
        .col_expr(head::Column::Hash, Expr::value(to.hash.clone()))
        .filter(head::Column::Id.eq(HEAD_ID))
        .filter(head::Column::Seq.eq(from.seq))
        .filter(head::Column::Hash.eq(from.hash.clone()))
        .filter(key_unchanged)
        .exec(conn)
        .await?;
    Ok(moved.rows_affected == 1)
}

async fn insert_rows<C: ConnectionTrait>(
    conn: &C,
    rows: Vec<logs::ActiveModel>,
) -> StoreResult<()> {
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(INSERT_CHUNK).collect();
        logs::Entity::insert_many(chunk).exec(conn).await?;
    }
    Ok(())
}

/// Appends `entries` to the chain and records `usages`, in `conn`'s transaction. With
/// `known`, the head as this process last left it, the append first tries to move the head
/// from there in one statement, and reads it only when that fails. Returns the new head.
async fn append<C: ConnectionTrait>(
    conn: &C,
    entries: &[AuditEntry],
    usages: &[NewUsage],
    known: Option<&KnownHead>,
) -> StoreResult<Option<KnownHead>> {
    if entries.is_empty() && usages.is_empty() {
        return Ok(None);
    }
    let mut head_now = None;
    if !entries.is_empty() {
        let mut linked = None;
        if let Some(from) = known
            && let Some(key) = AuditChainKey::loaded(&from.key_id)
        {
            let (links, to) = link(from, &key, entries);
            if move_known_head(conn, from, &to).await? {
                linked = Some((to_models(links, entries), to));
            }
        }
        let (rows, to) = match linked {
            Some(linked) => linked,
            None => {
                let (from, key) = lock_head(conn).await?;
                let (links, to) = link(&from, &key, entries);
                let rows = to_models(links, entries);
                // The head is locked: it is still where it was read.
                if !move_known_head(conn, &from, &to).await? {
                    return Err(StoreError::corrupt(
                        "audit_chain_head",
                        "the locked head moved",
                    ));
                }
                (rows, to)
            }
        };
        insert_rows(conn, rows).await?;
        head_now = Some(to);
    }
    for chunk in usages.chunks(INSERT_CHUNK) {
        let models = chunk.iter().map(|u| usage::ActiveModel {
            id: Set(u.id.clone()),
            secret_id: Set(u.secret_id.clone()),
            consumer_module: Set(u.consumer_module.clone()),
            consumer_resource_id: Set(u.consumer_resource_id.clone()),
            organization_id: Set(u.organization_id.clone()),
            user_id: Set(u.user_id.clone()),
            used_at: Set(u.used_at),
        });
        usage::Entity::insert_many(models).exec(conn).await?;
    }
    summarize(conn, usages).await?;
    Ok(head_now)
}

/// Folds `usages` into `secret_usage_summary`: per (secret, module), the latest read and
/// the count, in one multi-row upsert.
async fn summarize<C: ConnectionTrait>(conn: &C, usages: &[NewUsage]) -> StoreResult<()> {
    use sea_orm::sea_query::OnConflict;
    use summary::Column as C;
    let rows: Vec<_> = usage_summaries(usages)
        .into_iter()
        .map(
            |((secret_id, module), (last, count))| summary::ActiveModel {
                secret_id: Set(secret_id.to_string()),
                consumer_module: Set(module.to_string()),
                last_used_at: Set(last),
                read_count: Set(count),
            },
        )
        .collect();
    for chunk in rows.chunks(INSERT_CHUNK) {
        summary::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::columns([C::SecretId, C::ConsumerModule])
                    .update_column(C::LastUsedAt)
                    .value(
                        C::ReadCount,
                        Expr::cust("secret_usage_summary.read_count + excluded.read_count"),
                    )
                    .to_owned(),
            )
            .exec(conn)
            .await?;
    }
    Ok(())
}

/// Per (secret, module) of `usages`: the latest read and the count.
pub(super) fn usage_summaries(usages: &[NewUsage]) -> BTreeMap<(&str, &str), (DateTime<Utc>, i64)> {
    let mut pairs: BTreeMap<(&str, &str), (DateTime<Utc>, i64)> = BTreeMap::new();
    for u in usages {
        let e = pairs
            .entry((u.secret_id.as_str(), u.consumer_module.as_str()))
            .or_insert((u.used_at, 0));
        e.0 = e.0.max(u.used_at);
        e.1 += 1;
    }
    pairs
}

impl WriteTx {
    /// Appends audit entries inside this transaction: they commit with the change they
    /// describe, or not at all.
    pub async fn append_audit(&mut self, entries: &[AuditEntry]) -> StoreResult<()> {
        append(self.txn(), entries, &[], None).await.map(|_| ())
    }

    /// Removes a secret's usage rows (its audit records stay).
    pub async fn delete_usage(&mut self, secret_id: &str) -> StoreResult<()> {
        usage::Entity::delete_many()
            .filter(usage::Column::SecretId.eq(secret_id))
            .exec(self.txn())
            .await?;
        summary::Entity::delete_many()
            .filter(summary::Column::SecretId.eq(secret_id))
            .exec(self.txn())
            .await?;
        Ok(())
    }
}

impl AuditStore {
    /// Appends a batch of entries and usages in one transaction (the group commit). When the
    /// head is where this store's last batch left it, the batch is committed in one hand-off
    /// (see [`super::fast`]); otherwise, or when that finds the head moved, through the pool.
    pub async fn append_batch(
        &self,
        entries: &[AuditEntry],
        usages: &[NewUsage],
    ) -> StoreResult<()> {
        let known = self.known.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(from) = known.as_ref()
            && let Some(batch) = Batch::after(from, entries, usages)
        {
            let to = batch.head.as_ref().map(|(_, to)| to.clone());
            if self.append_fast(batch).await? {
                *self.known.lock().unwrap_or_else(|p| p.into_inner()) = to.or(known);
                return Ok(());
            }
        }
        let txn = self.db.conn().begin().await?;
        let head = append(&txn, entries, usages, known.as_ref()).await?;
        txn.commit().await?;
        // Remembered only once committed: a failed batch leaves nothing to trust.
        *self.known.lock().unwrap_or_else(|p| p.into_inner()) = head.or(known);
        Ok(())
    }
}
