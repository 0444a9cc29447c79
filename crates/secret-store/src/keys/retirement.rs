//! Moving values off old data keys, retiring them, and destroying them once nothing
//! references them (part of [`KeyManager`]).

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};
use secret_core::KeyStatus;

use crate::entity::{
    encryption_keys, secret_pending_versions, secret_versions, secrets, vault_configurations,
};
use crate::error::{StoreError, StoreResult};

use super::{KeyManager, ReencryptProgress, lock_poisoned};

impl KeyManager {
    /// Re-encrypts up to `batch_size` values held under a non-active key with the active key,
    /// in one transaction. Rerunning after an interruption continues where it stopped; when
    /// nothing is left, keys in ROTATING become RETIRED.
    pub async fn reencrypt_batch(&self, batch_size: u64) -> StoreResult<ReencryptProgress> {
        // Pick up a rotation done by another process.
        self.refresh().await?;
        let active = self.active_key_id()?;
        let stale = stale_versions(&active);
        let batch = secret_versions::Entity::find()
            .filter(stale.clone())
            .order_by_asc(secret_versions::Column::Id)
            .limit(batch_size)
            .all(self.db.conn())
            .await?;
        let mut reencrypted = 0;
        if !batch.is_empty() {
            let txn = self.db.conn().begin().await?;
            for row in batch {
                let (Some(old_key), Some(blob)) =
                    (row.key_id.as_deref(), row.encrypted_value.as_deref())
                else {
                    continue;
                };
                let plaintext = self
                    .decrypt(old_key, &row.secret_id, row.version, blob)
                    .await?;
                let (new_key, new_blob) = self.encrypt(&row.secret_id, row.version, &plaintext)?;
                // Conditional on the old key so a concurrent writer's row is never overwritten.
                let res = secret_versions::Entity::update_many()
                    .col_expr(
                        secret_versions::Column::EncryptedValue,
                        Expr::value(new_blob),
                    )
                    .col_expr(secret_versions::Column::KeyId, Expr::value(new_key))
                    .filter(secret_versions::Column::Id.eq(row.id.as_str()))
                    .filter(secret_versions::Column::KeyId.eq(old_key))
                    .exec(&txn)
                    .await?;
                reencrypted += res.rows_affected;
            }
            txn.commit().await?;
        }
        let (masked_moved, masked_remaining) =
            self.reencrypt_masked_batch(&active, batch_size).await?;
        reencrypted += masked_moved;
        let (configs_moved, configs_remaining) = self.reencrypt_vault_configs(&active).await?;
        reencrypted += configs_moved;
        let remaining = secret_versions::Entity::find()
            .filter(stale)
            .count(self.db.conn())
            .await?
            + masked_remaining
            + configs_remaining;
        let retired = if remaining == 0 {
            self.retire_rotating_keys().await?
        } else {
            Vec::new()
        };
        Ok(ReencryptProgress {
            reencrypted,
            remaining,
            retired,
        })
    }

    /// Moves up to `batch_size` secrets' masked displays (on the `secrets` row, bound to
    /// the current version) to the active key; returns how many moved and how many remain.
    async fn reencrypt_masked_batch(
        &self,
        active: &str,
        batch_size: u64,
    ) -> StoreResult<(u64, u64)> {
        let stale = stale_masked(active);
        let batch = secrets::Entity::find()
            .filter(stale.clone())
            .order_by_asc(secrets::Column::Id)
            .limit(batch_size)
            .all(self.db.conn())
            .await?;
        let mut moved = 0;
        if !batch.is_empty() {
            let txn = self.db.conn().begin().await?;
            for row in batch {
                let (Some(old_key), Some(blob)) =
                    (row.masked_key_id.as_deref(), row.masked_value.as_deref())
                else {
                    continue;
                };
                let plaintext = self
                    .decrypt_masked(old_key, &row.id, row.current_version, blob)
                    .await?;
                let (new_key, new_blob) =
                    self.encrypt_masked(&row.id, row.current_version, &plaintext)?;
                // Conditional on the old key and version: a concurrent new version wins.
                let res = secrets::Entity::update_many()
                    .col_expr(secrets::Column::MaskedValue, Expr::value(new_blob))
                    .col_expr(secrets::Column::MaskedKeyId, Expr::value(new_key))
                    .filter(secrets::Column::Id.eq(row.id.as_str()))
                    .filter(secrets::Column::MaskedKeyId.eq(old_key))
                    .filter(secrets::Column::CurrentVersion.eq(row.current_version))
                    .exec(&txn)
                    .await?;
                moved += res.rows_affected;
            }
            txn.commit().await?;
        }
        let remaining = secrets::Entity::find()
            .filter(stale)
            .count(self.db.conn())
            .await?;
        Ok((moved, remaining))
    }

    /// Moves every vault configuration's settings to the active key (there are few);
    /// returns how many moved and how many remain.
    async fn reencrypt_vault_configs(&self, active: &str) -> StoreResult<(u64, u64)> {
        use vault_configurations as vc;
        let stale = stale_configs(active);
        let rows = vc::Entity::find()
            .filter(stale.clone())
            .all(self.db.conn())
            .await?;
        let mut moved = 0;
        if !rows.is_empty() {
            let txn = self.db.conn().begin().await?;
            for row in rows {
                let plaintext = self
                    .decrypt_vault_config(&row.config_key_id, &row.id, &row.encrypted_config)
                    .await?;
                let (new_key, new_blob) = self.encrypt_vault_config(&row.id, &plaintext)?;
                // Conditional on the old key: a concurrent change of the settings wins.
                let res = vc::Entity::update_many()
                    .col_expr(vc::Column::EncryptedConfig, Expr::value(new_blob))
                    .col_expr(vc::Column::ConfigKeyId, Expr::value(new_key))
                    .filter(vc::Column::Id.eq(row.id.as_str()))
                    .filter(vc::Column::ConfigKeyId.eq(row.config_key_id.as_str()))
                    .exec(&txn)
                    .await?;
                moved += res.rows_affected;
            }
            txn.commit().await?;
        }
        let remaining = vc::Entity::find()
            .filter(stale)
            .count(self.db.conn())
            .await?;
        Ok((moved, remaining))
    }

    /// Runs [`KeyManager::reencrypt_batch`] until nothing is left; returns the total moved.
    pub async fn reencrypt_all(&self, batch_size: u64) -> StoreResult<u64> {
        let mut total = 0;
        loop {
            let progress = self.reencrypt_batch(batch_size).await?;
            total += progress.reencrypted;
            tracing::info!(
                reencrypted = progress.reencrypted,
                remaining = progress.remaining,
                "re-encryption batch done"
            );
            if progress.remaining == 0 {
                return Ok(total);
            }
            if progress.reencrypted == 0 {
                return Err(StoreError::corrupt(
                    "secret_versions",
                    "re-encryption made no progress; values reference keys that cannot be used",
                ));
            }
        }
    }

    /// How many stored values (versions, masked displays, vault configurations) are still
    /// encrypted under a key other than the active one: what a re-encryption has left.
    pub async fn reencryption_remaining(&self) -> StoreResult<u64> {
        self.refresh().await?;
        let active = self.active_key_id()?;
        let conn = self.db.conn();
        Ok(secret_versions::Entity::find()
            .filter(stale_versions(&active))
            .count(conn)
            .await?
            + secrets::Entity::find()
                .filter(stale_masked(&active))
                .count(conn)
                .await?
            + vault_configurations::Entity::find()
                .filter(stale_configs(&active))
                .count(conn)
                .await?)
    }

    /// ROTATING keys become RETIRED (decrypt only); returns their ids.
    async fn retire_rotating_keys(&self) -> StoreResult<Vec<String>> {
        let rotating: Vec<String> = encryption_keys::Entity::find()
            .filter(encryption_keys::Column::Status.eq(KeyStatus::Rotating.as_str()))
            .order_by_asc(encryption_keys::Column::Version)
            .all(self.db.conn())
            .await?
            .into_iter()
            .map(|k| k.key_id)
            .collect();
        if rotating.is_empty() {
            return Ok(rotating);
        }
        encryption_keys::Entity::update_many()
            .col_expr(
                encryption_keys::Column::Status,
                Expr::value(KeyStatus::Retired.as_str()),
            )
            .col_expr(encryption_keys::Column::RetiredAt, Expr::value(Utc::now()))
            .filter(encryption_keys::Column::Status.eq(KeyStatus::Rotating.as_str()))
            .filter(encryption_keys::Column::KeyId.is_in(rotating.iter().map(String::as_str)))
            .exec(self.db.conn())
            .await?;
        tracing::info!(keys = rotating.len(), "retired data-encryption keys");
        Ok(rotating)
    }

    /// Erases the material of RETIRED keys that no stored value references (status
    /// DESTROYED): neither a version, a rotation's pending version (which becomes a
    /// version when the rotation completes), a masked display nor a vault configuration. Returns the ids destroyed.
    pub async fn destroy_unreferenced_keys(&self) -> StoreResult<Vec<String>> {
        let retired = encryption_keys::Entity::find()
            .filter(encryption_keys::Column::Status.eq(KeyStatus::Retired.as_str()))
            .all(self.db.conn())
            .await?;
        let mut destroyed = Vec::new();
        for key in retired {
            let txn = self.db.conn().begin().await?;
            // Mark first (takes the write lock), then check references inside the same
            // transaction so no value can start referencing the key in between.
            encryption_keys::Entity::update_many()
                .col_expr(
                    encryption_keys::Column::Status,
                    Expr::value(KeyStatus::Destroyed.as_str()),
                )
                .col_expr(
                    encryption_keys::Column::EncryptedKey,
                    Expr::value(Vec::<u8>::new()),
                )
                .filter(encryption_keys::Column::KeyId.eq(key.key_id.as_str()))
                .exec(&txn)
                .await?;
            let refs = secret_versions::Entity::find()
                .filter(secret_versions::Column::KeyId.eq(key.key_id.as_str()))
                .count(&txn)
                .await?;
            let pending_refs = secret_pending_versions::Entity::find()
                .filter(secret_pending_versions::Column::KeyId.eq(key.key_id.as_str()))
                .count(&txn)
                .await?;
            let masked_refs = secrets::Entity::find()
                .filter(secrets::Column::MaskedKeyId.eq(key.key_id.as_str()))
                .count(&txn)
                .await?;
            let config_refs = vault_configurations::Entity::find()
                .filter(vault_configurations::Column::ConfigKeyId.eq(key.key_id.as_str()))
                .count(&txn)
                .await?;
            if refs == 0 && pending_refs == 0 && masked_refs == 0 && config_refs == 0 {
                txn.commit().await?;
                self.ring
                    .write()
                    .map_err(|_| lock_poisoned())?
                    .remove(&key.key_id)?;
                destroyed.push(key.key_id);
            } else {
                txn.rollback().await?;
            }
        }
        Ok(destroyed)
    }
}

/// Versions whose value is held under a key other than `active`.
fn stale_versions(active: &str) -> Condition {
    Condition::all()
        .add(secret_versions::Column::KeyId.ne(active))
        .add(secret_versions::Column::EncryptedValue.is_not_null())
}

/// Secrets whose masked display is held under a key other than `active`.
fn stale_masked(active: &str) -> Condition {
    Condition::all()
        .add(secrets::Column::MaskedKeyId.ne(active))
        .add(secrets::Column::MaskedValue.is_not_null())
}

/// Vault configurations whose settings are held under a key other than `active`.
fn stale_configs(active: &str) -> Condition {
    use vault_configurations as vc;
    Condition::all()
        .add(vc::Column::ConfigKeyId.ne(active))
        .add(vc::Column::ConfigKeyId.ne(""))
}
