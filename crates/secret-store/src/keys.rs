//! The key manager: opens the installation's key hierarchy with the master key, keeps the
//! unwrapped data-encryption keys in memory, and rotates both levels.
//!
//! - First start: a KDF salt (for a passphrase), the key-check value and the first DEK are
//!   written in one transaction.
//! - Later starts: the master key is checked against the key-check value before anything
//!   else, so a wrong key fails at start-up with a clear message.
//! - DEK rotation: a new ACTIVE key, the old one ROTATING; [`KeyManager::reencrypt_batch`]
//!   moves values to the active key a batch per transaction (safe to interrupt and rerun);
//!   when nothing references a ROTATING key it becomes RETIRED (decrypt only), and
//!   [`KeyManager::destroy_unreferenced_keys`] erases retired keys nothing references.
//! - Master-key rotation re-wraps the DEKs only (cost O(keys), not O(values)).

use std::sync::{Arc, RwLock};

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use secret_core::KeyStatus;
use secret_crypto::{Dek, KdfParams, Kek, KeyRing, MasterKeyMaterial, new_key_id};
use zeroize::Zeroizing;

use crate::db::Database;
use crate::entity::{crypto_settings, encryption_keys, secret_versions};
use crate::error::{StoreError, StoreResult};

const SETTINGS_ID: i32 = 1;
const ALGORITHM: &str = "AES-256-GCM";

/// How far a re-encryption has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReencryptProgress {
    /// Values re-encrypted by this call.
    pub reencrypted: u64,
    /// Values still encrypted under a key other than the active one.
    pub remaining: u64,
}

/// A summary of one data-encryption key (never its material).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub key_id: String,
    pub version: i64,
    pub status: KeyStatus,
    pub rotated_from_id: Option<String>,
    pub created_at: chrono::DateTime<Utc>,
    pub retired_at: Option<chrono::DateTime<Utc>>,
}

/// Holds the key-encryption key and the unwrapped data-encryption keys.
pub struct KeyManager {
    db: Database,
    kek: RwLock<Arc<Kek>>,
    ring: RwLock<KeyRing>,
}

impl std::fmt::Debug for KeyManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyManager").finish_non_exhaustive()
    }
}

fn lock_poisoned() -> StoreError {
    StoreError::Domain(secret_core::SecretError::internal(
        "key manager lock poisoned",
    ))
}

/// A key-encryption key from `material` with fresh KDF parameters (a new random salt for a
/// passphrase), and those parameters as the JSON `crypto_settings` keeps.
fn derive_fresh(material: &MasterKeyMaterial) -> StoreResult<(Kek, Option<String>)> {
    let kdf = material.new_kdf_params()?;
    let kek = material.derive_kek(kdf.as_ref())?;
    let kdf_json = kdf
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::corrupt("crypto_settings", e.to_string()))?;
    Ok((kek, kdf_json))
}

impl KeyManager {
    /// Opens the key hierarchy with `material`, initialising it on first start.
    pub async fn open(db: Database, material: &MasterKeyMaterial) -> StoreResult<Self> {
        if let Some(settings) = crypto_settings::Entity::find_by_id(SETTINGS_ID)
            .one(db.conn())
            .await?
        {
            return Self::open_existing(db, material, settings).await;
        }
        match Self::initialise(&db, material).await {
            Ok(()) => {}
            // Another process initialised it first: open what it wrote.
            Err(e) if e.is_unique_violation() => {}
            Err(e) => return Err(e),
        }
        let settings = crypto_settings::Entity::find_by_id(SETTINGS_ID)
            .one(db.conn())
            .await?
            .ok_or_else(|| {
                StoreError::corrupt("crypto_settings", "missing after initialisation")
            })?;
        Self::open_existing(db, material, settings).await
    }

    async fn initialise(db: &Database, material: &MasterKeyMaterial) -> StoreResult<()> {
        let (kek, kdf_json) = derive_fresh(material)?;
        let dek = Dek::generate()?;
        let key_id = new_key_id();
        let wrapped = kek.wrap_dek(&key_id, &dek)?;
        let now = Utc::now();
        let txn = db.conn().begin().await?;
        crypto_settings::ActiveModel {
            id: Set(SETTINGS_ID),
            kdf: Set(kdf_json),
            key_check: Set(kek.key_check()?),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await?;
        encryption_keys::ActiveModel {
            key_id: Set(key_id),
            version: Set(1),
            encrypted_key: Set(wrapped),
            algorithm: Set(ALGORITHM.to_string()),
            status: Set(KeyStatus::Active.as_str().to_string()),
            rotated_from_id: Set(None),
            created_at: Set(now),
            expires_at: Set(None),
            retired_at: Set(None),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        tracing::info!("initialised the key hierarchy with a new data-encryption key");
        Ok(())
    }

    async fn open_existing(
        db: Database,
        material: &MasterKeyMaterial,
        settings: crypto_settings::Model,
    ) -> StoreResult<Self> {
        let kdf: Option<KdfParams> = settings
            .kdf
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| StoreError::corrupt("crypto_settings", format!("kdf: {e}")))?;
        let kek = material.derive_kek(kdf.as_ref())?;
        kek.verify_key_check(&settings.key_check)?;
        let ring = Self::load_ring(&db, &kek).await?;
        Ok(KeyManager {
            db,
            kek: RwLock::new(Arc::new(kek)),
            ring: RwLock::new(ring),
        })
    }

    async fn load_ring(db: &Database, kek: &Kek) -> StoreResult<KeyRing> {
        let rows = encryption_keys::Entity::find()
            .filter(encryption_keys::Column::Status.ne(KeyStatus::Destroyed.as_str()))
            .order_by_asc(encryption_keys::Column::Version)
            .all(db.conn())
            .await?;
        let active = rows
            .iter()
            .filter(|r| r.status == KeyStatus::Active.as_str())
            .max_by_key(|r| r.version)
            .map(|r| r.key_id.clone())
            .ok_or_else(|| StoreError::corrupt("encryption_keys", "no ACTIVE key"))?;
        let mut keys = Vec::with_capacity(rows.len());
        for row in &rows {
            keys.push((
                row.key_id.clone(),
                kek.unwrap_dek(&row.key_id, &row.encrypted_key)?,
            ));
        }
        Ok(KeyRing::new(active, keys)?)
    }

    /// Re-reads the keys from the database (another process may have rotated them).
    pub async fn refresh(&self) -> StoreResult<()> {
        let kek = self.current_kek()?;
        let ring = Self::load_ring(&self.db, &kek).await?;
        *self.ring.write().map_err(|_| lock_poisoned())? = ring;
        Ok(())
    }

    fn current_kek(&self) -> StoreResult<Arc<Kek>> {
        Ok(self.kek.read().map_err(|_| lock_poisoned())?.clone())
    }

    /// The id of the key new values are encrypted with.
    pub fn active_key_id(&self) -> StoreResult<String> {
        Ok(self
            .ring
            .read()
            .map_err(|_| lock_poisoned())?
            .active_key_id()
            .to_string())
    }

    /// Encrypts `plaintext` for (secret id, version) with the active key.
    pub fn encrypt(
        &self,
        secret_id: &str,
        version: i64,
        plaintext: &[u8],
    ) -> StoreResult<(String, Vec<u8>)> {
        let ring = self.ring.read().map_err(|_| lock_poisoned())?;
        Ok(ring.encrypt(secret_id, version, plaintext)?)
    }

    /// Decrypts a value stored for (secret id, version) under `key_id`.
    pub async fn decrypt(
        &self,
        key_id: &str,
        secret_id: &str,
        version: i64,
        blob: &[u8],
    ) -> StoreResult<Zeroizing<Vec<u8>>> {
        let known = self
            .ring
            .read()
            .map_err(|_| lock_poisoned())?
            .contains(key_id);
        if !known {
            // Another process may have rotated the data key since this one loaded it.
            self.refresh().await?;
        }
        let ring = self.ring.read().map_err(|_| lock_poisoned())?;
        Ok(ring.decrypt(key_id, secret_id, version, blob)?)
    }

    /// Every key's metadata, oldest first.
    pub async fn list_keys(&self) -> StoreResult<Vec<KeyInfo>> {
        let rows = encryption_keys::Entity::find()
            .order_by_asc(encryption_keys::Column::Version)
            .all(self.db.conn())
            .await?;
        rows.into_iter()
            .map(|r| {
                Ok(KeyInfo {
                    status: r
                        .status
                        .parse()
                        .map_err(|_| StoreError::corrupt("encryption_keys", "unknown status"))?,
                    key_id: r.key_id,
                    version: r.version,
                    rotated_from_id: r.rotated_from_id,
                    created_at: r.created_at,
                    retired_at: r.retired_at,
                })
            })
            .collect()
    }

    /// Starts a data-key rotation: a new ACTIVE key; the previous ones become ROTATING until
    /// [`KeyManager::reencrypt_batch`] has moved every value off them. Returns the new key id.
    pub async fn rotate_data_key(&self) -> StoreResult<String> {
        let kek = self.current_kek()?;
        let dek = Dek::generate()?;
        let key_id = new_key_id();
        let wrapped = kek.wrap_dek(&key_id, &dek)?;
        let now = Utc::now();
        let txn = self.db.conn().begin().await?;
        // The update comes first so SQLite takes its write lock before any read.
        let previous = encryption_keys::Entity::find()
            .filter(encryption_keys::Column::Status.eq(KeyStatus::Active.as_str()))
            .all(&txn)
            .await?;
        encryption_keys::Entity::update_many()
            .col_expr(
                encryption_keys::Column::Status,
                Expr::value(KeyStatus::Rotating.as_str()),
            )
            .filter(encryption_keys::Column::Status.eq(KeyStatus::Active.as_str()))
            .exec(&txn)
            .await?;
        let max_version: Option<i64> = encryption_keys::Entity::find()
            .select_only()
            .column_as(encryption_keys::Column::Version.max(), "v")
            .into_tuple()
            .one(&txn)
            .await?
            .flatten();
        encryption_keys::ActiveModel {
            key_id: Set(key_id.clone()),
            version: Set(max_version.unwrap_or(0) + 1),
            encrypted_key: Set(wrapped),
            algorithm: Set(ALGORITHM.to_string()),
            status: Set(KeyStatus::Active.as_str().to_string()),
            rotated_from_id: Set(previous.last().map(|p| p.key_id.clone())),
            created_at: Set(now),
            expires_at: Set(None),
            retired_at: Set(None),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        {
            let mut ring = self.ring.write().map_err(|_| lock_poisoned())?;
            ring.insert(key_id.clone(), dek);
            ring.set_active(&key_id)?;
        }
        tracing::info!(key_id = %key_id, "rotated the data-encryption key");
        Ok(key_id)
    }

    /// Re-encrypts up to `batch_size` values held under a non-active key with the active key,
    /// in one transaction. Rerunning after an interruption continues where it stopped; when
    /// nothing is left, keys in ROTATING become RETIRED.
    pub async fn reencrypt_batch(&self, batch_size: u64) -> StoreResult<ReencryptProgress> {
        // Pick up a rotation done by another process.
        self.refresh().await?;
        let active = self.active_key_id()?;
        let stale = Condition::all()
            .add(secret_versions::Column::KeyId.ne(active.as_str()))
            .add(secret_versions::Column::EncryptedValue.is_not_null());
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
        let remaining = secret_versions::Entity::find()
            .filter(stale)
            .count(self.db.conn())
            .await?;
        if remaining == 0 {
            self.retire_rotating_keys().await?;
        }
        Ok(ReencryptProgress {
            reencrypted,
            remaining,
        })
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

    async fn retire_rotating_keys(&self) -> StoreResult<()> {
        let res = encryption_keys::Entity::update_many()
            .col_expr(
                encryption_keys::Column::Status,
                Expr::value(KeyStatus::Retired.as_str()),
            )
            .col_expr(encryption_keys::Column::RetiredAt, Expr::value(Utc::now()))
            .filter(encryption_keys::Column::Status.eq(KeyStatus::Rotating.as_str()))
            .exec(self.db.conn())
            .await?;
        if res.rows_affected > 0 {
            tracing::info!(keys = res.rows_affected, "retired data-encryption keys");
        }
        Ok(())
    }

    /// Erases the material of RETIRED keys that no stored value references (status
    /// DESTROYED). Returns the ids destroyed.
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
            if refs == 0 {
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

    /// Replaces the master key: every data key is re-wrapped under the new one and the
    /// key-check value (and KDF salt, for a passphrase) replaced, in one transaction.
    pub async fn rotate_master_key(&self, new_material: &MasterKeyMaterial) -> StoreResult<()> {
        let old_kek = self.current_kek()?;
        let (new_kek, kdf_json) = derive_fresh(new_material)?;
        let txn = self.db.conn().begin().await?;
        crypto_settings::Entity::update_many()
            .col_expr(crypto_settings::Column::Kdf, Expr::value(kdf_json))
            .col_expr(
                crypto_settings::Column::KeyCheck,
                Expr::value(new_kek.key_check()?),
            )
            .col_expr(crypto_settings::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(crypto_settings::Column::Id.eq(SETTINGS_ID))
            .exec(&txn)
            .await?;
        let keys = encryption_keys::Entity::find()
            .filter(encryption_keys::Column::Status.ne(KeyStatus::Destroyed.as_str()))
            .all(&txn)
            .await?;
        let count = keys.len();
        for key in keys {
            let dek = old_kek.unwrap_dek(&key.key_id, &key.encrypted_key)?;
            let rewrapped = new_kek.wrap_dek(&key.key_id, &dek)?;
            encryption_keys::Entity::update_many()
                .col_expr(
                    encryption_keys::Column::EncryptedKey,
                    Expr::value(rewrapped),
                )
                .filter(encryption_keys::Column::KeyId.eq(key.key_id.as_str()))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        *self.kek.write().map_err(|_| lock_poisoned())? = Arc::new(new_kek);
        tracing::info!(keys = count, "rotated the master key; data keys re-wrapped");
        Ok(())
    }
}
