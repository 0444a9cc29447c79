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

/// An authenticated caller with its memberships.
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
    /// Teams and the principal's role in each.
    pub teams: BTreeMap<String, TeamRole>,
    /// Projects and the principal's role in each.
    pub projects: BTreeMap<String, ProjectRole>,
    /// Role ids, matched by ROLE grants.
    pub roles: BTreeSet<String>,
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

    /// The same principal with a role in a team.
    pub fn with_team(mut self, team_id: impl Into<String>, role: TeamRole) -> Self {
        self.teams.insert(team_id.into(), role);
        self
    }

    /// The same principal with a role in a project.
    pub fn with_project(mut self, project_id: impl Into<String>, role: ProjectRole) -> Self {
        self.projects.insert(project_id.into(), role);
        self
    }

    /// The same principal holding a platform role.
    pub fn with_role(mut self, role_id: impl Into<String>) -> Self {
        self.roles.insert(role_id.into());
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

    /// Whether the principal leads `team_id`.
    pub fn is_team_lead(&self, team_id: &str) -> bool {
        self.teams.get(team_id) == Some(&TeamRole::Lead)
    }

    /// Whether the principal belongs to `team_id` in any role.
    pub fn is_team_member(&self, team_id: &str) -> bool {
        self.teams.contains_key(team_id)
    }

    /// Whether the principal administers `project_id`.
    pub fn is_project_admin(&self, project_id: &str) -> bool {
        self.projects.get(project_id) == Some(&ProjectRole::Admin)
    }

    /// Whether the principal belongs to `project_id` in any role.
    pub fn is_project_member(&self, project_id: &str) -> bool {
        self.projects.contains_key(project_id)
    }

    /// Whether the principal holds the platform role `role_id`.
    pub fn has_role(&self, role_id: &str) -> bool {
        self.roles.contains(role_id)
    }
}
