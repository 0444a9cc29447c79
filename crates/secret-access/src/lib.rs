//! Authorization for the secret manager as pure functions (ARCHITECTURE §4): bearer tokens
//! into principals, the access decision for (principal, action, secret, grants, time), the
//! no-escalation rule for grants, the visibility filter for listings, and the admin rules of
//! part 2 §12.2.
//!
//! Nothing here does I/O: callers load the secret's metadata and grants and pass the time.

pub mod admin;
pub mod decision;
pub mod grants;
pub mod token;
pub mod visibility;

pub use admin::{
    administered_orgs, audit_org_filter, can_configure_vault, can_export, can_import,
    can_read_audit,
};
pub use decision::{
    Action, Decision, Permissions, authorize, can_create, decide, effective_permissions, is_owner,
};
pub use grants::{check_grant, check_revoke};
pub use token::{TokenAlgorithm, TokenError, TokenIssuer, TokenVerifier};
pub use visibility::{GranteeMatch, ProjectPlace, VisibilityFilter, is_visible};
