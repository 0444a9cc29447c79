//! Expiry (§8.1): notices before a secret expires, and marking it expired after.

use chrono::Duration;
use secret_api::{ExpiryNotice, JobReport, JobScan, NoticeKind, SecretService};
use secret_core::SecretError;

use super::{deliver, next_page, notification};
use crate::notification::{NotificationKind, Notifier};
use crate::policy::expiry_notice;

/// Notices are planned for expiries up to this far ahead.
const HORIZON_DAYS: i64 = 366;

pub(super) async fn notices(
    service: &SecretService,
    notifier: &dyn Notifier,
) -> Result<JobReport, SecretError> {
    let now = service.now();
    let mut report = JobReport::default();
    let mut scan = JobScan::expiring(now, now + Duration::days(HORIZON_DAYS));
    while let Some(page) = next_page(service, &mut scan).await? {
        for meta in page {
            report.examined += 1;
            let Some(expires_at) = meta.expires_at else {
                continue;
            };
            let recorded = service
                .notices_sent(&meta.id, NoticeKind::Expiry, expires_at)
                .await?;
            let Some(plan) = expiry_notice(
                &meta.lifecycle.notify_before_days,
                expires_at,
                now,
                &recorded,
            ) else {
                continue;
            };
            let notice = ExpiryNotice {
                expires_at,
                windows: plan.record,
                send: plan.send,
            };
            if !service.record_expiry_notice(&meta, &notice).await? {
                continue;
            }
            let days = (expires_at - now).num_days();
            let mut n = notification(NotificationKind::SecretExpiringSoon, &meta, now);
            n.days_until_expiry = Some(days);
            n.message = format!(
                "Secret {} expires in {days} day(s), on {}",
                meta.name,
                expires_at.format("%Y-%m-%d %H:%M UTC")
            );
            deliver(notifier, &n).await;
            report.acted += 1;
        }
    }
    Ok(report)
}

pub(super) async fn expirations(
    service: &SecretService,
    notifier: &dyn Notifier,
) -> Result<JobReport, SecretError> {
    let now = service.now();
    let mut report = JobReport::default();
    let mut scan = JobScan::newly_expired(now);
    while let Some(page) = next_page(service, &mut scan).await? {
        for meta in page {
            report.examined += 1;
            if !service.mark_expired(&meta).await? {
                continue;
            }
            let mut n = notification(NotificationKind::SecretExpired, &meta, now);
            n.message = format!(
                "Secret {} has expired; set a new value or expiry date",
                meta.name
            );
            deliver(notifier, &n).await;
            report.acted += 1;
        }
    }
    Ok(report)
}
