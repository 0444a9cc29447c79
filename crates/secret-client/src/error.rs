//! [`ClientError`]: what a call can fail with, typed by the server's error code (§12), plus
//! what can go wrong on the way (the server unreachable, a timeout, the token provider).
//! Messages are the server's, which never hold a secret value, or the client's own.

use std::time::Duration;

use secret_core::wire::{ErrorDetail, ErrorResponse};
use secret_core::{ErrorCode, ResolveFailure, SecretError};

/// A failed call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// 404: the secret does not exist, or the caller may not see it.
    #[error("secret not found: {message}")]
    SecretNotFound { message: String },
    /// 410: the secret has expired.
    #[error("secret expired: {message}")]
    SecretExpired { message: String },
    /// 403: the caller may see the secret but not do this.
    #[error("access denied: {message}")]
    AccessDenied { message: String },
    /// 401: no token, or one the server does not accept (expired, wrong key).
    #[error("unauthenticated: {message}")]
    Unauthenticated { message: String },
    /// 401: the operation needs a fresh sign-in.
    #[error("re-authentication required: {message}")]
    ReauthenticationRequired { message: String },
    /// 400: the request is invalid.
    #[error("invalid request ({code}): {message}")]
    Invalid { code: String, message: String },
    /// A resolution failed: `details` names each key that did not resolve, with its code
    /// (`code` is the first one's).
    #[error("{code}: {message}")]
    Unresolved {
        code: String,
        message: String,
        details: Vec<ErrorDetail>,
    },
    /// 409: a conflict (a name in use, a state that does not allow it).
    #[error("conflict: {message}")]
    Conflict { message: String },
    /// 409: the secret is not at the version the caller expected.
    #[error("version conflict: {message}")]
    VersionConflict { message: String },
    /// 429 after every retry.
    #[error("rate limited: retry after {retry_after:?}")]
    RateLimited { retry_after: Option<Duration> },
    /// 502/503/504 after every retry: the server or its vault is unavailable.
    #[error("unavailable ({status}): {message}")]
    Unavailable { status: u16, message: String },
    /// Any other error answer.
    #[error("{status} {code}: {message}")]
    Api {
        status: u16,
        code: String,
        message: String,
        request_id: Option<String>,
    },
    /// The server could not be reached, or the connection broke.
    #[error("could not reach the secret service: {message}")]
    Transport { message: String },
    /// No answer within the configured timeout.
    #[error("the secret service did not answer within {0:?}")]
    Timeout(Duration),
    /// An answer this client cannot read.
    #[error("unexpected answer from the secret service: {message}")]
    Decode { message: String },
    /// The token provider failed.
    #[error("no token: {message}")]
    Token { message: String },
    /// The client is configured wrongly (a bad URL, a bad header value).
    #[error("client configuration: {message}")]
    Config { message: String },
}

impl ClientError {
    /// Whether the call could succeed if tried again later (the server or the network was
    /// unavailable), as opposed to an answer about the secret or the request.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            ClientError::Unavailable { .. }
                | ClientError::Transport { .. }
                | ClientError::Timeout(_)
                | ClientError::RateLimited { .. }
        )
    }

    /// The error answer of `status` with body `body` (the envelope, or anything else).
    pub(crate) fn from_answer(status: u16, body: &[u8], retry_after: Option<Duration>) -> Self {
        let Ok(envelope) = serde_json::from_slice::<ErrorResponse>(body) else {
            return match status {
                429 => ClientError::RateLimited { retry_after },
                502..=504 => ClientError::Unavailable {
                    status,
                    message: "no error envelope".to_string(),
                },
                _ => ClientError::Api {
                    status,
                    code: String::new(),
                    message: format!("HTTP {status} without an error envelope"),
                    request_id: None,
                },
            };
        };
        let e = envelope.error;
        let message = e.message;
        if let Some(details) = e.details.filter(|d| !d.is_empty()) {
            return ClientError::Unresolved {
                code: e.code,
                message,
                details,
            };
        }
        match e.code.as_str() {
            "SECRET_NOT_FOUND" => ClientError::SecretNotFound { message },
            "SECRET_EXPIRED" => ClientError::SecretExpired { message },
            "ACCESS_DENIED" => ClientError::AccessDenied { message },
            "UNAUTHENTICATED" => ClientError::Unauthenticated { message },
            "REAUTHENTICATION_REQUIRED" => ClientError::ReauthenticationRequired { message },
            "VALIDATION_ERROR" | "INVALID_SECRET_TYPE" | "PAYLOAD_TOO_LARGE" => {
                ClientError::Invalid {
                    code: e.code,
                    message,
                }
            }
            "CONFLICT" => ClientError::Conflict { message },
            "VERSION_CONFLICT" => ClientError::VersionConflict { message },
            "RATE_LIMITED" => ClientError::RateLimited { retry_after },
            _ if (502..=504).contains(&status) => ClientError::Unavailable { status, message },
            _ => ClientError::Api {
                status,
                code: e.code,
                message,
                request_id: Some(e.request_id),
            },
        }
    }

    pub(crate) fn transport(err: &reqwest::Error, timeout: Duration) -> Self {
        if err.is_timeout() {
            return ClientError::Timeout(timeout);
        }
        // reqwest's messages name the URL, never a header or a body.
        ClientError::Transport {
            message: err.to_string(),
        }
    }
}

fn detail_code(code: &str) -> ErrorCode {
    match code {
        "SECRET_NOT_FOUND" => ErrorCode::SecretNotFound,
        "SECRET_EXPIRED" => ErrorCode::SecretExpired,
        "ACCESS_DENIED" => ErrorCode::AccessDenied,
        _ => ErrorCode::ValidationError,
    }
}

/// The same failure as the embedded service reports it, for [`secret_core::SecretReader`]:
/// a module sees one error type whether it embeds the service or calls it.
impl From<ClientError> for SecretError {
    fn from(err: ClientError) -> Self {
        match err {
            ClientError::SecretNotFound { message } => SecretError::SecretNotFound { id: message },
            ClientError::SecretExpired { message } => SecretError::SecretExpired { id: message },
            ClientError::AccessDenied { message } => SecretError::AccessDenied { reason: message },
            ClientError::Unauthenticated { message } => {
                SecretError::Unauthenticated { reason: message }
            }
            ClientError::ReauthenticationRequired { .. } => SecretError::ReauthenticationRequired,
            ClientError::Unresolved { code, details, .. } => SecretError::Unresolved {
                code: detail_code(&code),
                failures: details
                    .into_iter()
                    .map(|d| ResolveFailure {
                        code: detail_code(&d.code),
                        key: d.key,
                        message: d.message,
                    })
                    .collect(),
            },
            ClientError::Invalid { message, .. } => SecretError::validation("request", message),
            ClientError::Conflict { message } | ClientError::VersionConflict { message } => {
                SecretError::Conflict { message }
            }
            ClientError::RateLimited { retry_after } => SecretError::RateLimited {
                retry_after_secs: retry_after.map_or(1, |d| d.as_secs().max(1)),
            },
            other @ (ClientError::Unavailable { .. }
            | ClientError::Transport { .. }
            | ClientError::Timeout(_)) => SecretError::VaultUnavailable {
                reason: other.to_string(),
            },
            other => SecretError::internal(other.to_string()),
        }
    }
}
