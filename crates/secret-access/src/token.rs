//! Bearer tokens: verifying the platform's signed JWTs into a [`Principal`], and minting such
//! tokens for development, tests and the UI (ARCHITECTURE §4).
//!
//! The claims are `sub`, `name`, `superAdmin`, `orgs` `{"o1":"ADMIN"}`, `teams`
//! `{"t1":{"org":"o1","role":"LEAD"}}`, `projects`
//! `{"p1":{"org":"o1","team":"t1","role":"ADMIN"}}` (`team` optional), `roles`
//! `[{"id":"r-ops","org":"o1"}]` (`org` absent for a platform-wide role), `iss`, `aud`, `iat`,
//! `exp` and `authTime` (seconds since the epoch). Only `sub` and `exp` are required; the
//! others default to empty, `false` or absent. The flat forms of earlier versions
//! (`"teams":{"t1":"LEAD"}`, `"roles":["r-ops"]`) are refused with a message saying what to
//! write instead: a membership that does not name its organization cannot be checked
//! against a secret's place. A verifier accepts exactly one algorithm, checked before any key
//! is touched, so `alg: none` and HS256-signed-with-the-RSA-public-key tokens are refused.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secret_core::{
    OrgRole, Principal, ProjectMembership, RoleMembership, SecretError, TeamMembership,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The clock skew tolerated on `exp`, `iat` and `nbf` unless configured otherwise.
pub const DEFAULT_LEEWAY: std::time::Duration = std::time::Duration::from_secs(30);

/// The largest token accepted, in bytes; longer input is refused before any parsing.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The shortest HS256 secret accepted, in bytes (RFC 7518 §3.2: at least the hash size).
pub const MIN_HS256_SECRET_BYTES: usize = 32;

/// The signature algorithms a verifier or issuer can be configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenAlgorithm {
    /// HMAC-SHA256 with a shared secret.
    Hs256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// Ed25519.
    EdDsa,
}

impl TokenAlgorithm {
    /// The algorithm's name in a JWT header (`alg`).
    pub const fn as_str(self) -> &'static str {
        match self {
            TokenAlgorithm::Hs256 => "HS256",
            TokenAlgorithm::Rs256 => "RS256",
            TokenAlgorithm::EdDsa => "EdDSA",
        }
    }

    const fn jwt(self) -> Algorithm {
        match self {
            TokenAlgorithm::Hs256 => Algorithm::HS256,
            TokenAlgorithm::Rs256 => Algorithm::RS256,
            TokenAlgorithm::EdDsa => Algorithm::EdDSA,
        }
    }
}

impl fmt::Display for TokenAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a token was refused. The text is safe to show to the caller: it never contains the
/// token or any part of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The input is not a well-formed JWT (three base64url parts, JSON header and claims).
    #[error("malformed token")]
    Malformed,
    /// The input is longer than [`MAX_TOKEN_BYTES`].
    #[error("token exceeds {MAX_TOKEN_BYTES} bytes")]
    TooLarge,
    /// The token's `exp` has passed (beyond the leeway).
    #[error("token has expired")]
    Expired,
    /// The token's `iat` or `nbf` lies in the future (beyond the leeway).
    #[error("token is not yet valid")]
    NotYetValid,
    /// The signature does not match the configured key.
    #[error("invalid token signature")]
    InvalidSignature,
    /// The header's `alg` is not the one algorithm this verifier accepts (includes `none`).
    #[error("token algorithm not accepted, expected {expected}")]
    AlgorithmNotAccepted {
        /// The algorithm the verifier is configured with.
        expected: TokenAlgorithm,
    },
    /// A required claim is absent.
    #[error("token is missing the `{0}` claim")]
    MissingClaim(&'static str),
    /// A claim has the wrong type or an unacceptable value.
    #[error("token claim `{0}` is invalid")]
    InvalidClaim(&'static str),
    /// A membership claim in the flat form of earlier versions, which does not name the
    /// organization (and team) it belongs to.
    #[error("token claim `{claim}` uses the flat form; write {expected}")]
    FlatMembership {
        /// The claim (`teams`, `projects` or `roles`).
        claim: &'static str,
        /// The form to write instead.
        expected: &'static str,
    },
    /// The token could not be checked for another reason (e.g. an unusable configured key).
    #[error("token could not be verified")]
    Unverifiable,
}

impl From<TokenError> for SecretError {
    fn from(err: TokenError) -> Self {
        SecretError::Unauthenticated {
            reason: err.to_string(),
        }
    }
}

/// Checks bearer tokens signed with one configured algorithm and key.
pub struct TokenVerifier {
    algorithm: TokenAlgorithm,
    key: DecodingKey,
    leeway: i64,
    issuer: Option<String>,
    audience: Option<String>,
}

impl fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("algorithm", &self.algorithm)
            .field("key", &"[REDACTED]")
            .field("leeway_secs", &self.leeway)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

impl TokenVerifier {
    /// A verifier of HS256 tokens signed with `secret` (at least 32 bytes).
    pub fn hs256(secret: &[u8]) -> Result<Self, SecretError> {
        check_hs256_secret(secret)?;
        let key = DecodingKey::from_secret(secret)
            .map_err(|_| SecretError::validation("secret", "not a usable HS256 secret"))?;
        Ok(Self::with_key(TokenAlgorithm::Hs256, key))
    }

    /// A verifier of RS256 tokens, given the RSA public key in PEM form.
    pub fn rs256_pem(public_key_pem: &[u8]) -> Result<Self, SecretError> {
        let invalid = || SecretError::validation("publicKey", "not an RSA public key in PEM form");
        require_public_pem(public_key_pem).ok_or_else(invalid)?;
        let key = DecodingKey::from_rsa_pem(public_key_pem).map_err(|_| invalid())?;
        Ok(Self::with_key(TokenAlgorithm::Rs256, key))
    }

    /// A verifier of EdDSA (Ed25519) tokens, given the public key in PEM form.
    pub fn eddsa_pem(public_key_pem: &[u8]) -> Result<Self, SecretError> {
        let invalid =
            || SecretError::validation("publicKey", "not an Ed25519 public key in PEM form");
        require_public_pem(public_key_pem).ok_or_else(invalid)?;
        let key = DecodingKey::from_ed_pem(public_key_pem).map_err(|_| invalid())?;
        Ok(Self::with_key(TokenAlgorithm::EdDsa, key))
    }

    fn with_key(algorithm: TokenAlgorithm, key: DecodingKey) -> Self {
        TokenVerifier {
            algorithm,
            key,
            leeway: duration_secs(DEFAULT_LEEWAY),
            issuer: None,
            audience: None,
        }
    }

    /// The same verifier tolerating `leeway` of clock skew (default [`DEFAULT_LEEWAY`]).
    pub fn with_leeway(mut self, leeway: std::time::Duration) -> Self {
        self.leeway = duration_secs(leeway);
        self
    }

    /// The same verifier requiring the `iss` claim to equal `issuer`.
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The same verifier requiring the `aud` claim to name `audience`.
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// The one algorithm this verifier accepts.
    pub fn algorithm(&self) -> TokenAlgorithm {
        self.algorithm
    }

    /// Verifies `token` against the system clock and returns the principal it carries.
    pub fn verify(&self, token: &str) -> Result<Principal, SecretError> {
        self.verify_at(token, Utc::now())
    }

    /// Verifies `token` as of `now` and returns the principal it carries.
    pub fn verify_at(&self, token: &str, now: DateTime<Utc>) -> Result<Principal, SecretError> {
        self.check(token, now).map_err(SecretError::from)
    }

    /// Verifies `token` as of `now`, with the precise reason on failure.
    pub fn check(&self, token: &str, now: DateTime<Utc>) -> Result<Principal, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::TooLarge);
        }
        self.check_header(token)?;

        let mut validation = Validation::new(self.algorithm.jwt());
        // Time and audience checks are done below against `now`, so that they are testable
        // and their failures name the claim.
        validation.required_spec_claims = HashSet::new();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.leeway = 0;
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &self.key, &validation)
            .map_err(|err| self.map_decode_error(err.kind()))?;
        let claims = data.claims;

        let now_secs = now.timestamp();
        let exp = timestamp_claim(&claims, "exp")?.ok_or(TokenError::MissingClaim("exp"))?;
        if now_secs >= exp.saturating_add(self.leeway) {
            return Err(TokenError::Expired);
        }
        let latest_acceptable = now_secs.saturating_add(self.leeway);
        for name in ["iat", "nbf"] {
            if timestamp_claim(&claims, name)?.is_some_and(|at| at > latest_acceptable) {
                return Err(TokenError::NotYetValid);
            }
        }
        let auth_time = match timestamp_claim(&claims, "authTime")? {
            Some(secs) if secs > latest_acceptable => {
                return Err(TokenError::InvalidClaim("authTime"));
            }
            Some(secs) => Some(
                DateTime::from_timestamp(secs, 0).ok_or(TokenError::InvalidClaim("authTime"))?,
            ),
            None => None,
        };
        self.check_issuer_and_audience(&claims)?;

        let user_id = match claims.get("sub") {
            None | Some(Value::Null) => return Err(TokenError::MissingClaim("sub")),
            Some(Value::String(sub)) if !sub.trim().is_empty() => sub.clone(),
            Some(_) => return Err(TokenError::InvalidClaim("sub")),
        };
        Ok(Principal {
            user_id,
            name: optional_claim(&claims, "name")?,
            super_admin: optional_claim(&claims, "superAdmin")?.unwrap_or(false),
            orgs: optional_claim::<BTreeMap<String, OrgRole>>(&claims, "orgs")?.unwrap_or_default(),
            teams: membership_map(&claims, "teams", TEAMS_FORM)?,
            projects: membership_map(&claims, "projects", PROJECTS_FORM)?,
            roles: role_claim(&claims)?,
            auth_time,
        })
    }

    /// Refuses a header that is not JSON or names another algorithm, before any key is used.
    fn check_header(&self, token: &str) -> Result<(), TokenError> {
        let mut parts = token.split('.');
        let (Some(header), Some(_), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header = URL_SAFE_NO_PAD
            .decode(header)
            .map_err(|_| TokenError::Malformed)?;
        let header: Map<String, Value> =
            serde_json::from_slice(&header).map_err(|_| TokenError::Malformed)?;
        match header.get("alg") {
            Some(Value::String(alg)) if alg == self.algorithm.as_str() => Ok(()),
            Some(Value::String(_)) => Err(TokenError::AlgorithmNotAccepted {
                expected: self.algorithm,
            }),
            _ => Err(TokenError::Malformed),
        }
    }

    fn check_issuer_and_audience(&self, claims: &Map<String, Value>) -> Result<(), TokenError> {
        if let Some(issuer) = &self.issuer {
            match claims.get("iss") {
                None | Some(Value::Null) => return Err(TokenError::MissingClaim("iss")),
                Some(Value::String(iss)) if iss == issuer => {}
                Some(_) => return Err(TokenError::InvalidClaim("iss")),
            }
        }
        if let Some(audience) = &self.audience {
            let names_us = match claims.get("aud") {
                None | Some(Value::Null) => return Err(TokenError::MissingClaim("aud")),
                Some(Value::String(aud)) => aud == audience,
                Some(Value::Array(auds)) => {
                    auds.iter().any(|a| a.as_str() == Some(audience.as_str()))
                }
                Some(_) => false,
            };
            if !names_us {
                return Err(TokenError::InvalidClaim("aud"));
            }
        }
        Ok(())
    }

    fn map_decode_error(&self, kind: &ErrorKind) -> TokenError {
        match kind {
            ErrorKind::InvalidSignature => TokenError::InvalidSignature,
            ErrorKind::InvalidAlgorithm
            | ErrorKind::InvalidAlgorithmName
            | ErrorKind::UnsupportedAlgorithm => TokenError::AlgorithmNotAccepted {
                expected: self.algorithm,
            },
            ErrorKind::InvalidToken
            | ErrorKind::Base64(_)
            | ErrorKind::Json(_)
            | ErrorKind::Utf8(_) => TokenError::Malformed,
            _ => TokenError::Unverifiable,
        }
    }
}

/// Mints bearer tokens carrying a principal, for development, tests and the UI.
pub struct TokenIssuer {
    algorithm: TokenAlgorithm,
    key: EncodingKey,
    issuer: Option<String>,
    audience: Option<String>,
}

impl fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("algorithm", &self.algorithm)
            .field("key", &"[REDACTED]")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

/// The claims a minted token carries, in their wire spelling.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MintedClaims<'a> {
    sub: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    super_admin: bool,
    orgs: &'a BTreeMap<String, OrgRole>,
    teams: &'a BTreeMap<String, TeamMembership>,
    projects: &'a BTreeMap<String, ProjectMembership>,
    roles: &'a BTreeSet<RoleMembership>,
    iat: i64,
    exp: i64,
    auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
}

impl TokenIssuer {
    /// An issuer of HS256 tokens signed with `secret` (at least 32 bytes).
    pub fn hs256(secret: &[u8]) -> Result<Self, SecretError> {
        check_hs256_secret(secret)?;
        let key = EncodingKey::from_secret(secret)
            .map_err(|_| SecretError::validation("secret", "not a usable HS256 secret"))?;
        Self::with_key(TokenAlgorithm::Hs256, key, "secret")
    }

    /// An issuer of RS256 tokens, given the RSA private key in PEM form (PKCS#1 or PKCS#8).
    pub fn rs256_pem(private_key_pem: &[u8]) -> Result<Self, SecretError> {
        let key = EncodingKey::from_rsa_pem(private_key_pem).map_err(|_| {
            SecretError::validation("privateKey", "not an RSA private key in PEM form")
        })?;
        Self::with_key(TokenAlgorithm::Rs256, key, "privateKey")
    }

    /// An issuer of EdDSA (Ed25519) tokens, given the PKCS#8 private key in PEM form.
    pub fn eddsa_pem(private_key_pem: &[u8]) -> Result<Self, SecretError> {
        let key = EncodingKey::from_ed_pem(private_key_pem).map_err(|_| {
            SecretError::validation("privateKey", "not an Ed25519 private key in PEM form")
        })?;
        Self::with_key(TokenAlgorithm::EdDsa, key, "privateKey")
    }

    /// Signs a probe so that an unusable key fails here rather than at the first mint.
    fn with_key(
        algorithm: TokenAlgorithm,
        key: EncodingKey,
        field: &str,
    ) -> Result<Self, SecretError> {
        jsonwebtoken::encode(&Header::new(algorithm.jwt()), &Map::new(), &key).map_err(|_| {
            SecretError::validation(field, format!("the key cannot sign {algorithm} tokens"))
        })?;
        Ok(TokenIssuer {
            algorithm,
            key,
            issuer: None,
            audience: None,
        })
    }

    /// The same issuer writing `issuer` into the `iss` claim.
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The same issuer writing `audience` into the `aud` claim.
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// The algorithm this issuer signs with.
    pub fn algorithm(&self) -> TokenAlgorithm {
        self.algorithm
    }

    /// A token for `principal`, issued at `now` and valid for `ttl`; `authTime` is the
    /// principal's `auth_time`, or `now` when it has none.
    pub fn mint(
        &self,
        principal: &Principal,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<String, SecretError> {
        if principal.user_id.trim().is_empty() {
            return Err(SecretError::validation(
                "sub",
                "the principal has no user id",
            ));
        }
        if ttl <= Duration::zero() {
            return Err(SecretError::validation("ttl", "must be positive"));
        }
        let exp = now
            .checked_add_signed(ttl)
            .ok_or_else(|| SecretError::validation("ttl", "too large"))?;
        let claims = MintedClaims {
            sub: &principal.user_id,
            name: principal.name.as_deref(),
            super_admin: principal.super_admin,
            orgs: &principal.orgs,
            teams: &principal.teams,
            projects: &principal.projects,
            roles: &principal.roles,
            iat: now.timestamp(),
            exp: exp.timestamp(),
            auth_time: principal.auth_time.unwrap_or(now).timestamp(),
            iss: self.issuer.as_deref(),
            aud: self.audience.as_deref(),
        };
        jsonwebtoken::encode(&Header::new(self.algorithm.jwt()), &claims, &self.key)
            .map_err(SecretError::internal)
    }
}

fn check_hs256_secret(secret: &[u8]) -> Result<(), SecretError> {
    if secret.len() < MIN_HS256_SECRET_BYTES {
        return Err(SecretError::validation(
            "secret",
            format!("an HS256 secret needs at least {MIN_HS256_SECRET_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// `Some(())` when the PEM's first block is a public key (not a private key by mistake).
fn require_public_pem(pem: &[u8]) -> Option<()> {
    let text = std::str::from_utf8(pem).ok()?;
    let start = text.find("-----BEGIN ")? + "-----BEGIN ".len();
    let label = &text[start..];
    let label = &label[..label.find("-----")?];
    label.ends_with("PUBLIC KEY").then_some(())
}

fn duration_secs(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

/// A NumericDate claim in whole seconds; `None` when absent or null.
fn timestamp_claim(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<i64>, TokenError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(secs) = n.as_i64() {
                return Ok(Some(secs));
            }
            // RFC 7519 allows fractional seconds; whole seconds are enough here.
            match n.as_f64() {
                Some(secs) if secs.is_finite() && secs.abs() < 1e15 => {
                    Ok(Some(secs.floor() as i64))
                }
                _ => Err(TokenError::InvalidClaim(name)),
            }
        }
        Some(_) => Err(TokenError::InvalidClaim(name)),
    }
}

/// What `teams` must look like, for the message refusing the flat form.
const TEAMS_FORM: &str = r#"{"t1":{"org":"o1","role":"LEAD"}}"#;
/// What `projects` must look like.
const PROJECTS_FORM: &str = r#"{"p1":{"org":"o1","team":"t1","role":"ADMIN"}} (team optional)"#;
/// What `roles` must look like.
const ROLES_FORM: &str = r#"[{"id":"r-ops","org":"o1"}] (org absent for a platform-wide role)"#;

/// A membership map claim (`teams`, `projects`): each value an object naming its
/// organization; a flat `"id":"ROLE"` entry is refused with the form to write instead.
fn membership_map<T: DeserializeOwned>(
    claims: &Map<String, Value>,
    name: &'static str,
    expected: &'static str,
) -> Result<BTreeMap<String, T>, TokenError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(entries)) => entries
            .iter()
            .map(|(id, entry)| match entry {
                Value::String(_) => Err(TokenError::FlatMembership {
                    claim: name,
                    expected,
                }),
                _ if id.trim().is_empty() => Err(TokenError::InvalidClaim(name)),
                entry => T::deserialize(entry)
                    .map(|m| (id.clone(), m))
                    .map_err(|_| TokenError::InvalidClaim(name)),
            })
            .collect(),
        Some(_) => Err(TokenError::InvalidClaim(name)),
    }
}

/// The `roles` claim: a list of `{"id","org"?}`; a flat list of ids is refused.
fn role_claim(claims: &Map<String, Value>) -> Result<BTreeSet<RoleMembership>, TokenError> {
    match claims.get("roles") {
        None | Some(Value::Null) => Ok(BTreeSet::new()),
        Some(Value::Array(entries)) => entries
            .iter()
            .map(|entry| match entry {
                Value::String(_) => Err(TokenError::FlatMembership {
                    claim: "roles",
                    expected: ROLES_FORM,
                }),
                entry => RoleMembership::deserialize(entry)
                    .ok()
                    .filter(|r| !r.id.trim().is_empty())
                    .ok_or(TokenError::InvalidClaim("roles")),
            })
            .collect(),
        Some(_) => Err(TokenError::InvalidClaim("roles")),
    }
}

/// An optional claim of type `T`; `None` when absent or null.
fn optional_claim<T: DeserializeOwned>(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<T>, TokenError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => T::deserialize(value)
            .map(Some)
            .map_err(|_| TokenError::InvalidClaim(name)),
    }
}

#[cfg(test)]
mod tests;
