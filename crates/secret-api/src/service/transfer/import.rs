//! Import (§11.1): `.env` files and JSON documents into one scope.
//!
//! Every item is checked before anything is written (name, type, value, description, tags,
//! metadata, expiry, the name's current holder and the caller's permission on it), so a dry
//! run reports exactly what a real import would do. A real import then writes item by item
//! (each item is one create or one new version with its own audit record, and a failing
//! item fails alone) or, with `atomic`, every item in one transaction or none.

use std::collections::HashMap;

use secret_access::{Action, can_create, can_import, decide};
use secret_audit::AuditEvent;
use secret_core::SecretAuditEventType as E;
use secret_core::model::{AccessGrant, CreateSecretParams, SecretMetadata};
use secret_core::name::validate_secret_name;
use secret_core::transfer::{
    EnvImportOptions, ImportAction, ImportItem, ImportOptions, ImportResult, ImportedItem,
    env_items,
};
use secret_core::{SecretContext, SecretError, SecretId, SecretScope};
use secret_store::{StorageBackend, VaultRecord, owner_key};

use super::super::check::{CheckedValue, check_context, check_value, enforce, resolve_owner};
use super::super::create::PreparedCreate;
use super::super::{Result, SecretService};
use super::grants_by_secret;

/// The most items one import takes.
pub const MAX_IMPORT_ITEMS: usize = 50_000;

/// The change reason of a version an import writes.
pub(super) const IMPORT_REASON: &str = "Import";

/// What a checked item will do.
pub(super) enum Plan {
    Create(Box<PreparedCreate>),
    Update {
        id: SecretId,
        checked: Box<CheckedValue>,
    },
    Skip {
        id: SecretId,
    },
}

/// One import's settings, shared by its steps.
#[derive(Clone, Copy)]
pub(super) struct Run<'a> {
    pub(super) options: &'a ImportOptions,
    /// `env` or `json`, for the audit records.
    pub(super) format: &'a str,
    /// The backend new values go to.
    pub(super) backend: &'a dyn StorageBackend,
    pub(super) ctx: &'a SecretContext,
}

/// A checked item with where it came from.
pub(super) struct Planned {
    pub(super) index: usize,
    pub(super) name: String,
    pub(super) line: Option<usize>,
    pub(super) plan: Plan,
}

impl Planned {
    pub(super) fn outcome(
        &self,
        action: ImportAction,
        secret_id: Option<SecretId>,
    ) -> ImportedItem {
        ImportedItem {
            index: self.index,
            name: self.name.clone(),
            action,
            secret_id,
            line: self.line,
        }
    }

    /// What a dry run reports for it.
    pub(super) fn planned_outcome(&self) -> ImportedItem {
        match &self.plan {
            Plan::Create(_) => self.outcome(ImportAction::Created, None),
            Plan::Update { id, .. } => self.outcome(ImportAction::Updated, Some(id.clone())),
            Plan::Skip { id } => self.outcome(ImportAction::Skipped, Some(id.clone())),
        }
    }
}

/// The names taken in the target scope, with the grants on them.
struct Holders {
    by_name: HashMap<String, SecretMetadata>,
    /// The grants on them, by secret id.
    grants: HashMap<String, Vec<AccessGrant>>,
}

impl SecretService {
    /// Imports a `.env` file (read as python-dotenv reads it, nothing expanded) into one
    /// scope: one API_KEY (or GENERIC) secret per key. Needs a super admin, or an admin of
    /// the target's organization. Items fail alone unless `atomic`; see [`ImportResult`].
    pub async fn import_env(
        &self,
        content: &str,
        options: EnvImportOptions,
        ctx: &SecretContext,
    ) -> Result<ImportResult> {
        check_context(ctx)?;
        let event = import_event(&options.import, "env", ctx);
        self.audited(event, ctx, async {
            let (items, warnings) = env_items(content, &options)?;
            let mut report = self.import_op(items, &options.import, "env", ctx).await?;
            report.warnings = warnings;
            Ok(report)
        })
        .await
    }

    /// Imports typed secrets (a JSON import, or an embedder's own list) into one scope.
    /// Needs a super admin, or an admin of the target's organization.
    pub async fn import_secrets(
        &self,
        items: Vec<ImportItem>,
        options: ImportOptions,
        ctx: &SecretContext,
    ) -> Result<ImportResult> {
        check_context(ctx)?;
        let event = import_event(&options, "json", ctx);
        self.audited(event, ctx, self.import_op(items, &options, "json", ctx))
            .await
    }

    async fn import_op(
        &self,
        items: Vec<ImportItem>,
        options: &ImportOptions,
        format: &str,
        ctx: &SecretContext,
    ) -> Result<ImportResult> {
        if items.len() > MAX_IMPORT_ITEMS {
            return Err(SecretError::validation(
                "secrets",
                format!("at most {MAX_IMPORT_ITEMS} items can be imported at once"),
            ));
        }
        let scope = options.target_scope;
        let owner = resolve_owner(scope, &options.target, ctx)?;
        let admin_org = match scope {
            SecretScope::User => ctx.organization_id.as_deref(),
            _ => owner.organization_id.as_deref(),
        };
        if !can_import(&ctx.principal, admin_org) {
            return Err(SecretError::AccessDenied {
                reason: "importing secrets is for super admins and the admins of the \
                         organization"
                    .to_string(),
            });
        }
        if !can_create(
            &ctx.principal,
            scope,
            owner.organization_id.as_deref(),
            owner.team_id.as_deref(),
            owner.project_id.as_deref(),
        ) {
            return Err(SecretError::AccessDenied {
                reason: format!("creating {scope} secrets here is not permitted"),
            });
        }
        let vault = self
            .place_secret(
                options.vault_id.as_deref(),
                None,
                owner.organization_id.as_deref(),
            )
            .await?;
        let backend = self.inner.registry.backend_of(&vault).await?;
        if options.atomic && !backend.keeps_values_in_database() {
            return Err(SecretError::validation(
                "atomic",
                format!(
                    "an atomic import needs a vault that keeps values in this service's \
                     database; '{}' is {}, whose writes cannot share a transaction",
                    vault.id, vault.backend
                ),
            ));
        }
        let key = owner_key(
            scope,
            owner.organization_id.as_deref(),
            owner.team_id.as_deref(),
            owner.project_id.as_deref(),
            owner.user_id.as_deref(),
        );
        let holders = self.holders(&key, &items).await?;
        let run = Run {
            options,
            format,
            backend: backend.as_ref(),
            ctx,
        };
        let mut report = ImportResult {
            total: items.len(),
            dry_run: options.dry_run,
            atomic: options.atomic,
            ..ImportResult::default()
        };
        let mut planned = Vec::with_capacity(items.len());
        let mut first_of: HashMap<String, usize> = HashMap::new();
        for (index, item) in items.into_iter().enumerate() {
            let (name, line) = (item.name.clone(), item.line);
            let plan = match first_of.get(&name) {
                Some(first) if !name.is_empty() => Err(SecretError::validation(
                    "name",
                    format!("item {first} of this import already has this name"),
                )),
                _ => {
                    first_of.insert(name.clone(), index);
                    self.plan(item, run, &vault, &holders).await
                }
            };
            match plan {
                Ok(plan) => planned.push(Planned {
                    index,
                    name,
                    line,
                    plan,
                }),
                Err(err) => report.fail(index, &name, line, &err),
            }
        }
        if options.dry_run {
            for p in &planned {
                report.record(p.planned_outcome());
            }
            return Ok(finish(report));
        }
        let report = if options.atomic {
            self.write_atomically(planned, report, run).await?
        } else {
            let report = self.write_each(planned, report, run).await;
            let event = import_event(options, format, ctx);
            self.write_audit(vec![self.entry(counted(event, &report), ctx)], Vec::new())
                .await?;
            report
        };
        tracing::info!(
            total = report.total,
            imported = report.imported,
            skipped = report.skipped,
            errors = report.errors.len(),
            format,
            "secrets imported"
        );
        Ok(finish(report))
    }

    /// The secrets that hold the items' names in the target scope, and their grants.
    async fn holders(&self, owner_key: &str, items: &[ImportItem]) -> Result<Holders> {
        let names: Vec<&str> = items
            .iter()
            .map(|i| i.name.as_str())
            .filter(|n| !n.is_empty())
            .collect();
        let found = self.inner.repo.find_by_names(owner_key, &names).await?;
        let ids: Vec<&str> = found.iter().map(|m| m.id.as_str()).collect();
        let grants = grants_by_secret(self.inner.repo.grants_on(&ids).await?);
        Ok(Holders {
            by_name: found.into_iter().map(|m| (m.name.clone(), m)).collect(),
            grants,
        })
    }

    /// Checks one item completely and decides what it will do.
    async fn plan(
        &self,
        item: ImportItem,
        run: Run<'_>,
        vault: &VaultRecord,
        holders: &Holders,
    ) -> Result<Plan> {
        let Run { options, ctx, .. } = run;
        let value = item.value?;
        validate_secret_name(&item.name)?;
        if let Some(declared) = item.secret_type {
            value.check_type(declared)?;
        }
        let Some(holder) = holders.by_name.get(&item.name) else {
            let mut params = CreateSecretParams::new(item.name, options.target_scope, value);
            params.target = options.target.clone();
            params.description = item.description;
            params.tags = item.tags;
            params.metadata = item.metadata;
            params.expires_at = item.expires_at;
            params.vault_id = Some(vault.id.as_str().into());
            let prepared = self.prepare_create(params, ctx, Some(vault)).await?;
            return Ok(Plan::Create(Box::new(prepared)));
        };
        if holder.is_deleted() {
            return Err(SecretError::Conflict {
                message: format!(
                    "a soft-deleted secret keeps the name '{}' until it is purged: restore it \
                     or delete it permanently",
                    holder.name
                ),
            });
        }
        if !options.overwrite {
            return Ok(Plan::Skip {
                id: holder.id.clone(),
            });
        }
        let own = holders
            .grants
            .get(holder.id.as_str())
            .map_or(&[][..], Vec::as_slice);
        enforce(
            decide(&ctx.principal, Action::Update, holder, own, self.now()),
            Action::Update,
            &holder.id,
        )?;
        if value.secret_type() != holder.secret_type {
            return Err(SecretError::validation(
                "type",
                format!(
                    "the secret '{}' that has this name is {}: an overwrite keeps its type",
                    holder.name, holder.secret_type
                ),
            ));
        }
        let checked = check_value(holder.secret_type, value, self.now())?;
        Ok(Plan::Update {
            id: holder.id.clone(),
            checked: Box::new(checked),
        })
    }
}

/// The SECRETS_IMPORTED event of an import into `options`' target.
pub(super) fn import_event(
    options: &ImportOptions,
    format: &str,
    ctx: &SecretContext,
) -> AuditEvent {
    let pick =
        |own: &Option<String>, context: &Option<String>| own.clone().or_else(|| context.clone());
    let t = &options.target;
    let org = match options.target_scope {
        SecretScope::Global => None,
        _ => pick(&t.organization_id, &ctx.organization_id),
    };
    AuditEvent::new(E::SecretsImported)
        .target(
            org.as_deref(),
            pick(&t.team_id, &ctx.team_id).as_deref(),
            pick(&t.project_id, &ctx.project_id).as_deref(),
        )
        .detail("format", format.to_string())
        .detail("scope", options.target_scope.as_str())
        .detail("overwrite", options.overwrite)
        .detail("atomic", options.atomic)
}

/// `event` with the import's counts.
pub(super) fn counted(event: AuditEvent, report: &ImportResult) -> AuditEvent {
    event
        .detail("total", report.total)
        .detail("imported", report.imported)
        .detail("skipped", report.skipped)
        .detail("errors", report.errors.len())
}

/// The report with its items and errors in input order.
fn finish(mut report: ImportResult) -> ImportResult {
    report.items.sort_by_key(|i| i.index);
    report.errors.sort_by_key(|e| e.index);
    report
}
