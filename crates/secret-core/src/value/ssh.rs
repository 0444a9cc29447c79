//! Validation of SSH_KEY values: OpenSSH and legacy PEM private keys, the declared key type,
//! the optional public key, and the key's SHA-256 fingerprint.

use ssh_key::public::KeyData;
use ssh_key::{Algorithm, HashAlg, PrivateKey, PublicKey};

use super::keys::{self, KeyFamily};
use super::pem;
use super::types::SshKeySecret;
use super::validate::{check_optional_secret, check_text};
use crate::enums::SshKeyType;
use crate::error::SecretError;

/// What could be read from an SSH private key without its passphrase.
struct SshPrivateKeyInfo {
    /// The algorithm family; unknown only for encrypted PKCS#8.
    family: Option<KeyFamily>,
    /// Whether the key needs a passphrase.
    encrypted: bool,
    /// The public half, when known.
    public: Option<KeyData>,
}

/// Validates an SSH key value; returns its fingerprint (`SHA256:...`) when it can be known.
pub(crate) fn validate(value: &SshKeySecret) -> Result<Option<String>, SecretError> {
    check_text("value.privateKey", &value.private_key)?;
    check_optional_secret("value.passphrase", value.passphrase.as_deref())?;
    let key = read_private_key(&value.private_key)
        .map_err(|reason| SecretError::validation("value.privateKey", reason))?;
    if let Some(family) = key.family
        && family_of_key_type(value.key_type) != family
    {
        return Err(SecretError::validation(
            "value.keyType",
            format!("does not match the private key, which is {}", family.name()),
        ));
    }
    if key.encrypted && value.passphrase.is_none() {
        return Err(SecretError::validation(
            "value.passphrase",
            "is required because the private key is encrypted",
        ));
    }

    let mut fingerprint_source = key.public.clone();
    if let Some(line) = &value.public_key {
        check_text("value.publicKey", line)?;
        let public = PublicKey::from_openssh(line.trim()).map_err(|_| {
            SecretError::validation("value.publicKey", "is not a valid OpenSSH public key line")
        })?;
        if family_of_algorithm(&public.algorithm()) != Some(family_of_key_type(value.key_type)) {
            return Err(SecretError::validation(
                "value.publicKey",
                "has an algorithm that does not match keyType",
            ));
        }
        match &key.public {
            Some(private_public) if private_public != public.key_data() => {
                return Err(SecretError::validation(
                    "value.publicKey",
                    "does not match the private key",
                ));
            }
            Some(_) => {}
            None => fingerprint_source = Some(public.key_data().clone()),
        }
    }
    Ok(fingerprint_source.map(|data| data.fingerprint(HashAlg::Sha256).to_string()))
}

/// Reads an OpenSSH or PEM private key.
fn read_private_key(text: &str) -> Result<SshPrivateKeyInfo, &'static str> {
    let label = pem::first_label(text).ok_or(pem::PemError::NoBlock.reason())?;
    if label == "OPENSSH PRIVATE KEY" {
        let key = PrivateKey::from_openssh(text.trim())
            .map_err(|_| "is not a valid OpenSSH private key")?;
        let family = family_of_algorithm(&key.algorithm())
            .ok_or("uses an unsupported SSH key algorithm (supported: rsa, ed25519, ecdsa)")?;
        return Ok(SshPrivateKeyInfo {
            family: Some(family),
            encrypted: key.is_encrypted(),
            public: Some(key.public_key().key_data().clone()),
        });
    }
    let info = keys::parse_pem_private_key(text)?;
    if !info.curve_supported_by_ssh() {
        return Err("uses an elliptic curve SSH does not support (P-256, P-384, P-521 only)");
    }
    let public = match &info.public {
        Some(material) => Some(
            material
                .to_ssh_key_data()
                .ok_or("has a public key that SSH cannot represent")?,
        ),
        None => None,
    };
    Ok(SshPrivateKeyInfo {
        family: info.family,
        encrypted: info.encrypted,
        public,
    })
}

/// The family of an SSH key type.
const fn family_of_key_type(key_type: SshKeyType) -> KeyFamily {
    match key_type {
        SshKeyType::Rsa => KeyFamily::Rsa,
        SshKeyType::Ed25519 => KeyFamily::Ed25519,
        SshKeyType::Ecdsa => KeyFamily::Ec,
    }
}

/// The family of an SSH algorithm; security-key variants count as their base algorithm.
fn family_of_algorithm(algorithm: &Algorithm) -> Option<KeyFamily> {
    match algorithm {
        Algorithm::Rsa { .. } => Some(KeyFamily::Rsa),
        Algorithm::Ed25519 | Algorithm::SkEd25519 => Some(KeyFamily::Ed25519),
        Algorithm::Ecdsa { .. } | Algorithm::SkEcdsaSha2NistP256 => Some(KeyFamily::Ec),
        _ => None,
    }
}
