//! Identifier newtypes for the ids a caller could mix up: a secret's, an access grant's and a
//! vault configuration's. `revoke_access(&grant.id, &meta.id, ..)` does not compile.
//!
//! Each is a string on the wire and in the database (`#[serde(transparent)]`), so the JSON
//! is unchanged. Each dereferences to `str`, so an id reads like the string it is
//! (`id.starts_with(..)`, `&id` where a `&str` is wanted); going the other way, from a string
//! to an id, is always explicit (`SecretId::from(s)` or `s.parse()`), which is where a
//! mix-up would otherwise slip in.

use std::borrow::Borrow;
use std::convert::Infallible;
use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// An id from its string form, as stored and sent on the wire.
            pub fn new(id: impl Into<String>) -> Self {
                $name(id.into())
            }

            /// A new, time-ordered id (UUID v7).
            pub fn generate() -> Self {
                $name(uuid::Uuid::now_v7().to_string())
            }

            /// The id's string form.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id's string form, by value.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                $name(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                $name(id.to_string())
            }
        }

        impl From<&String> for $name {
            fn from(id: &String) -> Self {
                $name(id.clone())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl From<$name> for serde_json::Value {
            fn from(id: $name) -> serde_json::Value {
                serde_json::Value::String(id.0)
            }
        }

        impl From<&$name> for serde_json::Value {
            fn from(id: &$name) -> serde_json::Value {
                serde_json::Value::String(id.0.clone())
            }
        }

        impl FromStr for $name {
            type Err = Infallible;
            fn from_str(s: &str) -> Result<Self, Infallible> {
                Ok($name(s.to_string()))
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                self == &other.0
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }
    };
}

id_type! {
    /// A secret's id (`secrets.id`).
    SecretId
}

id_type! {
    /// An access grant's id (`secret_access_grants.id`).
    GrantId
}

id_type! {
    /// A vault configuration's id (`vault_configurations.id`); the built-in store is
    /// [`VaultId::local`].
    VaultId
}

impl VaultId {
    /// The built-in local store's configuration (`local`).
    pub fn local() -> Self {
        VaultId(crate::vault::LOCAL_VAULT_ID.to_string())
    }

    /// Whether this is the built-in local store's configuration.
    pub fn is_local(&self) -> bool {
        self.0 == crate::vault::LOCAL_VAULT_ID
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_plain_strings_on_the_wire() {
        let id = SecretId::new("s-1");
        assert_eq!(serde_json::to_string(&id).ok().as_deref(), Some("\"s-1\""));
        let back: Result<GrantId, _> = serde_json::from_str("\"g-2\"");
        assert_eq!(back.ok(), Some(GrantId::from("g-2")));
    }

    #[test]
    fn ids_read_as_their_string() {
        let id = VaultId::from("bao".to_string());
        assert_eq!(id.as_str(), "bao");
        assert_eq!(id.to_string(), "bao");
        assert_eq!(format!("{id:?}"), "VaultId(\"bao\")");
        assert!(id.starts_with("ba"));
        assert_eq!(id, "bao");
        assert!(!id.is_local());
        assert!(VaultId::local().is_local());
    }

    #[test]
    fn generated_ids_differ() {
        assert_ne!(SecretId::generate(), SecretId::generate());
    }
}
