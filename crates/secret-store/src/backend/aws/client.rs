//! The client side of the AWS backend: building the SDK client from a configuration (region,
//! endpoint, credentials, time limits, retries), and turning the SDK's errors into ours
//! without anything AWS said beyond its error code.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_secretsmanager::config::Region;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use secret_core::SecretError;
use secret_core::vault::{AwsAuth, AwsSecretsManagerConfig, Credential};

use crate::error::StoreError;

/// Attempts per call (the first and two retries), with the SDK's standard backoff. The SDK
/// retries throttling, transient server errors and connection failures, reusing the
/// request's idempotency token, so a retried write never lands twice.
const ATTEMPTS: u32 = 3;

/// The name the SDK gives credentials taken from a configuration.
const PROVIDER_NAME: &str = "secret-manager-vault-configuration";

/// Builds the Secrets Manager client of `config`.
pub(super) async fn build_client(
    config: &AwsSecretsManagerConfig,
) -> aws_sdk_secretsmanager::Client {
    let limit = Duration::from_secs(config.timeout_seconds);
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(limit.min(Duration::from_secs(5)))
        .operation_attempt_timeout(limit)
        .operation_timeout(limit * ATTEMPTS)
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(config.region.clone()))
        .timeout_config(timeouts)
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(ATTEMPTS)
                .with_initial_backoff(Duration::from_millis(100))
                .with_max_backoff(Duration::from_secs(2)),
        );
    if let Some(url) = &config.endpoint_url {
        loader = loader.endpoint_url(url.clone());
    }
    if let AwsAuth::AccessKey {
        access_key_id,
        secret_access_key,
        session_token,
    } = &config.auth
    {
        loader = loader.credentials_provider(Credentials::new(
            access_key_id.expose(),
            secret_access_key.expose(),
            session_token.as_ref().map(|t| t.expose().to_string()),
            None,
            PROVIDER_NAME,
        ));
    }
    let mut sdk = loader.load().await;
    if let AwsAuth::AssumeRole {
        role_arn,
        external_id,
    } = &config.auth
    {
        let mut role = AssumeRoleProvider::builder(role_arn.clone())
            .session_name("secret-manager")
            .configure(&sdk);
        if let Some(id) = external_id.as_ref().map(Credential::expose) {
            role = role.external_id(id);
        }
        let provider = role.build().await;
        sdk = sdk
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .build();
    }
    aws_sdk_secretsmanager::Client::new(&sdk)
}

/// The error code of a service error (`ResourceNotFoundException`, ...), if AWS answered.
pub(super) fn code_of<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    match err {
        SdkError::ServiceError(e) => e.err().code(),
        _ => None,
    }
}

/// Our error for a call that failed: unreachable, timed out or throttled past the retries
/// is VAULT_CONNECTION_FAILED (503); an error answer is VAULT_CONNECTION_FAILED (502)
/// naming AWS's error code only; never the credentials, the value or AWS's message.
pub(super) fn call_error<E: ProvideErrorMetadata, R>(
    region: &str,
    what: &str,
    err: &SdkError<E, R>,
) -> StoreError {
    let vault = format!("AWS Secrets Manager ({region})");
    match err {
        SdkError::TimeoutError(_) => SecretError::VaultUnavailable {
            reason: format!("{vault} did not answer in time to {what}"),
        },
        SdkError::DispatchFailure(_) => SecretError::VaultUnavailable {
            reason: format!("{vault} could not be reached to {what}"),
        },
        SdkError::ConstructionFailure(_) => SecretError::VaultConnectionFailed {
            reason: format!(
                "the request to {vault} to {what} could not be made (are credentials available?)"
            ),
        },
        SdkError::ResponseError(_) => SecretError::VaultConnectionFailed {
            reason: format!("{vault}'s answer to {what} could not be read"),
        },
        SdkError::ServiceError(_) => match code_of(err) {
            Some("ThrottlingException") => SecretError::VaultUnavailable {
                reason: format!("{vault} kept throttling the request to {what}"),
            },
            Some(code) if is_safe_code(code) => SecretError::VaultConnectionFailed {
                reason: format!("{vault} answered the request to {what} with {code}"),
            },
            _ => SecretError::VaultConnectionFailed {
                reason: format!("{vault} refused the request to {what}"),
            },
        },
        _ => SecretError::VaultConnectionFailed {
            reason: format!("the request to {vault} to {what} failed"),
        },
    }
    .into()
}

/// An error code is shown only when it looks like one (`SomeException`): never free text.
fn is_safe_code(code: &str) -> bool {
    code.len() <= 64 && code.chars().all(|c| c.is_ascii_alphanumeric())
}
