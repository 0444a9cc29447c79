//! Granting and revoking: who may, and no escalation (a grant passes on only what the
//! granter holds).

mod common;

use chrono::Duration;
use secret_access::{check_grant, check_revoke};
use secret_core::model::{AccessGrant, GrantAccessParams, SecretMetadata};
use secret_core::{GranteeType, OrgRole, Principal, SecretError, SecretScope, TeamRole};

use common::{fixture_secret, grant, now};

fn request(grantee_id: &str, flags: &str) -> GrantAccessParams {
    GrantAccessParams {
        grantee_type: GranteeType::User,
        grantee_id: grantee_id.to_owned(),
        can_read: flags.contains('R'),
        can_update: flags.contains('U'),
        can_delete: flags.contains('D'),
        can_grant: flags.contains('G'),
        expires_at: None,
    }
}

/// A TEAM secret of team-1 on which "gina" holds the grant `flags`.
fn secret_with_grantee(flags: &str) -> (SecretMetadata, Vec<AccessGrant>, Principal) {
    let secret = fixture_secret(SecretScope::Team);
    let grants = vec![grant(&secret.id, GranteeType::User, "gina", flags, None)];
    (secret, grants, Principal::user("gina"))
}

fn team_lead() -> Principal {
    Principal::user("tina").with_team("team-1", "org-1", TeamRole::Lead)
}

#[test]
fn read_only_grantee_with_grant_cannot_hand_out_update() {
    let (secret, grants, gina) = secret_with_grantee("RG");
    let err = check_grant(&gina, &secret, &grants, &request("zoe", "RU"), now()).unwrap_err();
    match err {
        SecretError::AccessDenied { reason } => {
            assert!(reason.contains("canUpdate"), "{reason}");
            assert!(!reason.contains("canRead"), "{reason}");
        }
        other => panic!("expected AccessDenied, got {other:?}"),
    }
}

#[test]
fn denial_names_every_flag_the_granter_lacks() {
    let (secret, grants, gina) = secret_with_grantee("RG");
    let err = check_grant(&gina, &secret, &grants, &request("zoe", "RUDG"), now()).unwrap_err();
    let SecretError::AccessDenied { reason } = err else {
        panic!("expected AccessDenied");
    };
    assert!(reason.contains("canUpdate, canDelete"), "{reason}");
}

#[test]
fn grantee_with_grant_and_read_can_hand_out_read_and_grant() {
    let (secret, grants, gina) = secret_with_grantee("RG");
    check_grant(&gina, &secret, &grants, &request("zoe", "R"), now()).unwrap();
    check_grant(&gina, &secret, &grants, &request("zoe", "RG"), now()).unwrap();
}

#[test]
fn owner_can_hand_out_anything() {
    let secret = fixture_secret(SecretScope::Team);
    for owner in [
        team_lead(),
        Principal::user("alice").with_org("org-1", OrgRole::Admin),
        Principal::user("root").as_super_admin(),
    ] {
        check_grant(&owner, &secret, &[], &request("zoe", "RUDG"), now()).unwrap();
    }
}

#[test]
fn expiry_in_the_past_or_now_is_refused() {
    let secret = fixture_secret(SecretScope::Team);
    for at in [now() - Duration::minutes(5), now()] {
        let req = GrantAccessParams {
            expires_at: Some(at),
            ..request("zoe", "R")
        };
        let err = check_grant(&team_lead(), &secret, &[], &req, now()).unwrap_err();
        assert!(
            matches!(&err, SecretError::Validation { field, .. } if field == "expiresAt"),
            "{err:?}"
        );
    }
    let future = GrantAccessParams {
        expires_at: Some(now() + Duration::days(7)),
        ..request("zoe", "R")
    };
    check_grant(&team_lead(), &secret, &[], &future, now()).unwrap();
}

#[test]
fn empty_grantee_and_empty_permissions_are_validation_errors() {
    let secret = fixture_secret(SecretScope::Team);
    let err = check_grant(&team_lead(), &secret, &[], &request("  ", "R"), now()).unwrap_err();
    assert!(matches!(&err, SecretError::Validation { field, .. } if field == "granteeId"));
    let err = check_grant(&team_lead(), &secret, &[], &request("zoe", ""), now()).unwrap_err();
    assert!(matches!(err, SecretError::Validation { .. }), "{err:?}");
}

#[test]
fn granting_without_grant_is_denied_or_not_found() {
    let secret = fixture_secret(SecretScope::Team);
    let member = Principal::user("mia").with_team("team-1", "org-1", TeamRole::Member);
    let err = check_grant(&member, &secret, &[], &request("zoe", "R"), now()).unwrap_err();
    assert!(matches!(err, SecretError::AccessDenied { .. }), "{err:?}");

    let stranger = Principal::user("sam");
    let err = check_grant(&stranger, &secret, &[], &request("zoe", "R"), now()).unwrap_err();
    assert!(
        matches!(&err, SecretError::SecretNotFound { id } if *id == secret.id),
        "{err:?}"
    );

    // A grantee holding read and update but not grant sees the secret: 403.
    let (secret, grants, gina) = secret_with_grantee("RU");
    let err = check_grant(&gina, &secret, &grants, &request("zoe", "R"), now()).unwrap_err();
    assert!(matches!(err, SecretError::AccessDenied { .. }), "{err:?}");
}

#[test]
fn an_expired_grant_gives_no_right_to_grant() {
    let secret = fixture_secret(SecretScope::Team);
    let grants = vec![grant(
        &secret.id,
        GranteeType::User,
        "gina",
        "RUDG",
        Some(now() - Duration::seconds(1)),
    )];
    let err = check_grant(
        &Principal::user("gina"),
        &secret,
        &grants,
        &request("zoe", "R"),
        now(),
    )
    .unwrap_err();
    assert!(matches!(err, SecretError::SecretNotFound { .. }), "{err:?}");
}

#[test]
fn revoking_needs_grant() {
    let secret = fixture_secret(SecretScope::Team);
    check_revoke(&team_lead(), &secret, &[], now()).unwrap();

    let (secret, grants, gina) = secret_with_grantee("G");
    check_revoke(&gina, &secret, &grants, now()).unwrap();

    let member = Principal::user("mia").with_team("team-1", "org-1", TeamRole::Member);
    let err = check_revoke(&member, &secret, &grants, now()).unwrap_err();
    assert!(matches!(err, SecretError::AccessDenied { .. }), "{err:?}");

    let err = check_revoke(&Principal::user("sam"), &secret, &grants, now()).unwrap_err();
    assert!(matches!(err, SecretError::SecretNotFound { .. }), "{err:?}");
}

#[test]
fn a_grant_passed_on_expires_with_the_granters_own_grant() {
    let secret = fixture_secret(SecretScope::Team);
    let until = now() + Duration::seconds(60);
    let grants = vec![grant(
        &secret.id,
        GranteeType::User,
        "bob",
        "RG",
        Some(until),
    )];
    let bob = Principal::user("bob");
    // No expiry asked: capped at bob's.
    let expiry = check_grant(&bob, &secret, &grants, &request("carol", "R"), now()).unwrap();
    assert_eq!(expiry, Some(until));
    // A later expiry asked: capped too; an earlier one is kept.
    let mut later = request("carol", "R");
    later.expires_at = Some(now() + Duration::days(9));
    assert_eq!(
        check_grant(&bob, &secret, &grants, &later, now()).unwrap(),
        Some(until)
    );
    let mut sooner = request("carol", "R");
    sooner.expires_at = Some(now() + Duration::seconds(10));
    assert_eq!(
        check_grant(&bob, &secret, &grants, &sooner, now()).unwrap(),
        sooner.expires_at
    );
    // A permanent grant carrying READ, a time-limited one carrying GRANT: bounded by GRANT.
    let mixed = vec![
        grant(&secret.id, GranteeType::User, "bob", "R", None),
        grant(&secret.id, GranteeType::Role, "ops", "RG", Some(until)),
    ];
    let bob_ops = Principal::user("bob").with_role("ops", None);
    assert_eq!(
        check_grant(&bob_ops, &secret, &mixed, &request("carol", "R"), now()).unwrap(),
        Some(until)
    );
    // An owner's grants are bounded by nothing.
    assert_eq!(
        check_grant(
            &team_lead(),
            &secret,
            &grants,
            &request("carol", "R"),
            now()
        )
        .unwrap(),
        None
    );
}

#[test]
fn a_grantee_may_not_replace_or_extend_its_own_grant() {
    let secret = fixture_secret(SecretScope::Team);
    let grants = vec![
        grant(
            &secret.id,
            GranteeType::User,
            "bob",
            "RG",
            Some(now() + Duration::hours(1)),
        ),
        grant(&secret.id, GranteeType::Team, "team-9", "RG", None),
    ];
    let bob = Principal::user("bob").with_team("team-9", "org-1", TeamRole::Member);
    for (kind, id) in [(GranteeType::User, "bob"), (GranteeType::Team, "team-9")] {
        let mut own = request(id, "R");
        own.grantee_type = kind;
        let err = check_grant(&bob, &secret, &grants, &own, now()).unwrap_err();
        assert!(
            matches!(err, SecretError::AccessDenied { ref reason } if reason.contains("itself")),
            "{kind}: {err:?}"
        );
    }
    // The owner may replace anyone's grant, its own included.
    let lead = team_lead();
    let mut own = request("tina", "R");
    own.grantee_type = GranteeType::User;
    assert!(check_grant(&lead, &secret, &grants, &own, now()).is_ok());
}

#[test]
fn team_grants_need_a_secret_of_an_organization() {
    let secret = fixture_secret(SecretScope::Global);
    let root = Principal::user("root").as_super_admin();
    let mut to_team = request("team-1", "R");
    to_team.grantee_type = GranteeType::Team;
    let err = check_grant(&root, &secret, &[], &to_team, now()).unwrap_err();
    assert!(matches!(err, SecretError::Validation { .. }), "{err:?}");
}
