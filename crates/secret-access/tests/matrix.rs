//! The whole permission matrix as data: every action × scope × caller, checked against
//! `can_create` (Create) and `decide` (the other actions).
//!
//! Read each row against part 1's matrix, part 2 §12.2 and ARCHITECTURE §4 (which wins):
//! A = allowed, D = denied (403; for Create: refused), I = invisible (404).

// Clippy's allow-*-in-tests settings cover `#[test]` functions only, not the helpers
// around them; in test code a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;

use chrono::Duration;
use secret_access::{Action, Decision, can_create, decide};
use secret_core::model::AccessGrant;
use secret_core::{GranteeType, OrgRole, Principal, ProjectRole, SecretScope, TeamRole};

use common::{fixture_secret, grant, now};

/// The callers, each described by what makes it interesting. Everyone except the super
/// admin, the other org's admin, the foreign callers and the grantees is a plain member of
/// "org-1". Team and project memberships name their organization (and a project its team):
/// the same ids in another organization are other teams and projects.
fn caller(name: &str) -> Principal {
    let in_org = |id: &str| Principal::user(id).with_org("org-1", OrgRole::Member);
    match name {
        "super_admin" => Principal::user("root").as_super_admin(),
        "org_admin" => Principal::user("alice").with_org("org-1", OrgRole::Admin),
        "other_org_admin" => Principal::user("oscar").with_org("org-2", OrgRole::Admin),
        "team_lead" => in_org("tina").with_team("team-1", "org-1", TeamRole::Lead),
        // Leads team-1 and the token names project-1 as a project of team-1.
        "team_lead_naming_project" => in_org("tara")
            .with_team("team-1", "org-1", TeamRole::Lead)
            .with_project("project-1", "org-1", Some("team-1"), ProjectRole::Member),
        "other_team_lead" => in_org("tom").with_team("team-2", "org-1", TeamRole::Lead),
        "team_member" => in_org("mia").with_team("team-1", "org-1", TeamRole::Member),
        "project_admin" => {
            in_org("paul").with_project("project-1", "org-1", Some("team-1"), ProjectRole::Admin)
        }
        "other_project_admin" => {
            in_org("pete").with_project("project-2", "org-1", Some("team-1"), ProjectRole::Admin)
        }
        // Administers project-1 of org-1, but under team-2: not the fixture's place.
        "project_admin_other_team" => {
            in_org("perry").with_project("project-1", "org-1", Some("team-2"), ProjectRole::Admin)
        }
        "project_member" => {
            in_org("pam").with_project("project-1", "org-1", Some("team-1"), ProjectRole::Member)
        }
        // The same team and project ids, in another organization.
        "foreign_team_lead" => Principal::user("fred")
            .with_org("org-2", OrgRole::Member)
            .with_team("team-1", "org-2", TeamRole::Lead),
        "foreign_project_admin" => Principal::user("fiona")
            .with_org("org-2", OrgRole::Member)
            .with_project("project-1", "org-2", Some("team-1"), ProjectRole::Admin),
        "user_owner" => in_org("owner"),
        "another_user" => in_org("ursula"),
        // USER grant to "gus": read only. No memberships.
        "user_grantee" => Principal::user("gus"),
        // TEAM grant to "team-3": read + update. Member of team-3 only.
        "team_grantee" => Principal::user("tess").with_team("team-3", "org-1", TeamRole::Member),
        // A member of a team-3 of another organization: the TEAM grant is not for it.
        "foreign_team_grantee" => {
            Principal::user("tanja").with_team("team-3", "org-2", TeamRole::Member)
        }
        // ROLE grant to "auditor": read + delete + grant. Holds that role platform-wide.
        "role_grantee" => Principal::user("rob").with_role("auditor", None),
        // Holds "auditor" within org-1 only, and within org-2 only.
        "org_role_grantee" => Principal::user("rita").with_role("auditor", Some("org-1")),
        "foreign_role_grantee" => Principal::user("ray").with_role("auditor", Some("org-2")),
        // USER grant to "ed" with every permission, expired an hour ago. No memberships.
        "expired_grantee" => Principal::user("ed"),
        other => panic!("unknown caller {other} in the table"),
    }
}

/// The grants every fixture secret carries.
fn fixture_grants(secret_id: &str) -> Vec<AccessGrant> {
    vec![
        grant(secret_id, GranteeType::User, "gus", "R", None),
        grant(
            secret_id,
            GranteeType::Team,
            "team-3",
            "RU",
            Some(now() + Duration::days(1)),
        ),
        grant(secret_id, GranteeType::Role, "auditor", "RDG", None),
        grant(
            secret_id,
            GranteeType::User,
            "ed",
            "RUDG",
            Some(now() - Duration::hours(1)),
        ),
    ]
}

const MATRIX: &str = "
# caller                   scope          Create View Read Update Delete Grant
super_admin                GLOBAL         A      A    A    A      A      A
org_admin                  GLOBAL         D      I    I    I      I      I
other_org_admin            GLOBAL         D      I    I    I      I      I
team_lead                  GLOBAL         D      I    I    I      I      I
team_lead_naming_project   GLOBAL         D      I    I    I      I      I
other_team_lead            GLOBAL         D      I    I    I      I      I
team_member                GLOBAL         D      I    I    I      I      I
project_admin              GLOBAL         D      I    I    I      I      I
other_project_admin        GLOBAL         D      I    I    I      I      I
project_admin_other_team   GLOBAL         D      I    I    I      I      I
project_member             GLOBAL         D      I    I    I      I      I
foreign_team_lead          GLOBAL         D      I    I    I      I      I
foreign_project_admin      GLOBAL         D      I    I    I      I      I
user_owner                 GLOBAL         D      I    I    I      I      I
another_user               GLOBAL         D      I    I    I      I      I
user_grantee               GLOBAL         D      A    A    D      D      D
team_grantee               GLOBAL         D      I    I    I      I      I
foreign_team_grantee       GLOBAL         D      I    I    I      I      I
role_grantee               GLOBAL         D      A    A    D      A      A
org_role_grantee           GLOBAL         D      I    I    I      I      I
foreign_role_grantee       GLOBAL         D      I    I    I      I      I
expired_grantee            GLOBAL         D      I    I    I      I      I

super_admin                ORGANIZATION   A      A    A    A      A      A
org_admin                  ORGANIZATION   A      A    A    A      A      A
other_org_admin            ORGANIZATION   D      I    I    I      I      I
team_lead                  ORGANIZATION   D      A    D    D      D      D
team_lead_naming_project   ORGANIZATION   D      A    D    D      D      D
other_team_lead            ORGANIZATION   D      A    D    D      D      D
team_member                ORGANIZATION   D      A    D    D      D      D
project_admin              ORGANIZATION   D      A    D    D      D      D
other_project_admin        ORGANIZATION   D      A    D    D      D      D
project_admin_other_team   ORGANIZATION   D      A    D    D      D      D
project_member             ORGANIZATION   D      A    D    D      D      D
foreign_team_lead          ORGANIZATION   D      I    I    I      I      I
foreign_project_admin      ORGANIZATION   D      I    I    I      I      I
user_owner                 ORGANIZATION   D      A    D    D      D      D
another_user               ORGANIZATION   D      A    D    D      D      D
user_grantee               ORGANIZATION   D      A    A    D      D      D
team_grantee               ORGANIZATION   D      A    A    A      D      D
foreign_team_grantee       ORGANIZATION   D      I    I    I      I      I
role_grantee               ORGANIZATION   D      A    A    D      A      A
org_role_grantee           ORGANIZATION   D      A    A    D      A      A
foreign_role_grantee       ORGANIZATION   D      I    I    I      I      I
expired_grantee            ORGANIZATION   D      I    I    I      I      I

super_admin                TEAM           A      A    A    A      A      A
org_admin                  TEAM           A      A    A    A      A      A
other_org_admin            TEAM           D      I    I    I      I      I
team_lead                  TEAM           A      A    A    A      A      A
team_lead_naming_project   TEAM           A      A    A    A      A      A
other_team_lead            TEAM           D      I    I    I      I      I
team_member                TEAM           D      A    D    D      D      D
project_admin              TEAM           D      I    I    I      I      I
other_project_admin        TEAM           D      I    I    I      I      I
project_admin_other_team   TEAM           D      I    I    I      I      I
project_member             TEAM           D      I    I    I      I      I
foreign_team_lead          TEAM           D      I    I    I      I      I
foreign_project_admin      TEAM           D      I    I    I      I      I
user_owner                 TEAM           D      I    I    I      I      I
another_user               TEAM           D      I    I    I      I      I
user_grantee               TEAM           D      A    A    D      D      D
team_grantee               TEAM           D      A    A    A      D      D
foreign_team_grantee       TEAM           D      I    I    I      I      I
role_grantee               TEAM           D      A    A    D      A      A
org_role_grantee           TEAM           D      A    A    D      A      A
foreign_role_grantee       TEAM           D      I    I    I      I      I
expired_grantee            TEAM           D      I    I    I      I      I

super_admin                PROJECT        A      A    A    A      A      A
org_admin                  PROJECT        A      A    A    A      A      A
other_org_admin            PROJECT        D      I    I    I      I      I
team_lead                  PROJECT        D      A    A    A      A      A
team_lead_naming_project   PROJECT        A      A    A    A      A      A
other_team_lead            PROJECT        D      I    I    I      I      I
team_member                PROJECT        D      I    I    I      I      I
project_admin              PROJECT        A      A    A    A      A      A
other_project_admin        PROJECT        D      I    I    I      I      I
project_admin_other_team   PROJECT        D      I    I    I      I      I
project_member             PROJECT        D      A    D    D      D      D
foreign_team_lead          PROJECT        D      I    I    I      I      I
foreign_project_admin      PROJECT        D      I    I    I      I      I
user_owner                 PROJECT        D      I    I    I      I      I
another_user               PROJECT        D      I    I    I      I      I
user_grantee               PROJECT        D      A    A    D      D      D
team_grantee               PROJECT        D      A    A    A      D      D
foreign_team_grantee       PROJECT        D      I    I    I      I      I
role_grantee               PROJECT        D      A    A    D      A      A
org_role_grantee           PROJECT        D      A    A    D      A      A
foreign_role_grantee       PROJECT        D      I    I    I      I      I
expired_grantee            PROJECT        D      I    I    I      I      I

super_admin                USER           A      A    A    A      A      A
org_admin                  USER           A      I    I    I      I      I
other_org_admin            USER           D      I    I    I      I      I
team_lead                  USER           A      I    I    I      I      I
team_lead_naming_project   USER           A      I    I    I      I      I
other_team_lead            USER           A      I    I    I      I      I
team_member                USER           A      I    I    I      I      I
project_admin              USER           A      I    I    I      I      I
other_project_admin        USER           A      I    I    I      I      I
project_admin_other_team   USER           A      I    I    I      I      I
project_member             USER           A      I    I    I      I      I
foreign_team_lead          USER           D      I    I    I      I      I
foreign_project_admin      USER           D      I    I    I      I      I
user_owner                 USER           A      A    A    A      A      A
another_user               USER           A      I    I    I      I      I
user_grantee               USER           D      A    A    D      D      D
team_grantee               USER           D      A    A    A      D      D
foreign_team_grantee       USER           D      I    I    I      I      I
role_grantee               USER           D      A    A    D      A      A
org_role_grantee           USER           D      A    A    D      A      A
foreign_role_grantee       USER           D      I    I    I      I      I
expired_grantee            USER           D      I    I    I      I      I
";

fn letter(decision: Decision) -> &'static str {
    match decision {
        Decision::Allow => "A",
        Decision::Deny => "D",
        Decision::Invisible => "I",
    }
}

/// The outcome for one cell: `can_create` for Create (A or D), `decide` otherwise.
fn outcome(principal: &Principal, scope: SecretScope, action: Action) -> &'static str {
    let secret = fixture_secret(scope);
    match action {
        Action::Create => {
            let allowed = can_create(
                principal,
                scope,
                secret.organization_id.as_deref(),
                secret.team_id.as_deref(),
                secret.project_id.as_deref(),
            );
            if allowed { "A" } else { "D" }
        }
        other => letter(decide(
            principal,
            other,
            &secret,
            &fixture_grants(&secret.id),
            now(),
        )),
    }
}

#[test]
fn decisions_match_the_permission_matrix() {
    let mut mismatches = Vec::new();
    let mut seen = BTreeSet::new();
    for (line_no, line) in MATRIX.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            cells.len(),
            8,
            "matrix line {line_no} has {} cells",
            cells.len()
        );
        let (name, scope) = (cells[0], cells[1]);
        assert!(seen.insert((name, scope)), "duplicate row {name} {scope}");
        let scope: SecretScope = scope.parse().unwrap();
        let principal = caller(name);
        for (action, expected) in Action::ALL.into_iter().zip(&cells[2..]) {
            let actual = outcome(&principal, scope, action);
            if actual != *expected {
                mismatches.push(format!(
                    "  {name:<20} {:<13} {:<14} expected {expected}, got {actual}",
                    scope.as_str(),
                    action.as_str()
                ));
            }
        }
    }
    assert_eq!(
        seen.len(),
        22 * SecretScope::ALL.len(),
        "every caller × scope once"
    );
    assert!(
        mismatches.is_empty(),
        "{} cells differ from the matrix:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn create_on_an_existing_user_secret_is_for_its_owner_and_super_admins() {
    let secret = fixture_secret(SecretScope::User);
    let grants = fixture_grants(&secret.id);
    let create = |p: &Principal| decide(p, Action::Create, &secret, &grants, now());
    assert_eq!(create(&caller("user_owner")), Decision::Allow);
    assert_eq!(create(&caller("super_admin")), Decision::Allow);
    assert_eq!(create(&caller("another_user")), Decision::Invisible);
    assert_eq!(create(&caller("user_grantee")), Decision::Deny);
}

#[test]
fn create_needs_the_ids_of_its_scope() {
    let lead = caller("team_lead");
    let admin = caller("org_admin");
    assert!(!can_create(
        &lead,
        SecretScope::Team,
        Some("org-1"),
        None,
        None
    ));
    assert!(!can_create(
        &admin,
        SecretScope::Team,
        Some("org-1"),
        None,
        None
    ));
    assert!(!can_create(
        &admin,
        SecretScope::Organization,
        None,
        None,
        None
    ));
    assert!(!can_create(
        &lead,
        SecretScope::Project,
        Some("org-1"),
        Some("team-1"),
        None
    ));
    // A lead creates PROJECT secrets only for projects of its team that the token names,
    // in the team's own organization.
    assert!(!can_create(
        &lead,
        SecretScope::Project,
        None,
        Some("team-1"),
        Some("project-9")
    ));
    assert!(!can_create(
        &lead,
        SecretScope::Project,
        Some("org-1"),
        Some("team-1"),
        Some("project-9")
    ));
    let naming = caller("team_lead_naming_project");
    assert!(can_create(
        &naming,
        SecretScope::Project,
        Some("org-1"),
        Some("team-1"),
        Some("project-1")
    ));
    assert!(!can_create(
        &naming,
        SecretScope::Project,
        Some("org-2"),
        Some("team-1"),
        Some("project-1")
    ));
    // A project admin only at its project's own place: organization and team.
    let admin_of_project = caller("project_admin");
    assert!(!can_create(
        &admin_of_project,
        SecretScope::Project,
        Some("org-1"),
        None,
        Some("project-1")
    ));
    assert!(!can_create(
        &admin_of_project,
        SecretScope::Project,
        Some("org-1"),
        Some("team-2"),
        Some("project-1")
    ));
    assert!(!can_create(
        &Principal::user(""),
        SecretScope::User,
        None,
        None,
        None
    ));
}

#[test]
fn grants_for_another_secret_do_not_apply() {
    let secret = fixture_secret(SecretScope::Organization);
    let elsewhere = fixture_grants("sec-other");
    assert_eq!(
        decide(
            &caller("user_grantee"),
            Action::Read,
            &secret,
            &elsewhere,
            now()
        ),
        Decision::Invisible
    );
}

#[test]
fn a_grant_expiring_exactly_now_no_longer_applies() {
    let secret = fixture_secret(SecretScope::Global);
    let grants = vec![grant(
        &secret.id,
        GranteeType::User,
        "gus",
        "R",
        Some(now()),
    )];
    assert_eq!(
        decide(
            &caller("user_grantee"),
            Action::Read,
            &secret,
            &grants,
            now()
        ),
        Decision::Invisible
    );
    assert_eq!(
        decide(
            &caller("user_grantee"),
            Action::Read,
            &secret,
            &grants,
            now() - Duration::seconds(1)
        ),
        Decision::Allow
    );
}
