//! Encryption under the other AAD domains of the key ring (part of [`KeyManager`]): the
//! masked display of a value, and a vault configuration's settings.

use zeroize::Zeroizing;

use crate::error::StoreResult;

use super::{KeyManager, lock_poisoned};

impl KeyManager {
    /// Encrypts the masked display of (secret id, version) with the active key, under the
    /// masked-display domain (never interchangeable with a value's ciphertext).
    pub fn encrypt_masked(
        &self,
        secret_id: &str,
        version: i64,
        plaintext: &[u8],
    ) -> StoreResult<(String, Vec<u8>)> {
        let ring = self.ring.read().map_err(|_| lock_poisoned())?;
        Ok(ring.encrypt_masked(secret_id, version, plaintext)?)
    }

    /// Decrypts a masked display stored for (secret id, version) under `key_id`.
    pub async fn decrypt_masked(
        &self,
        key_id: &str,
        secret_id: &str,
        version: i64,
        blob: &[u8],
    ) -> StoreResult<Zeroizing<Vec<u8>>> {
        self.ensure_loaded(key_id).await?;
        let ring = self.ring.read().map_err(|_| lock_poisoned())?;
        Ok(ring.decrypt_masked(key_id, secret_id, version, blob)?)
    }

    /// Encrypts the configuration (with its credentials) of vault `vault_id` with the
    /// active key, under the vault-configuration domain.
    pub fn encrypt_vault_config(
        &self,
        vault_id: &str,
        plaintext: &[u8],
    ) -> StoreResult<(String, Vec<u8>)> {
        let ring = self.ring.read().map_err(|_| lock_poisoned())?;
        Ok(ring.encrypt_vault_config(vault_id, plaintext)?)
    }

    /// Decrypts the configuration of vault `vault_id` stored under `key_id`.
    pub async fn decrypt_vault_config(
        &self,
        key_id: &str,
        vault_id: &str,
        blob: &[u8],
    ) -> StoreResult<Zeroizing<Vec<u8>>> {
        self.ensure_loaded(key_id).await?;
        let ring = self.ring.read().map_err(|_| lock_poisoned())?;
        Ok(ring.decrypt_vault_config(key_id, vault_id, blob)?)
    }
}
