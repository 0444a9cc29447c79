//! [`SecretReader`]: what a consumer module reads, the same whether it embeds the service
//! (`secret_api::SecretService::reader`, with the caller's context) or calls a server
//! (`secret_client::SecretClient`), so that a module switches between the two by
//! configuration and keeps one code path.

use std::collections::BTreeMap;

use zeroize::Zeroizing;

use crate::reference::ConfigValue;
use crate::{SecretError, SecretId, SecretValue};

/// Resolved variables: each key's plain string or secret field, wiped when dropped.
pub type Resolved = BTreeMap<String, Zeroizing<String>>;

/// Reads secrets on behalf of one caller.
#[async_trait::async_trait]
pub trait SecretReader: Send + Sync {
    /// The current value of secret `id` (an audited read).
    async fn get_secret(&self, id: &SecretId) -> Result<SecretValue, SecretError>;

    /// The current values of `ids`; fails as a whole if any cannot be read.
    async fn get_secrets(
        &self,
        ids: &[SecretId],
    ) -> Result<BTreeMap<SecretId, SecretValue>, SecretError>;

    /// Resolves a configuration's variables (§9.3): plain strings are kept, every
    /// reference is replaced by the field of the secret it names; fails naming each key
    /// that did not resolve, with no value at all.
    async fn resolve(
        &self,
        variables: &BTreeMap<String, ConfigValue>,
    ) -> Result<Resolved, SecretError>;
}
