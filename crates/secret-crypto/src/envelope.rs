//! The small AES-256-GCM core every ciphertext of this crate goes through: the blob
//! framing, unambiguous associated-data encoding and the random source.
//!
//! Blob format (values, wrapped keys and key-check values alike):
//!
//! ```text
//! format (1 byte, 0x01) || nonce (12 random bytes) || ciphertext (len(plaintext)) || tag (16 bytes)
//! ```
//!
//! Nonces are random, so each key must stay well below 2^32 encryptions (NIST SP 800-38D);
//! data-key rotation keeps it there.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{AeadInOut, Nonce, Tag};
use zeroize::Zeroizing;

use crate::error::CryptoError;

/// The only blob format so far: AES-256-GCM with a 96-bit random nonce.
pub(crate) const FORMAT_V1: u8 = 0x01;
/// Length of an AES-GCM nonce.
pub(crate) const NONCE_LEN: usize = 12;
/// Length of an AES-GCM tag.
pub(crate) const TAG_LEN: usize = 16;
/// Bytes before the ciphertext: format byte and nonce.
const HEADER_LEN: usize = 1 + NONCE_LEN;
/// Bytes a blob adds to its plaintext.
pub(crate) const OVERHEAD: usize = HEADER_LEN + TAG_LEN;

/// Fills `buf` from the operating system's random number generator.
pub(crate) fn fill_random(buf: &mut [u8]) -> Result<(), CryptoError> {
    getrandom::fill(buf).map_err(|_| CryptoError::Random)
}

/// Encrypts `plaintext` under `cipher` with a fresh random nonce, returning a v1 blob.
pub(crate) fn seal(
    cipher: &Aes256Gcm,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let mut nonce = Nonce::<Aes256Gcm>::default();
    fill_random(&mut nonce)?;
    // Zeroizing until sealed: the buffer briefly holds plaintext. The capacity is exact, so
    // the vector never reallocates and leaves no plaintext copy behind.
    let mut blob = Zeroizing::new(Vec::with_capacity(OVERHEAD + plaintext.len()));
    blob.push(FORMAT_V1);
    blob.extend_from_slice(&nonce);
    blob.extend_from_slice(plaintext);
    let body = blob.get_mut(HEADER_LEN..).ok_or(CryptoError::Encrypt)?;
    let tag = cipher
        .encrypt_inout_detached(&nonce, aad, body.into())
        .map_err(|_| CryptoError::Encrypt)?;
    blob.extend_from_slice(&tag);
    Ok(std::mem::take(&mut *blob))
}

/// Authenticates and decrypts a v1 blob made by [`seal`] with the same `aad`.
pub(crate) fn open(
    cipher: &Aes256Gcm,
    aad: &[u8],
    blob: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let (&format, rest) = blob.split_first().ok_or(CryptoError::MalformedCiphertext)?;
    if format != FORMAT_V1 {
        return Err(CryptoError::MalformedCiphertext);
    }
    let (nonce, rest) = rest
        .split_at_checked(NONCE_LEN)
        .ok_or(CryptoError::MalformedCiphertext)?;
    let body_len = rest
        .len()
        .checked_sub(TAG_LEN)
        .ok_or(CryptoError::MalformedCiphertext)?;
    let (body, tag) = rest.split_at(body_len);
    let nonce =
        Nonce::<Aes256Gcm>::try_from(nonce).map_err(|_| CryptoError::MalformedCiphertext)?;
    let tag = Tag::<Aes256Gcm>::try_from(tag).map_err(|_| CryptoError::MalformedCiphertext)?;
    let mut plaintext = Zeroizing::new(body.to_vec());
    cipher
        .decrypt_inout_detached(&nonce, aad, plaintext.as_mut_slice().into(), &tag)
        .map_err(|_| CryptoError::Decrypt)?;
    Ok(plaintext)
}

/// Builds associated data as a domain label followed by fields, each length-prefixed so
/// no two different field lists encode to the same bytes.
pub(crate) struct AadBuilder(Vec<u8>);

impl AadBuilder {
    /// Starts associated data for the domain `label` (e.g. `secret-manager/value/v1`).
    pub(crate) fn new(label: &str) -> Self {
        let mut builder = AadBuilder(Vec::with_capacity(64));
        builder.push_bytes(label.as_bytes());
        builder
    }

    /// Appends a variable-length field, prefixed by its length as a big-endian u64.
    pub(crate) fn bytes(mut self, field: &[u8]) -> Self {
        self.push_bytes(field);
        self
    }

    /// Appends a fixed-width integer field (8 bytes, big-endian).
    pub(crate) fn i64(mut self, field: i64) -> Self {
        self.0.extend_from_slice(&field.to_be_bytes());
        self
    }

    /// The encoded associated data.
    pub(crate) fn finish(self) -> Vec<u8> {
        self.0
    }

    fn push_bytes(&mut self, field: &[u8]) {
        self.0
            .extend_from_slice(&(field.len() as u64).to_be_bytes());
        self.0.extend_from_slice(field);
    }
}

#[cfg(test)]
mod tests {
    use aes_gcm::KeyInit;

    use super::*;

    fn cipher() -> Aes256Gcm {
        Aes256Gcm::new_from_slice(&[7u8; 32]).unwrap()
    }

    #[test]
    fn blob_has_format_byte_nonce_and_tag_around_the_ciphertext() {
        let blob = seal(&cipher(), b"aad", b"hello").unwrap();
        assert_eq!(blob.len(), OVERHEAD + 5);
        assert_eq!(blob[0], FORMAT_V1);
        assert_eq!(open(&cipher(), b"aad", &blob).unwrap().as_slice(), b"hello");
    }

    #[test]
    fn two_seals_of_the_same_plaintext_use_different_nonces() {
        let a = seal(&cipher(), b"", b"same").unwrap();
        let b = seal(&cipher(), b"", b"same").unwrap();
        assert_ne!(a[1..HEADER_LEN], b[1..HEADER_LEN]);
        assert_ne!(a, b);
    }

    #[test]
    fn short_or_unknown_format_blobs_are_malformed() {
        let blob = seal(&cipher(), b"", b"").unwrap();
        assert!(matches!(
            open(&cipher(), b"", &[]),
            Err(CryptoError::MalformedCiphertext)
        ));
        assert!(matches!(
            open(&cipher(), b"", &blob[..blob.len() - 1]),
            Err(CryptoError::MalformedCiphertext)
        ));
        let mut other_format = blob.clone();
        other_format[0] = 0x02;
        assert!(matches!(
            open(&cipher(), b"", &other_format),
            Err(CryptoError::MalformedCiphertext)
        ));
        assert!(open(&cipher(), b"", &blob).unwrap().is_empty());
    }

    #[test]
    fn aad_fields_are_length_prefixed_so_boundaries_cannot_shift() {
        let a = AadBuilder::new("l").bytes(b"ab").bytes(b"c").finish();
        let b = AadBuilder::new("l").bytes(b"a").bytes(b"bc").finish();
        assert_ne!(a, b);
    }
}
