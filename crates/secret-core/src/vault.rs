//! Vault configurations (§12.1, part 1's `vault_configurations`): where secret values are
//! kept, and the backend settings of each, with their credentials.
//!
//! A configuration's `config` arrives as JSON in the pinned shape of its backend and is
//! parsed here by hand, field by field, so that every error names the field (`config.address`,
//! `config.auth.roleId`) and none repeats what was sent: a credential typed into the wrong
//! field never comes back in a message. Credentials are [`Credential`]s, whose `Debug` is
//! redacted; [`BackendConfig::public_view`] is what responses and audit records show.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use crate::enums::{StorageBackendKind, VaultHealthStatus, VaultScope};
use crate::error::SecretError;

/// The id of the built-in local configuration, which always exists.
pub const LOCAL_VAULT_ID: &str = "local";

/// The longest accepted configuration name.
pub const MAX_VAULT_NAME_LEN: usize = 255;

/// The longest accepted credential, path or address in a configuration.
const MAX_FIELD_LEN: usize = 8192;

/// A credential in a vault configuration (a token, an AppRole secret id, a JWT). Its
/// `Debug` never shows it; it is wiped from memory when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential(Zeroizing<String>);

impl Credential {
    /// Wraps a credential.
    pub fn new(s: impl Into<String>) -> Self {
        Credential(Zeroizing::new(s.into()))
    }

    /// The credential itself, to hand to the vault client.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credential([REDACTED])")
    }
}

/// How the service authenticates to a HashiCorp Vault (or OpenBao) server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VaultAuth {
    /// A token, renewed while it is renewable.
    Token { token: Credential },
    /// AppRole login at `mount` (default `approle`).
    AppRole {
        role_id: Credential,
        secret_id: Credential,
        mount: String,
    },
    /// Kubernetes login at `mount` (default `kubernetes`) with a service-account JWT,
    /// given inline or read from `jwt_path` at each login.
    Kubernetes {
        role: String,
        jwt: Option<Credential>,
        jwt_path: Option<String>,
        mount: String,
    },
}

/// The settings of a HashiCorp Vault KV v2 configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashicorpVaultConfig {
    /// `http(s)://host:port`, no path, query or credentials.
    pub address: String,
    /// The Vault Enterprise / OpenBao namespace, if any.
    pub namespace: Option<String>,
    /// The KV v2 mount (default `secret`).
    pub mount: String,
    /// The folder our objects are written under (default `secret-manager`); each object is
    /// `<pathPrefix>/<secret id>`, so secrets of every scope and organization sharing one
    /// vault never collide.
    pub path_prefix: String,
    /// The time limit of each call to the vault, in seconds (1 to 60, default 10).
    pub timeout_seconds: u64,
    pub auth: VaultAuth,
}

/// A backend's settings, credentials included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendConfig {
    /// The built-in local encrypted store: nothing to configure.
    Local,
    /// HashiCorp Vault (or OpenBao), KV v2.
    HashicorpVault(HashicorpVaultConfig),
}

fn field_error(path: &str, reason: impl Into<String>) -> SecretError {
    SecretError::validation(path, reason)
}

/// A JSON object's fields, read one by one; whatever is left over is an unknown field.
struct Fields<'a> {
    path: &'a str,
    map: Map<String, Value>,
}

impl<'a> Fields<'a> {
    fn new(path: &'a str, value: Value) -> Result<Self, SecretError> {
        match value {
            Value::Object(map) => Ok(Fields { path, map }),
            _ => Err(field_error(path, "must be an object")),
        }
    }

    fn name(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    /// An optional string field: absent or null is `None`; blank is an error.
    fn opt_str(&mut self, key: &str) -> Result<Option<String>, SecretError> {
        match self.map.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => {
                if s.trim().is_empty() {
                    return Err(field_error(&self.name(key), "must not be blank"));
                }
                if s.len() > MAX_FIELD_LEN {
                    return Err(field_error(
                        &self.name(key),
                        format!("must be at most {MAX_FIELD_LEN} bytes"),
                    ));
                }
                Ok(Some(s))
            }
            Some(_) => Err(field_error(&self.name(key), "must be a string")),
        }
    }

    fn str(&mut self, key: &str) -> Result<String, SecretError> {
        self.opt_str(key)?
            .ok_or_else(|| field_error(&self.name(key), "is required"))
    }

    fn credential(&mut self, key: &str) -> Result<Credential, SecretError> {
        self.str(key).map(Credential::new)
    }

    fn opt_u64(&mut self, key: &str) -> Result<Option<u64>, SecretError> {
        match self.map.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .map(Some)
                .ok_or_else(|| field_error(&self.name(key), "must be a whole number")),
            Some(_) => Err(field_error(&self.name(key), "must be a number")),
        }
    }

    fn object(&mut self, key: &str) -> Result<Value, SecretError> {
        self.map
            .remove(key)
            .filter(|v| !v.is_null())
            .ok_or_else(|| field_error(&self.name(key), "is required"))
    }

    /// Fails on the first field nobody asked for (named, never its value).
    fn finish(self, what: &str) -> Result<(), SecretError> {
        match self.map.keys().next() {
            None => Ok(()),
            Some(k) => Err(field_error(
                &self.name(k),
                format!("is not a field of {what}"),
            )),
        }
    }
}

/// A mount or path prefix: segments of letters, digits, `-`, `_` and `.`, joined by `/`,
/// with no empty, `.` or `..` segment. Leading and trailing slashes are dropped.
fn vault_path(path: &str, s: &str, allow_empty: bool) -> Result<String, SecretError> {
    let trimmed = s.trim_matches('/');
    if trimmed.is_empty() {
        return if allow_empty {
            Ok(String::new())
        } else {
            Err(field_error(path, "must not be empty"))
        };
    }
    let ok = trimmed.split('/').all(|seg| {
        !seg.is_empty()
            && seg != "."
            && seg != ".."
            && seg
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    });
    if !ok || trimmed.len() > 255 {
        return Err(field_error(
            path,
            "must be path segments of letters, digits, '-', '_' and '.' joined by '/'",
        ));
    }
    Ok(trimmed.to_string())
}

fn vault_address(path: &str, s: &str) -> Result<String, SecretError> {
    let url = url::Url::parse(s).map_err(|_| field_error(path, "must be an http(s) URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(field_error(path, "must be an http(s) URL with a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(field_error(
            path,
            "must not hold credentials; put them in config.auth",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() || url.path() != "/" {
        return Err(field_error(
            path,
            "must be scheme, host and port only (no path, query or fragment)",
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

fn parse_vault_auth(value: Value) -> Result<VaultAuth, SecretError> {
    let mut f = Fields::new("config.auth", value)?;
    let method = f.str("method")?;
    let auth = match method.as_str() {
        "TOKEN" => VaultAuth::Token {
            token: f.credential("token")?,
        },
        "APPROLE" => VaultAuth::AppRole {
            role_id: f.credential("roleId")?,
            secret_id: f.credential("secretId")?,
            mount: vault_path(
                "config.auth.mount",
                &f.opt_str("mount")?.unwrap_or_else(|| "approle".into()),
                false,
            )?,
        },
        "KUBERNETES" => {
            let role = f.str("role")?;
            let jwt = f.opt_str("jwt")?.map(Credential::new);
            let jwt_path = f.opt_str("jwtPath")?;
            let (jwt, jwt_path) = match (jwt, jwt_path) {
                (Some(_), Some(_)) => {
                    return Err(field_error(
                        "config.auth.jwt",
                        "give either jwt or jwtPath, not both",
                    ));
                }
                (None, None) => (
                    None,
                    Some("/var/run/secrets/kubernetes.io/serviceaccount/token".to_string()),
                ),
                other => other,
            };
            VaultAuth::Kubernetes {
                role,
                jwt,
                jwt_path,
                mount: vault_path(
                    "config.auth.mount",
                    &f.opt_str("mount")?.unwrap_or_else(|| "kubernetes".into()),
                    false,
                )?,
            }
        }
        _ => {
            return Err(field_error(
                "config.auth.method",
                "must be one of TOKEN, APPROLE, KUBERNETES",
            ));
        }
    };
    f.finish(&format!("{method} authentication"))?;
    Ok(auth)
}

fn parse_hashicorp(value: Value) -> Result<HashicorpVaultConfig, SecretError> {
    let mut f = Fields::new("config", value)?;
    let address = vault_address("config.address", &f.str("address")?)?;
    let namespace = f
        .opt_str("namespace")?
        .map(|n| vault_path("config.namespace", &n, false))
        .transpose()?;
    let mount = vault_path(
        "config.mount",
        &f.opt_str("mount")?.unwrap_or_else(|| "secret".into()),
        false,
    )?;
    let path_prefix = match f.map.remove("pathPrefix") {
        None | Some(Value::Null) => "secret-manager".to_string(),
        Some(Value::String(s)) => vault_path("config.pathPrefix", &s, true)?,
        Some(_) => return Err(field_error("config.pathPrefix", "must be a string")),
    };
    let timeout_seconds = f.opt_u64("timeoutSeconds")?.unwrap_or(10);
    if !(1..=60).contains(&timeout_seconds) {
        return Err(field_error("config.timeoutSeconds", "must be from 1 to 60"));
    }
    let auth = parse_vault_auth(f.object("auth")?)?;
    f.finish("a HASHICORP_VAULT configuration")?;
    Ok(HashicorpVaultConfig {
        address,
        namespace,
        mount,
        path_prefix,
        timeout_seconds,
        auth,
    })
}

impl BackendConfig {
    /// Parses and validates the `config` of a configuration of `backend`.
    pub fn parse(backend: StorageBackendKind, config: Value) -> Result<Self, SecretError> {
        match backend {
            StorageBackendKind::LocalEncrypted => match config {
                Value::Null => Ok(BackendConfig::Local),
                Value::Object(m) if m.is_empty() => Ok(BackendConfig::Local),
                _ => Err(field_error(
                    "config",
                    "the local encrypted store takes no settings",
                )),
            },
            StorageBackendKind::HashicorpVault => {
                parse_hashicorp(config).map(BackendConfig::HashicorpVault)
            }
            other => Err(field_error(
                "backend",
                format!("{other} is not available in this build"),
            )),
        }
    }

    /// Which backend these settings are for.
    pub fn backend(&self) -> StorageBackendKind {
        match self {
            BackendConfig::Local => StorageBackendKind::LocalEncrypted,
            BackendConfig::HashicorpVault(_) => StorageBackendKind::HashicorpVault,
        }
    }

    /// The settings in their wire shape, credentials included: what is encrypted and stored.
    pub fn to_stored_json(&self) -> Zeroizing<Vec<u8>> {
        let value = match self {
            BackendConfig::Local => json!({}),
            BackendConfig::HashicorpVault(c) => {
                let auth = match &c.auth {
                    VaultAuth::Token { token } => {
                        json!({"method": "TOKEN", "token": token.expose()})
                    }
                    VaultAuth::AppRole {
                        role_id,
                        secret_id,
                        mount,
                    } => json!({"method": "APPROLE", "roleId": role_id.expose(),
                        "secretId": secret_id.expose(), "mount": mount}),
                    VaultAuth::Kubernetes {
                        role,
                        jwt,
                        jwt_path,
                        mount,
                    } => json!({"method": "KUBERNETES", "role": role,
                        "jwt": jwt.as_ref().map(Credential::expose), "jwtPath": jwt_path,
                        "mount": mount}),
                };
                json!({"address": c.address, "namespace": c.namespace, "mount": c.mount,
                    "pathPrefix": c.path_prefix, "timeoutSeconds": c.timeout_seconds,
                    "auth": auth})
            }
        };
        Zeroizing::new(serde_json::to_vec(&value).unwrap_or_default())
    }

    /// Reads back what [`BackendConfig::to_stored_json`] wrote.
    pub fn from_stored_json(
        backend: StorageBackendKind,
        bytes: &[u8],
    ) -> Result<Self, SecretError> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|_| SecretError::internal("a stored vault configuration is not JSON"))?;
        Self::parse(backend, value)
    }

    /// The settings without any credential: what responses and audit records show.
    pub fn public_view(&self) -> Value {
        match self {
            BackendConfig::Local => json!({}),
            BackendConfig::HashicorpVault(c) => {
                let auth = match &c.auth {
                    VaultAuth::Token { .. } => json!({"method": "TOKEN"}),
                    VaultAuth::AppRole { mount, .. } => {
                        json!({"method": "APPROLE", "mount": mount})
                    }
                    VaultAuth::Kubernetes {
                        role,
                        jwt_path,
                        mount,
                        ..
                    } => json!({"method": "KUBERNETES", "role": role, "jwtPath": jwt_path,
                        "mount": mount}),
                };
                json!({"address": c.address, "namespace": c.namespace, "mount": c.mount,
                    "pathPrefix": c.path_prefix, "timeoutSeconds": c.timeout_seconds,
                    "auth": auth})
            }
        }
    }
}

/// A `config` as it arrived, not yet parsed. Its `Debug` is redacted: it holds credentials.
#[derive(Clone, PartialEq, Default)]
pub struct RawConfig(pub Value);

impl fmt::Debug for RawConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RawConfig([REDACTED])")
    }
}

/// The parameters of configuring a vault (§12.1 ConfigureVaultRequest).
#[derive(Debug, Clone)]
pub struct ConfigureVaultParams {
    pub name: String,
    pub description: Option<String>,
    pub backend: StorageBackendKind,
    pub scope: VaultScope,
    /// Required for ORGANIZATION, refused for GLOBAL.
    pub organization_id: Option<String>,
    pub config: RawConfig,
    pub is_default: bool,
}

/// The parameters of changing a vault configuration. `config`, when given, replaces the
/// stored settings whole (credentials included); without it they are kept.
#[derive(Debug, Clone, Default)]
pub struct UpdateVaultParams {
    pub name: Option<String>,
    pub description: crate::model::FieldUpdate<String>,
    pub config: Option<RawConfig>,
    pub is_active: Option<bool>,
    pub is_default: Option<bool>,
}

/// A vault configuration as callers see it: never its credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VaultConfiguration {
    pub id: crate::ids::VaultId,
    pub name: String,
    pub description: Option<String>,
    pub backend: StorageBackendKind,
    pub scope: VaultScope,
    pub organization_id: Option<String>,
    /// The non-secret settings ([`BackendConfig::public_view`]).
    pub config: Value,
    pub is_active: bool,
    pub is_default: bool,
    pub health_status: VaultHealthStatus,
    pub last_health_check: Option<DateTime<Utc>>,
    /// Secrets kept in this vault (soft-deleted ones included) that the caller may count.
    pub secret_count: u64,
    pub created_at: DateTime<Utc>,
    pub created_by_id: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by_id: String,
}

/// Checks a configuration's name: 1 to 255 characters, no control characters.
pub fn validate_vault_name(name: &str) -> Result<(), SecretError> {
    if name.trim().is_empty() {
        return Err(field_error("name", "must not be blank"));
    }
    if name.chars().count() > MAX_VAULT_NAME_LEN {
        return Err(field_error(
            "name",
            format!("must be at most {MAX_VAULT_NAME_LEN} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(field_error("name", "must not contain control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
