//! Floods of rate-limited value reads, recorded as one summary per user and window.
//!
//! A refused read used to cost a lookup and a chain-locked audit insert each, so a caller
//! hammering the API past its limit slowed every writer. Now the first refusal of a user in
//! a window is recorded in full (ACCESS_DENIED naming the secret); the rest of that window
//! are only counted in memory, and one summary record (how many, which secrets, when) is
//! written when the window is over: at the user's next refusal, or by the sweep that
//! [`spawn_sweeper`] runs every window. Nothing is recorded per request past the first.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use secret_core::SecretContext;

use crate::SecretService;
use crate::service::RefusalSummary;

/// The length of a summary window.
pub(crate) const WINDOW: Duration = Duration::from_secs(60);

/// The most secret ids one summary names.
const MAX_IDS: usize = 20;

struct Pending {
    started: Instant,
    started_at: DateTime<Utc>,
    ctx: SecretContext,
    suppressed: u64,
    secret_ids: BTreeSet<String>,
}

impl Pending {
    fn summary(self) -> Option<RefusalSummary> {
        (self.suppressed > 0).then(|| RefusalSummary {
            ctx: self.ctx,
            refusals: self.suppressed,
            secret_ids: self.secret_ids.into_iter().collect(),
            window_start: self.started_at,
            window_end: Utc::now(),
        })
    }
}

/// What to do with one refusal.
pub(crate) struct Admission {
    /// Record this refusal in full (the first of its user's window).
    pub(crate) record: bool,
    /// Summaries of windows that are over, to write now.
    pub(crate) flush: Vec<RefusalSummary>,
}

/// The per-user windows of refused reads.
pub(crate) struct RefusalDigest {
    window: Duration,
    users: Mutex<HashMap<String, Pending>>,
}

impl RefusalDigest {
    pub(crate) fn new(window: Duration) -> Self {
        RefusalDigest {
            window,
            users: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a refused read of `secret_id` by `ctx`'s caller.
    pub(crate) fn refused(&self, ctx: &SecretContext, secret_id: &str) -> Admission {
        let now = Instant::now();
        let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        let flush = Self::take_expired(&mut users, now, self.window);
        let user = ctx.user_id().to_string();
        let record = match users.get_mut(&user) {
            Some(pending) => {
                pending.suppressed = pending.suppressed.saturating_add(1);
                if pending.secret_ids.len() < MAX_IDS {
                    pending.secret_ids.insert(secret_id.to_string());
                }
                false
            }
            None => {
                users.insert(
                    user,
                    Pending {
                        started: now,
                        started_at: Utc::now(),
                        ctx: ctx.clone(),
                        suppressed: 0,
                        secret_ids: BTreeSet::new(),
                    },
                );
                true
            }
        };
        Admission { record, flush }
    }

    /// Removes every window that is over and returns the summaries to write.
    pub(crate) fn sweep(&self) -> Vec<RefusalSummary> {
        let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        Self::take_expired(&mut users, Instant::now(), self.window)
    }

    fn take_expired(
        users: &mut HashMap<String, Pending>,
        now: Instant,
        window: Duration,
    ) -> Vec<RefusalSummary> {
        let expired: Vec<String> = users
            .iter()
            .filter(|(_, p)| now.duration_since(p.started) >= window)
            .map(|(user, _)| user.clone())
            .collect();
        expired
            .into_iter()
            .filter_map(|user| users.remove(&user))
            .filter_map(Pending::summary)
            .collect()
    }
}

/// Writes the summaries of windows that are over, every `window`, while the digest lives.
pub(crate) fn spawn_sweeper(digest: &Arc<RefusalDigest>, service: SecretService) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let weak = Arc::downgrade(digest);
    let window = digest.window;
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(window);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(digest) = weak.upgrade() else { return };
            let due = digest.sweep();
            drop(digest);
            for summary in due {
                service.record_refusal_summary(summary).await;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use secret_core::Principal;

    use super::*;

    fn ctx(user: &str) -> SecretContext {
        SecretContext::new(Principal::user(user), "test")
    }

    #[test]
    fn the_first_refusal_of_a_window_is_recorded_and_the_rest_summarised() {
        let digest = RefusalDigest::new(Duration::from_millis(50));
        let first = digest.refused(&ctx("bob"), "s-1");
        assert!(first.record && first.flush.is_empty());
        for id in ["s-1", "s-2", "s-2"] {
            let later = digest.refused(&ctx("bob"), id);
            assert!(!later.record && later.flush.is_empty());
        }
        assert!(
            digest.refused(&ctx("eve"), "s-3").record,
            "windows are per user"
        );
        std::thread::sleep(Duration::from_millis(60));
        let due = digest.sweep();
        assert_eq!(due.len(), 1, "eve had nothing suppressed");
        assert_eq!(due[0].ctx.user_id(), "bob");
        assert_eq!(due[0].refusals, 3);
        assert_eq!(due[0].secret_ids, ["s-1", "s-2"]);
        assert!(digest.refused(&ctx("bob"), "s-1").record, "a new window");
    }

    #[test]
    fn an_expired_window_is_flushed_by_the_next_refusal() {
        let digest = RefusalDigest::new(Duration::from_millis(30));
        digest.refused(&ctx("bob"), "s-1");
        digest.refused(&ctx("bob"), "s-1");
        std::thread::sleep(Duration::from_millis(40));
        let next = digest.refused(&ctx("bob"), "s-1");
        assert!(next.record);
        assert_eq!(next.flush.len(), 1);
        assert_eq!(next.flush[0].refusals, 1);
    }
}
