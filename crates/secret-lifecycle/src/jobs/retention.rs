//! Keeping storage in bounds: version retention (§8.3), purge of soft-deleted secrets past
//! their recovery deadline (§8.4), and removal of expired grants.

use secret_api::{JOB_PAGE, JobReport, JobScan, SecretService};
use secret_core::SecretError;

use super::{LifecycleConfig, next_page};
use crate::policy::{RetentionRule, VersionAge, retention_plan};

pub(super) async fn versions(
    service: &SecretService,
    config: &LifecycleConfig,
) -> Result<JobReport, SecretError> {
    let now = service.now();
    let mut report = JobReport::default();
    let mut after: Option<String> = None;
    loop {
        let page = service
            .secrets_with_versions_over(1, after.as_deref())
            .await?;
        let Some(last) = page.last().map(|x| x.id.clone()) else {
            break;
        };
        let full = page.len() as u64 >= JOB_PAGE;
        for meta in page {
            report.examined += 1;
            let versions: Vec<VersionAge> = service
                .job_versions(&meta)
                .await?
                .into_iter()
                .map(|v| VersionAge {
                    version: v.version,
                    created_at: v.created_at,
                    is_active: v.is_active,
                })
                .collect();
            let rule = RetentionRule {
                keep: meta.lifecycle.retention(),
                rollback_grace: config.rollback_grace,
                inactive_after: config.rotation_grace,
            };
            let plan = retention_plan(&versions, meta.current_version, &rule, now);
            if plan.delete.is_empty() && plan.deactivate.is_empty() {
                continue;
            }
            let pruned = service
                .prune_versions(&meta.id, &plan.delete, &plan.deactivate)
                .await?;
            report.acted += pruned.changed;
            if pruned.vault_failed {
                report.failed += 1;
            }
        }
        if !full {
            break;
        }
        after = Some(last.into_string());
    }
    Ok(report)
}

pub(super) async fn purge(service: &SecretService) -> Result<JobReport, SecretError> {
    let mut report = JobReport::default();
    let mut scan = JobScan::purgeable(service.now());
    while let Some(page) = next_page(service, &mut scan).await? {
        for meta in page {
            report.examined += 1;
            if service.purge_if_due(&meta.id).await? {
                report.acted += 1;
            }
        }
    }
    Ok(report)
}

pub(super) async fn grants(service: &SecretService) -> Result<JobReport, SecretError> {
    let mut report = JobReport::default();
    let mut after: Option<String> = None;
    loop {
        let page = service.expired_grants(after.as_deref()).await?;
        let Some(last) = page.last().map(|x| x.secret_id.clone()) else {
            break;
        };
        let full = page.len() as u64 >= JOB_PAGE;
        for grant in page {
            report.examined += 1;
            if service.expire_grant(&grant).await? {
                report.acted += 1;
            }
        }
        if !full {
            break;
        }
        after = Some(last.into_string());
    }
    Ok(report)
}
