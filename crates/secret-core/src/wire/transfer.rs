//! Bodies of the import and export routes (§12.1, §11): `POST /api/secrets/import/env`,
//! `POST /api/secrets/import/json` and `GET /api/secrets/export`. The answers are the
//! core's own serializable types, re-exported here.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use super::schema::{SecretScopeSchema, SecretTypeSchema, SecretValueSchema};
use crate::ids::VaultId;
use crate::model::ScopeTarget;
use crate::transfer::{EnvImportOptions, ImportItem, ImportOptions, single_field_value};
use crate::{SecretError, SecretScope, SecretType, SecretValue};

pub use crate::transfer::{
    ExportDocument, ExportOmission, ExportedSecret, ImportAction, ImportItemError, ImportResult,
    ImportWarning, ImportedItem,
};

/// `POST /api/secrets/import/env`.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportEnvRequest {
    /// The `.env` file's text, read as python-dotenv reads it, with nothing expanded.
    pub content: String,
    #[cfg_attr(feature = "openapi", schema(value_type = SecretScopeSchema))]
    pub target_scope: SecretScope,
    pub organization_id: Option<String>,
    pub team_id: Option<String>,
    pub project_id: Option<String>,
    /// A name that exists gets the value as a new version (changeReason "Import");
    /// without it the item is skipped.
    #[serde(default)]
    pub overwrite: bool,
    /// Added in front of every key, after `stripPrefix`.
    pub prefix: Option<String>,
    /// Removed from the front of every key that starts with it, before `prefix`.
    pub strip_prefix: Option<String>,
    /// Report what would happen; write nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// API_KEY (default) or GENERIC.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<SecretTypeSchema>))]
    pub value_type: Option<SecretType>,
    /// All or nothing in one transaction (values kept in this service's database only).
    #[serde(default)]
    pub atomic: bool,
    /// The vault configuration new secrets keep their values in.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub vault_id: Option<VaultId>,
}

impl ImportEnvRequest {
    /// The file's text and the options of the import.
    pub fn into_parts(self) -> (String, EnvImportOptions) {
        let options = EnvImportOptions {
            import: ImportOptions {
                target_scope: self.target_scope,
                target: ScopeTarget {
                    organization_id: self.organization_id,
                    team_id: self.team_id,
                    project_id: self.project_id,
                },
                overwrite: self.overwrite,
                dry_run: self.dry_run,
                atomic: self.atomic,
                vault_id: self.vault_id,
            },
            prefix: self.prefix,
            strip_prefix: self.strip_prefix,
            value_type: self.value_type.unwrap_or(SecretType::ApiKey),
        };
        (self.content, options)
    }
}

/// `POST /api/secrets/import/json`.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportJsonRequest {
    /// The secrets, e.g. the `secrets` array of an export.
    pub secrets: Vec<ImportSecretData>,
    #[cfg_attr(feature = "openapi", schema(value_type = SecretScopeSchema))]
    pub target_scope: SecretScope,
    pub organization_id: Option<String>,
    pub team_id: Option<String>,
    pub project_id: Option<String>,
    #[serde(default)]
    pub overwrite: bool,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub atomic: bool,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub vault_id: Option<VaultId>,
}

/// One secret of a JSON import (`ImportSecretData`, §11.1).
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportSecretData {
    pub name: String,
    /// The value's type; GENERIC when absent and the value is a plain string.
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<SecretTypeSchema>))]
    pub secret_type: Option<SecretType>,
    /// The tagged value, or a plain string for the types with one field (API_KEY,
    /// GENERIC, CONNECTION_STRING). Checked per item: a bad value fails only its item.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<SecretValueSchema>))]
    pub value: Option<serde_json::Value>,
    pub description: Option<String>,
    pub tags: Option<Vec<String>>,
    pub metadata: Option<BTreeMap<String, String>>,
    pub expires_at: Option<DateTime<Utc>>,
    /// The scope the secret had where it was exported; the import's `targetScope` is
    /// where it goes.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<SecretScopeSchema>))]
    pub scope: Option<SecretScope>,
}

impl ImportSecretData {
    /// The import item, its value read (not yet validated) or the reason it cannot be.
    pub fn into_item(self) -> ImportItem {
        let declared = self.secret_type;
        let value = match self.value {
            None => Err(SecretError::validation(
                "value",
                "is required (an export without values cannot be imported)",
            )),
            Some(serde_json::Value::String(text)) => {
                single_field_value(declared.unwrap_or(SecretType::Generic), text)
            }
            Some(raw) => SecretValue::from_json(raw),
        };
        ImportItem {
            name: self.name,
            line: None,
            secret_type: declared,
            value,
            description: self.description,
            tags: self.tags.unwrap_or_default(),
            metadata: self.metadata.unwrap_or_default(),
            expires_at: self.expires_at,
        }
    }
}

impl ImportJsonRequest {
    /// The items and the options of the import.
    pub fn into_parts(self) -> (Vec<ImportItem>, ImportOptions) {
        let options = ImportOptions {
            target_scope: self.target_scope,
            target: ScopeTarget {
                organization_id: self.organization_id,
                team_id: self.team_id,
                project_id: self.project_id,
            },
            overwrite: self.overwrite,
            dry_run: self.dry_run,
            atomic: self.atomic,
            vault_id: self.vault_id,
        };
        let items = self
            .secrets
            .into_iter()
            .map(ImportSecretData::into_item)
            .collect();
        (items, options)
    }
}
