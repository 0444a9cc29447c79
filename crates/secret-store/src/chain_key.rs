//! The audit chain key at run time.
//!
//! The key lives in the `audit_chain_key` table (one row), wrapped by the key-encryption
//! key with its id and `keyed_from_seq` bound into the wrap. The [`crate::KeyManager`]
//! creates it at its first start on a database (keyed from one past the chain's head then:
//! 1 on a new installation, N + 1 on one upgraded with N unkeyed records), unwraps it at
//! every start, and re-wraps it when the master key rotates. It never changes.
//!
//! Appends run inside transactions that know only their connection (an [`crate::AuditStore`]
//! batch, or a secret's [`crate::WriteTx`]), so an unwrapped key is found through a
//! process-wide table of the keys this process has opened, by the key id the database names:
//! the key manager (or [`crate::KeyManager::read_audit_chain_key`], for verification)
//! registers it, and it stays there while an [`AuditChainKey`] handle holds it; the table
//! keeps weak references only. An append whose key is not loaded, or whose database has no
//! key yet, fails: no record past the keyed start is ever written unkeyed. The keyed start
//! used for verification is the one authenticated when the key was unwrapped, never the
//! column read later.
//!
//! Keys of different installations opened by one process are kept apart by their random
//! ids. (Someone who could write to one installation's database and copy another's key
//! row into it would have this process tag that database's records under the other's key;
//! the shipped binaries open one installation each.)

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, LazyLock, Mutex, Weak};

use sea_orm::{ConnectionTrait, EntityTrait};
use secret_core::audit::{AuditEntry, ChainMac, ChainVerifier};
use secret_crypto::ChainKey;

use crate::entity::audit_chain_key as row;
use crate::error::StoreError;

/// The id of the chain key's one row.
pub(crate) const CHAIN_KEY_ROW_ID: i32 = 1;

/// Why the audit chain key could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChainKeyError {
    /// The database was never opened by a key manager: no key-check value, no keys.
    #[error("this database has no key hierarchy yet: start secret-server once to initialise it")]
    NotInitialised,
    /// The key hierarchy exists but the audit chain key does not (yet).
    #[error(
        "the audit chain is not keyed yet: this database has no audit chain key; start \
         secret-server or secret-scheduler of this version once to create it"
    )]
    NotKeyed,
    /// The key is not loaded in this process.
    #[error(
        "the audit chain key is not loaded in this process: open the key manager (the \
         service) with the master key first"
    )]
    NotLoaded,
    /// The master key opened the key-check value but not the chain key, or the row no
    /// longer matches the key as it was opened: its row was edited.
    #[error(
        "the audit chain key's row in audit_chain_key was altered: it no longer opens under \
         the master key (its id or keyed start was changed, or the wrapped key replaced)"
    )]
    Altered,
    /// The database or the master key failed (a wrong master key is
    /// `StoreError::Crypto(CryptoError::WrongMasterKey)`).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ChainKeyError {
    /// Whether this is evidence of tampering (as opposed to "could not check").
    pub fn is_tampering(&self) -> bool {
        matches!(self, ChainKeyError::Altered)
    }
}

struct Loaded {
    key_id: String,
    keyed_from_seq: i64,
    key: Arc<ChainKey>,
}

/// Keys this process has unwrapped, by key id (one entry per unwrapping: several key
/// managers may have opened the same installation); weak, so a key lives as long as its
/// handles.
static LOADED: LazyLock<Mutex<HashMap<String, Vec<Weak<Loaded>>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// A handle to the unwrapped audit chain key of one installation. Cheap to clone; `Debug`
/// shows the id and the keyed start, never the key.
#[derive(Clone)]
pub struct AuditChainKey {
    inner: Arc<Loaded>,
}

impl fmt::Debug for AuditChainKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditChainKey")
            .field("key_id", &self.inner.key_id)
            .field("keyed_from_seq", &self.inner.keyed_from_seq)
            .finish_non_exhaustive()
    }
}

impl AuditChainKey {
    /// Registers a key just unwrapped (with the id and keyed start its wrap authenticated)
    /// and returns its handle, which keeps it loaded.
    pub(crate) fn register(key_id: String, keyed_from_seq: i64, key: ChainKey) -> Self {
        let inner = Arc::new(Loaded {
            key_id: key_id.clone(),
            keyed_from_seq,
            key: Arc::new(key),
        });
        let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
        loaded.retain(|_, handles| {
            handles.retain(|weak| weak.strong_count() > 0);
            !handles.is_empty()
        });
        loaded
            .entry(key_id)
            .or_default()
            .push(Arc::downgrade(&inner));
        AuditChainKey { inner }
    }

    /// A loaded key with this id, if this process holds one.
    /// The key `key_id`, while this process holds it.
    pub(crate) fn loaded(key_id: &str) -> Option<Self> {
        let loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
        loaded
            .get(key_id)?
            .iter()
            .find_map(Weak::upgrade)
            .map(|inner| AuditChainKey { inner })
    }

    /// The key of the database `conn` talks to, as loaded in this process: the row names
    /// it; the row must still match the key as it was unwrapped.
    pub(crate) async fn of<C: ConnectionTrait>(conn: &C) -> Result<Self, ChainKeyError> {
        let row = read_row(conn).await?.ok_or(ChainKeyError::NotKeyed)?;
        let key = Self::loaded(&row.key_id).ok_or(ChainKeyError::NotLoaded)?;
        if key.keyed_from_seq() != row.keyed_from_seq {
            return Err(ChainKeyError::Altered);
        }
        Ok(key)
    }

    /// The key's id.
    pub fn key_id(&self) -> &str {
        &self.inner.key_id
    }

    /// The first record tagged with this key; records before it carry unkeyed hashes.
    pub fn keyed_from_seq(&self) -> i64 {
        self.inner.keyed_from_seq
    }

    /// The tag of `entry` at `seq` after `prev_hash`.
    pub(crate) fn mac(&self, seq: i64, prev_hash: &str, entry: &AuditEntry) -> String {
        self.inner.key.mac(seq, prev_hash, entry)
    }

    /// A verifier of the chain this key tags: unkeyed before the keyed start, keyed from it.
    pub fn verifier(&self) -> ChainVerifier {
        let key: Arc<dyn ChainMac> = self.inner.key.clone();
        ChainVerifier::keyed(key, self.inner.keyed_from_seq)
    }
}

/// The chain key's row, if there is one.
pub(crate) async fn read_row<C: ConnectionTrait>(
    conn: &C,
) -> Result<Option<row::Model>, StoreError> {
    Ok(row::Entity::find_by_id(CHAIN_KEY_ROW_ID).one(conn).await?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests

    use super::*;

    #[test]
    fn a_key_is_found_while_a_handle_holds_it_and_forgotten_after() {
        let id = secret_crypto::new_chain_key_id();
        let handle = AuditChainKey::register(id.clone(), 3, ChainKey::generate().unwrap());
        let found = AuditChainKey::loaded(&id).unwrap();
        assert_eq!(found.keyed_from_seq(), 3);
        assert!(Arc::ptr_eq(&found.inner, &handle.inner));
        drop(found);
        // A second key manager opening the same installation: either handle keeps it loaded.
        let again = AuditChainKey::register(id.clone(), 3, ChainKey::generate().unwrap());
        drop(handle);
        let found = AuditChainKey::loaded(&id).unwrap();
        assert!(Arc::ptr_eq(&found.inner, &again.inner));
        drop((found, again));
        assert!(AuditChainKey::loaded(&id).is_none());
    }

    #[test]
    fn the_handle_debug_shows_no_key() {
        let id = secret_crypto::new_chain_key_id();
        let handle = AuditChainKey::register(id.clone(), 1, ChainKey::generate().unwrap());
        assert_eq!(
            format!("{handle:?}"),
            format!("AuditChainKey {{ key_id: {id:?}, keyed_from_seq: 1, .. }}")
        );
    }
}
