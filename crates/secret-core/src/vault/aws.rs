//! The settings of an AWS Secrets Manager configuration and their wire shape (pinned):
//! `{"region","endpointUrl","kmsKeyId","namePrefix","auth":{"method":"DEFAULT" |
//! "ACCESS_KEY" | "ASSUME_ROLE", ...}}`, plus the optional `timeoutSeconds` and
//! `recoveryWindowDays`.

use serde_json::{Value, json};

use super::Credential;
use super::fields::{Fields, field_error, http_url};
use crate::error::SecretError;
use crate::limits::RECOVERY_PERIOD_DAYS;

/// How the service authenticates to AWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwsAuth {
    /// The SDK's default chain: environment, shared profile, web identity, container or
    /// instance role.
    Default,
    /// A static access key (with a session token for temporary credentials).
    AccessKey {
        access_key_id: Credential,
        secret_access_key: Credential,
        session_token: Option<Credential>,
    },
    /// A role assumed (STS AssumeRole) with the default chain's credentials.
    AssumeRole {
        role_arn: String,
        external_id: Option<Credential>,
    },
}

/// The settings of an AWS Secrets Manager configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSecretsManagerConfig {
    /// The region, e.g. `us-east-1`.
    pub region: String,
    /// Another endpoint than the region's (a VPC endpoint, or a test server).
    pub endpoint_url: Option<String>,
    /// The KMS key that encrypts the values (the account's `aws/secretsmanager` key if
    /// none).
    pub kms_key_id: Option<String>,
    /// Put before our secret id to make the AWS secret's name (default empty): secrets of
    /// every scope and organization sharing one account never collide.
    pub name_prefix: String,
    /// The time limit of each call, retries included, in seconds (1 to 60, default 10).
    pub timeout_seconds: u64,
    /// The recovery window of a soft delete, in days (7 to 30, default our 30).
    pub recovery_window_days: u64,
    pub auth: AwsAuth,
}

/// The longest name prefix: AWS names are at most 512 characters and ours add 36.
const MAX_NAME_PREFIX: usize = 256;

fn region(s: &str) -> Result<String, SecretError> {
    let ok = !s.is_empty()
        && s.len() <= 32
        && s.split('-').count() >= 3
        && s.split('-').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        });
    if ok {
        Ok(s.to_string())
    } else {
        Err(field_error(
            "config.region",
            "must be an AWS region such as us-east-1",
        ))
    }
}

fn role_arn(s: String) -> Result<String, SecretError> {
    if s.starts_with("arn:") && s.split(':').count() >= 6 && s.len() <= 2048 {
        Ok(s)
    } else {
        Err(field_error(
            "config.auth.roleArn",
            "must be a role ARN (arn:aws:iam::ACCOUNT:role/NAME)",
        ))
    }
}

fn parse_auth(value: Value) -> Result<AwsAuth, SecretError> {
    let mut f = Fields::new("config.auth", value)?;
    let method = f.str("method")?;
    let auth = match method.as_str() {
        "DEFAULT" => AwsAuth::Default,
        "ACCESS_KEY" => AwsAuth::AccessKey {
            access_key_id: f.credential("accessKeyId")?,
            secret_access_key: f.credential("secretAccessKey")?,
            session_token: f.opt_str("sessionToken")?.map(Credential::new),
        },
        "ASSUME_ROLE" => AwsAuth::AssumeRole {
            role_arn: role_arn(f.str("roleArn")?)?,
            external_id: f.opt_str("externalId")?.map(Credential::new),
        },
        _ => {
            return Err(field_error(
                "config.auth.method",
                "must be one of DEFAULT, ACCESS_KEY, ASSUME_ROLE",
            ));
        }
    };
    f.finish(&format!("{method} authentication"))?;
    Ok(auth)
}

pub(super) fn parse_aws(value: Value) -> Result<AwsSecretsManagerConfig, SecretError> {
    let mut f = Fields::new("config", value)?;
    let region = region(&f.str("region")?)?;
    let endpoint_url = f
        .opt_str("endpointUrl")?
        .map(|u| http_url("config.endpointUrl", &u))
        .transpose()?;
    let kms_key_id = f.opt_str("kmsKeyId")?;
    if kms_key_id.as_ref().is_some_and(|k| k.len() > 2048) {
        return Err(field_error(
            "config.kmsKeyId",
            "must be at most 2048 characters",
        ));
    }
    let name_prefix = f.name_prefix(
        MAX_NAME_PREFIX,
        |c: char| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c),
        "letters, digits and / _ + = . @ -",
    )?;
    let timeout_seconds = f.timeout_seconds()?;
    let recovery_window_days = f
        .opt_u64("recoveryWindowDays")?
        .unwrap_or(RECOVERY_PERIOD_DAYS.unsigned_abs());
    if !(7..=30).contains(&recovery_window_days) {
        return Err(field_error(
            "config.recoveryWindowDays",
            "must be from 7 to 30 (the windows AWS allows)",
        ));
    }
    let auth = parse_auth(f.object("auth")?)?;
    f.finish("an AWS_SECRETS_MANAGER configuration")?;
    Ok(AwsSecretsManagerConfig {
        region,
        endpoint_url,
        kms_key_id,
        name_prefix,
        timeout_seconds,
        recovery_window_days,
        auth,
    })
}

impl AwsSecretsManagerConfig {
    fn json(&self, auth: Value) -> Value {
        json!({"region": self.region, "endpointUrl": self.endpoint_url,
            "kmsKeyId": self.kms_key_id, "namePrefix": self.name_prefix,
            "timeoutSeconds": self.timeout_seconds,
            "recoveryWindowDays": self.recovery_window_days, "auth": auth})
    }

    /// The wire shape, credentials included (what is encrypted and stored).
    pub(super) fn stored_json(&self) -> Value {
        let auth = match &self.auth {
            AwsAuth::Default => json!({"method": "DEFAULT"}),
            AwsAuth::AccessKey {
                access_key_id,
                secret_access_key,
                session_token,
            } => json!({"method": "ACCESS_KEY", "accessKeyId": access_key_id.expose(),
                "secretAccessKey": secret_access_key.expose(),
                "sessionToken": session_token.as_ref().map(Credential::expose)}),
            AwsAuth::AssumeRole {
                role_arn,
                external_id,
            } => json!({"method": "ASSUME_ROLE", "roleArn": role_arn,
                "externalId": external_id.as_ref().map(Credential::expose)}),
        };
        self.json(auth)
    }

    /// The wire shape without any credential (the access key id and the external id
    /// included: neither is shown).
    pub(super) fn public_json(&self) -> Value {
        let auth = match &self.auth {
            AwsAuth::Default => json!({"method": "DEFAULT"}),
            AwsAuth::AccessKey { .. } => json!({"method": "ACCESS_KEY"}),
            AwsAuth::AssumeRole { role_arn, .. } => {
                json!({"method": "ASSUME_ROLE", "roleArn": role_arn})
            }
        };
        self.json(auth)
    }
}
