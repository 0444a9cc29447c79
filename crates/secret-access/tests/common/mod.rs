//! Fixtures shared by the integration tests: secrets of each scope and grants.

// Each test binary uses a different subset of these fixtures.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use secret_core::model::{AccessGrant, SecretMetadata};
use secret_core::{GranteeType, SecretScope, SecretType, StorageBackendKind};

/// The fixed "now" of every test.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

/// The owner ids a test secret names.
#[derive(Debug, Clone, Copy, Default)]
pub struct Owners<'a> {
    pub org: Option<&'a str>,
    pub team: Option<&'a str>,
    pub project: Option<&'a str>,
    pub user: Option<&'a str>,
}

/// A secret with the given scope and owner ids.
pub fn secret(id: &str, scope: SecretScope, owners: Owners<'_>) -> SecretMetadata {
    let Owners {
        org,
        team,
        project,
        user,
    } = owners;
    SecretMetadata {
        id: id.into(),
        name: format!("{id}-name"),
        description: None,
        secret_type: SecretType::ApiKey,
        scope,
        organization_id: org.map(str::to_owned),
        team_id: team.map(str::to_owned),
        project_id: project.map(str::to_owned),
        user_id: user.map(str::to_owned),
        storage_backend: StorageBackendKind::LocalEncrypted,
        vault_id: secret_core::VaultId::local(),
        current_version: 1,
        expires_at: None,
        rotation_enabled: false,
        rotation_interval_days: None,
        last_rotated_at: None,
        next_rotation_at: None,
        tags: vec![],
        metadata: BTreeMap::new(),
        facts: Default::default(),
        deleted_at: None,
        deleted_by_id: None,
        recovery_deadline: None,
        created_at: now() - Duration::days(10),
        created_by_id: "creator".to_owned(),
        updated_at: now() - Duration::days(10),
        updated_by_id: "creator".to_owned(),
        lifecycle: Default::default(),
        expired_at: None,
        rotation_failures: 0,
        last_rotation_error: None,
        usage: None,
        masked_value: None,
        sealed_masked: None,
    }
}

/// The fixture secret of `scope`: org "org-1", team "team-1", project "project-1" (with team
/// "team-1"), user "owner".
pub fn fixture_secret(scope: SecretScope) -> SecretMetadata {
    let id = format!("sec-{}", scope.as_str().to_lowercase());
    let (org, team) = (Some("org-1"), Some("team-1"));
    match scope {
        SecretScope::Global => secret(&id, scope, Owners::default()),
        SecretScope::Organization => secret(
            &id,
            scope,
            Owners {
                org,
                ..Owners::default()
            },
        ),
        SecretScope::Team => secret(
            &id,
            scope,
            Owners {
                org,
                team,
                ..Owners::default()
            },
        ),
        SecretScope::Project => secret(
            &id,
            scope,
            Owners {
                org,
                team,
                project: Some("project-1"),
                user: None,
            },
        ),
        SecretScope::User => secret(
            &id,
            scope,
            Owners {
                org,
                user: Some("owner"),
                ..Owners::default()
            },
        ),
    }
}

/// Which permissions a grant carries, as "RUDG" letters (e.g. "R", "RU", "RDG").
pub fn grant(
    secret_id: &str,
    grantee_type: GranteeType,
    grantee_id: &str,
    flags: &str,
    expires_at: Option<DateTime<Utc>>,
) -> AccessGrant {
    AccessGrant {
        id: format!("grant-{secret_id}-{grantee_id}").into(),
        secret_id: secret_id.into(),
        grantee_type,
        grantee_id: grantee_id.to_owned(),
        can_read: flags.contains('R'),
        can_update: flags.contains('U'),
        can_delete: flags.contains('D'),
        can_grant: flags.contains('G'),
        expires_at,
        granted_at: now() - Duration::days(1),
        granted_by_id: "granter".to_owned(),
    }
}
