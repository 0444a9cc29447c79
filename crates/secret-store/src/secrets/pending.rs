//! Pending writes to external vaults (ARCHITECTURE §7): the row recorded by a write's first
//! transaction, before the value goes to the vault, and cleared by the transaction that
//! makes the new version visible. At most one per secret, so two writers of one secret never
//! write to its vault at once.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use secret_core::SecretError;

use crate::entity::secret_pending_writes as pw;
use crate::error::StoreResult;

use super::{SecretRepository, WriteTx};

/// What a pending write is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingOperation {
    /// A new secret's first version.
    Create,
    /// A further version of an existing secret.
    Update,
    /// Removing a permanently deleted secret's copies from its vault.
    Purge,
}

impl PendingOperation {
    fn as_str(self) -> &'static str {
        match self {
            PendingOperation::Create => "CREATE",
            PendingOperation::Update => "UPDATE",
            PendingOperation::Purge => "PURGE",
        }
    }
}

/// The `operation` of a pending write whose writer gave up.
pub const ABANDONED: &str = "ABANDONED";

/// One pending write, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingWrite {
    pub secret_id: String,
    pub version: i64,
    pub vault_id: String,
    pub operation: String,
    pub created_at: DateTime<Utc>,
    pub created_by_id: String,
}

/// A write to an external vault about to start: what the pending row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StagedWrite<'a> {
    pub secret_id: &'a str,
    /// The version being written (for a purge: the last version).
    pub version: i64,
    pub vault_id: &'a str,
    pub operation: PendingOperation,
    pub actor_id: &'a str,
    pub now: DateTime<Utc>,
}

impl WriteTx {
    /// Records that `write.version` of `write.secret_id` is being written to vault
    /// `write.vault_id`. Another write of the same secret still pending is CONFLICT.
    pub async fn stage_write(&mut self, write: &StagedWrite<'_>) -> StoreResult<()> {
        let StagedWrite {
            secret_id,
            version,
            vault_id,
            operation,
            actor_id,
            now,
        } = *write;
        if pw::Entity::find_by_id(secret_id)
            .one(self.txn())
            .await?
            .is_some()
        {
            return Err(SecretError::Conflict {
                message: "another write to this secret is in progress; retry shortly".to_string(),
            }
            .into());
        }
        pw::ActiveModel {
            secret_id: Set(secret_id.to_string()),
            version: Set(version),
            vault_config_id: Set(vault_id.to_string()),
            operation: Set(operation.as_str().to_string()),
            vault_ref: Set(None),
            created_at: Set(now),
            created_by_id: Set(actor_id.to_string()),
        }
        .insert(self.txn())
        .await?;
        Ok(())
    }

    /// Clears the pending write of version `version` of `secret_id`; false when it is not
    /// (or no longer) the one recorded.
    pub async fn finish_write(&mut self, secret_id: &str, version: i64) -> StoreResult<bool> {
        let res = pw::Entity::delete_many()
            .filter(pw::Column::SecretId.eq(secret_id))
            .filter(pw::Column::Version.eq(version))
            .exec(self.txn())
            .await?;
        Ok(res.rows_affected == 1)
    }
}

impl SecretRepository {
    /// Clears a pending write whose vault write failed or was undone.
    pub async fn drop_write(&self, secret_id: &str, version: i64) -> StoreResult<()> {
        pw::Entity::delete_many()
            .filter(pw::Column::SecretId.eq(secret_id))
            .filter(pw::Column::Version.eq(version))
            .exec(self.database().conn())
            .await?;
        Ok(())
    }

    /// Marks a pending write abandoned: its writer gave up (and told its caller so) but
    /// could not undo what the vault may hold. Reconciliation removes it, never adopts it.
    pub async fn abandon_write(&self, secret_id: &str, version: i64) -> StoreResult<()> {
        use sea_orm::sea_query::Expr;
        pw::Entity::update_many()
            .col_expr(pw::Column::Operation, Expr::value(ABANDONED))
            .filter(pw::Column::SecretId.eq(secret_id))
            .filter(pw::Column::Version.eq(version))
            .exec(self.database().conn())
            .await?;
        Ok(())
    }

    /// Pending writes to settle: abandoned ones, and those recorded before `before` (left
    /// by a process that stopped mid-write).
    pub async fn stale_writes(&self, before: DateTime<Utc>) -> StoreResult<Vec<PendingWrite>> {
        use sea_orm::Condition;
        Ok(pw::Entity::find()
            .filter(
                Condition::any()
                    .add(pw::Column::CreatedAt.lt(before))
                    .add(pw::Column::Operation.eq(ABANDONED)),
            )
            .all(self.database().conn())
            .await?
            .into_iter()
            .map(|m| PendingWrite {
                secret_id: m.secret_id,
                version: m.version,
                vault_id: m.vault_config_id,
                operation: m.operation,
                created_at: m.created_at,
                created_by_id: m.created_by_id,
            })
            .collect())
    }
}
