//! How an import writes what it planned: item by item (in chunks of one transaction on the
//! local store), or all in one transaction.

use secret_access::Action;
use secret_audit::AuditEvent;
use secret_core::SecretAuditEventType as E;
use secret_core::model::{SecretMetadata, UpdateValueParams};
use secret_core::transfer::{ImportAction, ImportResult, ImportedItem};
use secret_core::wire::ChangeKind;
use secret_core::{SecretContext, SecretError, SecretId};
use secret_store::Change;
use secret_store::{ValueTarget, WriteTx};

use super::super::check::CheckedValue;
use super::super::commit::{NextVersion, VersionNote};
use super::super::{Result, SecretService};
use super::import::{IMPORT_REASON, Plan, Planned, Run, counted, import_event};

/// How many items a non-atomic import writes per transaction on the local store.
const WRITE_CHUNK: usize = 250;

impl SecretService {
    /// Writes each planned item on its own terms: a failure fails that item only. On a
    /// backend that keeps values in this database, items go in transactions of
    /// [`WRITE_CHUNK`] (one commit each, not one per item); a chunk in which any write
    /// fails is rolled back and written again item by item.
    pub(super) async fn write_each(
        &self,
        planned: Vec<Planned>,
        mut report: ImportResult,
        run: Run<'_>,
    ) -> ImportResult {
        let mut planned = planned.into_iter().peekable();
        while planned.peek().is_some() {
            let chunk: Vec<Planned> = planned.by_ref().take(WRITE_CHUNK).collect();
            if run.backend.keeps_values_in_database()
                && let Ok(outcomes) = self.write_chunk(&chunk, run).await
            {
                for outcome in outcomes {
                    report.record(outcome);
                }
                continue;
            }
            for p in chunk {
                self.write_one(p, &mut report, run.ctx).await;
            }
        }
        report
    }

    /// Writes `chunk` in one transaction and commits it.
    async fn write_chunk(&self, chunk: &[Planned], run: Run<'_>) -> Result<Vec<ImportedItem>> {
        let mut tx = self.begin().await?;
        let (outcomes, updated) = self
            .write_in(&mut tx, chunk, run)
            .await
            .map_err(|(_, err)| err)?;
        self.commit_with(tx, &updated).await?;
        Ok(outcomes)
    }

    /// Writes one planned item through the service's own create or value update, each
    /// with its own transaction and audit record.
    async fn write_one(&self, p: Planned, report: &mut ImportResult, ctx: &SecretContext) {
        let Planned {
            index,
            name,
            line,
            plan,
        } = p;
        let done = match plan {
            Plan::Skip { id } => Ok((ImportAction::Skipped, id)),
            Plan::Create(prepared) => {
                let event = AuditEvent::new(E::SecretCreated)
                    .target(
                        prepared.new.organization_id.as_deref(),
                        prepared.new.team_id.as_deref(),
                        prepared.new.project_id.as_deref(),
                    )
                    .detail("name", name.clone())
                    .detail("scope", prepared.new.scope.as_str())
                    .detail("type", prepared.new.secret_type.as_str());
                self.audited(event, ctx, self.create_prepared(*prepared, ctx))
                    .await
                    .map(|meta| (ImportAction::Created, meta.id))
            }
            Plan::Update { id, checked } => self
                .update_secret_value(
                    &id,
                    UpdateValueParams {
                        value: checked.value,
                        change_reason: Some(IMPORT_REASON.to_string()),
                        expected_version: None,
                    },
                    ctx,
                )
                .await
                .map(|meta| (ImportAction::Updated, meta.id)),
        };
        match done {
            Ok((action, id)) => report.record(ImportedItem {
                index,
                name,
                action,
                secret_id: Some(id),
                line,
            }),
            Err(err) => report.fail(index, &name, line, &err),
        }
    }

    /// Writes `planned` in `tx` (not committed): the outcomes and the secrets updated, or
    /// the index of the first item whose write failed, with its error.
    async fn write_in(
        &self,
        tx: &mut WriteTx,
        planned: &[Planned],
        run: Run<'_>,
    ) -> std::result::Result<(Vec<ImportedItem>, Vec<Change>), (usize, SecretError)> {
        let Run { backend, ctx, .. } = run;
        let mut outcomes = Vec::with_capacity(planned.len());
        let mut updated = Vec::new();
        for p in planned {
            let written = match &p.plan {
                Plan::Skip { id } => Ok((ImportAction::Skipped, id.clone())),
                Plan::Create(prepared) => {
                    let target = ValueTarget {
                        secret_id: &prepared.new.id,
                        secret_name: &prepared.new.name,
                        version: 1,
                    };
                    match backend
                        .store_value(target, &prepared.checked.value, None)
                        .await
                    {
                        Ok(stored) => self
                            .insert_created_in(tx, &prepared.new, stored, ctx)
                            .await
                            .map(|meta| (ImportAction::Created, meta.id)),
                        Err(err) => Err(err.into()),
                    }
                }
                Plan::Update { id, checked } => {
                    self.update_in(tx, id, checked, run).await.map(|meta| {
                        updated.push(Change::secret(
                            &*meta.id,
                            Some(meta.current_version),
                            ChangeKind::Updated,
                        ));
                        (ImportAction::Updated, meta.id)
                    })
                }
            };
            match written {
                Ok((action, id)) => outcomes.push(p.outcome(action, Some(id))),
                Err(err) => return Err((p.index, err)),
            }
        }
        Ok((outcomes, updated))
    }

    /// Writes every planned item in one transaction with the SECRETS_IMPORTED record, or
    /// nothing when any item failed its checks or its write.
    pub(super) async fn write_atomically(
        &self,
        planned: Vec<Planned>,
        mut report: ImportResult,
        run: Run<'_>,
    ) -> Result<ImportResult> {
        let Run {
            options,
            format,
            ctx,
            ..
        } = run;
        let mut failed_write = None;
        if report.errors.is_empty() {
            let mut tx = self.begin().await?;
            match self.write_in(&mut tx, &planned, run).await {
                Ok((outcomes, updated)) => {
                    for outcome in outcomes {
                        report.record(outcome);
                    }
                    let event = import_event(options, format, ctx);
                    tx.append_audit(&[self.entry(counted(event, &report), ctx)])
                        .await?;
                    self.commit_with(tx, &updated).await?;
                    return Ok(report);
                }
                // Dropping the transaction rolls every write back.
                Err(failure) => failed_write = Some(failure),
            }
        }
        for p in &planned {
            match &failed_write {
                Some((index, err)) if *index == p.index => {
                    report.fail(p.index, &p.name, p.line, err);
                }
                _ if matches!(p.plan, Plan::Skip { .. }) => report.record(p.planned_outcome()),
                _ => report.record(p.outcome(ImportAction::NotWritten, None)),
            }
        }
        let event = import_event(options, format, ctx);
        self.write_audit(vec![self.entry(counted(event, &report), ctx)], Vec::new())
            .await?;
        Ok(report)
    }

    /// In `tx`: the checked value as the next version of secret `id` (changeReason "Import"), on a
    /// backend that keeps values in this database.
    async fn update_in(
        &self,
        tx: &mut WriteTx,
        id: &SecretId,
        checked: &CheckedValue,
        run: Run<'_>,
    ) -> Result<SecretMetadata> {
        let Run { backend, ctx, .. } = run;
        let now = self.now();
        let current = self.lock_live(tx, id, ctx, Action::Update).await?;
        let event = AuditEvent::new(E::SecretUpdated).action("UPDATE_VALUE");
        let note = VersionNote::new(event, IMPORT_REASON.to_string(), None);
        let next = NextVersion {
            current: &current,
            checked,
            rotation: false,
            now,
            ctx,
        };
        self.write_local_version(tx, &next, backend, &note).await
    }
}
