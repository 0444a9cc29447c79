//! A compliance report built from a prepared data set: its JSON figures, and the same figures
//! read back from the rendered PDF by a real PDF parser.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use lopdf::{Document, LoadOptions, Object};
use secret_audit::pdf::render_pdf;
use secret_audit::report::{
    AccessReport, ComplianceReport, Period, ReportGrant, ReportInput, ReportSecret, Severity,
};
use secret_core::{GranteeType, SecretScope, SecretType};
use serde_json::json;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).single().unwrap()
}

fn days(n: i64) -> Duration {
    Duration::days(n)
}

fn period() -> Period {
    Period {
        start: Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).single().unwrap(),
        end: Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).single().unwrap(),
    }
}

/// A live secret that triggers no finding; each case below changes what it is about.
fn secret(id: &str) -> ReportSecret {
    ReportSecret {
        id: id.to_owned(),
        name: format!("{id}-name"),
        scope: SecretScope::Organization,
        secret_type: SecretType::ApiKey,
        organization_id: Some("org-acme".to_owned()),
        expires_at: Some(now() + days(200)),
        rotation_enabled: false,
        last_rotated_at: None,
        next_rotation_at: None,
        created_at: now() - days(30),
        deleted_at: None,
        last_used_at: Some(now() - days(1)),
    }
}

fn grant(id: &str, secret_id: &str, expires_at: Option<DateTime<Utc>>) -> ReportGrant {
    ReportGrant {
        secret_id: secret_id.to_owned(),
        grant_id: id.to_owned(),
        grantee_type: GranteeType::Team,
        grantee_id: "team-ops".to_owned(),
        expires_at,
    }
}

fn data_set() -> (Vec<ReportSecret>, Vec<ReportGrant>) {
    let healthy_1 = secret("sec-healthy-1");
    let mut healthy_2 = secret("sec-healthy-2");
    healthy_2.scope = SecretScope::Team;

    let mut no_expiry_1 = secret("sec-no-expiry-1");
    no_expiry_1.expires_at = None;
    let mut no_expiry_2 = secret("sec-no-expiry-2");
    no_expiry_2.expires_at = None;
    no_expiry_2.secret_type = SecretType::UsernamePassword;
    // Also due for rotation, but rotated recently enough not to be stale.
    let mut no_expiry_3 = secret("sec-no-expiry-3");
    no_expiry_3.expires_at = None;
    no_expiry_3.rotation_enabled = true;
    no_expiry_3.last_rotated_at = Some(now() - days(10));
    no_expiry_3.next_rotation_at = Some(now() - days(1));

    let mut stale_1 = secret("sec-stale-rotation-1");
    stale_1.rotation_enabled = true;
    stale_1.created_at = now() - days(200);
    stale_1.last_rotated_at = Some(now() - days(120));
    stale_1.next_rotation_at = Some(now() - days(30));
    let mut stale_2 = secret("sec-stale-rotation-2");
    stale_2.rotation_enabled = true;
    stale_2.created_at = now() - days(95);
    stale_2.next_rotation_at = Some(now() - days(5));

    let mut expired_in_use = secret("sec-expired-in-use");
    expired_in_use.expires_at = Some(now() - days(3));
    expired_in_use.last_used_at = Some(now() - days(1));
    let mut expired_idle = secret("sec-expired-idle");
    expired_idle.expires_at = Some(now() - days(10));
    expired_idle.last_used_at = Some(now() - days(15));

    let mut expiring_soon = secret("sec-expiring-soon");
    expiring_soon.expires_at = Some(now() + days(5));
    let mut expiring_at_30 = secret("sec-expiring-at-30-days");
    expiring_at_30.expires_at = Some(now() + days(30));

    let mut unused = secret("sec-unused");
    unused.created_at = now() - days(300);
    unused.last_used_at = Some(now() - days(100));
    let mut never_used = secret("sec-never-used");
    never_used.created_at = now() - days(120);
    never_used.last_used_at = None;

    // Soft-deleted: counted, never reported, even though they would trigger findings.
    let mut deleted_1 = secret("sec-deleted-1");
    deleted_1.expires_at = None;
    deleted_1.deleted_at = Some(now() - days(2));
    let mut deleted_2 = secret("sec-deleted-2");
    deleted_2.expires_at = Some(now() - days(5));
    deleted_2.last_used_at = Some(now() - days(1));
    deleted_2.deleted_at = Some(now() - days(1));

    let secrets = vec![
        healthy_1,
        healthy_2,
        no_expiry_3,
        no_expiry_1,
        no_expiry_2,
        stale_2,
        stale_1,
        expired_in_use,
        expired_idle,
        expiring_soon,
        expiring_at_30,
        unused,
        never_used,
        deleted_1,
        deleted_2,
    ];
    let grants = vec![
        grant("grant-1", "sec-healthy-1", Some(now() - days(1))),
        grant("grant-2", "sec-healthy-1", Some(now() - days(40))),
        grant("grant-3", "sec-unused", Some(now() - days(10))),
        grant("grant-4", "sec-healthy-2", Some(now() + days(10))),
        grant("grant-5", "sec-healthy-2", None),
        grant("grant-6", "sec-deleted-1", Some(now() - days(3))),
    ];
    (secrets, grants)
}

fn access() -> AccessReport {
    AccessReport {
        total_accesses: 1234,
        unique_users: 17,
        accesses_by_scope: BTreeMap::from([
            ("ORGANIZATION".to_owned(), 1000),
            ("TEAM".to_owned(), 200),
            ("PROJECT".to_owned(), 34),
        ]),
        accesses_by_module: BTreeMap::from([("billing".to_owned(), 700), ("crm".to_owned(), 534)]),
        denied_accesses: 12,
    }
}

fn prepared_report() -> ComplianceReport {
    let (secrets, grants) = data_set();
    ComplianceReport::build(
        ReportInput {
            organization_id: Some("org-acme".to_owned()),
            period: period(),
            secrets: &secrets,
            grants: &grants,
            access: access(),
        },
        now(),
    )
}

/// Loads the PDF strictly (no repair of damaged cross-reference data) and returns its text,
/// page by page.
fn pdf_pages_text(bytes: &[u8]) -> Vec<String> {
    assert!(bytes.starts_with(b"%PDF-"), "no PDF header");
    let options = LoadOptions {
        strict: true,
        ..Default::default()
    };
    let doc = Document::load_mem_with_options(bytes, options).expect("the PDF must parse");
    assert!(
        doc.xref_recovery.is_none(),
        "the cross-reference table needed repair"
    );
    let pages = doc.get_pages();
    assert!(!pages.is_empty());
    for &page_id in pages.values() {
        let page = doc.get_dictionary(page_id).unwrap();
        let media_box: Vec<f32> = page
            .get(b"MediaBox")
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_float().unwrap())
            .collect();
        assert_eq!(media_box, vec![0.0, 0.0, 595.0, 842.0], "A4 page");
        let fonts = doc.get_page_fonts(page_id).unwrap();
        let base_fonts: Vec<&[u8]> = fonts
            .values()
            .map(|f| f.get(b"BaseFont").unwrap().as_name().unwrap())
            .collect();
        assert_eq!(base_fonts, vec![&b"Helvetica"[..], &b"Helvetica-Bold"[..]]);
        for font in fonts.values() {
            assert_eq!(
                font.get(b"Encoding").unwrap(),
                &Object::Name(b"WinAnsiEncoding".to_vec())
            );
        }
    }
    pages
        .keys()
        .map(|&number| doc.extract_text(&[number]).expect("page text"))
        .collect()
}

/// The text with every run of whitespace (line breaks from wrapping included) as one space.
fn normalized(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn report_json_has_the_exact_figures_in_wire_spelling() {
    let report = prepared_report();
    let json = serde_json::to_value(&report).unwrap();

    let mut keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        vec![
            "accessReport",
            "findings",
            "generatedAt",
            "organizationId",
            "period",
            "summary"
        ]
    );
    assert_eq!(json["generatedAt"], "2026-06-01T12:00:00Z");
    assert_eq!(json["organizationId"], "org-acme");
    assert_eq!(
        json["period"],
        json!({ "start": "2026-05-01T00:00:00Z", "end": "2026-06-01T00:00:00Z" })
    );
    assert_eq!(
        json["summary"],
        json!({
            "totalSecrets": 13,
            "activeSecrets": 11,
            "expiredSecrets": 2,
            "expiringWithin30Days": 2,
            "rotationsDue": 3,
            "deletedSecrets": 2,
        })
    );
    assert_eq!(
        json["accessReport"],
        json!({
            "totalAccesses": 1234,
            "uniqueUsers": 17,
            "accessesByScope": { "ORGANIZATION": 1000, "PROJECT": 34, "TEAM": 200 },
            "accessesByModule": { "billing": 700, "crm": 534 },
            "deniedAccesses": 12,
        })
    );
    assert_eq!(
        json["findings"],
        json!([
            {
                "severity": "MEDIUM",
                "category": "Lifecycle",
                "description": "3 secrets have no expiration date set",
                "affectedSecrets": ["sec-no-expiry-1", "sec-no-expiry-2", "sec-no-expiry-3"],
                "recommendation": "Set expiration dates for all secrets per security policy",
            },
            {
                "severity": "HIGH",
                "category": "Rotation",
                "description": "2 secrets have not been rotated in 90+ days",
                "affectedSecrets": ["sec-stale-rotation-1", "sec-stale-rotation-2"],
                "recommendation": "Rotate secrets according to rotation policy",
            },
            {
                "severity": "CRITICAL",
                "category": "Lifecycle",
                "description": "1 secret is expired but still in use",
                "affectedSecrets": ["sec-expired-in-use"],
                "recommendation":
                    "Rotate or renew these secrets now and update every consumer still using them",
            },
            {
                "severity": "MEDIUM",
                "category": "Lifecycle",
                "description": "2 secrets expire within 30 days",
                "affectedSecrets": ["sec-expiring-at-30-days", "sec-expiring-soon"],
                "recommendation": "Renew or rotate these secrets before they expire",
            },
            {
                "severity": "LOW",
                "category": "Usage",
                "description": "2 secrets have not been used in 90+ days",
                "affectedSecrets": ["sec-never-used", "sec-unused"],
                "recommendation":
                    "Review unused secrets and delete those that are no longer needed",
            },
            {
                "severity": "MEDIUM",
                "category": "Access",
                "description": "3 expired access grants are still present",
                "affectedSecrets": ["sec-healthy-1", "sec-unused"],
                "recommendation":
                    "Revoke expired access grants and review whether the grantees still need access",
            },
        ])
    );

    let back: ComplianceReport = serde_json::from_value(json).unwrap();
    assert_eq!(back, report);
}

#[test]
fn pdf_text_shows_the_same_figures_as_the_json() {
    let report = prepared_report();
    let pages = pdf_pages_text(&render_pdf(&report));
    let text = normalized(&pages.concat());

    let mut expected = vec![
        "Compliance report".to_owned(),
        "Organization: org-acme".to_owned(),
        "Period: 2026-05-01 00:00:00 UTC to 2026-06-01 00:00:00 UTC".to_owned(),
        "Generated at: 2026-06-01 12:00:00 UTC".to_owned(),
        "Summary".to_owned(),
        "Total secrets: 13".to_owned(),
        "Active secrets: 11".to_owned(),
        "Expired secrets: 2".to_owned(),
        "Expiring within 30 days: 2".to_owned(),
        "Rotations due: 3".to_owned(),
        "Deleted secrets: 2".to_owned(),
        "Access".to_owned(),
        "Total accesses: 1234".to_owned(),
        "Unique users: 17".to_owned(),
        "Denied accesses: 12".to_owned(),
        "Accesses by scope ORGANIZATION: 1000 PROJECT: 34 TEAM: 200".to_owned(),
        "Accesses by module billing: 700 crm: 534".to_owned(),
        "Findings".to_owned(),
    ];
    for (index, finding) in report.findings.iter().enumerate() {
        expected.push(format!(
            "{}. [{}] {}",
            index + 1,
            finding.severity,
            finding.category
        ));
        expected.push(finding.description.clone());
        expected.push(format!("Recommendation: {}", finding.recommendation));
        expected.push(format!(
            "Affected secrets ({}): {}",
            finding.affected_secrets.len(),
            finding.affected_secrets.join(", ")
        ));
    }
    let mut position = 0;
    for needle in &expected {
        let found = text[position..].find(needle.as_str());
        assert!(
            found.is_some(),
            "missing or out of order: {needle:?}\nin: {text}"
        );
        position += found.unwrap_or(0) + needle.len();
    }
    assert!(text.contains("[CRITICAL] Lifecycle"));
    assert!(
        !text.contains("sec-deleted"),
        "deleted secrets appear in no finding"
    );
}

#[test]
fn long_report_flows_onto_numbered_pages_with_every_id() {
    let secrets: Vec<ReportSecret> = (0..400)
        .map(|n| {
            let mut s = secret(&format!("secret-without-expiry-{n:04}"));
            s.expires_at = None;
            s
        })
        .collect();
    let report = ComplianceReport::build(
        ReportInput {
            organization_id: None,
            period: period(),
            secrets: &secrets,
            grants: &[],
            access: AccessReport::default(),
        },
        now(),
    );
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].severity, Severity::Medium);

    let pages = pdf_pages_text(&render_pdf(&report));
    assert!(pages.len() > 1, "400 ids fit on one page?");
    let total = pages.len();
    for (index, page) in pages.iter().enumerate() {
        let footer = format!("Compliance report - page {} of {total}", index + 1);
        assert!(
            normalized(page).contains(&footer),
            "page {} lacks {footer:?}",
            index + 1
        );
    }
    let text = normalized(&pages.concat());
    assert!(text.contains("Organization: all organizations"));
    assert!(text.contains("400 secrets have no expiration date set"));
    assert!(text.contains("None recorded"));
    for secret in &secrets {
        assert!(text.contains(&secret.id), "missing {}", secret.id);
    }
}

#[test]
fn report_without_findings_says_so() {
    let report = ComplianceReport::build(
        ReportInput {
            organization_id: Some("org-empty".to_owned()),
            period: period(),
            secrets: &[secret("sec-fine")],
            grants: &[],
            access: AccessReport::default(),
        },
        now(),
    );
    let text = normalized(&pdf_pages_text(&render_pdf(&report)).concat());
    assert!(text.contains("Total secrets: 1"));
    assert!(text.contains("No findings."));
}

#[test]
fn text_outside_win_ansi_is_replaced_not_dropped() {
    let report = ComplianceReport::build(
        ReportInput {
            organization_id: Some("Zürich ✓ (main)".to_owned()),
            period: period(),
            secrets: &[],
            grants: &[],
            access: AccessReport::default(),
        },
        now(),
    );
    let text = normalized(&pdf_pages_text(&render_pdf(&report)).concat());
    assert!(text.contains("Organization: Zürich ? (main)"), "{text}");
}

#[test]
fn damaged_pdf_is_rejected_by_the_strict_check() {
    let mut bytes = render_pdf(&prepared_report());
    let marker = b"startxref\n";
    let at = bytes
        .windows(marker.len())
        .rposition(|w| w == marker)
        .unwrap()
        + marker.len();
    bytes.truncate(at);
    bytes.extend_from_slice(b"17\n%%EOF\n");
    let options = LoadOptions {
        strict: true,
        ..Default::default()
    };
    assert!(Document::load_mem_with_options(&bytes, options).is_err());
}
