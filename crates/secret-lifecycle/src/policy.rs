//! The rules the scheduler's jobs apply, as pure functions of the data and the time: which
//! expiry notice is due, when a failed rotation is retried, which versions are kept.

use chrono::{DateTime, Duration, Utc};

/// What the expiry-notice job does for one secret now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticePlan {
    /// The window whose notice is sent (days before expiry).
    pub send: u32,
    /// Every window to record as done: `send` and the wider ones whose time has also
    /// passed (a scheduler that was down sends one notice, not a burst).
    pub record: Vec<u32>,
}

/// The notice due for a secret expiring at `expires_at`, given the windows (days before
/// expiry) and those already recorded for this expiry date; `None` when nothing is due.
pub fn expiry_notice(
    windows: &[u32],
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
    recorded: &[i32],
) -> Option<NoticePlan> {
    if expires_at <= now {
        return None;
    }
    let passed: Vec<u32> = windows
        .iter()
        .copied()
        .filter(|d| expires_at - Duration::days(i64::from(*d)) <= now)
        .collect();
    let narrowest = passed.iter().copied().min()?;
    if recorded
        .iter()
        .any(|r| i64::from(*r) == i64::from(narrowest))
    {
        return None;
    }
    Some(NoticePlan {
        send: narrowest,
        record: passed
            .into_iter()
            .filter(|d| !recorded.iter().any(|r| i64::from(*r) == i64::from(*d)))
            .collect(),
    })
}

/// The first retry of a failed automatic rotation waits this long; each further failure
/// doubles it.
pub const ROTATION_RETRY_BASE: Duration = Duration::minutes(15);
/// The longest wait between retries.
pub const ROTATION_RETRY_MAX: Duration = Duration::hours(24);

/// How long to wait before retrying after `failures` failures in a row (1 or more).
pub fn rotation_retry_delay(failures: i32) -> Duration {
    let doublings = failures.saturating_sub(1).clamp(0, 16) as u32;
    let delay = ROTATION_RETRY_BASE * 2i32.saturating_pow(doublings);
    delay.min(ROTATION_RETRY_MAX)
}

/// A version as retention sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionAge {
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub is_active: bool,
}

/// What retention does to one secret's versions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionPlan {
    /// Versions whose successor has been current for longer than the grace period.
    pub deactivate: Vec<i64>,
    /// Versions beyond the newest `keep`, outside the rollback grace period.
    pub delete: Vec<i64>,
}

/// How many versions retention keeps and how long it waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionRule {
    /// The newest versions kept (at least 1).
    pub keep: u32,
    /// Versions created this recently are never deleted.
    pub rollback_grace: Duration,
    /// A replaced version becomes inactive once its successor is this old.
    pub inactive_after: Duration,
}

/// Retention of a secret whose versions are `versions` and current version `current`:
/// keep the newest `rule.keep` versions; delete older ones unless created within
/// `rule.rollback_grace` of `now`; never touch the current version. A non-current version
/// is marked inactive once its successor is older than `rule.inactive_after`.
pub fn retention_plan(
    versions: &[VersionAge],
    current: i64,
    rule: &RetentionRule,
    now: DateTime<Utc>,
) -> RetentionPlan {
    let RetentionRule {
        keep,
        rollback_grace,
        inactive_after,
    } = *rule;
    let mut sorted: Vec<VersionAge> = versions.to_vec();
    sorted.sort_by_key(|v| std::cmp::Reverse(v.version));
    let mut plan = RetentionPlan::default();
    for (rank, v) in sorted.iter().enumerate() {
        if v.version == current {
            continue;
        }
        let beyond_keep = rank >= keep.max(1) as usize;
        if beyond_keep && now - v.created_at > rollback_grace {
            plan.delete.push(v.version);
            continue;
        }
        let successor = sorted.iter().find(|s| s.version == v.version + 1);
        if v.is_active && successor.is_some_and(|s| now - s.created_at > inactive_after) {
            plan.deactivate.push(v.version);
        }
    }
    plan.delete.sort_unstable();
    plan.deactivate.sort_unstable();
    plan
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t(day: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default()
            + Duration::days(day)
    }

    #[test]
    fn each_window_fires_once_and_a_late_run_sends_only_the_narrowest() {
        let w = [30, 14, 7, 1];
        let exp = t(100);
        assert_eq!(
            expiry_notice(&w, exp, t(60), &[]),
            None,
            "more than 30 days out"
        );
        let p = expiry_notice(&w, exp, t(70), &[]).unwrap();
        assert_eq!(
            p,
            NoticePlan {
                send: 30,
                record: vec![30]
            }
        );
        assert_eq!(
            expiry_notice(&w, exp, t(71), &[30]),
            None,
            "30 already sent"
        );
        let p = expiry_notice(&w, exp, t(86), &[30]).unwrap();
        assert_eq!(
            p,
            NoticePlan {
                send: 14,
                record: vec![14]
            }
        );
        // Down from day 71 to day 95: one notice (7 days), 14 recorded too.
        let p = expiry_notice(&w, exp, t(95), &[30]).unwrap();
        assert_eq!(
            p,
            NoticePlan {
                send: 7,
                record: vec![14, 7]
            }
        );
        assert_eq!(
            expiry_notice(&w, exp, t(100), &[]),
            None,
            "expired: not a notice"
        );
        // Exactly at the threshold counts.
        assert_eq!(expiry_notice(&w, exp, t(99), &[30, 14, 7]).unwrap().send, 1);
    }

    #[test]
    fn retries_back_off_and_are_capped() {
        assert_eq!(rotation_retry_delay(1), Duration::minutes(15));
        assert_eq!(rotation_retry_delay(2), Duration::minutes(30));
        assert_eq!(rotation_retry_delay(4), Duration::hours(2));
        assert_eq!(rotation_retry_delay(30), Duration::hours(24));
        assert_eq!(rotation_retry_delay(0), Duration::minutes(15));
    }

    fn rule(keep: u32, rollback_grace_days: i64, inactive_after_days: i64) -> RetentionRule {
        RetentionRule {
            keep,
            rollback_grace: Duration::days(rollback_grace_days),
            inactive_after: Duration::days(inactive_after_days),
        }
    }

    fn v(version: i64, day: i64) -> VersionAge {
        VersionAge {
            version,
            created_at: t(day),
            is_active: true,
        }
    }

    #[test]
    fn retention_keeps_the_newest_and_the_current_and_recent_ones() {
        let versions: Vec<VersionAge> = (1..=12).map(|n| v(n, n)).collect();
        // Keep 10 of 12 at day 40 (grace 7 days): versions 1 and 2 go.
        let p = retention_plan(&versions, 12, &rule(10, 7, 1), t(40));
        assert_eq!(p.delete, vec![1, 2]);
        assert_eq!(p.deactivate, (3..=11).collect::<Vec<_>>());
        // Within the rollback grace nothing is deleted.
        let p = retention_plan(&versions, 12, &rule(10, 7, 1), t(8));
        assert_eq!(p.delete, vec![] as Vec<i64>);
        // After a rollback the current version may be old: it is never deleted.
        let p = retention_plan(&versions, 1, &rule(3, 7, 1), t(40));
        assert!(!p.delete.contains(&1) && !p.deactivate.contains(&1));
        assert_eq!(p.delete, (2..=9).collect::<Vec<_>>());
        // The version just replaced stays active through the grace period.
        let p = retention_plan(&versions, 12, &rule(10, 7, 1), t(12));
        assert!(!p.deactivate.contains(&11));
    }
}
