//! Which secrets a principal may see in a listing, as plain data the store turns into a
//! query, and the same rule evaluated in memory.
//!
//! [`is_visible`] is, by test, the same rule as `decide(.., Action::ViewMetadata, ..) !=
//! Decision::Invisible`; a store that builds its query from [`VisibilityFilter`] clause by
//! clause as [`is_visible`] reads therefore lists exactly the secrets a caller may view.

use chrono::{DateTime, Utc};
use secret_core::model::{AccessGrant, SecretMetadata};
use secret_core::{GranteeType, OrgRole, Principal, SecretScope, TeamRole};

/// The ids that make secrets visible to one principal.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VisibilityFilter {
    /// Every secret is visible (a super admin).
    pub all: bool,
    /// USER secrets whose user is this id.
    pub user_id: String,
    /// ORGANIZATION secrets of these orgs (the principal belongs to them in any role).
    pub member_org_ids: Vec<String>,
    /// ORGANIZATION, TEAM and PROJECT secrets of these orgs (the principal administers them).
    pub admin_org_ids: Vec<String>,
    /// TEAM secrets of these teams (the principal belongs to them in any role).
    pub member_team_ids: Vec<String>,
    /// PROJECT secrets whose team is one of these (the principal leads them).
    pub lead_team_ids: Vec<String>,
    /// PROJECT secrets of these projects (the principal belongs to them in any role).
    pub member_project_ids: Vec<String>,
    /// Secrets of any scope with an unexpired grant to one of these grantees.
    pub grantees: Vec<(GranteeType, String)>,
}

impl VisibilityFilter {
    /// The filter for `principal`'s memberships.
    pub fn for_principal(principal: &Principal) -> Self {
        let mut grantees = Vec::new();
        if !principal.user_id.is_empty() {
            grantees.push((GranteeType::User, principal.user_id.clone()));
        }
        grantees.extend(
            principal
                .teams
                .keys()
                .map(|team| (GranteeType::Team, team.clone())),
        );
        grantees.extend(
            principal
                .roles
                .iter()
                .map(|role| (GranteeType::Role, role.clone())),
        );
        VisibilityFilter {
            all: principal.super_admin,
            user_id: principal.user_id.clone(),
            member_org_ids: principal.orgs.keys().cloned().collect(),
            admin_org_ids: principal
                .orgs
                .iter()
                .filter(|(_, role)| **role == OrgRole::Admin)
                .map(|(org, _)| org.clone())
                .collect(),
            member_team_ids: principal.teams.keys().cloned().collect(),
            lead_team_ids: principal
                .teams
                .iter()
                .filter(|(_, role)| **role == TeamRole::Lead)
                .map(|(team, _)| team.clone())
                .collect(),
            member_project_ids: principal.projects.keys().cloned().collect(),
            grantees,
        }
    }
}

/// Whether the filter's principal may see `secret` at `now`, given the secret's grants.
pub fn is_visible(
    filter: &VisibilityFilter,
    secret: &SecretMetadata,
    grants: &[AccessGrant],
    now: DateTime<Utc>,
) -> bool {
    if filter.all {
        return true;
    }
    let org = secret.organization_id.as_deref();
    let team = secret.team_id.as_deref();
    let project = secret.project_id.as_deref();
    let admin_of_org = contains(&filter.admin_org_ids, org);
    let by_scope = match secret.scope {
        SecretScope::Global => false,
        SecretScope::Organization => contains(&filter.member_org_ids, org) || admin_of_org,
        SecretScope::Team => admin_of_org || contains(&filter.member_team_ids, team),
        SecretScope::Project => {
            admin_of_org
                || contains(&filter.lead_team_ids, team)
                || contains(&filter.member_project_ids, project)
        }
        SecretScope::User => {
            !filter.user_id.is_empty() && secret.user_id.as_deref() == Some(filter.user_id.as_str())
        }
    };
    by_scope
        || grants.iter().any(|grant| {
            grant.secret_id == secret.id
                && grant.is_active_at(now)
                && filter
                    .grantees
                    .iter()
                    .any(|(kind, id)| *kind == grant.grantee_type && *id == grant.grantee_id)
        })
}

fn contains(ids: &[String], id: Option<&str>) -> bool {
    id.is_some_and(|id| ids.iter().any(|candidate| candidate == id))
}
