//! The enums of the specification, each with its wire spelling (SCREAMING_SNAKE_CASE, except
//! SSH key types which the specification spells in lower case).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::SecretError;

/// Declares a wire enum: serde spelling, `as_str`, `Display`, `FromStr` and `ALL`.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $wire)] $variant),+
        }

        impl $name {
            /// Every variant, in the specification's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire spelling of this variant.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = SecretError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($wire => Ok($name::$variant),)+
                    _ => Err(SecretError::validation(
                        stringify!($name),
                        format!("unknown value, expected one of: {}", [$($wire),+].join(", ")),
                    )),
                }
            }
        }
    };
}

wire_enum! {
    /// The nine kinds of secret value.
    SecretType {
        ApiKey => "API_KEY",
        OAuth2Token => "OAUTH2_TOKEN",
        UsernamePassword => "USERNAME_PASSWORD",
        Certificate => "CERTIFICATE",
        SshKey => "SSH_KEY",
        ConnectionString => "CONNECTION_STRING",
        JsonCredential => "JSON_CREDENTIAL",
        EnvVariableSet => "ENV_VARIABLE_SET",
        Generic => "GENERIC",
    }
}

impl SecretType {
    /// A human-readable name for the type.
    pub const fn display_name(self) -> &'static str {
        match self {
            SecretType::ApiKey => "API Key",
            SecretType::OAuth2Token => "OAuth2 Token",
            SecretType::UsernamePassword => "Username & Password",
            SecretType::Certificate => "Certificate",
            SecretType::SshKey => "SSH Key",
            SecretType::ConnectionString => "Connection String",
            SecretType::JsonCredential => "JSON Credential",
            SecretType::EnvVariableSet => "Environment Variable Set",
            SecretType::Generic => "Generic Secret",
        }
    }

    /// What the type is for.
    pub const fn description(self) -> &'static str {
        match self {
            SecretType::ApiKey => "An API key or personal access token for a third-party service",
            SecretType::OAuth2Token => "An OAuth2 access token with an optional refresh token",
            SecretType::UsernamePassword => "A username and password pair",
            SecretType::Certificate => {
                "A PEM X.509 certificate with optional private key and chain"
            }
            SecretType::SshKey => "An SSH private key with optional public key and passphrase",
            SecretType::ConnectionString => "A database or service connection string",
            SecretType::JsonCredential => {
                "A structured JSON credential such as a cloud service account"
            }
            SecretType::EnvVariableSet => "A set of environment variables",
            SecretType::Generic => "Any other secret value",
        }
    }

    /// Whether secrets of this type may carry an expiry date. All nine types do.
    pub const fn supports_expiration(self) -> bool {
        true
    }

    /// Whether secrets of this type may be rotated. All nine types can be.
    pub const fn supports_rotation(self) -> bool {
        true
    }

    /// The rotation interval suggested when rotation is enabled without one.
    pub const fn default_rotation_interval_days(self) -> Option<u32> {
        match self {
            SecretType::ApiKey => Some(90),
            SecretType::Certificate => Some(365),
            _ => None,
        }
    }
}

wire_enum! {
    /// Where a secret's value is kept.
    StorageBackendKind {
        LocalEncrypted => "LOCAL_ENCRYPTED",
        AzureKeyVault => "AZURE_KEY_VAULT",
        AwsSecretsManager => "AWS_SECRETS_MANAGER",
        HashicorpVault => "HASHICORP_VAULT",
        GcpSecretManager => "GCP_SECRET_MANAGER",
    }
}

wire_enum! {
    /// The level a secret belongs to: GLOBAL > ORGANIZATION > TEAM > PROJECT, plus USER.
    SecretScope {
        Global => "GLOBAL",
        Organization => "ORGANIZATION",
        Team => "TEAM",
        Project => "PROJECT",
        User => "USER",
    }
}

wire_enum! {
    /// Who an access grant is given to.
    GranteeType {
        User => "USER",
        Team => "TEAM",
        Role => "ROLE",
    }
}

wire_enum! {
    /// The level a vault configuration belongs to.
    VaultScope {
        Global => "GLOBAL",
        Organization => "ORGANIZATION",
    }
}

wire_enum! {
    /// The last known health of a vault.
    VaultHealthStatus {
        Healthy => "HEALTHY",
        Unhealthy => "UNHEALTHY",
        Unknown => "UNKNOWN",
    }
}

wire_enum! {
    /// The life stage of a data-encryption key.
    KeyStatus {
        /// Encrypts new values.
        Active => "ACTIVE",
        /// Being replaced: still decrypts, values are being re-encrypted away from it.
        Rotating => "ROTATING",
        /// Decrypt only; nothing new is encrypted with it.
        Retired => "RETIRED",
        /// Key material erased; nothing may reference it.
        Destroyed => "DESTROYED",
    }
}

wire_enum! {
    /// What an audit record is about.
    SecretAuditEventType {
        SecretCreated => "SECRET_CREATED",
        SecretRead => "SECRET_READ",
        SecretUpdated => "SECRET_UPDATED",
        SecretDeleted => "SECRET_DELETED",
        SecretRestored => "SECRET_RESTORED",
        SecretPermanentlyDeleted => "SECRET_PERMANENTLY_DELETED",
        SecretRotated => "SECRET_ROTATED",
        SecretExpired => "SECRET_EXPIRED",
        SecretExpiringSoon => "SECRET_EXPIRING_SOON",
        AccessGranted => "ACCESS_GRANTED",
        AccessRevoked => "ACCESS_REVOKED",
        AccessDenied => "ACCESS_DENIED",
        VaultConfigured => "VAULT_CONFIGURED",
        VaultUpdated => "VAULT_UPDATED",
        VaultDeleted => "VAULT_DELETED",
        VaultHealthCheck => "VAULT_HEALTH_CHECK",
        SecretsImported => "SECRETS_IMPORTED",
        SecretsExported => "SECRETS_EXPORTED",
        SecretsMigrated => "SECRETS_MIGRATED",
        KeyRotated => "KEY_ROTATED",
        KeyRetired => "KEY_RETIRED",
    }
}

impl SecretAuditEventType {
    /// The category an event of this type is filed under.
    pub const fn category(self) -> AuditCategory {
        use SecretAuditEventType as E;
        match self {
            E::SecretCreated | E::SecretRead | E::SecretUpdated | E::SecretDeleted => {
                AuditCategory::Crud
            }
            E::SecretRestored
            | E::SecretPermanentlyDeleted
            | E::SecretRotated
            | E::SecretExpired
            | E::SecretExpiringSoon => AuditCategory::Lifecycle,
            E::AccessGranted | E::AccessRevoked | E::AccessDenied => AuditCategory::Access,
            E::VaultConfigured | E::VaultUpdated | E::VaultDeleted | E::VaultHealthCheck => {
                AuditCategory::Vault
            }
            E::SecretsImported | E::SecretsExported | E::SecretsMigrated => {
                AuditCategory::ImportExport
            }
            E::KeyRotated | E::KeyRetired => AuditCategory::KeyManagement,
        }
    }
}

wire_enum! {
    /// The family an audit event belongs to.
    AuditCategory {
        Crud => "CRUD",
        Lifecycle => "LIFECYCLE",
        Access => "ACCESS",
        Vault => "VAULT",
        ImportExport => "IMPORT_EXPORT",
        KeyManagement => "KEY_MANAGEMENT",
    }
}

wire_enum! {
    /// Who performed an audited action.
    ActorType {
        User => "USER",
        System => "SYSTEM",
        Scheduler => "SCHEDULER",
    }
}

wire_enum! {
    /// How an audited action ended.
    AuditOutcome {
        Success => "SUCCESS",
        Failure => "FAILURE",
        Denied => "DENIED",
    }
}

wire_enum! {
    /// How a secret due for rotation is rotated.
    RotationStrategy {
        /// A person rotates it; no reminders.
        Manual => "MANUAL",
        /// A person rotates it after a reminder.
        NotifyOnly => "NOTIFY_ONLY",
        /// A registered rotation handler produces the new value.
        Automatic => "AUTOMATIC",
    }
}

wire_enum! {
    /// The algorithm family of an SSH key.
    SshKeyType {
        Rsa => "rsa",
        Ed25519 => "ed25519",
        Ecdsa => "ecdsa",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_spellings_round_trip_through_serde_and_from_str() {
        for t in SecretType::ALL {
            let json = serde_json::to_string(t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.as_str()));
            assert_eq!(&serde_json::from_str::<SecretType>(&json).unwrap(), t);
            assert_eq!(&t.as_str().parse::<SecretType>().unwrap(), t);
        }
        assert_eq!(SecretType::ALL.len(), 9);
        assert_eq!(SecretAuditEventType::ALL.len(), 21);
        assert_eq!(SshKeyType::Ed25519.as_str(), "ed25519");
        assert_eq!(
            StorageBackendKind::HashicorpVault.as_str(),
            "HASHICORP_VAULT"
        );
    }

    #[test]
    fn unknown_wire_value_is_a_validation_error() {
        let err = "api_key".parse::<SecretType>().unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::ValidationError);
    }

    #[test]
    fn every_event_type_has_a_category() {
        assert_eq!(
            SecretAuditEventType::SecretRead.category(),
            AuditCategory::Crud
        );
        assert_eq!(
            SecretAuditEventType::KeyRetired.category(),
            AuditCategory::KeyManagement
        );
        assert_eq!(
            SecretAuditEventType::SecretsMigrated.category(),
            AuditCategory::ImportExport
        );
    }

    #[test]
    fn default_rotation_intervals_follow_the_specification() {
        assert_eq!(
            SecretType::ApiKey.default_rotation_interval_days(),
            Some(90)
        );
        assert_eq!(
            SecretType::Certificate.default_rotation_interval_days(),
            Some(365)
        );
        assert_eq!(SecretType::Generic.default_rotation_interval_days(), None);
    }
}
