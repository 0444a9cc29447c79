//! The secret forms (§13.3): the value fields of each of the nine types, the create form's
//! scope choices, and turning a posted form into the very request body the API parses
//! (so a form is checked exactly as `POST /api/secrets` checks its JSON, with the same
//! field names in its errors).
//!
//! Secret fields are password inputs (or textareas for keys) and are never written back
//! into a page: a form shown again after an error asks for the value again.

use secret_access::can_create;
use secret_core::{Principal, SecretError, SecretScope, SecretType, SshKeyType};
use serde_json::{Map, Value, json};
use zeroize::Zeroize;

/// How one value field is entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// One line of text, shown as typed.
    Text,
    /// One line, masked (a password input with a reveal toggle).
    Secret,
    /// Several lines, masked by the page's styling until revealed (keys, certificates).
    SecretBlock,
    /// Several lines shown as typed (a certificate, a public key).
    Block,
    /// PEM blocks, one after another (a certificate chain).
    PemList,
    /// `KEY=VALUE`, one a line.
    Pairs,
    /// A JSON object.
    Json,
    /// One of the SSH key types.
    SshKeyType,
    /// A date and time (UTC).
    Timestamp,
}

/// One value field of a type.
pub(crate) struct FieldSpec {
    /// The value's JSON field, also the form field `value.<name>`.
    pub(crate) name: &'static str,
    pub(crate) label: &'static str,
    pub(crate) required: bool,
    pub(crate) kind: Kind,
}

/// The value fields of type `t` (the value types of `secret_core::value`).
pub(crate) fn value_fields(t: SecretType) -> &'static [FieldSpec] {
    use Kind::*;
    match t {
        SecretType::ApiKey => &[FieldSpec {
            name: "key",
            label: "API key",
            required: true,
            kind: Secret,
        }],
        SecretType::OAuth2Token => &[
            FieldSpec {
                name: "accessToken",
                label: "Access token",
                required: true,
                kind: Secret,
            },
            FieldSpec {
                name: "refreshToken",
                label: "Refresh token",
                required: false,
                kind: Secret,
            },
            FieldSpec {
                name: "tokenType",
                label: "Token type",
                required: true,
                kind: Text,
            },
            FieldSpec {
                name: "expiresAt",
                label: "Token expires (UTC)",
                required: false,
                kind: Timestamp,
            },
            FieldSpec {
                name: "scope",
                label: "Scope",
                required: false,
                kind: Text,
            },
        ],
        SecretType::UsernamePassword => &[
            FieldSpec {
                name: "username",
                label: "Username",
                required: true,
                kind: Text,
            },
            FieldSpec {
                name: "password",
                label: "Password",
                required: true,
                kind: Secret,
            },
        ],
        SecretType::Certificate => &[
            FieldSpec {
                name: "certificate",
                label: "Certificate (PEM)",
                required: true,
                kind: Block,
            },
            FieldSpec {
                name: "privateKey",
                label: "Private key (PEM)",
                required: false,
                kind: SecretBlock,
            },
            FieldSpec {
                name: "chain",
                label: "Chain (PEM blocks)",
                required: false,
                kind: PemList,
            },
            FieldSpec {
                name: "passphrase",
                label: "Passphrase",
                required: false,
                kind: Secret,
            },
        ],
        SecretType::SshKey => &[
            FieldSpec {
                name: "privateKey",
                label: "Private key (OpenSSH)",
                required: true,
                kind: SecretBlock,
            },
            FieldSpec {
                name: "publicKey",
                label: "Public key",
                required: false,
                kind: Block,
            },
            FieldSpec {
                name: "passphrase",
                label: "Passphrase",
                required: false,
                kind: Secret,
            },
            FieldSpec {
                name: "keyType",
                label: "Key type",
                required: true,
                kind: SshKeyType,
            },
        ],
        SecretType::ConnectionString => &[FieldSpec {
            name: "connectionString",
            label: "Connection string",
            required: true,
            kind: Secret,
        }],
        SecretType::JsonCredential => &[FieldSpec {
            name: "credential",
            label: "Credential (JSON object)",
            required: true,
            kind: Json,
        }],
        SecretType::EnvVariableSet => &[FieldSpec {
            name: "variables",
            label: "Variables (KEY=VALUE, one a line)",
            required: true,
            kind: Pairs,
        }],
        SecretType::Generic => &[FieldSpec {
            name: "value",
            label: "Value",
            required: true,
            kind: SecretBlock,
        }],
    }
}

/// Whether the field's value is secret (never written back into a page).
pub(crate) fn is_secret(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Secret | Kind::SecretBlock | Kind::Pairs | Kind::Json
    )
}

/// The SSH key types, for the key type's drop-down.
pub(crate) fn ssh_key_types() -> Vec<&'static str> {
    SshKeyType::ALL.iter().map(|k| k.as_str()).collect()
}

/// A posted form: its fields in order. Zeroed when dropped (it holds values).
pub(crate) struct Posted(pub(crate) Vec<(String, String)>);

impl Drop for Posted {
    fn drop(&mut self) {
        for (_, v) in &mut self.0 {
            v.zeroize();
        }
    }
}

impl Posted {
    /// The first value of field `name`, trimmed; `None` when absent or blank.
    pub(crate) fn text(&self, name: &str) -> Option<&str> {
        self.raw(name).map(str::trim).filter(|s| !s.is_empty())
    }

    /// The first value of field `name` as posted; `None` when absent or empty.
    pub(crate) fn raw(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// Whether checkbox `name` was ticked.
    pub(crate) fn checked(&self, name: &str) -> bool {
        self.raw(name).is_some()
    }
}

/// A `datetime-local` or `date` input's value as RFC 3339 UTC.
pub(crate) fn timestamp(field: &str, input: &str) -> Result<String, SecretError> {
    let input = input.trim();
    let parsed = chrono::NaiveDateTime::parse_from_str(input, "%Y-%m-%dT%H:%M")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(input, "%Y-%m-%dT%H:%M:%S"))
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(input, "%Y-%m-%d")
                .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default())
        })
        .map_err(|_| {
            SecretError::validation(field, "must be a date (YYYY-MM-DD) or a date and time")
        })?;
    Ok(parsed.and_utc().to_rfc3339())
}

/// The value object `{"type": t, ...}` of a posted form's `value.*` fields. (A JSON tree
/// cannot be zeroed in place; callers serialise it into zeroed bytes at once and drop it.)
pub(crate) fn value_json(t: SecretType, form: &Posted) -> Result<Value, SecretError> {
    let mut object = Map::new();
    object.insert("type".to_string(), json!(t.as_str()));
    for spec in value_fields(t) {
        let field = format!("value.{}", spec.name);
        let given = match spec.kind {
            // Secrets are taken as typed (a password may start with a space).
            Kind::Secret | Kind::SecretBlock => form.raw(&field),
            _ => form.text(&field),
        };
        let Some(given) = given else {
            continue;
        };
        let v = match spec.kind {
            Kind::Text | Kind::Secret | Kind::SecretBlock | Kind::Block | Kind::SshKeyType => {
                json!(given)
            }
            Kind::Timestamp => json!(timestamp(&field, given)?),
            Kind::PemList => {
                let blocks: Vec<String> = given
                    .split_inclusive("-----END CERTIFICATE-----")
                    .map(str::trim)
                    .filter(|b| !b.is_empty())
                    .map(str::to_string)
                    .collect();
                json!(blocks)
            }
            Kind::Pairs => {
                let mut vars = Map::new();
                for (n, line) in given.lines().enumerate() {
                    let line = line.trim();
                    if line.is_empty() || line.starts_with('#') {
                        continue;
                    }
                    let Some((k, v)) = line.split_once('=') else {
                        return Err(SecretError::validation(
                            &field,
                            format!("line {} is not KEY=VALUE", n + 1),
                        ));
                    };
                    vars.insert(k.trim().to_string(), json!(v));
                }
                Value::Object(vars)
            }
            Kind::Json => match serde_json::from_str::<Value>(given) {
                Ok(v @ Value::Object(_)) => v,
                _ => return Err(SecretError::validation(&field, "must be a JSON object")),
            },
        };
        object.insert(spec.name.to_string(), v);
    }
    Ok(Value::Object(object))
}

/// One choice of the create form's scope and its targets.
pub(crate) struct ScopeOption {
    pub(crate) value: &'static str,
    pub(crate) label: &'static str,
    pub(crate) selected: bool,
}

/// The scopes the caller may create a secret in (with some organization, team or project
/// of its memberships where the scope needs one), and those targets.
pub(crate) struct Placement {
    pub(crate) scopes: Vec<ScopeOption>,
    pub(crate) orgs: Vec<String>,
    pub(crate) teams: Vec<String>,
    pub(crate) projects: Vec<String>,
}

/// Where `p` may create secrets; `selected` is the scope to preselect.
pub(crate) fn placement(p: &Principal, selected: Option<SecretScope>) -> Placement {
    let orgs: Vec<String> = p
        .orgs
        .keys()
        .filter(|o| can_create(p, SecretScope::Organization, Some(o), None, None))
        .cloned()
        .collect();
    let teams: Vec<String> = p
        .teams
        .iter()
        .filter(|(t, m)| can_create(p, SecretScope::Team, Some(&m.org), Some(t), None))
        .map(|(t, _)| t.clone())
        .collect();
    let projects: Vec<String> = p
        .projects
        .iter()
        .filter(|(id, m)| {
            can_create(
                p,
                SecretScope::Project,
                Some(&m.org),
                m.team.as_deref(),
                Some(id),
            )
        })
        .map(|(id, _)| id.clone())
        .collect();
    let allowed = [
        (
            SecretScope::Global,
            "Global",
            can_create(p, SecretScope::Global, None, None, None),
        ),
        (SecretScope::Organization, "Organization", !orgs.is_empty()),
        (SecretScope::Team, "Team", !teams.is_empty()),
        (SecretScope::Project, "Project", !projects.is_empty()),
        (SecretScope::User, "Personal", true),
    ];
    let first = allowed.iter().find(|(_, _, ok)| *ok).map(|(s, _, _)| *s);
    let pick = selected
        .filter(|s| allowed.iter().any(|(a, _, ok)| a == s && *ok))
        .or(first);
    Placement {
        scopes: allowed
            .iter()
            .filter(|(_, _, ok)| *ok)
            .map(|(s, label, _)| ScopeOption {
                value: s.as_str(),
                label,
                selected: Some(*s) == pick,
            })
            .collect(),
        orgs,
        teams,
        projects,
    }
}

/// Comma- or space-separated tags.
pub(crate) fn tags(input: Option<&str>) -> Vec<String> {
    input
        .unwrap_or_default()
        .split([',', ' '])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// The field an error names (`value.key`, `name`, ...), to show it beside that field.
pub(crate) fn error_field(err: &SecretError) -> Option<String> {
    match err {
        SecretError::Validation { field, .. } => Some(field.clone()),
        _ => None,
    }
}

/// The owner fields (`organizationId`, `teamId`, `projectId`) a request body needs for
/// secrets of `scope`, from the form's pickers; a team's or project's organization (and a
/// project's team) come from the caller's membership of it.
pub(crate) fn owner_fields(scope: SecretScope, form: &Posted, p: &Principal) -> Map<String, Value> {
    let mut body = Map::new();
    match scope {
        SecretScope::Organization => {
            body.insert("organizationId".into(), json!(form.text("organizationId")));
        }
        SecretScope::Team => {
            let team = form.text("teamId");
            let org = team.and_then(|t| p.teams.get(t)).map(|m| m.org.clone());
            body.insert("teamId".into(), json!(team));
            body.insert("organizationId".into(), json!(org));
        }
        SecretScope::Project => {
            let project = form.text("projectId");
            let m = project.and_then(|id| p.projects.get(id));
            body.insert("projectId".into(), json!(project));
            body.insert("organizationId".into(), json!(m.map(|m| m.org.clone())));
            if let Some(team) = m.and_then(|m| m.team.clone()) {
                body.insert("teamId".into(), json!(team));
            }
        }
        SecretScope::Global | SecretScope::User => {}
    }
    body
}
