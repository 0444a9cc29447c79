//! Checks that need no database: a value against its declared type, rotation intervals,
//! a new secret's owner ids, the caller's context, and an access decision turned into the
//! caller's answer.

use chrono::{DateTime, Utc};
use secret_access::{Action, Decision};
use secret_core::model::SecretMetadata;
use secret_core::name::validate_platform_id;
use secret_core::{SecretContext, SecretError, SecretScope, SecretType, SecretValue, ValueFacts};

use super::{Result, not_found};

/// The longest rotation interval accepted, in days (ten years).
const MAX_ROTATION_INTERVAL_DAYS: i32 = 3650;

/// A value checked against its declared type and normalised, with its derived facts and
/// its masked display (kept apart: it is stored only encrypted).
pub(crate) struct CheckedValue {
    pub(crate) value: SecretValue,
    pub(crate) facts: ValueFacts,
    pub(crate) masked: String,
}

/// Checks `value` against the secret's declared type and validates it as of `now`.
///
/// The facts kept in plain metadata never include the masked display: for some types it
/// shows characters of the value (an API key's last four), and no part of a value is
/// stored unencrypted. It is returned apart, to be sealed beside the value.
pub(crate) fn check_value(
    declared: SecretType,
    value: SecretValue,
    now: DateTime<Utc>,
) -> Result<CheckedValue> {
    value.check_type(declared)?;
    let (value, mut facts) = value.validate_at(now)?;
    let masked = std::mem::take(&mut facts.masked);
    Ok(CheckedValue {
        value,
        facts,
        masked,
    })
}

fn check_rotation_interval(days: Option<i32>) -> Result<()> {
    match days {
        Some(d) if !(1..=MAX_ROTATION_INTERVAL_DAYS).contains(&d) => Err(SecretError::validation(
            "rotationIntervalDays",
            format!("must be between 1 and {MAX_ROTATION_INTERVAL_DAYS}"),
        )),
        _ => Ok(()),
    }
}

/// The interval to use when rotation is on: the given one, else the type's default.
pub(super) fn effective_interval(
    secret_type: SecretType,
    enabled: bool,
    days: Option<i32>,
) -> Result<Option<i32>> {
    check_rotation_interval(days)?;
    if !enabled {
        return Ok(days);
    }
    match days.or_else(|| {
        secret_type
            .default_rotation_interval_days()
            .map(|d| d as i32)
    }) {
        Some(d) => Ok(Some(d)),
        None => Err(SecretError::validation(
            "rotationIntervalDays",
            format!("is required when rotation is enabled for {secret_type} secrets"),
        )),
    }
}

/// The earlier of the expiry asked for and the value's own (a certificate's notAfter).
pub(super) fn earliest(
    a: Option<DateTime<Utc>>,
    b: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The owner ids a new secret gets, from its scope, the request and the caller's context.
pub(super) struct Owner {
    pub(super) organization_id: Option<String>,
    pub(super) team_id: Option<String>,
    pub(super) project_id: Option<String>,
    pub(super) user_id: Option<String>,
}

pub(super) fn resolve_owner(
    scope: SecretScope,
    target: &secret_core::model::ScopeTarget,
    ctx: &SecretContext,
) -> Result<Owner> {
    let org = target
        .organization_id
        .clone()
        .or_else(|| ctx.organization_id.clone());
    let team = target.team_id.clone().or_else(|| ctx.team_id.clone());
    let project = target.project_id.clone().or_else(|| ctx.project_id.clone());
    let require = |field: &str, v: Option<String>| -> Result<String> {
        let v = v.ok_or_else(|| {
            SecretError::validation(field, format!("is required for {scope} secrets"))
        })?;
        validate_platform_id(field, &v)?;
        Ok(v)
    };
    let forbid = |field: &str, v: &Option<String>| -> Result<()> {
        match v {
            Some(_) => Err(SecretError::validation(
                field,
                format!("is not allowed for {scope} secrets"),
            )),
            None => Ok(()),
        }
    };
    let optional = |field: &str, v: Option<String>| -> Result<Option<String>> {
        if let Some(v) = &v {
            validate_platform_id(field, v)?;
        }
        Ok(v)
    };
    Ok(match scope {
        SecretScope::Global => {
            forbid("organizationId", &target.organization_id)?;
            forbid("teamId", &target.team_id)?;
            forbid("projectId", &target.project_id)?;
            Owner {
                organization_id: None,
                team_id: None,
                project_id: None,
                user_id: None,
            }
        }
        SecretScope::Organization => {
            forbid("teamId", &target.team_id)?;
            forbid("projectId", &target.project_id)?;
            Owner {
                organization_id: Some(require("organizationId", org)?),
                team_id: None,
                project_id: None,
                user_id: None,
            }
        }
        SecretScope::Team => {
            forbid("projectId", &target.project_id)?;
            Owner {
                organization_id: Some(require("organizationId", org)?),
                team_id: Some(require("teamId", team)?),
                project_id: None,
                user_id: None,
            }
        }
        SecretScope::Project => {
            let org = require("organizationId", org)?;
            let project = require("projectId", project)?;
            // A project may sit under a team: the team id given explicitly, else the
            // project's own team as the caller's verified membership names it.
            let team = target.team_id.clone().or_else(|| {
                ctx.principal
                    .project_in(Some(&org), None, Some(&project))
                    .and_then(|m| m.team.clone())
            });
            Owner {
                organization_id: Some(org),
                team_id: optional("teamId", team)?,
                project_id: Some(project),
                user_id: None,
            }
        }
        SecretScope::User => {
            forbid("teamId", &target.team_id)?;
            forbid("projectId", &target.project_id)?;
            Owner {
                organization_id: optional("organizationId", org)?,
                team_id: None,
                project_id: None,
                user_id: Some(require("userId", Some(ctx.user_id().to_string()))?),
            }
        }
    })
}

/// The names of the metadata fields that differ between `a` and `b`.
pub(super) fn changed_fields(a: &SecretMetadata, b: &SecretMetadata) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut check = |name: &'static str, differs: bool| {
        if differs {
            out.push(name);
        }
    };
    check("description", a.description != b.description);
    check("expiresAt", a.expires_at != b.expires_at);
    check("rotationEnabled", a.rotation_enabled != b.rotation_enabled);
    check(
        "rotationIntervalDays",
        a.rotation_interval_days != b.rotation_interval_days,
    );
    check("tags", a.tags != b.tags);
    check("metadata", a.metadata != b.metadata);
    check("lifecycle", a.lifecycle != b.lifecycle);
    out
}

/// How recent an authentication must be for a permanent delete or an export of values
/// (§14.3).
const REAUTHENTICATION_WINDOW: chrono::Duration = chrono::Duration::minutes(5);

/// REAUTHENTICATION_REQUIRED unless the caller authenticated within the last five minutes.
pub(super) fn require_recent_authentication(ctx: &SecretContext, now: DateTime<Utc>) -> Result<()> {
    match ctx.principal.auth_time {
        Some(at) if now - at <= REAUTHENTICATION_WINDOW => Ok(()),
        _ => Err(SecretError::ReauthenticationRequired),
    }
}

pub(super) fn check_context(ctx: &SecretContext) -> Result<()> {
    validate_platform_id("userId", ctx.user_id())?;
    if ctx.consumer_module.trim().is_empty() {
        return Err(SecretError::validation(
            "consumerModule",
            "must not be empty",
        ));
    }
    Ok(())
}

fn action_name(action: Action) -> &'static str {
    match action {
        Action::Create => "creating",
        Action::ViewMetadata => "viewing",
        Action::Read => "reading the value of",
        Action::Update => "updating",
        Action::Delete => "deleting",
        Action::Grant => "managing access to",
    }
}

/// Turns a decision into the caller's answer: 404 for a secret it cannot see, 403 for one
/// it can see but not act on.
pub(super) fn enforce(decision: Decision, action: Action, id: &str) -> Result<()> {
    match decision {
        Decision::Allow => Ok(()),
        Decision::Deny => Err(SecretError::AccessDenied {
            reason: format!("{} secret {id} is not permitted", action_name(action)),
        }),
        Decision::Invisible => Err(not_found(id)),
    }
}
