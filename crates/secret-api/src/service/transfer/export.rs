//! Export (§11.2): a scope's secrets as JSON (values optional) or as a `.env` file.
//!
//! Only super admins and the admins of the organization export. Values go out only when
//! asked for, with an authentication under five minutes old, and only those the caller may
//! read: each is a SECRET_READ record (consumer `export`) made durable before the export is
//! answered. Secrets exported without their value are listed with the reason.

use std::collections::{HashMap, HashSet};

use secret_access::{Action, Decision, can_export, decide};
use secret_audit::AuditEvent;
use secret_core::SecretAuditEventType as E;
use secret_core::envfile;
use secret_core::model::SecretMetadata;
use secret_core::transfer::{ExportDocument, ExportOmission, ExportParams, ExportedSecret};
use secret_core::{AnySecretValue, SecretContext, SecretError, SecretId, SecretScope, SecretValue};
use secret_store::{OwnerIds, VersionRecord};

use super::super::check::{check_context, require_recent_authentication};
use super::super::{Result, SecretService};
use super::grants_by_secret;

/// The most secrets one export covers.
pub const MAX_EXPORT_SECRETS: u64 = 50_000;

/// The consumer module a value read by an export is recorded under.
const EXPORT_CONSUMER: &str = "export";

impl SecretService {
    /// Exports the secrets of a scope the caller may see, as the JSON document whose
    /// `secrets` array [`SecretService::import_secrets`] (and `POST /api/secrets/import/json`)
    /// accepts unchanged. Values only with `include_values`.
    pub async fn export_secrets(
        &self,
        params: &ExportParams,
        ctx: &SecretContext,
    ) -> Result<ExportDocument> {
        check_context(ctx)?;
        let event = export_event(params, "json", ctx);
        self.audited(event, ctx, self.export_op(params, "json", ctx))
            .await
    }

    /// Exports the secrets of a scope as a `.env` file (values always): every type with a
    /// single string (API_KEY, GENERIC, CONNECTION_STRING, OAUTH2_TOKEN's access token),
    /// USERNAME_PASSWORD as `NAME_USERNAME` and `NAME_PASSWORD`, and an ENV_VARIABLE_SET's
    /// variables, spelled so that python-dotenv (`interpolate=False`) reads back exactly the
    /// stored values. What cannot be written is listed in a trailing comment.
    pub async fn export_env(&self, params: &ExportParams, ctx: &SecretContext) -> Result<String> {
        check_context(ctx)?;
        let params = ExportParams {
            include_values: true,
            ..params.clone()
        };
        let event = export_event(&params, "env", ctx);
        self.audited(event, ctx, async {
            let doc = self.export_op(&params, "env", ctx).await?;
            render_env(&doc)
        })
        .await
    }

    async fn export_op(
        &self,
        params: &ExportParams,
        format: &str,
        ctx: &SecretContext,
    ) -> Result<ExportDocument> {
        let now = self.now();
        let org = export_org(params, ctx)?;
        if !can_export(&ctx.principal, org.as_deref()) {
            return Err(SecretError::AccessDenied {
                reason: "exporting secrets is for super admins and the admins of the \
                         organization"
                    .to_string(),
            });
        }
        if params.include_values {
            require_recent_authentication(ctx, now)?;
        }
        let owner = OwnerIds {
            organization_id: org.as_deref(),
            team_id: params.target.team_id.as_deref(),
            project_id: params.target.project_id.as_deref(),
            user_id: None,
        };
        let found = self
            .inner
            .repo
            .list_owned(params.scope, &owner, MAX_EXPORT_SECRETS + 1)
            .await?;
        if found.len() as u64 > MAX_EXPORT_SECRETS {
            return Err(SecretError::validation(
                "scope",
                format!(
                    "covers more than {MAX_EXPORT_SECRETS} secrets: export one scope or \
                     organization at a time"
                ),
            ));
        }
        let ids: Vec<&str> = found.iter().map(|m| m.id.as_str()).collect();
        let grants = grants_by_secret(self.inner.repo.grants_on(&ids).await?);
        let mut visible = Vec::with_capacity(found.len());
        let mut readable = Vec::new();
        let mut omitted = Vec::new();
        for meta in &found {
            let own = grants.get(meta.id.as_str()).map_or(&[][..], Vec::as_slice);
            let allowed =
                |action| decide(&ctx.principal, action, meta, own, now) == Decision::Allow;
            if !allowed(Action::ViewMetadata) {
                continue;
            }
            visible.push(meta);
            if !params.include_values {
                continue;
            }
            if !allowed(Action::Read) {
                omitted.push(omission(meta, "the caller may not read its value"));
            } else if meta.is_expired_at(now) {
                omitted.push(omission(meta, "it has expired"));
            } else {
                readable.push(meta);
            }
        }
        let mut values: HashMap<SecretId, SecretValue> = self
            .read_for_export(&readable, ctx)
            .await?
            .into_iter()
            .collect();
        let secrets = visible
            .into_iter()
            .map(|meta| ExportedSecret {
                name: meta.name.clone(),
                secret_type: meta.secret_type,
                description: meta.description.clone(),
                tags: meta.tags.clone(),
                metadata: meta.metadata.clone(),
                scope: meta.scope,
                expires_at: meta.expires_at,
                value: values.remove(&meta.id),
            })
            .collect::<Vec<_>>();
        let with_values = secrets.iter().filter(|s| s.value.is_some()).count();
        let event = export_event(params, format, ctx)
            .detail("count", secrets.len())
            .detail("valuesExported", with_values)
            .detail("omitted", omitted.len());
        self.write_audit(vec![self.entry(event, ctx)], Vec::new())
            .await?;
        tracing::info!(
            count = secrets.len(),
            values = with_values,
            format,
            "secrets exported"
        );
        Ok(ExportDocument {
            exported_at: now,
            secrets,
            omitted,
        })
    }

    /// The current values of `secrets`, each read recorded (SECRET_READ, consumer
    /// `export`) durably before any is handed back. A value that cannot be read fails the
    /// export: an export must not be silently incomplete.
    async fn read_for_export(
        &self,
        secrets: &[&SecretMetadata],
        ctx: &SecretContext,
    ) -> Result<Vec<(SecretId, SecretValue)>> {
        if secrets.is_empty() {
            return Ok(Vec::new());
        }
        let pairs: Vec<(SecretId, i64)> = secrets
            .iter()
            .map(|m| (m.id.clone(), m.current_version))
            .collect();
        let versions: HashMap<(String, i64), VersionRecord> = self
            .inner
            .repo
            .find_versions(&pairs)
            .await?
            .into_iter()
            .map(|v| ((v.secret_id.clone(), v.version), v))
            .collect();
        let mut out = Vec::with_capacity(secrets.len());
        let mut reads = Vec::with_capacity(secrets.len());
        for meta in secrets {
            let Some(v) = versions.get(&(meta.id.to_string(), meta.current_version)) else {
                return Err(SecretError::internal(format!(
                    "secret {} has no row for its current version",
                    meta.id
                )));
            };
            let value = self.retrieve(meta, v.version, &v.stored).await?;
            out.push((meta.id.clone(), value));
            reads.push((*meta, v.version));
        }
        let mut reader = ctx.clone();
        reader.consumer_module = EXPORT_CONSUMER.to_string();
        reader.consumer_resource_id = None;
        for chunk in reads.chunks(1_000) {
            self.record_reads(chunk, &reader).await?;
        }
        Ok(out)
    }
}

/// The organization an export is about: the request's, else the caller's context's; none
/// for GLOBAL and USER secrets (which belong to no organization).
fn export_org(params: &ExportParams, ctx: &SecretContext) -> Result<Option<String>> {
    match params.scope {
        Some(SecretScope::Global) | Some(SecretScope::User) => {
            if params.target.organization_id.is_some() {
                return Err(SecretError::validation(
                    "organizationId",
                    format!(
                        "is not allowed for {} secrets",
                        params.scope.map_or("", |s| s.as_str())
                    ),
                ));
            }
            // USER secrets are exported on the authority of the caller's organization.
            Ok(match params.scope {
                Some(SecretScope::User) => ctx.organization_id.clone(),
                _ => None,
            })
        }
        _ => Ok(named_org(params, ctx)),
    }
}

/// The organization an export names: the request's, else the caller's context's; none for
/// GLOBAL and USER secrets.
fn named_org(params: &ExportParams, ctx: &SecretContext) -> Option<String> {
    match params.scope {
        Some(SecretScope::Global) | Some(SecretScope::User) => None,
        _ => params
            .target
            .organization_id
            .clone()
            .or_else(|| ctx.organization_id.clone()),
    }
}

fn omission(meta: &SecretMetadata, reason: &str) -> ExportOmission {
    ExportOmission {
        name: meta.name.clone(),
        reason: reason.to_string(),
    }
}

/// The SECRETS_EXPORTED event of an export.
fn export_event(params: &ExportParams, format: &str, ctx: &SecretContext) -> AuditEvent {
    let org = named_org(params, ctx);
    let mut event = AuditEvent::new(E::SecretsExported)
        .target(
            org.as_deref(),
            params.target.team_id.as_deref(),
            params.target.project_id.as_deref(),
        )
        .detail("format", format.to_string())
        .detail("includeValues", params.include_values);
    if let Some(scope) = params.scope {
        event = event.detail("scope", scope.as_str());
    }
    event
}

/// The `.env` lines of one exported value: `(key, value)` pairs, or `None` for a type with
/// no `.env` form.
fn env_pairs(name: &str, value: &SecretValue) -> Option<Vec<(String, String)>> {
    let one = |v: &str| Some(vec![(name.to_string(), v.to_string())]);
    match value.expose_secret() {
        AnySecretValue::ApiKey(v) => one(&v.key),
        AnySecretValue::Generic(v) => one(&v.value),
        AnySecretValue::ConnectionString(v) => one(&v.connection_string),
        AnySecretValue::OAuth2Token(v) => one(&v.access_token),
        AnySecretValue::UsernamePassword(v) => Some(vec![
            (format!("{name}_USERNAME"), v.username.clone()),
            (format!("{name}_PASSWORD"), v.password.clone()),
        ]),
        AnySecretValue::EnvVariableSet(v) => Some(
            v.variables
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        _ => None,
    }
}

/// The `.env` file of an export, checked by reading it back before it is returned.
fn render_env(doc: &ExportDocument) -> Result<String> {
    let mut out = String::new();
    out.push_str("# Exported from the secret manager\n");
    out.push_str(&format!("# Date: {}\n\n", doc.exported_at.to_rfc3339()));
    let mut taken = HashSet::new();
    let mut written = Vec::new();
    let mut notes = Vec::new();
    for s in &doc.secrets {
        let Some(value) = &s.value else {
            continue;
        };
        let Some(pairs) = env_pairs(&s.name, value) else {
            notes.push(format!(
                "{} ({}, {}): no .env form; export it as JSON",
                s.name, s.secret_type, s.scope
            ));
            continue;
        };
        for (key, v) in pairs {
            if taken.contains(&key) {
                notes.push(format!(
                    "{key} ({}, {}): the key is already used above",
                    s.secret_type, s.scope
                ));
                continue;
            }
            let Some(line) = envfile::encode_assignment(&key, &v) else {
                notes.push(format!(
                    "{key} ({}, {}): no exact .env spelling of the key or value",
                    s.secret_type, s.scope
                ));
                continue;
            };
            out.push_str(&line);
            out.push('\n');
            taken.insert(key.clone());
            written.push((key, v));
        }
    }
    for o in &doc.omitted {
        notes.push(format!("{}: {}", o.name, o.reason));
    }
    if !notes.is_empty() {
        out.push_str("\n# Not exported:\n");
        for note in notes {
            out.push_str(&format!("#   {note}\n"));
        }
    }
    if envfile::values(&out) != written {
        return Err(SecretError::ExportFailed {
            reason: "the .env file did not read back as the values it holds".to_string(),
        });
    }
    Ok(out)
}
