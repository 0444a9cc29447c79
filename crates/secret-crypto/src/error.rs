//! The error of this crate, and how it maps onto the public [`SecretError`].
//!
//! No variant carries key material, plaintext or the text of a master key: messages name
//! the problem (and, for files, the path) only.

use std::fmt;

use secret_core::SecretError;

/// The environment variable naming the master key, used in error messages.
const MASTER_KEY_FIELD: &str = "SECRETS_MASTER_KEY";

/// Which form a master key takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MasterKeyKind {
    /// 32 random bytes (given in base64), used as the key-encryption key directly.
    RawKey,
    /// A passphrase stretched into the key-encryption key with argon2id.
    Passphrase,
}

impl fmt::Display for MasterKeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MasterKeyKind::RawKey => "raw 32-byte key",
            MasterKeyKind::Passphrase => "passphrase",
        })
    }
}

/// An error of key handling or of encryption and decryption.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The master key does not open the stored key-check value.
    #[error(
        "the master key does not match the one this database was initialised with: \
         check SECRETS_MASTER_KEY / SECRETS_MASTER_KEY_FILE"
    )]
    WrongMasterKey,
    /// The master key given in the environment is unusable.
    #[error("invalid master key: {reason}")]
    InvalidMasterKey {
        /// What is wrong, without the key itself.
        reason: String,
    },
    /// The database was initialised with one kind of master key and the other kind was given.
    #[error(
        "the database was initialised with a {initialised_with} as master key, but a {given} \
         was given: check SECRETS_MASTER_KEY / SECRETS_MASTER_KEY_FILE"
    )]
    MasterKeyKindMismatch {
        /// The kind the database was initialised with.
        initialised_with: MasterKeyKind,
        /// The kind found in the environment.
        given: MasterKeyKind,
    },
    /// Encryption failed (the input exceeded AES-GCM's limits).
    #[error("encryption failed")]
    Encrypt,
    /// Authentication failed: wrong key, wrong associated data or a tampered ciphertext.
    #[error("decryption failed")]
    Decrypt,
    /// No data-encryption key with this id is loaded.
    #[error("data-encryption key {key_id} is not loaded")]
    UnknownKey {
        /// The id that was asked for.
        key_id: String,
    },
    /// The active data-encryption key cannot be removed from a key ring.
    #[error("data-encryption key {key_id} is the active key and cannot be removed")]
    ActiveKeyRemoval {
        /// The id of the active key.
        key_id: String,
    },
    /// Key derivation failed or its stored parameters are unusable.
    #[error("key derivation failed: {reason}")]
    Kdf {
        /// What went wrong.
        reason: String,
    },
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// A ciphertext is too short or has an unknown format byte.
    #[error("malformed ciphertext")]
    MalformedCiphertext,
}

impl From<CryptoError> for SecretError {
    /// Ciphertext problems become `DecryptionFailed`, encryption problems
    /// `EncryptionFailed`, a bad master key a `Validation` error on `SECRETS_MASTER_KEY`
    /// (so start-up prints the reason), and anything else `Internal`.
    fn from(err: CryptoError) -> Self {
        match err {
            CryptoError::Decrypt
            | CryptoError::UnknownKey { .. }
            | CryptoError::MalformedCiphertext => SecretError::DecryptionFailed,
            CryptoError::Encrypt | CryptoError::Random => SecretError::EncryptionFailed,
            CryptoError::WrongMasterKey
            | CryptoError::InvalidMasterKey { .. }
            | CryptoError::MasterKeyKindMismatch { .. } => {
                SecretError::validation(MASTER_KEY_FIELD, err.to_string())
            }
            CryptoError::ActiveKeyRemoval { .. } | CryptoError::Kdf { .. } => {
                SecretError::internal(err)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use secret_core::ErrorCode;

    use super::*;

    #[test]
    fn ciphertext_errors_map_to_decryption_failed() {
        for err in [
            CryptoError::Decrypt,
            CryptoError::MalformedCiphertext,
            CryptoError::UnknownKey {
                key_id: "dek-1".into(),
            },
        ] {
            assert_eq!(SecretError::from(err).code(), ErrorCode::DecryptionFailed);
        }
    }

    #[test]
    fn encryption_errors_map_to_encryption_failed() {
        for err in [CryptoError::Encrypt, CryptoError::Random] {
            assert_eq!(SecretError::from(err).code(), ErrorCode::EncryptionFailed);
        }
    }

    #[test]
    fn master_key_errors_map_to_validation_naming_the_variable() {
        let err = SecretError::from(CryptoError::WrongMasterKey);
        assert_eq!(err.code(), ErrorCode::ValidationError);
        assert!(err.to_string().contains("SECRETS_MASTER_KEY"));
        let err = SecretError::from(CryptoError::MasterKeyKindMismatch {
            initialised_with: MasterKeyKind::Passphrase,
            given: MasterKeyKind::RawKey,
        });
        assert!(err.to_string().contains("initialised with a passphrase"));
    }

    #[test]
    fn kdf_errors_map_to_internal_with_cause() {
        let err = SecretError::from(CryptoError::Kdf {
            reason: "bad salt".into(),
        });
        assert_eq!(err.code(), ErrorCode::Internal);
        assert!(err.internal_cause().is_some_and(|c| c.contains("bad salt")));
    }
}
