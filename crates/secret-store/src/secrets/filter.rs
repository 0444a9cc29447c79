//! Listing filters in SQL: the visibility rule of `secret_access` as a condition, and the
//! scope, type, tag and search filters of a listing.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, Query};
use sea_orm::{ColumnTrait, Condition};
use secret_core::{SecretScope, SecretType};

use crate::entity::{secret_access_grants, secrets};
use secret_access::{GranteeMatch, VisibilityFilter};

/// Filters and paging of a listing, already validated.
#[derive(Debug, Clone)]
pub struct SecretFilter {
    /// Which secrets the caller may see at all.
    pub visibility: VisibilityFilter,
    /// The instant grant expiry is judged at.
    pub now: DateTime<Utc>,
    pub scope: Option<SecretScope>,
    pub secret_type: Option<SecretType>,
    pub tags: Vec<String>,
    pub search: Option<String>,
    pub include_deleted: bool,
    pub page: u64,
    pub limit: u64,
}

/// Escapes LIKE's wildcards with `\`.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The SQL form of [`secret_access::is_visible`]: the secrets a principal may see.
fn visibility_condition(v: &VisibilityFilter, now: DateTime<Utc>) -> Condition {
    use secret_access_grants::Column as G;
    use secrets::Column as C;
    if v.all {
        return Condition::all();
    }
    let scope = |s: SecretScope| C::Scope.eq(s.as_str());
    let mut any = Condition::any().add(
        Condition::all()
            .add(scope(SecretScope::User))
            .add(C::UserId.eq(v.user_id.as_str())),
    );
    if !v.member_org_ids.is_empty() {
        any = any.add(
            Condition::all()
                .add(scope(SecretScope::Organization))
                .add(C::OrganizationId.is_in(v.member_org_ids.iter().map(String::as_str))),
        );
    }
    if !v.admin_org_ids.is_empty() {
        any = any.add(
            Condition::all()
                .add(C::Scope.is_in([
                    SecretScope::Organization.as_str(),
                    SecretScope::Team.as_str(),
                    SecretScope::Project.as_str(),
                ]))
                .add(C::OrganizationId.is_in(v.admin_org_ids.iter().map(String::as_str))),
        );
    }
    let team_pairs = |scope_of: SecretScope, pairs: &[(String, String)]| {
        let mut cond = Condition::any();
        for (org, team) in pairs {
            cond = cond.add(
                Condition::all()
                    .add(C::OrganizationId.eq(org.as_str()))
                    .add(C::TeamId.eq(team.as_str())),
            );
        }
        Condition::all().add(scope(scope_of)).add(cond)
    };
    if !v.member_teams.is_empty() {
        any = any.add(team_pairs(SecretScope::Team, &v.member_teams));
    }
    if !v.lead_teams.is_empty() {
        any = any.add(team_pairs(SecretScope::Project, &v.lead_teams));
    }
    if !v.member_projects.is_empty() {
        let mut projects = Condition::any();
        for p in &v.member_projects {
            // A secret naming a team matches only the project's own team.
            let team = match &p.team_id {
                Some(team) => Condition::any()
                    .add(C::TeamId.is_null())
                    .add(C::TeamId.eq(team.as_str())),
                None => Condition::all().add(C::TeamId.is_null()),
            };
            projects = projects.add(
                Condition::all()
                    .add(C::OrganizationId.eq(p.organization_id.as_str()))
                    .add(C::ProjectId.eq(p.project_id.as_str()))
                    .add(team),
            );
        }
        any = any.add(
            Condition::all()
                .add(scope(SecretScope::Project))
                .add(projects),
        );
    }
    // Grants, grouped by where they count: anywhere (the user, platform-wide roles), or
    // only on secrets of one organization (its teams and roles).
    let mut by_org: BTreeMap<Option<&str>, Vec<&GranteeMatch>> = BTreeMap::new();
    for g in &v.grantees {
        by_org
            .entry(g.organization_id.as_deref())
            .or_default()
            .push(g);
    }
    for (org, grantees) in by_org {
        let mut grantee = Condition::any();
        for g in grantees {
            grantee = grantee.add(
                Condition::all()
                    .add(G::GranteeType.eq(g.grantee_type.as_str()))
                    .add(G::GranteeId.eq(g.grantee_id.as_str())),
            );
        }
        let granted = Query::select()
            .column(G::SecretId)
            .from(secret_access_grants::Entity)
            .cond_where(
                Condition::all()
                    .add(
                        Condition::any()
                            .add(G::ExpiresAt.is_null())
                            .add(G::ExpiresAt.gt(now)),
                    )
                    .add(grantee),
            )
            .to_owned();
        let mut cond = Condition::all().add(C::Id.in_subquery(granted));
        if let Some(org) = org {
            cond = cond.add(C::OrganizationId.eq(org));
        }
        any = any.add(cond);
    }
    any
}

pub(super) fn filter_condition(f: &SecretFilter) -> Condition {
    use secrets::Column as C;
    let mut cond = Condition::all().add(visibility_condition(&f.visibility, f.now));
    if !f.include_deleted {
        cond = cond.add(C::DeletedAt.is_null());
    }
    if let Some(scope) = f.scope {
        cond = cond.add(C::Scope.eq(scope.as_str()));
    }
    if let Some(t) = f.secret_type {
        cond = cond.add(C::SecretType.eq(t.as_str()));
    }
    for tag in &f.tags {
        // Tags are stored as a JSON array of strings without quotes or backslashes.
        let pattern = format!("%\"{}\"%", like_escape(tag));
        cond = cond.add(Expr::col(C::Tags).like(LikeExpr::new(pattern).escape('\\')));
    }
    if let Some(search) = f.search.as_deref().filter(|s| !s.is_empty()) {
        let pattern = format!("%{}%", like_escape(&search.to_lowercase()));
        cond = cond.add(
            Condition::any()
                .add(
                    Expr::expr(Func::lower(Expr::col(C::Name)))
                        .like(LikeExpr::new(pattern.clone()).escape('\\')),
                )
                .add(
                    Expr::expr(Func::lower(Expr::col(C::Description)))
                        .like(LikeExpr::new(pattern).escape('\\')),
                ),
        );
    }
    cond
}
