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
//! - Master-key rotation re-wraps the DEKs and the audit chain key only (cost O(keys), not
//!   O(values)).
//! - The audit chain key (see [`crate::chain_key`]) is created at the first start on a
//!   database, keyed from one past the chain's head, and unwrapped at every start; it is
//!   re-wrapped, never changed, when the master key rotates.
//! - Several processes share one database: before anything new is wrapped (a new DEK, the
//!   chain key, a master-key rotation) the key-check value is re-read inside the writing
//!   transaction, with its row locked, and the operation refused without writing if it no
//!   longer matches the KEK this process holds (another process rotated the master key).
//!   The keys are re-read in that transaction too, so a rotation builds on the current ones.
//! - A key is destroyed only when no version and no pending rotation version references it.

use std::sync::{Arc, RwLock};

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};
use secret_core::{KeyStatus, SecretError};
use secret_crypto::{
    ChainKey, CryptoError, Dek, KdfParams, Kek, KeyRing, MasterKeyMaterial, new_chain_key_id,
    new_key_id,
};
use zeroize::Zeroizing;

use crate::audit::HEAD_ID;
use crate::chain_key::{AuditChainKey, CHAIN_KEY_ROW_ID, ChainKeyError, read_row};
use crate::db::Database;
use crate::entity::{audit_chain_head, audit_chain_key, crypto_settings, encryption_keys};
use crate::error::{StoreError, StoreResult};

mod domains;
mod retirement;

const SETTINGS_ID: i32 = 1;
const ALGORITHM: &str = "AES-256-GCM";

/// How far a re-encryption has come.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReencryptProgress {
    /// Values re-encrypted by this call.
    pub reencrypted: u64,
    /// Values still encrypted under a key other than the active one.
    pub remaining: u64,
    /// Keys this call retired (ROTATING to RETIRED) because nothing was left on them.
    pub retired: Vec<String>,
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

/// Holds the key-encryption key, the unwrapped data-encryption keys and the audit chain key.
pub struct KeyManager {
    db: Database,
    kek: RwLock<Arc<Kek>>,
    ring: RwLock<KeyRing>,
    chain: AuditChainKey,
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

/// The refusal when the database's key-check value no longer matches this process's KEK.
fn master_key_changed() -> StoreError {
    StoreError::Domain(SecretError::Conflict {
        message: "the master key was rotated (by another process) since this key manager \
                  opened the key hierarchy: nothing was written; reopen it with the new \
                  master key"
            .to_string(),
    })
}

/// Locks the crypto settings row for the rest of `conn`'s transaction (a no-op UPDATE:
/// SQLite's write lock, PostgreSQL's row lock, which a master-key rotation also takes),
/// then checks that the stored key-check value is still `kek`'s. A mismatch is
/// [`master_key_changed`].
async fn lock_and_check_kcv<C: ConnectionTrait>(conn: &C, kek: &Kek) -> StoreResult<()> {
    let locked = crypto_settings::Entity::update_many()
        .col_expr(
            crypto_settings::Column::UpdatedAt,
            Expr::col(crypto_settings::Column::UpdatedAt),
        )
        .filter(crypto_settings::Column::Id.eq(SETTINGS_ID))
        .exec(conn)
        .await?;
    if locked.rows_affected != 1 {
        return Err(StoreError::corrupt(
            "crypto_settings",
            "the settings row is missing",
        ));
    }
    let settings = crypto_settings::Entity::find_by_id(SETTINGS_ID)
        .one(conn)
        .await?
        .ok_or_else(|| StoreError::corrupt("crypto_settings", "the settings row is missing"))?;
    match kek.verify_key_check(&settings.key_check) {
        Ok(()) => Ok(()),
        Err(CryptoError::WrongMasterKey) => Err(master_key_changed()),
        Err(e) => Err(e.into()),
    }
}

/// The KEK `material` derives with the stored settings, checked against the key-check value.
fn derive_checked(
    material: &MasterKeyMaterial,
    settings: &crypto_settings::Model,
) -> StoreResult<Kek> {
    let kdf: Option<KdfParams> = settings
        .kdf
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| StoreError::corrupt("crypto_settings", format!("kdf: {e}")))?;
    let kek = material.derive_kek(kdf.as_ref())?;
    kek.verify_key_check(&settings.key_check)?;
    Ok(kek)
}

/// Unwraps the chain key of `row` under `kek` and registers it for this process's appends.
fn open_chain_row(kek: &Kek, row: &audit_chain_key::Model) -> Result<AuditChainKey, ChainKeyError> {
    let key = kek
        .unwrap_chain_key(&row.key_id, row.keyed_from_seq, &row.encrypted_key)
        .map_err(|e| match e {
            CryptoError::Decrypt | CryptoError::MalformedCiphertext => ChainKeyError::Altered,
            other => ChainKeyError::Store(other.into()),
        })?;
    Ok(AuditChainKey::register(
        row.key_id.clone(),
        row.keyed_from_seq,
        key,
    ))
}

/// The rows of every key not destroyed, in `conn`.
async fn live_key_rows<C: ConnectionTrait>(conn: &C) -> StoreResult<Vec<encryption_keys::Model>> {
    Ok(encryption_keys::Entity::find()
        .filter(encryption_keys::Column::Status.ne(KeyStatus::Destroyed.as_str()))
        .order_by_asc(encryption_keys::Column::Version)
        .all(conn)
        .await?)
}

/// A key ring of `rows` unwrapped under `kek`, its active key the newest ACTIVE one.
fn ring_of(rows: &[encryption_keys::Model], kek: &Kek) -> StoreResult<KeyRing> {
    let active = rows
        .iter()
        .filter(|r| r.status == KeyStatus::Active.as_str())
        .max_by_key(|r| r.version)
        .map(|r| r.key_id.clone())
        .ok_or_else(|| StoreError::corrupt("encryption_keys", "no ACTIVE key"))?;
    let mut keys = Vec::with_capacity(rows.len());
    for row in rows {
        keys.push((
            row.key_id.clone(),
            kek.unwrap_dek(&row.key_id, &row.encrypted_key)?,
        ));
    }
    Ok(KeyRing::new(active, keys)?)
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
        let kek = derive_checked(material, &settings)?;
        let ring = Self::load_ring(&db, &kek).await?;
        let chain = Self::ensure_chain_key(&db, &kek).await?;
        Ok(KeyManager {
            db,
            kek: RwLock::new(Arc::new(kek)),
            ring: RwLock::new(ring),
            chain,
        })
    }

    async fn load_ring(db: &Database, kek: &Kek) -> StoreResult<KeyRing> {
        ring_of(&live_key_rows(db.conn()).await?, kek)
    }

    /// Opens the audit chain key, creating it on the first start on this database: keyed
    /// from one past the chain's head, in a transaction that holds the head's lock (so no
    /// append falls between) and re-checks the key-check value.
    async fn ensure_chain_key(db: &Database, kek: &Kek) -> StoreResult<AuditChainKey> {
        let chain_err = |e: ChainKeyError| match e {
            ChainKeyError::Store(e) => e,
            other => StoreError::Domain(SecretError::internal(other)),
        };
        if let Some(row) = read_row(db.conn()).await? {
            return open_chain_row(kek, &row).map_err(chain_err);
        }
        let key = ChainKey::generate()?;
        let key_id = new_chain_key_id();
        let txn = db.conn().begin().await?;
        lock_and_check_kcv(&txn, kek).await?;
        let locked = audit_chain_head::Entity::update_many()
            .col_expr(
                audit_chain_head::Column::Seq,
                Expr::col(audit_chain_head::Column::Seq),
            )
            .filter(audit_chain_head::Column::Id.eq(HEAD_ID))
            .exec(&txn)
            .await?;
        let head = audit_chain_head::Entity::find_by_id(HEAD_ID)
            .one(&txn)
            .await?;
        let (1, Some(head)) = (locked.rows_affected, head) else {
            return Err(StoreError::corrupt(
                "audit_chain_head",
                "the chain's head row is missing",
            ));
        };
        if read_row(&txn).await?.is_none() {
            let keyed_from_seq = head.seq + 1;
            let now = Utc::now();
            let inserted = audit_chain_key::ActiveModel {
                id: Set(CHAIN_KEY_ROW_ID),
                key_id: Set(key_id.clone()),
                encrypted_key: Set(kek.wrap_chain_key(&key_id, keyed_from_seq, &key)?),
                keyed_from_seq: Set(keyed_from_seq),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(&txn)
            .await
            .map_err(StoreError::from);
            match inserted {
                Ok(_) => {
                    txn.commit().await?;
                    tracing::info!(
                        key_id = %key_id,
                        keyed_from_seq,
                        "created the audit chain key: records from keyed_from_seq on are keyed"
                    );
                    return Ok(AuditChainKey::register(key_id, keyed_from_seq, key));
                }
                // Another process created it first: open what it wrote.
                Err(e) if e.is_unique_violation() => {}
                Err(e) => return Err(e),
            }
        }
        drop(txn);
        let row = read_row(db.conn())
            .await?
            .ok_or_else(|| StoreError::corrupt("audit_chain_key", "missing after creation"))?;
        open_chain_row(kek, &row).map_err(chain_err)
    }

    /// Opens the audit chain key for verification, reading only: checks `material` against
    /// the key-check value, then unwraps the key. A wrong master key is
    /// `ChainKeyError::Store(StoreError::Crypto(CryptoError::WrongMasterKey))`.
    pub async fn read_audit_chain_key(
        db: &Database,
        material: &MasterKeyMaterial,
    ) -> Result<AuditChainKey, ChainKeyError> {
        let settings = crypto_settings::Entity::find_by_id(SETTINGS_ID)
            .one(db.conn())
            .await
            .map_err(StoreError::from)?
            .ok_or(ChainKeyError::NotInitialised)?;
        let kek = derive_checked(material, &settings)?;
        let row = read_row(db.conn()).await?.ok_or(ChainKeyError::NotKeyed)?;
        open_chain_row(&kek, &row)
    }

    /// The audit chain key this key manager opened (its handle keeps it loaded for the
    /// process's appends).
    pub fn audit_chain_key(&self) -> &AuditChainKey {
        &self.chain
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
        self.ensure_loaded(key_id).await?;
        let ring = self.ring.read().map_err(|_| lock_poisoned())?;
        Ok(ring.decrypt(key_id, secret_id, version, blob)?)
    }

    /// Reloads the key ring when `key_id` is not in it: another process may have rotated
    /// the data key since this one loaded it.
    async fn ensure_loaded(&self, key_id: &str) -> StoreResult<()> {
        let known = self
            .ring
            .read()
            .map_err(|_| lock_poisoned())?
            .contains(key_id);
        if !known {
            self.refresh().await?;
        }
        Ok(())
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
    ///
    /// Refused with CONFLICT, writing nothing, if another process rotated the master key
    /// since this one opened the hierarchy.
    pub async fn rotate_data_key(&self) -> StoreResult<String> {
        let kek = self.current_kek()?;
        let txn = self.db.conn().begin().await?;
        // The settings row is locked first (a write: SQLite's write lock before any read),
        // then the key-check value and the keys are re-read under that lock.
        lock_and_check_kcv(&txn, &kek).await?;
        let rows = live_key_rows(&txn).await?;
        let mut ring = ring_of(&rows, &kek)?;
        let dek = Dek::generate()?;
        let key_id = new_key_id();
        let wrapped = kek.wrap_dek(&key_id, &dek)?;
        let now = Utc::now();
        let previous: Vec<_> = rows
            .iter()
            .filter(|r| r.status == KeyStatus::Active.as_str())
            .collect();
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
        ring.insert(key_id.clone(), dek);
        ring.set_active(&key_id)?;
        txn.commit().await?;
        *self.ring.write().map_err(|_| lock_poisoned())? = ring;
        tracing::info!(key_id = %key_id, "rotated the data-encryption key");
        Ok(key_id)
    }

    /// Replaces the master key: every data key and the audit chain key are re-wrapped under
    /// the new one (the chain key itself never changes, so every record still verifies) and
    /// the key-check value (and KDF salt, for a passphrase) replaced, in one transaction.
    ///
    /// Refused with CONFLICT, writing nothing, if another process rotated the master key
    /// since this one opened the hierarchy.
    pub async fn rotate_master_key(&self, new_material: &MasterKeyMaterial) -> StoreResult<()> {
        let old_kek = self.current_kek()?;
        let (new_kek, kdf_json) = derive_fresh(new_material)?;
        let txn = self.db.conn().begin().await?;
        lock_and_check_kcv(&txn, &old_kek).await?;
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
        let chain = read_row(&txn)
            .await?
            .ok_or_else(|| StoreError::corrupt("audit_chain_key", "the chain key is missing"))?;
        let chain_key = old_kek
            .unwrap_chain_key(&chain.key_id, chain.keyed_from_seq, &chain.encrypted_key)
            .map_err(|_| StoreError::Domain(SecretError::internal(ChainKeyError::Altered)))?;
        audit_chain_key::Entity::update_many()
            .col_expr(
                audit_chain_key::Column::EncryptedKey,
                Expr::value(new_kek.wrap_chain_key(
                    &chain.key_id,
                    chain.keyed_from_seq,
                    &chain_key,
                )?),
            )
            .col_expr(audit_chain_key::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(audit_chain_key::Column::Id.eq(CHAIN_KEY_ROW_ID))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        *self.kek.write().map_err(|_| lock_poisoned())? = Arc::new(new_kek);
        tracing::info!(
            keys = count,
            "rotated the master key; data keys and the audit chain key re-wrapped"
        );
        Ok(())
    }
}
