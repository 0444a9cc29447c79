//! Data-encryption keys and the encryption of secret values under them.
//!
//! A value blob is `0x01 || nonce (12) || ciphertext || tag (16)` (see [`crate::envelope`]);
//! its associated data binds the secret id, the version and the key id, so a blob copied to
//! another row, version or key fails to decrypt.

use std::fmt;

use aes_gcm::{Aes256Gcm, KeyInit};
use zeroize::{ZeroizeOnDrop, Zeroizing};

use crate::envelope::{self, AadBuilder};
use crate::error::CryptoError;

/// Length in bytes of a data-encryption key.
pub const DEK_LEN: usize = 32;

/// Domain label of the associated data of value blobs.
const VALUE_AAD_LABEL: &str = "secret-manager/value/v1";

/// Domain label of the associated data of masked displays (e.g. an API key's last four
/// characters): bound to the same (secret, version, key) as the value but never
/// interchangeable with it, so a masked blob swapped for a value blob, or the reverse, fails
/// to decrypt instead of being shown.
const MASKED_AAD_LABEL: &str = "secret-manager/masked/v1";

/// Domain label of the associated data of vault configurations (their credentials), bound
/// to the configuration's id; never interchangeable with a value or a masked display.
const VAULT_CONFIG_AAD_LABEL: &str = "secret-manager/vault-config/v1";

/// A data-encryption key: 256 random bits that encrypt secret values.
///
/// Zeroized on drop; neither `Debug` nor comparison reveal it.
pub struct Dek {
    bytes: Zeroizing<[u8; DEK_LEN]>,
    /// Keeps the expanded key schedule so each encryption skips key setup.
    cipher: Aes256Gcm,
}

impl Dek {
    /// Generates a fresh random key.
    pub fn generate() -> Result<Self, CryptoError> {
        let mut bytes = Zeroizing::new([0u8; DEK_LEN]);
        envelope::fill_random(bytes.as_mut_slice())?;
        Self::from_bytes(bytes)
    }

    /// Builds a key from its bytes (e.g. just unwrapped).
    pub(crate) fn from_bytes(bytes: Zeroizing<[u8; DEK_LEN]>) -> Result<Self, CryptoError> {
        let cipher = Aes256Gcm::new_from_slice(bytes.as_slice())
            .map_err(|_| CryptoError::MalformedCiphertext)?;
        Ok(Dek { bytes, cipher })
    }

    /// Builds a key from a slice that must be exactly [`DEK_LEN`] bytes.
    pub(crate) fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let mut array = Zeroizing::new([0u8; DEK_LEN]);
        if bytes.len() != DEK_LEN {
            return Err(CryptoError::MalformedCiphertext);
        }
        array.copy_from_slice(bytes);
        Self::from_bytes(array)
    }

    /// The raw key, for wrapping under a key-encryption key only.
    pub(crate) fn expose_bytes(&self) -> &[u8; DEK_LEN] {
        &self.bytes
    }

    /// Encrypts a secret value, bound to `aad`; returns the blob to store.
    pub fn encrypt_value(
        &self,
        aad: &ValueAad<'_>,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        envelope::seal(&self.cipher, &aad.encode(), plaintext)
    }

    /// Decrypts a blob made by [`Dek::encrypt_value`] with the same `aad`.
    pub fn decrypt_value(
        &self,
        aad: &ValueAad<'_>,
        blob: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        envelope::open(&self.cipher, &aad.encode(), blob)
    }
}

impl Dek {
    /// Encrypts the masked display of a value, bound to `aad` under its own domain label.
    pub fn encrypt_masked(
        &self,
        aad: &ValueAad<'_>,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        envelope::seal(&self.cipher, &aad.encode_as(MASKED_AAD_LABEL), plaintext)
    }

    /// Decrypts a blob made by [`Dek::encrypt_masked`] with the same `aad`.
    pub fn decrypt_masked(
        &self,
        aad: &ValueAad<'_>,
        blob: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        envelope::open(&self.cipher, &aad.encode_as(MASKED_AAD_LABEL), blob)
    }
}

impl Dek {
    /// Encrypts a vault configuration's JSON, bound to `aad` (the configuration's id as the
    /// owner, version 0) under its own domain label.
    pub fn encrypt_vault_config(
        &self,
        aad: &ValueAad<'_>,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        envelope::seal(
            &self.cipher,
            &aad.encode_as(VAULT_CONFIG_AAD_LABEL),
            plaintext,
        )
    }

    /// Decrypts a blob made by [`Dek::encrypt_vault_config`] with the same `aad`.
    pub fn decrypt_vault_config(
        &self,
        aad: &ValueAad<'_>,
        blob: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        envelope::open(&self.cipher, &aad.encode_as(VAULT_CONFIG_AAD_LABEL), blob)
    }
}

impl fmt::Debug for Dek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Dek([REDACTED])")
    }
}

// Both fields wipe themselves when dropped (aes-gcm's `zeroize` feature is on).
impl ZeroizeOnDrop for Dek {}

/// What a value ciphertext is bound to: the secret, the version and the key that encrypts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueAad<'a> {
    /// Id of the secret the value belongs to.
    pub secret_id: &'a str,
    /// Version number of the value.
    pub version: i64,
    /// Id of the data-encryption key.
    pub key_id: &'a str,
}

impl<'a> ValueAad<'a> {
    /// Associated data for version `version` of secret `secret_id` under key `key_id`.
    pub fn new(secret_id: &'a str, version: i64, key_id: &'a str) -> Self {
        ValueAad {
            secret_id,
            version,
            key_id,
        }
    }

    /// The unambiguous encoding: label, then length-prefixed id, 8-byte version, key id.
    fn encode(&self) -> Vec<u8> {
        self.encode_as(VALUE_AAD_LABEL)
    }

    /// The same encoding under another domain label.
    fn encode_as(&self, label: &str) -> Vec<u8> {
        AadBuilder::new(label)
            .bytes(self.secret_id.as_bytes())
            .i64(self.version)
            .bytes(self.key_id.as_bytes())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_and_value_blobs_are_not_interchangeable() {
        let dek = Dek::generate().unwrap();
        let masked = dek.encrypt_masked(&AAD, b"****abcd").unwrap();
        let value = dek.encrypt_value(&AAD, b"{\"key\":\"sk\"}").unwrap();
        assert_eq!(&*dek.decrypt_masked(&AAD, &masked).unwrap(), b"****abcd");
        assert!(is_decrypt_error(dek.decrypt_value(&AAD, &masked)));
        assert!(is_decrypt_error(dek.decrypt_masked(&AAD, &value)));
        let other = ValueAad::new("sec-2", 3, "dek-a");
        assert!(is_decrypt_error(dek.decrypt_masked(&other, &masked)));
    }

    #[test]
    fn vault_config_blobs_open_only_as_the_config_of_their_vault() {
        let dek = Dek::generate().unwrap();
        let config = dek
            .encrypt_vault_config(&AAD, b"{\"token\":\"t\"}")
            .unwrap();
        assert_eq!(
            &*dek.decrypt_vault_config(&AAD, &config).unwrap(),
            b"{\"token\":\"t\"}"
        );
        assert!(is_decrypt_error(dek.decrypt_value(&AAD, &config)));
        assert!(is_decrypt_error(dek.decrypt_masked(&AAD, &config)));
        let value = dek.encrypt_value(&AAD, b"{}").unwrap();
        assert!(is_decrypt_error(dek.decrypt_vault_config(&AAD, &value)));
        let other = ValueAad::new("vault-2", 3, "dek-a");
        assert!(is_decrypt_error(dek.decrypt_vault_config(&other, &config)));
    }

    const AAD: ValueAad<'static> = ValueAad {
        secret_id: "sec-1",
        version: 3,
        key_id: "dek-a",
    };

    fn is_decrypt_error<T>(result: Result<T, CryptoError>) -> bool {
        matches!(result, Err(CryptoError::Decrypt))
    }

    #[test]
    fn value_round_trips() {
        let dek = Dek::generate().unwrap();
        let blob = dek.encrypt_value(&AAD, b"hunter2").unwrap();
        assert_eq!(
            dek.decrypt_value(&AAD, &blob).unwrap().as_slice(),
            b"hunter2"
        );
    }

    #[test]
    fn empty_value_round_trips() {
        let dek = Dek::generate().unwrap();
        let blob = dek.encrypt_value(&AAD, b"").unwrap();
        assert!(dek.decrypt_value(&AAD, &blob).unwrap().is_empty());
    }

    #[test]
    fn ciphertext_does_not_contain_the_plaintext() {
        let dek = Dek::generate().unwrap();
        let blob = dek.encrypt_value(&AAD, b"plaintext-marker").unwrap();
        assert!(!blob.windows(16).any(|w| w == b"plaintext-marker"));
    }

    #[test]
    fn flipped_bit_in_nonce_body_or_tag_fails_to_decrypt() {
        let dek = Dek::generate().unwrap();
        let blob = dek.encrypt_value(&AAD, b"some secret value").unwrap();
        let nonce_byte = 1;
        let body_byte = 1 + 12 + 3;
        let tag_byte = blob.len() - 1;
        for index in [nonce_byte, body_byte, tag_byte] {
            let mut tampered = blob.clone();
            tampered[index] ^= 0x01;
            assert!(
                is_decrypt_error(dek.decrypt_value(&AAD, &tampered)),
                "byte {index}"
            );
        }
    }

    #[test]
    fn truncated_blob_fails() {
        let dek = Dek::generate().unwrap();
        let blob = dek.encrypt_value(&AAD, b"some secret value").unwrap();
        assert!(dek.decrypt_value(&AAD, &blob[..blob.len() - 1]).is_err());
        assert!(dek.decrypt_value(&AAD, &blob[..10]).is_err());
    }

    #[test]
    fn blob_under_other_secret_id_fails_to_decrypt() {
        let dek = Dek::generate().unwrap();
        let blob = dek.encrypt_value(&AAD, b"v").unwrap();
        let other = ValueAad {
            secret_id: "sec-2",
            ..AAD
        };
        assert!(is_decrypt_error(dek.decrypt_value(&other, &blob)));
    }

    #[test]
    fn blob_under_other_version_fails_to_decrypt() {
        let dek = Dek::generate().unwrap();
        let blob = dek.encrypt_value(&AAD, b"v").unwrap();
        let other = ValueAad { version: 4, ..AAD };
        assert!(is_decrypt_error(dek.decrypt_value(&other, &blob)));
    }

    #[test]
    fn blob_under_other_key_id_fails_to_decrypt() {
        let dek = Dek::generate().unwrap();
        let blob = dek.encrypt_value(&AAD, b"v").unwrap();
        let other = ValueAad {
            key_id: "dek-b",
            ..AAD
        };
        assert!(is_decrypt_error(dek.decrypt_value(&other, &blob)));
    }

    #[test]
    fn blob_under_another_dek_fails_to_decrypt() {
        let blob = Dek::generate().unwrap().encrypt_value(&AAD, b"v").unwrap();
        assert!(is_decrypt_error(
            Dek::generate().unwrap().decrypt_value(&AAD, &blob)
        ));
    }

    #[test]
    fn shifting_bytes_between_aad_fields_changes_the_aad() {
        let a = ValueAad::new("ab", 1, "c").encode();
        let b = ValueAad::new("a", 1, "bc").encode();
        assert_ne!(a, b);
    }

    #[test]
    fn dek_debug_shows_no_key_bytes() {
        let dek = Dek::generate().unwrap();
        let debug = format!("{dek:?}");
        assert_eq!(debug, "Dek([REDACTED])");
        crate::test_support::assert_no_key_bytes(&debug, dek.expose_bytes());
    }
}
