//! Compliance reports (§10.2): the report's wire model and the pure analysis that turns the
//! secrets, grants and access figures a caller read from the database into a summary and a
//! list of findings.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use secret_core::{GranteeType, SecretScope, SecretType};

/// Days ahead within which an expiry counts as "expiring soon".
pub const EXPIRING_SOON_DAYS: i64 = 30;
/// Days ahead within which an expiry raises the "expiring soon" finding to MEDIUM.
pub const EXPIRING_URGENTLY_DAYS: i64 = 7;
/// Days after the last rotation (or creation) past which a rotating secret is overdue.
pub const ROTATION_MAX_AGE_DAYS: i64 = 90;
/// Days without use past which a secret counts as unused.
pub const UNUSED_AFTER_DAYS: i64 = 90;

/// Category of findings about expiry dates.
pub const CATEGORY_LIFECYCLE: &str = "Lifecycle";
/// Category of findings about rotation.
pub const CATEGORY_ROTATION: &str = "Rotation";
/// Category of findings about use.
pub const CATEGORY_USAGE: &str = "Usage";
/// Category of findings about access grants.
pub const CATEGORY_ACCESS: &str = "Access";

/// One secret in the report's scope, soft-deleted ones included, as read from the database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportSecret {
    /// The secret's id.
    pub id: String,
    /// The secret's name.
    pub name: String,
    /// The level the secret belongs to.
    pub scope: SecretScope,
    /// The kind of value the secret holds.
    #[serde(rename = "type")]
    pub secret_type: SecretType,
    /// The organization the secret belongs to, if any.
    pub organization_id: Option<String>,
    /// When the secret expires, if it has an expiry date.
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether rotation is enabled.
    pub rotation_enabled: bool,
    /// When the secret was last rotated, if ever.
    pub last_rotated_at: Option<DateTime<Utc>>,
    /// When the next rotation is due, if scheduled.
    pub next_rotation_at: Option<DateTime<Utc>>,
    /// When the secret was created.
    pub created_at: DateTime<Utc>,
    /// When the secret was soft-deleted, if it was.
    pub deleted_at: Option<DateTime<Utc>>,
    /// When the secret's value was last read, if ever.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl ReportSecret {
    fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }

    fn is_expired_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// One access grant present on a secret in the report's scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportGrant {
    /// The secret the grant is on.
    pub secret_id: String,
    /// The grant's id.
    pub grant_id: String,
    /// Who the grant is given to.
    pub grantee_type: GranteeType,
    /// The id of the user, team or role the grant is given to.
    pub grantee_id: String,
    /// When the grant stops being valid, if it does.
    pub expires_at: Option<DateTime<Utc>>,
}

/// The reporting period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Period {
    /// The start of the period.
    pub start: DateTime<Utc>,
    /// The end of the period.
    pub end: DateTime<Utc>,
}

/// Counts of secrets by life stage, at the time the report was generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Secrets that are not soft-deleted.
    pub total_secrets: u64,
    /// Secrets that are neither soft-deleted nor expired.
    pub active_secrets: u64,
    /// Secrets that are not soft-deleted and have expired.
    pub expired_secrets: u64,
    /// Secrets that are not soft-deleted and expire within the next 30 days.
    pub expiring_within_30_days: u64,
    /// Secrets that are not soft-deleted, rotate, and whose next rotation is due.
    pub rotations_due: u64,
    /// Secrets that are soft-deleted.
    pub deleted_secrets: u64,
}

/// Access figures for the period, computed by the caller from the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessReport {
    /// Accesses to secrets in the period.
    pub total_accesses: u64,
    /// Distinct actors who accessed secrets in the period.
    pub unique_users: u64,
    /// Accesses per secret scope (wire spelling of the scope as key).
    pub accesses_by_scope: BTreeMap<String, u64>,
    /// Accesses per calling module.
    pub accesses_by_module: BTreeMap<String, u64>,
    /// Accesses that were denied.
    pub denied_accesses: u64,
}

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    /// Worth knowing; no action needed soon.
    Low,
    /// Should be addressed.
    Medium,
    /// Should be addressed soon.
    High,
    /// Needs action now.
    Critical,
}

impl Severity {
    /// The wire spelling of this severity.
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One compliance problem and the secrets it affects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// How serious the problem is.
    pub severity: Severity,
    /// The family of the problem (Lifecycle, Rotation, Usage, Access).
    pub category: String,
    /// What was found, with the number of items.
    pub description: String,
    /// The ids of the affected secrets, sorted.
    pub affected_secrets: Vec<String>,
    /// What to do about it.
    pub recommendation: String,
}

/// A compliance report for one organization, or for all of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ComplianceReport {
    /// When the report was generated; the analysis is as of this instant.
    pub generated_at: DateTime<Utc>,
    /// The reporting period of the access figures.
    pub period: Period,
    /// The organization reported on; absent for a report over all organizations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// Counts of secrets by life stage.
    pub summary: Summary,
    /// Access figures for the period.
    pub access_report: AccessReport,
    /// Compliance problems found, in a fixed order.
    pub findings: Vec<Finding>,
}

/// What a report is built from: the organization (none: platform-wide), the period, the
/// secrets in scope (soft-deleted ones included), the grants on them and the access
/// figures.
#[derive(Debug, Clone)]
pub struct ReportInput<'a> {
    pub organization_id: Option<String>,
    pub period: Period,
    pub secrets: &'a [ReportSecret],
    pub grants: &'a [ReportGrant],
    pub access: AccessReport,
}

impl ComplianceReport {
    /// Builds the report from the secrets in scope (soft-deleted ones included), the grants
    /// on them and the access figures, as of `now`.
    pub fn build(input: ReportInput<'_>, now: DateTime<Utc>) -> ComplianceReport {
        let ReportInput {
            organization_id,
            period,
            secrets,
            grants,
            access,
        } = input;
        ComplianceReport {
            generated_at: now,
            period,
            organization_id,
            summary: summarize(now, secrets),
            access_report: access,
            findings: analyze(now, secrets, grants),
        }
    }
}

fn days(n: i64) -> Duration {
    Duration::days(n)
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

fn summarize(now: DateTime<Utc>, secrets: &[ReportSecret]) -> Summary {
    let live: Vec<&ReportSecret> = secrets.iter().filter(|s| !s.is_deleted()).collect();
    let soon = now + days(EXPIRING_SOON_DAYS);
    Summary {
        total_secrets: count(live.len()),
        active_secrets: count(live.iter().filter(|s| !s.is_expired_at(now)).count()),
        expired_secrets: count(live.iter().filter(|s| s.is_expired_at(now)).count()),
        expiring_within_30_days: count(
            live.iter()
                .filter(|s| s.expires_at.is_some_and(|at| now < at && at <= soon))
                .count(),
        ),
        rotations_due: count(
            live.iter()
                .filter(|s| s.rotation_enabled && s.next_rotation_at.is_some_and(|at| at <= now))
                .count(),
        ),
        deleted_secrets: count(secrets.len() - live.len()),
    }
}

/// "1 secret has" / "3 secrets have": the count with the noun and verb agreeing with it.
fn counted(n: usize, singular: &str, plural: &str) -> String {
    if n == 1 {
        format!("1 {singular}")
    } else {
        format!("{n} {plural}")
    }
}

fn finding(
    severity: Severity,
    category: &str,
    description: String,
    mut affected_secrets: Vec<String>,
    recommendation: &str,
) -> Finding {
    affected_secrets.sort();
    affected_secrets.dedup();
    Finding {
        severity,
        category: category.to_owned(),
        description,
        affected_secrets,
        recommendation: recommendation.to_owned(),
    }
}

fn ids<'a>(secrets: impl Iterator<Item = &'a &'a ReportSecret>) -> Vec<String> {
    secrets.map(|s| s.id.clone()).collect()
}

fn analyze(now: DateTime<Utc>, secrets: &[ReportSecret], grants: &[ReportGrant]) -> Vec<Finding> {
    let live: Vec<&ReportSecret> = secrets.iter().filter(|s| !s.is_deleted()).collect();
    let mut findings = Vec::new();

    let no_expiry = ids(live.iter().filter(|s| s.expires_at.is_none()));
    if !no_expiry.is_empty() {
        findings.push(finding(
            Severity::Medium,
            CATEGORY_LIFECYCLE,
            format!(
                "{} no expiration date set",
                counted(no_expiry.len(), "secret has", "secrets have")
            ),
            no_expiry,
            "Set expiration dates for all secrets per security policy",
        ));
    }

    let rotation_cutoff = now - days(ROTATION_MAX_AGE_DAYS);
    let stale = ids(live.iter().filter(|s| {
        s.rotation_enabled && s.last_rotated_at.unwrap_or(s.created_at) < rotation_cutoff
    }));
    if !stale.is_empty() {
        findings.push(finding(
            Severity::High,
            CATEGORY_ROTATION,
            format!(
                "{} not been rotated in {ROTATION_MAX_AGE_DAYS}+ days",
                counted(stale.len(), "secret has", "secrets have")
            ),
            stale,
            "Rotate secrets according to rotation policy",
        ));
    }

    let expired_in_use = ids(live
        .iter()
        .filter(|s| match (s.expires_at, s.last_used_at) {
            (Some(expires), Some(used)) => expires <= now && used > expires,
            _ => false,
        }));
    if !expired_in_use.is_empty() {
        findings.push(finding(
            Severity::Critical,
            CATEGORY_LIFECYCLE,
            format!(
                "{} expired but still in use",
                counted(expired_in_use.len(), "secret is", "secrets are")
            ),
            expired_in_use,
            "Rotate or renew these secrets now and update every consumer still using them",
        ));
    }

    let soon = now + days(EXPIRING_SOON_DAYS);
    let expiring: Vec<&&ReportSecret> = live
        .iter()
        .filter(|s| s.expires_at.is_some_and(|at| now < at && at <= soon))
        .collect();
    if !expiring.is_empty() {
        let urgent = now + days(EXPIRING_URGENTLY_DAYS);
        let severity = if expiring
            .iter()
            .any(|s| s.expires_at.is_some_and(|at| at <= urgent))
        {
            Severity::Medium
        } else {
            Severity::Low
        };
        findings.push(finding(
            severity,
            CATEGORY_LIFECYCLE,
            format!(
                "{} within {EXPIRING_SOON_DAYS} days",
                counted(expiring.len(), "secret expires", "secrets expire")
            ),
            ids(expiring.into_iter()),
            "Renew or rotate these secrets before they expire",
        ));
    }

    let unused_cutoff = now - days(UNUSED_AFTER_DAYS);
    let unused = ids(live.iter().filter(|s| match s.last_used_at {
        Some(used) => used < unused_cutoff,
        None => s.created_at < unused_cutoff,
    }));
    if !unused.is_empty() {
        findings.push(finding(
            Severity::Low,
            CATEGORY_USAGE,
            format!(
                "{} not been used in {UNUSED_AFTER_DAYS}+ days",
                counted(unused.len(), "secret has", "secrets have")
            ),
            unused,
            "Review unused secrets and delete those that are no longer needed",
        ));
    }

    // Grants on soft-deleted secrets, or on secrets outside the report, are not reported:
    // they grant nothing while the secret is gone.
    let live_ids: BTreeSet<&str> = live.iter().map(|s| s.id.as_str()).collect();
    let lapsed: Vec<&ReportGrant> = grants
        .iter()
        .filter(|g| live_ids.contains(g.secret_id.as_str()))
        .filter(|g| g.expires_at.is_some_and(|at| at <= now))
        .collect();
    if !lapsed.is_empty() {
        findings.push(finding(
            Severity::Medium,
            CATEGORY_ACCESS,
            format!(
                "{} still present",
                counted(
                    lapsed.len(),
                    "expired access grant is",
                    "expired access grants are"
                )
            ),
            lapsed.iter().map(|g| g.secret_id.clone()).collect(),
            "Revoke expired access grants and review whether the grantees still need access",
        ));
    }

    findings
}

#[cfg(test)]
mod tests;
