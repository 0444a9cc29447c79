//! Listing is filtered in SQL: on 1,000+ secrets spread over every scope, with user, team,
//! role and expired grants, each principal's pages hold exactly the secrets the in-memory
//! rule (`secret_access::is_visible`, itself tested equal to the ViewMetadata decision) allows.

// Tests and their helpers fail loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use chrono::Duration;
use secret_access::{VisibilityFilter, is_visible};
use secret_api::{
    CreateSecretParams, GrantAccessParams, ListSecretsParams, OrgRole, Principal, ProjectRole,
    ScopeTarget, SecretContext, SecretScope, SecretValue, TeamRole,
};
use secret_core::value::GenericSecret;
use secret_core::{AnySecretValue, GranteeType, SecretId};
use secret_store::SecretRepository;
use secret_testkit::*;

fn params(i: usize, scope: SecretScope, target: ScopeTarget) -> CreateSecretParams {
    let value = SecretValue::new(AnySecretValue::Generic(GenericSecret {
        value: format!("v{i}"),
    }));
    CreateSecretParams {
        target,
        ..CreateSecretParams::new(format!("S{i:04}"), scope, value)
    }
}

fn grant(
    kind: GranteeType,
    id: &str,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
) -> GrantAccessParams {
    GrantAccessParams {
        grantee_type: kind,
        grantee_id: id.to_string(),
        can_read: true,
        can_update: false,
        can_delete: false,
        can_grant: false,
        expires_at,
    }
}

async fn listed_ids(t: &TestService, ctx: &SecretContext) -> (BTreeSet<SecretId>, u64) {
    let mut ids = BTreeSet::new();
    let mut total = None;
    for page in 1.. {
        let res = t
            .service
            .list_secrets(
                &ListSecretsParams {
                    page: Some(page),
                    limit: Some(100),
                    ..Default::default()
                },
                ctx,
            )
            .await
            .unwrap();
        assert_eq!(
            *total.get_or_insert(res.total),
            res.total,
            "total is stable across pages"
        );
        if res.items.is_empty() {
            break;
        }
        for m in res.items {
            assert!(ids.insert(m.id), "no secret appears on two pages");
        }
    }
    (ids, total.unwrap_or(0))
}

#[tokio::test]
async fn each_principal_lists_exactly_what_it_may_see() {
    let (t, clock) = TestService::with_manual_clock().await;
    let root = super_ctx();
    let mut ids = Vec::new();
    for i in 0..1000usize {
        let org = format!("org-{}", i % 3);
        let (scope, target, ctx) = match i % 5 {
            0 => (SecretScope::Global, ScopeTarget::default(), root.clone()),
            1 => (
                SecretScope::Organization,
                ScopeTarget {
                    organization_id: Some(org),
                    ..Default::default()
                },
                root.clone(),
            ),
            2 => (
                SecretScope::Team,
                ScopeTarget {
                    organization_id: Some(org),
                    team_id: Some(format!("team-{}", i % 4)),
                    ..Default::default()
                },
                root.clone(),
            ),
            3 => (
                SecretScope::Project,
                ScopeTarget {
                    organization_id: Some(org),
                    team_id: (i % 2 == 0).then(|| format!("team-{}", i % 4)),
                    project_id: Some(format!("project-{}", i % 6)),
                },
                root.clone(),
            ),
            _ => {
                let user = Principal::user(format!("user-{}", i % 4));
                (SecretScope::User, ScopeTarget::default(), ctx_of(user))
            }
        };
        ids.push(
            t.service
                .create_secret(params(i, scope, target), &ctx)
                .await
                .unwrap()
                .id,
        );
    }
    for (i, id) in ids.iter().enumerate() {
        if i % 7 == 0 {
            t.service
                .grant_access(id, grant(GranteeType::User, "user-1", None), &root)
                .await
                .unwrap();
        }
        // TEAM grants need a secret of an organization (ORGANIZATION, TEAM, PROJECT).
        if i % 11 == 0 && (1..=3).contains(&(i % 5)) {
            t.service
                .grant_access(id, grant(GranteeType::Team, "team-9", None), &root)
                .await
                .unwrap();
        }
        if i % 13 == 0 {
            t.service
                .grant_access(id, grant(GranteeType::Role, "ci", None), &root)
                .await
                .unwrap();
        }
        if i % 17 == 0 {
            let soon = Some(t0() + Duration::hours(1));
            t.service
                .grant_access(id, grant(GranteeType::User, "user-2", soon), &root)
                .await
                .unwrap();
        }
    }
    // user-2's grants have now expired.
    clock.advance(Duration::hours(2));

    // Team, project and role memberships name their organization (and a project its
    // team): the same ids elsewhere are other teams, projects and roles.
    let principals = vec![
        Principal::user("org-admin").with_org("org-0", OrgRole::Admin),
        Principal::user("member")
            .with_org("org-1", OrgRole::Member)
            .with_team("team-1", "org-1", TeamRole::Member),
        Principal::user("lead").with_team("team-2", "org-2", TeamRole::Lead),
        Principal::user("project").with_project("project-3", "org-0", None, ProjectRole::Member),
        Principal::user("project-admin")
            .with_project("project-5", "org-2", Some("team-1"), ProjectRole::Admin)
            .with_org("org-2", OrgRole::Member),
        Principal::user("user-1"),
        Principal::user("user-2"),
        Principal::user("runner")
            .with_role("ci", Some("org-1"))
            .with_team("team-9", "org-0", TeamRole::Member),
        Principal::user("platform-runner").with_role("ci", None),
        Principal::user("nobody"),
        Principal::user("root").as_super_admin(),
    ];

    // The whole data set, as a super admin sees it, with every grant.
    let all = listed_ids(&t, &root).await.0;
    assert_eq!(all.len(), 1000);
    let mut metas = Vec::new();
    for id in &all {
        metas.push(t.service.get_metadata(id, &root).await.unwrap());
    }
    let repo = SecretRepository::new(t.db.connect().await);
    let all_refs: Vec<&str> = all.iter().map(SecretId::as_str).collect();
    let grants = repo.grants_on(&all_refs).await.unwrap();
    assert!(grants.len() > 200);

    for p in principals {
        let filter = VisibilityFilter::for_principal(&p);
        let expected: BTreeSet<SecretId> = metas
            .iter()
            .filter(|m| is_visible(&filter, m, &grants, clock_now(&clock)))
            .map(|m| m.id.clone())
            .collect();
        if p.user_id != "nobody" {
            assert!(!expected.is_empty(), "{} should see something", p.user_id);
        }
        let (got, total) = listed_ids(&t, &ctx_of(p.clone())).await;
        assert_eq!(total as usize, expected.len(), "{}: total", p.user_id);
        assert_eq!(got, expected, "{}: listed set", p.user_id);
    }
}

fn clock_now(clock: &secret_core::ManualClock) -> chrono::DateTime<chrono::Utc> {
    use secret_core::Clock;
    clock.now()
}
