//! Reading the audit trail and compliance reports (§10, §12.1 AUDIT), with the
//! administrative rules of §12.2: super admins read everything, an organization's admins
//! read that organization's records, nobody else reads any.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use secret_access::{audit_org_filter, can_read_audit};
use secret_audit::report::{
    AccessReport, ComplianceReport, Period, ReportGrant, ReportInput, ReportSecret,
};
use secret_core::audit::AuditRecord;
use secret_core::model::{AuditLogsParams, Page};
use secret_core::{SecretContext, SecretError, SecretScope};
use secret_store::AuditFilter;

use crate::SecretService;

type Result<T> = std::result::Result<T, SecretError>;

/// The longest period one compliance report covers.
const MAX_REPORT_DAYS: i64 = 366 * 5;

fn refused() -> SecretError {
    SecretError::AccessDenied {
        reason: "reading audit logs needs super admin or organization admin".to_string(),
    }
}

/// The organizations whose records the caller may read: `None` for all.
fn readable_orgs(ctx: &SecretContext) -> Result<Option<Vec<String>>> {
    match audit_org_filter(&ctx.principal) {
        Some(orgs) if orgs.is_empty() => Err(refused()),
        other => Ok(other),
    }
}

impl SecretService {
    /// One page of audit records matching `params`, newest first, limited to what the
    /// caller may read.
    pub async fn list_audit_logs(
        &self,
        params: &AuditLogsParams,
        ctx: &SecretContext,
    ) -> Result<Page<AuditRecord>> {
        let organizations = readable_orgs(ctx)?;
        let (page, limit) = params.paging()?;
        let filter = AuditFilter {
            secret_id: params.secret_id.clone(),
            event_types: params.event_types.clone(),
            actor_id: params.actor_id.clone(),
            outcomes: params.outcomes.clone(),
            start: params.start_date,
            end: params.end_date,
            organizations,
            page,
            limit,
        };
        Ok(self.inner.audit_store.list(&filter).await?)
    }

    /// One audit record. A record the caller may not read is not found.
    pub async fn get_audit_log(&self, id: &str, ctx: &SecretContext) -> Result<AuditRecord> {
        let organizations = readable_orgs(ctx)?;
        let not_found = || SecretError::AuditRecordNotFound { id: id.to_string() };
        let record = self
            .inner
            .audit_store
            .find(id)
            .await?
            .ok_or_else(not_found)?;
        match (&organizations, &record.entry.organization_id) {
            (None, _) => Ok(record),
            (Some(orgs), Some(org)) if orgs.contains(org) => Ok(record),
            _ => Err(not_found()),
        }
    }

    /// The compliance report of `organization` (every organization when `None`, for super
    /// admins) over `start..=end`: secrets' state now, value reads and refusals within the
    /// period, and findings.
    pub async fn compliance_report(
        &self,
        organization: Option<&str>,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        ctx: &SecretContext,
    ) -> Result<ComplianceReport> {
        let organization = report_organization(organization, start, end, ctx)?;
        let secrets = self.report_secrets(organization.as_deref()).await?;
        self.report_of(organization, start, end, &secrets).await
    }

    /// The secrets a report of `org` covers, as the report takes them.
    async fn report_secrets(&self, org: Option<&str>) -> Result<Vec<ReportSecret>> {
        Ok(self
            .inner
            .audit_store
            .report_secrets(org)
            .await?
            .into_iter()
            .map(|m| ReportSecret {
                last_used_at: m.usage.as_ref().and_then(|u| u.last_used_at),
                id: m.id.into_string(),
                name: m.name,
                scope: m.scope,
                secret_type: m.secret_type,
                organization_id: m.organization_id,
                expires_at: m.expires_at,
                rotation_enabled: m.rotation_enabled,
                last_rotated_at: m.last_rotated_at,
                next_rotation_at: m.next_rotation_at,
                created_at: m.created_at,
                deleted_at: m.deleted_at,
            })
            .collect())
    }

    /// The report of `organization` over `start..=end`, its `secrets` read already.
    async fn report_of(
        &self,
        organization: Option<String>,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        secrets: &[ReportSecret],
    ) -> Result<ComplianceReport> {
        let store = &self.inner.audit_store;
        let org = organization.as_deref();
        let ids: Vec<&str> = secrets.iter().map(|s| s.id.as_str()).collect();
        let grants: Vec<ReportGrant> = store
            .grants_of(&ids)
            .await?
            .into_iter()
            .map(|g| ReportGrant {
                secret_id: g.secret_id.into_string(),
                grant_id: g.id.into_string(),
                grantee_type: g.grantee_type,
                grantee_id: g.grantee_id,
                expires_at: g.expires_at,
            })
            .collect();
        let (counts, denied) = store.access_counts(org, start, end).await?;
        let mut access = AccessReport {
            total_accesses: 0,
            unique_users: 0,
            accesses_by_scope: BTreeMap::new(),
            accesses_by_module: BTreeMap::new(),
            denied_accesses: denied,
        };
        for scope in SecretScope::ALL {
            access
                .accesses_by_scope
                .insert(scope.as_str().to_string(), 0);
        }
        let mut users = BTreeSet::new();
        for c in counts {
            access.total_accesses += c.count;
            *access
                .accesses_by_scope
                .entry(c.scope.unwrap_or_else(|| "UNKNOWN".to_string()))
                .or_default() += c.count;
            *access
                .accesses_by_module
                .entry(c.consumer_module.unwrap_or_else(|| "unknown".to_string()))
                .or_default() += c.count;
            users.insert(c.actor_id);
        }
        access.unique_users = users.len() as u64;
        Ok(ComplianceReport::build(
            ReportInput {
                organization_id: organization,
                period: Period { start, end },
                secrets,
                grants: &grants,
                access,
            },
            self.now(),
        ))
    }
}

/// The organization a report covers (`None`: every one, for super admins; an admin of one
/// organization may leave it out), once the caller may read its records and the period
/// is one a report covers.
fn report_organization(
    organization: Option<&str>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    ctx: &SecretContext,
) -> Result<Option<String>> {
    let organization = match organization {
        Some(org) => Some(org.to_string()),
        None if ctx.principal.super_admin => None,
        None => match readable_orgs(ctx)?.as_deref() {
            Some([only]) => Some(only.clone()),
            _ => {
                return Err(SecretError::validation(
                    "organizationId",
                    "is required: name the organization to report on",
                ));
            }
        },
    };
    if !can_read_audit(&ctx.principal, organization.as_deref()) {
        return Err(refused());
    }
    if start > end {
        return Err(SecretError::validation(
            "startDate",
            "must not be after endDate",
        ));
    }
    if (end - start).num_days() > MAX_REPORT_DAYS {
        return Err(SecretError::validation(
            "endDate",
            format!("a report covers at most {MAX_REPORT_DAYS} days"),
        ));
    }
    Ok(organization)
}

/// What the compliance view draws: value reads per day over the period, and the secrets
/// that expire in each of the coming weeks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplianceCharts {
    /// Every day of the period (UTC), with its successful value reads.
    pub reads_per_day: Vec<(NaiveDate, u64)>,
    /// Secrets not deleted that have already expired.
    pub expired: u64,
    /// The start of each of the next [`EXPIRY_WEEKS`] weeks (from today), with the secrets
    /// that expire within it.
    pub expiring_per_week: Vec<(NaiveDate, u64)>,
}

/// The weeks ahead the expiry chart covers.
pub const EXPIRY_WEEKS: usize = 12;

impl SecretService {
    /// The compliance view: the report of [`SecretService::compliance_report`] (refused as
    /// it is) and the counts behind its charts, the secrets read once for both.
    pub async fn compliance_view(
        &self,
        organization: Option<&str>,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        ctx: &SecretContext,
    ) -> Result<(ComplianceReport, ComplianceCharts)> {
        let organization = report_organization(organization, start, end, ctx)?;
        let secrets = self.report_secrets(organization.as_deref()).await?;
        let charts = self
            .charts_of(organization.as_deref(), start, end, &secrets)
            .await?;
        let report = self.report_of(organization, start, end, &secrets).await?;
        Ok((report, charts))
    }

    async fn charts_of(
        &self,
        org: Option<&str>,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        secrets: &[ReportSecret],
    ) -> Result<ComplianceCharts> {
        let store = &self.inner.audit_store;
        let counted: BTreeMap<NaiveDate, u64> = store
            .reads_per_day(org, start, end)
            .await?
            .into_iter()
            .collect();
        let mut reads_per_day = Vec::new();
        let mut day = start.date_naive();
        while day <= end.date_naive() {
            reads_per_day.push((day, counted.get(&day).copied().unwrap_or(0)));
            let Some(next) = day.succ_opt() else { break };
            day = next;
        }
        let now = self.now();
        let today = now.date_naive();
        let mut expired = 0;
        let mut weeks = vec![0u64; EXPIRY_WEEKS];
        for s in secrets {
            let Some(at) = s.expires_at.filter(|_| s.deleted_at.is_none()) else {
                continue;
            };
            if at <= now {
                expired += 1;
                continue;
            }
            let week = usize::try_from((at.date_naive() - today).num_days() / 7).unwrap_or(0);
            if let Some(n) = weeks.get_mut(week) {
                *n += 1;
            }
        }
        let expiring_per_week = weeks
            .into_iter()
            .enumerate()
            .map(|(i, n)| (today + chrono::Duration::days(7 * i as i64), n))
            .collect();
        Ok(ComplianceCharts {
            reads_per_day,
            expired,
            expiring_per_week,
        })
    }
}
