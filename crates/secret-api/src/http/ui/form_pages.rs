//! The pages of the secret forms: create (§13.3), edit and rotate, and the view model of
//! a value field.

use askama::Template;
use secret_core::SecretType;
use secret_core::model::SecretMetadata;

use super::forms::{FieldSpec, Kind, Placement, Posted, is_secret, ssh_key_types, value_fields};
use super::pages::Choice;

/// A value field as the form shows it.
pub(crate) struct FieldView {
    /// The input's id.
    pub(crate) id: String,
    /// The form field's name, `value.<field>`.
    pub(crate) name: String,
    pub(crate) label: &'static str,
    pub(crate) required: bool,
    pub(crate) kind: Kind,
    /// What was typed, for a form shown again; always empty for a secret field.
    pub(crate) value: String,
    pub(crate) error: Option<String>,
    pub(crate) options: Vec<Choice>,
}

/// The value fields of type `t`, refilled from `posted` (never a secret one) with
/// `error` beside the field it names.
pub(crate) fn field_views(
    t: SecretType,
    posted: Option<&Posted>,
    error: Option<(&str, &str)>,
) -> Vec<FieldView> {
    value_fields(t)
        .iter()
        .map(|spec: &FieldSpec| {
            let name = format!("value.{}", spec.name);
            let value = if is_secret(spec.kind) {
                String::new()
            } else {
                posted
                    .and_then(|p| p.raw(&name))
                    .unwrap_or_default()
                    .to_string()
            };
            let options = if spec.kind == Kind::SshKeyType {
                ssh_key_types()
                    .into_iter()
                    .map(|k| Choice {
                        value: k.to_string(),
                        label: k.to_string(),
                        selected: k == value,
                    })
                    .collect()
            } else {
                Vec::new()
            };
            FieldView {
                id: format!("value-{}", spec.name),
                error: error
                    .filter(|(field, _)| *field == name)
                    .map(|(_, m)| m.to_string()),
                name,
                label: spec.label,
                required: spec.required,
                kind: spec.kind,
                value,
                options,
            }
        })
        .collect()
}

/// The description and lifecycle fields the create and edit forms share, as shown.
pub(crate) struct MetaFields {
    pub(crate) description: String,
    /// `YYYY-MM-DD`, empty for none.
    pub(crate) expires: String,
    pub(crate) rotation_enabled: bool,
    pub(crate) interval: String,
    /// Comma-separated.
    pub(crate) tags: String,
}

impl MetaFields {
    /// What was posted, for a form shown again.
    pub(crate) fn posted(form: Option<&Posted>) -> MetaFields {
        let keep = |name: &str| {
            form.and_then(|p| p.raw(name))
                .unwrap_or_default()
                .to_string()
        };
        MetaFields {
            description: keep("description"),
            expires: keep("expiresAt"),
            rotation_enabled: form.is_some_and(|p| p.checked("rotationEnabled")),
            interval: keep("rotationIntervalDays"),
            tags: keep("tags"),
        }
    }

    /// A secret's as it stands.
    pub(crate) fn of(meta: &SecretMetadata) -> MetaFields {
        MetaFields {
            description: meta.description.clone().unwrap_or_default(),
            expires: meta
                .expires_at
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
            rotation_enabled: meta.rotation_enabled,
            interval: meta
                .rotation_interval_days
                .map(|d| d.to_string())
                .unwrap_or_default(),
            tags: meta.tags.join(", "),
        }
    }
}

/// An error shown beside a field of the form (`None`: at the top).
pub(crate) struct FormError {
    pub(crate) field: Option<String>,
    pub(crate) message: String,
}

impl FormError {
    /// The message when it belongs to `field`.
    pub(crate) fn at(&self, field: &str) -> Option<&str> {
        (self.field.as_deref() == Some(field)).then_some(self.message.as_str())
    }
}

#[derive(Template)]
#[template(path = "ui/create.html")]
pub(crate) struct CreatePage<'a> {
    pub(crate) user: &'a str,
    pub(crate) csrf: &'a str,
    /// Whether the navigation shows the audit view.
    pub(crate) admin: bool,
    pub(crate) secret_type: String,
    pub(crate) type_label: String,
    pub(crate) types: Vec<Choice>,
    pub(crate) placement: Placement,
    pub(crate) fields: Vec<FieldView>,
    /// What was typed into the name, for a form shown again.
    pub(crate) name: String,
    pub(crate) meta: MetaFields,
    pub(crate) error: Option<FormError>,
}

impl CreatePage<'_> {
    fn err(&self, field: &str) -> Option<&str> {
        self.error.as_ref().and_then(|e| e.at(field))
    }

    /// The error that belongs to no field shown (at the top of the form).
    fn general(&self) -> Option<&str> {
        general(self.error.as_ref(), &FORM_FIELDS, &self.fields)
    }
}

/// The fields of the create and edit forms besides the value's.
const FORM_FIELDS: [&str; 6] = [
    "name",
    "description",
    "scope",
    "expiresAt",
    "rotationIntervalDays",
    "tags",
];

/// `error` when it belongs to none of `shown` and none of `fields` (shown at the top).
fn general<'a>(
    error: Option<&'a FormError>,
    shown: &[&str],
    fields: &[FieldView],
) -> Option<&'a str> {
    let e = error?;
    match &e.field {
        Some(f) if shown.contains(&f.as_str()) || fields.iter().any(|v| v.name == *f) => None,
        _ => Some(&e.message),
    }
}

#[derive(Template)]
#[template(path = "ui/edit.html")]
pub(crate) struct EditPage<'a> {
    pub(crate) user: &'a str,
    pub(crate) csrf: &'a str,
    /// Whether the navigation shows the audit view.
    pub(crate) admin: bool,
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) version: i64,
    pub(crate) meta: MetaFields,
    pub(crate) error: Option<FormError>,
}

impl EditPage<'_> {
    fn err(&self, field: &str) -> Option<&str> {
        self.error.as_ref().and_then(|e| e.at(field))
    }

    fn general(&self) -> Option<&str> {
        general(self.error.as_ref(), &FORM_FIELDS, &[])
    }
}

#[derive(Template)]
#[template(path = "ui/rotate.html")]
pub(crate) struct RotatePage<'a> {
    pub(crate) user: &'a str,
    pub(crate) csrf: &'a str,
    /// Whether the navigation shows the audit view.
    pub(crate) admin: bool,
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) version: i64,
    pub(crate) type_label: String,
    pub(crate) fields: Vec<FieldView>,
    pub(crate) error: Option<FormError>,
}

impl RotatePage<'_> {
    fn general(&self) -> Option<&str> {
        general(self.error.as_ref(), &[], &self.fields)
    }
}

/// The type drop-down of the create form.
pub(crate) fn type_options(selected: SecretType) -> Vec<Choice> {
    SecretType::ALL
        .iter()
        .map(|t| Choice {
            value: t.as_str().to_string(),
            label: t.display_name().to_string(),
            selected: *t == selected,
        })
        .collect()
}
