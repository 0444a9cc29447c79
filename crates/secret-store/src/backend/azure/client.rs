//! The client side of the Azure backend: the HTTP transport (explicit time limits), the Entra
//! ID credential of a configuration, the Key Vault client with bounded retries, and turning
//! the SDK's errors into ours without anything Azure said beyond its status and error code.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::error::ErrorKind;
use azure_core::http::{ClientOptions, ExponentialRetryOptions, RetryOptions, Transport};
use azure_identity::{
    ClientSecretCredential, ClientSecretCredentialOptions, ManagedIdentityCredential,
    ManagedIdentityCredentialOptions, UserAssignedId,
};
use azure_security_keyvault_secrets::{SecretClient, SecretClientOptions};
use secret_core::SecretError;
use secret_core::vault::{AzureAuth, AzureKeyVaultConfig};

use crate::error::{StoreError, StoreResult};

/// Retries after the first attempt (throttling, 5xx, connection failures), with
/// exponential backoff from 200 ms.
const RETRIES: u32 = 2;

/// CA certificates (PEM) the transport trusts besides the system's: added only by the test
/// support, for the in-tree Key Vault stand-ins' test CAs.
static EXTRA_ROOTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn extra_roots() -> Vec<String> {
    EXTRA_ROOTS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
}

/// Trusts `ca_pem` in every Azure client built afterwards, and skips the SDK's check that
/// the challenge's resource matches the vault's domain (the stand-in listens on
/// 127.0.0.1). Test support only.
#[cfg(feature = "testing")]
pub fn trust_test_ca(ca_pem: &str) {
    EXTRA_ROOTS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(ca_pem.to_string());
}

fn not_configured(reason: impl Into<String>) -> StoreError {
    SecretError::VaultNotConfigured {
        reason: reason.into(),
    }
    .into()
}

fn transport(config: &AzureKeyVaultConfig) -> StoreResult<Transport> {
    let limit = Duration::from_secs(config.timeout_seconds);
    let mut builder = reqwest::Client::builder()
        .timeout(limit)
        .connect_timeout(limit.min(Duration::from_secs(5)));
    for pem in extra_roots() {
        let ca = reqwest::Certificate::from_pem(pem.as_bytes())
            .map_err(|_| SecretError::internal("the test CA does not parse"))?;
        builder = builder.add_root_certificate(ca);
    }
    let client = builder
        .build()
        .map_err(|_| SecretError::internal("the Azure HTTP client could not be built"))?;
    Ok(Transport::new(Arc::new(client)))
}

fn client_options(config: &AzureKeyVaultConfig) -> StoreResult<ClientOptions> {
    let retry = ExponentialRetryOptions {
        max_retries: RETRIES,
        max_total_elapsed: azure_core::time::Duration::seconds(
            i64::try_from(config.timeout_seconds * u64::from(RETRIES + 1)).unwrap_or(180),
        ),
        ..ExponentialRetryOptions::default()
    };
    let mut options = ClientOptions {
        transport: Some(transport(config)?),
        retry: RetryOptions::exponential(retry),
        ..ClientOptions::default()
    };
    if let Some(host) = &config.authority_host {
        let mut custom = CustomConfiguration::default();
        custom.authority_host = host.clone();
        options.cloud = Some(Arc::new(CloudConfiguration::from(custom)));
    }
    Ok(options)
}

fn credential(config: &AzureKeyVaultConfig) -> StoreResult<Arc<dyn TokenCredential>> {
    let refused = |_| not_configured("the Azure credentials of this configuration are unusable");
    match &config.auth {
        AzureAuth::ManagedIdentity { client_id } => {
            let options = ManagedIdentityCredentialOptions {
                user_assigned_id: client_id.clone().map(UserAssignedId::ClientId),
                client_options: client_options(config)?,
            };
            let c: Arc<dyn TokenCredential> =
                ManagedIdentityCredential::new(Some(options)).map_err(refused)?;
            Ok(c)
        }
        AzureAuth::ServicePrincipal {
            tenant_id,
            client_id,
            client_secret,
        } => {
            let options = ClientSecretCredentialOptions {
                client_options: client_options(config)?,
            };
            let c: Arc<dyn TokenCredential> = ClientSecretCredential::new(
                tenant_id,
                client_id.clone(),
                Secret::new(client_secret.expose().to_string()),
                Some(options),
            )
            .map_err(refused)?;
            Ok(c)
        }
        // azure_identity's certificate credential needs OpenSSL, which this project does
        // not link (one TLS stack): the assertion is made in `cert`.
        AzureAuth::Certificate {
            tenant_id,
            client_id,
            certificate_path,
        } => super::cert::certificate_credential(
            config.authority_host.as_deref(),
            tenant_id,
            client_id,
            certificate_path,
            client_options(config)?,
        ),
    }
}

/// The Key Vault client of `config`.
pub(super) fn build_client(config: &AzureKeyVaultConfig) -> StoreResult<SecretClient> {
    let options = SecretClientOptions {
        client_options: client_options(config)?,
        verify_challenge_resource: Some(extra_roots().is_empty()),
        ..SecretClientOptions::default()
    };
    SecretClient::new(&config.vault_url, credential(config)?, Some(options))
        .map_err(|_| not_configured("the Key Vault URL is not usable"))
}

/// The HTTP status and the service's error code of a failed call, when it answered.
pub(super) fn status_of(err: &azure_core::Error) -> Option<(u16, Option<&str>)> {
    match err.kind() {
        ErrorKind::HttpResponse {
            status, error_code, ..
        } => Some((u16::from(*status), error_code.as_deref())),
        _ => None,
    }
}

/// Our error for a failed call: unreachable, timed out or throttled past the retries is
/// VAULT_CONNECTION_FAILED (503); an error answer is VAULT_CONNECTION_FAILED (502) naming
/// the status and Key Vault's error code only; never the credentials or Azure's message.
pub(super) fn call_error(vault: &str, what: &str, err: &azure_core::Error) -> StoreError {
    let vault = format!("Azure Key Vault ({vault})");
    match status_of(err) {
        Some((429, _)) => SecretError::VaultUnavailable {
            reason: format!("{vault} kept throttling the request to {what}"),
        },
        Some((status, code)) => {
            let code = code
                .filter(|c| c.len() <= 64 && c.chars().all(|c| c.is_ascii_alphanumeric()))
                .map(|c| format!(" ({c})"))
                .unwrap_or_default();
            SecretError::VaultConnectionFailed {
                reason: format!("{vault} answered the request to {what} with {status}{code}"),
            }
        }
        None => match err.kind() {
            ErrorKind::Io | ErrorKind::Connection => SecretError::VaultUnavailable {
                reason: format!("{vault} could not be reached to {what}"),
            },
            ErrorKind::Credential => SecretError::VaultConnectionFailed {
                reason: format!("{vault}: Entra ID refused the credentials to {what}"),
            },
            _ => SecretError::VaultConnectionFailed {
                reason: format!("{vault}'s answer to {what} could not be read"),
            },
        },
    }
    .into()
}
