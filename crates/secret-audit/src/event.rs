//! Building audit entries: who (from the caller's context), what (event type, action,
//! outcome), on which secret, and redacted details. Fields are cut to the lengths the
//! audit table holds, at character boundaries.

use chrono::{DateTime, Utc};
use secret_core::audit::{AuditEntry, audit_timestamp};
use secret_core::model::SecretMetadata;
use secret_core::{
    ActorType, AuditOutcome, ErrorCode, SecretAuditEventType, SecretContext, SecretError,
    SecretScope,
};
use serde_json::{Map, Value};

use crate::redact::sanitize_details;

/// The secret an event is about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretRef {
    pub id: String,
    pub name: Option<String>,
    pub scope: Option<SecretScope>,
    pub organization_id: Option<String>,
    pub team_id: Option<String>,
    pub project_id: Option<String>,
}

impl From<&SecretMetadata> for SecretRef {
    fn from(m: &SecretMetadata) -> Self {
        SecretRef {
            id: m.id.to_string(),
            name: Some(m.name.clone()),
            scope: Some(m.scope),
            organization_id: m.organization_id.clone(),
            team_id: m.team_id.clone(),
            project_id: m.project_id.clone(),
        }
    }
}

/// An event being described, turned into an [`AuditEntry`] by [`AuditEvent::entry`].
#[derive(Debug, Clone)]
pub struct AuditEvent {
    event_type: SecretAuditEventType,
    action: String,
    outcome: AuditOutcome,
    actor_type: ActorType,
    secret: Option<SecretRef>,
    /// Where the event is aimed when there is no resolved secret (a refused create names
    /// the organization, team and project of its request body).
    target: Option<(Option<String>, Option<String>, Option<String>)>,
    details: Map<String, Value>,
    error_message: Option<String>,
}

/// The message recorded for a failed operation: the caller-safe message (never a value),
/// or only the code when the cause is internal.
pub fn error_message(err: &SecretError) -> String {
    match err.code() {
        ErrorCode::Internal => "internal error".to_string(),
        code => format!("{code}: {err}"),
    }
}

/// `s` cut to at most `max` bytes at a character boundary.
fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

fn cut_opt(s: Option<&str>, max: usize) -> Option<String> {
    s.map(|s| cut(s, max))
}

impl AuditEvent {
    /// A successful event of `event_type` by a user; the action defaults to the type.
    pub fn new(event_type: SecretAuditEventType) -> Self {
        AuditEvent {
            event_type,
            action: event_type.as_str().to_string(),
            outcome: AuditOutcome::Success,
            actor_type: ActorType::User,
            secret: None,
            target: None,
            details: Map::new(),
            error_message: None,
        }
    }

    /// The place the event is aimed at when it has no resolved secret: the record is filed
    /// under this organization (team, project), never under the caller's header.
    pub fn target(
        mut self,
        organization_id: Option<&str>,
        team_id: Option<&str>,
        project_id: Option<&str>,
    ) -> Self {
        self.target = Some((
            organization_id.map(str::to_owned),
            team_id.map(str::to_owned),
            project_id.map(str::to_owned),
        ));
        self
    }

    /// The event type.
    pub fn event_type(&self) -> SecretAuditEventType {
        self.event_type
    }

    /// The secret it is about, if any.
    pub fn secret_ref(&self) -> Option<&SecretRef> {
        self.secret.as_ref()
    }

    /// A more specific action than the event type (e.g. `ROLLBACK` for a SECRET_UPDATED).
    pub fn action(mut self, action: &str) -> Self {
        self.action = action.to_string();
        self
    }

    /// Who acted, when not a user (the scheduler, the system).
    pub fn actor_type(mut self, actor_type: ActorType) -> Self {
        self.actor_type = actor_type;
        self
    }

    /// The secret the event is about, from its metadata.
    pub fn on(mut self, secret: &SecretMetadata) -> Self {
        self.secret = Some(secret.into());
        self
    }

    /// The secret the event is about, when only its id is known.
    pub fn on_id(mut self, id: &str) -> Self {
        self.secret = Some(SecretRef {
            id: id.to_string(),
            ..SecretRef::default()
        });
        self
    }

    /// Sets the secret from its metadata in place.
    pub fn set_secret(&mut self, secret: &SecretMetadata) {
        self.secret = Some(secret.into());
    }

    /// Adds a detail; sensitive names are redacted when the entry is made.
    pub fn detail(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.details.insert(name.to_string(), value.into());
        self
    }

    /// Adds a detail in place.
    pub fn add_detail(&mut self, name: &str, value: impl Into<Value>) {
        self.details.insert(name.to_string(), value.into());
    }

    /// The operation failed with `err`.
    pub fn failed(mut self, err: &SecretError) -> Self {
        self.outcome = AuditOutcome::Failure;
        self.error_message = Some(error_message(err));
        self
    }

    /// The operation was refused: recorded as ACCESS_DENIED, its action and an
    /// `attempted` detail naming what was refused.
    pub fn denied(mut self, reason: &str) -> Self {
        self.details
            .insert("attempted".to_string(), Value::String(self.action.clone()));
        self.event_type = SecretAuditEventType::AccessDenied;
        self.outcome = AuditOutcome::Denied;
        self.error_message = Some(reason.to_string());
        self
    }

    /// The entry for this event by `ctx`'s caller at `now`. Without a context the actor is
    /// the system (or the actor type set), identified by `system_actor`.
    pub fn entry(
        self,
        ctx: Option<&SecretContext>,
        system_actor: &str,
        now: DateTime<Utc>,
    ) -> AuditEntry {
        let secret = self.secret.unwrap_or_default();
        let has_secret = !secret.id.is_empty();
        // The record is filed under its target: the secret's place, else the place the
        // request aimed at. The caller's `X-Organization-Id` is only its context, kept as a
        // detail when it differs: a caller must not be able to file its attempts under
        // another organization, hiding them from the targeted one's admins.
        let (org, team, project) = if has_secret && secret.scope.is_some() {
            (secret.organization_id, secret.team_id, secret.project_id)
        } else {
            self.target.unwrap_or_default()
        };
        let mut details = self.details;
        if let Some(context_org) = ctx.and_then(|c| c.organization_id.as_deref())
            && org.as_deref() != Some(context_org)
        {
            details
                .entry("contextOrganizationId")
                .or_insert_with(|| Value::String(cut(context_org, 128)));
        }
        if let Some(resource) = ctx.and_then(|c| c.consumer_resource_id.as_deref()) {
            details
                .entry("consumerResourceId")
                .or_insert_with(|| Value::String(resource.to_string()));
        }
        let details = sanitize_details(Value::Object(details)).to_string();
        AuditEntry {
            id: uuid::Uuid::now_v7().to_string(),
            event_type: self.event_type,
            event_category: self.event_type.category(),
            actor_type: if ctx.is_some() {
                self.actor_type
            } else if self.actor_type == ActorType::User {
                ActorType::System
            } else {
                self.actor_type
            },
            actor_id: cut(ctx.map_or(system_actor, SecretContext::user_id), 128),
            actor_name: cut_opt(ctx.and_then(|c| c.principal.name.as_deref()), 255),
            organization_id: cut_opt(org.as_deref(), 128),
            team_id: cut_opt(team.as_deref(), 128),
            project_id: cut_opt(project.as_deref(), 128),
            secret_id: has_secret.then(|| cut(&secret.id, 36)),
            secret_name: cut_opt(secret.name.as_deref(), 255),
            secret_scope: secret.scope,
            action: cut(&self.action, 64),
            details,
            ip_address: cut_opt(ctx.and_then(|c| c.ip_address.as_deref()), 64),
            user_agent: cut_opt(ctx.and_then(|c| c.user_agent.as_deref()), 1024),
            request_id: cut_opt(ctx.and_then(|c| c.request_id.as_deref()), 128),
            consumer_module: cut_opt(ctx.map(|c| c.consumer_module.as_str()), 128),
            outcome: self.outcome,
            error_message: cut_opt(self.error_message.as_deref(), 2000),
            timestamp: audit_timestamp(now),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests

    use secret_core::Principal;

    use super::*;

    #[test]
    fn denial_keeps_the_attempted_event() {
        let ctx = SecretContext::new(Principal::user("bob"), "mcp-server").in_organization("org-2");
        let e = AuditEvent::new(SecretAuditEventType::SecretRead)
            .on_id("s-1")
            .denied("reading the value of secret s-1 is not permitted")
            .entry(Some(&ctx), "system", Utc::now());
        assert_eq!(e.event_type, SecretAuditEventType::AccessDenied);
        assert_eq!(e.outcome, AuditOutcome::Denied);
        assert_eq!(e.action, "SECRET_READ");
        assert_eq!(e.actor_id, "bob");
        assert_eq!(
            e.organization_id, None,
            "the caller's header never files the record"
        );
        assert_eq!(e.consumer_module.as_deref(), Some("mcp-server"));
        let details: Value = serde_json::from_str(&e.details).unwrap();
        assert_eq!(details["attempted"], "SECRET_READ");
        assert_eq!(details["contextOrganizationId"], "org-2");
    }

    #[test]
    fn an_unresolved_event_is_filed_under_its_target() {
        let ctx = SecretContext::new(Principal::user("bob"), "m").in_organization("org-2");
        let e = AuditEvent::new(SecretAuditEventType::SecretCreated)
            .target(Some("org-1"), Some("team-1"), None)
            .denied("creating PROJECT secrets here is not permitted")
            .entry(Some(&ctx), "system", Utc::now());
        assert_eq!(e.organization_id.as_deref(), Some("org-1"));
        assert_eq!(e.team_id.as_deref(), Some("team-1"));
        assert_eq!(e.project_id, None);
    }

    #[test]
    fn details_are_redacted_and_fields_cut_at_char_boundaries() {
        let mut ctx = SecretContext::new(Principal::user("bob"), "m");
        ctx.request_id = Some("é".repeat(100));
        let e = AuditEvent::new(SecretAuditEventType::SecretUpdated)
            .detail("newValue", "sk-123")
            .detail("changeReason", "typo")
            .entry(Some(&ctx), "system", Utc::now());
        assert_eq!(
            e.details,
            r#"{"changeReason":"typo","newValue":"[REDACTED]"}"#
        );
        let rid = e.request_id.unwrap();
        assert!(rid.len() <= 128 && rid.chars().all(|c| c == 'é'));
    }

    #[test]
    fn internal_causes_are_not_recorded() {
        let err = SecretError::internal("connection refused to 10.0.0.5 password=x");
        assert_eq!(error_message(&err), "internal error");
        let err = SecretError::SecretExpired { id: "s".into() };
        assert_eq!(error_message(&err), "SECRET_EXPIRED: secret s has expired");
    }
}
