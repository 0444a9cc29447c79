//! The store's error type.

use sea_orm::{DbErr, SqlErr};
use secret_core::SecretError;
use secret_crypto::CryptoError;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database failed or refused a statement.
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    /// Encryption, decryption or key handling failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// A domain rule refused the operation (not found, conflict, validation, ...).
    #[error(transparent)]
    Domain(#[from] SecretError),
    /// A row holds something that cannot be read back (an unknown enum spelling, bad JSON).
    #[error("corrupt row in {table}: {reason}")]
    Corrupt { table: &'static str, reason: String },
}

impl StoreError {
    /// A corrupt-row error.
    pub(crate) fn corrupt(table: &'static str, reason: impl Into<String>) -> Self {
        StoreError::Corrupt {
            table,
            reason: reason.into(),
        }
    }

    /// Whether this is a unique-constraint violation.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Db(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))))
    }
}

impl From<StoreError> for SecretError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Domain(e) => e,
            StoreError::Crypto(e) => e.into(),
            other => SecretError::internal(other),
        }
    }
}

/// The store's result type.
pub type StoreResult<T> = Result<T, StoreError>;
