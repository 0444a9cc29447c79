//! Domain types of the secret manager: identifiers, the enums of the specification with their
//! wire spelling, typed secret values with validation and masking, the caller's context, and
//! the error type with the specification's error codes.
//!
//! This crate does no I/O: it knows nothing of databases, HTTP or async runtimes.

pub mod audit;
pub mod clock;
pub mod context;
pub mod enums;
pub mod envfile;
pub mod error;
pub mod ids;
pub mod limits;
pub mod model;
pub mod name;
pub mod principal;
pub mod reader;
pub mod reference;
pub mod transfer;
pub mod value;
pub mod vault;
pub mod wire;

pub use clock::{Clock, ManualClock, SystemClock};
pub use context::SecretContext;
pub use enums::{
    ActorType, AuditCategory, AuditOutcome, GranteeType, KeyStatus, RotationStrategy,
    SecretAuditEventType, SecretScope, SecretType, SshKeyType, StorageBackendKind,
    VaultHealthStatus, VaultScope,
};
pub use error::{ErrorCode, ResolveFailure, SecretError};
pub use ids::{GrantId, SecretId, VaultId};
pub use principal::{
    OrgRole, Principal, ProjectMembership, ProjectRole, RoleMembership, TeamMembership, TeamRole,
};
pub use reader::{Resolved, SecretReader};
pub use value::{AnySecretValue, SecretValue, ValueFacts};
