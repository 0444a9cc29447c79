//! Secret references (§9.3, ARCHITECTURE §10): how configuration names a secret instead of
//! holding its value, and how a resolved value's field is chosen.
//!
//! Two spellings of one reference:
//!
//! - JSON: `{"type":"SECRET_REF","secretId":"<id>","field":"key","version":null}`;
//! - URI: `secret://<id>` or `secret://<scope path>/<NAME>`, where the scope path is
//!   `global`, `org/<org>`, `team/<org>/<team>`, `project/<org>/<project>` or `user` (the
//!   caller's own), then optionally `?version=N` and `#field`, in that order (as in any
//!   URI): `secret://org/acme/OPENAI_KEY#key`, `secret://<id>?version=3`.
//!
//! Parsing is strict: nothing is guessed, percent-encoding is not accepted (names and ids
//! never need it), and every error says what is wrong with which part. Without a field the
//! type's default field is used (API_KEY `key`, GENERIC `value`, USERNAME_PASSWORD
//! `password`, CONNECTION_STRING `connectionString`, OAUTH2_TOKEN `accessToken`,
//! CERTIFICATE `certificate`, SSH_KEY `privateKey`, JSON_CREDENTIAL `credential` as JSON
//! text); an ENV_VARIABLE_SET has none: its field names one of its variables.

use std::fmt;

use serde_json::Value;
use zeroize::Zeroizing;

use crate::name::{validate_platform_id, validate_secret_name};
use crate::value::AnySecretValue;
use crate::{SecretError, SecretScope, SecretType, SecretValue};

/// The URI scheme of a reference.
pub const SCHEME: &str = "secret://";

/// Which secret a reference names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SecretLocator {
    /// By id.
    Id(String),
    /// By name within an owner: GLOBAL; ORGANIZATION of an org; TEAM or PROJECT of an org;
    /// USER, the caller's own.
    Named {
        scope: SecretScope,
        organization_id: Option<String>,
        /// The team of a TEAM secret, the project of a PROJECT secret.
        owner_id: Option<String>,
        name: String,
    },
}

/// A reference to (a field of) one version of a secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretReference {
    pub locator: SecretLocator,
    /// The field of the value; the type's default when `None`.
    pub field: Option<String>,
    /// The version; the current one when `None`.
    pub version: Option<i64>,
}

/// A configuration variable: a plain string, or a reference resolved at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigValue {
    Plain(String),
    Reference(SecretReference),
}

fn bad(reason: impl Into<String>) -> SecretError {
    SecretError::validation("reference", reason)
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn field_ok(field: &str) -> Result<(), SecretError> {
    if field.is_empty() || field.len() > 255 {
        return Err(bad("the field after '#' must be 1 to 255 characters"));
    }
    if !field
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(bad(
            "the field after '#' may contain only letters, digits and _-.",
        ));
    }
    Ok(())
}

fn version_ok(version: i64) -> Result<i64, SecretError> {
    if version < 1 {
        return Err(bad("version must be a positive integer"));
    }
    Ok(version)
}

impl SecretReference {
    /// A reference to the current value of secret `id`, default field.
    pub fn to_id(id: impl Into<String>) -> Self {
        SecretReference {
            locator: SecretLocator::Id(id.into()),
            field: None,
            version: None,
        }
    }

    /// Whether `s` is spelled as a reference URI (it may still be a malformed one).
    pub fn looks_like_uri(s: &str) -> bool {
        s.starts_with(SCHEME)
    }

    /// Parses the URI form.
    pub fn parse_uri(s: &str) -> Result<Self, SecretError> {
        let Some(rest) = s.strip_prefix(SCHEME) else {
            return Err(bad("a reference URI starts with secret://"));
        };
        let (rest, field) = match rest.split_once('#') {
            Some((r, f)) => {
                field_ok(f)?;
                (r, Some(f.to_string()))
            }
            None => (rest, None),
        };
        let (path, version) = match rest.split_once('?') {
            Some((p, q)) => {
                let Some(n) = q.strip_prefix("version=") else {
                    return Err(bad("the only query parameter is version=N"));
                };
                let n: i64 = n
                    .parse()
                    .map_err(|_| bad("version must be a positive integer"))?;
                (p, Some(version_ok(n)?))
            }
            None => (rest, None),
        };
        if path.contains('?') || path.contains('%') {
            return Err(bad(
                "unexpected '?' or '%' in the path (write ?version=N before #field; names \
                 and ids are never percent-encoded)",
            ));
        }
        let parts: Vec<&str> = path.split('/').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(bad("empty path segment (a doubled or trailing '/')"));
        }
        let named = |scope, organization_id: Option<&str>, owner_id: Option<&str>, name: &str| {
            validate_secret_name(name).map_err(|_| {
                bad(format!(
                    "'{name}' is not a secret name (a letter, then letters, digits, _ and -)"
                ))
            })?;
            for (what, id) in [
                ("organization", organization_id),
                ("team or project", owner_id),
            ] {
                if let Some(id) = id {
                    validate_platform_id(what, id)
                        .map_err(|_| bad(format!("'{id}' is not a valid {what} id")))?;
                }
            }
            Ok::<_, SecretError>(SecretLocator::Named {
                scope,
                organization_id: organization_id.map(str::to_string),
                owner_id: owner_id.map(str::to_string),
                name: name.to_string(),
            })
        };
        let locator = match parts.as_slice() {
            [id] if is_uuid(id) => SecretLocator::Id((*id).to_string()),
            [one] => {
                return Err(bad(format!(
                    "'{one}' is not a secret id (a UUID); name a secret by its scope path, \
                     e.g. secret://global/{one} or secret://org/<org>/{one}"
                )));
            }
            ["global", name] => named(SecretScope::Global, None, None, name)?,
            ["user", name] => named(SecretScope::User, None, None, name)?,
            ["org", org, name] => named(SecretScope::Organization, Some(org), None, name)?,
            ["team", org, team, name] => named(SecretScope::Team, Some(org), Some(team), name)?,
            ["project", org, project, name] => {
                named(SecretScope::Project, Some(org), Some(project), name)?
            }
            [scope, ..] => {
                return Err(bad(format!(
                    "'{}' does not fit a scope path: global/NAME, org/<org>/NAME, \
                     team/<org>/<team>/NAME, project/<org>/<project>/NAME or user/NAME",
                    if matches!(*scope, "global" | "user" | "org" | "team" | "project") {
                        path
                    } else {
                        scope
                    }
                )));
            }
            [] => return Err(bad("nothing after secret://")),
        };
        Ok(SecretReference {
            locator,
            field,
            version,
        })
    }

    /// Parses the JSON form `{"type":"SECRET_REF","secretId","field"?,"version"?}`.
    pub fn from_json(v: &Value) -> Result<Self, SecretError> {
        let Some(obj) = v.as_object() else {
            return Err(bad("a reference is a string or a SECRET_REF object"));
        };
        if obj.get("type").and_then(Value::as_str) != Some("SECRET_REF") {
            return Err(bad("an object reference has \"type\": \"SECRET_REF\""));
        }
        if let Some(k) = obj
            .keys()
            .find(|k| !matches!(k.as_str(), "type" | "secretId" | "field" | "version"))
        {
            return Err(bad(format!(
                "unknown field '{k}' (accepted: type, secretId, field, version)"
            )));
        }
        let id = match obj.get("secretId") {
            Some(Value::String(id)) if is_uuid(id) => id.clone(),
            Some(Value::String(_)) => return Err(bad("secretId must be a secret id (a UUID)")),
            _ => return Err(bad("secretId is required (a string)")),
        };
        let field = match obj.get("field") {
            None | Some(Value::Null) => None,
            Some(Value::String(f)) => {
                field_ok(f)?;
                Some(f.clone())
            }
            Some(_) => return Err(bad("field must be a string")),
        };
        let version = match obj.get("version") {
            None | Some(Value::Null) => None,
            Some(v) => Some(version_ok(
                v.as_i64()
                    .ok_or_else(|| bad("version must be a positive integer"))?,
            )?),
        };
        Ok(SecretReference {
            locator: SecretLocator::Id(id),
            field,
            version,
        })
    }
}

impl fmt::Display for SecretReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(SCHEME)?;
        match &self.locator {
            SecretLocator::Id(id) => f.write_str(id)?,
            SecretLocator::Named {
                scope,
                organization_id,
                owner_id,
                name,
            } => {
                let org = organization_id.as_deref().unwrap_or("");
                let owner = owner_id.as_deref().unwrap_or("");
                match scope {
                    SecretScope::Global => write!(f, "global/{name}")?,
                    SecretScope::User => write!(f, "user/{name}")?,
                    SecretScope::Organization => write!(f, "org/{org}/{name}")?,
                    SecretScope::Team => write!(f, "team/{org}/{owner}/{name}")?,
                    SecretScope::Project => write!(f, "project/{org}/{owner}/{name}")?,
                }
            }
        }
        if let Some(v) = self.version {
            write!(f, "?version={v}")?;
        }
        if let Some(field) = &self.field {
            write!(f, "#{field}")?;
        }
        Ok(())
    }
}

impl ConfigValue {
    /// A variable's JSON: a string (a reference when it starts with `secret://`), or a
    /// SECRET_REF object.
    pub fn from_json(v: &Value) -> Result<Self, SecretError> {
        match v {
            Value::String(s) if SecretReference::looks_like_uri(s) => {
                SecretReference::parse_uri(s).map(ConfigValue::Reference)
            }
            Value::String(s) => Ok(ConfigValue::Plain(s.clone())),
            Value::Object(_) => SecretReference::from_json(v).map(ConfigValue::Reference),
            _ => Err(bad(
                "a variable is a string, a secret:// reference or a SECRET_REF object",
            )),
        }
    }
}

/// The field a reference without one takes from a value of `secret_type`.
pub fn default_field(secret_type: SecretType) -> Option<&'static str> {
    Some(match secret_type {
        SecretType::ApiKey => "key",
        SecretType::Generic => "value",
        SecretType::UsernamePassword => "password",
        SecretType::ConnectionString => "connectionString",
        SecretType::OAuth2Token => "accessToken",
        SecretType::Certificate => "certificate",
        SecretType::SshKey => "privateKey",
        SecretType::JsonCredential => "credential",
        SecretType::EnvVariableSet => return None,
    })
}

fn text(s: &str) -> Zeroizing<String> {
    Zeroizing::new(s.to_string())
}

fn json_text(v: &impl serde::Serialize) -> Result<Zeroizing<String>, SecretError> {
    serde_json::to_string(v)
        .map(Zeroizing::new)
        .map_err(|_| SecretError::internal("a value's field could not be serialized"))
}

/// The text of field `field` (the type's default when `None`) of `value`: a string field
/// as it is, a structured one (a JSON credential, a certificate chain) as JSON text.
pub fn field_text(
    value: &SecretValue,
    field: Option<&str>,
) -> Result<Zeroizing<String>, SecretError> {
    let secret_type = value.secret_type();
    let field = match field.or_else(|| default_field(secret_type)) {
        Some(f) => f,
        None => {
            return Err(bad(format!(
                "{secret_type} secrets have no default field: name one of the variables \
                 after '#'"
            )));
        }
    };
    let missing = |fields: &str| {
        bad(format!(
            "{secret_type} secrets have no field '{field}' (fields: {fields})"
        ))
    };
    let absent = || bad(format!("this {secret_type} value has no '{field}'"));
    let opt = |v: &Option<String>| v.as_deref().map(text).ok_or_else(absent);
    match value.expose_secret() {
        AnySecretValue::ApiKey(v) => match field {
            "key" => Ok(text(&v.key)),
            _ => Err(missing("key")),
        },
        AnySecretValue::Generic(v) => match field {
            "value" => Ok(text(&v.value)),
            _ => Err(missing("value")),
        },
        AnySecretValue::UsernamePassword(v) => match field {
            "username" => Ok(text(&v.username)),
            "password" => Ok(text(&v.password)),
            _ => Err(missing("username, password")),
        },
        AnySecretValue::ConnectionString(v) => match field {
            "connectionString" => Ok(text(&v.connection_string)),
            _ => Err(missing("connectionString")),
        },
        AnySecretValue::OAuth2Token(v) => match field {
            "accessToken" => Ok(text(&v.access_token)),
            "refreshToken" => opt(&v.refresh_token),
            "tokenType" => Ok(text(&v.token_type)),
            "scope" => opt(&v.scope),
            "expiresAt" => v
                .expires_at
                .map(|t| Zeroizing::new(t.to_rfc3339()))
                .ok_or_else(absent),
            _ => Err(missing(
                "accessToken, refreshToken, tokenType, scope, expiresAt",
            )),
        },
        AnySecretValue::Certificate(v) => match field {
            "certificate" => Ok(text(&v.certificate)),
            "privateKey" => opt(&v.private_key),
            "passphrase" => opt(&v.passphrase),
            "chain" => v
                .chain
                .as_ref()
                .map(|c| Zeroizing::new(c.join("\n")))
                .ok_or_else(absent),
            _ => Err(missing("certificate, privateKey, chain, passphrase")),
        },
        AnySecretValue::SshKey(v) => match field {
            "privateKey" => Ok(text(&v.private_key)),
            "publicKey" => opt(&v.public_key),
            "passphrase" => opt(&v.passphrase),
            "keyType" => Ok(text(v.key_type.as_str())),
            _ => Err(missing("privateKey, publicKey, passphrase, keyType")),
        },
        AnySecretValue::JsonCredential(v) => match field {
            "credential" => json_text(&v.credential),
            key => match v.credential.get(key) {
                Some(Value::String(s)) => Ok(text(s)),
                Some(other) => json_text(other),
                None => Err(bad(format!(
                    "the credential has no top-level field '{key}'"
                ))),
            },
        },
        AnySecretValue::EnvVariableSet(v) => v
            .variables
            .get(field)
            .map(|s| text(s))
            .ok_or_else(|| bad(format!("the variable set has no variable '{field}'"))),
    }
}

#[cfg(test)]
#[path = "reference_tests.rs"]
mod tests;
