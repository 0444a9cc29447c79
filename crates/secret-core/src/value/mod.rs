//! Typed secret values: the nine wire types ([`AnySecretValue`], tagged by `type`), the
//! zeroizing, redacting wrapper they travel in ([`SecretValue`]), their validation and
//! normalisation, masking, and the non-secret facts derived from them ([`ValueFacts`]).
//!
//! No value is ever printed: `Debug` shows types and non-secret fields only, nothing
//! implements `Display`, and every string holding secret material is zeroized on drop.

mod certificate;
mod connection;
mod keys;
mod mask;
mod pem;
mod ssh;
mod types;
mod validate;

#[cfg(test)]
mod tests;

use std::fmt;

use chrono::{DateTime, Utc};
use secrecy::{CloneableSecret, ExposeSecret, ExposeSecretMut, SecretBox, SerializableSecret};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use zeroize::{Zeroize, Zeroizing};

pub use self::connection::parse_connection_facts;
pub use self::mask::MASK;
pub use self::types::{
    ApiKeySecret, CertificateSecret, ConnectionStringSecret, EnvVariableSetSecret, GenericSecret,
    JsonCredentialSecret, OAuth2TokenSecret, ParsedConnection, SshKeySecret,
    UsernamePasswordSecret,
};
pub use self::validate::MAX_ENV_VARIABLES;
use crate::enums::SecretType;
use crate::error::SecretError;

/// A secret value of any of the nine types, tagged by `type` on the wire.
///
/// Serialization is derived; deserialization is written by hand (see the `Deserialize` impl)
/// so that unknown fields are refused and the intermediate JSON is zeroized.
#[derive(Clone, Serialize)]
#[serde(tag = "type")]
pub enum AnySecretValue {
    /// `API_KEY`
    #[serde(rename = "API_KEY")]
    ApiKey(ApiKeySecret),
    /// `OAUTH2_TOKEN`
    #[serde(rename = "OAUTH2_TOKEN")]
    OAuth2Token(OAuth2TokenSecret),
    /// `USERNAME_PASSWORD`
    #[serde(rename = "USERNAME_PASSWORD")]
    UsernamePassword(UsernamePasswordSecret),
    /// `CERTIFICATE`
    #[serde(rename = "CERTIFICATE")]
    Certificate(CertificateSecret),
    /// `SSH_KEY`
    #[serde(rename = "SSH_KEY")]
    SshKey(SshKeySecret),
    /// `CONNECTION_STRING`
    #[serde(rename = "CONNECTION_STRING")]
    ConnectionString(ConnectionStringSecret),
    /// `JSON_CREDENTIAL`
    #[serde(rename = "JSON_CREDENTIAL")]
    JsonCredential(JsonCredentialSecret),
    /// `ENV_VARIABLE_SET`
    #[serde(rename = "ENV_VARIABLE_SET")]
    EnvVariableSet(EnvVariableSetSecret),
    /// `GENERIC`
    #[serde(rename = "GENERIC")]
    Generic(GenericSecret),
}

/// Non-secret facts derived from a validated value, fit for plain metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValueFacts {
    /// A certificate's subject, RFC 4514 style (`CN=example.com, O=Acme`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_subject: Option<String>,
    /// A certificate's notAfter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_not_after: Option<DateTime<Utc>>,
    /// An SSH key's fingerprint, `SHA256:...` as `ssh-keygen -l` prints it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_fingerprint: Option<String>,
    /// When the value itself stops being valid: a certificate's (normalised) `expiresAt`, an
    /// OAuth2 token's `expiresAt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub natural_expiry: Option<DateTime<Utc>>,
    /// A connection string's host, port, database and user (never the password).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<ParsedConnection>,
    /// The masked display string.
    pub masked: String,
}

impl AnySecretValue {
    /// The type of this value.
    pub const fn secret_type(&self) -> SecretType {
        match self {
            AnySecretValue::ApiKey(_) => SecretType::ApiKey,
            AnySecretValue::OAuth2Token(_) => SecretType::OAuth2Token,
            AnySecretValue::UsernamePassword(_) => SecretType::UsernamePassword,
            AnySecretValue::Certificate(_) => SecretType::Certificate,
            AnySecretValue::SshKey(_) => SecretType::SshKey,
            AnySecretValue::ConnectionString(_) => SecretType::ConnectionString,
            AnySecretValue::JsonCredential(_) => SecretType::JsonCredential,
            AnySecretValue::EnvVariableSet(_) => SecretType::EnvVariableSet,
            AnySecretValue::Generic(_) => SecretType::Generic,
        }
    }

    /// Fails with `INVALID_SECRET_TYPE` unless this value is of type `expected`.
    pub fn check_type(&self, expected: SecretType) -> Result<(), SecretError> {
        let actual = self.secret_type();
        if actual == expected {
            Ok(())
        } else {
            Err(SecretError::InvalidSecretType { expected, actual })
        }
    }

    /// Validates the value as of now; returns it normalised, with its facts.
    ///
    /// Normalisation: a certificate's `expiresAt` becomes its notAfter unless an earlier one
    /// was given, an empty `chain` is dropped, and a connection string's `parsed` is
    /// recomputed from the string. Consumes the value so a rejected one is dropped (and
    /// zeroized) at once.
    pub fn validate(self) -> Result<(AnySecretValue, ValueFacts), SecretError> {
        self.validate_at(Utc::now())
    }

    /// [`validate`](Self::validate) with an explicit "now" (expired certificates are refused).
    pub fn validate_at(
        mut self,
        now: DateTime<Utc>,
    ) -> Result<(AnySecretValue, ValueFacts), SecretError> {
        let facts = validate::validate_in_place(&mut self, now)?;
        Ok((self, facts))
    }

    /// The masked display string, e.g. `••••••••abcd` for an API key.
    pub fn masked(&self) -> String {
        mask::masked(self)
    }

    /// Reads a value from a JSON object, taking the fields out of `raw` (what remains is the
    /// caller's to zeroize). Errors are fixed texts or field names, never values.
    fn from_json_value(raw: &mut Value) -> Result<AnySecretValue, String> {
        let Value::Object(map) = raw else {
            return Err("must be a JSON object with a \"type\" field".to_owned());
        };
        let type_name = match map.remove("type") {
            Some(Value::String(name)) => name,
            Some(other) => {
                types::zeroize_json(other);
                return Err("field `type` must be a string".to_owned());
            }
            None => return Err("missing field `type`".to_owned()),
        };
        let secret_type: SecretType = type_name.parse().map_err(|_| {
            format!(
                "unknown `type`, expected one of: {}",
                SecretType::ALL
                    .iter()
                    .map(|t| t.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
        let fields: &Value = raw;
        let value = match secret_type {
            SecretType::ApiKey => ApiKeySecret::deserialize(fields).map(Self::ApiKey),
            SecretType::OAuth2Token => {
                OAuth2TokenSecret::deserialize(fields).map(Self::OAuth2Token)
            }
            SecretType::UsernamePassword => {
                UsernamePasswordSecret::deserialize(fields).map(Self::UsernamePassword)
            }
            SecretType::Certificate => {
                CertificateSecret::deserialize(fields).map(Self::Certificate)
            }
            SecretType::SshKey => SshKeySecret::deserialize(fields).map(Self::SshKey),
            SecretType::ConnectionString => {
                ConnectionStringSecret::deserialize(fields).map(Self::ConnectionString)
            }
            SecretType::JsonCredential => {
                JsonCredentialSecret::deserialize(fields).map(Self::JsonCredential)
            }
            SecretType::EnvVariableSet => {
                EnvVariableSetSecret::deserialize(fields).map(Self::EnvVariableSet)
            }
            SecretType::Generic => GenericSecret::deserialize(fields).map(Self::Generic),
        };
        value.map_err(|e| safe_reason(secret_type, &e))
    }
}

/// A serde error as a reason that cannot quote the input: serde's "invalid type/value"
/// messages may contain the offending value, so only messages naming fields are kept.
fn safe_reason(secret_type: SecretType, error: &serde_json::Error) -> String {
    let message = error.to_string();
    let names_a_field = ["missing field", "unknown field", "duplicate field"]
        .iter()
        .any(|prefix| message.starts_with(prefix));
    if names_a_field {
        message
    } else {
        format!("a field of this {secret_type} value has the wrong type or format")
    }
}

/// Zeroizes a JSON value on drop.
struct ZeroizingJson(Value);

impl Drop for ZeroizingJson {
    fn drop(&mut self) {
        types::zeroize_json(std::mem::take(&mut self.0));
    }
}

impl<'de> Deserialize<'de> for AnySecretValue {
    /// Reads the whole object first (the `type` tag may come last), then the variant's
    /// fields with `deny_unknown_fields` in force; the intermediate JSON is zeroized.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut raw = ZeroizingJson(Value::deserialize(deserializer)?);
        AnySecretValue::from_json_value(&mut raw.0).map_err(D::Error::custom)
    }
}

impl Zeroize for AnySecretValue {
    fn zeroize(&mut self) {
        match self {
            AnySecretValue::ApiKey(v) => v.zeroize(),
            AnySecretValue::OAuth2Token(v) => v.zeroize(),
            AnySecretValue::UsernamePassword(v) => v.zeroize(),
            AnySecretValue::Certificate(v) => v.zeroize(),
            AnySecretValue::SshKey(v) => v.zeroize(),
            AnySecretValue::ConnectionString(v) => v.zeroize(),
            AnySecretValue::JsonCredential(v) => v.zeroize(),
            AnySecretValue::EnvVariableSet(v) => v.zeroize(),
            AnySecretValue::Generic(v) => v.zeroize(),
        }
    }
}

impl CloneableSecret for AnySecretValue {}

impl SerializableSecret for AnySecretValue {}

impl fmt::Debug for AnySecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnySecretValue::ApiKey(v) => f.debug_tuple("ApiKey").field(v).finish(),
            AnySecretValue::OAuth2Token(v) => f.debug_tuple("OAuth2Token").field(v).finish(),
            AnySecretValue::UsernamePassword(v) => {
                f.debug_tuple("UsernamePassword").field(v).finish()
            }
            AnySecretValue::Certificate(v) => f.debug_tuple("Certificate").field(v).finish(),
            AnySecretValue::SshKey(v) => f.debug_tuple("SshKey").field(v).finish(),
            AnySecretValue::ConnectionString(v) => {
                f.debug_tuple("ConnectionString").field(v).finish()
            }
            AnySecretValue::JsonCredential(v) => f.debug_tuple("JsonCredential").field(v).finish(),
            AnySecretValue::EnvVariableSet(v) => f.debug_tuple("EnvVariableSet").field(v).finish(),
            AnySecretValue::Generic(v) => f.debug_tuple("Generic").field(v).finish(),
        }
    }
}

/// A secret value as it travels through the service: boxed, zeroized on drop, redacted in
/// `Debug`; read it with [`expose_secret`](Self::expose_secret) at the last moment.
#[derive(Clone)]
pub struct SecretValue(SecretBox<AnySecretValue>);

impl SecretValue {
    /// Wraps a value.
    pub fn new(value: AnySecretValue) -> Self {
        SecretValue(SecretBox::new(Box::new(value)))
    }

    /// The value itself. Every call site is a place where the secret leaves its wrapper.
    pub fn expose_secret(&self) -> &AnySecretValue {
        self.0.expose_secret()
    }

    /// The type of the value.
    pub fn secret_type(&self) -> SecretType {
        self.expose_secret().secret_type()
    }

    /// Fails with `INVALID_SECRET_TYPE` unless the value is of type `expected`.
    pub fn check_type(&self, expected: SecretType) -> Result<(), SecretError> {
        self.expose_secret().check_type(expected)
    }

    /// Validates and normalises the value in its box, as [`AnySecretValue::validate`] does.
    pub fn validate(self) -> Result<(SecretValue, ValueFacts), SecretError> {
        self.validate_at(Utc::now())
    }

    /// [`validate`](Self::validate) with an explicit "now".
    pub fn validate_at(
        mut self,
        now: DateTime<Utc>,
    ) -> Result<(SecretValue, ValueFacts), SecretError> {
        let facts = validate::validate_in_place(self.0.expose_secret_mut(), now)?;
        Ok((self, facts))
    }

    /// The masked display string of the value.
    pub fn masked(&self) -> String {
        self.expose_secret().masked()
    }

    /// Parses the JSON of a tagged value (e.g. decrypted plaintext). Does not validate.
    pub fn from_json_bytes(bytes: &[u8]) -> Result<SecretValue, SecretError> {
        let mut raw = ZeroizingJson(serde_json::from_slice(bytes).map_err(|e| {
            SecretError::validation(
                "value",
                format!(
                    "is not valid JSON (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            )
        })?);
        let value = AnySecretValue::from_json_value(&mut raw.0)
            .map_err(|reason| SecretError::validation("value", reason))?;
        Ok(SecretValue::new(value))
    }

    /// Reads a tagged value from JSON already parsed (an item of a JSON import), zeroizing
    /// what is left of it. Does not validate; errors never quote the value.
    pub fn from_json(raw: serde_json::Value) -> Result<SecretValue, SecretError> {
        let mut raw = ZeroizingJson(raw);
        let value = AnySecretValue::from_json_value(&mut raw.0)
            .map_err(|reason| SecretError::validation("value", reason))?;
        Ok(SecretValue::new(value))
    }

    /// The canonical JSON of the value: the plaintext that gets encrypted. The buffer is
    /// sized exactly beforehand so that no partial copy is left behind by a reallocation.
    pub fn to_json_bytes(&self) -> Result<Zeroizing<Vec<u8>>, SecretError> {
        let value = self.expose_secret();
        let mut out = Zeroizing::new(Vec::with_capacity(validate::json_len(value)?));
        serde_json::to_writer(&mut *out, value)
            .map_err(|_| SecretError::internal("a secret value could not be serialized"))?;
        Ok(out)
    }
}

impl From<AnySecretValue> for SecretValue {
    fn from(value: AnySecretValue) -> Self {
        SecretValue::new(value)
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretValue({}, [REDACTED])", self.secret_type())
    }
}

impl Serialize for SecretValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SecretValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        AnySecretValue::deserialize(deserializer).map(SecretValue::new)
    }
}
