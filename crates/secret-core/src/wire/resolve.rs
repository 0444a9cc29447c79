//! Bodies of `POST /api/secrets/resolve` (§9.3): a configuration's variables, each a plain
//! string, a `secret://` reference or a SECRET_REF object, and the resolved values.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::reference::ConfigValue;
use crate::{ErrorCode, ResolveFailure, SecretError};

/// The longest variable name accepted.
pub const MAX_VARIABLE_NAME: usize = 255;

/// `POST /api/secrets/resolve`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResolveRequest {
    /// Each variable: a string (a reference when it starts with `secret://`) or
    /// `{"type":"SECRET_REF","secretId","field"?,"version"?}`.
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<String, Object>))]
    pub variables: BTreeMap<String, Value>,
}

/// `200` to a resolution: every variable with its value.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResolveResponse {
    pub variables: BTreeMap<String, String>,
}

impl std::fmt::Debug for ResolveResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolveResponse")
            .field("variables", &self.variables.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Whether `key` is a usable variable name: a letter or `_`, then letters, digits and `_`.
fn name_ok(key: &str) -> bool {
    let mut chars = key.chars();
    key.len() <= MAX_VARIABLE_NAME
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl ResolveRequest {
    /// The variables as configuration values; every key whose name or reference is
    /// malformed is a failure (VALIDATION_ERROR), all of them reported together.
    pub fn into_config(self) -> Result<BTreeMap<String, ConfigValue>, SecretError> {
        let mut out = BTreeMap::new();
        let mut failures = Vec::new();
        for (key, value) in self.variables {
            if !name_ok(&key) {
                failures.push(ResolveFailure {
                    message: format!(
                        "'{}' is not a variable name (a letter or _, then letters, digits and _; \
                         at most {MAX_VARIABLE_NAME} characters)",
                        key.chars().take(64).collect::<String>()
                    ),
                    key,
                    code: ErrorCode::ValidationError,
                });
                continue;
            }
            match ConfigValue::from_json(&value) {
                Ok(v) => {
                    out.insert(key, v);
                }
                Err(err) => failures.push(ResolveFailure {
                    key,
                    code: err.code(),
                    message: err.to_string(),
                }),
            }
        }
        if failures.is_empty() {
            Ok(out)
        } else {
            Err(SecretError::unresolved(failures))
        }
    }
}
