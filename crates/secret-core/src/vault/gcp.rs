//! The settings of a Google Secret Manager configuration and their wire shape (pinned):
//! `{"projectId":"...","endpoint":null,"auth":{"method":"DEFAULT" | "KEY_FILE" |
//! "KEY_JSON", ...}}`, plus the optional `namePrefix` and `timeoutSeconds`.

use serde_json::{Value, json};

use super::Credential;
use super::fields::{Fields, field_error, http_url};
use crate::error::SecretError;

/// How the service authenticates to Google Cloud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GcpAuth {
    /// Application Default Credentials (`GOOGLE_APPLICATION_CREDENTIALS`, the gcloud
    /// user, or the metadata server of the host).
    Default,
    /// A service-account key file, read when the client is built.
    KeyFile { path: String },
    /// A service-account key given inline (its JSON text).
    KeyJson {
        /// The key's `client_email`, shown in responses.
        client_email: String,
        json: Credential,
    },
}

/// The settings of a Google Secret Manager configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcpSecretManagerConfig {
    /// The project holding the secrets (its id or number).
    pub project_id: String,
    /// Another endpoint than `https://secretmanager.googleapis.com` (a regional or private
    /// one, or a test server).
    pub endpoint: Option<String>,
    /// Put before our secret id to make the Google secret's id (default empty): letters,
    /// digits, `_` and `-`, as Secret Manager allows.
    pub name_prefix: String,
    /// The time limit of each call, in seconds (1 to 60, default 10).
    pub timeout_seconds: u64,
    pub auth: GcpAuth,
}

/// The longest name prefix: Secret Manager ids are at most 255 characters, ours add 36.
const MAX_NAME_PREFIX: usize = 200;

fn project_id(s: &str) -> Result<String, SecretError> {
    let ok = (1..=30).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(s.to_string())
    } else {
        Err(field_error(
            "config.projectId",
            "must be a project id (lower-case letters, digits, hyphens) or number",
        ))
    }
}

/// A service-account key: an object of `type` `service_account` with a client email and a
/// private key. Its fields are never named in an error beyond which one is missing.
fn service_account_key(value: Value) -> Result<(String, Credential), SecretError> {
    let Value::Object(map) = &value else {
        return Err(field_error(
            "config.auth.json",
            "must be a service-account key object",
        ));
    };
    if map.get("type").and_then(Value::as_str) != Some("service_account") {
        return Err(field_error(
            "config.auth.json",
            "must be a service-account key (\"type\": \"service_account\")",
        ));
    }
    let email = map
        .get("client_email")
        .and_then(Value::as_str)
        .filter(|e| e.contains('@') && e.len() <= 320)
        .ok_or_else(|| field_error("config.auth.json", "must hold a client_email"))?
        .to_string();
    let has = |k: &str| {
        map.get(k)
            .and_then(Value::as_str)
            .is_some_and(|v| !v.is_empty())
    };
    if !has("private_key") || !has("private_key_id") {
        return Err(field_error(
            "config.auth.json",
            "must hold a private_key and its private_key_id",
        ));
    }
    Ok((email, Credential::new(value.to_string())))
}

fn parse_auth(value: Value) -> Result<GcpAuth, SecretError> {
    let mut f = Fields::new("config.auth", value)?;
    let method = f.str("method")?;
    let auth = match method.as_str() {
        "DEFAULT" => GcpAuth::Default,
        "KEY_FILE" => GcpAuth::KeyFile {
            path: f.str("path")?,
        },
        "KEY_JSON" => {
            let (client_email, json) = service_account_key(f.object("json")?)?;
            GcpAuth::KeyJson { client_email, json }
        }
        _ => {
            return Err(field_error(
                "config.auth.method",
                "must be one of DEFAULT, KEY_FILE, KEY_JSON",
            ));
        }
    };
    f.finish(&format!("{method} authentication"))?;
    Ok(auth)
}

pub(super) fn parse_gcp(value: Value) -> Result<GcpSecretManagerConfig, SecretError> {
    let mut f = Fields::new("config", value)?;
    let project_id = project_id(&f.str("projectId")?)?;
    let endpoint = f
        .opt_str("endpoint")?
        .map(|u| http_url("config.endpoint", &u))
        .transpose()?;
    let name_prefix = f.name_prefix(
        MAX_NAME_PREFIX,
        |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-',
        "letters, digits, '_' and '-' (Secret Manager's id rule)",
    )?;
    let timeout_seconds = f.timeout_seconds()?;
    let auth = parse_auth(f.object("auth")?)?;
    f.finish("a GCP_SECRET_MANAGER configuration")?;
    Ok(GcpSecretManagerConfig {
        project_id,
        endpoint,
        name_prefix,
        timeout_seconds,
        auth,
    })
}

impl GcpSecretManagerConfig {
    fn json(&self, auth: Value) -> Value {
        json!({"projectId": self.project_id, "endpoint": self.endpoint,
            "namePrefix": self.name_prefix, "timeoutSeconds": self.timeout_seconds,
            "auth": auth})
    }

    /// The wire shape, credentials included (what is encrypted and stored).
    pub(super) fn stored_json(&self) -> Value {
        let auth = match &self.auth {
            GcpAuth::KeyJson { json, .. } => {
                let key: Value = serde_json::from_str(json.expose()).unwrap_or(Value::Null);
                json!({"method": "KEY_JSON", "json": key})
            }
            other => Self::public_auth(other),
        };
        self.json(auth)
    }

    fn public_auth(auth: &GcpAuth) -> Value {
        match auth {
            GcpAuth::Default => json!({"method": "DEFAULT"}),
            GcpAuth::KeyFile { path } => json!({"method": "KEY_FILE", "path": path}),
            GcpAuth::KeyJson { client_email, .. } => {
                json!({"method": "KEY_JSON", "clientEmail": client_email})
            }
        }
    }

    /// The wire shape without the key (the key's client email is shown).
    pub(super) fn public_json(&self) -> Value {
        self.json(Self::public_auth(&self.auth))
    }
}
