//! Certificate authentication to Entra ID (`"method":"CERTIFICATE"`) without OpenSSL: the
//! SDK's own certificate credential links OpenSSL, which this project does not (one TLS
//! and crypto stack), so the client assertion is made here and handed to the SDK's
//! `ClientAssertionCredential`, which exchanges it for tokens as usual.
//!
//! The assertion is the one Entra ID documents for certificate credentials: a JWT signed
//! RS256 with the certificate's private key, header `x5t` = base64url(SHA-1(certificate
//! DER)), claims `aud` = the tenant's token endpoint, `iss` = `sub` = the client id, a
//! fresh `jti`, `nbf`/`iat` now and `exp` five minutes on. The file at `certificatePath` is
//! PEM holding the certificate and its unencrypted RSA private key (PKCS#8 or PKCS#1), as
//! `az ad sp create-for-rbac --create-cert` writes it; it is read at each login, so a
//! certificate renewed on disk is used from the next token on. Whatever is wrong with the
//! file, the error is the same fixed sentence: it never says whether the path exists or
//! quotes what the file holds.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use azure_core::error::ErrorKind;
use azure_core::http::{ClientMethodOptions, ClientOptions};
use azure_identity::{
    ClientAssertion, ClientAssertionCredential, ClientAssertionCredentialOptions,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secret_core::SecretError;
use sha1::{Digest, Sha1};
use zeroize::Zeroizing;

use crate::error::{StoreError, StoreResult};

/// Entra ID's public-cloud authority, when the configuration names none.
const PUBLIC_AUTHORITY: &str = "https://login.microsoftonline.com";
/// How long an assertion is valid.
const ASSERTION_LIFETIME_SECS: i64 = 300;

/// The one error of an unusable certificate file.
pub(super) fn unusable() -> StoreError {
    SecretError::VaultNotConfigured {
        reason: "the Azure certificate file is not a readable PEM file holding a certificate \
                 and its unencrypted RSA private key"
            .to_string(),
    }
    .into()
}

/// What a login needs from the file: the signing key and the certificate's thumbprint.
pub(super) struct LoadedCertificate {
    pub(super) key: EncodingKey,
    /// base64url(SHA-1(certificate DER)): the `x5t` header.
    pub(super) thumbprint: String,
}

/// The PEM text of a block (the label and DER it was parsed from).
fn pem_text(label: &str, der: &[u8]) -> Zeroizing<String> {
    let body = Zeroizing::new(STANDARD.encode(der));
    let mut out = Zeroizing::new(format!("-----BEGIN {label}-----\n"));
    for line in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Reads and checks the PEM file: the first certificate, and the RSA private key.
pub(super) fn load(path: &std::path::Path) -> StoreResult<LoadedCertificate> {
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|_| unusable())?);
    let mut cert_der: Option<Vec<u8>> = None;
    let mut key: Option<EncodingKey> = None;
    for block in x509_parser::pem::Pem::iter_from_buffer(&bytes) {
        let block = block.map_err(|_| unusable())?;
        match block.label.as_str() {
            "CERTIFICATE" if cert_der.is_none() => {
                x509_parser::parse_x509_certificate(&block.contents).map_err(|_| unusable())?;
                cert_der = Some(block.contents.clone());
            }
            label @ ("PRIVATE KEY" | "RSA PRIVATE KEY") if key.is_none() => {
                let text = pem_text(label, &block.contents);
                key = Some(EncodingKey::from_rsa_pem(text.as_bytes()).map_err(|_| unusable())?);
            }
            _ => {}
        }
        // The key's DER is in `block`: wipe it.
        let mut contents = block.contents;
        zeroize::Zeroize::zeroize(&mut contents);
    }
    match (cert_der, key) {
        (Some(der), Some(key)) => Ok(LoadedCertificate {
            key,
            thumbprint: URL_SAFE_NO_PAD.encode(Sha1::digest(&der)),
        }),
        _ => Err(unusable()),
    }
}

/// Makes a fresh client assertion from the certificate file at each login.
struct CertificateAssertion {
    path: PathBuf,
    client_id: String,
    /// The tenant's token endpoint.
    audience: String,
}

impl fmt::Debug for CertificateAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAssertion")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// The assertion `cert` signs for `client_id` and `audience`, valid from `now` (seconds).
pub(super) fn assertion(
    cert: &LoadedCertificate,
    client_id: &str,
    audience: &str,
    now: i64,
) -> StoreResult<String> {
    let mut header = Header::new(Algorithm::RS256);
    header.typ = Some("JWT".to_string());
    header.x5t = Some(cert.thumbprint.clone());
    let claims = serde_json::json!({
        "aud": audience,
        "iss": client_id,
        "sub": client_id,
        "jti": uuid::Uuid::new_v4().to_string(),
        "nbf": now,
        "iat": now,
        "exp": now + ASSERTION_LIFETIME_SECS,
    });
    jsonwebtoken::encode(&header, &claims, &cert.key).map_err(|_| unusable())
}

#[async_trait::async_trait]
impl ClientAssertion for CertificateAssertion {
    async fn secret(
        &self,
        _options: Option<ClientMethodOptions<'_>>,
    ) -> azure_core::Result<String> {
        let failed = |_| {
            azure_core::Error::with_message(
                ErrorKind::Credential,
                "the Azure certificate file is unusable",
            )
        };
        let cert = load(&self.path).map_err(failed)?;
        assertion(
            &cert,
            &self.client_id,
            &self.audience,
            chrono::Utc::now().timestamp(),
        )
        .map_err(failed)
    }
}

/// The credential of a CERTIFICATE configuration; the file is checked now, and read again
/// at each login.
pub(super) fn certificate_credential(
    authority_host: Option<&str>,
    tenant_id: &str,
    client_id: &str,
    certificate_path: &str,
    client_options: ClientOptions,
) -> StoreResult<Arc<dyn TokenCredential>> {
    let path = PathBuf::from(certificate_path);
    load(&path)?;
    let authority = authority_host
        .unwrap_or(PUBLIC_AUTHORITY)
        .trim_end_matches('/');
    let assertion = CertificateAssertion {
        path,
        client_id: client_id.to_string(),
        audience: format!("{authority}/{tenant_id}/oauth2/v2.0/token"),
    };
    let credential: Arc<dyn TokenCredential> = ClientAssertionCredential::new(
        tenant_id.to_string(),
        client_id.to_string(),
        assertion,
        Some(ClientAssertionCredentialOptions { client_options }),
    )
    .map_err(|_| {
        StoreError::from(SecretError::VaultNotConfigured {
            reason: "the Azure tenant or client id of this configuration is unusable".to_string(),
        })
    })?;
    Ok(credential)
}
