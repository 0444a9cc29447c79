//! The settings of an Azure Key Vault configuration and their wire shape (pinned):
//! `{"vaultUrl":"https://NAME.vault.azure.net","auth":{"method":"MANAGED_IDENTITY" |
//! "SERVICE_PRINCIPAL" | "CERTIFICATE", ...}}`, plus the optional `namePrefix`,
//! `timeoutSeconds` and `authorityHost` (another Entra ID host than the public cloud's,
//! e.g. `https://login.microsoftonline.us`).

use serde_json::{Value, json};

use super::Credential;
use super::fields::{Fields, field_error, http_url};
use crate::error::SecretError;

/// How the service authenticates to Entra ID for Key Vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AzureAuth {
    /// The managed identity of the host (system-assigned, or the user-assigned one with
    /// `client_id`).
    ManagedIdentity { client_id: Option<String> },
    /// A service principal with a client secret.
    ServicePrincipal {
        tenant_id: String,
        client_id: String,
        client_secret: Credential,
    },
    /// A service principal with a certificate (PEM: certificate and private key) read
    /// from `certificate_path` at each login.
    Certificate {
        tenant_id: String,
        client_id: String,
        certificate_path: String,
    },
}

/// The settings of an Azure Key Vault configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureKeyVaultConfig {
    /// `https://NAME.vault.azure.net` (or a sovereign cloud's vault domain).
    pub vault_url: String,
    /// Put before our secret id to make the Key Vault secret's name (default empty):
    /// letters, digits and hyphens only, as Key Vault allows.
    pub name_prefix: String,
    /// The time limit of each call, in seconds (1 to 60, default 10).
    pub timeout_seconds: u64,
    /// The Entra ID authority (default the public cloud's).
    pub authority_host: Option<String>,
    pub auth: AzureAuth,
}

/// The longest name prefix: Key Vault names are at most 127 characters and ours add 36.
pub const MAX_AZURE_NAME_PREFIX: usize = 90;

fn https_url(path: &str, s: &str) -> Result<String, SecretError> {
    let url = http_url(path, s)?;
    if !url.starts_with("https://") {
        return Err(field_error(
            path,
            "must be an https URL (Key Vault and Entra ID take tokens over TLS only)",
        ));
    }
    Ok(url)
}

/// A tenant or client id: a GUID, or for tenants a domain name.
fn directory_id(path: &str, s: String) -> Result<String, SecretError> {
    let ok = !s.is_empty()
        && s.len() <= 253
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if ok {
        Ok(s)
    } else {
        Err(field_error(
            path,
            "must be a GUID or a domain name (letters, digits, '-', '.')",
        ))
    }
}

fn parse_auth(value: Value) -> Result<AzureAuth, SecretError> {
    let mut f = Fields::new("config.auth", value)?;
    let method = f.str("method")?;
    let auth = match method.as_str() {
        "MANAGED_IDENTITY" => AzureAuth::ManagedIdentity {
            client_id: f
                .opt_str("clientId")?
                .map(|c| directory_id("config.auth.clientId", c))
                .transpose()?,
        },
        "SERVICE_PRINCIPAL" => AzureAuth::ServicePrincipal {
            tenant_id: directory_id("config.auth.tenantId", f.str("tenantId")?)?,
            client_id: directory_id("config.auth.clientId", f.str("clientId")?)?,
            client_secret: f.credential("clientSecret")?,
        },
        "CERTIFICATE" => AzureAuth::Certificate {
            tenant_id: directory_id("config.auth.tenantId", f.str("tenantId")?)?,
            client_id: directory_id("config.auth.clientId", f.str("clientId")?)?,
            certificate_path: f.str("certificatePath")?,
        },
        _ => {
            return Err(field_error(
                "config.auth.method",
                "must be one of MANAGED_IDENTITY, SERVICE_PRINCIPAL, CERTIFICATE",
            ));
        }
    };
    f.finish(&format!("{method} authentication"))?;
    Ok(auth)
}

pub(super) fn parse_azure(value: Value) -> Result<AzureKeyVaultConfig, SecretError> {
    let mut f = Fields::new("config", value)?;
    let vault_url = https_url("config.vaultUrl", &f.str("vaultUrl")?)?;
    let name_prefix = f.name_prefix(
        MAX_AZURE_NAME_PREFIX,
        |c: char| c.is_ascii_alphanumeric() || c == '-',
        "letters, digits and hyphens (Key Vault's name rule)",
    )?;
    let timeout_seconds = f.timeout_seconds()?;
    let authority_host = f
        .opt_str("authorityHost")?
        .map(|u| https_url("config.authorityHost", &u))
        .transpose()?;
    let auth = parse_auth(f.object("auth")?)?;
    f.finish("an AZURE_KEY_VAULT configuration")?;
    Ok(AzureKeyVaultConfig {
        vault_url,
        name_prefix,
        timeout_seconds,
        authority_host,
        auth,
    })
}

impl AzureKeyVaultConfig {
    fn json(&self, auth: Value) -> Value {
        json!({"vaultUrl": self.vault_url, "namePrefix": self.name_prefix,
            "timeoutSeconds": self.timeout_seconds, "authorityHost": self.authority_host,
            "auth": auth})
    }

    /// The wire shape, credentials included (what is encrypted and stored).
    pub(super) fn stored_json(&self) -> Value {
        let auth = match &self.auth {
            AzureAuth::ServicePrincipal {
                tenant_id,
                client_id,
                client_secret,
            } => json!({"method": "SERVICE_PRINCIPAL", "tenantId": tenant_id,
                "clientId": client_id, "clientSecret": client_secret.expose()}),
            other => self.public_auth(other),
        };
        self.json(auth)
    }

    fn public_auth(&self, auth: &AzureAuth) -> Value {
        match auth {
            AzureAuth::ManagedIdentity { client_id } => {
                json!({"method": "MANAGED_IDENTITY", "clientId": client_id})
            }
            AzureAuth::ServicePrincipal {
                tenant_id,
                client_id,
                ..
            } => json!({"method": "SERVICE_PRINCIPAL", "tenantId": tenant_id,
                "clientId": client_id}),
            AzureAuth::Certificate {
                tenant_id,
                client_id,
                certificate_path,
            } => json!({"method": "CERTIFICATE", "tenantId": tenant_id,
                "clientId": client_id, "certificatePath": certificate_path}),
        }
    }

    /// The wire shape without the client secret (tenant and client ids are identifiers,
    /// shown so an admin can tell configurations apart).
    pub(super) fn public_json(&self) -> Value {
        self.json(self.public_auth(&self.auth))
    }
}
