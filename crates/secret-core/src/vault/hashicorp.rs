//! The settings of a HashiCorp Vault (or OpenBao) KV v2 configuration and their wire shape.

use serde_json::{Value, json};

use super::Credential;
use super::fields::{Fields, field_error, http_url, vault_path};
use crate::error::SecretError;

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

pub(super) fn parse_hashicorp(value: Value) -> Result<HashicorpVaultConfig, SecretError> {
    let mut f = Fields::new("config", value)?;
    let address = http_url("config.address", &f.str("address")?)?;
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
    let timeout_seconds = f.timeout_seconds()?;
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

impl HashicorpVaultConfig {
    /// The wire shape, credentials included (what is encrypted and stored).
    pub(super) fn stored_json(&self) -> Value {
        let auth = match &self.auth {
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
        json!({"address": self.address, "namespace": self.namespace, "mount": self.mount,
            "pathPrefix": self.path_prefix, "timeoutSeconds": self.timeout_seconds,
            "auth": auth})
    }

    /// The wire shape without any credential.
    pub(super) fn public_json(&self) -> Value {
        let auth = match &self.auth {
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
        json!({"address": self.address, "namespace": self.namespace, "mount": self.mount,
            "pathPrefix": self.path_prefix, "timeoutSeconds": self.timeout_seconds,
            "auth": auth})
    }
}
