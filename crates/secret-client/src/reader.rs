//! [`SecretReader`] for the client: the same reads as the embedded service, with the
//! client's errors mapped to the service's.

use std::collections::BTreeMap;

use secret_core::reference::ConfigValue;
use secret_core::{Resolved, SecretError, SecretId, SecretReader, SecretValue};

use crate::SecretClient;

#[async_trait::async_trait]
impl SecretReader for SecretClient {
    async fn get_secret(&self, id: &SecretId) -> Result<SecretValue, SecretError> {
        Ok(SecretClient::get_secret(self, id).await?)
    }

    async fn get_secrets(
        &self,
        ids: &[SecretId],
    ) -> Result<BTreeMap<SecretId, SecretValue>, SecretError> {
        Ok(SecretClient::get_secrets(self, ids).await?)
    }

    async fn resolve(
        &self,
        variables: &BTreeMap<String, ConfigValue>,
    ) -> Result<Resolved, SecretError> {
        let wire = variables
            .iter()
            .map(|(k, v)| {
                let text = match v {
                    ConfigValue::Plain(s) => s.clone(),
                    ConfigValue::Reference(r) => r.to_string(),
                };
                (k.clone(), serde_json::Value::String(text))
            })
            .collect();
        Ok(self.resolve_variables(&wire).await?)
    }
}
