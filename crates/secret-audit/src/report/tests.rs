use super::*;
use chrono::TimeZone;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).single().unwrap()
}

fn period() -> Period {
    Period {
        start: now() - days(30),
        end: now(),
    }
}

/// A live secret that triggers no finding: expiry far off, recently used, no rotation.
fn secret(id: &str) -> ReportSecret {
    ReportSecret {
        id: id.to_owned(),
        name: format!("name-{id}"),
        scope: SecretScope::Organization,
        secret_type: SecretType::ApiKey,
        organization_id: Some("org-1".to_owned()),
        expires_at: Some(now() + days(365)),
        rotation_enabled: false,
        last_rotated_at: None,
        next_rotation_at: None,
        created_at: now() - days(10),
        deleted_at: None,
        last_used_at: Some(now() - days(1)),
    }
}

fn grant(id: &str, secret_id: &str, expires_at: Option<DateTime<Utc>>) -> ReportGrant {
    ReportGrant {
        secret_id: secret_id.to_owned(),
        grant_id: id.to_owned(),
        grantee_type: GranteeType::User,
        grantee_id: "user-1".to_owned(),
        expires_at,
    }
}

fn build(secrets: &[ReportSecret], grants: &[ReportGrant]) -> ComplianceReport {
    ComplianceReport::build(
        ReportInput {
            organization_id: None,
            period: period(),
            secrets,
            grants,
            access: AccessReport::default(),
        },
        now(),
    )
}

fn findings_of(secrets: &[ReportSecret], category: &str, fragment: &str) -> Vec<Finding> {
    build(secrets, &[])
        .findings
        .into_iter()
        .filter(|f| f.category == category && f.description.contains(fragment))
        .collect()
}

#[test]
fn healthy_secret_yields_no_findings() {
    let report = build(&[secret("a")], &[]);
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    assert_eq!(report.summary.total_secrets, 1);
    assert_eq!(report.summary.active_secrets, 1);
}

#[test]
fn empty_input_yields_zero_summary_and_no_findings() {
    let report = build(&[], &[]);
    assert_eq!(report.summary, Summary::default());
    assert!(report.findings.is_empty());
}

#[test]
fn secret_without_expiry_is_reported_with_singular_description() {
    let mut s = secret("a");
    s.expires_at = None;
    let found = findings_of(&[s], CATEGORY_LIFECYCLE, "no expiration");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].severity, Severity::Medium);
    assert_eq!(found[0].description, "1 secret has no expiration date set");
    assert_eq!(found[0].affected_secrets, vec!["a"]);
}

#[test]
fn deleted_secrets_are_counted_but_never_reported() {
    let mut s = secret("gone");
    s.expires_at = None;
    s.deleted_at = Some(now() - days(1));
    let report = build(&[s, secret("kept")], &[grant("g", "gone", Some(now()))]);
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    assert_eq!(report.summary.total_secrets, 1);
    assert_eq!(report.summary.deleted_secrets, 1);
}

#[test]
fn rotation_overdue_only_past_ninety_days() {
    let mut at_89 = secret("at-89");
    at_89.rotation_enabled = true;
    at_89.last_rotated_at = Some(now() - days(89));
    let mut at_90 = secret("at-90");
    at_90.rotation_enabled = true;
    at_90.last_rotated_at = Some(now() - days(90));
    let mut at_91 = secret("at-91");
    at_91.rotation_enabled = true;
    at_91.last_rotated_at = Some(now() - days(91));
    let mut disabled = secret("disabled");
    disabled.last_rotated_at = Some(now() - days(200));
    let found = findings_of(
        &[at_89, at_90, at_91, disabled],
        CATEGORY_ROTATION,
        "rotated",
    );
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].severity, Severity::High);
    assert_eq!(found[0].affected_secrets, vec!["at-91"]);
    assert_eq!(
        found[0].description,
        "1 secret has not been rotated in 90+ days"
    );
}

#[test]
fn never_rotated_secret_is_aged_from_creation() {
    let mut young = secret("young");
    young.rotation_enabled = true;
    young.created_at = now() - days(89);
    let mut old = secret("old");
    old.rotation_enabled = true;
    old.created_at = now() - days(91);
    old.last_used_at = Some(now());
    let mut rotated_recently = secret("rotated");
    rotated_recently.rotation_enabled = true;
    rotated_recently.created_at = now() - days(400);
    rotated_recently.last_rotated_at = Some(now() - days(5));
    let found = findings_of(
        &[young, old, rotated_recently],
        CATEGORY_ROTATION,
        "rotated",
    );
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].affected_secrets, vec!["old"]);
}

#[test]
fn expired_secret_used_after_expiry_is_critical() {
    let mut used_after = secret("used-after");
    used_after.expires_at = Some(now() - days(2));
    used_after.last_used_at = Some(now() - days(1));
    let mut used_before = secret("used-before");
    used_before.expires_at = Some(now() - days(2));
    used_before.last_used_at = Some(now() - days(3));
    let mut used_at_expiry = secret("used-at-expiry");
    used_at_expiry.expires_at = Some(now() - days(2));
    used_at_expiry.last_used_at = used_at_expiry.expires_at;
    let mut not_yet_expired = secret("not-expired");
    not_yet_expired.expires_at = Some(now() + Duration::seconds(1));
    not_yet_expired.last_used_at = Some(now());
    let found = findings_of(
        &[used_after, used_before, used_at_expiry, not_yet_expired],
        CATEGORY_LIFECYCLE,
        "still in use",
    );
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].severity, Severity::Critical);
    assert_eq!(found[0].affected_secrets, vec!["used-after"]);
    assert_eq!(found[0].description, "1 secret is expired but still in use");
}

#[test]
fn secret_expiring_exactly_now_counts_as_expired() {
    let mut s = secret("a");
    s.expires_at = Some(now());
    s.last_used_at = Some(now() + Duration::seconds(1));
    let report = build(&[s], &[]);
    assert_eq!(report.summary.expired_secrets, 1);
    assert_eq!(report.summary.active_secrets, 0);
    assert_eq!(report.summary.expiring_within_30_days, 0);
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.severity == Severity::Critical)
    );
}

#[test]
fn expiring_window_includes_exactly_thirty_days_and_excludes_thirty_one() {
    let mut at_30 = secret("at-30");
    at_30.expires_at = Some(now() + days(30));
    let mut past_30 = secret("past-30");
    past_30.expires_at = Some(now() + days(30) + Duration::seconds(1));
    let mut at_29 = secret("at-29");
    at_29.expires_at = Some(now() + days(29));
    let report = build(&[at_30.clone(), past_30.clone(), at_29.clone()], &[]);
    assert_eq!(report.summary.expiring_within_30_days, 2);
    let found = findings_of(&[at_30, past_30, at_29], CATEGORY_LIFECYCLE, "expire");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].severity, Severity::Low);
    assert_eq!(found[0].affected_secrets, vec!["at-29", "at-30"]);
    assert_eq!(found[0].description, "2 secrets expire within 30 days");
}

#[test]
fn expiry_within_seven_days_raises_expiring_finding_to_medium() {
    let mut at_7 = secret("at-7");
    at_7.expires_at = Some(now() + days(7));
    let mut at_8 = secret("at-8");
    at_8.expires_at = Some(now() + days(8));
    let found = findings_of(&[at_8.clone()], CATEGORY_LIFECYCLE, "expire");
    assert_eq!(found[0].severity, Severity::Low);
    let found = findings_of(&[at_7, at_8], CATEGORY_LIFECYCLE, "expire");
    assert_eq!(found[0].severity, Severity::Medium);
}

#[test]
fn unused_only_past_ninety_days() {
    let mut at_89 = secret("at-89");
    at_89.last_used_at = Some(now() - days(89));
    let mut at_90 = secret("at-90");
    at_90.last_used_at = Some(now() - days(90));
    let mut at_91 = secret("at-91");
    at_91.last_used_at = Some(now() - days(91));
    let found = findings_of(&[at_89, at_90, at_91], CATEGORY_USAGE, "used");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].severity, Severity::Low);
    assert_eq!(found[0].affected_secrets, vec!["at-91"]);
    assert_eq!(
        found[0].description,
        "1 secret has not been used in 90+ days"
    );
}

#[test]
fn never_used_secret_is_unused_only_when_created_over_ninety_days_ago() {
    let mut young = secret("young");
    young.last_used_at = None;
    young.created_at = now() - days(89);
    let mut old = secret("old");
    old.last_used_at = None;
    old.created_at = now() - days(91);
    let found = findings_of(&[young, old], CATEGORY_USAGE, "used");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].affected_secrets, vec!["old"]);
}

#[test]
fn expired_grants_are_counted_per_grant_and_deduplicated_per_secret() {
    let secrets = [secret("b"), secret("a"), secret("c")];
    let grants = [
        grant("g1", "b", Some(now() - days(1))),
        grant("g2", "b", Some(now())),
        grant("g3", "a", Some(now() - days(40))),
        grant("g4", "c", Some(now() + Duration::seconds(1))),
        grant("g5", "c", None),
        grant("g6", "unknown", Some(now() - days(1))),
    ];
    let report = build(&secrets, &grants);
    let found: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.category == CATEGORY_ACCESS)
        .collect();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].severity, Severity::Medium);
    assert_eq!(
        found[0].description,
        "3 expired access grants are still present"
    );
    assert_eq!(found[0].affected_secrets, vec!["a", "b"]);
}

#[test]
fn summary_counts_each_life_stage() {
    let mut expired = secret("expired");
    expired.expires_at = Some(now() - days(1));
    let mut expiring = secret("expiring");
    expiring.expires_at = Some(now() + days(3));
    let mut due = secret("due");
    due.rotation_enabled = true;
    due.next_rotation_at = Some(now());
    let mut due_disabled = secret("due-disabled");
    due_disabled.next_rotation_at = Some(now() - days(1));
    let mut not_due = secret("not-due");
    not_due.rotation_enabled = true;
    not_due.next_rotation_at = Some(now() + Duration::seconds(1));
    let mut deleted = secret("deleted");
    deleted.expires_at = Some(now() - days(1));
    deleted.rotation_enabled = true;
    deleted.next_rotation_at = Some(now() - days(1));
    deleted.deleted_at = Some(now());
    let report = build(
        &[
            expired,
            expiring,
            due,
            due_disabled,
            not_due,
            deleted,
            secret("ok"),
        ],
        &[],
    );
    assert_eq!(
        report.summary,
        Summary {
            total_secrets: 6,
            active_secrets: 5,
            expired_secrets: 1,
            expiring_within_30_days: 1,
            rotations_due: 1,
            deleted_secrets: 1,
        }
    );
}

#[test]
fn findings_come_in_fixed_order_with_sorted_ids() {
    let mut no_expiry = secret("z-no-expiry");
    no_expiry.expires_at = None;
    let mut no_expiry_2 = secret("a-no-expiry");
    no_expiry_2.expires_at = None;
    let mut stale = secret("stale");
    stale.rotation_enabled = true;
    stale.created_at = now() - days(100);
    stale.last_rotated_at = Some(now() - days(100));
    stale.last_used_at = Some(now());
    let mut expired = secret("expired");
    expired.expires_at = Some(now() - days(1));
    expired.last_used_at = Some(now());
    let mut expiring = secret("expiring");
    expiring.expires_at = Some(now() + days(20));
    let mut unused = secret("unused");
    unused.last_used_at = Some(now() - days(120));
    let report = build(
        &[unused, expiring, expired, stale, no_expiry, no_expiry_2],
        &[grant("g", "expiring", Some(now() - days(1)))],
    );
    let order: Vec<(Severity, &str)> = report
        .findings
        .iter()
        .map(|f| (f.severity, f.category.as_str()))
        .collect();
    assert_eq!(
        order,
        vec![
            (Severity::Medium, CATEGORY_LIFECYCLE),
            (Severity::High, CATEGORY_ROTATION),
            (Severity::Critical, CATEGORY_LIFECYCLE),
            (Severity::Low, CATEGORY_LIFECYCLE),
            (Severity::Low, CATEGORY_USAGE),
            (Severity::Medium, CATEGORY_ACCESS),
        ]
    );
    assert_eq!(
        report.findings[0].affected_secrets,
        vec!["a-no-expiry", "z-no-expiry"]
    );
    assert_eq!(
        report.findings[0].description,
        "2 secrets have no expiration date set"
    );
}

#[test]
fn report_round_trips_through_json_with_wire_spelling() {
    let mut s = secret("a");
    s.expires_at = None;
    let report = ComplianceReport::build(
        ReportInput {
            organization_id: Some("org-1".to_owned()),
            period: period(),
            secrets: &[s],
            grants: &[],
            access: AccessReport::default(),
        },
        now(),
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["organizationId"], "org-1");
    assert_eq!(json["findings"][0]["severity"], "MEDIUM");
    assert_eq!(json["summary"]["expiringWithin30Days"], 0);
    let back: ComplianceReport = serde_json::from_value(json).unwrap();
    assert_eq!(back, report);
}

#[test]
fn report_over_all_organizations_omits_organization_id() {
    let json = serde_json::to_value(build(&[], &[])).unwrap();
    assert!(json.get("organizationId").is_none());
}
