//! `SecretService`: the one embeddable entry point of the secret manager (§9.1).
//!
//! A Rust module that needs credentials depends on this crate with
//! `default-features = false` and calls [`SecretService`]; it never touches the database or
//! the ciphertext itself.
//!
//! ```no_run
//! # async fn demo() -> Result<(), secret_core::SecretError> {
//! use secret_api::{SecretService, ServiceConfig};
//! use secret_core::{OrgRole, Principal, SecretContext, SecretId};
//!
//! let service = SecretService::connect(ServiceConfig::from_env()?).await?;
//! let caller = Principal::user("user-1").with_org("org-1", OrgRole::Member);
//! let ctx = SecretContext::new(caller, "mcp-server").in_organization("org-1");
//! // Ids are typed: a grant's or a vault's id cannot be passed where a secret's is wanted.
//! let id = SecretId::from("0193...");
//! let value = service.get_secret(&id, &ctx).await?;
//! # Ok(()) }
//! ```

mod cache;
mod compliance;
mod config;
#[cfg(feature = "http")]
pub mod http;
mod service;

pub use cache::{
    CacheConfig, DEFAULT_MAX_ENTRIES, DEFAULT_REFRESH_AHEAD_PERCENT, DEFAULT_TTL_SECS,
};
pub use compliance::{ComplianceCharts, EXPIRY_WEEKS};
pub use config::{DEFAULT_DATABASE_URL, ServiceConfig};
pub use service::{
    Announcement, Audience, ChangeFeedStatus, ExpiryNotice, JOB_PAGE, JobReport, KeyOperator,
    KeyStatusReport, MAX_EXPORT_SECRETS, MAX_IMPORT_ITEMS, MAX_RESOLVE_VARIABLES, NoticeKind,
    PruneReport, REENCRYPT_BATCH, RefusalSummary, Resolved, SCHEDULER_ACTOR, SecretService,
    ServiceReader, StagedRotation, VaultHealthReport,
};

pub use secret_audit::VerifyError;
pub use secret_audit::report::ComplianceReport;
pub use secret_core::audit::AuditRecord;
pub use secret_core::model::{
    AccessGrant, AuditLogsParams, CreateSecretParams, FieldUpdate, GrantAccessParams,
    ListSecretsParams, Page, ScopeTarget, SecretMetadata, SecretVersionInfo, UpdateSecretParams,
    UpdateValueParams, VersionedValue,
};
pub use secret_core::{
    AnySecretValue, ErrorCode, OrgRole, Principal, ProjectMembership, ProjectRole, RoleMembership,
    SecretContext, SecretError, SecretScope, SecretType, SecretValue, TeamMembership, TeamRole,
};
pub use secret_core::{GrantId, SecretId, SecretReader, VaultId};
pub use secret_crypto::MasterKeyMaterial;
pub use secret_store::{DbConfig, DbKind, JobScan, KeyInfo, ReencryptProgress};
