//! The error envelope `{"error":{"code","message","requestId"}}` and the one mapping from
//! [`SecretError`] to an HTTP status (ARCHITECTURE §5). A 500 is opaque: its cause goes to
//! the log with the request id, never to the caller.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
pub(crate) use secret_core::wire::ErrorBody;
use secret_core::wire::ErrorDetail;
pub(crate) use secret_core::wire::ErrorResponse;
use secret_core::{ErrorCode, SecretError};

/// A code local to the HTTP layer for paths that match no route.
pub(crate) const ROUTE_NOT_FOUND: &str = "NOT_FOUND";
/// A code local to the HTTP layer for methods a route does not support.
pub(crate) const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";

/// The message of every 500: the cause is logged, never sent.
const OPAQUE_MESSAGE: &str = "internal error";

/// An error answer: status, code, a message safe to show, and the request id.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    request_id: String,
    retry_after_secs: Option<u64>,
    /// The failed items of a request that fails for several.
    details: Option<Vec<ErrorDetail>>,
}

/// The result of a handler.
pub(crate) type ApiResult<T = HttpResponse> = Result<T, ApiError>;

impl ApiError {
    /// The status, code and message it answers with (for the web UI's error page).
    pub(crate) fn parts(&self) -> (StatusCode, &'static str, &str) {
        (self.status, self.code, &self.message)
    }

    /// The answer to a [`SecretError`]: the one place that maps errors to statuses. Errors
    /// answered with 500 are logged at error level with their cause and the request id.
    pub(crate) fn from_secret(err: SecretError, request_id: &str) -> Self {
        let code = err.code();
        let status = match code {
            ErrorCode::ValidationError | ErrorCode::InvalidSecretType => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthenticated | ErrorCode::ReauthenticationRequired => {
                StatusCode::UNAUTHORIZED
            }
            ErrorCode::AccessDenied => StatusCode::FORBIDDEN,
            ErrorCode::SecretNotFound => StatusCode::NOT_FOUND,
            ErrorCode::Conflict | ErrorCode::VersionConflict => StatusCode::CONFLICT,
            ErrorCode::SecretExpired => StatusCode::GONE,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::VaultConnectionFailed
                if matches!(err, SecretError::VaultUnavailable { .. }) =>
            {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ErrorCode::VaultConnectionFailed => StatusCode::BAD_GATEWAY,
            ErrorCode::VaultNotConfigured => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            let cause = err
                .internal_cause()
                .map_or_else(|| err.to_string(), str::to_owned);
            tracing::error!(request_id, code = %code, cause = %cause, "request failed");
            // The specification's own failure codes (DECRYPTION_FAILED, ...) are sent with a
            // fixed message naming the failure; anything else is INTERNAL. No cause either way.
            let (code, message) = match &err {
                SecretError::DecryptionFailed | SecretError::EncryptionFailed => {
                    (code.as_str(), err.to_string())
                }
                // ROTATION_FAILED → "rotation failed": the code, read aloud.
                _ if code != ErrorCode::Internal => (
                    code.as_str(),
                    code.as_str().to_lowercase().replace('_', " "),
                ),
                _ => (ErrorCode::Internal.as_str(), OPAQUE_MESSAGE.to_owned()),
            };
            return ApiError {
                status,
                code,
                message,
                request_id: request_id.to_owned(),
                retry_after_secs: None,
                details: None,
            };
        }
        let retry_after_secs = match &err {
            SecretError::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        };
        let details = match &err {
            SecretError::Unresolved { failures, .. } => Some(
                failures
                    .iter()
                    .map(|f| ErrorDetail {
                        key: f.key.clone(),
                        code: f.code.as_str().to_owned(),
                        message: f.message.clone(),
                    })
                    .collect(),
            ),
            _ => None,
        };
        ApiError {
            status,
            code: code.as_str(),
            message: err.to_string(),
            request_id: request_id.to_owned(),
            retry_after_secs,
            details,
        }
    }

    /// 404 for a path that matches no route.
    pub(crate) fn route_not_found(request_id: &str) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: ROUTE_NOT_FOUND,
            message: "no such route".to_owned(),
            request_id: request_id.to_owned(),
            retry_after_secs: None,
            details: None,
        }
    }

    /// 405 for a method the route does not support.
    pub(crate) fn method_not_allowed(request_id: &str) -> Self {
        ApiError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            code: METHOD_NOT_ALLOWED,
            message: "method not allowed on this route".to_owned(),
            request_id: request_id.to_owned(),
            retry_after_secs: None,
            details: None,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        if let Some(secs) = self.retry_after_secs {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        res.json(ErrorResponse {
            error: ErrorBody {
                code: self.code.to_owned(),
                message: self.message.clone(),
                request_id: self.request_id.clone(),
                details: self.details.clone(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_of(err: SecretError) -> (u16, &'static str) {
        let e = ApiError::from_secret(err, "r1");
        (e.status.as_u16(), e.code)
    }

    #[test]
    fn every_code_maps_to_its_status() {
        let cases = [
            (
                SecretError::validation("name", "bad"),
                400,
                "VALIDATION_ERROR",
            ),
            (
                SecretError::InvalidSecretType {
                    expected: secret_core::SecretType::ApiKey,
                    actual: secret_core::SecretType::Generic,
                },
                400,
                "INVALID_SECRET_TYPE",
            ),
            (
                SecretError::Unauthenticated { reason: "x".into() },
                401,
                "UNAUTHENTICATED",
            ),
            (
                SecretError::ReauthenticationRequired,
                401,
                "REAUTHENTICATION_REQUIRED",
            ),
            (
                SecretError::AccessDenied { reason: "x".into() },
                403,
                "ACCESS_DENIED",
            ),
            (
                SecretError::SecretNotFound { id: "x".into() },
                404,
                "SECRET_NOT_FOUND",
            ),
            (
                SecretError::Conflict {
                    message: "x".into(),
                },
                409,
                "CONFLICT",
            ),
            (
                SecretError::VersionConflict {
                    expected: 1,
                    current: 2,
                },
                409,
                "VERSION_CONFLICT",
            ),
            (
                SecretError::SecretExpired { id: "x".into() },
                410,
                "SECRET_EXPIRED",
            ),
            (
                SecretError::PayloadTooLarge {
                    what: "body".into(),
                    limit: 1,
                },
                413,
                "PAYLOAD_TOO_LARGE",
            ),
            (
                SecretError::RateLimited {
                    retry_after_secs: 3,
                },
                429,
                "RATE_LIMITED",
            ),
            (
                SecretError::VaultConnectionFailed { reason: "x".into() },
                502,
                "VAULT_CONNECTION_FAILED",
            ),
            (
                SecretError::VaultUnavailable { reason: "x".into() },
                503,
                "VAULT_CONNECTION_FAILED",
            ),
            (
                SecretError::VaultNotConfigured { reason: "x".into() },
                400,
                "VAULT_NOT_CONFIGURED",
            ),
            (SecretError::DecryptionFailed, 500, "DECRYPTION_FAILED"),
            (
                SecretError::RotationFailed {
                    reason: "handler said x".into(),
                },
                500,
                "ROTATION_FAILED",
            ),
            (SecretError::internal("db down"), 500, "INTERNAL"),
        ];
        for (err, status, code) in cases {
            assert_eq!(status_of(err), (status, code));
        }
    }

    #[test]
    fn internal_errors_are_opaque() {
        let e = ApiError::from_secret(SecretError::internal("password=hunter2"), "r1");
        assert_eq!(e.message, "internal error");
        assert!(!e.to_string().contains("hunter2"));
        let e = ApiError::from_secret(
            SecretError::RotationFailed {
                reason: "token=hunter2".into(),
            },
            "r2",
        );
        assert_eq!(e.message, "rotation failed");
    }
}
