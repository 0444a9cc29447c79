//! Migrations between vault configurations (§11.3, issue 12): planning one, starting it,
//! following, pausing and resuming it.
//!
//! A migration is a row of `secret_migrations`; the work is done in the background by a
//! runner (`run`) holding the row's lease, one secret at a time in id order (`copy`): every
//! version copied to the target, read back from it and compared, then the secret's pointer
//! moved in one audited transaction. Every server runs a supervisor that picks up running
//! migrations no live runner holds, so a migration interrupted by a crash resumes by itself
//! when a server starts again (or on another replica once the lease runs out).
//!
//! Who may migrate: a super admin, any secrets; an organization admin, the secrets of an
//! organization it administers, between configurations it can see and that organization
//! can use. A target of one organization takes only that organization's secrets.

mod copy;
mod run;

use std::collections::HashSet;
use std::sync::Mutex;

use secret_access::administered_orgs;
use secret_core::wire::{
    MigrateRequest, MigrationError, MigrationPlan, MigrationState, MigrationStatus,
    MigrationVersions,
};
use secret_core::{SecretContext, SecretError, SecretScope, VaultScope};
use secret_store::{MigrationJobs, MigrationRow, VaultRecord, VaultSecrets};
use serde::{Deserialize, Serialize};

use super::check::check_context;
use super::{Result, SecretService};

/// What a planned migration's estimate counts per version copied between two vaults of
/// which at least one is external (a vault round trip to read, write and read back).
const EXTERNAL_VERSION_MS: u64 = 40;
/// The same, between local stores (decrypt, encrypt, decrypt).
const LOCAL_VERSION_MS: u64 = 2;
/// Errors kept in a migration's status (the counts are always complete).
const MAX_ERRORS: usize = 1000;

/// A migration's in-process state: which migrations this process is running.
#[derive(Debug)]
pub(crate) struct Migrations {
    pub(crate) jobs: MigrationJobs,
    /// This process's runner id (the lease owner).
    pub(crate) runner_id: String,
    pub(crate) running: Mutex<HashSet<String>>,
}

impl Migrations {
    pub(crate) fn new(jobs: MigrationJobs) -> Self {
        Migrations {
            jobs,
            runner_id: uuid::Uuid::now_v7().to_string(),
            running: Mutex::new(HashSet::new()),
        }
    }
}

/// The request's options as stored with the migration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Options {
    pub(crate) delete_from_source: bool,
    pub(crate) continue_on_error: bool,
    pub(crate) versions: MigrationVersions,
    pub(crate) scope: Option<SecretScope>,
    pub(crate) organization_id: Option<String>,
}

impl Options {
    pub(crate) fn secrets<'a>(&'a self, source: &'a str) -> VaultSecrets<'a> {
        VaultSecrets {
            vault_id: source,
            scope: self.scope,
            organization_id: self.organization_id.as_deref(),
        }
    }
}

pub(crate) fn parse_options(row: &MigrationRow) -> Result<Options> {
    serde_json::from_str(&row.options)
        .map_err(|_| SecretError::internal("a migration's options do not parse"))
}

pub(crate) fn parse_errors(row: &MigrationRow) -> Result<Vec<MigrationError>> {
    serde_json::from_str(&row.errors)
        .map_err(|_| SecretError::internal("a migration's errors do not parse"))
}

fn not_found(id: &str) -> SecretError {
    SecretError::MigrationNotFound { id: id.to_string() }
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl SecretService {
    /// Runs migrations in the background in this process: every running migration that no
    /// live runner holds (one interrupted by a crash, or whose server stopped) is taken up
    /// at once and then within seconds. `secret-server` calls this at start; an embedding
    /// program that starts migrations calls it too. Stops when the service is dropped.
    pub fn run_migrations_in_background(&self) {
        run::spawn_supervisor(self);
    }

    /// Checks a migration request and the caller's right to it; returns the two
    /// configurations and the options as they will be stored.
    async fn check_migration(
        &self,
        req: &MigrateRequest,
        ctx: &SecretContext,
    ) -> Result<(VaultRecord, VaultRecord, Options)> {
        check_context(ctx)?;
        let principal = &ctx.principal;
        let admin_of = administered_orgs(principal);
        if !principal.super_admin && admin_of.is_empty() {
            return Err(SecretError::AccessDenied {
                reason: "migrations are run by super admins and organization admins".to_string(),
            });
        }
        if req.source_vault_id == req.target_vault_id {
            return Err(SecretError::validation(
                "targetVaultId",
                "must be another vault configuration than sourceVaultId",
            ));
        }
        let source = self
            .migration_vault(&req.source_vault_id, ctx, "sourceVaultId")
            .await?;
        let target = self
            .migration_vault(&req.target_vault_id, ctx, "targetVaultId")
            .await?;
        if !target.is_active {
            return Err(SecretError::VaultNotConfigured {
                reason: format!("vault configuration '{}' is disabled", target.id),
            });
        }
        let mut organization_id = req.organization_id.clone();
        if target.scope == VaultScope::Organization {
            match (&organization_id, &target.organization_id) {
                (Some(asked), Some(own)) if asked != own => {
                    return Err(SecretError::validation(
                        "organizationId",
                        "the target configuration belongs to another organization",
                    ));
                }
                _ => organization_id.clone_from(&target.organization_id),
            }
        }
        if !principal.super_admin {
            match &organization_id {
                Some(org) if admin_of.contains(org) => {}
                Some(_) => {
                    return Err(SecretError::AccessDenied {
                        reason: "only an admin of that organization may migrate its secrets"
                            .to_string(),
                    });
                }
                None => {
                    return Err(SecretError::validation(
                        "organizationId",
                        "an organization admin migrates the secrets of one organization: name it",
                    ));
                }
            }
        }
        if organization_id.is_some() && req.scope == Some(SecretScope::Global) {
            return Err(SecretError::validation(
                "scope",
                "GLOBAL secrets belong to no organization",
            ));
        }
        if target.scope == VaultScope::Organization && matches!(req.scope, Some(SecretScope::User))
        {
            return Err(SecretError::validation(
                "scope",
                "personal secrets cannot move to an organization's vault",
            ));
        }
        let options = Options {
            delete_from_source: req.delete_from_source,
            continue_on_error: req.continue_on_error,
            versions: req.versions,
            scope: req.scope,
            organization_id,
        };
        Ok((source, target, options))
    }

    /// A configuration the caller may see, or VAULT_NOT_CONFIGURED naming `field`.
    async fn migration_vault(
        &self,
        id: &str,
        ctx: &SecretContext,
        field: &str,
    ) -> Result<VaultRecord> {
        match self.inner.vaults.find(id).await? {
            Some(v) if super::vaults::visible_to(&ctx.principal, &v) => Ok(v),
            _ => Err(SecretError::VaultNotFound {
                id: format!("{id} ({field})"),
            }),
        }
    }

    /// The plan of a migration (its dry run): how many secrets and versions would move,
    /// and how long that is estimated to take. Moves nothing.
    pub async fn plan_migration(
        &self,
        req: &MigrateRequest,
        ctx: &SecretContext,
    ) -> Result<MigrationPlan> {
        let (source, target, options) = self.check_migration(req, ctx).await?;
        self.plan_between(&source, &target, &options).await
    }

    async fn plan_between(
        &self,
        source: &VaultRecord,
        target: &VaultRecord,
        options: &Options,
    ) -> Result<MigrationPlan> {
        let which = options.secrets(&source.id);
        let secret_count = self.inner.repo.count_in_vault(&which).await?;
        let version_count = match options.versions {
            MigrationVersions::Current => secret_count,
            MigrationVersions::All => self.inner.repo.count_versions_in_vault(&which).await?,
        };
        let per_version = if source.is_local() && target.is_local() {
            LOCAL_VERSION_MS
        } else {
            EXTERNAL_VERSION_MS
        };
        Ok(MigrationPlan {
            source_vault_id: source.id.clone(),
            target_vault_id: target.id.clone(),
            source_backend: source.backend,
            target_backend: target.backend,
            secret_count,
            version_count,
            estimated_duration_ms: version_count.saturating_mul(per_version),
            estimated_duration: version_count.saturating_mul(per_version),
        })
    }

    /// Starts a migration in the background and returns its id at once. The target must
    /// answer a health check first (VAULT_CONNECTION_FAILED otherwise), so a migration to
    /// a vault that cannot be reached never starts.
    pub async fn start_migration(
        &self,
        req: &MigrateRequest,
        ctx: &SecretContext,
    ) -> Result<String> {
        let (source, target, options) = self.check_migration(req, ctx).await?;
        let backend = self.inner.registry.backend_of(&target).await?;
        let health = backend.health_check().await.map_err(SecretError::from)?;
        if !health.healthy {
            return Err(SecretError::VaultConnectionFailed {
                reason: format!("vault configuration '{}' is not healthy", target.id),
            });
        }
        let plan = self.plan_between(&source, &target, &options).await?;
        let now = self.now();
        let id = uuid::Uuid::now_v7().to_string();
        let row = MigrationRow {
            id: id.clone(),
            // Planned until a runner claims it (at once, in this process).
            state: MigrationState::Planned.as_str().to_string(),
            source_vault_id: source.id.clone(),
            target_vault_id: target.id.clone(),
            options: serde_json::to_string(&options)
                .map_err(|_| SecretError::internal("a migration's options do not serialize"))?,
            total: i64::try_from(plan.secret_count).unwrap_or(i64::MAX),
            migrated: 0,
            failed: 0,
            skipped: 0,
            errors: "[]".to_string(),
            cursor: None,
            in_flight: None,
            estimated_duration_ms: i64::try_from(plan.estimated_duration_ms).unwrap_or(i64::MAX),
            created_at: now,
            created_by_id: ctx.user_id().to_string(),
            started_at: None,
            finished_at: None,
            updated_at: now,
            lease_owner: None,
            lease_until: None,
        };
        self.inner.migrations.jobs.insert(row).await?;
        run::spawn_run(self.clone(), id.clone());
        Ok(id)
    }

    /// A migration's status, for the caller who may see both its configurations.
    pub async fn migration(&self, id: &str, ctx: &SecretContext) -> Result<MigrationStatus> {
        let row = self.visible_migration(id, ctx).await?;
        self.status_of(&row)
    }

    async fn visible_migration(&self, id: &str, ctx: &SecretContext) -> Result<MigrationRow> {
        check_context(ctx)?;
        let row = self
            .inner
            .migrations
            .jobs
            .find(id)
            .await?
            .ok_or_else(|| not_found(id))?;
        let options = parse_options(&row)?;
        let principal = &ctx.principal;
        let allowed = principal.super_admin
            || options
                .organization_id
                .as_ref()
                .is_some_and(|org| administered_orgs(principal).contains(org));
        if !allowed {
            return Err(not_found(id));
        }
        Ok(row)
    }

    fn status_of(&self, row: &MigrationRow) -> Result<MigrationStatus> {
        let options = parse_options(row)?;
        let state = MigrationState::parse(&row.state)
            .ok_or_else(|| SecretError::internal("a migration's state is unknown"))?;
        let done = to_u64(row.migrated + row.failed + row.skipped);
        let remaining = to_u64(row.total).saturating_sub(done);
        let estimated_remaining_ms = match (state, row.started_at) {
            (MigrationState::Running | MigrationState::Paused, Some(started)) if done > 0 => {
                let elapsed = to_u64((row.updated_at - started).num_milliseconds());
                Some(elapsed / done * remaining)
            }
            (MigrationState::Running | MigrationState::Paused | MigrationState::Planned, _) => {
                let total = to_u64(row.total).max(1);
                Some(to_u64(row.estimated_duration_ms) / total * remaining)
            }
            _ => None,
        };
        let duration_ms = match (row.started_at, row.finished_at) {
            (Some(s), Some(f)) => Some(to_u64((f - s).num_milliseconds())),
            _ => None,
        };
        Ok(MigrationStatus {
            id: row.id.clone(),
            state,
            source_vault_id: row.source_vault_id.clone(),
            target_vault_id: row.target_vault_id.clone(),
            delete_from_source: options.delete_from_source,
            continue_on_error: options.continue_on_error,
            versions: options.versions,
            scope: options.scope,
            organization_id: options.organization_id,
            total: to_u64(row.total),
            migrated: to_u64(row.migrated),
            failed: to_u64(row.failed),
            skipped: to_u64(row.skipped),
            errors: parse_errors(row)?,
            created_at: row.created_at,
            created_by_id: row.created_by_id.clone(),
            started_at: row.started_at,
            finished_at: row.finished_at,
            estimated_duration_ms: to_u64(row.estimated_duration_ms),
            estimated_remaining_ms,
            duration_ms,
            duration: duration_ms,
        })
    }

    /// Pauses a running migration: its runner stops after the secret it is on. CONFLICT
    /// when it is not running.
    pub async fn pause_migration(&self, id: &str, ctx: &SecretContext) -> Result<MigrationStatus> {
        self.visible_migration(id, ctx).await?;
        let from = [
            MigrationState::Running.as_str(),
            MigrationState::Planned.as_str(),
        ];
        self.change_state(id, &from, MigrationState::Paused).await
    }

    /// Resumes a paused migration where it stopped. CONFLICT when it is not paused.
    pub async fn resume_migration(&self, id: &str, ctx: &SecretContext) -> Result<MigrationStatus> {
        self.visible_migration(id, ctx).await?;
        let status = self
            .change_state(
                id,
                &[MigrationState::Paused.as_str()],
                MigrationState::Running,
            )
            .await?;
        run::spawn_run(self.clone(), id.to_string());
        Ok(status)
    }

    async fn change_state(
        &self,
        id: &str,
        from: &[&str],
        to: MigrationState,
    ) -> Result<MigrationStatus> {
        let jobs = &self.inner.migrations.jobs;
        // A pause leaves the lease to the runner, which sees the state and releases it.
        let moved = if to == MigrationState::Paused {
            jobs.pause(id, from, self.now()).await?
        } else {
            jobs.resume(id, self.now()).await?
        };
        let row = jobs.find(id).await?.ok_or_else(|| not_found(id))?;
        if !moved {
            return Err(SecretError::Conflict {
                message: format!("the migration is {}, not {}", row.state, from.join(" or ")),
            });
        }
        self.status_of(&row)
    }
}

/// Keeps at most [`MAX_ERRORS`] errors.
pub(crate) fn push_error(errors: &mut Vec<MigrationError>, e: MigrationError) {
    if errors.len() < MAX_ERRORS {
        errors.push(e);
    }
}
