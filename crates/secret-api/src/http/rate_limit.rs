//! The per-user limit on value reads (§14.3: 100 per minute by default), in memory.
//!
//! A sliding-window counter: each user has a count for the current fixed minute and for the
//! one before, and a request is admitted while `previous × (share of the previous minute
//! still inside the sliding window) + current` stays below the limit. This smooths the
//! burst a plain fixed window allows at a minute boundary, in O(1) memory per user. Users
//! are spread over shards, each behind its own short-held mutex; a shard forgets users idle
//! for two minutes the first time it is touched in a new minute.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);
const SHARDS: usize = 16;

#[derive(Clone, Copy)]
struct Counter {
    window: u64,
    current: u32,
    previous: u32,
}

#[derive(Default)]
struct Shard {
    users: HashMap<String, Counter>,
    swept_window: u64,
}

/// Admits or refuses value reads per user.
pub(crate) struct RateLimiter {
    limit: u32,
    origin: Instant,
    hasher: RandomState,
    shards: Vec<Mutex<Shard>>,
}

impl RateLimiter {
    /// A limiter of `limit_per_minute` reads per user; `0` admits everything.
    pub(crate) fn new(limit_per_minute: u32) -> Self {
        RateLimiter {
            limit: limit_per_minute,
            origin: Instant::now(),
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
        }
    }

    /// Counts one read by `user`; `Err` carries the seconds to wait before retrying.
    pub(crate) fn check(&self, user: &str) -> Result<(), u64> {
        self.check_at(user, self.origin.elapsed())
    }

    /// [`check`](Self::check) at `elapsed` since the limiter was made.
    fn check_at(&self, user: &str, elapsed: Duration) -> Result<(), u64> {
        if self.limit == 0 || self.shards.is_empty() {
            return Ok(());
        }
        let window_nanos = WINDOW.as_nanos();
        let now = elapsed.as_nanos();
        let window = u64::try_from(now / window_nanos).unwrap_or(u64::MAX);
        // Share of the current window already elapsed, in [0, 1).
        let progress = (now % window_nanos) as f64 / window_nanos as f64;

        let index = (self.hasher.hash_one(user) % SHARDS as u64) as usize;
        let mut shard = self.shards[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if shard.swept_window < window {
            shard
                .users
                .retain(|_, c| c.window.saturating_add(1) >= window);
            shard.swept_window = window;
        }
        let counter = shard.users.entry(user.to_owned()).or_insert(Counter {
            window,
            current: 0,
            previous: 0,
        });
        if counter.window != window {
            counter.previous = if counter.window.saturating_add(1) == window {
                counter.current
            } else {
                0
            };
            counter.current = 0;
            counter.window = window;
        }
        let limit = f64::from(self.limit);
        let previous = f64::from(counter.previous);
        let current = f64::from(counter.current);
        let estimate = previous * (1.0 - progress) + current;
        if estimate + 1.0 <= limit {
            counter.current += 1;
            return Ok(());
        }
        Err(retry_after(limit, previous, current, progress))
    }
}

/// Whole seconds (at least 1) until a read would be admitted, given the window's counts.
fn retry_after(limit: f64, previous: f64, current: f64, progress: f64) -> u64 {
    let wait_windows = if current + 1.0 <= limit && previous > 0.0 {
        // Admitted once enough of the previous window has slid out of view.
        let needed = 1.0 - (limit - current - 1.0) / previous;
        (needed - progress).max(0.0)
    } else {
        // Not before the next window, where this window's count is the one sliding out.
        let next = if current > 0.0 {
            (1.0 - (limit - 1.0) / current).max(0.0)
        } else {
            0.0
        };
        (1.0 - progress) + next
    };
    let secs = (wait_windows * WINDOW.as_secs_f64()).ceil();
    (secs as u64).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: f64) -> Duration {
        Duration::from_secs_f64(secs)
    }

    #[test]
    fn admits_the_limit_then_refuses_with_a_wait() {
        let l = RateLimiter::new(3);
        for _ in 0..3 {
            assert!(l.check_at("u", at(1.0)).is_ok());
        }
        let wait = l.check_at("u", at(1.0)).unwrap_err();
        // Next window starts at 60 s; then 3 × (1 − f) + 1 ≤ 3 needs f ≥ 1/3, i.e. 20 s more.
        assert!((79..=80).contains(&wait), "{wait}");
        assert!(l.check_at("u", at(1.0 + 80.0)).is_ok());
        // Other users are unaffected.
        assert!(l.check_at("v", at(1.0)).is_ok());
    }

    #[test]
    fn the_previous_minute_slides_out_gradually() {
        let l = RateLimiter::new(4);
        for _ in 0..4 {
            assert!(l.check_at("u", at(50.0)).is_ok());
        }
        // At 60 s the previous window still counts fully: refused.
        assert!(l.check_at("u", at(60.0)).is_err());
        // At 75 s, 4 × 0.75 = 3 < 4: one more admitted, then refused.
        assert!(l.check_at("u", at(75.0)).is_ok());
        assert!(l.check_at("u", at(75.0)).is_err());
        // Two idle minutes later everything is forgotten.
        for _ in 0..4 {
            assert!(l.check_at("u", at(200.0)).is_ok());
        }
    }

    #[test]
    fn zero_disables_the_limit() {
        let l = RateLimiter::new(0);
        for _ in 0..1000 {
            assert!(l.check_at("u", at(1.0)).is_ok());
        }
    }

    #[test]
    fn idle_users_are_forgotten() {
        let l = RateLimiter::new(5);
        let shard_of = |user: &str| (l.hasher.hash_one(user) % SHARDS as u64) as usize;
        assert!(l.check_at("u", at(1.0)).is_ok());
        let neighbour = (0..10_000)
            .map(|i| format!("w{i}"))
            .find(|w| shard_of(w) == shard_of("u"))
            .unwrap();
        assert!(l.check_at(&neighbour, at(200.0)).is_ok());
        let shard = l.shards[shard_of("u")].lock().unwrap();
        assert!(!shard.users.contains_key("u"));
        assert!(shard.users.contains_key(&neighbour));
    }
}
