//! Passphrase stretching: argon2id parameters with a per-installation random salt, kept by
//! the store as JSON, and the derivation of the key-encryption key from them.

use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::envelope;
use crate::error::CryptoError;
use crate::kek::KEK_LEN;

/// The only supported algorithm name.
const ARGON2ID: &str = "argon2id";
/// Length of a freshly generated salt.
const SALT_LEN: usize = 16;
/// Accepted salt lengths when reading stored parameters.
const SALT_LEN_RANGE: std::ops::RangeInclusive<usize> = 16..=64;
/// Upper bounds that keep a corrupted parameter row from hanging start-up.
const MAX_M_COST_KIB: u32 = 4 * 1024 * 1024;
const MAX_T_COST: u32 = 64;
const MAX_P_COST: u32 = 64;

/// Argon2id parameters and salt for deriving the key-encryption key from a passphrase.
///
/// Serialized as `{"algorithm":"argon2id","salt":"<base64>","m_cost_kib":..,"t_cost":..,"p_cost":..}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    algorithm: String,
    #[serde(with = "salt_base64")]
    salt: Vec<u8>,
    m_cost_kib: u32,
    t_cost: u32,
    p_cost: u32,
}

impl KdfParams {
    /// Default memory cost: 64 MiB.
    pub const DEFAULT_M_COST_KIB: u32 = 64 * 1024;
    /// Default number of passes.
    pub const DEFAULT_T_COST: u32 = 3;
    /// Default parallelism (the argon2 crate computes lanes on one thread).
    pub const DEFAULT_P_COST: u32 = 1;

    /// Fresh parameters with a random 16-byte salt and the default costs.
    ///
    /// The defaults (m = 64 MiB, t = 3, p = 1) are stronger than OWASP's argon2id minimum
    /// (m = 19 MiB, t = 2, p = 1) and follow RFC 9106's memory-constrained choice: the
    /// derivation runs once per process start, so a slower KDF costs nothing at run time.
    pub fn generate() -> Result<Self, CryptoError> {
        Self::new(
            Self::DEFAULT_M_COST_KIB,
            Self::DEFAULT_T_COST,
            Self::DEFAULT_P_COST,
        )
    }

    /// Fresh parameters with a random salt and the given costs (for tests and tuning).
    pub fn new(m_cost_kib: u32, t_cost: u32, p_cost: u32) -> Result<Self, CryptoError> {
        let mut salt = vec![0u8; SALT_LEN];
        envelope::fill_random(&mut salt)?;
        let params = KdfParams {
            algorithm: ARGON2ID.to_owned(),
            salt,
            m_cost_kib,
            t_cost,
            p_cost,
        };
        params.argon2_params()?;
        Ok(params)
    }

    /// The algorithm name (always `argon2id` for parameters this crate made).
    pub fn algorithm(&self) -> &str {
        &self.algorithm
    }

    /// The salt (not secret).
    pub fn salt(&self) -> &[u8] {
        &self.salt
    }

    /// Memory cost in KiB.
    pub fn m_cost_kib(&self) -> u32 {
        self.m_cost_kib
    }

    /// Number of passes.
    pub fn t_cost(&self) -> u32 {
        self.t_cost
    }

    /// Degree of parallelism.
    pub fn p_cost(&self) -> u32 {
        self.p_cost
    }

    /// Derives a key-encryption key from `passphrase` with these parameters.
    pub(crate) fn derive(
        &self,
        passphrase: &[u8],
    ) -> Result<Zeroizing<[u8; KEK_LEN]>, CryptoError> {
        let params = self.argon2_params()?;
        let mut key = Zeroizing::new([0u8; KEK_LEN]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(passphrase, &self.salt, key.as_mut_slice())
            .map_err(|err| CryptoError::Kdf {
                reason: err.to_string(),
            })?;
        Ok(key)
    }

    /// Validates the parameters (they may come from a database row) and converts them.
    fn argon2_params(&self) -> Result<Params, CryptoError> {
        let kdf_error = |reason: String| Err(CryptoError::Kdf { reason });
        if self.algorithm != ARGON2ID {
            return kdf_error(format!(
                "unsupported algorithm {:?}, expected argon2id",
                self.algorithm
            ));
        }
        if !SALT_LEN_RANGE.contains(&self.salt.len()) {
            return kdf_error(format!(
                "salt of {} bytes, expected 16 to 64",
                self.salt.len()
            ));
        }
        if self.m_cost_kib > MAX_M_COST_KIB || self.t_cost > MAX_T_COST || self.p_cost > MAX_P_COST
        {
            return kdf_error(format!(
                "costs m={} KiB t={} p={} exceed the limits m={MAX_M_COST_KIB} t={MAX_T_COST} p={MAX_P_COST}",
                self.m_cost_kib, self.t_cost, self.p_cost
            ));
        }
        Params::new(self.m_cost_kib, self.t_cost, self.p_cost, Some(KEK_LEN)).map_err(|err| {
            CryptoError::Kdf {
                reason: format!("invalid argon2 parameters: {err}"),
            }
        })
    }
}

/// Serde helpers writing the salt as standard base64.
mod salt_base64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer, de};

    pub(super) fn serialize<S: Serializer>(salt: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(salt))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD
            .decode(text)
            .map_err(|_| de::Error::custom("salt is not standard base64"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::fast_kdf as fast;

    #[test]
    fn derivation_is_deterministic_for_the_same_salt() {
        let params = fast();
        let a = params.derive(b"correct horse battery staple").unwrap();
        let b = params
            .clone()
            .derive(b"correct horse battery staple")
            .unwrap();
        assert_eq!(*a, *b);
    }

    #[test]
    fn derivation_differs_for_another_salt() {
        let a = fast().derive(b"correct horse battery staple").unwrap();
        let b = fast().derive(b"correct horse battery staple").unwrap();
        assert_ne!(*a, *b);
    }

    #[test]
    fn derivation_differs_for_another_passphrase() {
        let params = fast();
        let a = params.derive(b"correct horse battery staple").unwrap();
        let b = params.derive(b"correct horse battery stapler").unwrap();
        assert_ne!(*a, *b);
    }

    #[test]
    fn generated_params_use_argon2id_defaults_and_a_random_salt() {
        let a = KdfParams::generate().unwrap();
        let b = KdfParams::generate().unwrap();
        assert_eq!(a.algorithm(), "argon2id");
        assert_eq!(a.salt().len(), 16);
        assert_ne!(a.salt(), b.salt());
        assert_eq!(
            (a.m_cost_kib(), a.t_cost(), a.p_cost()),
            (
                KdfParams::DEFAULT_M_COST_KIB,
                KdfParams::DEFAULT_T_COST,
                KdfParams::DEFAULT_P_COST
            )
        );
        assert!(a.m_cost_kib() >= 19 * 1024 && a.t_cost() >= 2);
    }

    #[test]
    fn derivation_with_default_params_works() {
        let params = KdfParams::generate().unwrap();
        let a = params.derive(b"correct horse battery staple").unwrap();
        assert_eq!(*a, *params.derive(b"correct horse battery staple").unwrap());
    }

    #[test]
    fn params_round_trip_through_json_with_base64_salt() {
        let params = fast();
        let json = serde_json::to_value(&params).unwrap();
        assert_eq!(json["algorithm"], "argon2id");
        assert_eq!(json["m_cost_kib"], 64);
        assert_eq!(json["salt"].as_str().unwrap().len(), 24);
        let back: KdfParams = serde_json::from_value(json).unwrap();
        assert_eq!(back, params);
    }

    #[test]
    fn unsupported_algorithm_is_a_kdf_error() {
        let mut json = serde_json::to_value(fast()).unwrap();
        json["algorithm"] = "scrypt".into();
        let params: KdfParams = serde_json::from_value(json).unwrap();
        assert!(matches!(params.derive(b"x"), Err(CryptoError::Kdf { .. })));
    }

    #[test]
    fn absurd_stored_costs_are_rejected_before_deriving() {
        let mut json = serde_json::to_value(fast()).unwrap();
        json["t_cost"] = u32::MAX.into();
        let params: KdfParams = serde_json::from_value(json).unwrap();
        assert!(matches!(params.derive(b"x"), Err(CryptoError::Kdf { .. })));
    }

    #[test]
    fn too_little_memory_is_rejected() {
        assert!(matches!(
            KdfParams::new(1, 1, 1),
            Err(CryptoError::Kdf { .. })
        ));
    }

    #[test]
    fn short_stored_salt_is_rejected() {
        let mut json = serde_json::to_value(fast()).unwrap();
        json["salt"] = "AAAA".into();
        let params: KdfParams = serde_json::from_value(json).unwrap();
        assert!(matches!(params.derive(b"x"), Err(CryptoError::Kdf { .. })));
    }
}
