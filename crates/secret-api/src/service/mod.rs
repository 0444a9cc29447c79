//! The operations of §9.1 on the local encrypted store.
//!
//! Every state change is one transaction that first locks the secret's row, then checks
//! existence, soft deletion and the caller's expected version, then writes. A value is
//! validated and encrypted for its exact (secret id, version) before it is written; a
//! rollback decrypts the old version and re-encrypts it for the new one.
//!
//! # Layout
//!
//! [`SecretService`] is one type; its methods are split by operation group, one
//! `impl SecretService` block per file:
//!
//! - this file: the service and its shared state, the constructors, and the permission
//!   checks every operation starts with (`authorized` for reads, `lock_authorized` and
//!   `lock_live` inside a write transaction);
//! - `check`: checks that need no database: a value against its declared type, rotation
//!   intervals, a new secret's owner ids, the caller's context, and turning an access
//!   decision into the caller's error;
//! - `audit`: audit records outside a write transaction: refused and failed operations,
//!   value reads with their usage rows, and the `audited` wrappers every operation runs in;
//! - the operations: `create`, `read` (values, metadata, listings, the read cache and the
//!   masked display), `write` (metadata, new values, rotation), `versions` (rollback),
//!   `deletion` (soft delete, restore, purge), `grants`, `vaults`, `keys` (key
//!   management), `resolve` (secret references), `transfer` (import and export) and
//!   `migration` (moving secrets between vaults, with its runner and supervisor);
//! - the scheduler's steps: `jobs` (scans, expiry notices, expiry, retention, purge,
//!   expired grants), `rotation` (automatic rotation around the handler) and `reconcile`
//!   (pending writes to external vaults); `secret-lifecycle` runs them as jobs.
//!
//! A public operation checks the caller's context, names the audit event its failure is
//! recorded under, and runs a private `*_op` through `audited`; on an existing secret the
//! `*_op` locks its row, checks, writes, appends its audit record and commits in one
//! transaction, then invalidates the read cache. Compliance reports (`crate::compliance`)
//! add a further `impl SecretService` block of their own.

mod audit;
mod changes;
mod check;
mod commit;
mod create;
mod deletion;
mod expiry;
mod grants;
mod jobs;
mod keys;
mod migration;
mod permissions;
mod read;
mod reader;
mod reconcile;
mod resolve;
mod rotation;
mod transfer;
mod vaults;
mod versions;
mod write;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use secret_access::{Action, decide};
use secret_audit::{AuditWriter, VerifyError, WriterConfig};
use secret_core::audit::AuditRecord;
use secret_core::model::{AccessGrant, SecretMetadata};
use secret_core::{Clock, SecretContext, SecretError, SystemClock};
use secret_store::{
    AuditStore, BackendRegistry, Database, KeyManager, SecretRepository, StorageBackend,
    VaultRepository, WriteTx,
};

use crate::cache::{CacheConfig, ReadCache};
use crate::config::ServiceConfig;

pub use audit::RefusalSummary;
pub use changes::{Announcement, Audience, ChangeFeedStatus};
use check::enforce;
pub(crate) use check::{CheckedValue, check_value};
pub(crate) use commit::{NextVersion, VersionNote};
pub use jobs::{ExpiryNotice, JOB_PAGE, JobReport, NoticeKind, PruneReport, SCHEDULER_ACTOR};
pub use keys::{KeyOperator, KeyStatusReport, REENCRYPT_BATCH};
pub use reader::ServiceReader;
pub use resolve::{MAX_RESOLVE_VARIABLES, Resolved};
pub use rotation::StagedRotation;
pub use transfer::{MAX_EXPORT_SECRETS, MAX_IMPORT_ITEMS};
pub use vaults::VaultHealthReport;

type Result<T> = std::result::Result<T, SecretError>;

/// The secret manager as a library: create, read, list, version, roll back and delete
/// secrets. Cheap to clone; clones share one connection pool and key ring.
#[derive(Clone, Debug)]
pub struct SecretService {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) repo: SecretRepository,
    pub(crate) audit: AuditWriter,
    pub(crate) audit_store: AuditStore,
    pub(crate) cache: ReadCache,
    pub(crate) keys: Arc<KeyManager>,
    pub(crate) vaults: VaultRepository,
    pub(crate) registry: BackendRegistry,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) migrations: migration::Migrations,
    pub(crate) follower: changes::Follower,
}

fn not_found(id: &str) -> SecretError {
    SecretError::SecretNotFound { id: id.to_string() }
}

pub(crate) fn check_expected(expected: Option<i64>, current: i64) -> Result<()> {
    match expected {
        Some(e) if e != current => Err(SecretError::VersionConflict {
            expected: e,
            current,
        }),
        _ => Ok(()),
    }
}

impl SecretService {
    /// Connects to the configured database, runs migrations if asked, and opens the key
    /// hierarchy with the master key (failing here if the key is wrong).
    pub async fn connect(config: ServiceConfig) -> Result<Self> {
        let db = Database::connect(&config.database).await?;
        if config.run_migrations {
            db.migrate().await?;
        }
        Self::open_with(db, &config.master_key, Arc::new(SystemClock), config.cache).await
    }

    /// Builds a service over an open, migrated database with the given clock and the
    /// default read cache.
    pub async fn open(
        db: Database,
        master_key: &secret_crypto::MasterKeyMaterial,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        Self::open_with(db, master_key, clock, CacheConfig::default()).await
    }

    /// Builds a service over an open, migrated database with the given clock and cache.
    /// Starts the audit writer on the current Tokio runtime, which must outlive the
    /// service.
    pub async fn open_with(
        db: Database,
        master_key: &secret_crypto::MasterKeyMaterial,
        clock: Arc<dyn Clock>,
        cache: CacheConfig,
    ) -> Result<Self> {
        let keys = Arc::new(KeyManager::open(db.clone(), master_key).await?);
        let (follower, stopped) = changes::Follower::new(cache.follow_changes, cache.ttl);
        let inner = Arc::new(Inner {
            audit: AuditWriter::start(AuditStore::new(db.clone()), WriterConfig::default()),
            audit_store: AuditStore::new(db.clone()),
            repo: SecretRepository::new(db.clone()),
            cache: ReadCache::new(cache),
            vaults: VaultRepository::new(db.clone()),
            registry: BackendRegistry::new(keys.clone(), VaultRepository::new(db.clone())),
            keys,
            clock,
            migrations: migration::Migrations::new(secret_store::MigrationJobs::new(db.clone())),
            follower,
        });
        if let Some(stopped) = stopped {
            changes::follow(&inner, db, stopped);
        }
        Ok(SecretService { inner })
    }

    /// Whether the database answers (the readiness probe).
    pub async fn ping(&self) -> Result<()> {
        Ok(self.inner.repo.database().ping().await?)
    }

    /// Closes the service's connection pool (waiting for connections in use). Other clones
    /// of this service can no longer reach the database afterwards.
    pub async fn close(&self) -> Result<()> {
        Ok(self.inner.repo.database().clone().close().await?)
    }

    /// The time on the service's clock (the scheduler's jobs plan with it).
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// Walks the whole keyed audit chain (what `secret-server audit verify` does); returns
    /// the number of records checked, or the first record changed, removed or inserted.
    pub async fn verify_audit_chain(&self) -> std::result::Result<u64, VerifyError> {
        secret_audit::verify_chain(&self.inner.audit_store).await
    }

    /// Up to `limit` audit records after sequence number `after_seq`, in chain order, for
    /// an operator's export or inspection (records are redacted; no caller is checked:
    /// use [`SecretService::list_audit_logs`] on behalf of a principal).
    pub async fn audit_records_after(
        &self,
        after_seq: i64,
        limit: u64,
    ) -> Result<Vec<AuditRecord>> {
        Ok(self.inner.audit_store.scan(after_seq, limit).await?)
    }

    /// The backend keeping the values of `meta` (its vault configuration's client).
    pub(crate) async fn backend(&self, meta: &SecretMetadata) -> Result<Arc<dyn StorageBackend>> {
        Ok(self.inner.registry.backend(&meta.vault_id).await?)
    }

    pub(crate) async fn begin(&self) -> Result<WriteTx> {
        Ok(self.inner.repo.begin().await?)
    }

    /// A secret's metadata after checking that the caller may perform `action` on it.
    async fn authorized(
        &self,
        id: &str,
        ctx: &SecretContext,
        action: Action,
    ) -> Result<SecretMetadata> {
        let snap = self.snapshot(id).await?;
        let (meta, grants) = (snap.metadata.clone(), &snap.grants);
        enforce(
            decide(&ctx.principal, action, &meta, grants, self.now()),
            action,
            id,
        )?;
        Ok(meta)
    }

    /// Locks a secret in `tx` and checks that the caller may perform `action` on it.
    async fn lock_authorized(
        &self,
        tx: &mut WriteTx,
        id: &str,
        ctx: &SecretContext,
        action: Action,
    ) -> Result<(SecretMetadata, Vec<AccessGrant>)> {
        let rec = tx.lock_secret(id).await?.ok_or_else(|| not_found(id))?;
        let grants = tx.grants_on(id).await?;
        enforce(
            decide(&ctx.principal, action, &rec.metadata, &grants, self.now()),
            action,
            id,
        )?;
        Ok((rec.metadata, grants))
    }

    /// Locks a live (not soft-deleted) secret and checks the caller's permission (the
    /// caller then checks the version it expects with `check_expected`).
    async fn lock_live(
        &self,
        tx: &mut WriteTx,
        id: &str,
        ctx: &SecretContext,
        action: Action,
    ) -> Result<SecretMetadata> {
        let (meta, _) = self.lock_authorized(tx, id, ctx, action).await?;
        if meta.is_deleted() {
            return Err(not_found(id));
        }
        Ok(meta)
    }
}
