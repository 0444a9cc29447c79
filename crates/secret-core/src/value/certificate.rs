//! Validation of CERTIFICATE values: PEM X.509 parsing, subject and notAfter, chain, and the
//! private key's match with the certificate.

use chrono::{DateTime, Utc};
use x509_parser::certificate::X509Certificate;
use x509_parser::objects::{oid_registry, oid2abbrev};
use x509_parser::x509::X509Name;

use super::keys::{self, KeyFamily, PublicKeyMaterial};
use super::pem;
use super::types::CertificateSecret;
use super::validate::{check_optional_secret, check_text};
use crate::error::SecretError;

/// What validation learns from a certificate.
pub(crate) struct CertificateFacts {
    /// The subject, RFC 4514 style (most specific RDN first).
    pub(crate) subject: String,
    /// The end of the validity period.
    pub(crate) not_after: DateTime<Utc>,
}

/// A parsed certificate's facts and public key.
struct ParsedCertificate {
    facts: CertificateFacts,
    public_key: Option<(KeyFamily, PublicKeyMaterial)>,
}

/// Validates and normalises a certificate value (see [`super::AnySecretValue::validate`]).
pub(crate) fn validate(
    value: &mut CertificateSecret,
    now: DateTime<Utc>,
) -> Result<CertificateFacts, SecretError> {
    check_text("value.certificate", &value.certificate)?;
    let leaf = parse_certificate(&value.certificate)
        .map_err(|reason| SecretError::validation("value.certificate", reason))?;
    if leaf.facts.not_after < now {
        return Err(SecretError::validation(
            "value.certificate",
            "has expired (notAfter is in the past)",
        ));
    }

    if value.chain.as_ref().is_some_and(Vec::is_empty) {
        value.chain = None;
    }
    for (index, entry) in value.chain.iter().flatten().enumerate() {
        let field = format!("value.chain[{index}]");
        check_text(&field, entry)?;
        parse_certificate(entry).map_err(|reason| SecretError::validation(field, reason))?;
    }

    check_optional_secret("value.passphrase", value.passphrase.as_deref())?;
    if let Some(private_key) = &value.private_key {
        check_text("value.privateKey", private_key)?;
        let key = keys::parse_pem_private_key(private_key)
            .map_err(|reason| SecretError::validation("value.privateKey", reason))?;
        if key.encrypted && value.passphrase.is_none() {
            return Err(SecretError::validation(
                "value.passphrase",
                "is required because the private key is encrypted",
            ));
        }
        if let Some((cert_family, cert_public)) = &leaf.public_key {
            let family_differs = key.family.is_some_and(|f| f != *cert_family);
            let public_differs = key.public.as_ref().is_some_and(|p| p != cert_public);
            if family_differs || public_differs {
                return Err(SecretError::validation(
                    "value.privateKey",
                    "does not match the certificate's public key",
                ));
            }
        }
    }

    let not_after = leaf.facts.not_after;
    match value.expires_at {
        Some(expires_at) if expires_at > not_after => {
            return Err(SecretError::validation(
                "value.expiresAt",
                "must not be later than the certificate's notAfter",
            ));
        }
        Some(_) => {}
        None => value.expires_at = Some(not_after),
    }
    Ok(leaf.facts)
}

/// The subject of a certificate value, for masking; `None` if it does not parse.
pub(crate) fn subject_of(pem_text: &str) -> Option<String> {
    parse_certificate(pem_text).ok().map(|c| c.facts.subject)
}

/// Parses exactly one PEM `CERTIFICATE` block into its facts and public key.
fn parse_certificate(pem_text: &str) -> Result<ParsedCertificate, &'static str> {
    let blocks = pem::parse_blocks(pem_text).map_err(pem::PemError::reason)?;
    let [block] = blocks.as_slice() else {
        return Err("must contain exactly one PEM certificate (put intermediates in chain)");
    };
    if block.label != "CERTIFICATE" {
        return Err("must be a PEM CERTIFICATE block");
    }
    let (rest, cert) = x509_parser::parse_x509_certificate(&block.contents)
        .map_err(|_| "is not a valid X.509 certificate")?;
    if !rest.is_empty() {
        return Err("has trailing data after the X.509 certificate");
    }
    let not_after = DateTime::from_timestamp(cert.validity().not_after.timestamp(), 0)
        .ok_or("has a notAfter date out of range")?;
    Ok(ParsedCertificate {
        facts: CertificateFacts {
            subject: subject_string(cert.subject()),
            not_after,
        },
        public_key: public_key(&cert),
    })
}

/// The certificate's public key, if its algorithm is one this module knows.
fn public_key(cert: &X509Certificate<'_>) -> Option<(KeyFamily, PublicKeyMaterial)> {
    keys::parse_spki(cert.public_key().raw).ok()
}

/// An RFC 4514 style rendering of a name: most specific RDN first, `", "` between RDNs,
/// `"+"` between the attributes of one RDN, special characters escaped.
fn subject_string(name: &X509Name<'_>) -> String {
    let rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|attr| {
                    let kind = oid2abbrev(attr.attr_type(), oid_registry())
                        .map_or_else(|_| attr.attr_type().to_id_string(), str::to_owned);
                    let value = match attr.as_str() {
                        Ok(s) => escape_rfc4514(s),
                        Err(_) => format!("#{}", hex(attr.as_slice())),
                    };
                    format!("{kind}={value}")
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(", ")
}

/// Escapes an attribute value as RFC 4514 §2.4 asks.
fn escape_rfc4514(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Lower-case hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
