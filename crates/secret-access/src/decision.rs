//! The access decision: may this principal perform this action on this secret, given its
//! grants, at this time? A pure function of its arguments (ARCHITECTURE §4).
//!
//! The check runs in part 1's order: owner by scope → explicit grant → role-based access →
//! denied. Where the specification documents disagree, ARCHITECTURE §4 decides:
//!
//! - **Owners.** A super admin owns every secret; an org admin owns ORGANIZATION, TEAM and
//!   PROJECT secrets of that org; a team lead owns TEAM secrets of the team and PROJECT
//!   secrets whose `team_id` is that team; a project admin owns PROJECT secrets of the
//!   project; USER secrets are owned by their user. Part 1's matrix gives TEAM and PROJECT
//!   secrets to the lead/admin alone and §12.2 says "per grant" for a team lead's or project
//!   admin's value read; both are overruled by ARCHITECTURE's owner list (§12.2's admin
//!   columns are why org admins own TEAM and PROJECT secrets).
//! - **USER secrets and super admins.** Part 1 says a USER secret is "visible to that user
//!   only"; ARCHITECTURE says a super admin owns everything. We follow ARCHITECTURE: a super
//!   admin can read and manage USER secrets (every such read is audited by the caller).
//! - **GLOBAL metadata.** Part 1's scope text says GLOBAL secrets are "visible to all
//!   organizations", but its matrix gives GLOBAL "view metadata" to the super admin only. We
//!   follow the matrix: GLOBAL metadata is visible to the super admin and to grantees.
//! - **Grants at every scope.** Part 1's matrix writes "+ granted" only for TEAM and PROJECT
//!   reads, but its check order consults grants for every scope; grants therefore apply to
//!   secrets of every scope, USER secrets included (only an owner or a grantee holding
//!   GRANT can create them).
//! - **Membership.** Members see metadata only: of ORGANIZATION secrets of their org, TEAM
//!   secrets of their team, PROJECT secrets of their project. Membership alone never gives
//!   READ, UPDATE, DELETE or GRANT.

use std::fmt;

use chrono::{DateTime, Utc};
use secret_core::model::{AccessGrant, SecretMetadata};
use secret_core::{GranteeType, Principal, ProjectRole, SecretError, SecretScope};

/// What a caller wants to do with a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Create a secret (decided by [`can_create`] for a secret that does not exist yet).
    Create,
    /// See the secret's metadata (never its value).
    ViewMetadata,
    /// Read the secret's value.
    Read,
    /// Change the secret's value or metadata.
    Update,
    /// Delete (soft or permanently), restore, or purge the secret.
    Delete,
    /// Grant or revoke others' access to the secret.
    Grant,
}

impl Action {
    /// Every action, in the order of the permission matrix.
    pub const ALL: [Action; 6] = [
        Action::Create,
        Action::ViewMetadata,
        Action::Read,
        Action::Update,
        Action::Delete,
        Action::Grant,
    ];

    /// The action's name as the audit log and error messages spell it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Action::Create => "CREATE",
            Action::ViewMetadata => "VIEW_METADATA",
            Action::Read => "READ",
            Action::Update => "UPDATE",
            Action::Delete => "DELETE",
            Action::Grant => "GRANT",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of an access check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// The action is allowed.
    Allow,
    /// The caller may see the secret's metadata but not do this: 403 ACCESS_DENIED.
    Deny,
    /// The caller may not even see the secret: answered as 404, so ids cannot be probed.
    Invisible,
}

/// What a principal may do with one secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Permissions {
    /// May see the metadata.
    pub view_metadata: bool,
    /// May read the value.
    pub read: bool,
    /// May change the value or metadata.
    pub update: bool,
    /// May delete, restore or purge.
    pub delete: bool,
    /// May grant and revoke access.
    pub grant: bool,
}

impl Permissions {
    /// Every permission (an owner's).
    pub const ALL: Permissions = Permissions {
        view_metadata: true,
        read: true,
        update: true,
        delete: true,
        grant: true,
    };

    /// No permission at all.
    pub const NONE: Permissions = Permissions {
        view_metadata: false,
        read: false,
        update: false,
        delete: false,
        grant: false,
    };

    /// Whether these permissions allow `action` on an existing secret (never `Create`).
    pub const fn allows(&self, action: Action) -> bool {
        match action {
            Action::Create => false,
            Action::ViewMetadata => self.view_metadata,
            Action::Read => self.read,
            Action::Update => self.update,
            Action::Delete => self.delete,
            Action::Grant => self.grant,
        }
    }
}

/// Whether `principal` owns `secret` by its scope, and so may do everything with it.
///
/// Team and project memberships count only where they agree with the secret's place: the
/// team (or project) the token names must belong to the secret's organization, and a
/// project's team must be the secret's team when the secret names one.
pub fn is_owner(principal: &Principal, secret: &SecretMetadata) -> bool {
    if principal.super_admin {
        return true;
    }
    let org = secret.organization_id.as_deref();
    let team = secret.team_id.as_deref();
    let project = secret.project_id.as_deref();
    let org_admin = || org.is_some_and(|org| principal.is_org_admin(org));
    match secret.scope {
        SecretScope::Global => false,
        SecretScope::Organization => org_admin(),
        SecretScope::Team => org_admin() || principal.is_team_lead_in(org, team),
        SecretScope::Project => {
            org_admin()
                || principal.is_team_lead_in(org, team)
                || principal.is_project_admin_in(org, team, project)
        }
        SecretScope::User => is_self(principal, secret.user_id.as_deref()),
    }
}

/// Whether `user_id` names the principal (an empty id names nobody).
fn is_self(principal: &Principal, user_id: Option<&str>) -> bool {
    !principal.user_id.is_empty() && user_id == Some(principal.user_id.as_str())
}

/// Whether `grant` on `secret` names `principal` as its grantee (regardless of its expiry).
/// Team and role ids match only within the secret's organization: a TEAM grant names the
/// members of that team of the secret's organization, a ROLE grant the holders of the role in
/// that organization or platform-wide.
pub fn grant_names(principal: &Principal, grant: &AccessGrant, secret: &SecretMetadata) -> bool {
    let org = secret.organization_id.as_deref();
    match grant.grantee_type {
        GranteeType::User => is_self(principal, Some(grant.grantee_id.as_str())),
        GranteeType::Team => principal.is_team_member_in(org, Some(grant.grantee_id.as_str())),
        GranteeType::Role => principal.has_role_in(&grant.grantee_id, org),
    }
}

/// The grants among `grants` that apply to `principal` on `secret` at `now`: the grant is
/// for this secret, unexpired, and names the principal (directly, by team, or by role).
pub fn applicable_grants<'g>(
    principal: &'g Principal,
    secret: &'g SecretMetadata,
    grants: &'g [AccessGrant],
    now: DateTime<Utc>,
) -> impl Iterator<Item = &'g AccessGrant> + 'g {
    grants.iter().filter(move |grant| {
        grant.secret_id == secret.id
            && grant.is_active_at(now)
            && grant_names(principal, grant, secret)
    })
}

/// Whether membership alone lets `principal` see `secret`'s metadata.
fn member_may_view(principal: &Principal, secret: &SecretMetadata) -> bool {
    let org = secret.organization_id.as_deref();
    let team = secret.team_id.as_deref();
    match secret.scope {
        SecretScope::Global | SecretScope::User => false,
        SecretScope::Organization => org.is_some_and(|org| principal.is_org_member(org)),
        SecretScope::Team => principal.is_team_member_in(org, team),
        SecretScope::Project => {
            principal.is_project_member_in(org, team, secret.project_id.as_deref())
        }
    }
}

/// Everything `principal` may do with `secret` at `now`, given the secret's grants.
pub fn effective_permissions(
    principal: &Principal,
    secret: &SecretMetadata,
    grants: &[AccessGrant],
    now: DateTime<Utc>,
) -> Permissions {
    if is_owner(principal, secret) {
        return Permissions::ALL;
    }
    let mut perms = Permissions::NONE;
    for grant in applicable_grants(principal, secret, grants, now) {
        perms.view_metadata = true;
        perms.read |= grant.can_read;
        perms.update |= grant.can_update;
        perms.delete |= grant.can_delete;
        perms.grant |= grant.can_grant;
    }
    perms.view_metadata |= member_may_view(principal, secret);
    perms
}

/// Decides whether `principal` may perform `action` on `secret` at `now`.
///
/// `Action::Create` on an existing secret answers whether the principal could create a secret
/// at that secret's place (same scope and ids): [`can_create`], and for a USER secret also
/// that it is the principal's own (a super admin may create anyone's).
pub fn decide(
    principal: &Principal,
    action: Action,
    secret: &SecretMetadata,
    grants: &[AccessGrant],
    now: DateTime<Utc>,
) -> Decision {
    let perms = effective_permissions(principal, secret, grants, now);
    let allowed = match action {
        Action::Create => {
            can_create(
                principal,
                secret.scope,
                secret.organization_id.as_deref(),
                secret.team_id.as_deref(),
                secret.project_id.as_deref(),
            ) && (secret.scope != SecretScope::User
                || principal.super_admin
                || is_self(principal, secret.user_id.as_deref()))
        }
        other => perms.allows(other),
    };
    if allowed {
        Decision::Allow
    } else if perms.view_metadata {
        Decision::Deny
    } else {
        Decision::Invisible
    }
}

/// [`decide`] as a `Result`: `Deny` is ACCESS_DENIED naming the action, `Invisible` is
/// SECRET_NOT_FOUND for the secret's id.
pub fn authorize(
    principal: &Principal,
    action: Action,
    secret: &SecretMetadata,
    grants: &[AccessGrant],
    now: DateTime<Utc>,
) -> Result<(), SecretError> {
    match decide(principal, action, secret, grants, now) {
        Decision::Allow => Ok(()),
        Decision::Deny => Err(SecretError::AccessDenied {
            reason: format!("{action} permission on secret {} is required", secret.id),
        }),
        Decision::Invisible => Err(SecretError::SecretNotFound {
            id: secret.id.to_string(),
        }),
    }
}

/// Whether `principal` may create a secret of `scope` at the given place (part 2 §12.2).
///
/// Every owner id must agree with the caller's verified memberships:
/// - GLOBAL: super admin.
/// - ORGANIZATION: admin of `organization_id`.
/// - TEAM: admin of `organization_id`, or lead of `team_id` where the token says the team
///   belongs to `organization_id`.
/// - PROJECT: admin of `organization_id`; or lead of `team_id` (of `organization_id`) for a
///   project the token names as belonging to that organization and that team; or admin of
///   `project_id` whose organization and team (none when the project has none) are exactly
///   `organization_id` and `team_id`.
/// - USER: anyone, for themselves (the caller sets the secret's user to the principal),
///   naming no organization or one the principal belongs to.
///
/// A super admin may create anything.
pub fn can_create(
    principal: &Principal,
    scope: SecretScope,
    organization_id: Option<&str>,
    team_id: Option<&str>,
    project_id: Option<&str>,
) -> bool {
    if principal.super_admin {
        return true;
    }
    let org_admin = || organization_id.is_some_and(|org| principal.is_org_admin(org));
    // The project's own place, exactly: its organization and its team (or none).
    let project_here = || {
        principal
            .project_in(organization_id, team_id, project_id)
            .filter(|m| m.team.as_deref() == team_id)
    };
    match scope {
        SecretScope::Global => false,
        SecretScope::Organization => org_admin(),
        SecretScope::Team => {
            team_id.is_some()
                && (org_admin() || principal.is_team_lead_in(organization_id, team_id))
        }
        SecretScope::Project => {
            project_id.is_some()
                && (org_admin()
                    || (principal.is_team_lead_in(organization_id, team_id)
                        && project_here().is_some())
                    || project_here().is_some_and(|m| m.role == ProjectRole::Admin))
        }
        SecretScope::User => {
            !principal.user_id.is_empty()
                && organization_id.is_none_or(|org| principal.is_org_member(org))
        }
    }
}
