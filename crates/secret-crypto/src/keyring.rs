//! The in-memory set of unwrapped data-encryption keys, by key id, with the active one.
//!
//! Encryption and decryption take `&self`, so a ring can sit behind an `RwLock` or an
//! `ArcSwap`; keys are held in `Arc`s, so cloning a ring to modify it copies no key bytes.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::dek::{Dek, ValueAad};
use crate::error::CryptoError;

/// A fresh data-encryption key id: `dek-` followed by a UUID v7 (time-ordered).
pub fn new_key_id() -> String {
    format!("dek-{}", uuid::Uuid::now_v7())
}

/// Loaded data-encryption keys by id, and which one encrypts new values.
#[derive(Clone)]
pub struct KeyRing {
    active_id: String,
    keys: HashMap<String, Arc<Dek>>,
}

impl KeyRing {
    /// A ring of `keys` whose active key is `active_id`, which must be among them.
    pub fn new(
        active_id: String,
        keys: impl IntoIterator<Item = (String, Dek)>,
    ) -> Result<Self, CryptoError> {
        let keys: HashMap<String, Arc<Dek>> = keys
            .into_iter()
            .map(|(id, dek)| (id, Arc::new(dek)))
            .collect();
        if !keys.contains_key(&active_id) {
            return Err(CryptoError::UnknownKey { key_id: active_id });
        }
        Ok(KeyRing { active_id, keys })
    }

    /// The id of the key that encrypts new values.
    pub fn active_key_id(&self) -> &str {
        &self.active_id
    }

    /// Encrypts version `version` of secret `secret_id` with the active key; returns the
    /// key id to store beside the blob, and the blob.
    pub fn encrypt(
        &self,
        secret_id: &str,
        version: i64,
        plaintext: &[u8],
    ) -> Result<(String, Vec<u8>), CryptoError> {
        let aad = ValueAad::new(secret_id, version, &self.active_id);
        let blob = self.key(&self.active_id)?.encrypt_value(&aad, plaintext)?;
        Ok((self.active_id.clone(), blob))
    }

    /// Decrypts a blob stored with `key_id` for version `version` of secret `secret_id`.
    pub fn decrypt(
        &self,
        key_id: &str,
        secret_id: &str,
        version: i64,
        blob: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        self.key(key_id)?
            .decrypt_value(&ValueAad::new(secret_id, version, key_id), blob)
    }

    /// Encrypts the masked display of version `version` of secret `secret_id` with the
    /// active key; returns the key id and the blob.
    pub fn encrypt_masked(
        &self,
        secret_id: &str,
        version: i64,
        plaintext: &[u8],
    ) -> Result<(String, Vec<u8>), CryptoError> {
        let aad = ValueAad::new(secret_id, version, &self.active_id);
        let blob = self.key(&self.active_id)?.encrypt_masked(&aad, plaintext)?;
        Ok((self.active_id.clone(), blob))
    }

    /// Decrypts a masked display stored with `key_id` for (secret, version).
    pub fn decrypt_masked(
        &self,
        key_id: &str,
        secret_id: &str,
        version: i64,
        blob: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        self.key(key_id)?
            .decrypt_masked(&ValueAad::new(secret_id, version, key_id), blob)
    }

    /// Encrypts the configuration of vault `vault_id` with the active key; returns the key
    /// id and the blob.
    pub fn encrypt_vault_config(
        &self,
        vault_id: &str,
        plaintext: &[u8],
    ) -> Result<(String, Vec<u8>), CryptoError> {
        let aad = ValueAad::new(vault_id, 0, &self.active_id);
        let blob = self
            .key(&self.active_id)?
            .encrypt_vault_config(&aad, plaintext)?;
        Ok((self.active_id.clone(), blob))
    }

    /// Decrypts the configuration of vault `vault_id` stored with `key_id`.
    pub fn decrypt_vault_config(
        &self,
        key_id: &str,
        vault_id: &str,
        blob: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        self.key(key_id)?
            .decrypt_vault_config(&ValueAad::new(vault_id, 0, key_id), blob)
    }

    /// Adds a key (e.g. a freshly generated or reloaded one), replacing any with the same id.
    pub fn insert(&mut self, key_id: String, dek: Dek) {
        self.keys.insert(key_id, Arc::new(dek));
    }

    /// Makes a loaded key the active one.
    pub fn set_active(&mut self, key_id: &str) -> Result<(), CryptoError> {
        if !self.keys.contains_key(key_id) {
            return Err(CryptoError::UnknownKey {
                key_id: key_id.to_owned(),
            });
        }
        key_id.clone_into(&mut self.active_id);
        Ok(())
    }

    /// Drops a key (once destroyed); returns whether it was loaded. The active key cannot
    /// be removed.
    pub fn remove(&mut self, key_id: &str) -> Result<bool, CryptoError> {
        if key_id == self.active_id {
            return Err(CryptoError::ActiveKeyRemoval {
                key_id: key_id.to_owned(),
            });
        }
        Ok(self.keys.remove(key_id).is_some())
    }

    /// Whether a key with this id is loaded.
    pub fn contains(&self, key_id: &str) -> bool {
        self.keys.contains_key(key_id)
    }

    /// The ids of the loaded keys, in no particular order.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    fn key(&self, key_id: &str) -> Result<&Dek, CryptoError> {
        self.keys
            .get(key_id)
            .map(Arc::as_ref)
            .ok_or_else(|| CryptoError::UnknownKey {
                key_id: key_id.to_owned(),
            })
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<&str> = self.key_ids().collect();
        ids.sort_unstable();
        f.debug_struct("KeyRing")
            .field("active", &self.active_id)
            .field("keys", &ids)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::assert_no_key_bytes;

    fn ring_with(ids: &[&str]) -> KeyRing {
        let keys = ids
            .iter()
            .map(|id| ((*id).to_owned(), Dek::generate().unwrap()));
        KeyRing::new(ids[0].to_owned(), keys).unwrap()
    }

    #[test]
    fn ring_round_trips_with_the_active_key() {
        let ring = ring_with(&["dek-a", "dek-b"]);
        let (key_id, blob) = ring.encrypt("sec-1", 1, b"hunter2").unwrap();
        assert_eq!(key_id, "dek-a");
        assert_eq!(
            ring.decrypt(&key_id, "sec-1", 1, &blob).unwrap().as_slice(),
            b"hunter2"
        );
    }

    #[test]
    fn new_ring_needs_its_active_key() {
        let keys = [("dek-a".to_owned(), Dek::generate().unwrap())];
        let err = KeyRing::new("dek-x".to_owned(), keys).unwrap_err();
        assert!(matches!(err, CryptoError::UnknownKey { key_id } if key_id == "dek-x"));
    }

    #[test]
    fn decrypt_with_unloaded_key_is_unknown_key() {
        let ring = ring_with(&["dek-a"]);
        let (_, blob) = ring.encrypt("sec-1", 1, b"v").unwrap();
        assert!(matches!(
            ring.decrypt("dek-z", "sec-1", 1, &blob),
            Err(CryptoError::UnknownKey { .. })
        ));
    }

    #[test]
    fn blob_copied_to_another_secret_or_version_fails() {
        let ring = ring_with(&["dek-a"]);
        let (key_id, blob) = ring.encrypt("sec-1", 1, b"v").unwrap();
        assert!(matches!(
            ring.decrypt(&key_id, "sec-2", 1, &blob),
            Err(CryptoError::Decrypt)
        ));
        assert!(matches!(
            ring.decrypt(&key_id, "sec-1", 2, &blob),
            Err(CryptoError::Decrypt)
        ));
    }

    #[test]
    fn blob_relabelled_with_another_loaded_key_id_fails() {
        let ring = ring_with(&["dek-a", "dek-b"]);
        let (_, blob) = ring.encrypt("sec-1", 1, b"v").unwrap();
        assert!(matches!(
            ring.decrypt("dek-b", "sec-1", 1, &blob),
            Err(CryptoError::Decrypt)
        ));
    }

    #[test]
    fn rotation_encrypts_with_the_new_key_and_still_decrypts_old_blobs() {
        let mut ring = ring_with(&["dek-old"]);
        let (old_id, old_blob) = ring.encrypt("sec-1", 1, b"old").unwrap();
        let new_id = new_key_id();
        ring.insert(new_id.clone(), Dek::generate().unwrap());
        ring.set_active(&new_id).unwrap();
        let (key_id, blob) = ring.encrypt("sec-1", 2, b"new").unwrap();
        assert_eq!(key_id, new_id);
        assert_eq!(
            ring.decrypt(&key_id, "sec-1", 2, &blob).unwrap().as_slice(),
            b"new"
        );
        assert_eq!(
            ring.decrypt(&old_id, "sec-1", 1, &old_blob)
                .unwrap()
                .as_slice(),
            b"old"
        );
        assert!(ring.remove(&old_id).unwrap());
        assert!(!ring.contains(&old_id));
        assert!(!ring.remove(&old_id).unwrap());
    }

    #[test]
    fn set_active_to_unloaded_key_fails_and_keeps_the_active_key() {
        let mut ring = ring_with(&["dek-a"]);
        assert!(matches!(
            ring.set_active("dek-z"),
            Err(CryptoError::UnknownKey { .. })
        ));
        assert_eq!(ring.active_key_id(), "dek-a");
    }

    #[test]
    fn active_key_cannot_be_removed() {
        let mut ring = ring_with(&["dek-a"]);
        assert!(matches!(
            ring.remove("dek-a"),
            Err(CryptoError::ActiveKeyRemoval { .. })
        ));
        assert!(ring.contains("dek-a"));
    }

    #[test]
    fn cloned_ring_shares_keys_and_changes_independently() {
        let ring = ring_with(&["dek-a"]);
        let (_, blob) = ring.encrypt("s", 1, b"v").unwrap();
        let mut copy = ring.clone();
        copy.insert("dek-b".into(), Dek::generate().unwrap());
        assert_eq!(
            copy.decrypt("dek-a", "s", 1, &blob).unwrap().as_slice(),
            b"v"
        );
        assert!(!ring.contains("dek-b"));
    }

    #[test]
    fn new_key_ids_are_unique_and_prefixed() {
        let (a, b) = (new_key_id(), new_key_id());
        assert!(a.starts_with("dek-") && a.len() == 4 + 36);
        assert_ne!(a, b);
    }

    #[test]
    fn ring_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<KeyRing>();
        let ring = Arc::new(std::sync::RwLock::new(ring_with(&["dek-a"])));
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let ring = Arc::clone(&ring);
                std::thread::spawn(move || {
                    let ring = ring.read().unwrap();
                    let (id, blob) = ring.encrypt("s", i, b"v").unwrap();
                    ring.decrypt(&id, "s", i, &blob).unwrap().to_vec()
                })
            })
            .collect();
        for handle in handles {
            assert_eq!(handle.join().unwrap(), b"v");
        }
    }

    #[test]
    fn ring_debug_lists_ids_but_no_key_bytes() {
        let dek = Dek::generate().unwrap();
        let bytes = *dek.expose_bytes();
        let ring = KeyRing::new("dek-a".into(), [("dek-a".to_owned(), dek)]).unwrap();
        let debug = format!("{ring:?}");
        assert!(debug.contains("dek-a"));
        assert_no_key_bytes(&debug, &bytes);
    }
}
