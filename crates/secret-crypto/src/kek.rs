//! The key-encryption key derived from the master key: it wraps data-encryption keys and
//! makes the key-check value that detects a wrong master key at start-up.

use std::fmt;

use aes_gcm::{Aes256Gcm, KeyInit};
use subtle::ConstantTimeEq;
use zeroize::{ZeroizeOnDrop, Zeroizing};

use crate::chain_key::ChainKey;
use crate::dek::Dek;
use crate::envelope::{self, AadBuilder};
use crate::error::CryptoError;

/// Length in bytes of a key-encryption key.
pub const KEK_LEN: usize = 32;

/// Associated data of the key-check value.
const KEY_CHECK_AAD: &[u8] = b"secret-manager/key-check/v1";
/// The fixed plaintext of the key-check value.
const KEY_CHECK_LABEL: &[u8] = b"secret-manager key check value";
/// Domain label of the associated data of wrapped data-encryption keys.
const DEK_WRAP_AAD_LABEL: &str = "secret-manager/dek-wrap/v1";
/// Domain label of the associated data of the wrapped audit chain key.
const CHAIN_KEY_WRAP_AAD_LABEL: &str = "secret-manager/audit-chain-key-wrap/v1";

/// A key-encryption key (KEK): wraps data-encryption keys, never encrypts values.
///
/// Holds only the expanded AES key schedule, which is zeroized on drop; `Debug` prints
/// `Kek([REDACTED])`.
pub struct Kek {
    cipher: Aes256Gcm,
}

impl Kek {
    /// Builds a key-encryption key from its 32 bytes.
    pub(crate) fn from_bytes(bytes: &Zeroizing<[u8; KEK_LEN]>) -> Result<Self, CryptoError> {
        let cipher = Aes256Gcm::new_from_slice(bytes.as_slice()).map_err(|_| {
            CryptoError::InvalidMasterKey {
                reason: "a key must be 32 bytes".into(),
            }
        })?;
        Ok(Kek { cipher })
    }

    /// Makes a key-check value to store at initialisation (random nonce: differs each call).
    pub fn key_check(&self) -> Result<Vec<u8>, CryptoError> {
        envelope::seal(&self.cipher, KEY_CHECK_AAD, KEY_CHECK_LABEL)
    }

    /// Checks a stored key-check value: [`CryptoError::WrongMasterKey`] if this key did not
    /// make it, [`CryptoError::MalformedCiphertext`] if it is not a key-check value at all.
    pub fn verify_key_check(&self, kcv: &[u8]) -> Result<(), CryptoError> {
        let label = envelope::open(&self.cipher, KEY_CHECK_AAD, kcv).map_err(|err| match err {
            CryptoError::Decrypt => CryptoError::WrongMasterKey,
            other => other,
        })?;
        if bool::from(label.as_slice().ct_eq(KEY_CHECK_LABEL)) {
            Ok(())
        } else {
            Err(CryptoError::WrongMasterKey)
        }
    }

    /// Wraps (encrypts) a data-encryption key for storage in the row of `key_id`.
    pub fn wrap_dek(&self, key_id: &str, dek: &Dek) -> Result<Vec<u8>, CryptoError> {
        envelope::seal(&self.cipher, &wrap_aad(key_id), dek.expose_bytes())
    }

    /// Unwraps a key wrapped by [`Kek::wrap_dek`] for the same `key_id`.
    pub fn unwrap_dek(&self, key_id: &str, wrapped: &[u8]) -> Result<Dek, CryptoError> {
        let bytes = envelope::open(&self.cipher, &wrap_aad(key_id), wrapped)?;
        Dek::from_slice(&bytes)
    }

    /// Wraps the audit chain key for storage, bound to its id and to the sequence number of
    /// the first record it tags: editing either in the database makes the wrap fail to open.
    pub fn wrap_chain_key(
        &self,
        key_id: &str,
        keyed_from_seq: i64,
        key: &ChainKey,
    ) -> Result<Vec<u8>, CryptoError> {
        envelope::seal(
            &self.cipher,
            &chain_key_aad(key_id, keyed_from_seq),
            key.expose_bytes(),
        )
    }

    /// Unwraps a chain key wrapped by [`Kek::wrap_chain_key`] for the same id and keyed start.
    pub fn unwrap_chain_key(
        &self,
        key_id: &str,
        keyed_from_seq: i64,
        wrapped: &[u8],
    ) -> Result<ChainKey, CryptoError> {
        let bytes = envelope::open(
            &self.cipher,
            &chain_key_aad(key_id, keyed_from_seq),
            wrapped,
        )?;
        ChainKey::from_slice(&bytes)
    }

    /// Re-wraps a data-encryption key from this key to `new_kek` (master-key rotation).
    pub fn rewrap_dek(
        &self,
        new_kek: &Kek,
        key_id: &str,
        wrapped: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        new_kek.wrap_dek(key_id, &self.unwrap_dek(key_id, wrapped)?)
    }
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Kek([REDACTED])")
    }
}

// The AES key schedule wipes itself when dropped (aes-gcm's `zeroize` feature is on).
impl ZeroizeOnDrop for Kek {}

/// Associated data of a wrapped key: binds the key id so wrapped keys can't swap rows.
fn wrap_aad(key_id: &str) -> Vec<u8> {
    AadBuilder::new(DEK_WRAP_AAD_LABEL)
        .bytes(key_id.as_bytes())
        .finish()
}

/// Associated data of the wrapped chain key: binds its id and its keyed start.
fn chain_key_aad(key_id: &str, keyed_from_seq: i64) -> Vec<u8> {
    AadBuilder::new(CHAIN_KEY_WRAP_AAD_LABEL)
        .bytes(key_id.as_bytes())
        .i64(keyed_from_seq)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dek::ValueAad;

    fn kek(byte: u8) -> Kek {
        Kek::from_bytes(&Zeroizing::new([byte; KEK_LEN])).unwrap()
    }

    #[test]
    fn key_check_verifies_under_the_same_kek() {
        let kcv = kek(1).key_check().unwrap();
        kek(1).verify_key_check(&kcv).unwrap();
    }

    #[test]
    fn key_check_under_another_kek_is_wrong_master_key() {
        let kcv = kek(1).key_check().unwrap();
        assert!(matches!(
            kek(2).verify_key_check(&kcv),
            Err(CryptoError::WrongMasterKey)
        ));
    }

    #[test]
    fn wrong_master_key_message_names_the_variables() {
        let message = CryptoError::WrongMasterKey.to_string();
        assert!(message.contains("SECRETS_MASTER_KEY / SECRETS_MASTER_KEY_FILE"));
    }

    #[test]
    fn garbage_key_check_is_malformed_not_wrong_key() {
        assert!(matches!(
            kek(1).verify_key_check(b"nope"),
            Err(CryptoError::MalformedCiphertext)
        ));
    }

    #[test]
    fn a_wrapped_value_ciphertext_is_not_a_key_check() {
        // Same KEK, same framing, different associated data: must not verify.
        let wrapped = kek(1).wrap_dek("dek-a", &Dek::generate().unwrap()).unwrap();
        assert!(matches!(
            kek(1).verify_key_check(&wrapped),
            Err(CryptoError::WrongMasterKey)
        ));
    }

    #[test]
    fn wrapped_dek_unwraps_to_a_working_key() {
        let dek = Dek::generate().unwrap();
        let wrapped = kek(1).wrap_dek("dek-a", &dek).unwrap();
        let unwrapped = kek(1).unwrap_dek("dek-a", &wrapped).unwrap();
        let aad = ValueAad::new("s", 1, "dek-a");
        let blob = dek.encrypt_value(&aad, b"value").unwrap();
        assert_eq!(
            unwrapped.decrypt_value(&aad, &blob).unwrap().as_slice(),
            b"value"
        );
    }

    #[test]
    fn wrapped_dek_cannot_be_unwrapped_under_another_key_id() {
        let wrapped = kek(1).wrap_dek("dek-a", &Dek::generate().unwrap()).unwrap();
        assert!(matches!(
            kek(1).unwrap_dek("dek-b", &wrapped),
            Err(CryptoError::Decrypt)
        ));
    }

    #[test]
    fn wrapped_dek_cannot_be_unwrapped_under_another_kek() {
        let wrapped = kek(1).wrap_dek("dek-a", &Dek::generate().unwrap()).unwrap();
        assert!(matches!(
            kek(2).unwrap_dek("dek-a", &wrapped),
            Err(CryptoError::Decrypt)
        ));
    }

    #[test]
    fn wrapped_dek_does_not_contain_the_key() {
        let dek = Dek::generate().unwrap();
        let wrapped = kek(1).wrap_dek("dek-a", &dek).unwrap();
        assert!(
            !wrapped
                .windows(crate::dek::DEK_LEN)
                .any(|w| w == dek.expose_bytes())
        );
    }

    #[test]
    fn rewrap_moves_a_dek_to_a_new_kek() {
        let dek = Dek::generate().unwrap();
        let wrapped = kek(1).wrap_dek("dek-a", &dek).unwrap();
        let rewrapped = kek(1).rewrap_dek(&kek(2), "dek-a", &wrapped).unwrap();
        let unwrapped = kek(2).unwrap_dek("dek-a", &rewrapped).unwrap();
        assert_eq!(unwrapped.expose_bytes(), dek.expose_bytes());
        assert!(kek(1).unwrap_dek("dek-a", &rewrapped).is_err());
    }

    #[test]
    fn wrapped_chain_key_unwraps_to_the_same_key() {
        let key = ChainKey::generate().unwrap();
        let wrapped = kek(1).wrap_chain_key("ack-a", 7, &key).unwrap();
        let unwrapped = kek(1).unwrap_chain_key("ack-a", 7, &wrapped).unwrap();
        assert_eq!(unwrapped.expose_bytes(), key.expose_bytes());
        assert!(
            !wrapped
                .windows(secret_core::audit::CHAIN_KEY_LEN)
                .any(|w| w == key.expose_bytes())
        );
    }

    #[test]
    fn wrapped_chain_key_is_bound_to_its_id_its_keyed_start_and_its_kek() {
        let key = ChainKey::generate().unwrap();
        let wrapped = kek(1).wrap_chain_key("ack-a", 7, &key).unwrap();
        for result in [
            kek(1).unwrap_chain_key("ack-b", 7, &wrapped),
            // Moving the keyed start (to pass keyed records off as unkeyed) breaks the wrap.
            kek(1).unwrap_chain_key("ack-a", 8, &wrapped),
            kek(1).unwrap_chain_key("ack-a", i64::MAX, &wrapped),
            kek(2).unwrap_chain_key("ack-a", 7, &wrapped),
        ] {
            assert!(matches!(result, Err(CryptoError::Decrypt)));
        }
    }

    #[test]
    fn a_wrapped_dek_is_not_a_chain_key_and_back() {
        let dek_wrap = kek(1).wrap_dek("k", &Dek::generate().unwrap()).unwrap();
        assert!(kek(1).unwrap_chain_key("k", 0, &dek_wrap).is_err());
        let chain_wrap = kek(1)
            .wrap_chain_key("k", 0, &ChainKey::generate().unwrap())
            .unwrap();
        assert!(kek(1).unwrap_dek("k", &chain_wrap).is_err());
    }

    #[test]
    fn kek_debug_is_redacted() {
        assert_eq!(format!("{:?}", kek(1)), "Kek([REDACTED])");
    }
}
