//! The runner of a migration and the supervisor that starts runners.
//!
//! A runner first takes the migration's lease (so exactly one runner, in one process, works
//! on it), renews it while it works, and records its progress after every secret: the
//! counts, the errors, the last secret finished (the cursor: secrets are taken in id order)
//! and the secret being copied (`in_flight`). A runner that is killed leaves its lease to
//! run out; the supervisor of any server then claims the migration and goes on from the
//! cursor, first settling the secret that was in flight: if its pointer had moved it counts
//! as migrated, otherwise its partial copy in the target is removed and it is copied again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::Utc;
use secret_audit::AuditEvent;
use secret_core::SecretAuditEventType as E;
use secret_core::wire::{MigrationError, MigrationState};
use secret_core::{Principal, SecretContext, SecretError, StorageBackendKind};
use secret_store::{MigrationProgress, StorageBackend};

use super::copy::{Endpoints, Moved};
use super::{Options, parse_errors, parse_options, push_error};
use crate::service::{Result, SecretService};

/// How long a runner's lease lasts without renewal: how soon after a crash another
/// server takes the migration over.
const LEASE: Duration = Duration::from_secs(10);
/// How often a runner renews its lease while it works on one secret.
const RENEW_EVERY: Duration = Duration::from_secs(3);
/// How often the supervisor looks for running migrations nobody holds.
const SUPERVISE_EVERY: Duration = Duration::from_secs(2);
/// Secrets read per page.
const PAGE: u64 = 100;

fn lease_until() -> chrono::DateTime<Utc> {
    Utc::now() + chrono::Duration::from_std(LEASE).unwrap_or_else(|_| chrono::Duration::seconds(10))
}

/// Starts the supervisor of `service` on the current runtime (if there is one): it runs
/// every running migration no live runner holds, at once and then every few seconds. It
/// stops when the service is dropped.
pub(crate) fn spawn_supervisor(service: &SecretService) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let weak = Arc::downgrade(&service.inner);
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(SUPERVISE_EVERY);
        loop {
            tick.tick().await;
            let Some(inner) = weak.upgrade() else { return };
            let service = SecretService { inner };
            match service.inner.migrations.jobs.unclaimed(Utc::now()).await {
                Ok(ids) => {
                    for id in ids {
                        spawn_run(service.clone(), id);
                    }
                }
                Err(err) => tracing::warn!(error = %SecretError::from(err),
                    "the running migrations could not be listed"),
            }
        }
    });
}

/// Runs migration `id` in the background unless this process already runs it.
pub(super) fn spawn_run(service: SecretService, id: String) {
    {
        let mut running = service
            .inner
            .migrations
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if !running.insert(id.clone()) {
            return;
        }
    }
    tokio::spawn(async move {
        if let Err(err) = service.drive(&id).await {
            tracing::warn!(migration_id = %id, error = %err, "a migration run stopped; it resumes later");
        }
        service
            .inner
            .migrations
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    });
}

/// A migration's counts and errors as a runner keeps them.
pub(super) struct Tally {
    /// The migration and the runner holding it.
    id: String,
    owner: String,
    pub(super) total: i64,
    pub(super) migrated: i64,
    pub(super) failed: i64,
    pub(super) skipped: i64,
    pub(super) errors: Vec<MigrationError>,
    pub(super) cursor: Option<String>,
}

impl Tally {
    fn fail(&mut self, secret_id: &str, secret_name: &str, err: &SecretError) {
        self.failed += 1;
        push_error(
            &mut self.errors,
            MigrationError {
                secret_id: secret_id.to_string(),
                secret_name: secret_name.to_string(),
                error: err.to_string(),
                code: err.code().as_str().to_string(),
            },
        );
    }
}

/// Aborts the lease renewal when the run ends, however it ends.
struct Renewal(tokio::task::JoinHandle<()>);

impl Drop for Renewal {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl SecretService {
    /// Takes migration `id`'s lease and works through it until it is done, paused, or the
    /// lease is lost.
    async fn drive(&self, id: &str) -> Result<()> {
        let jobs = self.inner.migrations.jobs.clone();
        let owner = self.inner.migrations.runner_id.clone();
        if !jobs.claim(id, &owner, Utc::now(), lease_until()).await? {
            return Ok(());
        }
        jobs.mark_started(id, self.now()).await?;
        let lost = Arc::new(AtomicBool::new(false));
        let _renewal = {
            let (jobs, owner, id, lost) =
                (jobs.clone(), owner.clone(), id.to_string(), lost.clone());
            Renewal(tokio::spawn(async move {
                loop {
                    tokio::time::sleep(RENEW_EVERY).await;
                    if !matches!(jobs.renew(&id, &owner, lease_until()).await, Ok(true)) {
                        lost.store(true, Ordering::Release);
                    }
                }
            }))
        };
        let row = jobs
            .find(id)
            .await?
            .ok_or_else(|| SecretError::MigrationNotFound { id: id.to_string() })?;
        let options = parse_options(&row)?;
        let mut tally = Tally {
            id: id.to_string(),
            owner: owner.clone(),
            total: row.total,
            migrated: row.migrated,
            failed: row.failed,
            skipped: row.skipped,
            errors: parse_errors(&row)?,
            cursor: row.cursor.clone(),
        };
        let ctx = SecretContext::new(Principal::user(row.created_by_id.clone()), "migration");
        let (source, target, target_kind) = match self
            .endpoints(&row.source_vault_id, &row.target_vault_id)
            .await
        {
            Ok(ends) => ends,
            Err(err) => {
                tally.fail("", "", &err);
                return self
                    .finish(&mut tally, &options, MigrationState::Failed, &ctx)
                    .await;
            }
        };
        let ends = Endpoints {
            source_id: &row.source_vault_id,
            target_id: &row.target_vault_id,
            target_kind,
            source,
            target,
            options: &options,
            migration_id: id,
            ctx: &ctx,
        };
        if let Some(in_flight) = &row.in_flight {
            self.settle_in_flight(in_flight, &ends, &mut tally).await?;
            self.save(id, &owner, &tally, None).await?;
        }
        loop {
            let page = self
                .inner
                .repo
                .in_vault_after(
                    &options.secrets(&row.source_vault_id),
                    tally.cursor.as_deref(),
                    PAGE,
                )
                .await?;
            if page.is_empty() {
                break;
            }
            for meta in page {
                let state = jobs.find(id).await?.map(|r| r.state);
                if state.as_deref() != Some(MigrationState::Running.as_str()) {
                    jobs.release(id, &owner).await?;
                    return Ok(());
                }
                if lost.load(Ordering::Acquire) {
                    return Ok(());
                }
                // The target is checked before the secret is marked in flight, so that
                // what a resumed run removes from the target is only ever this run's copy.
                let outcome = match self.target_is_clear(meta.id.as_str(), &ends).await {
                    Err(err) => Err(err),
                    Ok(()) => {
                        if !self
                            .save(id, &owner, &tally, Some(meta.id.as_str()))
                            .await?
                        {
                            return Ok(());
                        }
                        self.move_secret(&meta, &ends).await
                    }
                };
                match outcome {
                    Ok(Moved::Yes { warning }) => {
                        tally.migrated += 1;
                        if let Some(err) = warning {
                            push_error(
                                &mut tally.errors,
                                MigrationError {
                                    secret_id: meta.id.to_string(),
                                    secret_name: meta.name.clone(),
                                    error: format!(
                                        "migrated, but its copy in the source was not deleted: {err}"
                                    ),
                                    code: err.code().as_str().to_string(),
                                },
                            );
                        }
                    }
                    Ok(Moved::Skipped) => tally.skipped += 1,
                    Err(err) => tally.fail(meta.id.as_str(), &meta.name, &err),
                }
                tally.cursor = Some(meta.id.to_string());
                tally.total = tally
                    .total
                    .max(tally.migrated + tally.failed + tally.skipped);
                if !self.save(id, &owner, &tally, None).await? {
                    return Ok(());
                }
                if tally.failed > 0 && !options.continue_on_error {
                    return self
                        .finish(&mut tally, &options, MigrationState::Failed, &ctx)
                        .await;
                }
            }
        }
        // Run to the end: COMPLETED, with any secrets that failed (continueOnError) counted
        // and listed.
        self.finish(&mut tally, &options, MigrationState::Completed, &ctx)
            .await
    }

    /// The source and target backends, and the target's kind.
    async fn endpoints(
        &self,
        source: &str,
        target: &str,
    ) -> Result<(
        Arc<dyn StorageBackend>,
        Arc<dyn StorageBackend>,
        StorageBackendKind,
    )> {
        let source_backend = self.inner.registry.backend(source).await?;
        let target_record =
            self.inner
                .vaults
                .find(target)
                .await?
                .ok_or_else(|| SecretError::VaultNotFound {
                    id: target.to_string(),
                })?;
        let target_backend = self.inner.registry.backend_of(&target_record).await?;
        Ok((source_backend, target_backend, target_record.backend))
    }

    async fn save(
        &self,
        id: &str,
        owner: &str,
        t: &Tally,
        in_flight: Option<&str>,
    ) -> Result<bool> {
        let errors = serde_json::to_string(&t.errors)
            .map_err(|_| SecretError::internal("a migration's errors do not serialize"))?;
        Ok(self
            .inner
            .migrations
            .jobs
            .save_progress(
                id,
                owner,
                &MigrationProgress {
                    total: t.total,
                    migrated: t.migrated,
                    failed: t.failed,
                    skipped: t.skipped,
                    errors: &errors,
                    cursor: t.cursor.as_deref(),
                    in_flight,
                    now: self.now(),
                    lease_until: lease_until(),
                },
            )
            .await?)
    }

    /// Ends a migration: its SECRETS_MIGRATED record with the result, then the state.
    async fn finish(
        &self,
        tally: &mut Tally,
        options: &Options,
        state: MigrationState,
        ctx: &SecretContext,
    ) -> Result<()> {
        let (id, owner) = (tally.id.clone(), tally.owner.clone());
        let id = id.as_str();
        if !self.save(id, &owner, tally, None).await? {
            return Ok(());
        }
        let row = self.inner.migrations.jobs.find(id).await?;
        let started = row
            .as_ref()
            .and_then(|r| r.started_at)
            .unwrap_or_else(|| self.now());
        let mut event = AuditEvent::new(E::SecretsMigrated)
            .target(options.organization_id.as_deref(), None, None)
            .detail("migrationId", id)
            .detail("state", state.as_str())
            .detail("total", tally.total)
            .detail("migrated", tally.migrated)
            .detail("failed", tally.failed)
            .detail("skipped", tally.skipped)
            .detail("versions", options.versions.as_str())
            .detail("deleteFromSource", options.delete_from_source)
            .detail("durationMs", (self.now() - started).num_milliseconds());
        if let Some(r) = &row {
            event = event
                .detail("sourceVaultId", r.source_vault_id.clone())
                .detail("targetVaultId", r.target_vault_id.clone());
        }
        if state == MigrationState::Failed {
            event = event.failed(&SecretError::MigrationFailed {
                reason: format!("{} of {} secrets failed", tally.failed, tally.total),
            });
        }
        self.write_audit(vec![self.entry(event, ctx)], Vec::new())
            .await?;
        self.inner
            .migrations
            .jobs
            .finish(id, state.as_str(), self.now())
            .await?;
        Ok(())
    }
}
