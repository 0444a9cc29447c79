//! Envelope encryption for the secret manager (ARCHITECTURE §3).
//!
//! The operator's master key ([`MasterKeyMaterial`]) yields a key-encryption key ([`Kek`]),
//! directly or through argon2id ([`KdfParams`]). The KEK wraps random data-encryption keys
//! ([`Dek`]), which encrypt secret values with AES-256-GCM bound to (secret id, version,
//! key id). A [`KeyRing`] holds the unwrapped DEKs at run time. The KEK also wraps the
//! [`ChainKey`] that tags the audit chain with HMAC-SHA256. This crate does no I/O
//! beyond reading the master key file: the store persists what it produces.

mod chain_key;
mod dek;
mod envelope;
mod error;
mod kdf;
mod kek;
mod keyring;
mod master;

pub use chain_key::{ChainKey, new_chain_key_id};
pub use dek::{DEK_LEN, Dek, ValueAad};
pub use error::{CryptoError, MasterKeyKind};
pub use kdf::KdfParams;
pub use kek::{KEK_LEN, Kek};
pub use keyring::{KeyRing, new_key_id};
pub use master::{MASTER_KEY_ENV, MASTER_KEY_FILE_ENV, MIN_PASSPHRASE_CHARS, MasterKeyMaterial};

/// Helpers shared by the unit tests.
#[cfg(test)]
mod test_support {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};

    use crate::kdf::KdfParams;

    /// Argon2id parameters small enough for fast tests (argon2's minimum is 8 KiB per lane).
    pub(crate) fn fast_kdf() -> KdfParams {
        KdfParams::new(64, 1, 1).unwrap()
    }

    /// Asserts `text` shows `key` in none of base64, hex or Rust's array Debug form.
    pub(crate) fn assert_no_key_bytes(text: &str, key: &[u8]) {
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        let forms = [
            STANDARD.encode(key),
            STANDARD_NO_PAD.encode(key),
            hex.clone(),
            hex.to_uppercase(),
            format!("{key:?}"),
        ];
        for form in forms {
            assert!(
                !text.contains(&form),
                "{text:?} contains key bytes as {form:?}"
            );
        }
    }
}
