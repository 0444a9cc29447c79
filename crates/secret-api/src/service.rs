//! The operations of §9.1 on the local encrypted store.
//!
//! Every state change is one transaction that first locks the secret's row, then checks
//! existence, soft deletion and the caller's expected version, then writes. A value is
//! validated and encrypted for its exact (secret id, version) before it is written; a
//! rollback decrypts the old version and re-encrypts it for the new one.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use secret_access::{
    Action, Decision, VisibilityFilter, can_create, check_grant, check_revoke, decide,
};
use secret_audit::{AuditEvent, AuditWriter, WriterConfig};
use secret_core::SecretAuditEventType as E;
use secret_core::audit::AuditEntry;
use secret_core::limits::RECOVERY_PERIOD_DAYS;
use secret_core::model::{
    AccessGrant, CreateSecretParams, GrantAccessParams, ListSecretsParams, Page, SealedMasked,
    SecretMetadata, SecretVersionInfo, UpdateSecretParams, UpdateValueParams, VersionedValue,
};
use secret_core::name::{
    normalize_tags, validate_change_reason, validate_description, validate_metadata,
    validate_platform_id, validate_secret_name,
};
use secret_core::{
    Clock, SecretContext, SecretError, SecretScope, SecretType, SecretValue, StorageBackendKind,
    SystemClock, ValueFacts,
};
use secret_store::{
    AuditStore, Database, KeyManager, LocalEncryptedBackend, MetadataChange, NewSecret, NewUsage,
    NewVersion, SecretFilter, SecretRepository, StorageBackend, ValueTarget, VersionAdvance,
    WriteTx,
};

use crate::cache::{CacheConfig, ReadCache, Snapshot};
use crate::config::ServiceConfig;

type Result<T> = std::result::Result<T, SecretError>;

/// How recent an authentication must be for a permanent delete (§14.3).
const REAUTHENTICATION_WINDOW: Duration = Duration::minutes(5);

/// The longest rotation interval accepted, in days (ten years).
const MAX_ROTATION_INTERVAL_DAYS: i32 = 3650;

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
    pub(crate) local: LocalEncryptedBackend,
    pub(crate) clock: Arc<dyn Clock>,
}

/// A value checked against its declared type and normalised, with its derived facts and
/// its masked display (kept apart: it is stored only encrypted).
pub(crate) struct CheckedValue {
    pub(crate) value: SecretValue,
    pub(crate) facts: ValueFacts,
    pub(crate) masked: String,
}

/// Checks `value` against the secret's declared type and validates it as of `now`.
///
/// The facts kept in plain metadata never include the masked display: for some types it
/// shows characters of the value (an API key's last four), and no part of a value is
/// stored unencrypted. It is returned apart, to be sealed beside the value.
pub(crate) fn check_value(
    declared: SecretType,
    value: SecretValue,
    now: DateTime<Utc>,
) -> Result<CheckedValue> {
    value.check_type(declared)?;
    let (value, mut facts) = value.validate_at(now)?;
    let masked = std::mem::take(&mut facts.masked);
    Ok(CheckedValue {
        value,
        facts,
        masked,
    })
}

fn check_rotation_interval(days: Option<i32>) -> Result<()> {
    match days {
        Some(d) if !(1..=MAX_ROTATION_INTERVAL_DAYS).contains(&d) => Err(SecretError::validation(
            "rotationIntervalDays",
            format!("must be between 1 and {MAX_ROTATION_INTERVAL_DAYS}"),
        )),
        _ => Ok(()),
    }
}

/// The interval to use when rotation is on: the given one, else the type's default.
fn effective_interval(
    secret_type: SecretType,
    enabled: bool,
    days: Option<i32>,
) -> Result<Option<i32>> {
    check_rotation_interval(days)?;
    if !enabled {
        return Ok(days);
    }
    match days.or_else(|| {
        secret_type
            .default_rotation_interval_days()
            .map(|d| d as i32)
    }) {
        Some(d) => Ok(Some(d)),
        None => Err(SecretError::validation(
            "rotationIntervalDays",
            format!("is required when rotation is enabled for {secret_type} secrets"),
        )),
    }
}

/// The earlier of the expiry asked for and the value's own (a certificate's notAfter).
fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn not_found(id: &str) -> SecretError {
    SecretError::SecretNotFound { id: id.to_string() }
}

fn check_expected(expected: Option<i64>, current: i64) -> Result<()> {
    match expected {
        Some(e) if e != current => Err(SecretError::VersionConflict {
            expected: e,
            current,
        }),
        _ => Ok(()),
    }
}

/// Value reads refused to one caller in one window past the first (see
/// [`SecretService::record_refusal_summary`]).
#[derive(Debug, Clone)]
pub struct RefusalSummary {
    /// The caller, as of its first refused read of the window.
    pub ctx: SecretContext,
    /// How many reads were refused after the first.
    pub refusals: u64,
    /// The secrets asked for (at most 20).
    pub secret_ids: Vec<String>,
    /// When the window started.
    pub window_start: DateTime<Utc>,
    /// When it was summarised.
    pub window_end: DateTime<Utc>,
}

/// The owner ids a new secret gets, from its scope, the request and the caller's context.
struct Owner {
    organization_id: Option<String>,
    team_id: Option<String>,
    project_id: Option<String>,
    user_id: Option<String>,
}

fn resolve_owner(
    scope: SecretScope,
    target: &secret_core::model::ScopeTarget,
    ctx: &SecretContext,
) -> Result<Owner> {
    let org = target
        .organization_id
        .clone()
        .or_else(|| ctx.organization_id.clone());
    let team = target.team_id.clone().or_else(|| ctx.team_id.clone());
    let project = target.project_id.clone().or_else(|| ctx.project_id.clone());
    let require = |field: &str, v: Option<String>| -> Result<String> {
        let v = v.ok_or_else(|| {
            SecretError::validation(field, format!("is required for {scope} secrets"))
        })?;
        validate_platform_id(field, &v)?;
        Ok(v)
    };
    let forbid = |field: &str, v: &Option<String>| -> Result<()> {
        match v {
            Some(_) => Err(SecretError::validation(
                field,
                format!("is not allowed for {scope} secrets"),
            )),
            None => Ok(()),
        }
    };
    let optional = |field: &str, v: Option<String>| -> Result<Option<String>> {
        if let Some(v) = &v {
            validate_platform_id(field, v)?;
        }
        Ok(v)
    };
    Ok(match scope {
        SecretScope::Global => {
            forbid("organizationId", &target.organization_id)?;
            forbid("teamId", &target.team_id)?;
            forbid("projectId", &target.project_id)?;
            Owner {
                organization_id: None,
                team_id: None,
                project_id: None,
                user_id: None,
            }
        }
        SecretScope::Organization => {
            forbid("teamId", &target.team_id)?;
            forbid("projectId", &target.project_id)?;
            Owner {
                organization_id: Some(require("organizationId", org)?),
                team_id: None,
                project_id: None,
                user_id: None,
            }
        }
        SecretScope::Team => {
            forbid("projectId", &target.project_id)?;
            Owner {
                organization_id: Some(require("organizationId", org)?),
                team_id: Some(require("teamId", team)?),
                project_id: None,
                user_id: None,
            }
        }
        SecretScope::Project => {
            let org = require("organizationId", org)?;
            let project = require("projectId", project)?;
            // A project may sit under a team: the team id given explicitly, else the
            // project's own team as the caller's verified membership names it.
            let team = target.team_id.clone().or_else(|| {
                ctx.principal
                    .project_in(Some(&org), None, Some(&project))
                    .and_then(|m| m.team.clone())
            });
            Owner {
                organization_id: Some(org),
                team_id: optional("teamId", team)?,
                project_id: Some(project),
                user_id: None,
            }
        }
        SecretScope::User => {
            forbid("teamId", &target.team_id)?;
            forbid("projectId", &target.project_id)?;
            Owner {
                organization_id: optional("organizationId", org)?,
                team_id: None,
                project_id: None,
                user_id: Some(require("userId", Some(ctx.user_id().to_string()))?),
            }
        }
    })
}

/// The names of the metadata fields that differ between `a` and `b`.
fn changed_fields(a: &SecretMetadata, b: &SecretMetadata) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut check = |name: &'static str, differs: bool| {
        if differs {
            out.push(name);
        }
    };
    check("description", a.description != b.description);
    check("expiresAt", a.expires_at != b.expires_at);
    check("rotationEnabled", a.rotation_enabled != b.rotation_enabled);
    check(
        "rotationIntervalDays",
        a.rotation_interval_days != b.rotation_interval_days,
    );
    check("tags", a.tags != b.tags);
    check("metadata", a.metadata != b.metadata);
    check("lifecycle", a.lifecycle != b.lifecycle);
    out
}

fn check_context(ctx: &SecretContext) -> Result<()> {
    validate_platform_id("userId", ctx.user_id())?;
    if ctx.consumer_module.trim().is_empty() {
        return Err(SecretError::validation(
            "consumerModule",
            "must not be empty",
        ));
    }
    Ok(())
}

fn action_name(action: Action) -> &'static str {
    match action {
        Action::Create => "creating",
        Action::ViewMetadata => "viewing",
        Action::Read => "reading the value of",
        Action::Update => "updating",
        Action::Delete => "deleting",
        Action::Grant => "managing access to",
    }
}

/// Turns a decision into the caller's answer: 404 for a secret it cannot see, 403 for one
/// it can see but not act on.
fn enforce(decision: Decision, action: Action, id: &str) -> Result<()> {
    match decision {
        Decision::Allow => Ok(()),
        Decision::Deny => Err(SecretError::AccessDenied {
            reason: format!("{} secret {id} is not permitted", action_name(action)),
        }),
        Decision::Invisible => Err(not_found(id)),
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
        Ok(SecretService {
            inner: Arc::new(Inner {
                audit: AuditWriter::start(AuditStore::new(db.clone()), WriterConfig::default()),
                audit_store: AuditStore::new(db.clone()),
                repo: SecretRepository::new(db),
                cache: ReadCache::new(cache),
                local: LocalEncryptedBackend::new(keys.clone()),
                keys,
                clock,
            }),
        })
    }

    /// The key manager, for data-key and master-key rotation. Prefer the audited
    /// [`SecretService::rotate_data_key`] and [`SecretService::rotate_master_key`].
    pub fn keys(&self) -> &KeyManager {
        &self.inner.keys
    }

    /// Records a key-management event by `operator` (a SYSTEM actor) with its outcome.
    async fn audit_key_event<T>(
        &self,
        event: AuditEvent,
        operator: &str,
        result: Result<T>,
    ) -> Result<T> {
        let event = match &result {
            Ok(_) => event,
            Err(e) => event.failed(e),
        };
        let entry =
            event
                .actor_type(secret_core::ActorType::System)
                .entry(None, operator, self.now());
        self.write_audit(vec![entry], Vec::new()).await?;
        result
    }

    /// Makes a new data key the active one (the old one is retired: it decrypts, no longer
    /// encrypts); audited as KEY_ROTATED by `operator`. Returns the new key's id.
    pub async fn rotate_data_key(&self, operator: &str) -> Result<String> {
        let result = self
            .inner
            .keys
            .rotate_data_key()
            .await
            .map_err(SecretError::from);
        let mut event = AuditEvent::new(E::KeyRotated).detail("kind", "data");
        if let Ok(id) = &result {
            event = event.detail("id", id.clone());
        }
        self.audit_key_event(event, operator, result).await
    }

    /// Re-wraps every data key under `new_master` (no value is re-encrypted); audited as
    /// KEY_ROTATED by `operator`.
    pub async fn rotate_master_key(
        &self,
        new_master: &secret_crypto::MasterKeyMaterial,
        operator: &str,
    ) -> Result<()> {
        let result = self
            .inner
            .keys
            .rotate_master_key(new_master)
            .await
            .map_err(SecretError::from);
        let event = AuditEvent::new(E::KeyRotated).detail("kind", "master");
        self.audit_key_event(event, operator, result).await
    }

    /// The database behind the service.
    pub fn database(&self) -> &Database {
        self.inner.repo.database()
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// The audit trail's store, for queries and verification.
    pub fn audit_store(&self) -> &AuditStore {
        &self.inner.audit_store
    }

    /// The masked display of version `version` of secret `id`, encrypted with the active
    /// data key under the masked-display domain.
    pub(crate) fn seal_masked(&self, id: &str, version: i64, masked: &str) -> Result<SealedMasked> {
        let (key_id, blob) = self
            .inner
            .keys
            .encrypt_masked(id, version, masked.as_bytes())?;
        Ok(SealedMasked { key_id, blob })
    }

    /// `meta` with its `maskedValue` decrypted. A blob that does not open (tampered, or
    /// under a key this process cannot load) leaves it absent and is logged; metadata is
    /// still answered.
    pub(crate) async fn unsealed(&self, mut meta: SecretMetadata) -> SecretMetadata {
        if meta.sealed_masked.is_none() {
            return meta;
        }
        if let Some(shown) = self.open_masked(&meta).await {
            meta.masked_value = Some(shown);
            return meta;
        }
        // A cached row may predate a re-encryption by another process: read it again.
        if let Ok(Some(fresh)) = self.inner.repo.find(&meta.id).await
            && fresh.metadata.current_version == meta.current_version
            && fresh.metadata.sealed_masked != meta.sealed_masked
        {
            meta.sealed_masked = fresh.metadata.sealed_masked;
            meta.masked_value = self.open_masked(&meta).await;
        }
        if meta.masked_value.is_none() {
            tracing::error!(
                secret_id = %meta.id,
                "the masked display of a secret could not be decrypted"
            );
        }
        meta
    }

    async fn open_masked(&self, meta: &SecretMetadata) -> Option<String> {
        let sealed = meta.sealed_masked.as_ref()?;
        let plain = self
            .inner
            .keys
            .decrypt_masked(&sealed.key_id, &meta.id, meta.current_version, &sealed.blob)
            .await
            .ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }

    /// The entry for `event` by `ctx`'s caller, now.
    pub(crate) fn entry(&self, event: AuditEvent, ctx: &SecretContext) -> AuditEntry {
        event.entry(Some(ctx), "system", self.now())
    }

    /// Writes entries (and usage rows) durably through the group-commit writer.
    pub(crate) async fn write_audit(
        &self,
        entries: Vec<AuditEntry>,
        usages: Vec<NewUsage>,
    ) -> Result<()> {
        self.inner.audit.write(entries, usages).await
    }

    /// Whether the secret `id` exists but is invisible to the caller, so that its "not
    /// found" is a refusal.
    async fn hidden_from(&self, id: &str, ctx: &SecretContext) -> Option<SecretMetadata> {
        let rec = self.inner.repo.find(id).await.ok()??;
        let grants = self.inner.repo.grants_on(&[id]).await.ok()?;
        (decide(
            &ctx.principal,
            Action::ViewMetadata,
            &rec.metadata,
            &grants,
            self.now(),
        ) == Decision::Invisible)
            .then_some(rec.metadata)
    }

    /// Records a failed or refused operation and hands its error back. A refusal (403, or
    /// a 404 for a secret the caller may not see) is ACCESS_DENIED; anything else is the
    /// operation's own event with outcome FAILURE, unless `denials_only`. If the record
    /// cannot be written the error is still returned (the operation did nothing) and the
    /// audit failure is logged.
    async fn audit_failure(
        &self,
        mut event: AuditEvent,
        err: SecretError,
        ctx: &SecretContext,
        denials_only: bool,
    ) -> SecretError {
        // Only the id is known: the record is filed under the secret asked for (never
        // under the organization the caller's header names), and names it.
        let unresolved = event
            .secret_ref()
            .filter(|r| r.scope.is_none())
            .map(|r| r.id.clone());
        let event = match (&err, unresolved) {
            (SecretError::SecretNotFound { .. }, Some(id)) => {
                match self.hidden_from(&id, ctx).await {
                    Some(meta) => {
                        event.set_secret(&meta);
                        event.denied("the secret is not visible to the caller")
                    }
                    None if denials_only => return err,
                    None => event.failed(&err),
                }
            }
            (SecretError::AccessDenied { reason }, id) => {
                self.resolve_secret(&mut event, id).await;
                event.denied(reason)
            }
            _ if denials_only => return err,
            (_, id) => {
                self.resolve_secret(&mut event, id).await;
                event.failed(&err)
            }
        };
        self.record_refusal_or_failure(event, ctx).await;
        err
    }

    /// Fills in the secret `id` an event names only by id, when it exists.
    async fn resolve_secret(&self, event: &mut AuditEvent, id: Option<String>) {
        if let Some(id) = id
            && let Ok(Some(rec)) = self.inner.repo.find(&id).await
        {
            event.set_secret(&rec.metadata);
        }
    }

    /// Writes the record of an operation that did not happen. The caller answers with
    /// the operation's own error either way, so an audit failure here is logged, not
    /// returned.
    async fn record_refusal_or_failure(&self, event: AuditEvent, ctx: &SecretContext) {
        let entry = self.entry(event, ctx);
        if let Err(audit_err) = self.write_audit(vec![entry], Vec::new()).await {
            tracing::error!(
                error = %audit_err.internal_cause().unwrap_or("audit write failed"),
                "the audit record of a refused or failed operation could not be written"
            );
        }
    }

    /// Records a value read refused before it reached the service (rate limited) as
    /// ACCESS_DENIED, and hands the error back.
    pub async fn record_refused_read(
        &self,
        id: &str,
        err: SecretError,
        ctx: &SecretContext,
    ) -> SecretError {
        let reason = err.to_string();
        let mut event = AuditEvent::new(E::SecretRead).on_id(id);
        // Filed under the secret asked for whether or not the caller may see it (a grantee
        // sees it through its grants).
        if let Ok(Some(rec)) = self.inner.repo.find(id).await {
            event.set_secret(&rec.metadata);
        }
        self.record_refusal_or_failure(event.denied(&reason), ctx)
            .await;
        err
    }

    /// Writes the one record summarising the value reads refused to one caller in a
    /// window past the first (rate limited): ACCESS_DENIED with the count, the window and
    /// the secrets asked for, filed under the secret when there was only one.
    pub async fn record_refusal_summary(&self, summary: RefusalSummary) {
        let mut event = AuditEvent::new(E::SecretRead)
            .detail("summarised", true)
            .detail("refusals", summary.refusals)
            .detail("askedFor", summary.secret_ids.clone())
            .detail(
                "windowStart",
                secret_core::audit::audit_timestamp(summary.window_start).to_rfc3339(),
            )
            .detail(
                "windowEnd",
                secret_core::audit::audit_timestamp(summary.window_end).to_rfc3339(),
            );
        if let [only] = summary.secret_ids.as_slice() {
            event = event.on_id(only);
            self.resolve_secret(&mut event, Some(only.clone())).await;
        }
        let reason = format!(
            "rate limited: {} further value reads refused in this window",
            summary.refusals
        );
        self.record_refusal_or_failure(event.denied(&reason), &summary.ctx)
            .await;
    }

    /// Runs `op`, recording its failure or refusal as `event`.
    async fn audited<T>(
        &self,
        event: AuditEvent,
        ctx: &SecretContext,
        op: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        match op.await {
            Ok(v) => Ok(v),
            Err(e) => Err(self.audit_failure(event, e, ctx, false).await),
        }
    }

    /// Runs a metadata read `op`, recording only a refusal.
    async fn audited_view<T>(
        &self,
        id: &str,
        ctx: &SecretContext,
        op: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        match op.await {
            Ok(v) => Ok(v),
            Err(e) => {
                let event = AuditEvent::new(E::SecretRead)
                    .action("VIEW_METADATA")
                    .on_id(id);
                Err(self.audit_failure(event, e, ctx, true).await)
            }
        }
    }

    /// The SECRET_READ record and usage row of a value read, written durably.
    async fn record_reads(
        &self,
        reads: &[(&SecretMetadata, i64)],
        ctx: &SecretContext,
    ) -> Result<()> {
        let now = self.now();
        let mut entries = Vec::with_capacity(reads.len());
        let mut usages = Vec::with_capacity(reads.len());
        for (meta, version) in reads {
            entries.push(
                self.entry(
                    AuditEvent::new(E::SecretRead)
                        .on(meta)
                        .detail("version", *version),
                    ctx,
                ),
            );
            usages.push(NewUsage {
                id: uuid::Uuid::now_v7().to_string(),
                secret_id: meta.id.clone(),
                consumer_module: ctx.consumer_module.chars().take(128).collect(),
                consumer_resource_id: ctx
                    .consumer_resource_id
                    .as_ref()
                    .map(|r| r.chars().take(255).collect()),
                organization_id: meta.organization_id.clone(),
                user_id: ctx.user_id().to_string(),
                used_at: secret_core::audit::audit_timestamp(now),
            });
        }
        self.write_audit(entries, usages).await
    }

    pub(crate) fn backend(&self, kind: StorageBackendKind) -> Result<&dyn StorageBackend> {
        match kind {
            StorageBackendKind::LocalEncrypted => Ok(&self.inner.local),
            other => Err(SecretError::VaultNotConfigured {
                reason: format!("no {other} vault is configured"),
            }),
        }
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

    /// Locks a live (not soft-deleted) secret, checks the caller's permission and the
    /// expected version.
    async fn lock_live(
        &self,
        tx: &mut WriteTx,
        id: &str,
        expected: Option<i64>,
        ctx: &SecretContext,
        action: Action,
    ) -> Result<SecretMetadata> {
        let (meta, _) = self.lock_authorized(tx, id, ctx, action).await?;
        if meta.is_deleted() {
            return Err(not_found(id));
        }
        check_expected(expected, meta.current_version)?;
        Ok(meta)
    }

    // ------------------------------------------------------------------ creation

    /// Creates a secret with its first version.
    pub async fn create_secret(
        &self,
        params: CreateSecretParams,
        ctx: &SecretContext,
    ) -> Result<SecretMetadata> {
        check_context(ctx)?;
        // A refused or failed create is filed under the place it aimed at: the request's
        // ids (the caller's context fills only what the request leaves out, as it does for
        // the secret itself).
        let target = &params.target;
        let pick = |own: &Option<String>, context: &Option<String>| {
            own.clone().or_else(|| context.clone())
        };
        let org = match params.scope {
            SecretScope::Global => None,
            _ => pick(&target.organization_id, &ctx.organization_id),
        };
        let event = AuditEvent::new(E::SecretCreated)
            .target(
                org.as_deref(),
                pick(&target.team_id, &ctx.team_id).as_deref(),
                pick(&target.project_id, &ctx.project_id).as_deref(),
            )
            .detail("name", params.name.clone())
            .detail("scope", params.scope.as_str())
            .detail("type", params.secret_type.as_str());
        let created = self
            .audited(event, ctx, self.create_secret_op(params, ctx))
            .await?;
        Ok(self.unsealed(created).await)
    }

    async fn create_secret_op(
        &self,
        params: CreateSecretParams,
        ctx: &SecretContext,
    ) -> Result<SecretMetadata> {
        validate_secret_name(&params.name)?;
        if let Some(d) = &params.description {
            validate_description(d)?;
        }
        let tags = normalize_tags(&params.tags)?;
        validate_metadata(&params.metadata)?;
        let owner = resolve_owner(params.scope, &params.target, ctx)?;
        if !can_create(
            &ctx.principal,
            params.scope,
            owner.organization_id.as_deref(),
            owner.team_id.as_deref(),
            owner.project_id.as_deref(),
        ) {
            return Err(SecretError::AccessDenied {
                reason: format!("creating {} secrets here is not permitted", params.scope),
            });
        }
        let backend_kind = params
            .storage_backend
            .unwrap_or(StorageBackendKind::LocalEncrypted);
        let backend = self.backend(backend_kind)?;
        let interval = effective_interval(
            params.secret_type,
            params.rotation_enabled,
            params.rotation_interval_days,
        )?;
        let lifecycle = params.lifecycle.validate(params.rotation_enabled)?;
        let now = self.now();
        let checked = check_value(params.secret_type, params.value, now)?;
        if params.expires_at.is_some_and(|at| at <= now) {
            return Err(SecretError::validation(
                "expiresAt",
                "must be in the future",
            ));
        }
        let expires_at = earliest(params.expires_at, checked.facts.natural_expiry);
        let id = uuid::Uuid::now_v7().to_string();
        let stored = backend
            .store_value(
                ValueTarget {
                    secret_id: &id,
                    secret_name: &params.name,
                    version: 1,
                },
                &checked.value,
            )
            .await?;
        let new = NewSecret {
            id: id.clone(),
            name: params.name,
            description: params.description,
            secret_type: params.secret_type,
            storage_backend: backend_kind,
            scope: params.scope,
            organization_id: owner.organization_id,
            team_id: owner.team_id,
            project_id: owner.project_id,
            user_id: owner.user_id,
            expires_at,
            rotation_enabled: params.rotation_enabled,
            rotation_interval_days: interval,
            next_rotation_at: if params.rotation_enabled {
                interval.map(|d| now + Duration::days(i64::from(d)))
            } else {
                None
            },
            tags,
            metadata: params.metadata,
            masked: Some(self.seal_masked(&id, 1, &checked.masked)?),
            facts: checked.facts,
            lifecycle,
            created_by_id: ctx.user_id().to_string(),
            now,
        };
        let mut tx = self.begin().await?;
        tx.insert_secret(&new).await?;
        tx.insert_version(NewVersion {
            secret_id: &id,
            version: 1,
            stored,
            change_reason: Some("Created".to_string()),
            created_by_id: ctx.user_id(),
            now,
        })
        .await?;
        let created = tx.find(&id).await?.ok_or_else(|| not_found(&id))?.metadata;
        tx.append_audit(&[self.entry(
            AuditEvent::new(E::SecretCreated)
                .on(&created)
                .detail("type", created.secret_type.as_str())
                .detail("version", 1)
                .detail("storageBackend", created.storage_backend.as_str()),
            ctx,
        )])
        .await?;
        tx.commit().await?;
        tracing::info!(secret_id = %id, scope = %new.scope, secret_type = %new.secret_type, "secret created");
        Ok(created)
    }

    // ------------------------------------------------------------------ reads

    /// The current value of a secret. Soft-deleted secrets are not found; expired ones
    /// answer SECRET_EXPIRED.
    pub async fn get_secret(&self, id: &str, ctx: &SecretContext) -> Result<SecretValue> {
        Ok(self.get_secret_value(id, ctx).await?.value)
    }

    /// The current value with the secret's id, name and version.
    pub async fn get_secret_value(&self, id: &str, ctx: &SecretContext) -> Result<VersionedValue> {
        check_context(ctx)?;
        self.read_audited(id, None, ctx).await
    }

    /// The value of one version of a secret.
    pub async fn get_secret_version(
        &self,
        id: &str,
        version: i64,
        ctx: &SecretContext,
    ) -> Result<VersionedValue> {
        check_context(ctx)?;
        self.read_audited(id, Some(version), ctx).await
    }

    /// The current value, or `None` when the secret does not exist or is soft-deleted.
    pub async fn get_secret_or_none(
        &self,
        id: &str,
        ctx: &SecretContext,
    ) -> Result<Option<SecretValue>> {
        match self.get_secret(id, ctx).await {
            Ok(v) => Ok(Some(v)),
            Err(SecretError::SecretNotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The current values of several secrets, keyed by id, in a fixed number of queries.
    /// Ids that do not exist, are soft-deleted or that the caller cannot see are left out;
    /// any other failure (denied, expired, undecryptable) fails the whole call.
    pub async fn get_secrets(
        &self,
        ids: &[String],
        ctx: &SecretContext,
    ) -> Result<BTreeMap<String, SecretValue>> {
        check_context(ctx)?;
        let now = self.now();
        let records = self.inner.repo.find_many(ids).await?;
        let found: Vec<&str> = records.iter().map(|r| r.metadata.id.as_str()).collect();
        let grants = self.inner.repo.grants_on(&found).await?;
        let mut live = Vec::with_capacity(records.len());
        for r in records {
            let own: Vec<AccessGrant> = grants
                .iter()
                .filter(|g| g.secret_id == r.metadata.id)
                .cloned()
                .collect();
            let refused = match decide(&ctx.principal, Action::Read, &r.metadata, &own, now) {
                Decision::Invisible => continue,
                d => enforce(d, Action::Read, &r.metadata.id).err(),
            };
            if r.metadata.is_deleted() && refused.is_none() {
                continue;
            }
            let refused = refused.or_else(|| {
                r.metadata
                    .is_expired_at(now)
                    .then(|| SecretError::SecretExpired {
                        id: r.metadata.id.clone(),
                    })
            });
            if let Some(err) = refused {
                let event = AuditEvent::new(E::SecretRead).on(&r.metadata);
                return Err(self.audit_failure(event, err, ctx, false).await);
            }
            live.push(r.metadata);
        }
        let pairs: Vec<(String, i64)> = live
            .iter()
            .map(|m| (m.id.clone(), m.current_version))
            .collect();
        let versions = self.inner.repo.find_versions(&pairs).await?;
        let mut out = BTreeMap::new();
        for v in versions {
            let Some(meta) = live.iter().find(|m| m.id == v.secret_id) else {
                continue;
            };
            let event = AuditEvent::new(E::SecretRead).on(meta);
            let value = self
                .audited(event, ctx, self.retrieve(meta, v.version, &v.stored))
                .await?;
            out.insert(meta.id.clone(), (meta, v.version, value));
        }
        let reads: Vec<(&SecretMetadata, i64)> = out
            .values()
            .map(|(meta, version, _)| (*meta, *version))
            .collect();
        self.record_reads(&reads, ctx).await?;
        Ok(out
            .into_iter()
            .map(|(id, (_, _, value))| (id, value))
            .collect())
    }

    pub(crate) async fn retrieve(
        &self,
        meta: &SecretMetadata,
        version: i64,
        stored: &secret_store::StoredValue,
    ) -> Result<SecretValue> {
        self.backend(meta.storage_backend)?
            .retrieve_value(
                ValueTarget {
                    secret_id: &meta.id,
                    secret_name: &meta.name,
                    version,
                },
                stored,
            )
            .await
            .map_err(SecretError::from)
    }

    /// A secret's metadata (never its value). Soft-deleted secrets are returned too, with
    /// `deletedAt` set, so they can be restored.
    pub async fn get_metadata(&self, id: &str, ctx: &SecretContext) -> Result<SecretMetadata> {
        check_context(ctx)?;
        let mut meta = self
            .audited_view(id, ctx, self.authorized(id, ctx, Action::ViewMetadata))
            .await?;
        let usage = self.inner.audit_store.usage_summary(id).await?;
        meta.usage = Some(secret_core::model::SecretUsageInfo {
            last_used_at: usage.last_used_at,
            consumer_modules: usage.modules,
        });
        Ok(self.unsealed(meta).await)
    }

    /// Secrets visible in the caller's context, filtered and paged in SQL.
    pub async fn list_secrets(
        &self,
        params: &ListSecretsParams,
        ctx: &SecretContext,
    ) -> Result<Page<SecretMetadata>> {
        check_context(ctx)?;
        let (page, limit) = params.paging()?;
        let tags = normalize_tags(&params.tags)?;
        if params
            .search
            .as_ref()
            .is_some_and(|s| s.chars().count() > 255)
        {
            return Err(SecretError::validation(
                "search",
                "must be at most 255 characters",
            ));
        }
        let filter = SecretFilter {
            visibility: VisibilityFilter::for_principal(&ctx.principal),
            now: self.now(),
            scope: params.scope,
            secret_type: params.secret_type,
            tags,
            search: params.search.clone(),
            include_deleted: params.include_deleted,
            page,
            limit,
        };
        let mut found = self.inner.repo.list(&filter).await?;
        // Each masked display is a small blob on the secret's row: no value is fetched.
        let mut items = Vec::with_capacity(found.items.len());
        for meta in std::mem::take(&mut found.items) {
            items.push(self.unsealed(meta).await);
        }
        found.items = items;
        Ok(found)
    }

    /// A secret's version history, newest first.
    pub async fn list_versions(
        &self,
        id: &str,
        ctx: &SecretContext,
    ) -> Result<Vec<SecretVersionInfo>> {
        check_context(ctx)?;
        let meta = self
            .audited_view(id, ctx, self.authorized(id, ctx, Action::ViewMetadata))
            .await?;
        Ok(self
            .inner
            .repo
            .list_versions(id, meta.current_version)
            .await?)
    }

    /// A live, unexpired secret's metadata, once the caller may read its value.
    async fn readable(&self, snap: &Snapshot, ctx: &SecretContext) -> Result<()> {
        let meta = &snap.metadata;
        let now = self.now();
        enforce(
            decide(&ctx.principal, Action::Read, meta, &snap.grants, now),
            Action::Read,
            &meta.id,
        )?;
        if meta.is_deleted() {
            return Err(not_found(&meta.id));
        }
        if meta.is_expired_at(now) {
            return Err(SecretError::SecretExpired {
                id: meta.id.clone(),
            });
        }
        Ok(())
    }

    /// What a read needs of a secret: from the cache, or loaded (and cached).
    async fn snapshot(&self, id: &str) -> Result<Arc<Snapshot>> {
        match self.inner.cache.get(id) {
            Some(snap) => Ok(snap),
            None => self.load_snapshot(id).await,
        }
    }

    async fn load_snapshot(&self, id: &str) -> Result<Arc<Snapshot>> {
        let epoch = self.inner.cache.epoch();
        let metadata = self
            .inner
            .repo
            .find(id)
            .await?
            .ok_or_else(|| not_found(id))?
            .metadata;
        let grants = self.inner.repo.grants_on(&[id]).await?;
        let current = self
            .inner
            .repo
            .find_version(id, metadata.current_version)
            .await?;
        let snap = Arc::new(Snapshot {
            metadata,
            grants,
            current,
        });
        self.inner.cache.put(id, snap.clone(), epoch);
        Ok(snap)
    }

    /// Reads `version` (the current one when `None`) of a readable secret. A cached
    /// reference that no longer decrypts (its data key was destroyed by a key rotation in
    /// another process) is reloaded once.
    async fn read(
        &self,
        id: &str,
        version: Option<i64>,
        ctx: &SecretContext,
    ) -> Result<(VersionedValue, Arc<Snapshot>)> {
        let mut snap = self.snapshot(id).await?;
        for attempt in 0..2 {
            self.readable(&snap, ctx).await?;
            match self.read_version(&snap, version).await {
                Err(SecretError::DecryptionFailed) if attempt == 0 => {
                    self.inner.cache.invalidate(id);
                    snap = self.load_snapshot(id).await?;
                }
                other => return other.map(|v| (v, snap)),
            }
        }
        Err(SecretError::DecryptionFailed)
    }

    /// A value read with its audit: refusals and failures are recorded; on success the
    /// SECRET_READ record and the usage row are committed before the value is handed
    /// over, and if they cannot be, the read fails and the value is dropped.
    async fn read_audited(
        &self,
        id: &str,
        version: Option<i64>,
        ctx: &SecretContext,
    ) -> Result<VersionedValue> {
        let event = AuditEvent::new(E::SecretRead).on_id(id);
        let (value, snap) = self
            .audited(event, ctx, self.read(id, version, ctx))
            .await?;
        self.record_reads(&[(&snap.metadata, value.version)], ctx)
            .await?;
        Ok(value)
    }

    async fn read_version(&self, snap: &Snapshot, version: Option<i64>) -> Result<VersionedValue> {
        let meta = &snap.metadata;
        let version = version.unwrap_or(meta.current_version);
        let not_found = || SecretError::VersionNotFound {
            id: meta.id.clone(),
            version,
        };
        let stored = match &snap.current {
            Some(current) if current.version == version => current.clone(),
            _ => self
                .inner
                .repo
                .find_version(&meta.id, version)
                .await?
                .ok_or_else(not_found)?,
        };
        let value = self
            .backend(meta.storage_backend)?
            .retrieve_value(
                ValueTarget {
                    secret_id: &meta.id,
                    secret_name: &meta.name,
                    version,
                },
                &stored.stored,
            )
            .await?;
        Ok(VersionedValue {
            id: meta.id.clone(),
            name: meta.name.clone(),
            version,
            value,
        })
    }

    // ------------------------------------------------------------------ writes

    /// Updates a secret's metadata (description, expiry, rotation settings, tags, metadata).
    pub async fn update_secret(
        &self,
        id: &str,
        params: UpdateSecretParams,
        ctx: &SecretContext,
    ) -> Result<SecretMetadata> {
        check_context(ctx)?;
        let event = AuditEvent::new(E::SecretUpdated)
            .action("UPDATE_METADATA")
            .on_id(id);
        let meta = self
            .audited(event, ctx, self.update_secret_op(id, params, ctx))
            .await?;
        Ok(self.unsealed(meta).await)
    }

    async fn update_secret_op(
        &self,
        id: &str,
        params: UpdateSecretParams,
        ctx: &SecretContext,
    ) -> Result<SecretMetadata> {
        if let secret_core::model::FieldUpdate::Set(d) = &params.description {
            validate_description(d)?;
        }
        let tags = params.tags.as_deref().map(normalize_tags).transpose()?;
        if let Some(m) = &params.metadata {
            validate_metadata(m)?;
        }
        let now = self.now();
        if matches!(params.expires_at, secret_core::model::FieldUpdate::Set(at) if at <= now) {
            return Err(SecretError::validation(
                "expiresAt",
                "must be in the future",
            ));
        }
        let mut tx = self.begin().await?;
        let current = self
            .lock_live(&mut tx, id, params.expected_version, ctx, Action::Update)
            .await?;
        let before = current.clone();
        let rotation_enabled = params.rotation_enabled.unwrap_or(current.rotation_enabled);
        let lifecycle = params
            .lifecycle
            .clone()
            .apply(current.lifecycle.clone())
            .validate(rotation_enabled)?;
        let interval = effective_interval(
            current.secret_type,
            rotation_enabled,
            params
                .rotation_interval_days
                .apply(current.rotation_interval_days),
        )?;
        let next_rotation_at = if rotation_enabled {
            let base = current.last_rotated_at.unwrap_or(current.created_at);
            interval.map(|d| base + Duration::days(i64::from(d)))
        } else {
            None
        };
        let expires_at = earliest(
            params.expires_at.apply(current.expires_at),
            current.facts.natural_expiry,
        );
        tx.update_metadata(
            id,
            &MetadataChange {
                expected_version: Some(current.current_version),
                actor_id: ctx.user_id(),
                now,
                description: params.description.apply(current.description),
                expires_at,
                rotation_enabled,
                rotation_interval_days: interval,
                next_rotation_at,
                tags: tags.unwrap_or(current.tags),
                metadata: params.metadata.unwrap_or(current.metadata),
                lifecycle,
            },
        )
        .await?;
        let updated = tx.find(id).await?.ok_or_else(|| not_found(id))?.metadata;
        tx.append_audit(&[self.entry(
            AuditEvent::new(E::SecretUpdated)
                .action("UPDATE_METADATA")
                .on(&updated)
                .detail("fields", changed_fields(&before, &updated)),
            ctx,
        )])
        .await?;
        tx.commit().await?;
        self.inner.cache.invalidate(id);
        Ok(updated)
    }

    /// Writes a new value as a new version.
    pub async fn update_secret_value(
        &self,
        id: &str,
        params: UpdateValueParams,
        ctx: &SecretContext,
    ) -> Result<SecretMetadata> {
        check_context(ctx)?;
        if let Some(r) = &params.change_reason {
            validate_change_reason(r)?;
        }
        let reason = params
            .change_reason
            .unwrap_or_else(|| "Value updated".to_string());
        let event = AuditEvent::new(E::SecretUpdated)
            .action("UPDATE_VALUE")
            .on_id(id);
        let meta = self
            .audited(
                event.clone(),
                ctx,
                self.write_new_version(
                    id,
                    params.value,
                    reason,
                    params.expected_version,
                    event,
                    ctx,
                ),
            )
            .await?;
        Ok(self.unsealed(meta).await)
    }

    /// Rotates a secret to `new_value`: a new version, `lastRotatedAt` = now and
    /// `nextRotationAt` moved on by the rotation interval.
    pub async fn rotate_secret(
        &self,
        id: &str,
        new_value: SecretValue,
        expected_version: Option<i64>,
        ctx: &SecretContext,
    ) -> Result<SecretMetadata> {
        check_context(ctx)?;
        let event = AuditEvent::new(E::SecretRotated).on_id(id);
        let meta = self
            .audited(
                event.clone(),
                ctx,
                self.write_new_version(
                    id,
                    new_value,
                    "Rotation".to_string(),
                    expected_version,
                    event,
                    ctx,
                ),
            )
            .await?;
        Ok(self.unsealed(meta).await)
    }

    /// Writes `value` as a new version, recorded as `event` (SECRET_ROTATED for a
    /// rotation) in the same transaction.
    async fn write_new_version(
        &self,
        id: &str,
        value: SecretValue,
        reason: String,
        expected: Option<i64>,
        event: AuditEvent,
        ctx: &SecretContext,
    ) -> Result<SecretMetadata> {
        let rotation = event.event_type() == E::SecretRotated;
        let now = self.now();
        let mut tx = self.begin().await?;
        let current = self
            .lock_live(&mut tx, id, expected, ctx, Action::Update)
            .await?;
        let version = self
            .append_version(&mut tx, &current, value, reason.clone(), rotation, now, ctx)
            .await?;
        let updated = self
            .audit_in(
                &mut tx,
                id,
                event
                    .detail("version", version)
                    .detail("changeReason", reason),
                ctx,
            )
            .await?;
        tx.commit().await?;
        self.inner.cache.invalidate(id);
        tracing::info!(secret_id = %id, version, rotation, "secret value updated");
        Ok(updated)
    }

    /// Appends `event` about secret `id`, as it now stands in `tx`, to the audit trail in
    /// the same transaction; returns the secret's metadata.
    async fn audit_in(
        &self,
        tx: &mut WriteTx,
        id: &str,
        mut event: AuditEvent,
        ctx: &SecretContext,
    ) -> Result<SecretMetadata> {
        let meta = tx.find(id).await?.ok_or_else(|| not_found(id))?.metadata;
        event.set_secret(&meta);
        tx.append_audit(&[self.entry(event, ctx)]).await?;
        Ok(meta)
    }

    /// Validates `value` for the locked secret `current`, stores it as the next version and
    /// moves the secret's pointer to it, in `tx`. Returns the new version number.
    #[allow(clippy::too_many_arguments)] // one call site per kind of new version
    async fn append_version(
        &self,
        tx: &mut WriteTx,
        current: &SecretMetadata,
        value: SecretValue,
        reason: String,
        rotation: bool,
        now: DateTime<Utc>,
        ctx: &SecretContext,
    ) -> Result<i64> {
        let checked = check_value(current.secret_type, value, now)?;
        let version = current.current_version + 1;
        let target = ValueTarget {
            secret_id: &current.id,
            secret_name: &current.name,
            version,
        };
        let stored = self
            .backend(current.storage_backend)?
            .store_value(target, &checked.value)
            .await?;
        self.advance(tx, current, &checked, rotation, now, ctx)
            .await?;
        tx.insert_version(NewVersion {
            secret_id: &current.id,
            version,
            stored,
            change_reason: Some(reason),
            created_by_id: ctx.user_id(),
            now,
        })
        .await?;
        Ok(version)
    }

    pub(crate) async fn advance(
        &self,
        tx: &mut WriteTx,
        current: &SecretMetadata,
        checked: &CheckedValue,
        rotation: bool,
        now: DateTime<Utc>,
        ctx: &SecretContext,
    ) -> Result<i64> {
        let facts = &checked.facts;
        let masked = self.seal_masked(&current.id, current.current_version + 1, &checked.masked)?;
        // A value with its own expiry (a certificate) moves the secret's expiry with it; a
        // new value for an expired secret ends the expiry (§8.1: "until a new value is set").
        let natural_changed =
            facts.natural_expiry != current.facts.natural_expiry || current.is_expired_at(now);
        let expires_at = natural_changed.then(|| {
            if current.is_expired_at(now) {
                return facts.natural_expiry.filter(|at| *at > now);
            }
            let asked = if current.expires_at == current.facts.natural_expiry {
                None
            } else {
                current.expires_at
            };
            earliest(asked, facts.natural_expiry)
        });
        let next_rotation = rotation.then(|| {
            if current.rotation_enabled {
                current
                    .rotation_interval_days
                    .map(|d| now + Duration::days(i64::from(d)))
            } else {
                None
            }
        });
        Ok(tx
            .advance_version(
                &current.id,
                &VersionAdvance {
                    expected_version: Some(current.current_version),
                    actor_id: ctx.user_id(),
                    now,
                    facts,
                    masked: Some(&masked),
                    expires_at,
                    rotation: next_rotation,
                },
            )
            .await?)
    }

    /// Makes an earlier version's value current again, as a new version re-encrypted for
    /// its new place, with the reason "Rollback to version N".
    pub async fn rollback_secret(
        &self,
        id: &str,
        to_version: i64,
        expected_version: Option<i64>,
        ctx: &SecretContext,
    ) -> Result<SecretMetadata> {
        check_context(ctx)?;
        let event = AuditEvent::new(E::SecretUpdated)
            .action("ROLLBACK")
            .on_id(id)
            .detail("rolledBackTo", to_version);
        let meta = self
            .audited(
                event.clone(),
                ctx,
                self.rollback_op(id, to_version, expected_version, event, ctx),
            )
            .await?;
        Ok(self.unsealed(meta).await)
    }

    async fn rollback_op(
        &self,
        id: &str,
        to_version: i64,
        expected_version: Option<i64>,
        event: AuditEvent,
        ctx: &SecretContext,
    ) -> Result<SecretMetadata> {
        if to_version < 1 {
            return Err(SecretError::validation("version", "must be 1 or more"));
        }
        let now = self.now();
        let mut tx = self.begin().await?;
        let current = self
            .lock_live(&mut tx, id, expected_version, ctx, Action::Update)
            .await?;
        if to_version == current.current_version {
            return Err(SecretError::validation(
                "version",
                format!("version {to_version} is already the current version"),
            ));
        }
        let target =
            tx.find_version(id, to_version)
                .await?
                .ok_or_else(|| SecretError::VersionNotFound {
                    id: id.to_string(),
                    version: to_version,
                })?;
        let backend = self.backend(current.storage_backend)?;
        let old_value = backend
            .retrieve_value(
                ValueTarget {
                    secret_id: id,
                    secret_name: &current.name,
                    version: to_version,
                },
                &target.stored,
            )
            .await?;
        let reason = format!("Rollback to version {to_version}");
        let version = self
            .append_version(&mut tx, &current, old_value, reason, false, now, ctx)
            .await?;
        let updated = self
            .audit_in(&mut tx, id, event.detail("version", version), ctx)
            .await?;
        tx.commit().await?;
        self.inner.cache.invalidate(id);
        tracing::info!(secret_id = %id, to_version, version, "secret rolled back");
        Ok(updated)
    }

    /// Soft-deletes a secret: it disappears from reads and listings and can be restored for
    /// 30 days. Its name stays taken until it is purged.
    pub async fn delete_secret(
        &self,
        id: &str,
        expected_version: Option<i64>,
        ctx: &SecretContext,
    ) -> Result<SecretMetadata> {
        check_context(ctx)?;
        let event = AuditEvent::new(E::SecretDeleted).on_id(id);
        let meta = self
            .audited(event, ctx, self.delete_op(id, expected_version, ctx))
            .await?;
        Ok(self.unsealed(meta).await)
    }

    async fn delete_op(
        &self,
        id: &str,
        expected_version: Option<i64>,
        ctx: &SecretContext,
    ) -> Result<SecretMetadata> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let current = self
            .lock_live(&mut tx, id, expected_version, ctx, Action::Delete)
            .await?;
        tx.soft_delete(
            id,
            ctx.user_id(),
            now,
            now + Duration::days(RECOVERY_PERIOD_DAYS),
            Some(current.current_version),
        )
        .await?;
        let deleted = self
            .audit_in(&mut tx, id, AuditEvent::new(E::SecretDeleted), ctx)
            .await?;
        tx.commit().await?;
        self.inner.cache.invalidate(id);
        tracing::info!(secret_id = %id, "secret soft-deleted");
        Ok(deleted)
    }

    /// Restores a soft-deleted secret within its recovery period.
    pub async fn restore_secret(&self, id: &str, ctx: &SecretContext) -> Result<SecretMetadata> {
        check_context(ctx)?;
        let event = AuditEvent::new(E::SecretRestored).on_id(id);
        let meta = self.audited(event, ctx, self.restore_op(id, ctx)).await?;
        Ok(self.unsealed(meta).await)
    }

    async fn restore_op(&self, id: &str, ctx: &SecretContext) -> Result<SecretMetadata> {
        let now = self.now();
        let mut tx = self.begin().await?;
        self.lock_authorized(&mut tx, id, ctx, Action::Delete)
            .await?;
        tx.restore(id, ctx.user_id(), now).await?;
        let restored = self
            .audit_in(&mut tx, id, AuditEvent::new(E::SecretRestored), ctx)
            .await?;
        tx.commit().await?;
        self.inner.cache.invalidate(id);
        tracing::info!(secret_id = %id, "secret restored");
        Ok(restored)
    }

    /// Deletes a soft-deleted secret for good, with every version and grant. Needs an
    /// authentication less than five minutes old (REAUTHENTICATION_REQUIRED otherwise); a
    /// secret that is not soft-deleted first is CONFLICT.
    pub async fn permanently_delete_secret(&self, id: &str, ctx: &SecretContext) -> Result<()> {
        check_context(ctx)?;
        let event = AuditEvent::new(E::SecretPermanentlyDeleted).on_id(id);
        self.audited(event, ctx, self.purge_op(id, ctx)).await
    }

    async fn purge_op(&self, id: &str, ctx: &SecretContext) -> Result<()> {
        let now = self.now();
        match ctx.principal.auth_time {
            Some(at) if now - at <= REAUTHENTICATION_WINDOW => {}
            _ => return Err(SecretError::ReauthenticationRequired),
        }
        let mut tx = self.begin().await?;
        let (meta, _) = self
            .lock_authorized(&mut tx, id, ctx, Action::Delete)
            .await?;
        if !meta.is_deleted() {
            return Err(SecretError::Conflict {
                message: format!(
                    "secret {id} is not soft-deleted: delete it first, then delete it permanently"
                ),
            });
        }
        tx.append_audit(&[self.entry(
            AuditEvent::new(E::SecretPermanentlyDeleted)
                .on(&meta)
                .detail("versions", meta.current_version),
            ctx,
        )])
        .await?;
        tx.delete_usage(id).await?;
        let versions = tx.delete_permanently(id).await?;
        tx.commit().await?;
        self.inner.cache.invalidate(id);
        let stored: Vec<_> = versions.into_iter().map(|v| v.stored).collect();
        self.backend(meta.storage_backend)?
            .delete_secret(id, &stored)
            .await?;
        tracing::info!(secret_id = %id, "secret permanently deleted");
        Ok(())
    }

    // ------------------------------------------------------------------ access grants

    /// Grants a user, team or role access to a secret, replacing an earlier grant to the
    /// same grantee. The caller needs GRANT and can pass on only permissions it holds.
    pub async fn grant_access(
        &self,
        secret_id: &str,
        params: GrantAccessParams,
        ctx: &SecretContext,
    ) -> Result<AccessGrant> {
        check_context(ctx)?;
        let event = AuditEvent::new(E::AccessGranted)
            .on_id(secret_id)
            .detail("granteeType", params.grantee_type.as_str())
            .detail("granteeId", params.grantee_id.clone());
        self.audited(event, ctx, self.grant_op(secret_id, params, ctx))
            .await
    }

    async fn grant_op(
        &self,
        secret_id: &str,
        params: GrantAccessParams,
        ctx: &SecretContext,
    ) -> Result<AccessGrant> {
        validate_platform_id("granteeId", &params.grantee_id)?;
        let now = self.now();
        let mut tx = self.begin().await?;
        let rec = tx
            .lock_secret(secret_id)
            .await?
            .ok_or_else(|| not_found(secret_id))?;
        let grants = tx.grants_on(secret_id).await?;
        let expires_at = check_grant(&ctx.principal, &rec.metadata, &grants, &params, now)?;
        if rec.metadata.is_deleted() {
            return Err(not_found(secret_id));
        }
        let replaced = grants
            .iter()
            .find(|g| g.grantee_type == params.grantee_type && g.grantee_id == params.grantee_id)
            .cloned();
        let grant = AccessGrant {
            id: uuid::Uuid::now_v7().to_string(),
            secret_id: secret_id.to_string(),
            grantee_type: params.grantee_type,
            grantee_id: params.grantee_id,
            can_read: params.can_read,
            can_update: params.can_update,
            can_delete: params.can_delete,
            can_grant: params.can_grant,
            expires_at,
            granted_at: now,
            granted_by_id: ctx.user_id().to_string(),
        };
        let saved = tx.upsert_grant(&grant).await?;
        let mut event = AuditEvent::new(E::AccessGranted)
            .on(&rec.metadata)
            .detail("grantId", saved.id.clone())
            .detail("granteeType", saved.grantee_type.as_str())
            .detail("granteeId", saved.grantee_id.clone())
            .detail("canRead", saved.can_read)
            .detail("canUpdate", saved.can_update)
            .detail("canDelete", saved.can_delete)
            .detail("canGrant", saved.can_grant)
            .detail("expiresAt", saved.expires_at.map(|t| t.to_rfc3339()));
        if saved.expires_at != params.expires_at {
            // Capped at the granter's own access.
            event = event.detail(
                "requestedExpiresAt",
                params.expires_at.map(|t| t.to_rfc3339()),
            );
        }
        if let Some(old) = &replaced {
            event = event.action("GRANT_REPLACED").detail(
                "previous",
                serde_json::json!({
                    "grantId": old.id,
                    "canRead": old.can_read,
                    "canUpdate": old.can_update,
                    "canDelete": old.can_delete,
                    "canGrant": old.can_grant,
                    "expiresAt": old.expires_at.map(|t| t.to_rfc3339()),
                    "grantedById": old.granted_by_id,
                }),
            );
        }
        tx.append_audit(&[self.entry(event, ctx)]).await?;
        tx.commit().await?;
        self.inner.cache.invalidate(secret_id);
        tracing::info!(
            secret_id = %secret_id,
            grant_id = %saved.id,
            grantee_type = %saved.grantee_type,
            "access granted"
        );
        Ok(saved)
    }

    /// Revokes one grant of a secret. The caller needs GRANT.
    pub async fn revoke_access(
        &self,
        secret_id: &str,
        grant_id: &str,
        ctx: &SecretContext,
    ) -> Result<AccessGrant> {
        check_context(ctx)?;
        let event = AuditEvent::new(E::AccessRevoked)
            .on_id(secret_id)
            .detail("grantId", grant_id);
        self.audited(event, ctx, self.revoke_op(secret_id, grant_id, ctx))
            .await
    }

    async fn revoke_op(
        &self,
        secret_id: &str,
        grant_id: &str,
        ctx: &SecretContext,
    ) -> Result<AccessGrant> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let rec = tx
            .lock_secret(secret_id)
            .await?
            .ok_or_else(|| not_found(secret_id))?;
        let grants = tx.grants_on(secret_id).await?;
        check_revoke(&ctx.principal, &rec.metadata, &grants, now)?;
        let grant = grants
            .into_iter()
            .find(|g| g.id == grant_id)
            .ok_or_else(|| SecretError::GrantNotFound {
                id: grant_id.to_string(),
            })?;
        tx.delete_grant(secret_id, grant_id).await?;
        tx.append_audit(&[self.entry(
            AuditEvent::new(E::AccessRevoked)
                .on(&rec.metadata)
                .detail("grantId", grant.id.clone())
                .detail("granteeType", grant.grantee_type.as_str())
                .detail("granteeId", grant.grantee_id.clone()),
            ctx,
        )])
        .await?;
        tx.commit().await?;
        self.inner.cache.invalidate(secret_id);
        tracing::info!(secret_id = %secret_id, grant_id = %grant_id, "access revoked");
        Ok(grant)
    }

    /// The grants of a secret. The caller needs GRANT on it.
    pub async fn list_access_grants(
        &self,
        secret_id: &str,
        ctx: &SecretContext,
    ) -> Result<Vec<AccessGrant>> {
        check_context(ctx)?;
        self.audited_view(
            secret_id,
            ctx,
            self.authorized(secret_id, ctx, Action::Grant),
        )
        .await?;
        Ok(self.inner.repo.grants_on(&[secret_id]).await?)
    }
}
