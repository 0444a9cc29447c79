//! Audit records written outside an operation's own transaction: refused and failed
//! operations, refused value reads and their summaries, and value reads with their usage
//! rows; and the `audited` wrappers every operation runs in.

use chrono::{DateTime, Utc};
use secret_access::{Action, Decision, decide};
use secret_audit::AuditEvent;
use secret_core::SecretAuditEventType as E;
use secret_core::SecretId;
use secret_core::audit::AuditEntry;
use secret_core::model::SecretMetadata;
use secret_core::{SecretContext, SecretError};
use secret_store::NewUsage;

use super::{Result, SecretService};

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

impl SecretService {
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
    pub(super) async fn audit_failure(
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
        id: &SecretId,
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
    pub(super) async fn audited<T>(
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
    pub(super) async fn audited_view<T>(
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
    pub(super) async fn record_reads(
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
                secret_id: meta.id.to_string(),
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
}
