//! Which secrets a principal may see in a listing, as plain data the store turns into a
//! query, and the same rule evaluated in memory.
//!
//! [`is_visible`] is, by test, the same rule as `decide(.., Action::ViewMetadata, ..) !=
//! Decision::Invisible`; a store that builds its query from [`VisibilityFilter`] clause by
//! clause as [`is_visible`] reads therefore lists exactly the secrets a caller may view.

use chrono::{DateTime, Utc};
use secret_core::model::{AccessGrant, SecretMetadata};
use secret_core::{GranteeType, OrgRole, Principal, SecretScope, TeamRole};

/// A project the principal belongs to, at its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectPlace {
    /// The project's organization.
    pub organization_id: String,
    /// The project's team, if it has one: a secret naming a team matches only this one; a
    /// secret naming none matches any.
    pub team_id: Option<String>,
    /// The project.
    pub project_id: String,
}

/// A grantee the principal answers to, and where its grants count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GranteeMatch {
    /// USER, TEAM or ROLE.
    pub grantee_type: GranteeType,
    /// The user, team or role id.
    pub grantee_id: String,
    /// Grants count only on secrets of this organization (a team's organization, an
    /// organization's role); `None`: on secrets anywhere (the user, a platform-wide role).
    pub organization_id: Option<String>,
}

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
    /// TEAM secrets of these (organization, team) pairs (the principal belongs to the team).
    pub member_teams: Vec<(String, String)>,
    /// PROJECT secrets of these (organization, team) pairs (the principal leads the team).
    pub lead_teams: Vec<(String, String)>,
    /// PROJECT secrets of these projects (the principal belongs to them in any role).
    pub member_projects: Vec<ProjectPlace>,
    /// Secrets of any scope with an unexpired grant to one of these grantees.
    pub grantees: Vec<GranteeMatch>,
}

impl VisibilityFilter {
    /// The filter for `principal`'s memberships.
    pub fn for_principal(principal: &Principal) -> Self {
        let mut grantees = Vec::new();
        if !principal.user_id.is_empty() {
            grantees.push(GranteeMatch {
                grantee_type: GranteeType::User,
                grantee_id: principal.user_id.clone(),
                organization_id: None,
            });
        }
        grantees.extend(principal.teams.iter().map(|(team, m)| GranteeMatch {
            grantee_type: GranteeType::Team,
            grantee_id: team.clone(),
            organization_id: Some(m.org.clone()),
        }));
        grantees.extend(principal.roles.iter().map(|role| GranteeMatch {
            grantee_type: GranteeType::Role,
            grantee_id: role.id.clone(),
            organization_id: role.org.clone(),
        }));
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
            member_teams: principal
                .teams
                .iter()
                .map(|(team, m)| (m.org.clone(), team.clone()))
                .collect(),
            lead_teams: principal
                .teams
                .iter()
                .filter(|(_, m)| m.role == TeamRole::Lead)
                .map(|(team, m)| (m.org.clone(), team.clone()))
                .collect(),
            member_projects: principal
                .projects
                .iter()
                .map(|(project, m)| ProjectPlace {
                    organization_id: m.org.clone(),
                    team_id: m.team.clone(),
                    project_id: project.clone(),
                })
                .collect(),
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
    let pair = |pairs: &[(String, String)]| {
        pairs
            .iter()
            .any(|(o, t)| Some(o.as_str()) == org && Some(t.as_str()) == team)
    };
    let by_scope = match secret.scope {
        SecretScope::Global => false,
        SecretScope::Organization => contains(&filter.member_org_ids, org) || admin_of_org,
        SecretScope::Team => admin_of_org || pair(&filter.member_teams),
        SecretScope::Project => {
            admin_of_org
                || pair(&filter.lead_teams)
                || filter.member_projects.iter().any(|p| {
                    Some(p.organization_id.as_str()) == org
                        && Some(p.project_id.as_str()) == project
                        && (team.is_none() || p.team_id.as_deref() == team)
                })
        }
        SecretScope::User => {
            !filter.user_id.is_empty() && secret.user_id.as_deref() == Some(filter.user_id.as_str())
        }
    };
    by_scope
        || grants.iter().any(|grant| {
            grant.secret_id == secret.id
                && grant.is_active_at(now)
                && filter.grantees.iter().any(|g| {
                    g.grantee_type == grant.grantee_type
                        && g.grantee_id == grant.grantee_id
                        && (g.organization_id.is_none() || g.organization_id.as_deref() == org)
                })
        })
}

fn contains(ids: &[String], id: Option<&str>) -> bool {
    id.is_some_and(|id| ids.iter().any(|candidate| candidate == id))
}
