//! The settings fields of each external vault's form (§13.4 "Add/Edit"), as the pinned
//! `config` shapes name them, and the `config` JSON a posted form makes.
//!
//! A form names a setting `c.<key>` and a sign-in field `a.<METHOD>.<key>`; the sign-in
//! method is `m`. Credentials are write-only: never refilled, and on an edit a blank one
//! keeps what is stored ([`secret_core::vault::BackendConfig::with_kept_credentials`]).
//! The settings are validated by the same parser the API uses; its errors name the field
//! (`config.auth.token`), and the form shows each beside the input it came from.

use secret_core::StorageBackendKind;
use serde_json::{Map, Value, json};

use super::forms::Posted;
use super::pages::Choice;

/// How a setting is typed in.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum VKind {
    Text,
    Number,
    /// A credential: a password input, never refilled.
    Secret,
    /// A credential that is a JSON document (a service-account key): a masked text area.
    SecretJson,
}

/// One setting of a form.
pub(crate) struct VField {
    pub(crate) key: &'static str,
    pub(crate) label: &'static str,
    pub(crate) kind: VKind,
    pub(crate) required: bool,
    pub(crate) hint: &'static str,
}

const fn field(key: &'static str, label: &'static str, kind: VKind, required: bool) -> VField {
    VField {
        key,
        label,
        kind,
        required,
        hint: "",
    }
}

const fn hinted(
    key: &'static str,
    label: &'static str,
    kind: VKind,
    required: bool,
    hint: &'static str,
) -> VField {
    VField {
        key,
        label,
        kind,
        required,
        hint,
    }
}

/// One way of signing in to a vault, with its fields.
pub(crate) struct Method {
    pub(crate) code: &'static str,
    pub(crate) label: &'static str,
    pub(crate) fields: &'static [VField],
}

/// The form of one backend.
pub(crate) struct BackendForm {
    pub(crate) backend: StorageBackendKind,
    pub(crate) label: &'static str,
    pub(crate) fields: &'static [VField],
    pub(crate) methods: &'static [Method],
}

const TIMEOUT: VField = hinted(
    "timeoutSeconds",
    "Time limit per call (seconds)",
    VKind::Number,
    false,
    "1 to 60; 10 when blank",
);

/// The external backends' forms, in the order the "Add" page offers them.
pub(crate) const FORMS: [BackendForm; 4] = [
    BackendForm {
        backend: StorageBackendKind::HashicorpVault,
        label: "HashiCorp Vault / OpenBao",
        fields: &[
            hinted(
                "address",
                "Address",
                VKind::Text,
                true,
                "http(s)://host:port",
            ),
            field("namespace", "Namespace", VKind::Text, false),
            hinted(
                "mount",
                "KV v2 mount",
                VKind::Text,
                false,
                "secret when blank",
            ),
            hinted(
                "pathPrefix",
                "Path prefix",
                VKind::Text,
                false,
                "secret-manager when blank",
            ),
            TIMEOUT,
        ],
        methods: &[
            Method {
                code: "TOKEN",
                label: "Token",
                fields: &[field("token", "Token", VKind::Secret, true)],
            },
            Method {
                code: "APPROLE",
                label: "AppRole",
                fields: &[
                    field("roleId", "Role id", VKind::Secret, true),
                    field("secretId", "Secret id", VKind::Secret, true),
                    hinted("mount", "Mount", VKind::Text, false, "approle when blank"),
                ],
            },
            Method {
                code: "KUBERNETES",
                label: "Kubernetes",
                fields: &[
                    field("role", "Role", VKind::Text, true),
                    hinted(
                        "jwtPath",
                        "Service-account token file",
                        VKind::Text,
                        false,
                        "read at each login",
                    ),
                    hinted(
                        "jwt",
                        "Service-account token",
                        VKind::Secret,
                        false,
                        "instead of the file",
                    ),
                    hinted(
                        "mount",
                        "Mount",
                        VKind::Text,
                        false,
                        "kubernetes when blank",
                    ),
                ],
            },
        ],
    },
    BackendForm {
        backend: StorageBackendKind::AwsSecretsManager,
        label: "AWS Secrets Manager",
        fields: &[
            hinted("region", "Region", VKind::Text, true, "e.g. us-east-1"),
            hinted(
                "endpointUrl",
                "Endpoint URL",
                VKind::Text,
                false,
                "only for a VPC endpoint or a test server",
            ),
            field("kmsKeyId", "KMS key id", VKind::Text, false),
            field("namePrefix", "Name prefix", VKind::Text, false),
            hinted(
                "recoveryWindowDays",
                "Recovery window (days)",
                VKind::Number,
                false,
                "7 to 30; 30 when blank",
            ),
            TIMEOUT,
        ],
        methods: &[
            Method {
                code: "DEFAULT",
                label: "Default credential chain",
                fields: &[],
            },
            Method {
                code: "ACCESS_KEY",
                label: "Access key",
                fields: &[
                    field("accessKeyId", "Access key id", VKind::Secret, true),
                    field("secretAccessKey", "Secret access key", VKind::Secret, true),
                    field("sessionToken", "Session token", VKind::Secret, false),
                ],
            },
            Method {
                code: "ASSUME_ROLE",
                label: "Assume role",
                fields: &[
                    field("roleArn", "Role ARN", VKind::Text, true),
                    field("externalId", "External id", VKind::Secret, false),
                ],
            },
        ],
    },
    BackendForm {
        backend: StorageBackendKind::AzureKeyVault,
        label: "Azure Key Vault",
        fields: &[
            hinted(
                "vaultUrl",
                "Vault URL",
                VKind::Text,
                true,
                "https://NAME.vault.azure.net",
            ),
            hinted(
                "namePrefix",
                "Name prefix",
                VKind::Text,
                false,
                "letters, digits and hyphens",
            ),
            hinted(
                "authorityHost",
                "Authority host",
                VKind::Text,
                false,
                "Entra ID's public cloud when blank",
            ),
            TIMEOUT,
        ],
        methods: &[
            Method {
                code: "MANAGED_IDENTITY",
                label: "Managed identity",
                fields: &[hinted(
                    "clientId",
                    "Client id",
                    VKind::Text,
                    false,
                    "a user-assigned identity",
                )],
            },
            Method {
                code: "SERVICE_PRINCIPAL",
                label: "Service principal",
                fields: &[
                    field("tenantId", "Tenant id", VKind::Text, true),
                    field("clientId", "Client id", VKind::Text, true),
                    field("clientSecret", "Client secret", VKind::Secret, true),
                ],
            },
            Method {
                code: "CERTIFICATE",
                label: "Certificate",
                fields: &[
                    field("tenantId", "Tenant id", VKind::Text, true),
                    field("clientId", "Client id", VKind::Text, true),
                    hinted(
                        "certificatePath",
                        "Certificate file",
                        VKind::Text,
                        true,
                        "PEM: the certificate and its private key",
                    ),
                ],
            },
        ],
    },
    BackendForm {
        backend: StorageBackendKind::GcpSecretManager,
        label: "Google Secret Manager",
        fields: &[
            field("projectId", "Project id", VKind::Text, true),
            hinted(
                "endpoint",
                "Endpoint",
                VKind::Text,
                false,
                "only for a private endpoint or a test server",
            ),
            field("namePrefix", "Name prefix", VKind::Text, false),
            TIMEOUT,
        ],
        methods: &[
            Method {
                code: "DEFAULT",
                label: "Application default credentials",
                fields: &[],
            },
            Method {
                code: "KEY_FILE",
                label: "Key file",
                fields: &[field("path", "Key file", VKind::Text, true)],
            },
            Method {
                code: "KEY_JSON",
                label: "Key (JSON)",
                fields: &[field(
                    "json",
                    "Service-account key",
                    VKind::SecretJson,
                    true,
                )],
            },
        ],
    },
];

/// The form of `backend`, if it is an external one.
pub(crate) fn form_of(backend: StorageBackendKind) -> Option<&'static BackendForm> {
    FORMS.iter().find(|f| f.backend == backend)
}

/// A setting as the form shows it.
pub(crate) struct SettingView {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) label: &'static str,
    pub(crate) kind: VKind,
    pub(crate) required: bool,
    pub(crate) hint: &'static str,
    /// A credential: a password input (or masked text area), never refilled.
    pub(crate) secret: bool,
    /// What is set (or was typed); always empty for a credential.
    pub(crate) value: String,
    pub(crate) error: Option<String>,
}

/// A sign-in method as the form shows it.
pub(crate) struct MethodView {
    pub(crate) code: &'static str,
    pub(crate) label: &'static str,
    pub(crate) selected: bool,
    pub(crate) fields: Vec<SettingView>,
}

/// The settings shown: typed into `posted`, else as `current` (a configuration's public
/// settings) has them; an error `(config path, message)` beside its field.
pub(crate) struct Shown<'a> {
    pub(crate) posted: Option<&'a Posted>,
    pub(crate) current: Option<&'a Value>,
    pub(crate) error: Option<(&'a str, &'a str)>,
}

impl Shown<'_> {
    fn view(&self, f: &VField, name: String, path: String, current: Option<&Value>) -> SettingView {
        let secret = matches!(f.kind, VKind::Secret | VKind::SecretJson);
        let value = if secret {
            String::new()
        } else if let Some(p) = self.posted {
            p.raw(&name).unwrap_or_default().to_string()
        } else {
            match current.and_then(|c| c.get(f.key)) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => String::new(),
            }
        };
        SettingView {
            id: name.replace('.', "-"),
            error: self
                .error
                .filter(|(field, _)| *field == path)
                .map(|(_, m)| m.to_string()),
            name,
            label: f.label,
            kind: f.kind,
            required: f.required,
            hint: f.hint,
            secret,
            value,
        }
    }

    /// The settings fields of `form`.
    pub(crate) fn fields(&self, form: &BackendForm) -> Vec<SettingView> {
        form.fields
            .iter()
            .map(|f| {
                self.view(
                    f,
                    format!("c.{}", f.key),
                    format!("config.{}", f.key),
                    self.current,
                )
            })
            .collect()
    }

    /// The sign-in methods of `form`, the chosen one selected.
    pub(crate) fn methods(&self, form: &BackendForm) -> Vec<MethodView> {
        let auth = self.current.and_then(|c| c.get("auth"));
        let current_method = auth.and_then(|a| a.get("method")).and_then(Value::as_str);
        let chosen = self
            .posted
            .and_then(|p| p.text("m"))
            .or(current_method)
            .unwrap_or(form.methods[0].code);
        form.methods
            .iter()
            .map(|m| {
                // Only the stored method's settings are refilled from what is stored.
                let current = auth.filter(|_| current_method == Some(m.code));
                MethodView {
                    code: m.code,
                    label: m.label,
                    selected: m.code == chosen,
                    fields: m
                        .fields
                        .iter()
                        .map(|f| {
                            self.view(
                                f,
                                format!("a.{}.{}", m.code, f.key),
                                format!("config.auth.{}", f.key),
                                current,
                            )
                        })
                        .collect(),
                }
            })
            .collect()
    }
}

/// The sign-in methods as choices of a drop-down.
pub(crate) fn method_choices(methods: &[MethodView]) -> Vec<Choice> {
    methods
        .iter()
        .map(|m| Choice {
            value: m.code.to_string(),
            label: m.label.to_string(),
            selected: m.selected,
        })
        .collect()
}

/// A typed-in setting as JSON: a number when it reads as one (else the text, which the
/// parser refuses naming the field), a JSON document for a key.
fn typed(kind: VKind, text: &str) -> Value {
    match kind {
        VKind::Number => text
            .parse::<u64>()
            .map_or_else(|_| json!(text), |n| json!(n)),
        VKind::SecretJson => serde_json::from_str(text).unwrap_or_else(|_| json!(text)),
        VKind::Text | VKind::Secret => json!(text),
    }
}

/// The `config` of a posted form: blank settings are left out (the parser's defaults
/// apply), and only the chosen method's sign-in fields are sent.
pub(crate) fn config_json(form: &BackendForm, posted: &Posted) -> Value {
    let mut config = Map::new();
    for f in form.fields {
        if let Some(v) = posted.text(&format!("c.{}", f.key)) {
            config.insert(f.key.to_string(), typed(f.kind, v));
        }
    }
    let chosen = posted.text("m").unwrap_or(form.methods[0].code);
    let mut auth = Map::new();
    auth.insert("method".to_string(), json!(chosen));
    if let Some(m) = form.methods.iter().find(|m| m.code == chosen) {
        for f in m.fields {
            if let Some(v) = posted.text(&format!("a.{}.{}", m.code, f.key)) {
                auth.insert(f.key.to_string(), typed(f.kind, v));
            }
        }
    }
    config.insert("auth".to_string(), Value::Object(auth));
    Value::Object(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn posted(fields: &[(&str, &str)]) -> Posted {
        Posted(
            fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn only_the_chosen_methods_fields_are_sent_and_blanks_are_left_out() {
        let form = form_of(StorageBackendKind::HashicorpVault).unwrap();
        let p = posted(&[
            ("c.address", " http://127.0.0.1:8200 "),
            ("c.namespace", ""),
            ("c.timeoutSeconds", "5"),
            ("m", "APPROLE"),
            ("a.TOKEN.token", "hvs.not-this-one"),
            ("a.APPROLE.roleId", "role"),
            ("a.APPROLE.secretId", "sid"),
        ]);
        assert_eq!(
            config_json(form, &p),
            json!({"address": "http://127.0.0.1:8200", "timeoutSeconds": 5,
                "auth": {"method": "APPROLE", "roleId": "role", "secretId": "sid"}})
        );
    }

    #[test]
    fn a_number_that_is_not_one_goes_to_the_parser_as_text() {
        let form = form_of(StorageBackendKind::AwsSecretsManager).unwrap();
        let p = posted(&[("c.region", "us-east-1"), ("c.recoveryWindowDays", "ten")]);
        let c = config_json(form, &p);
        assert_eq!(c["recoveryWindowDays"], "ten");
        assert_eq!(c["auth"], json!({"method": "DEFAULT"}));
    }

    #[test]
    fn every_form_parses_into_its_backend_and_names_each_error_beside_a_field() {
        // Each form's fields are the parser's: a required one left out is refused naming
        // a field the form shows.
        for form in &FORMS {
            for m in form.methods {
                let p = posted(&[("m", m.code)]);
                let err =
                    secret_core::vault::BackendConfig::parse(form.backend, config_json(form, &p))
                        .unwrap_err();
                let secret_core::SecretError::Validation { field, .. } = err else {
                    panic!("{} {}: not a validation error", form.label, m.code);
                };
                let shown = Shown {
                    posted: Some(&p),
                    current: None,
                    error: Some((&field, "x")),
                };
                let fields = shown.fields(form);
                let methods = shown.methods(form);
                assert!(
                    fields.iter().any(|f| f.error.is_some())
                        || methods
                            .iter()
                            .any(|mv| mv.selected && mv.fields.iter().any(|f| f.error.is_some())),
                    "{} {}: {field} is not beside a field",
                    form.label,
                    m.code
                );
            }
        }
    }
}
