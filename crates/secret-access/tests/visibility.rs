//! The listing filter agrees with the decision: for many generated principals, secrets and
//! grants, `is_visible` equals `decide(.., ViewMetadata, ..) != Invisible`.

mod common;

use chrono::Duration;
use secret_access::{
    Action, Decision, GranteeMatch, ProjectPlace, VisibilityFilter, decide, effective_permissions,
    is_visible,
};
use secret_core::model::AccessGrant;
use secret_core::{GranteeType, OrgRole, Principal, ProjectRole, SecretScope, TeamRole};

use common::{Owners, grant, now, secret};

/// A small deterministic pseudo-random generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn maybe<'a>(&mut self, items: &[&'a str]) -> Option<&'a str> {
        let i = self.below(items.len() + 1);
        items.get(i).copied()
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const ORGS: &[&str] = &["org-1", "org-2"];
const TEAMS: &[&str] = &["team-1", "team-2"];
const PROJECTS: &[&str] = &["project-1", "project-2"];
const USERS: &[&str] = &["u1", "u2", ""];
const ROLES: &[&str] = &["auditor", "ops"];

fn principal(rng: &mut Rng) -> Principal {
    let mut p = Principal::user(rng.pick(USERS));
    p.super_admin = rng.chance(5);
    for org in ORGS {
        match rng.below(3) {
            0 => p = p.with_org(*org, OrgRole::Admin),
            1 => p = p.with_org(*org, OrgRole::Member),
            _ => {}
        }
    }
    // Memberships name their organization (and a project its team), drawn at random so
    // that the same ids in another organization are exercised too.
    for team in TEAMS {
        let org = rng.pick(ORGS);
        match rng.below(3) {
            0 => p = p.with_team(*team, org, TeamRole::Lead),
            1 => p = p.with_team(*team, org, TeamRole::Member),
            _ => {}
        }
    }
    for project in PROJECTS {
        let (org, team) = (rng.pick(ORGS), rng.maybe(TEAMS));
        match rng.below(3) {
            0 => p = p.with_project(*project, org, team, ProjectRole::Admin),
            1 => p = p.with_project(*project, org, team, ProjectRole::Member),
            _ => {}
        }
    }
    for role in ROLES {
        if rng.chance(30) {
            let org = rng.maybe(ORGS);
            p = p.with_role(*role, org);
        }
    }
    p
}

fn grants_for(rng: &mut Rng, secret_id: &str) -> Vec<AccessGrant> {
    (0..rng.below(4))
        .map(|_| {
            let (kind, ids) = match rng.below(3) {
                0 => (GranteeType::User, USERS),
                1 => (GranteeType::Team, TEAMS),
                _ => (GranteeType::Role, ROLES),
            };
            let target = if rng.chance(85) {
                secret_id
            } else {
                "sec-other"
            };
            let flags = ["", "R", "RU", "G", "RUDG"][rng.below(5)];
            let expires_at = match rng.below(4) {
                0 => Some(now() - Duration::hours(1)),
                1 => Some(now()),
                2 => Some(now() + Duration::hours(1)),
                _ => None,
            };
            grant(target, kind, rng.pick(ids), flags, expires_at)
        })
        .collect()
}

#[test]
fn is_visible_agrees_with_decide_for_generated_cases() {
    let mut rng = Rng(0x5EC2_E7AC_CE55_0001);
    let mut visible = 0;
    let cases = 50_000;
    for case in 0..cases {
        let p = principal(&mut rng);
        let scope = SecretScope::ALL[rng.below(SecretScope::ALL.len())];
        let s = secret(
            "sec-1",
            scope,
            Owners {
                org: rng.maybe(ORGS),
                team: rng.maybe(TEAMS),
                project: rng.maybe(PROJECTS),
                user: rng.maybe(USERS),
            },
        );
        let grants = grants_for(&mut rng, &s.id);
        let decided = decide(&p, Action::ViewMetadata, &s, &grants, now()) != Decision::Invisible;
        let filtered = is_visible(&VisibilityFilter::for_principal(&p), &s, &grants, now());
        assert_eq!(
            decided, filtered,
            "case {case}: principal {p:?}\nsecret scope {scope} org {:?} team {:?} project {:?} \
             user {:?}\ngrants {grants:?}",
            s.organization_id, s.team_id, s.project_id, s.user_id
        );
        assert_eq!(
            decided,
            effective_permissions(&p, &s, &grants, now()).view_metadata,
            "case {case}"
        );
        // Every other action is Invisible exactly when the metadata is.
        for action in [Action::Read, Action::Update, Action::Delete, Action::Grant] {
            let d = decide(&p, action, &s, &grants, now());
            assert_eq!(d == Decision::Invisible, !decided, "case {case} {action}");
        }
        visible += usize::from(decided);
    }
    // The generator must exercise both outcomes substantially.
    assert!(
        visible > cases / 10 && visible < cases * 9 / 10,
        "{visible} of {cases} visible"
    );
}

#[test]
fn filter_lists_memberships_by_kind_with_their_places() {
    let p = Principal::user("u1")
        .with_org("org-1", OrgRole::Admin)
        .with_org("org-2", OrgRole::Member)
        .with_team("team-1", "org-1", TeamRole::Lead)
        .with_team("team-2", "org-2", TeamRole::Member)
        .with_project("project-1", "org-1", Some("team-1"), ProjectRole::Member)
        .with_role("auditor", None)
        .with_role("ops", Some("org-2"));
    let f = VisibilityFilter::for_principal(&p);
    assert!(!f.all);
    assert_eq!(f.user_id, "u1");
    assert_eq!(f.member_org_ids, ["org-1", "org-2"]);
    assert_eq!(f.admin_org_ids, ["org-1"]);
    let pair = |o: &str, t: &str| (o.to_owned(), t.to_owned());
    assert_eq!(
        f.member_teams,
        [pair("org-1", "team-1"), pair("org-2", "team-2")]
    );
    assert_eq!(f.lead_teams, [pair("org-1", "team-1")]);
    assert_eq!(
        f.member_projects,
        [ProjectPlace {
            organization_id: "org-1".to_owned(),
            team_id: Some("team-1".to_owned()),
            project_id: "project-1".to_owned(),
        }]
    );
    let g = |t: GranteeType, id: &str, org: Option<&str>| GranteeMatch {
        grantee_type: t,
        grantee_id: id.to_owned(),
        organization_id: org.map(str::to_owned),
    };
    assert_eq!(
        f.grantees,
        [
            g(GranteeType::User, "u1", None),
            g(GranteeType::Team, "team-1", Some("org-1")),
            g(GranteeType::Team, "team-2", Some("org-2")),
            g(GranteeType::Role, "auditor", None),
            g(GranteeType::Role, "ops", Some("org-2")),
        ]
    );
    assert!(VisibilityFilter::for_principal(&Principal::user("r").as_super_admin()).all);
}
