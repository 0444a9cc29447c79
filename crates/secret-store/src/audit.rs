//! The audit trail's persistence: appending entries to the hash chain (alone, in a batch, or
//! inside a secret's write transaction), recording value usage, and reading records back
//! for queries and for verification.
//!
//! Every append first locks the single `audit_chain_head` row with a no-op `UPDATE` (SQLite's
//! write lock, PostgreSQL's row lock), reads the head, links the new entries to it, inserts
//! them in one multi-row statement and moves the head, all in the caller's transaction. So
//! the chain has one order across every process sharing the database.
//!
//! Every record appended is tagged with HMAC-SHA256 under the audit chain key
//! ([`crate::chain_key`]); an append fails, writing nothing, when the key is missing from the
//! database or not loaded in this process, or when the head lies before the keyed start.
//! Records from before the chain was keyed keep their unkeyed hashes.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use secret_core::audit::{AuditEntry, AuditRecord};
use secret_core::model::{AccessGrant, Page, SecretMetadata, SecretUsageInfo};
use secret_core::{AuditOutcome, SecretAuditEventType};

use crate::chain_key::{AuditChainKey, ChainKeyError};
use crate::db::Database;
use crate::entity::{
    audit_chain_head as head, secret_audit_logs as logs, secret_usage as usage,
    secret_usage_summary as summary, secrets,
};
use crate::error::{StoreError, StoreResult};
use crate::grants::grants_on;
use crate::secrets::{WriteTx, parse, to_record};

/// The id of the chain head's one row.
pub(crate) const HEAD_ID: i32 = 1;

/// Rows per multi-row INSERT: well under SQLite's and PostgreSQL's bind-parameter limits.
const INSERT_CHUNK: usize = 400;

/// One use of a secret's value by a consuming module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUsage {
    pub id: String,
    pub secret_id: String,
    pub consumer_module: String,
    pub consumer_resource_id: Option<String>,
    pub organization_id: Option<String>,
    pub user_id: String,
    pub used_at: DateTime<Utc>,
}

/// When a secret's value was last read, and by which modules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageSummary {
    pub last_used_at: Option<DateTime<Utc>>,
    /// Distinct consuming modules, by name.
    pub modules: Vec<String>,
}

/// Which records an audit query returns. `organizations`: `None` for all, otherwise only
/// records of these organizations (an empty list matches nothing).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub secret_id: Option<String>,
    pub event_types: Vec<SecretAuditEventType>,
    pub actor_id: Option<String>,
    pub outcomes: Vec<AuditOutcome>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub organizations: Option<Vec<String>>,
    /// From 1.
    pub page: u64,
    pub limit: u64,
}

/// The chain's head: the last record's sequence number and hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    pub seq: i64,
    pub hash: String,
}

fn to_model(seq: i64, prev_hash: String, hash: String, e: &AuditEntry) -> logs::ActiveModel {
    logs::ActiveModel {
        id: Set(e.id.clone()),
        seq: Set(seq),
        prev_hash: Set(prev_hash),
        hash: Set(hash),
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

fn to_audit_record(m: logs::Model) -> StoreResult<AuditRecord> {
    const T: &str = "secret_audit_logs";
    Ok(AuditRecord {
        seq: m.seq,
        prev_hash: m.prev_hash,
        hash: m.hash,
        entry: AuditEntry {
            event_type: parse(T, "event type", &m.event_type)?,
            event_category: parse(T, "event category", &m.event_category)?,
            actor_type: parse(T, "actor type", &m.actor_type)?,
            secret_scope: m
                .secret_scope
                .as_deref()
                .map(|s| parse(T, "scope", s))
                .transpose()?,
            outcome: parse(T, "outcome", &m.outcome)?,
            id: m.id,
            actor_id: m.actor_id,
            actor_name: m.actor_name,
            organization_id: m.organization_id,
            team_id: m.team_id,
            project_id: m.project_id,
            secret_id: m.secret_id,
            secret_name: m.secret_name,
            action: m.action,
            details: m.details,
            ip_address: m.ip_address,
            user_agent: m.user_agent,
            request_id: m.request_id,
            consumer_module: m.consumer_module,
            error_message: m.error_message,
            timestamp: m.timestamp,
        },
    })
}

/// Where the chain ends after an append, with the key that tagged it: what the batch
/// writer remembers so that its next append needs no read. The key is held by the process's
/// key manager, not here: once no key manager holds it, appends fail as they always did.
#[derive(Debug, Clone)]
struct KnownHead {
    seq: i64,
    hash: String,
    key_id: String,
    keyed_from_seq: i64,
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

/// Links `entries` after `from`: the rows to insert and the new head.
fn link(
    from: &KnownHead,
    key: &AuditChainKey,
    entries: &[AuditEntry],
) -> (Vec<logs::ActiveModel>, KnownHead) {
    let (mut seq, mut prev) = (from.seq, from.hash.clone());
    let mut rows = Vec::with_capacity(entries.len());
    for e in entries {
        seq += 1;
        let hash = key.mac(seq, &prev, e);
        rows.push(to_model(
            seq,
            std::mem::replace(&mut prev, hash.clone()),
            hash,
            e,
        ));
    }
    (rows, KnownHead::new(seq, prev, key))
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
            let (rows, to) = link(from, &key, entries);
            if move_known_head(conn, from, &to).await? {
                linked = Some((rows, to));
            }
        }
        let (rows, to) = match linked {
            Some(linked) => linked,
            None => {
                let (from, key) = lock_head(conn).await?;
                let (rows, to) = link(&from, &key, entries);
                head::Entity::update_many()
                    .col_expr(head::Column::Seq, Expr::value(to.seq))
                    .col_expr(head::Column::Hash, Expr::value(to.hash.clone()))
                    .filter(head::Column::Id.eq(HEAD_ID))
                    .exec(conn)
                    .await?;
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
    let mut pairs: BTreeMap<(&str, &str), (DateTime<Utc>, i64)> = BTreeMap::new();
    for u in usages {
        let e = pairs
            .entry((u.secret_id.as_str(), u.consumer_module.as_str()))
            .or_insert((u.used_at, 0));
        e.0 = e.0.max(u.used_at);
        e.1 += 1;
    }
    let rows: Vec<_> = pairs
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

/// Reads and batch writes of the audit trail and usage.
#[derive(Debug, Clone)]
pub struct AuditStore {
    db: Database,
    /// The head as this store's last batch left it (see [`append`]).
    known: std::sync::Arc<std::sync::Mutex<Option<KnownHead>>>,
}

impl AuditStore {
    /// The audit store over `db`.
    pub fn new(db: Database) -> Self {
        AuditStore {
            db,
            known: Default::default(),
        }
    }

    /// Appends a batch of entries and usages in one transaction (the group commit).
    pub async fn append_batch(
        &self,
        entries: &[AuditEntry],
        usages: &[NewUsage],
    ) -> StoreResult<()> {
        let known = self.known.lock().unwrap_or_else(|p| p.into_inner()).take();
        let txn = self.db.conn().begin().await?;
        let head = append(&txn, entries, usages, known.as_ref()).await?;
        txn.commit().await?;
        // Remembered only once committed: a failed batch leaves nothing to trust.
        *self.known.lock().unwrap_or_else(|p| p.into_inner()) = head.or(known);
        Ok(())
    }

    /// The audit chain key of this store's database as this process loaded it (the key
    /// manager loads it at start), for verification.
    pub async fn chain_key(&self) -> Result<AuditChainKey, ChainKeyError> {
        AuditChainKey::of(self.db.conn()).await
    }

    /// The chain's head.
    pub async fn head(&self) -> StoreResult<ChainHead> {
        let h = head::Entity::find_by_id(HEAD_ID)
            .one(self.db.conn())
            .await?
            .ok_or_else(|| StoreError::corrupt("audit_chain_head", "the head row is missing"))?;
        Ok(ChainHead {
            seq: h.seq,
            hash: h.hash,
        })
    }

    /// Up to `limit` records with `seq` greater than `after`, in chain order.
    pub async fn scan(&self, after: i64, limit: u64) -> StoreResult<Vec<AuditRecord>> {
        logs::Entity::find()
            .filter(logs::Column::Seq.gt(after))
            .order_by_asc(logs::Column::Seq)
            .limit(limit)
            .all(self.db.conn())
            .await?
            .into_iter()
            .map(to_audit_record)
            .collect()
    }

    /// One record by id.
    pub async fn find(&self, id: &str) -> StoreResult<Option<AuditRecord>> {
        logs::Entity::find_by_id(id)
            .one(self.db.conn())
            .await?
            .map(to_audit_record)
            .transpose()
    }

    /// One page of the records matching `filter`, newest first, with the total.
    pub async fn list(&self, filter: &AuditFilter) -> StoreResult<Page<AuditRecord>> {
        use logs::Column as C;
        let mut cond = Condition::all();
        if let Some(id) = &filter.secret_id {
            cond = cond.add(C::SecretId.eq(id.as_str()));
        }
        if !filter.event_types.is_empty() {
            cond = cond.add(C::EventType.is_in(filter.event_types.iter().map(|t| t.as_str())));
        }
        if let Some(actor) = &filter.actor_id {
            cond = cond.add(C::ActorId.eq(actor.as_str()));
        }
        if !filter.outcomes.is_empty() {
            cond = cond.add(C::Outcome.is_in(filter.outcomes.iter().map(|o| o.as_str())));
        }
        if let Some(start) = filter.start {
            cond = cond.add(C::Timestamp.gte(start));
        }
        if let Some(end) = filter.end {
            cond = cond.add(C::Timestamp.lte(end));
        }
        if let Some(orgs) = &filter.organizations {
            cond = cond.add(C::OrganizationId.is_in(orgs.iter().map(String::as_str)));
        }
        let total = logs::Entity::find()
            .filter(cond.clone())
            .count(self.db.conn())
            .await?;
        let page = filter.page.max(1);
        let items = logs::Entity::find()
            .filter(cond)
            .order_by_desc(C::Seq)
            .offset(secret_core::model::page_offset(page, filter.limit))
            .limit(filter.limit)
            .all(self.db.conn())
            .await?
            .into_iter()
            .map(to_audit_record)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page {
            items,
            page,
            limit: filter.limit,
            total,
        })
    }

    /// When `secret_id`'s value was last read and by which modules.
    pub async fn usage_summary(&self, secret_id: &str) -> StoreResult<UsageSummary> {
        let rows = summary::Entity::find()
            .filter(summary::Column::SecretId.eq(secret_id))
            .order_by_asc(summary::Column::ConsumerModule)
            .all(self.db.conn())
            .await?;
        Ok(UsageSummary {
            last_used_at: rows.iter().map(|r| r.last_used_at).max(),
            modules: rows.into_iter().map(|r| r.consumer_module).collect(),
        })
    }

    /// Every secret of `organization` (all secrets when `None`), soft-deleted ones
    /// included, each with `usage.last_used_at` filled; for compliance reports.
    pub async fn report_secrets(
        &self,
        organization: Option<&str>,
    ) -> StoreResult<Vec<SecretMetadata>> {
        let mut query = secrets::Entity::find().order_by_asc(secrets::Column::Name);
        if let Some(org) = organization {
            query = query.filter(secrets::Column::OrganizationId.eq(org));
        }
        let mut out = query
            .all(self.db.conn())
            .await?
            .into_iter()
            .map(|m| to_record(m).map(|r| r.metadata))
            .collect::<StoreResult<Vec<_>>>()?;
        let mut last: std::collections::HashMap<String, DateTime<Utc>> =
            std::collections::HashMap::new();
        for chunk in out.chunks(INSERT_CHUNK) {
            let rows: Vec<(String, Option<DateTime<Utc>>)> = summary::Entity::find()
                .select_only()
                .column(summary::Column::SecretId)
                .column_as(summary::Column::LastUsedAt.max(), "last")
                .filter(summary::Column::SecretId.is_in(chunk.iter().map(|m| m.id.as_str())))
                .group_by(summary::Column::SecretId)
                .into_tuple()
                .all(self.db.conn())
                .await?;
            last.extend(
                rows.into_iter()
                    .filter_map(|(id, at)| at.map(|at| (id, at))),
            );
        }
        for m in &mut out {
            m.usage = Some(SecretUsageInfo {
                last_used_at: last.get(m.id.as_str()).copied(),
                consumer_modules: Vec::new(),
            });
        }
        Ok(out)
    }

    /// Every grant on the given secrets.
    pub async fn grants_of(&self, secret_ids: &[&str]) -> StoreResult<Vec<AccessGrant>> {
        grants_on(self.db.conn(), secret_ids).await
    }

    /// Successful value reads between `start` and `end` (of `organization` when given),
    /// counted per (scope, consumer module, actor), and the number of refusals.
    pub async fn access_counts(
        &self,
        organization: Option<&str>,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> StoreResult<(Vec<AccessCount>, u64)> {
        use logs::Column as C;
        let mut period = Condition::all()
            .add(C::Timestamp.gte(start))
            .add(C::Timestamp.lte(end));
        if let Some(org) = organization {
            period = period.add(C::OrganizationId.eq(org));
        }
        let rows: Vec<(Option<String>, Option<String>, String, i64)> = logs::Entity::find()
            .select_only()
            .column(C::SecretScope)
            .column(C::ConsumerModule)
            .column(C::ActorId)
            .column_as(C::Id.count(), "n")
            .filter(period.clone())
            .filter(C::EventType.eq(SecretAuditEventType::SecretRead.as_str()))
            .filter(C::Outcome.eq(AuditOutcome::Success.as_str()))
            .group_by(C::SecretScope)
            .group_by(C::ConsumerModule)
            .group_by(C::ActorId)
            .into_tuple()
            .all(self.db.conn())
            .await?;
        let denied = logs::Entity::find()
            .filter(period)
            .filter(C::Outcome.eq(AuditOutcome::Denied.as_str()))
            .count(self.db.conn())
            .await?;
        let counts = rows
            .into_iter()
            .map(|(scope, module, actor_id, n)| AccessCount {
                scope,
                consumer_module: module,
                actor_id,
                count: u64::try_from(n).unwrap_or(0),
            })
            .collect();
        Ok((counts, denied))
    }
}

/// Successful value reads of one (scope, module, actor) combination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessCount {
    pub scope: Option<String>,
    pub consumer_module: Option<String>,
    pub actor_id: String,
    pub count: u64,
}
