//! The commands that read and write secrets.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use anyhow::{Context, Result, anyhow, bail};
use secret_client::{ClientError, ExportQuery, ListQuery, SecretClient};
use secret_core::reference::{SecretLocator, SecretReference};
use secret_core::wire::{
    ImportEnvRequest, ImportJsonRequest, RollbackRequest, SecretMetadataResponse,
    UpdateSecretValueRequest,
};
use secret_core::{SecretId, SecretScope, SecretType, SecretValue};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::{GetArgs, ImportArgs, ListArgs, LoginArgs, RefArg, RollbackArgs, SetArgs, profile};

/// `secret login`.
pub(crate) async fn login(server: Option<&str>, org: Option<&str>, args: &LoginArgs) -> Result<()> {
    let server = match server {
        Some(s) => s.to_owned(),
        None => match profile::load()? {
            Some(p) => p.server.clone(),
            None => bail!("no server: pass --server URL or set SECRETS_URL"),
        },
    };
    let from_env = std::env::var("SECRETS_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    let token = match from_env {
        Some(t) if !args.token_stdin => Zeroizing::new(t),
        _ => {
            let mut text = Zeroizing::new(String::new());
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading the token from standard input")?;
            Zeroizing::new(text.trim().to_owned())
        }
    };
    if token.is_empty() {
        bail!("no token: set SECRETS_TOKEN or pipe it to `secret login`");
    }
    // Checked before anything is saved.
    let mut config =
        secret_client::ClientConfig::new(&server)?.cache(secret_client::CacheSettings::disabled());
    if let Some(org) = org {
        config = config.organization(org);
    }
    let client = SecretClient::new(config, secret_client::StaticToken::new(token.as_str()))?;
    client
        .list_secrets(&ListQuery {
            limit: Some(1),
            ..ListQuery::default()
        })
        .await
        .map_err(|e| anyhow!("the server refused the token: {e}"))?;
    let path = profile::save(&profile::Profile {
        server: server.clone(),
        token: token.to_string(),
        organization: org.map(str::to_owned),
    })?;
    eprintln_msg(&format!(
        "logged in to {server}; profile saved to {}",
        path.display()
    ));
    Ok(())
}

fn eprintln_msg(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

fn println_out(msg: &str) -> Result<()> {
    writeln!(std::io::stdout(), "{msg}").context("writing to standard output")
}

/// `REF` as a reference: `secret://...`, or a bare id.
fn reference(r: &str) -> Result<SecretReference> {
    if SecretReference::looks_like_uri(r) {
        return SecretReference::parse_uri(r).map_err(|e| anyhow!("{r}: {e}"));
    }
    SecretReference::parse_uri(&format!("secret://{r}"))
        .map_err(|_| anyhow!("{r}: not a secret id; give an id or a secret:// reference"))
}

/// The metadata of the secret `r` names.
pub(crate) async fn locate(client: &SecretClient, r: &str) -> Result<SecretMetadataResponse> {
    let reference = reference(r)?;
    match &reference.locator {
        SecretLocator::Id(id) => client
            .get_metadata(&SecretId::from(id.as_str()))
            .await
            .map_err(|e| named(r, e)),
        SecretLocator::Named {
            scope,
            organization_id,
            owner_id,
            name,
        } => {
            let page = client
                .list_secrets(&ListQuery {
                    scope: Some(*scope),
                    search: Some(name.clone()),
                    limit: Some(500),
                    ..ListQuery::default()
                })
                .await
                .map_err(|e| named(r, e))?;
            page.items
                .into_iter()
                .find(|m| {
                    m.name == *name
                        && (organization_id.is_none() || m.organization_id == *organization_id)
                        && match scope {
                            SecretScope::Team => m.team_id == *owner_id,
                            SecretScope::Project => m.project_id == *owner_id,
                            _ => true,
                        }
                })
                .ok_or_else(|| anyhow!("{r}: secret not found"))
        }
    }
}

fn named(r: &str, e: ClientError) -> anyhow::Error {
    anyhow!("{r}: {e}")
}

/// `secret get`.
pub(crate) async fn get(client: &SecretClient, args: &GetArgs) -> Result<()> {
    let mut reference = reference(&args.secret)?;
    if args.field.is_some() {
        reference.field.clone_from(&args.field);
    }
    if args.version.is_some() {
        reference.version = args.version;
    }
    if !args.reveal {
        let meta = locate(client, &args.secret).await?;
        if args.json {
            return println_out(&serde_json::to_string_pretty(&meta)?);
        }
        return println_out(&format!(
            "{}  {}  {}  version {}  {}\n(use --reveal to print the value)",
            meta.id.as_str(),
            meta.name,
            wire(&meta.secret_type),
            meta.current_version,
            meta.masked_value.as_deref().unwrap_or("********"),
        ));
    }
    let mut variables = BTreeMap::new();
    variables.insert("VALUE".to_string(), Value::String(reference.to_string()));
    let resolved = client
        .resolve_variables(&variables)
        .await
        .map_err(|e| named(&args.secret, e))?;
    let value = resolved
        .get("VALUE")
        .ok_or_else(|| anyhow!("{}: the server answered no value", args.secret))?;
    let mut out = std::io::stdout().lock();
    out.write_all(value.as_bytes())?;
    out.write_all(b"\n")?;
    Ok(())
}

fn wire<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The value read from `text`: a typed JSON value, or plain text for a type with one
/// field (API_KEY, GENERIC).
fn parse_value(text: &str, secret_type: SecretType, what: &str) -> Result<SecretValue> {
    let trimmed = text.strip_suffix('\n').unwrap_or(text);
    let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
    if trimmed.trim_start().starts_with('{') {
        let mut v: Value = serde_json::from_str(trimmed)
            .map_err(|e| anyhow!("{what}: the value is not JSON: {}", json_error_kind(&e)))?;
        if v.get("type").is_none() {
            v["type"] = json!(wire(&secret_type));
        }
        return serde_json::from_value(v).map_err(|e| {
            anyhow!(
                "{what}: not a {} value: {}",
                wire(&secret_type),
                json_error_kind(&e)
            )
        });
    }
    let v = match secret_type {
        SecretType::ApiKey => json!({"type": "API_KEY", "key": trimmed}),
        SecretType::Generic => json!({"type": "GENERIC", "value": trimmed}),
        other => bail!(
            "{what}: a {} value is JSON, e.g. {{\"username\":..,\"password\":..}}",
            wire(&other)
        ),
    };
    serde_json::from_value(v).map_err(|e| anyhow!("{what}: {}", json_error_kind(&e)))
}

/// What kind of JSON error `e` is (without the input it quotes).
fn json_error_kind(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "wrong shape",
        serde_json::error::Category::Eof => "cut short",
    }
}

/// `secret set`.
pub(crate) async fn set(client: &SecretClient, args: &SetArgs) -> Result<()> {
    let meta = locate(client, &args.secret).await?;
    let text = Zeroizing::new(match &args.file {
        Some(path) => {
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
        }
        None => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("reading the value from standard input")?;
            s
        }
    });
    if text.trim().is_empty() {
        bail!("{}: no value on standard input (or --file)", args.secret);
    }
    let value = parse_value(&text, meta.secret_type, &args.secret)?;
    let updated = client
        .update_value(
            &meta.id,
            &UpdateSecretValueRequest {
                value,
                change_reason: args.reason.clone(),
            },
        )
        .await
        .map_err(|e| named(&args.secret, e))?;
    eprintln_msg(&format!(
        "{}: version {}",
        updated.name, updated.current_version
    ));
    Ok(())
}

/// `secret list`.
pub(crate) async fn list(client: &SecretClient, args: &ListArgs) -> Result<()> {
    let upper = |v: &Option<String>| v.as_ref().map(|s| json!(s.to_ascii_uppercase()));
    let scope = upper(&args.scope)
        .map(serde_json::from_value::<SecretScope>)
        .transpose()
        .map_err(|_| anyhow!("--scope: GLOBAL, ORGANIZATION, TEAM, PROJECT or USER"))?;
    let secret_type = upper(&args.secret_type)
        .map(serde_json::from_value::<SecretType>)
        .transpose()
        .map_err(|_| anyhow!("--type: not a secret type (e.g. API_KEY)"))?;
    let page = client
        .list_secrets(&ListQuery {
            scope,
            secret_type,
            tags: args.tags.clone(),
            search: args.search.clone(),
            limit: Some(500),
            ..ListQuery::default()
        })
        .await?;
    if args.json {
        return println_out(&serde_json::to_string_pretty(&page.items)?);
    }
    for m in &page.items {
        println_out(&format!(
            "{}  {:<32} {:<18} {:<12} v{:<4} {}",
            m.id.as_str(),
            m.name,
            wire(&m.secret_type),
            wire(&m.scope),
            m.current_version,
            m.expires_at
                .map(|t| format!("expires {}", t.to_rfc3339()))
                .unwrap_or_default()
        ))?;
    }
    Ok(())
}

/// `secret versions`.
pub(crate) async fn versions(client: &SecretClient, args: &RefArg) -> Result<()> {
    let meta = locate(client, &args.secret).await?;
    let list = client
        .list_versions(&meta.id)
        .await
        .map_err(|e| named(&args.secret, e))?;
    for v in &list.items {
        println_out(&format!(
            "v{:<4} {} {}{}  by {}  {}",
            v.version,
            v.created_at.to_rfc3339(),
            if v.is_current { "current" } else { "" },
            if v.is_active { "" } else { " inactive" },
            v.created_by_id,
            v.change_reason.as_deref().unwrap_or("")
        ))?;
    }
    Ok(())
}

/// `secret rollback`.
pub(crate) async fn rollback(client: &SecretClient, args: &RollbackArgs) -> Result<()> {
    let meta = locate(client, &args.secret).await?;
    let request: RollbackRequest = serde_json::from_value(json!({"version": args.version}))?;
    let updated = client
        .rollback_secret(&meta.id, &request)
        .await
        .map_err(|e| named(&args.secret, e))?;
    eprintln_msg(&format!(
        "{}: version {} now holds version {}'s value",
        updated.name, updated.current_version, args.version
    ));
    Ok(())
}

/// `secret import`: exit 1 when any item was refused.
pub(crate) async fn import(
    client: &SecretClient,
    org: Option<&str>,
    args: &ImportArgs,
) -> Result<i32> {
    let text = Zeroizing::new(
        std::fs::read_to_string(&args.file)
            .with_context(|| format!("reading {}", args.file.display()))?,
    );
    let format = match args.format.as_deref() {
        Some(f) => f.to_ascii_lowercase(),
        None if args.file.extension().is_some_and(|e| e == "json") => "json".to_string(),
        None => "env".to_string(),
    };
    let scope = args.scope.to_ascii_uppercase();
    let result = match format.as_str() {
        "env" => {
            let request: ImportEnvRequest = serde_json::from_value(json!({
                "content": text.as_str(), "targetScope": scope, "organizationId": org,
                "overwrite": args.overwrite, "dryRun": args.dry_run}))
            .map_err(|e| anyhow!("--scope: {}", json_error_kind(&e)))?;
            client.import_env(&request).await?
        }
        "json" => {
            let doc: Value = serde_json::from_str(&text).map_err(|e| {
                anyhow!(
                    "{}: not JSON ({})",
                    args.file.display(),
                    json_error_kind(&e)
                )
            })?;
            let secrets = doc.get("secrets").cloned().unwrap_or(doc);
            let request: ImportJsonRequest = serde_json::from_value(json!({
                "secrets": secrets, "targetScope": scope, "organizationId": org,
                "overwrite": args.overwrite, "dryRun": args.dry_run}))
            .map_err(|e| anyhow!("{}: {}", args.file.display(), json_error_kind(&e)))?;
            client.import_json(&request).await?
        }
        other => bail!("--format: env or json, not '{other}'"),
    };
    eprintln_msg(&format!(
        "{}{} imported, {} skipped, {} refused of {}",
        if result.dry_run { "dry run: " } else { "" },
        result.imported,
        result.skipped,
        result.errors.len(),
        result.total
    ));
    for e in &result.errors {
        eprintln_msg(&format!("  {} ({}): {}", e.name, e.code, e.error));
    }
    Ok(if result.errors.is_empty() { 0 } else { 1 })
}

/// `secret export`.
pub(crate) async fn export(client: &SecretClient, args: &crate::ExportArgs) -> Result<()> {
    let mut query = vec![("format".to_string(), args.format.clone())];
    if args.include_values {
        query.push(("includeValues".to_string(), "true".to_string()));
    }
    let body = client.export(&ExportQuery(query)).await?;
    match &args.output {
        Some(path) => profile::write_private(path, &body),
        None => std::io::stdout()
            .lock()
            .write_all(&body)
            .context("writing to standard output"),
    }
}
