//! Access control as SecretService enforces it: 404 for what a caller cannot see, 403 for
//! what it sees but may not do, grants that add exactly their flags, no escalation.

// Tests and their helpers fail loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{Duration, Utc};
use secret_api::{
    CreateSecretParams, ErrorCode, GrantAccessParams, ListSecretsParams, OrgRole, Principal,
    SecretScope, TeamRole, UpdateValueParams,
};
use secret_core::GranteeType;
use secret_testkit::*;

fn params(name: &str, scope: SecretScope) -> CreateSecretParams {
    CreateSecretParams::new(name, scope, api_key("sk-access-0123456789"))
}

fn grant(
    grantee_type: GranteeType,
    id: &str,
    read: bool,
    update: bool,
    grant: bool,
) -> GrantAccessParams {
    GrantAccessParams {
        grantee_type,
        grantee_id: id.to_string(),
        can_read: read,
        can_update: update,
        can_delete: false,
        can_grant: grant,
        expires_at: None,
    }
}

fn member() -> secret_api::SecretContext {
    ctx_of(Principal::user("member").with_org("org-1", OrgRole::Member)).in_organization("org-1")
}

fn outsider() -> secret_api::SecretContext {
    ctx_of(Principal::user("outsider").with_org("org-2", OrgRole::Admin))
}

#[tokio::test]
async fn members_see_metadata_but_not_values_and_outsiders_see_nothing() {
    let t = TestService::new().await;
    let id = t
        .service
        .create_secret(params("ORG_KEY", SecretScope::Organization), &ctx())
        .await
        .unwrap()
        .id;
    assert!(t.service.get_metadata(&id, &member()).await.is_ok());
    let err = t.service.get_secret(&id, &member()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::AccessDenied);
    let err = t.service.get_secret(&id, &outsider()).await.unwrap_err();
    assert_eq!(
        err.code(),
        ErrorCode::SecretNotFound,
        "invisible secrets are 404, never 403"
    );
    let err = t.service.get_metadata(&id, &outsider()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::SecretNotFound);
    let err = t
        .service
        .delete_secret(&id, None, &member())
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::AccessDenied);
    let err = t
        .service
        .update_secret_value(
            &id,
            UpdateValueParams {
                value: api_key("sk-hijack-0000000"),
                change_reason: None,
                expected_version: None,
            },
            &outsider(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::SecretNotFound);
    assert_eq!(
        t.service
            .list_secrets(&ListSecretsParams::default(), &member())
            .await
            .unwrap()
            .total,
        1
    );
    assert_eq!(
        t.service
            .list_secrets(&ListSecretsParams::default(), &outsider())
            .await
            .unwrap()
            .total,
        0
    );
}

#[tokio::test]
async fn creating_needs_the_scope_owner_role() {
    let t = TestService::new().await;
    let err = t
        .service
        .create_secret(params("NOPE", SecretScope::Organization), &member())
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::AccessDenied);
    let err = t
        .service
        .create_secret(params("NOPE", SecretScope::Global), &ctx())
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::AccessDenied);
    // Anyone may keep personal secrets, created for themselves.
    let mine = t
        .service
        .create_secret(params("MINE", SecretScope::User), &member())
        .await
        .unwrap();
    assert_eq!(mine.user_id.as_deref(), Some("member"));
    assert!(t.service.get_secret(&mine.id, &member()).await.is_ok());
    assert_eq!(
        t.service
            .get_secret(&mine.id, &ctx())
            .await
            .unwrap_err()
            .code(),
        ErrorCode::SecretNotFound
    );
}

#[tokio::test]
async fn a_grant_adds_exactly_its_flags_until_revoked() {
    let t = TestService::new().await;
    let id = t
        .service
        .create_secret(params("GRANTED", SecretScope::Organization), &ctx())
        .await
        .unwrap()
        .id;
    let g = t
        .service
        .grant_access(
            &id,
            grant(GranteeType::User, "member", true, false, false),
            &ctx(),
        )
        .await
        .unwrap();
    assert!(t.service.get_secret(&id, &member()).await.is_ok());
    let err = t
        .service
        .update_secret_value(
            &id,
            UpdateValueParams {
                value: api_key("sk-member-000000"),
                change_reason: None,
                expected_version: None,
            },
            &member(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::AccessDenied);
    // A grant to the same grantee replaces the earlier one, keeping its id.
    let g2 = t
        .service
        .grant_access(
            &id,
            grant(GranteeType::User, "member", true, true, false),
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(g.id, g2.id);
    assert!(g2.can_update);
    assert_eq!(
        t.service
            .list_access_grants(&id, &ctx())
            .await
            .unwrap()
            .len(),
        1
    );
    t.service
        .update_secret_value(
            &id,
            UpdateValueParams {
                value: api_key("sk-member-000000"),
                change_reason: None,
                expected_version: None,
            },
            &member(),
        )
        .await
        .unwrap();
    t.service.revoke_access(&id, &g.id, &ctx()).await.unwrap();
    assert_eq!(
        t.service
            .get_secret(&id, &member())
            .await
            .unwrap_err()
            .code(),
        ErrorCode::AccessDenied
    );
    let err = t
        .service
        .revoke_access(&id, &g.id, &ctx())
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::SecretNotFound);
}

#[tokio::test]
async fn team_and_role_grants_reach_members_and_holders() {
    let t = TestService::new().await;
    let id = t
        .service
        .create_secret(params("SHARED", SecretScope::Organization), &ctx())
        .await
        .unwrap()
        .id;
    t.service
        .grant_access(
            &id,
            grant(GranteeType::Team, "team-7", true, false, false),
            &ctx(),
        )
        .await
        .unwrap();
    t.service
        .grant_access(
            &id,
            grant(GranteeType::Role, "ci-runner", true, false, false),
            &ctx(),
        )
        .await
        .unwrap();
    let teammate = ctx_of(Principal::user("t7").with_team("team-7", "org-1", TeamRole::Member));
    let runner = ctx_of(Principal::user("ci").with_role("ci-runner", None));
    let stranger = ctx_of(Principal::user("s").with_team("team-8", "org-1", TeamRole::Lead));
    assert!(t.service.get_secret(&id, &teammate).await.is_ok());
    assert!(t.service.get_secret(&id, &runner).await.is_ok());
    assert_eq!(
        t.service
            .get_secret(&id, &stranger)
            .await
            .unwrap_err()
            .code(),
        ErrorCode::SecretNotFound
    );
    // Granted secrets show up in the grantee's listing.
    let listed = t
        .service
        .list_secrets(&ListSecretsParams::default(), &runner)
        .await
        .unwrap();
    assert_eq!(
        listed
            .items
            .iter()
            .map(|m| m.id.as_str())
            .collect::<Vec<_>>(),
        vec![id.as_str()]
    );
}

#[tokio::test]
async fn expired_grants_give_nothing() {
    let (t, clock) = TestService::with_manual_clock().await;
    let id = t
        .service
        .create_secret(params("TEMP", SecretScope::Organization), &ctx())
        .await
        .unwrap()
        .id;
    let mut p = grant(GranteeType::User, "contractor", true, false, false);
    p.expires_at = Some(t0() + Duration::hours(1));
    t.service.grant_access(&id, p, &ctx()).await.unwrap();
    let contractor = ctx_of(Principal::user("contractor"));
    assert!(t.service.get_secret(&id, &contractor).await.is_ok());
    clock.advance(Duration::hours(2));
    assert_eq!(
        t.service
            .get_secret(&id, &contractor)
            .await
            .unwrap_err()
            .code(),
        ErrorCode::SecretNotFound
    );
    assert_eq!(
        t.service
            .list_secrets(&ListSecretsParams::default(), &contractor)
            .await
            .unwrap()
            .total,
        0
    );
    let mut past = grant(GranteeType::User, "contractor", true, false, false);
    past.expires_at = Some(t0());
    let err = t.service.grant_access(&id, past, &ctx()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::ValidationError);
}

#[tokio::test]
async fn nobody_hands_out_a_permission_they_do_not_hold() {
    let t = TestService::new().await;
    let id = t
        .service
        .create_secret(params("DELEGATED", SecretScope::Organization), &ctx())
        .await
        .unwrap()
        .id;
    t.service
        .grant_access(
            &id,
            grant(GranteeType::User, "member", true, false, true),
            &ctx(),
        )
        .await
        .unwrap();
    // Read + grant may pass on read ...
    t.service
        .grant_access(
            &id,
            grant(GranteeType::User, "friend", true, false, false),
            &member(),
        )
        .await
        .unwrap();
    // ... but not update.
    let err = t
        .service
        .grant_access(
            &id,
            grant(GranteeType::User, "friend", true, true, false),
            &member(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::AccessDenied);
    let friend = ctx_of(Principal::user("friend"));
    let err = t
        .service
        .grant_access(
            &id,
            grant(GranteeType::User, "x", true, false, false),
            &friend,
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        ErrorCode::AccessDenied,
        "a read grant gives no GRANT"
    );
    assert_eq!(
        t.service
            .list_access_grants(&id, &ctx())
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn permanent_delete_needs_a_recent_authentication() {
    let t = TestService::new().await;
    let id = t
        .service
        .create_secret(params("OLD_LOGIN", SecretScope::Organization), &ctx())
        .await
        .unwrap()
        .id;
    t.service.delete_secret(&id, None, &ctx()).await.unwrap();
    let mut stale = ctx();
    stale.principal.auth_time = Some(Utc::now() - Duration::minutes(6));
    let err = t
        .service
        .permanently_delete_secret(&id, &stale)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::ReauthenticationRequired);
    let mut unknown = ctx();
    unknown.principal.auth_time = None;
    assert_eq!(
        t.service
            .permanently_delete_secret(&id, &unknown)
            .await
            .unwrap_err()
            .code(),
        ErrorCode::ReauthenticationRequired
    );
    t.service
        .permanently_delete_secret(&id, &ctx())
        .await
        .unwrap();
}
