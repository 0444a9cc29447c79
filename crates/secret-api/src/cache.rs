//! The read cache (§9.4): a secret's metadata, grants and current version reference (the
//! ciphertext for the local backend; for an external vault, the value as fetched,
//! re-encrypted under a local data key; never plaintext), so an authorized value read needs no
//! database round trip of its own. Authorization is still decided on every read.
//!
//! Every write through this service invalidates the secret's entry, and a load that started
//! before any invalidation is not stored, so this process never serves what it has itself
//! overwritten. Writes by another process (another server replica, the scheduler) arrive
//! through the change feed (`service::changes`), which drops the entry as soon as the write
//! commits; the time-to-live bounds staleness only while the feed is down.
//!
//! Refresh-ahead: an entry read after `refresh_ahead_percent` of its TTL is reloaded in the
//! background (one reload per entry at a time) while the read is served from it, so a secret
//! read steadily never waits for a reload.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lru::LruCache;
use secret_core::model::{AccessGrant, SecretMetadata};
use secret_store::VersionRecord;

/// The default time-to-live, in seconds.
pub const DEFAULT_TTL_SECS: u64 = 300;
/// The default number of secrets kept.
pub const DEFAULT_MAX_ENTRIES: usize = 10_000;
/// The default refresh-ahead point, in percent of the TTL.
pub const DEFAULT_REFRESH_AHEAD_PERCENT: u8 = 75;

/// Cache settings (§9.4 `CacheConfig`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    /// Whether reads are cached at all.
    pub enabled: bool,
    /// How long an entry is served before it is reloaded.
    pub ttl: Duration,
    /// The most secrets kept.
    pub max_entries: usize,
    /// The age, as a percentage of the TTL, after which a read reloads its entry in the
    /// background; `0` (or 100 and more) turns refresh-ahead off.
    pub refresh_ahead_percent: u8,
    /// Whether the service follows the change feed of the other processes sharing its
    /// database (dropping their writes from this cache, their vault and key changes from
    /// its clients). Off, another process's write is seen only once the TTL has passed.
    pub follow_changes: bool,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            enabled: true,
            ttl: Duration::from_secs(DEFAULT_TTL_SECS),
            max_entries: DEFAULT_MAX_ENTRIES,
            refresh_ahead_percent: DEFAULT_REFRESH_AHEAD_PERCENT,
            follow_changes: true,
        }
    }
}

impl CacheConfig {
    /// No caching: every read goes to the database.
    pub fn disabled() -> Self {
        CacheConfig {
            enabled: false,
            ..CacheConfig::default()
        }
    }
}

/// What a read needs of one secret.
#[derive(Debug)]
pub(crate) struct Snapshot {
    pub(crate) metadata: SecretMetadata,
    pub(crate) grants: Vec<AccessGrant>,
    /// The current version's reference; `None` when the row was missing (never cached).
    pub(crate) current: Option<VersionRecord>,
    /// For a value kept in an external vault: the current version's value as last fetched,
    /// encrypted under a local data key exactly as the local store would keep it (bound to
    /// the secret id and version), so a cached read needs no vault call and no plaintext
    /// is ever cached. Dropped with the entry.
    pub(crate) sealed: Mutex<Option<SealedValue>>,
}

/// A value encrypted under a data key for (secret id, version).
#[derive(Clone)]
pub(crate) struct SealedValue {
    pub(crate) version: i64,
    pub(crate) key_id: String,
    pub(crate) blob: Vec<u8>,
}

impl std::fmt::Debug for SealedValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedValue")
            .field("version", &self.version)
            .field("key_id", &self.key_id)
            .field("len", &self.blob.len())
            .finish()
    }
}

struct Entry {
    snapshot: Arc<Snapshot>,
    loaded_at: Instant,
    /// Whether a background reload of this entry is under way.
    refreshing: bool,
}

/// A cache hit.
pub(crate) struct Hit {
    pub(crate) snapshot: Arc<Snapshot>,
    /// Whether the caller should reload the entry in the background (it alone was told).
    pub(crate) refresh: bool,
}

/// An LRU map from secret id to [`Snapshot`], with a TTL and write invalidation.
pub(crate) struct ReadCache {
    config: CacheConfig,
    entries: Mutex<LruCache<String, Entry>>,
    /// Bumped by every invalidation; a load records it first and is dropped if it moved.
    epoch: AtomicU64,
}

impl std::fmt::Debug for ReadCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadCache")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ReadCache {
    pub(crate) fn new(config: CacheConfig) -> Self {
        let cap = NonZeroUsize::new(config.max_entries.max(1)).unwrap_or(NonZeroUsize::MIN);
        ReadCache {
            config,
            entries: Mutex::new(LruCache::new(cap)),
            epoch: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<String, Entry>> {
        // A panic while holding the lock cannot leave the map inconsistent for our use.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn refresh_after(&self) -> Option<Duration> {
        match self.config.refresh_ahead_percent {
            0 | 100.. => None,
            p => Some(self.config.ttl.mul_f64(f64::from(p) / 100.0)),
        }
    }

    /// A fresh entry for `id`.
    pub(crate) fn get(&self, id: &str) -> Option<Hit> {
        if !self.config.enabled {
            return None;
        }
        let refresh_after = self.refresh_after();
        let mut entries = self.lock();
        let entry = entries.get_mut(id)?;
        let age = entry.loaded_at.elapsed();
        if age >= self.config.ttl {
            entries.pop(id);
            return None;
        }
        let refresh = !entry.refreshing && refresh_after.is_some_and(|after| age >= after);
        if refresh {
            entry.refreshing = true;
        }
        Some(Hit {
            snapshot: entry.snapshot.clone(),
            refresh,
        })
    }

    /// The epoch to pass to [`ReadCache::put`] for a load starting now.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Stores a snapshot loaded since `epoch`, unless something was invalidated meanwhile.
    pub(crate) fn put(&self, id: &str, snapshot: Arc<Snapshot>, epoch: u64) {
        if !self.config.enabled || snapshot.current.is_none() {
            return;
        }
        let mut entries = self.lock();
        if self.epoch.load(Ordering::Acquire) == epoch {
            entries.put(
                id.to_string(),
                Entry {
                    snapshot,
                    loaded_at: Instant::now(),
                    refreshing: false,
                },
            );
        }
    }

    /// Forgets `id` (after any write to it).
    pub(crate) fn invalidate(&self, id: &str) {
        let mut entries = self.lock();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.pop(id);
    }

    /// Forgets every entry (changes may have been missed).
    pub(crate) fn clear(&self) {
        let mut entries = self.lock();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }

    /// The entry of `id`, if any, without touching its recency or age.
    pub(crate) fn peek(&self, id: &str) -> Option<Arc<Snapshot>> {
        self.lock().peek(id).map(|e| e.snapshot.clone())
    }
}
