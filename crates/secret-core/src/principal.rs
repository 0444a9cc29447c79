//! Who is calling: the principal the platform vouches for in a signed token (ARCHITECTURE §4).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A principal's role in an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrgRole {
    Admin,
    Member,
}

/// A principal's role in a team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TeamRole {
    Lead,
    Member,
}

/// A principal's role in a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProjectRole {
    Admin,
    Member,
}

/// A principal's membership of a team: the organization the team belongs to, and the role.
///
/// Token claim: `"teams":{"t1":{"org":"o1","role":"LEAD"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TeamMembership {
    /// The team's organization.
    pub org: String,
    /// The principal's role in the team.
    pub role: TeamRole,
}

/// A principal's membership of a project: the project's organization and, where it has
/// one, its team, and the role.
///
/// Token claim: `"projects":{"p1":{"org":"o1","team":"t1","role":"ADMIN"}}` (`team`
/// optional).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProjectMembership {
    /// The project's organization.
    pub org: String,
    /// The project's team, when the project sits under one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// The principal's role in the project.
    pub role: ProjectRole,
}

/// A platform role the principal holds: within one organization, or platform-wide.
///
/// Token claim: `"roles":[{"id":"r-ops","org":"o1"}]` (`org` absent for a platform-wide
/// role).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleMembership {
    /// The role's id.
    pub id: String,
    /// The organization the role is held in; `None` for a platform-wide role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
}

impl RoleMembership {
    /// Whether this role applies to something in organization `org` (`None`: no
    /// organization, e.g. a GLOBAL secret). A platform-wide role applies everywhere; an
    /// organization's role only within that organization.
    pub fn applies_in(&self, org: Option<&str>) -> bool {
        match &self.org {
            None => true,
            Some(own) => org == Some(own.as_str()),
        }
    }
}

/// An authenticated caller with its memberships. Every team and project membership names
/// its organization (and a project its team), so the service can check that the owner ids
/// of a secret agree with the caller's verified memberships (ARCHITECTURE §4).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Principal {
    /// The user's id (the token's `sub`).
    pub user_id: String,
    /// A display name.
    pub name: Option<String>,
    /// Platform-wide administrator.
    pub super_admin: bool,
    /// Organizations and the principal's role in each.
    pub orgs: BTreeMap<String, OrgRole>,
    /// Teams, each with its organization and the principal's role.
    pub teams: BTreeMap<String, TeamMembership>,
    /// Projects, each with its organization, team and the principal's role.
    pub projects: BTreeMap<String, ProjectMembership>,
    /// Platform roles, matched by ROLE grants within their organization.
    pub roles: BTreeSet<RoleMembership>,
    /// When the principal last authenticated (for operations needing a recent login).
    pub auth_time: Option<DateTime<Utc>>,
}

impl Principal {
    /// A principal with no memberships.
    pub fn user(user_id: impl Into<String>) -> Self {
        Principal {
            user_id: user_id.into(),
            ..Principal::default()
        }
    }

    /// The same principal as a super admin.
    pub fn as_super_admin(mut self) -> Self {
        self.super_admin = true;
        self
    }

    /// The same principal with a role in an organization.
    pub fn with_org(mut self, org_id: impl Into<String>, role: OrgRole) -> Self {
        self.orgs.insert(org_id.into(), role);
        self
    }

    /// The same principal with a role in team `team_id` of organization `org_id`.
    pub fn with_team(
        mut self,
        team_id: impl Into<String>,
        org_id: impl Into<String>,
        role: TeamRole,
    ) -> Self {
        self.teams.insert(
            team_id.into(),
            TeamMembership {
                org: org_id.into(),
                role,
            },
        );
        self
    }

    /// The same principal with a role in project `project_id` of organization `org_id`,
    /// under team `team_id` when the project has one.
    pub fn with_project(
        mut self,
        project_id: impl Into<String>,
        org_id: impl Into<String>,
        team_id: Option<&str>,
        role: ProjectRole,
    ) -> Self {
        self.projects.insert(
            project_id.into(),
            ProjectMembership {
                org: org_id.into(),
                team: team_id.map(str::to_owned),
                role,
            },
        );
        self
    }

    /// The same principal holding role `role_id` in organization `org_id`, or platform-wide
    /// when `org_id` is `None`.
    pub fn with_role(mut self, role_id: impl Into<String>, org_id: Option<&str>) -> Self {
        self.roles.insert(RoleMembership {
            id: role_id.into(),
            org: org_id.map(str::to_owned),
        });
        self
    }

    /// The same principal with a display name.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The same principal authenticated at `at`.
    pub fn authenticated_at(mut self, at: DateTime<Utc>) -> Self {
        self.auth_time = Some(at);
        self
    }

    /// Whether the principal administers `org_id`.
    pub fn is_org_admin(&self, org_id: &str) -> bool {
        self.orgs.get(org_id) == Some(&OrgRole::Admin)
    }

    /// Whether the principal belongs to `org_id` in any role.
    pub fn is_org_member(&self, org_id: &str) -> bool {
        self.orgs.contains_key(org_id)
    }

    /// The principal's membership of `team_id` when that team belongs to `org_id`.
    fn team_in(&self, org_id: Option<&str>, team_id: Option<&str>) -> Option<&TeamMembership> {
        let (org_id, team_id) = (org_id?, team_id?);
        self.teams.get(team_id).filter(|m| m.org == org_id)
    }

    /// Whether the principal leads team `team_id` of organization `org_id` (false when
    /// either is absent, or the team the token names belongs to another organization).
    pub fn is_team_lead_in(&self, org_id: Option<&str>, team_id: Option<&str>) -> bool {
        self.team_in(org_id, team_id)
            .is_some_and(|m| m.role == TeamRole::Lead)
    }

    /// Whether the principal belongs to team `team_id` of organization `org_id`.
    pub fn is_team_member_in(&self, org_id: Option<&str>, team_id: Option<&str>) -> bool {
        self.team_in(org_id, team_id).is_some()
    }

    /// The principal's membership of `project_id` when it agrees with a place: the
    /// project's organization is `org_id`, and `team_id`, when given, is the project's team.
    pub fn project_in(
        &self,
        org_id: Option<&str>,
        team_id: Option<&str>,
        project_id: Option<&str>,
    ) -> Option<&ProjectMembership> {
        let (org_id, project_id) = (org_id?, project_id?);
        self.projects
            .get(project_id)
            .filter(|m| m.org == org_id && (team_id.is_none() || m.team.as_deref() == team_id))
    }

    /// Whether the principal administers `project_id` at that place (see
    /// [`project_in`](Self::project_in)).
    pub fn is_project_admin_in(
        &self,
        org_id: Option<&str>,
        team_id: Option<&str>,
        project_id: Option<&str>,
    ) -> bool {
        self.project_in(org_id, team_id, project_id)
            .is_some_and(|m| m.role == ProjectRole::Admin)
    }

    /// Whether the principal belongs to `project_id` at that place.
    pub fn is_project_member_in(
        &self,
        org_id: Option<&str>,
        team_id: Option<&str>,
        project_id: Option<&str>,
    ) -> bool {
        self.project_in(org_id, team_id, project_id).is_some()
    }

    /// Whether the principal holds role `role_id` where it applies to organization `org_id`
    /// (see [`RoleMembership::applies_in`]).
    pub fn has_role_in(&self, role_id: &str, org_id: Option<&str>) -> bool {
        self.roles
            .iter()
            .any(|r| r.id == role_id && r.applies_in(org_id))
    }
}
