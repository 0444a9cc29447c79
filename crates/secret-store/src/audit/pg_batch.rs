//! The batch writer's group commit on PostgreSQL as one statement.
//!
//! Through sea-orm a batch is six round trips (begin, move the head, insert the records,
//! insert the usage rows, fold the summaries, commit), each waiting on the server. Here it is
//! one: a statement whose data-modifying parts run in one implicit transaction, with every
//! row bound as an array (so the statement's text, and the server's prepared plan, is the
//! same for every batch size). The records, usage rows and summaries are inserted only when
//! the head moved; the statement answers whether it did.

use chrono::{DateTime, Utc};
use sea_orm::{DbErr, RuntimeErr};
use sqlx::PgPool;

use super::HEAD_ID;
use super::append::usage_summaries;
use super::fast::Batch;
use crate::error::{StoreError, StoreResult};

const APPEND: &str = "\
WITH moved AS (
    UPDATE audit_chain_head SET seq = $1, hash = $2
    WHERE id = $3 AND seq = $4 AND hash = $5
      AND EXISTS (SELECT 1 FROM audit_chain_key WHERE key_id = $6 AND keyed_from_seq = $7)
    RETURNING 1
), records AS (
    INSERT INTO secret_audit_logs (id, seq, prev_hash, hash, event_type, event_category,
        actor_type, actor_id, actor_name, organization_id, team_id, project_id, secret_id,
        secret_name, secret_scope, action, details, ip_address, user_agent, request_id,
        consumer_module, outcome, error_message, timestamp)
    SELECT * FROM unnest($8::text[], $9::int8[], $10::text[], $11::text[], $12::text[],
        $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[],
        $19::text[], $20::text[], $21::text[], $22::text[], $23::text[], $24::text[],
        $25::text[], $26::text[], $27::text[], $28::text[], $29::text[], $30::text[],
        $31::timestamptz[]) AS r
    WHERE EXISTS (SELECT 1 FROM moved)
), used AS (
    INSERT INTO secret_usage (id, secret_id, consumer_module, consumer_resource_id,
        organization_id, user_id, used_at)
    SELECT * FROM unnest($32::text[], $33::text[], $34::text[], $35::text[], $36::text[],
        $37::text[], $38::timestamptz[]) AS u
    WHERE EXISTS (SELECT 1 FROM moved)
), folded AS (
    INSERT INTO secret_usage_summary AS s (secret_id, consumer_module, last_used_at, read_count)
    SELECT * FROM unnest($39::text[], $40::text[], $41::timestamptz[], $42::int8[]) AS f
    WHERE EXISTS (SELECT 1 FROM moved)
    ON CONFLICT (secret_id, consumer_module) DO UPDATE
    SET last_used_at = excluded.last_used_at, read_count = s.read_count + excluded.read_count
)
SELECT count(*) FROM moved";

fn failed(e: sqlx::Error) -> StoreError {
    StoreError::Db(DbErr::Exec(RuntimeErr::SqlxError(e.into())))
}

/// A column of the batch's records.
fn column<T>(batch: &Batch, f: impl Fn(&secret_core::audit::AuditEntry) -> T) -> Vec<T> {
    batch.entries.iter().map(f).collect()
}

/// Commits `batch` (which has entries) in one statement. Returns false, having written
/// nothing, when the head is no longer where the batch expects it.
pub(super) async fn append(pool: &PgPool, batch: &Batch) -> StoreResult<bool> {
    let Some((from, to)) = &batch.head else {
        return Ok(false);
    };
    let text = |s: &str| s.to_string();
    let links = &batch.links;
    let usages = &batch.usages;
    let summaries = usage_summaries(usages);
    let moved: i64 = sqlx::query_scalar(APPEND)
        .bind(to.seq)
        .bind(&to.hash)
        .bind(HEAD_ID)
        .bind(from.seq)
        .bind(&from.hash)
        .bind(&from.key_id)
        .bind(from.keyed_from_seq)
        .bind(column(batch, |e| e.id.clone()))
        .bind(links.iter().map(|l| l.seq).collect::<Vec<i64>>())
        .bind(
            links
                .iter()
                .map(|l| l.prev_hash.clone())
                .collect::<Vec<_>>(),
        )
        .bind(links.iter().map(|l| l.hash.clone()).collect::<Vec<_>>())
        .bind(column(batch, |e| text(e.event_type.as_str())))
        .bind(column(batch, |e| text(e.event_category.as_str())))
        .bind(column(batch, |e| text(e.actor_type.as_str())))
        .bind(column(batch, |e| e.actor_id.clone()))
        .bind(column(batch, |e| e.actor_name.clone()))
        .bind(column(batch, |e| e.organization_id.clone()))
        .bind(column(batch, |e| e.team_id.clone()))
        .bind(column(batch, |e| e.project_id.clone()))
        .bind(column(batch, |e| e.secret_id.clone()))
        .bind(column(batch, |e| e.secret_name.clone()))
        .bind(column(batch, |e| e.secret_scope.map(|s| text(s.as_str()))))
        .bind(column(batch, |e| e.action.clone()))
        .bind(column(batch, |e| e.details.clone()))
        .bind(column(batch, |e| e.ip_address.clone()))
        .bind(column(batch, |e| e.user_agent.clone()))
        .bind(column(batch, |e| e.request_id.clone()))
        .bind(column(batch, |e| e.consumer_module.clone()))
        .bind(column(batch, |e| text(e.outcome.as_str())))
        .bind(column(batch, |e| e.error_message.clone()))
        .bind(column(batch, |e| e.timestamp))
        .bind(usages.iter().map(|u| u.id.clone()).collect::<Vec<_>>())
        .bind(
            usages
                .iter()
                .map(|u| u.secret_id.clone())
                .collect::<Vec<_>>(),
        )
        .bind(
            usages
                .iter()
                .map(|u| u.consumer_module.clone())
                .collect::<Vec<_>>(),
        )
        .bind(
            usages
                .iter()
                .map(|u| u.consumer_resource_id.clone())
                .collect::<Vec<_>>(),
        )
        .bind(
            usages
                .iter()
                .map(|u| u.organization_id.clone())
                .collect::<Vec<_>>(),
        )
        .bind(usages.iter().map(|u| u.user_id.clone()).collect::<Vec<_>>())
        .bind(usages.iter().map(|u| u.used_at).collect::<Vec<_>>())
        .bind(summaries.keys().map(|(s, _)| text(s)).collect::<Vec<_>>())
        .bind(summaries.keys().map(|(_, m)| text(m)).collect::<Vec<_>>())
        .bind(
            summaries
                .values()
                .map(|(at, _)| *at)
                .collect::<Vec<DateTime<Utc>>>(),
        )
        .bind(summaries.values().map(|(_, n)| *n).collect::<Vec<i64>>())
        .fetch_one(pool)
        .await
        .map_err(failed)?;
    Ok(moved == 1)
}
