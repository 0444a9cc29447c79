//! The nine typed secret values as they appear on the wire (camelCase fields, unknown fields
//! rejected). Every struct zeroizes its strings on drop and prints no secret in `Debug`.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::enums::SshKeyType;

/// Stands in for a secret in `Debug` output.
pub(crate) struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// `Some([REDACTED])` or `None`: says whether an optional secret is present, nothing more.
fn redacted<T>(field: &Option<T>) -> Option<Redacted> {
    field.as_ref().map(|_| Redacted)
}

/// Implements `Drop` (zeroizing) and the `ZeroizeOnDrop` marker for a value struct.
macro_rules! zeroize_on_drop {
    ($($name:ident),+ $(,)?) => {
        $(
            impl Drop for $name {
                fn drop(&mut self) {
                    self.zeroize();
                }
            }

            impl ZeroizeOnDrop for $name {}
        )+
    };
}

/// An API key or personal access token.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiKeySecret {
    /// The key itself.
    pub key: String,
}

/// An OAuth2 access token, with an optional refresh token.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OAuth2TokenSecret {
    /// The access token.
    pub access_token: String,
    /// The refresh token, if the grant issued one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The token type, e.g. "Bearer".
    pub token_type: String,
    /// When the access token expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// The granted scope, space-separated as in OAuth2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// A username and password pair.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UsernamePasswordSecret {
    /// The username (shown in masked form).
    pub username: String,
    /// The password.
    pub password: String,
}

/// A PEM X.509 certificate with its optional private key and chain.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CertificateSecret {
    /// The certificate, one PEM `CERTIFICATE` block.
    pub certificate: String,
    /// The certificate's private key, one PEM private key block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<String>,
    /// Intermediate certificates, one PEM block each, leaf first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<Vec<String>>,
    /// The passphrase of an encrypted private key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase: Option<String>,
    /// When the value expires; validation sets it to the certificate's notAfter at the latest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

/// An SSH private key with its optional public key and passphrase.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SshKeySecret {
    /// The private key (OpenSSH format, or legacy PEM / PKCS#8).
    pub private_key: String,
    /// The public key as one OpenSSH line (`ssh-ed25519 AAAA... comment`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// The passphrase of an encrypted private key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase: Option<String>,
    /// The key's algorithm family.
    pub key_type: SshKeyType,
}

/// The non-secret parts of a connection string. Never holds the password.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Zeroize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ParsedConnection {
    /// The (first) host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The port, when the string names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// The database (or path) the string selects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// The user the string connects as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

impl ParsedConnection {
    /// Whether nothing is known about the connection.
    pub fn is_empty(&self) -> bool {
        self.host.is_none()
            && self.port.is_none()
            && self.database.is_none()
            && self.username.is_none()
    }
}

/// A database or service connection string (URL or `key=value;` form).
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionStringSecret {
    /// The connection string itself, password included.
    pub connection_string: String,
    /// What validation could read from the string; always recomputed, never the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parsed: Option<ParsedConnection>,
}

/// A structured JSON credential, such as a cloud service account key.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JsonCredentialSecret {
    /// The credential, a JSON object.
    pub credential: Map<String, Value>,
}

/// A set of environment variables.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvVariableSetSecret {
    /// Variable names (not secret) mapped to their values (secret).
    pub variables: BTreeMap<String, String>,
}

/// Any other secret value.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenericSecret {
    /// The value itself.
    pub value: String,
}

impl Zeroize for ApiKeySecret {
    fn zeroize(&mut self) {
        self.key.zeroize();
    }
}

impl Zeroize for OAuth2TokenSecret {
    fn zeroize(&mut self) {
        self.access_token.zeroize();
        self.refresh_token.zeroize();
        self.token_type.zeroize();
        self.scope.zeroize();
    }
}

impl Zeroize for UsernamePasswordSecret {
    fn zeroize(&mut self) {
        self.username.zeroize();
        self.password.zeroize();
    }
}

impl Zeroize for CertificateSecret {
    fn zeroize(&mut self) {
        self.certificate.zeroize();
        self.private_key.zeroize();
        self.chain.zeroize();
        self.passphrase.zeroize();
    }
}

impl Zeroize for SshKeySecret {
    fn zeroize(&mut self) {
        self.private_key.zeroize();
        self.public_key.zeroize();
        self.passphrase.zeroize();
    }
}

impl Zeroize for ConnectionStringSecret {
    fn zeroize(&mut self) {
        self.connection_string.zeroize();
        self.parsed.zeroize();
    }
}

impl Zeroize for JsonCredentialSecret {
    fn zeroize(&mut self) {
        zeroize_json_map(std::mem::take(&mut self.credential));
    }
}

impl Zeroize for EnvVariableSetSecret {
    fn zeroize(&mut self) {
        for (mut name, mut value) in std::mem::take(&mut self.variables) {
            name.zeroize();
            value.zeroize();
        }
    }
}

impl Zeroize for GenericSecret {
    fn zeroize(&mut self) {
        self.value.zeroize();
    }
}

zeroize_on_drop!(
    ApiKeySecret,
    OAuth2TokenSecret,
    UsernamePasswordSecret,
    CertificateSecret,
    SshKeySecret,
    ConnectionStringSecret,
    JsonCredentialSecret,
    EnvVariableSetSecret,
    GenericSecret,
);

/// Zeroizes every string (keys included) of a JSON object and frees it.
pub(crate) fn zeroize_json_map(map: Map<String, Value>) {
    zeroize_json(Value::Object(map));
}

/// Zeroizes every string of a JSON value and frees it.
///
/// Iterative, so a deeply nested value cannot exhaust the stack. Numbers and booleans cannot
/// be wiped in place; they are dropped as they are.
pub(crate) fn zeroize_json(value: Value) {
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        match value {
            Value::String(mut s) => s.zeroize(),
            Value::Array(items) => pending.extend(items),
            Value::Object(map) => {
                for (mut key, item) in map {
                    key.zeroize();
                    pending.push(item);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
}

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeySecret")
            .field("key", &Redacted)
            .finish()
    }
}

impl fmt::Debug for OAuth2TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth2TokenSecret")
            .field("access_token", &Redacted)
            .field("refresh_token", &redacted(&self.refresh_token))
            .field("token_type", &Redacted)
            .field("expires_at", &self.expires_at)
            .field("scope", &redacted(&self.scope))
            .finish()
    }
}

impl fmt::Debug for UsernamePasswordSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UsernamePasswordSecret")
            .field("username", &Redacted)
            .field("password", &Redacted)
            .finish()
    }
}

impl fmt::Debug for CertificateSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateSecret")
            .field("certificate", &Redacted)
            .field("private_key", &redacted(&self.private_key))
            .field("chain_len", &self.chain.as_ref().map_or(0, Vec::len))
            .field("passphrase", &redacted(&self.passphrase))
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl fmt::Debug for SshKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SshKeySecret")
            .field("key_type", &self.key_type)
            .field("private_key", &Redacted)
            .field("public_key", &redacted(&self.public_key))
            .field("passphrase", &redacted(&self.passphrase))
            .finish()
    }
}

impl fmt::Debug for ConnectionStringSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionStringSecret")
            .field("connection_string", &Redacted)
            .field("parsed", &redacted(&self.parsed))
            .finish()
    }
}

impl fmt::Debug for JsonCredentialSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonCredentialSecret")
            .field("fields", &self.credential.len())
            .field("credential", &Redacted)
            .finish()
    }
}

impl fmt::Debug for EnvVariableSetSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvVariableSetSecret")
            .field("variables", &self.variables.len())
            .field("values", &Redacted)
            .finish()
    }
}

impl fmt::Debug for GenericSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GenericSecret")
            .field("value", &Redacted)
            .finish()
    }
}
