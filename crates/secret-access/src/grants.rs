//! Granting and revoking access: who may do it, and the rule that a grant passes on only
//! permissions the granter holds itself (no escalation, ARCHITECTURE §4).

use chrono::{DateTime, Utc};
use secret_core::Principal;
use secret_core::SecretError;
use secret_core::model::{AccessGrant, GrantAccessParams, SecretMetadata};

use crate::decision::{Permissions, effective_permissions};

/// Checks that `principal` may grant the access `request` describes on `secret` at `now`.
///
/// The granter needs GRANT (else ACCESS_DENIED, or SECRET_NOT_FOUND when the secret is
/// invisible to it); the request must name a grantee, set at least one permission and expire
/// in the future if at all; and every permission it sets must be one the granter holds.
pub fn check_grant(
    principal: &Principal,
    secret: &SecretMetadata,
    existing_grants: &[AccessGrant],
    request: &GrantAccessParams,
    now: DateTime<Utc>,
) -> Result<(), SecretError> {
    let held = require_grant_permission(principal, secret, existing_grants, now, "grant")?;

    if request.grantee_id.trim().is_empty() {
        return Err(SecretError::validation("granteeId", "must not be empty"));
    }
    let requested = [
        ("canRead", request.can_read, held.read),
        ("canUpdate", request.can_update, held.update),
        ("canDelete", request.can_delete, held.delete),
        ("canGrant", request.can_grant, held.grant),
    ];
    if requested.iter().all(|(_, wanted, _)| !wanted) {
        return Err(SecretError::validation(
            "permissions",
            "a grant must set at least one of canRead, canUpdate, canDelete, canGrant",
        ));
    }
    if request.expires_at.is_some_and(|at| at <= now) {
        return Err(SecretError::validation(
            "expiresAt",
            "must be in the future",
        ));
    }

    let missing: Vec<&str> = requested
        .iter()
        .filter(|(_, wanted, holds)| *wanted && !*holds)
        .map(|(flag, _, _)| *flag)
        .collect();
    if !missing.is_empty() {
        return Err(SecretError::AccessDenied {
            reason: format!(
                "cannot grant {}: a grant may only pass on permissions the granter holds",
                missing.join(", ")
            ),
        });
    }
    Ok(())
}

/// Checks that `principal` may revoke grants on `secret` at `now`: it needs GRANT.
pub fn check_revoke(
    principal: &Principal,
    secret: &SecretMetadata,
    grants: &[AccessGrant],
    now: DateTime<Utc>,
) -> Result<(), SecretError> {
    require_grant_permission(principal, secret, grants, now, "revoke").map(|_| ())
}

/// The principal's permissions when they include GRANT; otherwise the error to answer.
fn require_grant_permission(
    principal: &Principal,
    secret: &SecretMetadata,
    grants: &[AccessGrant],
    now: DateTime<Utc>,
    verb: &str,
) -> Result<Permissions, SecretError> {
    let held = effective_permissions(principal, secret, grants, now);
    if held.grant {
        Ok(held)
    } else if held.view_metadata {
        Err(SecretError::AccessDenied {
            reason: format!(
                "GRANT permission on secret {} is required to {verb} access",
                secret.id
            ),
        })
    } else {
        Err(SecretError::SecretNotFound {
            id: secret.id.clone(),
        })
    }
}
