//! The embedded [`SecretReader`]: this service on behalf of one caller, so a module reads
//! the same way embedded or through `secret-client`.

use std::collections::BTreeMap;

use secret_core::reference::ConfigValue;
use secret_core::{Resolved, SecretContext, SecretError, SecretId, SecretReader, SecretValue};

use super::SecretService;

/// A [`SecretService`] reading as one caller (see [`SecretService::reader`]).
#[derive(Debug, Clone)]
pub struct ServiceReader {
    service: SecretService,
    ctx: SecretContext,
}

impl SecretService {
    /// This service as a [`SecretReader`] for the caller of `ctx` (every read is
    /// authorized and audited as that caller's, with its consumer module).
    pub fn reader(&self, ctx: SecretContext) -> ServiceReader {
        ServiceReader {
            service: self.clone(),
            ctx,
        }
    }
}

#[async_trait::async_trait]
impl SecretReader for ServiceReader {
    async fn get_secret(&self, id: &SecretId) -> Result<SecretValue, SecretError> {
        self.service.get_secret(id, &self.ctx).await
    }

    async fn get_secrets(
        &self,
        ids: &[SecretId],
    ) -> Result<BTreeMap<SecretId, SecretValue>, SecretError> {
        self.service.get_secrets(ids, &self.ctx).await
    }

    async fn resolve(
        &self,
        variables: &BTreeMap<String, ConfigValue>,
    ) -> Result<Resolved, SecretError> {
        self.service.resolve(variables, &self.ctx).await
    }
}
