//! The caller's execution context (§9.1 `SecretContext`): who calls, in which organization,
//! team and project, and through which module.

use serde::{Deserialize, Serialize};

use crate::principal::Principal;

/// Who is calling and on behalf of which module, for access control, audit and usage
/// tracking.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretContext {
    /// The authenticated caller.
    pub principal: Principal,
    /// The organization the call is made in, if any (default owner of new secrets).
    pub organization_id: Option<String>,
    /// The team the call is made in, if any.
    pub team_id: Option<String>,
    /// The project the call is made in, if any.
    pub project_id: Option<String>,
    /// The consuming module, e.g. "mcp-server" or "llm-model".
    pub consumer_module: String,
    /// The consuming module's resource, e.g. a specific MCP server's id.
    pub consumer_resource_id: Option<String>,
    /// The request this call belongs to, for correlating logs and audit records.
    pub request_id: Option<String>,
    /// The caller's network address, when known.
    pub ip_address: Option<String>,
    /// The caller's user agent, when known.
    pub user_agent: Option<String>,
}

impl SecretContext {
    /// A context for `principal` calling through `consumer_module`.
    pub fn new(principal: Principal, consumer_module: impl Into<String>) -> Self {
        SecretContext {
            principal,
            consumer_module: consumer_module.into(),
            ..SecretContext::default()
        }
    }

    /// The acting user's id.
    pub fn user_id(&self) -> &str {
        &self.principal.user_id
    }

    /// The same context within an organization.
    pub fn in_organization(mut self, organization_id: impl Into<String>) -> Self {
        self.organization_id = Some(organization_id.into());
        self
    }

    /// The same context within a team.
    pub fn in_team(mut self, team_id: impl Into<String>) -> Self {
        self.team_id = Some(team_id.into());
        self
    }

    /// The same context within a project.
    pub fn in_project(mut self, project_id: impl Into<String>) -> Self {
        self.project_id = Some(project_id.into());
        self
    }

    /// The same context for a specific resource of the consuming module.
    pub fn for_resource(mut self, resource_id: impl Into<String>) -> Self {
        self.consumer_resource_id = Some(resource_id.into());
        self
    }

    /// The same context tagged with a request id.
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }
}
