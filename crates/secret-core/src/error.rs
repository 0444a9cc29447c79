//! The error every public operation returns, with the specification's error codes (§15.3)
//! plus the codes the REST conventions add.
//!
//! Messages are written to be shown to a caller: they name fields, ids and versions, never a
//! secret value. Causes that must not reach a caller (database errors, I/O) travel in
//! [`SecretError::Internal`], whose `Display` is opaque; log them with [`SecretError::internal_cause`].

use std::fmt;

use serde::Serialize;

use crate::enums::SecretType;

/// A machine-readable error code, spelled on the wire in SCREAMING_SNAKE_CASE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum ErrorCode {
    SecretNotFound,
    SecretExpired,
    AccessDenied,
    InvalidSecretType,
    EncryptionFailed,
    DecryptionFailed,
    VaultConnectionFailed,
    VaultNotConfigured,
    RotationFailed,
    ImportFailed,
    ExportFailed,
    MigrationFailed,
    ValidationError,
    Unauthenticated,
    Conflict,
    VersionConflict,
    RateLimited,
    PayloadTooLarge,
    ReauthenticationRequired,
    Internal,
}

impl ErrorCode {
    /// The wire spelling of the code.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::SecretNotFound => "SECRET_NOT_FOUND",
            ErrorCode::SecretExpired => "SECRET_EXPIRED",
            ErrorCode::AccessDenied => "ACCESS_DENIED",
            ErrorCode::InvalidSecretType => "INVALID_SECRET_TYPE",
            ErrorCode::EncryptionFailed => "ENCRYPTION_FAILED",
            ErrorCode::DecryptionFailed => "DECRYPTION_FAILED",
            ErrorCode::VaultConnectionFailed => "VAULT_CONNECTION_FAILED",
            ErrorCode::VaultNotConfigured => "VAULT_NOT_CONFIGURED",
            ErrorCode::RotationFailed => "ROTATION_FAILED",
            ErrorCode::ImportFailed => "IMPORT_FAILED",
            ErrorCode::ExportFailed => "EXPORT_FAILED",
            ErrorCode::MigrationFailed => "MIGRATION_FAILED",
            ErrorCode::ValidationError => "VALIDATION_ERROR",
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::VersionConflict => "VERSION_CONFLICT",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ErrorCode::ReauthenticationRequired => "REAUTHENTICATION_REQUIRED",
            ErrorCode::Internal => "INTERNAL",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of every public operation of the secret manager.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// No secret with that id exists, or the caller may not know that it does.
    #[error("secret {id} not found")]
    SecretNotFound { id: String },
    /// The secret exists but has no such version.
    #[error("version {version} of secret {id} not found")]
    VersionNotFound { id: String, version: i64 },
    /// The secret has no access grant with that id.
    #[error("access grant {id} not found")]
    GrantNotFound { id: String },
    /// No audit record with that id exists, or the caller may not read it.
    #[error("audit record {id} not found")]
    AuditRecordNotFound { id: String },
    /// No migration with that id exists, or the caller may not see it.
    #[error("migration {id} not found")]
    MigrationNotFound { id: String },
    /// The secret has expired; its value is not served until it is renewed.
    #[error("secret {id} has expired")]
    SecretExpired { id: String },
    /// The caller may see the secret but not perform this action on it.
    #[error("access denied: {reason}")]
    AccessDenied { reason: String },
    /// A value's type does not match the secret's type.
    #[error("value of type {actual} does not match the secret's type {expected}")]
    InvalidSecretType {
        expected: SecretType,
        actual: SecretType,
    },
    /// Input failed validation; `field` names the offending field.
    #[error("invalid {field}: {reason}")]
    Validation { field: String, reason: String },
    /// A value could not be encrypted.
    #[error("encryption failed")]
    EncryptionFailed,
    /// A ciphertext failed authentication or its key is unavailable.
    #[error("decryption failed")]
    DecryptionFailed,
    /// No vault configuration with this id is visible to the caller.
    #[error("vault configuration not found: {id}")]
    VaultNotFound { id: String },
    /// An external vault answered with an error (HTTP 502).
    #[error("vault connection failed: {reason}")]
    VaultConnectionFailed { reason: String },
    /// An external vault could not be reached or did not answer in time (HTTP 503).
    #[error("vault unavailable: {reason}")]
    VaultUnavailable { reason: String },
    /// No vault is configured for the requested backend.
    #[error("vault not configured: {reason}")]
    VaultNotConfigured { reason: String },
    /// A rotation did not complete; the current version is unchanged.
    #[error("rotation failed: {reason}")]
    RotationFailed { reason: String },
    /// An import did not complete.
    #[error("import failed: {reason}")]
    ImportFailed { reason: String },
    /// An export did not complete.
    #[error("export failed: {reason}")]
    ExportFailed { reason: String },
    /// A migration between backends did not complete.
    #[error("migration failed: {reason}")]
    MigrationFailed { reason: String },
    /// The caller is not authenticated.
    #[error("unauthenticated: {reason}")]
    Unauthenticated { reason: String },
    /// The operation needs a recent authentication.
    #[error("re-authentication required: authenticate again to perform this operation")]
    ReauthenticationRequired,
    /// The request conflicts with the current state (e.g. a name already taken).
    #[error("{message}")]
    Conflict { message: String },
    /// An optimistic-concurrency check failed: the secret moved on since it was read.
    #[error("version conflict: expected version {expected}, current version is {current}")]
    VersionConflict { expected: i64, current: i64 },
    /// Too many requests; retry after the given number of seconds.
    #[error("rate limit exceeded, retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// A payload exceeded its size limit.
    #[error("{what} exceeds the limit of {limit} bytes")]
    PayloadTooLarge { what: String, limit: usize },
    /// Some references of a configuration did not resolve; `code` is the first one's.
    #[error("{} of the references could not be resolved: {}", failures.len(), describe(failures))]
    Unresolved {
        code: ErrorCode,
        failures: Vec<ResolveFailure>,
    },
    /// An unexpected failure. The cause is for logs only and never shown to callers.
    #[error("internal error")]
    Internal { cause: String },
}

/// Why one key of a configuration did not resolve (never a value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveFailure {
    pub key: String,
    pub code: ErrorCode,
    pub message: String,
}

fn describe(failures: &[ResolveFailure]) -> String {
    failures
        .iter()
        .map(|f| format!("{} ({})", f.key, f.code))
        .collect::<Vec<_>>()
        .join(", ")
}

impl SecretError {
    /// The machine-readable code of this error.
    pub const fn code(&self) -> ErrorCode {
        match self {
            SecretError::SecretNotFound { .. }
            | SecretError::VersionNotFound { .. }
            | SecretError::GrantNotFound { .. }
            | SecretError::AuditRecordNotFound { .. }
            | SecretError::MigrationNotFound { .. }
            | SecretError::VaultNotFound { .. } => ErrorCode::SecretNotFound,
            SecretError::SecretExpired { .. } => ErrorCode::SecretExpired,
            SecretError::AccessDenied { .. } => ErrorCode::AccessDenied,
            SecretError::InvalidSecretType { .. } => ErrorCode::InvalidSecretType,
            SecretError::Validation { .. } => ErrorCode::ValidationError,
            SecretError::EncryptionFailed => ErrorCode::EncryptionFailed,
            SecretError::DecryptionFailed => ErrorCode::DecryptionFailed,
            SecretError::VaultConnectionFailed { .. } | SecretError::VaultUnavailable { .. } => {
                ErrorCode::VaultConnectionFailed
            }
            SecretError::VaultNotConfigured { .. } => ErrorCode::VaultNotConfigured,
            SecretError::RotationFailed { .. } => ErrorCode::RotationFailed,
            SecretError::ImportFailed { .. } => ErrorCode::ImportFailed,
            SecretError::ExportFailed { .. } => ErrorCode::ExportFailed,
            SecretError::MigrationFailed { .. } => ErrorCode::MigrationFailed,
            SecretError::Unauthenticated { .. } => ErrorCode::Unauthenticated,
            SecretError::ReauthenticationRequired => ErrorCode::ReauthenticationRequired,
            SecretError::Conflict { .. } => ErrorCode::Conflict,
            SecretError::VersionConflict { .. } => ErrorCode::VersionConflict,
            SecretError::RateLimited { .. } => ErrorCode::RateLimited,
            SecretError::PayloadTooLarge { .. } => ErrorCode::PayloadTooLarge,
            SecretError::Internal { .. } => ErrorCode::Internal,
            SecretError::Unresolved { code, .. } => *code,
        }
    }

    /// The error of a resolution that failed: the first failure's code, every failure
    /// listed.
    pub fn unresolved(failures: Vec<ResolveFailure>) -> Self {
        let code = failures
            .first()
            .map_or(ErrorCode::ValidationError, |f| f.code);
        SecretError::Unresolved { code, failures }
    }

    /// A validation error for `field`.
    pub fn validation(field: impl Into<String>, reason: impl Into<String>) -> Self {
        SecretError::Validation {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// An internal error whose cause is kept for the logs.
    pub fn internal(cause: impl fmt::Display) -> Self {
        SecretError::Internal {
            cause: cause.to_string(),
        }
    }

    /// The cause of an internal error, for logging; `None` for every other error.
    pub fn internal_cause(&self) -> Option<&str> {
        match self {
            SecretError::Internal { cause } => Some(cause),
            _ => None,
        }
    }
}

/// The result type of the secret manager's public operations.
pub type SecretResult<T> = Result<T, SecretError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_error_display_hides_its_cause() {
        let err = SecretError::internal("connection refused to db at 10.0.0.1");
        assert_eq!(err.to_string(), "internal error");
        assert_eq!(
            err.internal_cause(),
            Some("connection refused to db at 10.0.0.1")
        );
        assert_eq!(err.code(), ErrorCode::Internal);
    }

    #[test]
    fn codes_serialize_in_wire_spelling() {
        assert_eq!(
            serde_json::to_string(&ErrorCode::VersionConflict).unwrap(),
            "\"VERSION_CONFLICT\""
        );
        assert_eq!(
            ErrorCode::ReauthenticationRequired.as_str(),
            "REAUTHENTICATION_REQUIRED"
        );
        let e = SecretError::VersionNotFound {
            id: "x".into(),
            version: 3,
        };
        assert_eq!(e.code().as_str(), "SECRET_NOT_FOUND");
    }
}
