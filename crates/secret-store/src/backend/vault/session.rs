//! The client side of the Vault backend: building the HTTP client, logging in, keeping the
//! token fresh, and running each call with its time limit, bounded retries and an error
//! that names nothing the vault said.

use std::sync::Arc;

use std::time::{Duration, Instant};
use tokio::sync::RwLock;

use secret_core::SecretError;
use secret_core::vault::{Credential, HashicorpVaultConfig, VaultAuth};
use vaultrs::client::{VaultClient, VaultClientSettingsBuilder};
use vaultrs::error::ClientError;
use zeroize::Zeroizing;

use crate::error::{StoreError, StoreResult};

use super::HashicorpVaultBackend;

/// Attempts per call when the vault cannot be reached.
const ATTEMPTS: u32 = 3;

/// How a call to the vault failed.
#[derive(Debug)]
pub(super) enum Failure {
    /// Not reached, or no answer in time: worth retrying.
    Unreachable,
    /// The vault answered with this error status.
    Status(u16),
    /// The answer could not be read.
    Malformed,
}

fn classify(err: &ClientError) -> Failure {
    match err {
        ClientError::APIError { code, .. } => Failure::Status(*code),
        ClientError::RestClientError { source } => match source {
            rustify::errors::ClientError::ServerResponseError { code, .. } => {
                Failure::Status(*code)
            }
            rustify::errors::ClientError::RequestError { .. }
            | rustify::errors::ClientError::ResponseError { .. } => Failure::Unreachable,
            _ => Failure::Malformed,
        },
        ClientError::ResponseEmptyError | ClientError::ResponseDataEmptyError => {
            Failure::Status(404)
        }
        _ => Failure::Malformed,
    }
}

fn to_error(what: &str, failure: &Failure) -> StoreError {
    match failure {
        Failure::Unreachable => SecretError::VaultUnavailable {
            reason: format!("the vault could not be reached to {what}"),
        },
        Failure::Status(code) => SecretError::VaultConnectionFailed {
            reason: format!("the vault answered {what} with status {code}"),
        },
        Failure::Malformed => SecretError::VaultConnectionFailed {
            reason: format!("the vault's answer to {what} could not be read"),
        },
    }
    .into()
}

/// A call that did not succeed: the vault's failure, or one of ours on the way.
#[derive(Debug)]
pub(super) enum CallFailure {
    Vault { what: String, failure: Failure },
    Store(StoreError),
}

impl CallFailure {
    pub(super) fn status(&self) -> Option<u16> {
        match self {
            CallFailure::Vault {
                failure: Failure::Status(code),
                ..
            } => Some(*code),
            _ => None,
        }
    }
}

impl From<CallFailure> for StoreError {
    fn from(f: CallFailure) -> Self {
        match f {
            CallFailure::Vault { what, failure } => to_error(&what, &failure),
            CallFailure::Store(e) => e,
        }
    }
}

/// The token in use and when it stops working.
pub(super) struct Session {
    client: Arc<VaultClient>,
    /// When the token must be renewed or replaced; `None`: it does not expire.
    renew_at: Option<Instant>,
    renewable: bool,
}

fn new_client(config: &HashicorpVaultConfig, token: &str) -> StoreResult<VaultClient> {
    let mut settings = VaultClientSettingsBuilder::default();
    settings
        .address(config.address.as_str())
        .token(token)
        .timeout(Some(Duration::from_secs(config.timeout_seconds)));
    if let Some(ns) = &config.namespace {
        settings.namespace(Some(ns.clone()));
    }
    let settings = settings
        .build()
        .map_err(|_| SecretError::validation("config.address", "is not a usable vault address"))?;
    VaultClient::new(settings)
        .map_err(|_| SecretError::internal("the vault client could not be built").into())
}

/// When a token of `lease` seconds should be renewed: at two thirds of its life.
fn renew_at(lease: u64) -> Option<Instant> {
    (lease > 0).then(|| Instant::now() + Duration::from_secs(lease.saturating_mul(2) / 3))
}

/// A Kubernetes service-account token: given inline, or read from its file at each login
/// (the kubelet rotates it).
fn service_account_token(
    jwt: Option<&Credential>,
    jwt_path: Option<&str>,
) -> StoreResult<Zeroizing<String>> {
    match (jwt, jwt_path) {
        (Some(j), _) => Ok(Zeroizing::new(j.expose().to_string())),
        (None, Some(path)) => {
            let raw = Zeroizing::new(std::fs::read_to_string(path).map_err(|_| {
                StoreError::from(SecretError::VaultNotConfigured {
                    reason: format!("the service-account token file {path} cannot be read"),
                })
            })?);
            Ok(Zeroizing::new(raw.trim().to_string()))
        }
        (None, None) => Err(SecretError::VaultNotConfigured {
            reason: "no Kubernetes service-account token is configured".into(),
        }
        .into()),
    }
}

/// Runs a call made before any session exists (a login, a token lookup) with the same
/// bounded retries as [`HashicorpVaultBackend::with_retries`] while the vault cannot be
/// reached: a vault that was just unfrozen or restarted answers a moment later.
async fn retried_while_unreachable<T, F, Fut>(call: F) -> Result<T, ClientError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, ClientError>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match call().await {
            Err(e) if matches!(classify(&e), Failure::Unreachable) && attempt < ATTEMPTS => {
                tokio::time::sleep(Duration::from_millis(100 * 4u64.pow(attempt - 1))).await;
            }
            other => return other,
        }
    }
}

impl HashicorpVaultBackend {
    /// Connects with `config`'s credentials: logs in for AppRole and Kubernetes, looks the
    /// token up for a static one. Fails when the vault cannot be reached or refuses them.
    pub async fn connect(config: HashicorpVaultConfig) -> StoreResult<Self> {
        let session = Self::login(&config).await?;
        Ok(HashicorpVaultBackend {
            config,
            session: RwLock::new(session),
        })
    }

    async fn login(config: &HashicorpVaultConfig) -> StoreResult<Session> {
        let (token, renew, renewable) = match &config.auth {
            VaultAuth::Token { token } => (token.expose().to_string(), None, false),
            auth => {
                let client = new_client(config, "")?;
                let jwt = match auth {
                    VaultAuth::Kubernetes { jwt, jwt_path, .. } => Some(zeroize::Zeroizing::new(
                        service_account_token(jwt.as_ref(), jwt_path.as_deref())?,
                    )),
                    _ => None,
                };
                let (client, jwt) = (&client, jwt.as_ref().map(|j| j.as_str()));
                let info = retried_while_unreachable(move || async move {
                    match auth {
                        VaultAuth::AppRole {
                            role_id,
                            secret_id,
                            mount,
                        } => {
                            vaultrs::auth::approle::login(
                                client,
                                mount,
                                role_id.expose(),
                                secret_id.expose(),
                            )
                            .await
                        }
                        VaultAuth::Kubernetes { role, mount, .. } => {
                            vaultrs::auth::kubernetes::login(
                                client,
                                mount,
                                role,
                                jwt.unwrap_or_default(),
                            )
                            .await
                        }
                        VaultAuth::Token { .. } => unreachable!("a static token needs no login"),
                    }
                })
                .await
                .map_err(|e| to_error("log in", &classify(&e)))?;
                (
                    info.client_token,
                    renew_at(info.lease_duration),
                    info.renewable,
                )
            }
        };
        let client = new_client(config, &token)?;
        let is_static = matches!(config.auth, VaultAuth::Token { .. });
        let (renew_at_, renewable) = if is_static {
            // A static token: learn whether it expires and can be renewed.
            let client = &client;
            match retried_while_unreachable(move || async move {
                vaultrs::token::lookup_self(client).await
            })
            .await
            {
                Ok(info) => (renew_at(info.ttl), info.renewable.unwrap_or(false)),
                Err(e) => return Err(to_error("look up its token", &classify(&e))),
            }
        } else {
            (renew, renewable)
        };
        Ok(Session {
            client: Arc::new(client),
            renew_at: renew_at_,
            renewable,
        })
    }

    /// Renews the token when two thirds of its life are gone; logs in again when it cannot
    /// be renewed (AppRole, Kubernetes).
    async fn fresh_token(&self) -> StoreResult<()> {
        let due = {
            let s = self.session.read().await;
            s.renew_at.is_some_and(|at| Instant::now() >= at)
        };
        if !due {
            return Ok(());
        }
        let mut s = self.session.write().await;
        if s.renew_at.is_none_or(|at| Instant::now() < at) {
            return Ok(());
        }
        if s.renewable
            && let Ok(info) = vaultrs::token::renew_self(&*s.client, None).await
        {
            s.renew_at = renew_at(info.lease_duration);
            return Ok(());
        }
        if matches!(self.config.auth, VaultAuth::Token { .. }) {
            // Nothing to log in with: keep using it until the vault refuses it.
            s.renew_at = None;
            return Ok(());
        }
        *s = Self::login(&self.config).await?;
        Ok(())
    }

    /// Runs `call` with bounded retries while the vault is unreachable; a refused token
    /// (403) from a login method is replaced once.
    pub(super) async fn with_retries<T, F, Fut>(
        &self,
        what: &str,
        call: F,
    ) -> Result<T, CallFailure>
    where
        F: Fn(Arc<VaultClient>) -> Fut,
        Fut: std::future::Future<Output = Result<T, ClientError>>,
    {
        self.fresh_token().await.map_err(CallFailure::Store)?;
        let mut relogged = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let client = self.session.read().await.client.clone();
            let result = call(client).await;
            let err = match result {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let failure = classify(&err);
            match failure {
                Failure::Unreachable if attempt < ATTEMPTS => {
                    tokio::time::sleep(Duration::from_millis(100 * 4u64.pow(attempt - 1))).await;
                }
                Failure::Status(403)
                    if !relogged && !matches!(self.config.auth, VaultAuth::Token { .. }) =>
                {
                    relogged = true;
                    let mut s = self.session.write().await;
                    *s = Self::login(&self.config)
                        .await
                        .map_err(CallFailure::Store)?;
                }
                _ => {
                    return Err(CallFailure::Vault {
                        what: what.to_string(),
                        failure,
                    });
                }
            }
        }
    }
}
