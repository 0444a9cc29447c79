//! Granting and revoking access: who may do it, and the rule that a grant passes on only
//! permissions the granter holds itself (no escalation, ARCHITECTURE §4).

use chrono::{DateTime, Utc};
use secret_core::model::{AccessGrant, GrantAccessParams, SecretMetadata};
use secret_core::{GranteeType, Principal, SecretError};

use crate::decision::{
    Permissions, applicable_grants, effective_permissions, grant_names, is_owner,
};

/// Checks that `principal` may grant the access `request` describes on `secret` at `now`,
/// and returns the expiry the grant gets.
///
/// The granter needs GRANT (else ACCESS_DENIED, or SECRET_NOT_FOUND when the secret is
/// invisible to it); the request must name a grantee, set at least one permission and expire
/// in the future if at all; and every permission it sets must be one the granter holds.
///
/// A grant passed on may not outlive the granter's own access: when the granter holds access
/// only through grants, the new grant's expiry is capped at the latest time the granter's
/// applicable grants still give every permission it passes on (and GRANT itself). And nobody
/// but an owner grants to itself: a grantee may not replace or extend a grant it holds, nor
/// grant to a team or role it belongs to. A TEAM grant needs a secret of an organization
/// (teams belong to organizations; on a GLOBAL secret it would name nobody).
pub fn check_grant(
    principal: &Principal,
    secret: &SecretMetadata,
    existing_grants: &[AccessGrant],
    request: &GrantAccessParams,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, SecretError> {
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
    if request.grantee_type == GranteeType::Team && secret.organization_id.is_none() {
        return Err(SecretError::validation(
            "granteeType",
            "a TEAM grant needs a secret of an organization: teams belong to organizations",
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
    if is_owner(principal, secret) {
        return Ok(request.expires_at);
    }
    let to_be = AccessGrant {
        id: secret_core::GrantId::new(String::new()),
        secret_id: secret.id.clone(),
        grantee_type: request.grantee_type,
        grantee_id: request.grantee_id.clone(),
        can_read: request.can_read,
        can_update: request.can_update,
        can_delete: request.can_delete,
        can_grant: request.can_grant,
        expires_at: request.expires_at,
        granted_at: now,
        granted_by_id: principal.user_id.clone(),
    };
    if grant_names(principal, &to_be, secret) {
        return Err(SecretError::AccessDenied {
            reason: "a grantee may not grant, replace or extend access for itself (or a team or \
                     role it belongs to)"
                .to_string(),
        });
    }
    let cap = access_lasts_until(principal, secret, existing_grants, request, now);
    Ok(match (request.expires_at, cap) {
        (Some(asked), Some(cap)) => Some(asked.min(cap)),
        (asked, cap) => asked.or(cap),
    })
}

/// Until when the granter's applicable grants give every permission `request` passes on,
/// plus GRANT: for each such permission the latest expiry among the grants carrying it
/// (`None`: one of them never expires), and of those the earliest. `None` when nothing
/// bounds it.
fn access_lasts_until(
    principal: &Principal,
    secret: &SecretMetadata,
    grants: &[AccessGrant],
    request: &GrantAccessParams,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let applicable: Vec<&AccessGrant> = applicable_grants(principal, secret, grants, now).collect();
    let latest = |carries: fn(&AccessGrant) -> bool| -> Option<DateTime<Utc>> {
        let mut latest = Some(now);
        for g in applicable.iter().filter(|g| carries(g)) {
            latest = match (latest, g.expires_at) {
                (None, _) | (_, None) => None,
                (Some(a), Some(b)) => Some(a.max(b)),
            };
        }
        latest
    };
    let mut bounds = vec![latest(|g| g.can_grant)];
    if request.can_read {
        bounds.push(latest(|g| g.can_read));
    }
    if request.can_update {
        bounds.push(latest(|g| g.can_update));
    }
    if request.can_delete {
        bounds.push(latest(|g| g.can_delete));
    }
    if request.can_grant {
        bounds.push(latest(|g| g.can_grant));
    }
    bounds.into_iter().flatten().min()
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
            id: secret.id.to_string(),
        })
    }
}
