#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)] // test support: failing loudly is its job
//! Test support shared by this crate's tests and the service's (feature `testing`): the
//! conformance suite every storage backend passes, and the real servers (OpenBao, moto)
//! started for a test run. Not for production use.

#[cfg(feature = "azure-stand-in")]
pub mod azure;
pub mod conformance;
pub mod controls;
#[cfg(feature = "gcp-stand-in")]
pub mod gcp;
#[cfg(feature = "aws-secrets-manager")]
pub mod moto;
#[cfg(feature = "hashicorp-vault")]
pub mod openbao;
pub mod process;
pub mod stub;

/// Whether tests that need a server this machine may lack must fail instead of skipping
/// (`SECRETS_TEST_STRICT=1`, set by CI).
pub fn strict() -> bool {
    std::env::var("SECRETS_TEST_STRICT").is_ok_and(|v| v == "1")
}

/// Reports a test skipped for `reason`, or fails it under [`strict`].
#[track_caller]
pub fn skip(test: &str, reason: &str) {
    assert!(
        !strict(),
        "{test}: {reason} (SECRETS_TEST_STRICT=1 turns this skip into a failure)"
    );
    tracing::warn!(
        test,
        reason,
        "SKIPPED: a server these tests need is missing"
    );
}
