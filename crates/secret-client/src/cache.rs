//! The client's value cache (§9.4 on the consumer's side): an LRU of values by secret id
//! with a TTL, refresh-ahead (a read after `refresh_ahead_percent` of the TTL reloads the
//! entry in the background, one reload per entry at a time), and stale-if-error (past its
//! TTL an entry is still served, for up to `stale_if_error`, when the server cannot be
//! reached; never when the server answers that the secret is gone or denied).
//!
//! Entries are dropped as the server's change stream reports their secret changed, and all
//! of them when the stream reconnects (changes may have been missed meanwhile). A load
//! that started before an invalidation is not stored, so a value the stream reported
//! changed is never cached again from an answer older than the change.

use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use lru::LruCache;
use secret_core::wire::ValueResponse;

/// Cache settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSettings {
    /// Whether values are cached at all.
    pub enabled: bool,
    /// How long a value is served without asking the server.
    pub ttl: Duration,
    /// The most values kept.
    pub max_entries: usize,
    /// The age, in percent of the TTL, after which a read reloads its entry in the
    /// background; `0` turns refresh-ahead off.
    pub refresh_ahead_percent: u8,
    /// How long past its TTL a value may still be served while the server cannot be
    /// reached; zero turns stale-if-error off.
    pub stale_if_error: Duration,
    /// Whether to follow the server's change stream to drop changed values at once.
    pub invalidation: bool,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            enabled: true,
            ttl: Duration::from_secs(60),
            max_entries: 1000,
            refresh_ahead_percent: 75,
            stale_if_error: Duration::from_secs(300),
            invalidation: true,
        }
    }
}

impl CacheSettings {
    /// No caching: every read asks the server.
    pub fn disabled() -> Self {
        CacheSettings {
            enabled: false,
            ..CacheSettings::default()
        }
    }
}

struct Entry {
    value: ValueResponse,
    loaded_at: Instant,
    refreshing: bool,
}

/// What the cache holds for an id.
pub(crate) enum Lookup {
    /// Within its TTL; `refresh`: this caller should reload it in the background.
    Fresh {
        value: ValueResponse,
        refresh: bool,
    },
    /// Past its TTL but within the stale-if-error bound: serve only if the server fails.
    Stale(ValueResponse),
    Miss,
}

pub(crate) struct ValueCache {
    settings: CacheSettings,
    entries: Mutex<LruCache<String, Entry>>,
    epoch: AtomicU64,
}

fn copy(v: &ValueResponse) -> ValueResponse {
    ValueResponse {
        id: v.id.clone(),
        name: v.name.clone(),
        version: v.version,
        value: v.value.clone(),
    }
}

impl ValueCache {
    pub(crate) fn new(settings: CacheSettings) -> Self {
        let cap = NonZeroUsize::new(settings.max_entries.max(1)).unwrap_or(NonZeroUsize::MIN);
        ValueCache {
            settings,
            entries: Mutex::new(LruCache::new(cap)),
            epoch: AtomicU64::new(0),
        }
    }

    pub(crate) fn settings(&self) -> &CacheSettings {
        &self.settings
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn lookup(&self, id: &str) -> Lookup {
        if !self.settings.enabled {
            return Lookup::Miss;
        }
        let ttl = self.settings.ttl;
        let refresh_after = match self.settings.refresh_ahead_percent {
            0 | 100.. => None,
            p => Some(ttl.mul_f64(f64::from(p) / 100.0)),
        };
        let mut entries = self.lock();
        let Some(entry) = entries.get_mut(id) else {
            return Lookup::Miss;
        };
        let age = entry.loaded_at.elapsed();
        if age < ttl {
            let refresh = !entry.refreshing && refresh_after.is_some_and(|after| age >= after);
            entry.refreshing |= refresh;
            return Lookup::Fresh {
                value: copy(&entry.value),
                refresh,
            };
        }
        if age < ttl + self.settings.stale_if_error {
            return Lookup::Stale(copy(&entry.value));
        }
        entries.pop(id);
        Lookup::Miss
    }

    /// The epoch to hand to [`ValueCache::put`] for a load starting now.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Stores a value loaded since `epoch`, unless an invalidation came in between.
    pub(crate) fn put(&self, value: &ValueResponse, epoch: u64) {
        if !self.settings.enabled {
            return;
        }
        let mut entries = self.lock();
        if self.epoch.load(Ordering::Acquire) == epoch {
            entries.put(
                value.id.to_string(),
                Entry {
                    value: copy(value),
                    loaded_at: Instant::now(),
                    refreshing: false,
                },
            );
        }
    }

    /// A reload of `id` ended without storing (it failed): another may start.
    pub(crate) fn refresh_failed(&self, id: &str) {
        if let Some(entry) = self.lock().peek_mut(id) {
            entry.refreshing = false;
        }
    }

    pub(crate) fn invalidate(&self, id: &str) {
        let mut entries = self.lock();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.pop(id);
    }

    pub(crate) fn clear(&self) {
        let mut entries = self.lock();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}
