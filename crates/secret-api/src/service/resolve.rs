//! Resolving configuration that holds secret references (§9.3): every reference of an
//! `EnvironmentConfig`'s variables is located (by id, or by name within its scope), checked
//! and read in one batch, and the chosen field of each value put in its place. Either every
//! reference resolves, or the answer is an error naming each key that did not, with no
//! value at all. Each secret read is one SECRET_READ record with the caller's consumer
//! module and resource id, written durably before the values are handed over.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use secret_access::{Action, Decision, decide};
use secret_audit::AuditEvent;
use secret_core::SecretAuditEventType as E;
use secret_core::model::SecretMetadata;
use secret_core::reference::{ConfigValue, SecretLocator, SecretReference, field_text};
use secret_core::{ErrorCode, ResolveFailure, SecretContext, SecretError, SecretId, SecretScope};
use secret_store::owner_key;
use zeroize::Zeroizing;

use super::check::{check_context, enforce};
use super::{Result, SecretService};

/// The most variables one resolution takes.
pub const MAX_RESOLVE_VARIABLES: usize = 1000;

pub use secret_core::Resolved;

fn failure(key: &str, err: &SecretError) -> ResolveFailure {
    ResolveFailure {
        key: key.to_string(),
        code: err.code(),
        message: err.to_string(),
    }
}

/// The owner key and name a named reference points at, for `ctx`'s caller.
fn owner_of(locator: &SecretLocator, ctx: &SecretContext) -> Option<(String, String)> {
    let SecretLocator::Named {
        scope,
        organization_id,
        owner_id,
        name,
    } = locator
    else {
        return None;
    };
    let org = organization_id.as_deref();
    let owner = owner_id.as_deref();
    let key = match scope {
        SecretScope::Team => owner_key(*scope, org, owner, None, None),
        SecretScope::Project => owner_key(*scope, org, None, owner, None),
        SecretScope::User => owner_key(*scope, None, None, None, Some(ctx.user_id())),
        _ => owner_key(*scope, org, None, None, None),
    };
    Some((key, name.clone()))
}

impl SecretService {
    /// Resolves `variables`: plain strings are kept, references replaced by the field of
    /// the secret they name. Fails with every key that did not resolve (not found,
    /// expired, denied, a bad field, a vault that could not be read) and no values.
    pub async fn resolve(
        &self,
        variables: &BTreeMap<String, ConfigValue>,
        ctx: &SecretContext,
    ) -> Result<Resolved> {
        check_context(ctx)?;
        if variables.len() > MAX_RESOLVE_VARIABLES {
            return Err(SecretError::validation(
                "variables",
                format!("at most {MAX_RESOLVE_VARIABLES} variables may be resolved at once"),
            ));
        }
        let refs: Vec<(&str, &SecretReference)> = variables
            .iter()
            .filter_map(|(k, v)| match v {
                ConfigValue::Reference(r) => Some((k.as_str(), r)),
                ConfigValue::Plain(_) => None,
            })
            .collect();
        let mut failures = Vec::new();
        let ids = self.locate(&refs, ctx, &mut failures).await?;
        let metas = self.authorize_all(&refs, &ids, ctx, &mut failures).await?;
        if !failures.is_empty() {
            return Err(SecretError::unresolved(failures));
        }
        // One read per distinct (secret, version), however many keys use it.
        let mut wanted: BTreeSet<(String, i64)> = BTreeSet::new();
        for (key, r) in &refs {
            if let Some(meta) = ids.get(*key).and_then(|id| metas.get(id)) {
                wanted.insert((
                    meta.id.to_string(),
                    r.version.unwrap_or(meta.current_version),
                ));
            }
        }
        let pairs: Vec<(SecretId, i64)> = wanted
            .iter()
            .map(|(id, v)| (SecretId::from(id.as_str()), *v))
            .collect();
        let versions = self.inner.repo.find_versions(&pairs).await?;
        let mut values = HashMap::new();
        let mut read_failed: HashMap<(String, i64), SecretError> = HashMap::new();
        for (id, version) in &wanted {
            let meta = &metas[id];
            let Some(row) = versions
                .iter()
                .find(|v| v.secret_id == *id && v.version == *version)
            else {
                read_failed.insert(
                    (id.clone(), *version),
                    SecretError::VersionNotFound {
                        id: id.clone(),
                        version: *version,
                    },
                );
                continue;
            };
            match self.retrieve(meta, *version, &row.stored).await {
                Ok(v) => {
                    values.insert((id.clone(), *version), v);
                }
                Err(err) => {
                    read_failed.insert((id.clone(), *version), err);
                }
            }
        }
        let mut out = Resolved::new();
        for (key, v) in variables {
            let ConfigValue::Reference(r) = v else {
                if let ConfigValue::Plain(s) = v {
                    out.insert(key.clone(), Zeroizing::new(s.clone()));
                }
                continue;
            };
            let meta = &metas[&ids[key.as_str()]];
            let at = (
                meta.id.to_string(),
                r.version.unwrap_or(meta.current_version),
            );
            if let Some(err) = read_failed.get(&at) {
                failures.push(failure(key, err));
                continue;
            }
            match field_text(&values[&at], r.field.as_deref()) {
                Ok(text) => {
                    out.insert(key.clone(), text);
                }
                Err(err) => failures.push(failure(key, &err)),
            }
        }
        if !failures.is_empty() {
            for ((id, _), err) in read_failed {
                // A value that could not be read is a failed read of its secret, recorded
                // once however many keys named it.
                let event = AuditEvent::new(E::SecretRead).on(&metas[&id]);
                drop(self.audit_failure(event, err, ctx, false).await);
            }
            return Err(SecretError::unresolved(failures));
        }
        let reads: Vec<(&SecretMetadata, i64)> = wanted
            .iter()
            .map(|(id, version)| (&metas[id], *version))
            .collect();
        self.record_reads(&reads, ctx).await?;
        Ok(out)
    }

    /// The secret id of each reference's key; named references are looked up by owner and
    /// name, one query per owner.
    async fn locate<'a>(
        &self,
        refs: &[(&'a str, &SecretReference)],
        ctx: &SecretContext,
        failures: &mut Vec<ResolveFailure>,
    ) -> Result<HashMap<&'a str, String>> {
        let mut ids = HashMap::new();
        let mut by_owner: BTreeMap<String, Vec<(&'a str, String)>> = BTreeMap::new();
        for (key, r) in refs {
            match &r.locator {
                SecretLocator::Id(id) => {
                    ids.insert(*key, id.clone());
                }
                named => {
                    if let Some((owner, name)) = owner_of(named, ctx) {
                        by_owner.entry(owner).or_default().push((*key, name));
                    }
                }
            }
        }
        for (owner, keys) in by_owner {
            let names: Vec<&str> = keys.iter().map(|(_, n)| n.as_str()).collect();
            let found = self.inner.repo.find_by_names(&owner, &names).await?;
            for (key, name) in keys {
                match found.iter().find(|m| m.name == name && !m.is_deleted()) {
                    Some(m) => {
                        ids.insert(key, m.id.to_string());
                    }
                    None => failures.push(ResolveFailure {
                        key: key.to_string(),
                        code: ErrorCode::SecretNotFound,
                        message: format!("no secret named '{name}' there"),
                    }),
                }
            }
        }
        Ok(ids)
    }

    /// Every located secret's metadata, checked for a value read by the caller; a key
    /// whose secret is missing, invisible, deleted, expired or not readable fails (each
    /// refusal audited).
    async fn authorize_all(
        &self,
        refs: &[(&str, &SecretReference)],
        ids: &HashMap<&str, String>,
        ctx: &SecretContext,
        failures: &mut Vec<ResolveFailure>,
    ) -> Result<HashMap<String, SecretMetadata>> {
        let now = self.now();
        let distinct: BTreeSet<&String> = ids.values().collect();
        let wanted: Vec<SecretId> = distinct
            .iter()
            .map(|id| SecretId::from(id.as_str()))
            .collect();
        let records = self.inner.repo.find_many(&wanted).await?;
        let found: Vec<&str> = records.iter().map(|r| r.metadata.id.as_str()).collect();
        let grants = self.inner.repo.grants_on(&found).await?;
        let mut metas = HashMap::new();
        let mut refused: HashMap<String, SecretError> = HashMap::new();
        for r in records {
            let meta = r.metadata;
            let own: Vec<_> = grants
                .iter()
                .filter(|g| g.secret_id == meta.id)
                .cloned()
                .collect();
            let decision = decide(&ctx.principal, Action::Read, &meta, &own, now);
            let err = match decision {
                Decision::Invisible => Some(SecretError::SecretNotFound {
                    id: meta.id.to_string(),
                }),
                d => enforce(d, Action::Read, &meta.id).err(),
            }
            .or_else(|| {
                meta.is_deleted().then(|| SecretError::SecretNotFound {
                    id: meta.id.to_string(),
                })
            })
            .or_else(|| {
                meta.is_expired_at(now).then(|| SecretError::SecretExpired {
                    id: meta.id.to_string(),
                })
            });
            match err {
                Some(err) => {
                    let event = AuditEvent::new(E::SecretRead).on(&meta);
                    let err = self.audit_failure(event, err, ctx, false).await;
                    refused.insert(meta.id.to_string(), err);
                }
                None => {
                    metas.insert(meta.id.to_string(), meta);
                }
            }
        }
        for (key, _) in refs {
            let Some(id) = ids.get(key) else { continue };
            if metas.contains_key(id) {
                continue;
            }
            let err = refused
                .get(id)
                .map(|e| failure(key, e))
                .unwrap_or_else(|| failure(key, &SecretError::SecretNotFound { id: id.clone() }));
            failures.push(err);
        }
        Ok(metas)
    }
}
