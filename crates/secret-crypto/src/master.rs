//! The master key as configured by the operator (`SECRETS_MASTER_KEY` or
//! `SECRETS_MASTER_KEY_FILE`): either 32 random bytes in base64 or a passphrase, and the
//! derivation of the key-encryption key from it.
//!
//! Parsing rule: text that is standard base64 (with padding) of exactly 32 bytes is a raw
//! key; anything else is a passphrase of at least 16 characters. Base64 of 31 or 33 bytes
//! is therefore a passphrase (a 44-character random string, which is a strong one): it is
//! not rejected, because a genuine passphrase may happen to be valid base64. Should the
//! operator later correct it to a 32-byte key, start-up fails with
//! [`CryptoError::MasterKeyKindMismatch`] rather than silently using another key.

use std::fmt;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::SecretString;
use zeroize::{ZeroizeOnDrop, Zeroizing};

use crate::envelope;
use crate::error::{CryptoError, MasterKeyKind};
use crate::kdf::KdfParams;
use crate::kek::{KEK_LEN, Kek};

/// The environment variable holding the master key.
pub const MASTER_KEY_ENV: &str = "SECRETS_MASTER_KEY";
/// The environment variable naming a file holding the master key.
pub const MASTER_KEY_FILE_ENV: &str = "SECRETS_MASTER_KEY_FILE";
/// Minimum length of a passphrase, in characters.
pub const MIN_PASSPHRASE_CHARS: usize = 16;

/// The operator's master key: a raw key or a passphrase. Zeroized on drop, never printed.
pub struct MasterKeyMaterial {
    inner: Material,
}

enum Material {
    Raw(Zeroizing<[u8; KEK_LEN]>),
    Passphrase(Zeroizing<String>),
}

impl MasterKeyMaterial {
    /// Reads the master key from the process environment; `None` if neither variable is set.
    pub fn from_env() -> Result<Option<Self>, CryptoError> {
        for name in [MASTER_KEY_ENV, MASTER_KEY_FILE_ENV] {
            if let Err(std::env::VarError::NotUnicode(_)) = std::env::var(name) {
                return Err(CryptoError::InvalidMasterKey {
                    reason: format!("{name} is not valid UTF-8"),
                });
            }
        }
        Self::from_env_with(|name| std::env::var(name).ok())
    }

    /// Reads the master key through `lookup` (an environment stand-in, for tests).
    ///
    /// An empty variable counts as unset. Setting both variables is an error. The file's
    /// trailing line breaks are trimmed, as are those of the variable.
    pub fn from_env_with(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, CryptoError> {
        let key = lookup(MASTER_KEY_ENV)
            .map(Zeroizing::new)
            .filter(|v| !v.is_empty());
        let file = lookup(MASTER_KEY_FILE_ENV).filter(|v| !v.is_empty());
        match (key, file) {
            (Some(_), Some(_)) => Err(CryptoError::InvalidMasterKey {
                reason: format!(
                    "both {MASTER_KEY_ENV} and {MASTER_KEY_FILE_ENV} are set; set only one"
                ),
            }),
            (Some(key), None) => Self::parse(trim_line_breaks(&key)).map(Some),
            (None, Some(path)) => Self::from_file(Path::new(&path)).map(Some),
            (None, None) => Ok(None),
        }
    }

    /// Reads the master key from a file, trimming trailing line breaks.
    pub fn from_file(path: &Path) -> Result<Self, CryptoError> {
        let contents = std::fs::read_to_string(path)
            .map(Zeroizing::new)
            .map_err(|err| CryptoError::InvalidMasterKey {
                reason: format!(
                    "cannot read master key file {}: {}",
                    path.display(),
                    err.kind()
                ),
            })?;
        let text = trim_line_breaks(&contents);
        if text.is_empty() {
            return Err(CryptoError::InvalidMasterKey {
                reason: format!("master key file {} is empty", path.display()),
            });
        }
        Self::parse(text)
    }

    /// Parses a master key: base64 of exactly 32 bytes is a raw key, anything else a
    /// passphrase of at least 16 characters.
    pub fn parse(text: &str) -> Result<Self, CryptoError> {
        if let Some(raw) = decode_raw_key(text) {
            return Ok(MasterKeyMaterial {
                inner: Material::Raw(raw),
            });
        }
        if text.chars().count() < MIN_PASSPHRASE_CHARS {
            return Err(CryptoError::InvalidMasterKey {
                reason:
                    "a passphrase must be at least 16 characters, or give 32 random bytes in base64"
                        .into(),
            });
        }
        Ok(MasterKeyMaterial {
            inner: Material::Passphrase(Zeroizing::new(text.to_owned())),
        })
    }

    /// Generates a random raw key; returns it and its base64 text (for a dev key file).
    pub fn generate_raw() -> Result<(Self, SecretString), CryptoError> {
        let mut raw = Zeroizing::new([0u8; KEK_LEN]);
        envelope::fill_random(raw.as_mut_slice())?;
        let text = SecretString::from(STANDARD.encode(raw.as_slice()));
        Ok((
            MasterKeyMaterial {
                inner: Material::Raw(raw),
            },
            text,
        ))
    }

    /// Whether this is a passphrase (as opposed to a raw key).
    pub fn is_passphrase(&self) -> bool {
        matches!(self.inner, Material::Passphrase(_))
    }

    /// Which kind of master key this is.
    pub fn kind(&self) -> MasterKeyKind {
        match self.inner {
            Material::Raw(_) => MasterKeyKind::RawKey,
            Material::Passphrase(_) => MasterKeyKind::Passphrase,
        }
    }

    /// KDF parameters to store when initialising a database: fresh ones for a passphrase,
    /// `None` for a raw key.
    pub fn new_kdf_params(&self) -> Result<Option<KdfParams>, CryptoError> {
        match self.inner {
            Material::Raw(_) => Ok(None),
            Material::Passphrase(_) => KdfParams::generate().map(Some),
        }
    }

    /// Derives the key-encryption key: a raw key is used as is (`kdf` must be `None`), a
    /// passphrase is stretched with the stored argon2id parameters (`kdf` must be `Some`).
    pub fn derive_kek(&self, kdf: Option<&KdfParams>) -> Result<Kek, CryptoError> {
        match (&self.inner, kdf) {
            (Material::Raw(raw), None) => Kek::from_bytes(raw),
            (Material::Passphrase(passphrase), Some(params)) => {
                Kek::from_bytes(&params.derive(passphrase.as_bytes())?)
            }
            (Material::Raw(_), Some(_)) => Err(CryptoError::MasterKeyKindMismatch {
                initialised_with: MasterKeyKind::Passphrase,
                given: MasterKeyKind::RawKey,
            }),
            (Material::Passphrase(_), None) => Err(CryptoError::MasterKeyKindMismatch {
                initialised_with: MasterKeyKind::RawKey,
                given: MasterKeyKind::Passphrase,
            }),
        }
    }
}

impl fmt::Debug for MasterKeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKeyMaterial({}, [REDACTED])", self.kind())
    }
}

// Both variants hold `Zeroizing` buffers, which wipe themselves when dropped.
impl ZeroizeOnDrop for MasterKeyMaterial {}

/// Removes trailing `\n` / `\r\n` (a file or secret mount usually ends with one).
fn trim_line_breaks(text: &str) -> &str {
    text.trim_end_matches(['\n', '\r'])
}

/// Decodes `text` as standard padded base64 of exactly 32 bytes, or `None`.
fn decode_raw_key(text: &str) -> Option<Zeroizing<[u8; KEK_LEN]>> {
    // One spare byte: a 33-byte decoding must fail the length check, not the slice size.
    let mut buf = Zeroizing::new([0u8; KEK_LEN + 1]);
    let len = STANDARD
        .decode_slice(text.as_bytes(), buf.as_mut_slice())
        .ok()?;
    if len != KEK_LEN {
        return None;
    }
    let mut raw = Zeroizing::new([0u8; KEK_LEN]);
    raw.copy_from_slice(buf.get(..KEK_LEN)?);
    Some(raw)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::io::Write;

    use secrecy::ExposeSecret;

    use super::*;
    use crate::test_support::{assert_no_key_bytes, fast_kdf};

    const PASSPHRASE: &str = "correct horse battery staple";

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn raw_bytes(material: &MasterKeyMaterial) -> [u8; KEK_LEN] {
        match &material.inner {
            Material::Raw(raw) => **raw,
            Material::Passphrase(_) => panic!("not a raw key"),
        }
    }

    #[test]
    fn base64_of_32_bytes_is_a_raw_key() {
        let text = STANDARD.encode([9u8; 32]);
        let material = MasterKeyMaterial::parse(&text).unwrap();
        assert!(!material.is_passphrase());
        assert_eq!(raw_bytes(&material), [9u8; 32]);
    }

    #[test]
    fn long_text_is_a_passphrase() {
        let material = MasterKeyMaterial::parse(PASSPHRASE).unwrap();
        assert!(material.is_passphrase());
        assert_eq!(material.kind(), MasterKeyKind::Passphrase);
    }

    #[test]
    fn short_passphrase_is_rejected_with_a_clear_reason() {
        let err = MasterKeyMaterial::parse("too short").unwrap_err();
        assert!(err.to_string().contains(
            "a passphrase must be at least 16 characters, or give 32 random bytes in base64"
        ));
        assert!(!err.to_string().contains("too short"));
    }

    #[test]
    fn passphrase_length_counts_characters_not_bytes() {
        // 15 characters, 30 bytes in UTF-8.
        assert!(MasterKeyMaterial::parse("ééééééééééééééé").is_err());
        assert!(
            MasterKeyMaterial::parse("éééééééééééééééé")
                .unwrap()
                .is_passphrase()
        );
    }

    #[test]
    fn base64_of_31_or_33_bytes_is_treated_as_a_passphrase() {
        for len in [31, 33] {
            let text = STANDARD.encode(vec![5u8; len]);
            assert_eq!(text.len(), 44);
            assert!(
                MasterKeyMaterial::parse(&text).unwrap().is_passphrase(),
                "{len} bytes"
            );
        }
    }

    #[test]
    fn unpadded_base64_of_32_bytes_is_a_passphrase() {
        let text = base64::engine::general_purpose::STANDARD_NO_PAD.encode([9u8; 32]);
        assert!(MasterKeyMaterial::parse(&text).unwrap().is_passphrase());
    }

    #[test]
    fn raw_key_derives_without_kdf_params() {
        let material = MasterKeyMaterial::parse(&STANDARD.encode([9u8; 32])).unwrap();
        assert!(material.new_kdf_params().unwrap().is_none());
        let kcv = material.derive_kek(None).unwrap().key_check().unwrap();
        let again = MasterKeyMaterial::parse(&STANDARD.encode([9u8; 32])).unwrap();
        again
            .derive_kek(None)
            .unwrap()
            .verify_key_check(&kcv)
            .unwrap();
    }

    #[test]
    fn passphrase_derives_the_same_kek_with_the_same_params() {
        let params = fast_kdf();
        let kcv = MasterKeyMaterial::parse(PASSPHRASE)
            .unwrap()
            .derive_kek(Some(&params))
            .unwrap()
            .key_check()
            .unwrap();
        let kek = MasterKeyMaterial::parse(PASSPHRASE)
            .unwrap()
            .derive_kek(Some(&params))
            .unwrap();
        kek.verify_key_check(&kcv).unwrap();
    }

    #[test]
    fn passphrase_with_another_salt_is_a_wrong_master_key() {
        let material = MasterKeyMaterial::parse(PASSPHRASE).unwrap();
        let kcv = material
            .derive_kek(Some(&fast_kdf()))
            .unwrap()
            .key_check()
            .unwrap();
        let other = material.derive_kek(Some(&fast_kdf())).unwrap();
        assert!(matches!(
            other.verify_key_check(&kcv),
            Err(CryptoError::WrongMasterKey)
        ));
    }

    #[test]
    fn wrong_passphrase_is_a_wrong_master_key() {
        let params = fast_kdf();
        let kcv = MasterKeyMaterial::parse(PASSPHRASE)
            .unwrap()
            .derive_kek(Some(&params))
            .unwrap()
            .key_check()
            .unwrap();
        let wrong = MasterKeyMaterial::parse("correct horse battery stapler").unwrap();
        let err = wrong
            .derive_kek(Some(&params))
            .unwrap()
            .verify_key_check(&kcv)
            .unwrap_err();
        assert!(matches!(err, CryptoError::WrongMasterKey));
    }

    #[test]
    fn wrong_raw_key_is_a_wrong_master_key() {
        let (first, _) = MasterKeyMaterial::generate_raw().unwrap();
        let (second, _) = MasterKeyMaterial::generate_raw().unwrap();
        let kcv = first.derive_kek(None).unwrap().key_check().unwrap();
        let err = second
            .derive_kek(None)
            .unwrap()
            .verify_key_check(&kcv)
            .unwrap_err();
        assert!(matches!(err, CryptoError::WrongMasterKey));
    }

    #[test]
    fn passphrase_without_kdf_params_is_a_kind_mismatch() {
        let err = MasterKeyMaterial::parse(PASSPHRASE)
            .unwrap()
            .derive_kek(None)
            .unwrap_err();
        assert!(matches!(
            err,
            CryptoError::MasterKeyKindMismatch {
                initialised_with: MasterKeyKind::RawKey,
                given: MasterKeyKind::Passphrase
            }
        ));
    }

    #[test]
    fn raw_key_with_kdf_params_is_a_kind_mismatch() {
        let (material, _) = MasterKeyMaterial::generate_raw().unwrap();
        let err = material.derive_kek(Some(&fast_kdf())).unwrap_err();
        assert!(matches!(
            err,
            CryptoError::MasterKeyKindMismatch {
                initialised_with: MasterKeyKind::Passphrase,
                given: MasterKeyKind::RawKey
            }
        ));
    }

    #[test]
    fn generated_raw_key_text_parses_back_to_the_same_key() {
        let (material, text) = MasterKeyMaterial::generate_raw().unwrap();
        let parsed = MasterKeyMaterial::parse(text.expose_secret()).unwrap();
        assert_eq!(raw_bytes(&parsed), raw_bytes(&material));
    }

    #[test]
    fn from_env_with_nothing_set_is_none() {
        assert!(
            MasterKeyMaterial::from_env_with(env(&[]))
                .unwrap()
                .is_none()
        );
        let empty = env(&[(MASTER_KEY_ENV, ""), (MASTER_KEY_FILE_ENV, "")]);
        assert!(MasterKeyMaterial::from_env_with(empty).unwrap().is_none());
    }

    #[test]
    fn from_env_with_both_set_is_an_error() {
        let both = env(&[
            (MASTER_KEY_ENV, PASSPHRASE),
            (MASTER_KEY_FILE_ENV, "/tmp/key"),
        ]);
        let err = MasterKeyMaterial::from_env_with(both).unwrap_err();
        assert!(matches!(err, CryptoError::InvalidMasterKey { .. }));
        assert!(err.to_string().contains("both"));
    }

    #[test]
    fn from_env_with_reads_the_variable_trimming_a_newline() {
        let text = format!("{}\n", STANDARD.encode([4u8; 32]));
        let material = MasterKeyMaterial::from_env_with(env(&[(MASTER_KEY_ENV, &text)]))
            .unwrap()
            .unwrap();
        assert_eq!(raw_bytes(&material), [4u8; 32]);
    }

    #[test]
    fn from_env_with_reads_the_file_trimming_a_trailing_newline() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "{}", STANDARD.encode([3u8; 32])).unwrap();
        let path = file.path().to_str().unwrap().to_owned();
        let material = MasterKeyMaterial::from_env_with(env(&[(MASTER_KEY_FILE_ENV, &path)]))
            .unwrap()
            .unwrap();
        assert_eq!(raw_bytes(&material), [3u8; 32]);
    }

    #[test]
    fn passphrase_file_with_crlf_is_trimmed() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(file, "{PASSPHRASE}\r\n").unwrap();
        let from_file = MasterKeyMaterial::from_file(file.path()).unwrap();
        let params = fast_kdf();
        let kcv = MasterKeyMaterial::parse(PASSPHRASE)
            .unwrap()
            .derive_kek(Some(&params))
            .unwrap()
            .key_check()
            .unwrap();
        from_file
            .derive_kek(Some(&params))
            .unwrap()
            .verify_key_check(&kcv)
            .unwrap();
    }

    #[test]
    fn unreadable_file_error_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-key");
        let err =
            MasterKeyMaterial::from_env_with(env(&[(MASTER_KEY_FILE_ENV, path.to_str().unwrap())]))
                .unwrap_err();
        assert!(matches!(err, CryptoError::InvalidMasterKey { .. }));
        assert!(err.to_string().contains("missing-key"));
    }

    #[test]
    fn file_errors_do_not_contain_the_file_content() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "shortsecret").unwrap();
        let err = MasterKeyMaterial::from_file(file.path()).unwrap_err();
        assert!(!err.to_string().contains("shortsecret"));
        let empty = tempfile::NamedTempFile::new().unwrap();
        assert!(
            MasterKeyMaterial::from_file(empty.path())
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
    }

    #[test]
    fn material_debug_shows_no_key_bytes_or_passphrase() {
        let (material, text) = MasterKeyMaterial::generate_raw().unwrap();
        let debug = format!("{material:?}");
        assert!(!debug.contains(text.expose_secret()));
        assert_no_key_bytes(&debug, &raw_bytes(&material));
        let passphrase = MasterKeyMaterial::parse(PASSPHRASE).unwrap();
        assert!(!format!("{passphrase:?}").contains("horse"));
        assert_eq!(
            format!("{passphrase:?}"),
            "MasterKeyMaterial(passphrase, [REDACTED])"
        );
    }
}
