//! Structural reading of PEM private keys (PKCS#1, SEC1, PKCS#8, encrypted PKCS#8) and of
//! certificates' public keys: enough to tell a key's algorithm, whether it is encrypted, and
//! its public half when the encoding carries or implies it. Nothing here decrypts or signs.

use ssh_key::public::{EcdsaPublicKey, Ed25519PublicKey, KeyData, RsaPublicKey};
use ssh_key::{Mpint, private::Ed25519Keypair};
use x509_parser::asn1_rs::{Any, Class, FromDer, Tag};
use zeroize::Zeroizing;

use super::pem::{self, PemBlock};

/// rsaEncryption, 1.2.840.113549.1.1.1.
const OID_RSA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
/// id-RSASSA-PSS, 1.2.840.113549.1.1.10.
const OID_RSA_PSS: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0A];
/// id-ecPublicKey, 1.2.840.10045.2.1.
const OID_EC: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
/// id-Ed25519, 1.3.101.112.
const OID_ED25519: &[u8] = &[0x2B, 0x65, 0x70];
/// prime256v1 / secp256r1, 1.2.840.10045.3.1.7.
const OID_P256: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
/// secp384r1, 1.3.132.0.34.
const OID_P384: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x22];
/// secp521r1, 1.3.132.0.35.
const OID_P521: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x23];

/// A key's algorithm family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyFamily {
    /// RSA (PKCS#1 v1.5 or PSS).
    Rsa,
    /// ECDSA on any named curve.
    Ec,
    /// Ed25519.
    Ed25519,
}

impl KeyFamily {
    /// The family's name, as SSH key types spell it.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            KeyFamily::Rsa => "rsa",
            KeyFamily::Ec => "ecdsa",
            KeyFamily::Ed25519 => "ed25519",
        }
    }
}

/// A public key, in a form that compares equal across encodings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PublicKeyMaterial {
    /// RSA modulus and exponent, big-endian without leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// An EC point in SEC1 encoding.
    Ec { point: Vec<u8> },
    /// An Ed25519 public key.
    Ed25519([u8; 32]),
}

impl PublicKeyMaterial {
    /// The key as SSH public key data, when SSH can represent it.
    pub(crate) fn to_ssh_key_data(&self) -> Option<KeyData> {
        match self {
            PublicKeyMaterial::Rsa { n, e } => Some(KeyData::Rsa(RsaPublicKey {
                e: Mpint::from_positive_bytes(e).ok()?,
                n: Mpint::from_positive_bytes(n).ok()?,
            })),
            PublicKeyMaterial::Ec { point } => EcdsaPublicKey::from_sec1_bytes(point)
                .ok()
                .map(KeyData::Ecdsa),
            PublicKeyMaterial::Ed25519(bytes) => Some(KeyData::Ed25519(Ed25519PublicKey(*bytes))),
        }
    }
}

/// What could be learnt from a PEM private key without its passphrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PrivateKeyInfo {
    /// The algorithm family; unknown for encrypted PKCS#8, which hides it.
    pub(crate) family: Option<KeyFamily>,
    /// Whether the key is encrypted (and so needs a passphrase).
    pub(crate) encrypted: bool,
    /// The OID of the EC curve, when the key names one.
    pub(crate) curve: Option<Vec<u8>>,
    /// The public half, when the encoding carries or implies it.
    pub(crate) public: Option<PublicKeyMaterial>,
}

impl PrivateKeyInfo {
    /// Whether the key's curve, if named, is one SSH supports (P-256, P-384, P-521).
    pub(crate) fn curve_supported_by_ssh(&self) -> bool {
        self.curve
            .as_deref()
            .is_none_or(|c| [OID_P256, OID_P384, OID_P521].contains(&c))
    }
}

/// Why a private key or public key could not be read. Fixed texts, never the input.
pub(crate) type KeyError = &'static str;

const MALFORMED: KeyError = "is not a well-formed private key (its DER structure is invalid)";
const NOT_A_KEY: KeyError = "must be one PEM private key block (PRIVATE KEY, RSA PRIVATE KEY, \
                             EC PRIVATE KEY or ENCRYPTED PRIVATE KEY)";
const UNSUPPORTED: KeyError = "uses an unsupported key algorithm (supported: RSA, EC, Ed25519)";

/// Reads one PEM private key (PKCS#1, SEC1, PKCS#8 or encrypted PKCS#8). An
/// `EC PARAMETERS` block before an EC key, as `openssl ecparam` writes it, is ignored.
pub(crate) fn parse_pem_private_key(text: &str) -> Result<PrivateKeyInfo, KeyError> {
    let blocks = pem::parse_blocks(text).map_err(pem::PemError::reason)?;
    let mut keys = blocks.iter().filter(|b| b.label != "EC PARAMETERS");
    let (Some(block), None) = (keys.next(), keys.next()) else {
        return Err(NOT_A_KEY);
    };
    parse_private_key_block(block)
}

/// Reads one decoded PEM private key block.
pub(crate) fn parse_private_key_block(block: &PemBlock) -> Result<PrivateKeyInfo, KeyError> {
    let der = block.contents.as_slice();
    let legacy = match block.label.as_str() {
        "RSA PRIVATE KEY" => Some(KeyFamily::Rsa),
        "EC PRIVATE KEY" => Some(KeyFamily::Ec),
        _ => None,
    };
    if let Some(family) = legacy {
        if block.proc_type_encrypted {
            return Ok(PrivateKeyInfo {
                family: Some(family),
                encrypted: true,
                curve: None,
                public: None,
            });
        }
        return match family {
            KeyFamily::Rsa => parse_pkcs1(der),
            _ => parse_sec1(der, None),
        };
    }
    match block.label.as_str() {
        "PRIVATE KEY" => parse_pkcs8(der),
        "ENCRYPTED PRIVATE KEY" => {
            // EncryptedPrivateKeyInfo ::= SEQUENCE { encryptionAlgorithm, encryptedData }
            let mut seq = DerReader::new(der).sequence()?;
            seq.expect(Tag::Sequence)?;
            seq.expect(Tag::OctetString)?;
            Ok(PrivateKeyInfo {
                family: None,
                encrypted: true,
                curve: None,
                public: None,
            })
        }
        _ => Err(NOT_A_KEY),
    }
}

/// RSAPrivateKey ::= SEQUENCE { version, n, e, d, p, q, dp, dq, qinv, ... }
fn parse_pkcs1(der: &[u8]) -> Result<PrivateKeyInfo, KeyError> {
    let mut seq = DerReader::new(der).sequence()?;
    seq.expect(Tag::Integer)?;
    let n = unsigned(seq.expect(Tag::Integer)?);
    let e = unsigned(seq.expect(Tag::Integer)?);
    for _ in 0..6 {
        seq.expect(Tag::Integer)?;
    }
    if n.is_empty() || e.is_empty() {
        return Err(MALFORMED);
    }
    Ok(PrivateKeyInfo {
        family: Some(KeyFamily::Rsa),
        encrypted: false,
        curve: None,
        public: Some(PublicKeyMaterial::Rsa { n, e }),
    })
}

/// ECPrivateKey ::= SEQUENCE { version 1, privateKey OCTET STRING,
/// parameters [0] OID OPTIONAL, publicKey [1] BIT STRING OPTIONAL }
fn parse_sec1(der: &[u8], outer_curve: Option<&[u8]>) -> Result<PrivateKeyInfo, KeyError> {
    let mut seq = DerReader::new(der).sequence()?;
    if seq.expect(Tag::Integer)? != [1] {
        return Err(MALFORMED);
    }
    seq.expect(Tag::OctetString)?;
    let mut curve = outer_curve.map(<[u8]>::to_vec);
    let mut public = None;
    while let Some(field) = seq.next()? {
        if field.class() != Class::ContextSpecific {
            return Err(MALFORMED);
        }
        let inner = DerReader::new(field.data).next()?.ok_or(MALFORMED)?;
        match field.tag() {
            Tag(0) => {
                let oid = expect_tag(&inner, Tag::Oid)?;
                if curve.as_deref().is_some_and(|c| c != oid) {
                    return Err(MALFORMED);
                }
                curve = Some(oid.to_vec());
            }
            Tag(1) => {
                public = Some(PublicKeyMaterial::Ec {
                    point: bit_string(&inner)?.to_vec(),
                })
            }
            _ => return Err(MALFORMED),
        }
    }
    Ok(PrivateKeyInfo {
        family: Some(KeyFamily::Ec),
        encrypted: false,
        curve,
        public,
    })
}

/// PrivateKeyInfo / OneAsymmetricKey ::= SEQUENCE { version, algorithm AlgorithmIdentifier,
/// privateKey OCTET STRING, attributes [0] OPTIONAL, publicKey [1] OPTIONAL }
fn parse_pkcs8(der: &[u8]) -> Result<PrivateKeyInfo, KeyError> {
    let mut seq = DerReader::new(der).sequence()?;
    seq.expect(Tag::Integer)?;
    let (oid, params) = algorithm_identifier(&mut seq)?;
    let inner = seq.expect(Tag::OctetString)?;
    match oid {
        o if o == OID_RSA || o == OID_RSA_PSS => parse_pkcs1(inner),
        o if o == OID_EC => {
            let curve = params
                .as_ref()
                .map(|p| expect_tag(p, Tag::Oid))
                .transpose()?;
            parse_sec1(inner, curve)
        }
        o if o == OID_ED25519 => {
            // CurvePrivateKey ::= OCTET STRING (the 32-byte seed)
            let seed = DerReader::new(inner).expect(Tag::OctetString)?;
            let seed: Zeroizing<[u8; 32]> = Zeroizing::new(seed.try_into().map_err(|_| MALFORMED)?);
            let keypair = Ed25519Keypair::from_seed(&seed);
            Ok(PrivateKeyInfo {
                family: Some(KeyFamily::Ed25519),
                encrypted: false,
                curve: None,
                public: Some(PublicKeyMaterial::Ed25519(keypair.public.0)),
            })
        }
        _ => Err(UNSUPPORTED),
    }
}

/// Reads a DER SubjectPublicKeyInfo (as found in certificates).
pub(crate) fn parse_spki(der: &[u8]) -> Result<(KeyFamily, PublicKeyMaterial), KeyError> {
    let mut seq = DerReader::new(der).sequence()?;
    let (oid, _) = algorithm_identifier(&mut seq)?;
    let bits = bit_string(&seq.next()?.ok_or(MALFORMED)?)?;
    match oid {
        o if o == OID_RSA || o == OID_RSA_PSS => {
            let mut key = DerReader::new(bits).sequence()?;
            let n = unsigned(key.expect(Tag::Integer)?);
            let e = unsigned(key.expect(Tag::Integer)?);
            Ok((KeyFamily::Rsa, PublicKeyMaterial::Rsa { n, e }))
        }
        o if o == OID_EC => Ok((
            KeyFamily::Ec,
            PublicKeyMaterial::Ec {
                point: bits.to_vec(),
            },
        )),
        o if o == OID_ED25519 => {
            let key: [u8; 32] = bits.try_into().map_err(|_| MALFORMED)?;
            Ok((KeyFamily::Ed25519, PublicKeyMaterial::Ed25519(key)))
        }
        _ => Err(UNSUPPORTED),
    }
}

/// AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL }
fn algorithm_identifier<'a>(
    seq: &mut DerReader<'a>,
) -> Result<(&'a [u8], Option<Any<'a>>), KeyError> {
    let mut alg = DerReader::new(seq.expect(Tag::Sequence)?);
    let oid = alg.expect(Tag::Oid)?;
    let params = alg.next()?;
    Ok((oid, params))
}

/// The bits of a BIT STRING without unused bits.
fn bit_string<'a>(any: &Any<'a>) -> Result<&'a [u8], KeyError> {
    match expect_tag(any, Tag::BitString)? {
        [0, bits @ ..] => Ok(bits),
        _ => Err(MALFORMED),
    }
}

/// A DER INTEGER's bytes without leading zeros.
fn unsigned(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes[start..].to_vec()
}

/// The contents of `any`, if it is a universal `tag`.
fn expect_tag<'a>(any: &Any<'a>, tag: Tag) -> Result<&'a [u8], KeyError> {
    if any.class() == Class::Universal && any.tag() == tag {
        Ok(any.data)
    } else {
        Err(MALFORMED)
    }
}

/// Reads consecutive DER elements from a buffer.
struct DerReader<'a> {
    rest: &'a [u8],
}

impl<'a> DerReader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        DerReader { rest: bytes }
    }

    /// The next element, or `None` at the end.
    fn next(&mut self) -> Result<Option<Any<'a>>, KeyError> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let (rest, any) = Any::from_der(self.rest).map_err(|_| MALFORMED)?;
        self.rest = rest;
        Ok(Some(any))
    }

    /// The contents of the next element, which must be a universal `tag`.
    fn expect(&mut self, tag: Tag) -> Result<&'a [u8], KeyError> {
        let any = self.next()?.ok_or(MALFORMED)?;
        expect_tag(&any, tag)
    }

    /// A reader over the next element, which must be a SEQUENCE and the last one.
    fn sequence(mut self) -> Result<DerReader<'a>, KeyError> {
        let contents = self.expect(Tag::Sequence)?;
        if !self.rest.is_empty() {
            return Err(MALFORMED);
        }
        Ok(DerReader::new(contents))
    }
}
