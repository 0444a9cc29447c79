//! The audit chain key: 256 random bits under which every audit record from the chain's
//! keyed start on is tagged with HMAC-SHA256 ([`secret_core::audit::keyed_chain_mac`]).
//!
//! It is kept like a data-encryption key: wrapped by the key-encryption key, its associated
//! data binding its id and the sequence number of the first keyed record, so neither can be
//! edited in the database without the wrap failing to open. When the master key rotates it
//! is re-wrapped, never replaced, so every record tagged before still verifies. Rewriting the
//! chain therefore needs the master key, which the database never holds.

use std::fmt;

use secret_core::audit::{AuditEntry, CHAIN_KEY_LEN, ChainMac, keyed_chain_mac};
use subtle::ConstantTimeEq;
use zeroize::{ZeroizeOnDrop, Zeroizing};

use crate::envelope;
use crate::error::CryptoError;

/// A fresh chain key id: `ack-` (audit chain key) followed by a UUID v7.
pub fn new_chain_key_id() -> String {
    format!("ack-{}", uuid::Uuid::now_v7())
}

/// The secret key of the audit chain. Zeroized on drop; `Debug` prints
/// `ChainKey([REDACTED])`.
pub struct ChainKey {
    bytes: Zeroizing<[u8; CHAIN_KEY_LEN]>,
}

impl ChainKey {
    /// Generates a fresh random key.
    pub fn generate() -> Result<Self, CryptoError> {
        let mut bytes = Zeroizing::new([0u8; CHAIN_KEY_LEN]);
        envelope::fill_random(bytes.as_mut_slice())?;
        Ok(ChainKey { bytes })
    }

    /// Builds a key from a slice that must be exactly [`CHAIN_KEY_LEN`] bytes (just
    /// unwrapped).
    pub(crate) fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() != CHAIN_KEY_LEN {
            return Err(CryptoError::MalformedCiphertext);
        }
        let mut array = Zeroizing::new([0u8; CHAIN_KEY_LEN]);
        array.copy_from_slice(bytes);
        Ok(ChainKey { bytes: array })
    }

    /// The raw key, for wrapping under a key-encryption key only.
    pub(crate) fn expose_bytes(&self) -> &[u8; CHAIN_KEY_LEN] {
        &self.bytes
    }
}

impl ChainMac for ChainKey {
    fn mac(&self, seq: i64, prev_hash: &str, entry: &AuditEntry) -> String {
        keyed_chain_mac(&self.bytes, seq, prev_hash, entry)
    }

    fn verify(&self, seq: i64, prev_hash: &str, entry: &AuditEntry, tag: &str) -> bool {
        let expected = self.mac(seq, prev_hash, entry);
        bool::from(expected.as_bytes().ct_eq(tag.as_bytes()))
    }
}

impl fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChainKey([REDACTED])")
    }
}

// The key bytes are `Zeroizing`, which wipes itself when dropped.
impl ZeroizeOnDrop for ChainKey {}

#[cfg(test)]
mod tests {
    use secret_core::audit::{GENESIS_HASH, chain_hash};

    use super::*;
    use crate::test_support::assert_no_key_bytes;

    /// An entry (built from its JSON: this crate does not depend on `chrono`).
    fn entry() -> AuditEntry {
        serde_json::from_value(serde_json::json!({
            "id": "id-1",
            "eventType": "SECRET_READ",
            "eventCategory": "CRUD",
            "actorType": "USER",
            "actorId": "alice",
            "actorName": null,
            "organizationId": null,
            "teamId": null,
            "projectId": null,
            "secretId": "s-1",
            "secretName": null,
            "secretScope": null,
            "action": "SECRET_READ",
            "details": "{}",
            "ipAddress": null,
            "userAgent": null,
            "requestId": null,
            "consumerModule": null,
            "outcome": "SUCCESS",
            "errorMessage": null,
            "timestamp": "2026-11-28T00:00:00Z"
        }))
        .unwrap()
    }

    #[test]
    fn the_mac_is_the_keyed_chain_mac_and_verifies_only_itself() {
        let key = ChainKey::generate().unwrap();
        let e = entry();
        let mac = key.mac(1, GENESIS_HASH, &e);
        assert_eq!(
            mac,
            keyed_chain_mac(key.expose_bytes(), 1, GENESIS_HASH, &e)
        );
        assert!(key.verify(1, GENESIS_HASH, &e, &mac));
        assert!(!key.verify(2, GENESIS_HASH, &e, &mac));
        assert!(!key.verify(1, GENESIS_HASH, &e, &chain_hash(1, GENESIS_HASH, &e)));
        assert!(!key.verify(1, GENESIS_HASH, &e, &mac[..63]));
        assert!(!key.verify(1, GENESIS_HASH, &e, ""));
        let other = ChainKey::generate().unwrap();
        assert!(!other.verify(1, GENESIS_HASH, &e, &mac));
    }

    #[test]
    fn generated_keys_differ() {
        let (a, b) = (ChainKey::generate().unwrap(), ChainKey::generate().unwrap());
        assert_ne!(a.expose_bytes(), b.expose_bytes());
    }

    #[test]
    fn from_slice_needs_32_bytes() {
        assert!(ChainKey::from_slice(&[1; 31]).is_err());
        assert!(ChainKey::from_slice(&[1; 33]).is_err());
        assert_eq!(
            ChainKey::from_slice(&[1; 32]).unwrap().expose_bytes(),
            &[1; 32]
        );
    }

    #[test]
    fn chain_key_ids_are_unique_and_prefixed() {
        let (a, b) = (new_chain_key_id(), new_chain_key_id());
        assert!(a.starts_with("ack-") && a.len() == 4 + 36);
        assert_ne!(a, b);
    }

    #[test]
    fn chain_key_debug_shows_no_key_bytes() {
        let key = ChainKey::generate().unwrap();
        let debug = format!("{key:?}");
        assert_eq!(debug, "ChainKey([REDACTED])");
        assert_no_key_bytes(&debug, key.expose_bytes());
    }
}
