//! The audit trail's persistence: appending entries to the hash chain (alone, in a batch, or
//! inside a secret's write transaction), recording value usage, and reading records back
//! for queries and for verification.
//!
//! Every append ([`append`]) moves the single `audit_chain_head` row in the caller's
//! transaction, which takes SQLite's write lock or PostgreSQL's row lock, links the new
//! entries to the head it moved from and inserts them in one multi-row statement. The batch
//! writer moves the head from where its last batch left it with one conditional `UPDATE`;
//! when another writer moved it meanwhile, or in a secret's own transaction, the head is
//! locked with a no-op `UPDATE` and read first. So the chain has one order across every
//! process sharing the database.
//!
//! Every record appended is tagged with HMAC-SHA256 under the audit chain key
//! ([`crate::chain_key`]); an append fails, writing nothing, when the key is missing from the
//! database or not loaded in this process, or when the head lies before the keyed start.
//! Records from before the chain was keyed keep their unkeyed hashes.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use secret_core::audit::{AuditEntry, AuditRecord};
use secret_core::model::{AccessGrant, Page, SecretMetadata, SecretUsageInfo};
use secret_core::{AuditOutcome, SecretAuditEventType};

use crate::chain_key::{AuditChainKey, ChainKeyError};
use crate::db::Database;
use crate::entity::{
    audit_chain_head as head, secret_audit_logs as logs, secret_usage_summary as summary, secrets,
};
use crate::error::{StoreError, StoreResult};
use crate::grants::grants_on;
use crate::secrets::{parse, to_record};

mod append;
mod charts;
mod fast;
mod pg_batch;
mod sqlite_batch;

use append::KnownHead;

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

/// Reads and batch writes of the audit trail and usage.
#[derive(Debug, Clone)]
pub struct AuditStore {
    db: Database,
    /// The head as this store's last batch left it (see [`append`]).
    known: std::sync::Arc<std::sync::Mutex<Option<KnownHead>>>,
    /// The batch writer's own SQLite connection (see [`sqlite_batch`]).
    batch: fast::LazyConn,
}
impl AuditStore {
    /// The audit store over `db`.
    pub fn new(db: Database) -> Self {
        AuditStore {
            db,
            known: Default::default(),
            batch: Default::default(),
        }
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
