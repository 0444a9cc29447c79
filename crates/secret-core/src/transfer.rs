//! Import and export (§11): what an import is asked to do and what it answers, and the
//! document an export produces. The answers are also the wire bodies (camelCase).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::SecretError;
use crate::ids::{SecretId, VaultId};
use crate::model::ScopeTarget;
use crate::{SecretScope, SecretType, SecretValue};

/// Where and how an import writes.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The scope every imported secret gets.
    pub target_scope: SecretScope,
    /// The ids that scope needs; the caller's context fills what is left out.
    pub target: ScopeTarget,
    /// Whether a secret that already has the name gets the value as a new version
    /// (changeReason "Import") instead of being skipped.
    pub overwrite: bool,
    /// Reports what would happen and writes nothing.
    pub dry_run: bool,
    /// All or nothing: every item is checked first and, if none fails, all are written in
    /// one transaction (values kept in this service's database only).
    pub atomic: bool,
    /// The vault configuration new secrets keep their values in (the scope's default
    /// when `None`).
    pub vault_id: Option<VaultId>,
}

impl ImportOptions {
    /// An import into `scope`, skipping names that exist, writing for real, item by item.
    pub fn new(target_scope: SecretScope) -> Self {
        ImportOptions {
            target_scope,
            target: ScopeTarget::default(),
            overwrite: false,
            dry_run: false,
            atomic: false,
            vault_id: None,
        }
    }
}

/// One secret to import. `value` is the item's error when it could not even be read (an
/// unreadable `.env` line, a value that does not parse): it is reported with its index.
pub struct ImportItem {
    pub name: String,
    /// The item's line in a `.env` file.
    pub line: Option<usize>,
    /// The type the item declares; the value must be of it.
    pub secret_type: Option<SecretType>,
    pub value: Result<SecretValue, SecretError>,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub metadata: BTreeMap<String, String>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for ImportItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportItem")
            .field("name", &self.name)
            .field("line", &self.line)
            .field("secret_type", &self.secret_type)
            .field("value", &self.value.as_ref().map(|v| v.secret_type()))
            .finish_non_exhaustive()
    }
}

impl ImportItem {
    /// An item named `name` whose value is still missing (an error until it is set).
    fn placeholder(name: String) -> Self {
        ImportItem {
            name,
            line: None,
            secret_type: None,
            value: Err(SecretError::validation("value", "is required")),
            description: None,
            tags: Vec::new(),
            metadata: BTreeMap::new(),
            expires_at: None,
        }
    }

    /// An item of `value` named `name`, with no description, tags, metadata or expiry.
    pub fn new(name: impl Into<String>, value: SecretValue) -> Self {
        ImportItem {
            name: name.into(),
            line: None,
            secret_type: None,
            value: Ok(value),
            description: None,
            tags: Vec::new(),
            metadata: BTreeMap::new(),
            expires_at: None,
        }
    }
}

/// What an import did with one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ImportAction {
    /// A new secret (or, in a dry run, one that would be created).
    Created,
    /// A new version of the secret that had the name.
    Updated,
    /// Left alone: the name is taken and `overwrite` is off.
    Skipped,
    /// Not imported: see the item's entry in `errors`.
    Failed,
    /// Valid, but not written: an atomic import with an error writes nothing.
    NotWritten,
}

/// `ImportResult` (§11.1): the counts, the errors, and what happened to each item.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ImportResult {
    /// Items in the input (for `.env`: one per key, the last declaration of a key, plus
    /// every line that could not be read).
    pub total: usize,
    /// Items created or updated (in a dry run: that would be).
    pub imported: usize,
    /// Items whose name was taken, with `overwrite` off.
    pub skipped: usize,
    pub errors: Vec<ImportItemError>,
    /// Whether this was a dry run (nothing was written).
    pub dry_run: bool,
    /// Whether the import was atomic; an atomic import with errors wrote nothing.
    pub atomic: bool,
    /// Duplicate keys and other things worth knowing that did not stop an item.
    pub warnings: Vec<ImportWarning>,
    /// One entry per item, in input order.
    pub items: Vec<ImportedItem>,
}

/// An item that was not imported (`index` counts from 0 in input order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ImportItemError {
    pub index: usize,
    pub name: String,
    /// What is wrong; never quotes a value.
    pub error: String,
    /// The error code the same failure has on its own (VALIDATION_ERROR, CONFLICT, ...).
    pub code: String,
    /// The item's line in a `.env` file.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub line: Option<usize>,
}

/// A note about the input that did not stop an item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ImportWarning {
    pub name: String,
    /// The line the warning is about (for a duplicate key: the declaration used).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub line: Option<usize>,
    pub message: String,
}

/// What happened to one item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ImportedItem {
    pub index: usize,
    pub name: String,
    pub action: ImportAction,
    /// The secret created or updated (absent in a dry run and for failures).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub secret_id: Option<SecretId>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub line: Option<usize>,
}

impl ImportResult {
    /// Records `action` for item `index`.
    pub fn record(&mut self, item: ImportedItem) {
        match item.action {
            ImportAction::Created | ImportAction::Updated => self.imported += 1,
            ImportAction::Skipped => self.skipped += 1,
            ImportAction::Failed | ImportAction::NotWritten => {}
        }
        self.items.push(item);
    }

    /// Records that item `index` failed with `err`.
    pub fn fail(&mut self, index: usize, name: &str, line: Option<usize>, err: &SecretError) {
        self.errors.push(ImportItemError {
            index,
            name: name.to_string(),
            error: err.to_string(),
            code: err.code().as_str().to_string(),
            line,
        });
        self.record(ImportedItem {
            index,
            name: name.to_string(),
            action: ImportAction::Failed,
            secret_id: None,
            line,
        });
    }
}

/// What an export covers: a scope, an owner, and whether values go with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportParams {
    /// Only secrets of this scope (all the caller may export when `None`).
    pub scope: Option<SecretScope>,
    pub target: ScopeTarget,
    /// Values too (needs an authentication under five minutes old); each is an audited read.
    pub include_values: bool,
}

/// `{"exportedAt","secrets":[...]}`: whose `secrets` array `import/json` accepts unchanged.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ExportDocument {
    pub exported_at: DateTime<Utc>,
    pub secrets: Vec<ExportedSecret>,
    /// Secrets exported without their value although values were asked for, and why (the
    /// caller may not read it, it has expired).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub omitted: Vec<ExportOmission>,
}

/// One exported secret; `value` only when values were asked for and the caller may read it.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ExportedSecret {
    pub name: String,
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schema(value_type = crate::wire::schema::SecretTypeSchema))]
    pub secret_type: SecretType,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub metadata: BTreeMap<String, String>,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::wire::schema::SecretScopeSchema))]
    pub scope: SecretScope,
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::wire::schema::SecretValueSchema>))]
    pub value: Option<SecretValue>,
}

/// A secret exported without its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ExportOmission {
    pub name: String,
    pub reason: String,
}

/// How a `.env` file becomes import items.
#[derive(Debug, Clone)]
pub struct EnvImportOptions {
    pub import: ImportOptions,
    /// Added in front of every key (after `strip_prefix`).
    pub prefix: Option<String>,
    /// Removed from the front of the keys that start with it (before `prefix`).
    pub strip_prefix: Option<String>,
    /// API_KEY (`{"type":"API_KEY","key":...}`, the default) or GENERIC.
    pub value_type: SecretType,
}

impl EnvImportOptions {
    /// API_KEY values into `import`'s scope, keys unchanged.
    pub fn new(import: ImportOptions) -> Self {
        EnvImportOptions {
            import,
            prefix: None,
            strip_prefix: None,
            value_type: SecretType::ApiKey,
        }
    }
}

/// The field a type keeps a single string in, for the types that have one.
pub fn single_field(secret_type: SecretType) -> Option<&'static str> {
    match secret_type {
        SecretType::ApiKey => Some("key"),
        SecretType::Generic => Some("value"),
        SecretType::ConnectionString => Some("connectionString"),
        _ => None,
    }
}

/// A value of `secret_type` holding `text` in its single field (API_KEY `key`, GENERIC
/// `value`, CONNECTION_STRING `connectionString`). Not validated yet.
pub fn single_field_value(
    secret_type: SecretType,
    text: String,
) -> Result<SecretValue, SecretError> {
    let Some(field) = single_field(secret_type) else {
        return Err(SecretError::validation(
            "value",
            format!(
                "must be the tagged object for {secret_type} secrets (a plain string is \
                 accepted for API_KEY, GENERIC and CONNECTION_STRING only)"
            ),
        ));
    };
    let mut object = serde_json::Map::new();
    object.insert("type".into(), secret_type.as_str().into());
    object.insert(field.into(), serde_json::Value::String(text));
    SecretValue::from_json(serde_json::Value::Object(object))
}

/// The import items of a `.env` file, one per key (its last declaration) plus one per line
/// that could not be read, in file order; and a warning per duplicate key.
pub fn env_items(
    content: &str,
    options: &EnvImportOptions,
) -> Result<(Vec<ImportItem>, Vec<ImportWarning>), SecretError> {
    if !matches!(options.value_type, SecretType::ApiKey | SecretType::Generic) {
        return Err(SecretError::validation(
            "valueType",
            "must be API_KEY or GENERIC",
        ));
    }
    let file = crate::envfile::parse(content);
    let rename = |key: &str| {
        let key = match &options.strip_prefix {
            Some(p) if !p.is_empty() => key.strip_prefix(p.as_str()).unwrap_or(key),
            _ => key,
        };
        format!("{}{key}", options.prefix.as_deref().unwrap_or(""))
    };
    let mut items = Vec::with_capacity(file.statements.len());
    for statement in file.statements {
        let item = match statement {
            crate::envfile::EnvStatement::Assignment { key, value, line } => {
                let value = match value {
                    None => Err(SecretError::validation(
                        "value",
                        format!("line {line} has no '=': a bare key has no value to import"),
                    )),
                    Some(v) if v.is_empty() => Err(SecretError::validation(
                        "value",
                        format!(
                            "line {line} has an empty value, and secret values cannot be blank"
                        ),
                    )),
                    Some(v) => single_field_value(options.value_type, v),
                };
                ImportItem {
                    line: Some(line),
                    secret_type: Some(options.value_type),
                    value,
                    ..ImportItem::placeholder(rename(&key))
                }
            }
            crate::envfile::EnvStatement::Invalid { line, message } => ImportItem {
                line: Some(line),
                value: Err(SecretError::validation(
                    "content",
                    format!("line {line} is {message}"),
                )),
                ..ImportItem::placeholder(String::new())
            },
        };
        items.push(item);
    }
    let warnings = file
        .duplicates
        .into_iter()
        .map(|d| {
            let used = d.lines.last().copied();
            let lines: Vec<String> = d.lines.iter().map(ToString::to_string).collect();
            ImportWarning {
                name: rename(&d.key),
                line: used,
                message: format!(
                    "{} is declared on lines {}: the last one is imported",
                    d.key,
                    lines.join(", ")
                ),
            }
        })
        .collect();
    Ok((items, warnings))
}
