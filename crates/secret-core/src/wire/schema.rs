//! OpenAPI schemas of the core types the wire carries as they are (the enums and the tagged
//! secret value). They are built from the core types' own lists so they cannot drift, and
//! need no OpenAPI derive on the core types (this module exists with the feature `openapi`).

use std::borrow::Cow;

use crate::{
    GranteeType, SecretScope, SecretType, SshKeyType, StorageBackendKind, VaultHealthStatus,
    VaultScope,
};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, Discriminator, KnownFormat, ObjectBuilder, OneOfBuilder,
    Schema, SchemaFormat, Type,
};
use utoipa::{PartialSchema, ToSchema};

/// Declares a documentation-only schema for a core wire enum, listing its variants.
macro_rules! enum_schema {
    ($(#[$meta:meta])* $name:ident, $core:ty) => {
        $(#[$meta])*
        pub enum $name {}

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(<$core>::ALL.iter().map(|v| v.as_str())))
                    .into()
            }
        }

        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

enum_schema!(
    /// `SecretType`: the nine kinds of secret value.
    SecretTypeSchema,
    SecretType
);
enum_schema!(
    /// `SecretScope`: GLOBAL, ORGANIZATION, TEAM, PROJECT or USER.
    SecretScopeSchema,
    SecretScope
);
enum_schema!(
    /// `StorageBackend`: where a secret's value is kept.
    StorageBackendSchema,
    StorageBackendKind
);
enum_schema!(
    /// `VaultScope`: GLOBAL or ORGANIZATION.
    VaultScopeSchema,
    VaultScope
);
enum_schema!(
    /// `VaultHealthStatus`: HEALTHY, UNHEALTHY or UNKNOWN.
    VaultHealthSchema,
    VaultHealthStatus
);
enum_schema!(
    /// `GranteeType`: USER, TEAM or ROLE.
    GranteeTypeSchema,
    GranteeType
);

/// The kind of a property of a secret value's schema.
#[derive(Clone, Copy)]
enum Prop {
    Text,
    Timestamp,
    TextList,
    TextMap,
    Object,
    SshKeyType,
}

impl Prop {
    fn schema(self) -> RefOr<Schema> {
        match self {
            Prop::Text => ObjectBuilder::new().schema_type(Type::String).into(),
            Prop::Timestamp => ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
                .into(),
            Prop::TextList => ArrayBuilder::new()
                .items(ObjectBuilder::new().schema_type(Type::String))
                .into(),
            Prop::TextMap => ObjectBuilder::new()
                .schema_type(Type::Object)
                .additional_properties(Some(AdditionalProperties::RefOr(
                    ObjectBuilder::new().schema_type(Type::String).into(),
                )))
                .into(),
            Prop::Object => ObjectBuilder::new().schema_type(Type::Object).into(),
            Prop::SshKeyType => ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(SshKeyType::ALL.iter().map(|v| v.as_str())))
                .into(),
        }
    }
}

/// The fields of each value type: (name, required, kind). Mirrors `secret_core::value::types`.
fn value_fields(t: SecretType) -> &'static [(&'static str, bool, Prop)] {
    match t {
        SecretType::ApiKey => &[("key", true, Prop::Text)],
        SecretType::OAuth2Token => &[
            ("accessToken", true, Prop::Text),
            ("refreshToken", false, Prop::Text),
            ("tokenType", true, Prop::Text),
            ("expiresAt", false, Prop::Timestamp),
            ("scope", false, Prop::Text),
        ],
        SecretType::UsernamePassword => &[
            ("username", true, Prop::Text),
            ("password", true, Prop::Text),
        ],
        SecretType::Certificate => &[
            ("certificate", true, Prop::Text),
            ("privateKey", false, Prop::Text),
            ("chain", false, Prop::TextList),
            ("passphrase", false, Prop::Text),
            ("expiresAt", false, Prop::Timestamp),
        ],
        SecretType::SshKey => &[
            ("privateKey", true, Prop::Text),
            ("publicKey", false, Prop::Text),
            ("passphrase", false, Prop::Text),
            ("keyType", true, Prop::SshKeyType),
        ],
        SecretType::ConnectionString => &[
            ("connectionString", true, Prop::Text),
            ("parsed", false, Prop::Object),
        ],
        SecretType::JsonCredential => &[("credential", true, Prop::Object)],
        SecretType::EnvVariableSet => &[("variables", true, Prop::TextMap)],
        SecretType::Generic => &[("value", true, Prop::Text)],
    }
}

/// `AnySecretValue`: a secret value, tagged by `type`, e.g. `{"type":"API_KEY","key":"sk-..."}`.
pub enum SecretValueSchema {}

impl PartialSchema for SecretValueSchema {
    fn schema() -> RefOr<Schema> {
        let mut one_of = OneOfBuilder::new()
            .description(Some(
                "A secret value, tagged by `type`; unknown fields are refused.",
            ))
            .discriminator(Some(Discriminator::new("type")));
        for &t in SecretType::ALL {
            let mut object = ObjectBuilder::new()
                .schema_type(Type::Object)
                .title(Some(t.as_str()))
                .property(
                    "type",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some([t.as_str()])),
                )
                .required("type");
            for &(name, required, prop) in value_fields(t) {
                object = object.property(name, prop.schema());
                if required {
                    object = object.required(name);
                }
            }
            one_of = one_of
                .item(object.additional_properties(Some(AdditionalProperties::FreeForm(false))));
        }
        one_of.into()
    }
}

impl ToSchema for SecretValueSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("SecretValue")
    }
}
