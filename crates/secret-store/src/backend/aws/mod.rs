//! The AWS Secrets Manager backend, through the official SDK (`aws-sdk-secretsmanager`).
//!
//! Each of our secrets is one AWS secret named `<namePrefix><secret id>`: collision-free
//! across scopes and organizations sharing one account. Its `SecretString` is the typed
//! value's JSON; its tags hold our secret id, the type and our current version number (the
//! human name, description and metadata stay in our database: tags are visible to anyone
//! who may list secrets). Each of our versions is one AWS version, whose id is kept as the
//! version's `vault_version_id`; AWS moves `AWSCURRENT` to each new version and
//! `AWSPREVIOUS` to the one before.
//!
//! AWS has no check-and-set: before writing a new version the backend checks that
//! `AWSCURRENT` is still the version our previous one names, so a write that raced a
//! change made outside the service is refused (409) rather than landing silently. Removing
//! versions (retention, an abandoned write) takes their staging labels away, which marks
//! them deprecated; AWS deletes deprecated versions itself, and only once a secret holds
//! more than 100 versions, so a retention above 100 versions cannot be guaranteed here.
//!
//! Soft delete is `DeleteSecret` with the configuration's recovery window (7 to 30 days;
//! our 30 by default), restore is `RestoreSecret`, permanent delete is `DeleteSecret`
//! with `ForceDeleteWithoutRecovery`. Every call has the configuration's time limit and
//! the SDK's standard retries (throttling included), reusing its idempotency token.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_secretsmanager::types::Tag;
use secret_core::vault::AwsSecretsManagerConfig;
use secret_core::{SecretError, SecretValue, StorageBackendKind};
use zeroize::Zeroizing;

use crate::error::{StoreError, StoreResult};

mod client;

use client::{build_client, call_error, code_of};

use super::{BackendHealth, StorageBackend, StoredValue, ValueTarget};

/// The staging label of a secret's current version.
const CURRENT: &str = "AWSCURRENT";
/// The staging label AWS moves to the version before the current one.
const PREVIOUS: &str = "AWSPREVIOUS";

/// One AWS account and region's Secrets Manager.
pub struct AwsSecretsManagerBackend {
    config: AwsSecretsManagerConfig,
    client: aws_sdk_secretsmanager::Client,
}

impl std::fmt::Debug for AwsSecretsManagerBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsSecretsManagerBackend")
            .field("region", &self.config.region)
            .field("endpoint_url", &self.config.endpoint_url)
            .finish_non_exhaustive()
    }
}

fn changed_outside() -> StoreError {
    SecretError::Conflict {
        message: "the AWS copy of this secret changed outside the service".to_string(),
    }
    .into()
}

/// Staging labels by version id.
type Stages = HashMap<String, Vec<String>>;

impl AwsSecretsManagerBackend {
    /// A client for `config`. Nothing is called yet: credentials from the default chain are
    /// looked up on first use, and [`StorageBackend::health_check`] proves they work.
    pub async fn connect(config: AwsSecretsManagerConfig) -> StoreResult<Self> {
        let client = build_client(&config).await;
        Ok(AwsSecretsManagerBackend { config, client })
    }

    fn name(&self, secret_id: &str) -> String {
        format!("{}{secret_id}", self.config.name_prefix)
    }

    fn fail<E, R>(
        &self,
        what: &str,
    ) -> impl FnOnce(aws_sdk_secretsmanager::error::SdkError<E, R>) -> StoreError + '_
    where
        E: aws_sdk_secretsmanager::error::ProvideErrorMetadata,
    {
        let what = what.to_string();
        move |e| call_error(&self.config.region, &what, &e)
    }

    /// The AWS version a stored reference names.
    fn version_of(stored: &StoredValue) -> StoreResult<(&str, &str)> {
        stored.external("AWS")
    }

    /// The secret's staging labels, or `None` when AWS has no such secret.
    async fn stages(&self, name: &str) -> StoreResult<Option<Stages>> {
        match self.client.describe_secret().secret_id(name).send().await {
            Ok(out) => Ok(Some(
                out.version_ids_to_stages().cloned().unwrap_or_default(),
            )),
            Err(e) if code_of(&e) == Some("ResourceNotFoundException") => Ok(None),
            Err(e) => Err(self.fail("describe a secret")(e)),
        }
    }

    fn holding<'a>(stages: &'a Stages, label: &str) -> Option<&'a str> {
        stages
            .iter()
            .find(|(_, labels)| labels.iter().any(|l| l == label))
            .map(|(id, _)| id.as_str())
    }

    fn holds(stages: &Stages, version_id: &str, label: &str) -> bool {
        stages
            .get(version_id)
            .is_some_and(|labels| labels.iter().any(|l| l == label))
    }

    /// Records our version number in the secret's tags. Best effort: the version rows
    /// are what we read; the tag is for people looking at the AWS console.
    async fn tag_version(&self, name: &str, version: i64) {
        let tag = Tag::builder()
            .key("secretManagerVersion")
            .value(version.to_string())
            .build();
        if let Err(e) = self
            .client
            .tag_resource()
            .secret_id(name)
            .tags(tag)
            .send()
            .await
        {
            let err = self.fail("tag a secret")(e);
            tracing::warn!(error = %err, "the AWS secret's version tag was not updated");
        }
    }

    async fn create(
        &self,
        name: &str,
        target: ValueTarget<'_>,
        value: &SecretValue,
        body: &str,
    ) -> StoreResult<String> {
        let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build();
        let out = self
            .client
            .create_secret()
            .name(name)
            .secret_string(body)
            .set_kms_key_id(self.config.kms_key_id.clone())
            .tags(tag("secretManagerId", target.secret_id))
            .tags(tag("secretType", value.secret_type().as_str()))
            .tags(tag("secretManagerVersion", &target.version.to_string()))
            .send()
            .await;
        match out {
            Ok(out) => out
                .version_id()
                .map(str::to_string)
                .ok_or_else(|| missing_version_id("create a secret")),
            Err(e) if code_of(&e) == Some("ResourceExistsException") => {
                Err(SecretError::Conflict {
                    message: "an AWS secret of this name already exists, made outside the service"
                        .to_string(),
                }
                .into())
            }
            Err(e) => Err(self.fail("create a secret")(e)),
        }
    }

    /// Takes every staging label off `remove`, moving `AWSCURRENT` back to the version
    /// holding `AWSPREVIOUS` when a removed version holds it (an abandoned write).
    async fn unlabel(&self, name: &str, remove: &[&str]) -> StoreResult<()> {
        // Moving AWSCURRENT makes AWS put AWSPREVIOUS on the version it left: look again.
        for _ in 0..3 {
            let Some(stages) = self.stages(name).await? else {
                return Ok(());
            };
            let mut changed = false;
            for id in remove {
                for label in stages.get(*id).into_iter().flatten() {
                    let mut call = self
                        .client
                        .update_secret_version_stage()
                        .secret_id(name)
                        .version_stage(label)
                        .remove_from_version_id(*id);
                    if label == CURRENT {
                        let back = Self::holding(&stages, PREVIOUS)
                            .filter(|p| !remove.contains(p))
                            .ok_or_else(|| {
                                SecretError::internal(
                                    "the current AWS version cannot be removed: none to go back to",
                                )
                            })?;
                        call = call.move_to_version_id(back);
                    }
                    call.send()
                        .await
                        .map_err(self.fail("remove a version's staging label"))?;
                    changed = true;
                }
            }
            if !changed {
                return Ok(());
            }
        }
        Ok(())
    }
}

fn missing_version_id(what: &str) -> StoreError {
    SecretError::VaultConnectionFailed {
        reason: format!("AWS Secrets Manager's answer to {what} named no version"),
    }
    .into()
}

#[async_trait]
impl StorageBackend for AwsSecretsManagerBackend {
    fn kind(&self) -> StorageBackendKind {
        StorageBackendKind::AwsSecretsManager
    }

    fn keeps_values_in_database(&self) -> bool {
        false
    }

    async fn health_check(&self) -> StoreResult<BackendHealth> {
        // Listing proves the endpoint answers and the credentials may use it.
        self.client
            .list_secrets()
            .max_results(1)
            .send()
            .await
            .map_err(self.fail("list secrets (health check)"))?;
        Ok(BackendHealth {
            healthy: true,
            detail: format!("AWS Secrets Manager in {} answered", self.config.region),
        })
    }

    async fn store_value(
        &self,
        target: ValueTarget<'_>,
        value: &SecretValue,
        previous: Option<&StoredValue>,
    ) -> StoreResult<StoredValue> {
        let name = self.name(target.secret_id);
        let body = Zeroizing::new(
            String::from_utf8(value.to_json_bytes()?.to_vec())
                .map_err(|_| SecretError::EncryptionFailed)?,
        );
        let version_id = match previous {
            None => self.create(&name, target, value, &body).await?,
            Some(p) => {
                let (_, previous_id) = Self::version_of(p)?;
                let stages = self.stages(&name).await?.ok_or_else(changed_outside)?;
                if !Self::holds(&stages, previous_id, CURRENT) {
                    return Err(changed_outside());
                }
                let out = self
                    .client
                    .put_secret_value()
                    .secret_id(&name)
                    .secret_string(body.as_str())
                    .send()
                    .await
                    .map_err(self.fail("store a value"))?;
                let id = out
                    .version_id()
                    .map(str::to_string)
                    .ok_or_else(|| missing_version_id("store a value"))?;
                self.tag_version(&name, target.version).await;
                id
            }
        };
        Ok(StoredValue::External {
            vault_ref: name,
            vault_version_id: Some(version_id),
        })
    }

    async fn retrieve_value(
        &self,
        _target: ValueTarget<'_>,
        stored: &StoredValue,
    ) -> StoreResult<SecretValue> {
        let (name, version_id) = Self::version_of(stored)?;
        let out = self
            .client
            .get_secret_value()
            .secret_id(name)
            .version_id(version_id)
            .send()
            .await
            .map_err(self.fail("read a value"))?;
        let text = out
            .secret_string()
            .ok_or_else(|| StoreError::from(SecretError::DecryptionFailed))?;
        // A value that does not parse as a typed value was not written by us.
        SecretValue::from_json_bytes(text.as_bytes())
            .map_err(|_| SecretError::DecryptionFailed.into())
    }

    async fn delete_secret(&self, secret_id: &str, _stored: &[StoredValue]) -> StoreResult<()> {
        // AWS documents that a forced delete of a deleted or missing secret succeeds.
        self.client
            .delete_secret()
            .secret_id(self.name(secret_id))
            .force_delete_without_recovery(true)
            .send()
            .await
            .map(|_| ())
            .or_else(|e| match code_of(&e) {
                Some("ResourceNotFoundException") => Ok(()),
                _ => Err(self.fail("delete a secret")(e)),
            })
    }

    async fn soft_delete(&self, secret_id: &str, _stored: &[StoredValue]) -> StoreResult<()> {
        let name = self.name(secret_id);
        let days = i64::try_from(self.config.recovery_window_days)
            .map_err(|_| SecretError::internal("a recovery window is out of range"))?;
        match self
            .client
            .delete_secret()
            .secret_id(&name)
            .recovery_window_in_days(days)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // Nothing left to hide.
            Err(e) if code_of(&e) == Some("ResourceNotFoundException") => Ok(()),
            // Already scheduled for deletion (a retried soft delete).
            Err(e) if code_of(&e) == Some("InvalidRequestException") => {
                let scheduled = self
                    .client
                    .describe_secret()
                    .secret_id(&name)
                    .send()
                    .await
                    .map_err(self.fail("describe a secret"))?
                    .deleted_date()
                    .is_some();
                if scheduled {
                    Ok(())
                } else {
                    Err(self.fail("soft-delete a secret")(e))
                }
            }
            Err(e) => Err(self.fail("soft-delete a secret")(e)),
        }
    }

    async fn restore(&self, secret_id: &str, _stored: &[StoredValue]) -> StoreResult<()> {
        self.client
            .restore_secret()
            .secret_id(self.name(secret_id))
            .send()
            .await
            .map(|_| ())
            .map_err(self.fail("restore a secret"))
    }

    async fn find_written(
        &self,
        secret_id: &str,
        previous: Option<&StoredValue>,
    ) -> StoreResult<Option<StoredValue>> {
        let name = self.name(secret_id);
        let Some(stages) = self.stages(&name).await? else {
            return Ok(None);
        };
        // Our writes to one secret are serialised, so while our previous version is no
        // longer current, the one version that is current is the write whose answer was
        // lost. (AWS labels one version AWSCURRENT; anything else is not ours to adopt.)
        let after = previous.map(Self::version_of).transpose()?.map(|(_, v)| v);
        if after.is_some_and(|p| Self::holds(&stages, p, CURRENT)) {
            return Ok(None);
        }
        let current: Vec<&String> = stages
            .iter()
            .filter(|(id, labels)| {
                Some(id.as_str()) != after && labels.iter().any(|l| l == CURRENT)
            })
            .map(|(id, _)| id)
            .collect();
        Ok(match current.as_slice() {
            [only] => Some(StoredValue::External {
                vault_ref: name.clone(),
                vault_version_id: Some((*only).clone()),
            }),
            _ => None,
        })
    }

    async fn remove_versions(&self, secret_id: &str, stored: &[StoredValue]) -> StoreResult<()> {
        let ids = stored
            .iter()
            .map(|s| Self::version_of(s).map(|(_, v)| v))
            .collect::<StoreResult<Vec<&str>>>()?;
        if ids.is_empty() {
            return Ok(());
        }
        self.unlabel(&self.name(secret_id), &ids).await
    }
}
